//! The report's per-object upstream errors: each labelled car and pedestrian of the val frames
//! counted once, by its distance (`disparity::objects`), on the pixels every variant predicts.
//! Pixel-weighted MAE is dominated by large near objects; a detector sees each object once, so
//! this is where a depth change meets the detector.

use super::config::ExperimentConfig;
use super::intervals::{object_cell, object_error_key};
use super::report::{change_cell, fmt_ms, stats};
use super::stages::UpstreamMetrics;
use disparity::metrics::{BINS, CLASSES};
use disparity::objects::{ObjectMetrics, MIN_OBJECT_PIXELS};
use serde_json::{json, Map, Value};

/// `{"Car/20-40 m": {objects, placed, error, bias, farther, within}}`, each the mean ± standard
/// deviation over the upstream seeds (on each seed's common pixels), for the cells with objects.
pub fn json(runs: &[UpstreamMetrics]) -> Value {
    let mut cells = Map::new();
    for c in 0..CLASSES.len() {
        for k in 0..BINS.len() {
            let metrics: Vec<ObjectMetrics> = runs
                .iter()
                .map(|r| r.common.objects[c][k].metrics())
                .collect();
            if metrics.iter().all(|m| m.objects == 0) {
                continue;
            }
            let pick =
                |f: fn(&ObjectMetrics) -> f64| stats(&metrics.iter().map(f).collect::<Vec<_>>());
            cells.insert(
                object_cell(c, k),
                json!({
                    "objects": pick(|m| m.objects as f64),
                    "placed": pick(|m| m.placed),
                    "error": pick(|m| m.error),
                    "bias": pick(|m| m.bias),
                    "farther": pick(|m| m.farther),
                    "within": pick(|m| m.within),
                }),
            );
        }
    }
    Value::Object(cells)
}

/// The Upstream section's per-object tables (empty when no variant has objects): each
/// variant's error (bias) by class and distance, and the change of the error against the
/// baseline with its interval.
pub fn markdown(cfg: &ExperimentConfig, report: &Value) -> String {
    let variants: Vec<(&str, &Value)> = cfg
        .upstream
        .iter()
        .filter_map(|u| {
            let cells = &report["upstream"][&u.name]["objects"];
            cells
                .as_object()
                .filter(|m| !m.is_empty())
                .map(|_| (u.name.as_str(), cells))
        })
        .collect();
    // The cells any variant has, in class and distance order.
    let columns: Vec<(usize, usize)> = (0..CLASSES.len())
        .flat_map(|c| (0..BINS.len()).map(move |k| (c, k)))
        .filter(|&(c, k)| {
            variants
                .iter()
                .any(|(_, v)| !v[object_cell(c, k)].is_null())
        })
        .collect();
    if columns.is_empty() {
        return String::new();
    }
    let header = |first: &str| {
        let names: Vec<String> = columns
            .iter()
            .map(|&(c, k)| {
                let count = variants
                    .iter()
                    .find_map(|(_, v)| v[object_cell(c, k)]["objects"]["mean"].as_f64())
                    .unwrap_or(0.0);
                format!("{} ({count:.0})", object_cell(c, k).replace('/', " "))
            })
            .collect();
        format!(
            "| {first} | {} |\n|---|{}\n",
            names.join(" | "),
            "---|".repeat(columns.len())
        )
    };
    let mut s = format!(
        "\nPer object: each labelled car and pedestrian of the val frames with at least {MIN_OBJECT_PIXELS} ground-truth pixels that every variant predicts, counted once, by its distance (the median true depth of its pixels; objects in brackets). Cell: the mean over objects of |median depth error of its pixels|, m, and in brackets the mean signed median (+: placed too far). The pixel MAE above weights a near car hundreds of times more than a far one; a detector sees each once.\n\n{}",
        header("variant")
    );
    for (name, v) in &variants {
        let cells: Vec<String> = columns
            .iter()
            .map(|&(c, k)| {
                let cell = &v[object_cell(c, k)];
                if cell.is_null() {
                    return "–".into();
                }
                let bias = cell["bias"]["mean"].as_f64().unwrap_or(f64::NAN);
                format!("{} ({bias:+.2})", fmt_ms(&cell["error"]))
            })
            .collect();
        s += &format!("| {name} | {} |\n", cells.join(" | "));
    }
    let changes: Vec<&str> = variants
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !report["upstream_changes"][*name].is_null())
        .collect();
    if !changes.is_empty() {
        s += &format!(
            "\nChange of the per-object error against `{}`, m, with 95 % intervals (negative: placed closer to the truth):\n\n{}",
            cfg.baseline,
            header("variant")
        );
        for name in changes {
            let cells: Vec<String> = columns
                .iter()
                .map(|&(c, k)| {
                    change_cell(&report["upstream_changes"][name][object_error_key(c, k)], 2)
                })
                .collect();
            s += &format!("| {name} | {} |\n", cells.join(" | "));
        }
    }
    s
}
