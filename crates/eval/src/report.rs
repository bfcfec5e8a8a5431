//! Presenting an evaluation: a terminal table, flat JSON, and precision–recall data.

use crate::evaluate::EvalResult;

/// Formats an AP value ("—" when undefined).
fn cell(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{v:.2}"))
}

/// A two-column table: each row's label names the metric, IoU threshold, recall points, class
/// and difficulty (e.g. `3D AP@0.70 R40 Car Moderate`); a blank line separates classes.
pub fn table(r: &EvalResult) -> String {
    let entries = r.entries();
    let width = entries
        .iter()
        .map(|e| e.1.len())
        .max()
        .unwrap_or(10)
        .max(10);
    let mut out = format!(
        "| {:<width$} | {:>7} |\n|{:-<w2$}|{:->9}|\n",
        "AP (KITTI devkit rules)",
        "value",
        "",
        "",
        w2 = width + 2
    );
    let mut last_class = None;
    for (curve, pair) in r.curves.iter().zip(entries.chunks(2)) {
        if last_class.is_some_and(|c| c != curve.class) {
            out.push('\n');
        }
        last_class = Some(curve.class);
        for (_, label, value) in pair {
            out.push_str(&format!("| {label:<width$} | {:>7} |\n", cell(*value)));
        }
    }
    out
}

/// One header line of labels and one line of values: the wide form, for spreadsheets.
pub fn wide_table(r: &EvalResult) -> String {
    let entries = r.entries();
    let header: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    let values: Vec<String> = entries.iter().map(|e| cell(e.2)).collect();
    format!("| {} |\n| {} |\n", header.join(" | "), values.join(" | "))
}

/// Flat JSON: `{"Car/3d/moderate/R40@0.70": 85.1, ...}` (null where there was no ground
/// truth), plus the ground truth counted per class and filter, `{"Car/moderate/n_gt": 412}`.
pub fn json(r: &EvalResult) -> serde_json::Value {
    let mut map: serde_json::Map<String, serde_json::Value> = r
        .entries()
        .into_iter()
        .map(|(k, _, v)| {
            (
                k,
                v.map_or(serde_json::Value::Null, |x| serde_json::json!(x)),
            )
        })
        .collect();
    for c in &r.curves {
        map.insert(
            format!("{}/{}/n_gt", c.class.name(), c.filter.key()),
            serde_json::json!(c.n_gt),
        );
    }
    serde_json::Value::Object(map)
}

/// Precision–recall curves, one chart per class, IoU set and metric (2D, BEV, 3D), one line per
/// difficulty or distance bin, laid out in a grid.
pub fn pr_plot(r: &EvalResult) -> plot::Figure {
    use crate::classes::Metric;
    use plot::{Chart, LineChart, Series, PALETTE};
    let mut charts = Vec::new();
    let mut groups: Vec<(crate::Class, crate::IouSet, Metric, f64)> = Vec::new();
    for c in &r.curves {
        let g = (c.class, c.iou_set, c.metric, c.threshold);
        if c.metric != Metric::Aos && !groups.contains(&g) {
            groups.push(g);
        }
    }
    for (class, set, metric, threshold) in groups {
        let series = r
            .curves
            .iter()
            .filter(|c| (c.class, c.iou_set, c.metric) == (class, set, metric) && c.n_gt > 0)
            .enumerate()
            .map(|(i, c)| Series {
                name: format!("{} R40 {}", c.filter.label(), cell(c.ap_r40())),
                colour: PALETTE[i % PALETTE.len()],
                points: c
                    .recall
                    .iter()
                    .zip(&c.precision)
                    .take_while(|(r, _)| **r > 0.0)
                    .map(|(r, p)| (*r, *p))
                    .collect(),
            })
            .collect();
        charts.push(Chart::Line(LineChart {
            title: format!("{} {}@{:.2}", class.name(), metric.label(), threshold),
            x_label: "recall".into(),
            y_label: "precision".into(),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            series,
        }));
    }
    plot::Figure {
        charts,
        columns: 3,
        cell: (420, 320),
    }
}
