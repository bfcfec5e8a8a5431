//! The report's figure: the change in AP against the baseline with its intervals as error bars.

use super::{interval_of, plot_cells, primary_iou};
use crate::experiment::config::ExperimentConfig;
use serde_json::Value;

/// The change in AP against the baseline (R40 at the primary IoU; 3D and BEV × Easy, Moderate,
/// Hard) with the report's 95 % paired bootstrap intervals as error bars: one chart per
/// detector and cloud, one bar per variant.
pub fn ap_change_plot(cfg: &ExperimentConfig, report: &Value) -> plot::Figure {
    let iou = primary_iou(cfg);
    let verdicts = report["verdicts"].as_array().cloned().unwrap_or_default();
    let mut charts = Vec::new();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        for cloud in &cfg.points.clouds {
            let cells = plot_cells(cfg, class);
            let series = verdicts
                .iter()
                .filter(|v| v["downstream"] == d.name.as_str() && v["cloud"] == cloud.name())
                .enumerate()
                .map(|(i, v)| plot::BarSeries {
                    name: v["variant"].as_str().unwrap_or("").to_string(),
                    colour: plot::PALETTE[i % plot::PALETTE.len()],
                    values: cells
                        .iter()
                        .map(|(_, k)| match interval_of(&v["ap_changes"][k]) {
                            Some(i) => (i.estimate, Some((i.lo, i.hi))),
                            None => (f64::NAN, None),
                        })
                        .collect(),
                })
                .collect();
            charts.push(plot::Chart::Bar(plot::BarChart {
                title: format!("{}, {}: vs {}", d.name, cloud.name(), cfg.baseline),
                y_label: format!("AP change (R40, {} IoU, 95% CI)", iou.name()),
                groups: cells.into_iter().map(|c| c.0).collect(),
                series,
            }));
        }
    }
    plot::Figure {
        charts,
        columns: 2,
        cell: (560, 340),
    }
}
