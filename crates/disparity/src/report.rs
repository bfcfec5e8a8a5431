//! Disparity and depth error tables and the error-against-distance plot.

use crate::metrics::{Breakdown, CLASSES, CURVE_STEP};
use plot::{Chart, Figure, LineChart, Series, PALETTE};

/// A table of every row (all pixels, distance bins, classes) of each model.
pub fn table(models: &[(String, Breakdown)]) -> String {
    let mut out = format!(
        "| {:<14} | {:<12} | {:>9} | {:>7} | {:>7} | {:>6} | {:>7} | {:>7} | {:>7} | {:>7} |\n|{}|\n",
        "model", "pixels of", "pixels", "density", "EPE px", "D1 %", "MAE m", "RMSE m", "AbsRel", "δ<1.25",
        ["-"; 10].iter().enumerate().map(|(i, _)| "-".repeat([16, 14, 11, 9, 9, 8, 9, 9, 9, 9][i])).collect::<Vec<_>>().join("|")
    );
    for (name, b) in models {
        for (row, m) in b.rows() {
            out.push_str(&format!(
                "| {:<14} | {:<12} | {:>9} | {:>6.1}% | {:>7.3} | {:>6.2} | {:>7.3} | {:>7.3} | {:>7.4} | {:>6.1}% |\n",
                name, row, m.pixels, 100.0 * m.density, m.epe, 100.0 * m.d1, m.mae, m.rmse, m.abs_rel, 100.0 * m.delta1
            ));
        }
    }
    out
}

/// JSON: `{model: {row: metrics}}`.
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
