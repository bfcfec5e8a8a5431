//! report.md, written from report.json: the header with its notes on how each variant was made,
//! the upstream and downstream tables with their intervals, and the verdicts.

use super::{change_cell, difficulty_key, fmt_ms, mean_std, primary_iou, verdict_line};
use crate::experiment::config::{ExperimentConfig, UpstreamKind};
use crate::experiment::intervals;
use serde_json::Value;

/// How the trained upstream networks were started, on what they were trained and which
/// weights predict, as one sentence per trained variant.
fn selection_note(cfg: &ExperimentConfig) -> String {
    use disparity::psmnet::training::{BatchNormMode, Selection};
    cfg.upstream
        .iter()
        .filter(|u| u.trained())
        .filter_map(|u| {
            let t = u.train_config().ok()?;
            let start = t.init.as_ref().map_or("the reference initialisation".into(), |p| {
                format!("`{}`", p.display())
            });
            let weights = match t.select {
                Selection::Last => "the last epoch's weights (no model selection)".to_string(),
                Selection::BestVal => "the weights of its best epoch on frames held out from the training split".into(),
            };
            let batch_norm = match t.batch_norm {
                BatchNormMode::Train => "",
                BatchNormMode::Frozen => ", batch norm frozen at the start's statistics",
            };
            Some(format!(
                "`{}`: {} epochs from {start} on {} ground truth ({:?} loss{batch_norm}); it predicts with {weights}.",
                u.name,
                t.epochs,
                match u.gt {
                    crate::experiment::config::TrainingTruth::Lidar => "LiDAR-derived sparse",
                    crate::experiment::config::TrainingTruth::Dense => "dense exact",
                },
                t.loss
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the oracle and perturbed variants are, one sentence each, with the σ they used.
fn controlled_note(cfg: &ExperimentConfig, report: &Value) -> String {
    use disparity::perturb::NoiseSpace;
    cfg.upstream
        .iter()
        .filter_map(|u| {
            let spec = u.perturbation()?;
            if u.kind == UpstreamKind::Oracle {
                return Some(format!("`{}`: the exact disparity (no upstream error).", u.name));
            }
            let (sigma, _) = mean_std(&report["upstream"][&u.name]["spread"]);
            let noise = match spec.noise {
                NoiseSpace::Disparity => format!("disparity noise of σ = {sigma:.3} px"),
                NoiseSpace::Depth => format!("depth noise, ln(ẑ/z) of σ = {sigma:.4}"),
            };
            let calibrated = u.target_mae.map_or(String::new(), |m| {
                format!(" (σ calibrated to a depth MAE of {m} m on val)")
            });
            Some(format!(
                "`{}`: the exact disparity with {noise}{calibrated}, correlated over {} px, after {} px of edge bleeding.",
                u.name, spec.blur, spec.bleed
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The header's warning when the val split may share frames with the train split.
fn shared_frames_note(cfg: &ExperimentConfig) -> String {
    if !cfg.data.allow_shared_frames {
        return String::new();
    }
    format!(
        "**In-sample.** `data.allow_shared_frames` is set: the val split `{}` may share frames with the train split `{}`, so these errors and APs are partly measured on frames the models were trained on; they say whether the pipeline runs and fits, not how it does on frames it has not seen.\n\n",
        cfg.data.val_split, cfg.data.train_split
    )
}

/// The seeds sentence of the report's header.
fn seeds_note(cfg: &ExperimentConfig) -> String {
    let detectors = match &cfg.downstream_seeds {
        Some(d) => format!("detector seeds {d:?} on every upstream model"),
        None => "one detector per upstream model, seeded with its upstream seed".into(),
    };
    format!("Upstream seeds: {:?}; {detectors}", cfg.seeds)
}

/// The verdicts' caveat when a source of training noise has one sample only: the intervals
/// then cover the choice of val frames (and any seeds there are), not that noise, so a
/// verdict is about these trained models rather than about the change that made them.
pub(super) fn training_noise_note(cfg: &ExperimentConfig) -> Option<String> {
    let trained_upstream = cfg.upstream.iter().any(|u| u.trained());
    let one_upstream = trained_upstream && cfg.seeds.len() < 2;
    let one_detector = cfg
        .downstream_seeds
        .as_ref()
        .map_or(cfg.seeds.len() < 2, |d| d.len() < 2);
    let what = match (one_upstream, one_detector) {
        (true, true) => "One trained upstream model and one detector per variant",
        (true, false) => "One trained upstream model per variant",
        (false, true) => "One detector per variant",
        (false, false) => return None,
    };
    let fix = if one_upstream {
        "several upstream `seeds`"
    } else {
        "several `downstream_seeds`"
    };
    Some(format!(
        "{what}: these intervals cover the choice of val frames, not training noise, which can move an AP by more than they show (another seed, or a change of float rounding, retrains different models). A verdict here is about these trained models; for one about the change that made them, run {fix}."
    ))
}

/// Builds report.md from report.json.
pub fn markdown(cfg: &ExperimentConfig, report: &Value) -> String {
    let boot = &report["bootstrap"];
    // The depth errors given intervals: a column of each table below, in this order.
    let errors: Vec<(&str, &str)> = intervals::UPSTREAM_ERRORS
        .iter()
        .map(|&(key, label, _)| (key, label))
        .collect();
    let cells = |v: &Value, cell: &dyn Fn(&Value) -> String| -> String {
        errors
            .iter()
            .map(|(key, _)| cell(&v[*key]))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut s = format!(
        "# Experiment `{}`\n\n{}. Baseline upstream variant: `{}`. Values are mean ± standard deviation over the trained models; Δ is against the baseline, with its 95 % interval: a paired bootstrap over the {} val frames ({} resamples, seed {}{}).\n\n{}**Decision rule.** {}\n\n## Upstream: disparity and depth error on val\n\nErrors on the ground-truth pixels that every variant predicts (so that a sparse model is not flattered by the pixels it leaves out); density: the share of all ground-truth pixels the variant predicts (all / car / pedestrian pixels); outline: the background within {} px of a labelled car or pedestrian (known where the frames have instance masks), which a network that smears an object over its surroundings places at the object's depth, widening the object's points. {}\n\n| variant | {} | EPE px | D1 | density | car density | pedestrian density |\n|---|{}---|---|---|---|---|\n",
        cfg.name,
        seeds_note(cfg),
        cfg.baseline,
        boot["frames"],
        boot["resamples"],
        boot["seed"],
        boot["seconds"]
            .as_f64()
            .map_or(String::new(), |t| format!("; {t:.1} s for every interval of the report")),
        shared_frames_note(cfg),
        intervals::RULE,
        disparity::outline::OUTLINE_RADIUS,
        [selection_note(cfg), controlled_note(cfg, report)]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        errors.iter().map(|(_, label)| format!("{label} m")).collect::<Vec<_>>().join(" | "),
        "---|".repeat(errors.len()),
    );
    for u in &cfg.upstream {
        match report["upstream"].get(&u.name) {
            Some(v) => {
                let own = &v["all_pixels"];
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    u.name,
                    cells(v, &fmt_ms),
                    fmt_ms(&v["epe"]),
                    fmt_ms(&v["d1"]),
                    fmt_ms(&own["density"]),
                    fmt_ms(&own["car_density"]),
                    fmt_ms(&own["pedestrian_density"]),
                )
            }
            None => {
                s += &format!(
                    "| {} | (real LiDAR) |{}\n",
                    u.name,
                    " |".repeat(errors.len() + 4)
                )
            }
        }
    }
    if let Some(changes) = report["upstream_changes"]
        .as_object()
        .filter(|m| !m.is_empty())
    {
        s += &format!(
            "\nChange against `{}`, m, with 95 % intervals (negative: lower error):\n\n| variant | {} |\n|---|{}\n",
            cfg.baseline,
            errors.iter().map(|(_, label)| format!("Δ {label}")).collect::<Vec<_>>().join(" | "),
            "---|".repeat(errors.len()),
        );
        for u in cfg
            .upstream
            .iter()
            .filter(|u| changes.contains_key(&u.name))
        {
            let c = &changes[&u.name];
            s += &format!("| {} | {} |\n", u.name, cells(c, &|v| change_cell(v, 3)));
        }
    }
    s += &crate::experiment::objects::markdown(cfg, report);
    let verdicts = report["verdicts"].as_array().cloned().unwrap_or_default();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        let iou = primary_iou(cfg);
        use eval::Difficulty::{Easy, Hard, Moderate};
        let columns: Vec<(String, String)> = [
            (eval::Metric::Box3D, Easy, true),
            (eval::Metric::Box3D, Moderate, true),
            (eval::Metric::Box3D, Hard, true),
            (eval::Metric::Bev, Moderate, true),
            (eval::Metric::Box3D, Moderate, false),
            (eval::Metric::Bev, Moderate, false),
        ]
        .iter()
        .map(|&(m, d, r40)| {
            let recall = if r40 { "R40" } else { "R11" };
            let label = format!("{} {} {recall}", m.key(), d.key());
            (label, difficulty_key(cfg, class, m, d, r40))
        })
        .collect();
        for cloud in &cfg.points.clouds {
            s += &format!(
                "\n## Downstream `{}` ({}), retrained on each variant's {} clouds{}, {} IoU\n\n| variant | {} | Δ {} [95 % CI] |\n|---|{}---|\n",
                d.name,
                class.name(),
                cloud.name(),
                cfg.points.edges.map_or(String::new(), |e| format!(
                    " (depth edges dropped from the disparity variants' maps: window radius {} px, share {})",
                    e.radius, e.ratio
                )),
                iou.name(),
                columns.iter().map(|c| c.0.clone()).collect::<Vec<_>>().join(" | "),
                cfg.eval.primary,
                "---|".repeat(columns.len())
            );
            let per_variant = &report["downstream"][&d.name][cloud.name()];
            for u in &cfg.upstream {
                let v = &per_variant[&u.name];
                if v.is_null() {
                    continue;
                }
                let cells: Vec<String> = columns.iter().map(|c| fmt_ms(&v[&c.1])).collect();
                let change = verdicts
                    .iter()
                    .find(|x| {
                        x["downstream"] == d.name.as_str()
                            && x["cloud"] == cloud.name()
                            && x["variant"] == u.name.as_str()
                    })
                    .map_or("(baseline)".to_string(), |x| {
                        change_cell(&x["ap_change"], 2)
                    });
                s += &format!("| {} | {} | {change} |\n", u.name, cells.join(" | "));
            }
        }
    }
    s += &crate::experiment::cross::markdown(cfg, report);
    s += &crate::experiment::decomposition::markdown(cfg, report);
    s += "\n## Verdicts\n\n";
    if let Some(note) = training_noise_note(cfg) {
        s += &format!("{note}\n\n");
    }
    for v in &verdicts {
        s += &format!("- {}\n", verdict_line(v));
    }
    s
}
