//! Disparity and depth error tables and the error-against-distance plot.

use crate::metrics::{Breakdown, BINS, CLASSES, CURVE_STEP};
use crate::objects::{ObjectMetrics, OBJECT_TOLERANCE};
use plot::{Chart, Figure, LineChart, Series, PALETTE};

/// A table of every row (all pixels, distance bins, classes) of each model.
pub fn table(models: &[(String, Breakdown)]) -> String {
    let mut out = format!(
        "| {:<14} | {:<18} | {:>9} | {:>7} | {:>7} | {:>6} | {:>7} | {:>7} | {:>7} | {:>7} |\n|{}|\n",
        "model", "pixels of", "pixels", "density", "EPE px", "D1 %", "MAE m", "RMSE m", "AbsRel", "δ<1.25",
        ["-"; 10].iter().enumerate().map(|(i, _)| "-".repeat([16, 20, 11, 9, 9, 8, 9, 9, 9, 9][i])).collect::<Vec<_>>().join("|")
    );
    for (name, b) in models {
        for (row, m) in b.rows() {
            out.push_str(&format!(
                "| {:<14} | {:<18} | {:>9} | {:>6.1}% | {:>7.3} | {:>6.2} | {:>7.3} | {:>7.3} | {:>7.4} | {:>6.1}% |\n",
                name, row, m.pixels, 100.0 * m.density, m.epe, 100.0 * m.d1, m.mae, m.rmse, m.abs_rel, 100.0 * m.delta1
            ));
        }
    }
    out
}

/// The per-object rows of a breakdown: (class, distance bin, metrics), for the bins that hold
/// objects.
pub fn object_rows(b: &Breakdown) -> Vec<(&'static str, String, ObjectMetrics)> {
    let mut rows = Vec::new();
    for (c, class) in CLASSES.iter().enumerate() {
        for (k, (lo, hi)) in BINS.iter().enumerate() {
            let m = b.objects[c][k].metrics();
            if m.objects > 0 {
                rows.push((class.as_str(), format!("{lo:.0}-{hi:.0} m"), m));
            }
        }
    }
    rows
}

/// A table of each model's per-object errors (empty when no frame's objects are known).
pub fn object_table(models: &[(String, Breakdown)]) -> String {
    let rows: Vec<_> = models
        .iter()
        .flat_map(|(name, b)| object_rows(b).into_iter().map(move |r| (name, r)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "| {:<14} | {:<10} | {:<10} | {:>7} | {:>6} | {:>7} | {:>7} | {:>7} | {:>8} |\n|{}|\n",
        "model",
        "class",
        "objects at",
        "objects",
        "placed",
        "error m",
        "bias m",
        "too far",
        format!("≤ {OBJECT_TOLERANCE:.0} m"),
        [16, 12, 12, 9, 8, 9, 9, 9, 10]
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("|")
    );
    for (name, (class, bin, m)) in rows {
        out.push_str(&format!(
            "| {:<14} | {:<10} | {:<10} | {:>7} | {:>5.0}% | {:>7.2} | {:>+7.2} | {:>6.0}% | {:>7.0}% |\n",
            name, class, bin, m.objects, 100.0 * m.placed, m.error, m.bias, 100.0 * m.farther, 100.0 * m.within
        ));
    }
    out
}

/// JSON: `{model: {row: metrics, "objects": {class: {bin: object metrics}}}}` ("objects" only
/// where the frames' objects are known).
pub fn json(models: &[(String, Breakdown)]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = models
        .iter()
        .map(|(name, b)| {
            let rows: serde_json::Map<String, serde_json::Value> = b
                .rows()
                .into_iter()
                .map(|(row, m)| {
                    (
                        row,
                        serde_json::to_value(m).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect();
            let mut rows = rows;
            let mut objects = serde_json::Map::new();
            for (class, bin, m) in object_rows(b) {
                let entry = objects
                    .entry(class)
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                entry[bin] = serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
            }
            if !objects.is_empty() {
                rows.insert("objects".into(), serde_json::Value::Object(objects));
            }
            (name.clone(), serde_json::Value::Object(rows))
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Depth MAE against ground-truth distance (5 m bins), one chart per pixel class (all, car,
/// pedestrian), one curve per model.
pub fn error_by_distance(models: &[(String, Breakdown)]) -> Figure {
    let names = std::iter::once("all pixels").chain(CLASSES.iter().map(|c| c.as_str()));
    let charts: Vec<Chart> = names
        .enumerate()
        .map(|(k, title)| {
            let series: Vec<Series> = models
                .iter()
                .enumerate()
                .map(|(i, (name, b))| Series {
                    name: name.clone(),
                    colour: PALETTE[i % PALETTE.len()],
                    points: b.curves[k]
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.depth_pixels > 0)
                        .map(|(bin, s)| ((bin as f64 + 0.5) * CURVE_STEP, s.metrics().mae))
                        .collect(),
                })
                .collect();
            let top = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.5, f64::max);
            Chart::Line(LineChart {
                title: format!("depth MAE, {title}"),
                x_label: "distance (m)".into(),
                y_label: "MAE (m)".into(),
                x_range: (0.0, 80.0),
                y_range: (0.0, top * 1.1),
                series,
            })
        })
        .collect();
    Figure {
        charts,
        columns: 3,
        cell: (460, 340),
    }
}
