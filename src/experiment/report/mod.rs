//! The study's report: upstream errors and downstream APs per variant (mean ± standard deviation
//! over the trained models), their changes against the baseline variant with paired bootstrap
//! intervals, and a decision per downstream model and variant by the rule of [`intervals`]:
//! was the upstream improvement self-defeating for it?

use super::config::{ExperimentConfig, UpstreamKind, CONFIDENCE};
use super::intervals::{self, bracket, decide, Decision};
use super::stages::{DetectorEval, UpstreamMetrics};
use eval::bootstrap::Interval;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Mean, sample standard deviation (0 for one value) and the values.
pub fn stats(values: &[f64]) -> Value {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n.max(1.0);
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    json!({ "mean": mean, "std": std, "values": values })
}

fn mean_std(v: &Value) -> (f64, f64) {
    (
        v["mean"].as_f64().unwrap_or(f64::NAN),
        v["std"].as_f64().unwrap_or(0.0),
    )
}

/// Everything measured, gathered by the driver.
#[derive(Debug, Default)]
pub struct Results {
    /// Upstream metrics by variant, one per seed (none for the LiDAR).
    pub upstream: BTreeMap<String, Vec<UpstreamMetrics>>,
    /// Evaluated detectors by (detector, cloud, variant): one per upstream and detector seed.
    pub downstream: BTreeMap<(String, String, String), Vec<DetectorEval>>,
    /// Val frames.
    pub frames: usize,
    /// The noise spread σ of each perturbed variant, one per seed.
    pub spreads: BTreeMap<String, Vec<f64>>,
    /// Cross evaluations by (detector, cloud, variant trained on, variant evaluated on).
    pub cross: BTreeMap<(String, String, String, String), Vec<DetectorEval>>,
    /// Evaluations on the training frames by (detector, cloud, variant), in the order of
    /// `downstream`'s.
    pub training_fit: BTreeMap<(String, String, String), Vec<DetectorEval>>,
}

/// The upstream numbers of a variant: depth MAE overall, on cars, on pedestrians, on the
/// outlines of cars and pedestrians ([`disparity::outline`]; null without instance masks), EPE and D1
/// on the pixels every variant predicts (`common_pixels`, the ones compared) and on all its own
/// (`all_pixels`, with its density: the share of ground-truth pixels it predicts).
fn upstream_json(runs: &[UpstreamMetrics]) -> Value {
    let errors = |b: &dyn Fn(&UpstreamMetrics) -> &disparity::Breakdown| {
        let pick = |f: &dyn Fn(&disparity::Breakdown) -> f64| {
            stats(&runs.iter().map(|r| f(b(r))).collect::<Vec<_>>())
        };
        // Outlines are known only where the frames have instance masks (synthetic data).
        let outline = |c: usize| {
            if runs.iter().all(|r| b(r).outlines[c].gt_pixels > 0) {
                pick(&|b| b.outlines[c].metrics().mae)
            } else {
                Value::Null
            }
        };
        json!({
            "depth_mae": pick(&|b| b.all.metrics().mae),
            "car_depth_mae": pick(&|b| b.classes[0].metrics().mae),
            "pedestrian_depth_mae": pick(&|b| b.classes[1].metrics().mae),
            "car_outline_depth_mae": outline(0),
            "pedestrian_outline_depth_mae": outline(1),
            "epe": pick(&|b| b.all.metrics().epe),
            "d1": pick(&|b| b.all.metrics().d1),
            "density": pick(&|b| b.all.metrics().density),
            "car_density": pick(&|b| b.classes[0].metrics().density),
            "pedestrian_density": pick(&|b| b.classes[1].metrics().density),
        })
    };
    let mut v = errors(&|r| &r.common);
    v["all_pixels"] = errors(&|r| &r.own);
    v["objects"] = super::objects::json(runs);
    v
}

/// The primary AP key of a class, e.g. `Car/3d/moderate/R40@0.70`.
pub fn primary_key(cfg: &ExperimentConfig, class: eval::Class) -> String {
    let metric = match cfg.eval.primary.split('/').next() {
        Some("2d") => eval::Metric::Box2D,
        Some("bev") => eval::Metric::Bev,
        Some("aos") => eval::Metric::Aos,
        _ => eval::Metric::Box3D,
    };
    let iou = primary_iou(cfg);
    format!(
        "{}/{}@{:.2}",
        class.name(),
        cfg.eval.primary,
        iou.threshold(class, metric)
    )
}

/// The IoU set of the primary AP.
fn primary_iou(cfg: &ExperimentConfig) -> eval::IouSet {
    eval::IouSet::parse(&cfg.eval.primary_iou).unwrap_or(eval::IouSet::Official)
}

/// The flat AP key of `class` for `metric` at a difficulty (`easy`, `moderate`, `hard`), R40 or
/// R11, at the primary IoU set, e.g. `Car/bev/moderate/R40@0.50`.
fn difficulty_key(
    cfg: &ExperimentConfig,
    class: eval::Class,
    metric: eval::Metric,
    difficulty: eval::Difficulty,
    r40: bool,
) -> String {
    eval::bootstrap::ApSpec {
        class,
        metric,
        filter: eval::Filter::Difficulty(difficulty),
        threshold: primary_iou(cfg).threshold(class, metric),
        r40,
    }
    .key()
}

/// The AP keys the report gives intervals for: the primary AP and the plot's cells (3D and BEV
/// × Easy, Moderate, Hard, R40 at the primary IoU).
fn interval_keys(cfg: &ExperimentConfig, class: eval::Class) -> Vec<String> {
    let mut keys = vec![primary_key(cfg, class)];
    for (_, key) in plot_cells(cfg, class) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

fn interval_json(i: &Option<Interval>) -> Value {
    i.as_ref().map_or(Value::Null, |i| json!(i))
}

/// Builds report.json: per variant its errors and APs, per comparison with the baseline the
/// intervals and the decision.
pub fn build(cfg: &ExperimentConfig, r: &Results, height_scale: f64) -> Value {
    let settings = cfg.bootstrap();
    let upstream: Map<String, Value> = r
        .upstream
        .iter()
        .map(|(v, runs)| {
            let mut json = upstream_json(runs);
            if let Some(s) = r.spreads.get(v) {
                json["spread"] = stats(s);
            }
            (v.clone(), json)
        })
        .collect();
    let mut upstream_changes: BTreeMap<String, BTreeMap<String, Option<Interval>>> =
        BTreeMap::new();
    if let Some(base) = r.upstream.get(&cfg.baseline) {
        for (v, runs) in r.upstream.iter().filter(|(v, _)| **v != cfg.baseline) {
            upstream_changes.insert(
                v.clone(),
                intervals::upstream_changes(runs, base, &settings),
            );
        }
    }
    let mut downstream = Map::new();
    let mut verdicts = Vec::new();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        let primary = primary_key(cfg, class);
        let keys = interval_keys(cfg, class);
        let mut per_cloud = Map::new();
        for cloud in &cfg.points.clouds {
            let runs_of = |variant: &str| {
                r.downstream.get(&(
                    d.name.clone(),
                    cloud.name().to_string(),
                    variant.to_string(),
                ))
            };
            let mut per_variant = Map::new();
            for u in &cfg.upstream {
                let Some(runs) = runs_of(&u.name) else {
                    continue;
                };
                let keys: Vec<String> = runs
                    .first()
                    .and_then(|e| e.aps.as_object())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                let aps: Map<String, Value> = keys
                    .into_iter()
                    .filter_map(|k| {
                        let values: Option<Vec<f64>> =
                            runs.iter().map(|e| e.aps[&k].as_f64()).collect();
                        Some((k, stats(&values?)))
                    })
                    .collect();
                per_variant.insert(u.name.clone(), Value::Object(aps));
            }
            let per_seed = |runs: &[DetectorEval]| -> Value {
                runs.iter()
                    .map(|e| {
                        json!({
                            "upstream_seed": e.upstream_seed,
                            "detector_seed": e.detector_seed,
                            "ap": e.aps[&primary],
                        })
                    })
                    .collect()
            };
            let Some(base_runs) = runs_of(&cfg.baseline) else {
                per_cloud.insert(cloud.name().to_string(), Value::Object(per_variant));
                continue;
            };
            let prepare = |runs: &[DetectorEval], variant: &str| {
                intervals::PreparedArm::new(runs, &keys, cfg.seeded(variant), height_scale)
            };
            let base_arm = prepare(base_runs, &cfg.baseline);
            for u in cfg.upstream.iter().filter(|u| u.name != cfg.baseline) {
                let Some(runs) = runs_of(&u.name) else {
                    continue;
                };
                let changes =
                    intervals::ap_changes(&keys, &prepare(runs, &u.name), &base_arm, &settings);
                let ap_change = changes.get(&primary).cloned().flatten();
                let up = upstream_changes.get(&u.name);
                let upstream_error = (u.kind != UpstreamKind::Lidar)
                    .then(|| up.and_then(|m| m.get("depth_mae").cloned().flatten()));
                let (decision, reason) = decide(
                    upstream_error.as_ref().map(|e| e.as_ref()),
                    ap_change.as_ref(),
                );
                verdicts.push(json!({
                    "downstream": d.name, "cloud": cloud.name(), "variant": u.name,
                    "baseline": cfg.baseline, "metric": primary,
                    "variant_ap": per_seed(runs), "baseline_ap": per_seed(base_runs),
                    "ap_change": interval_json(&ap_change),
                    "ap_changes": changes.iter().map(|(k, i)| (k.clone(), interval_json(i))).collect::<Map<_, _>>(),
                    "upstream_change": up.map_or(Value::Null, |m| {
                        m.iter().map(|(k, i)| (k.clone(), interval_json(i))).collect::<Map<_, _>>().into()
                    }),
                    "frames": r.frames,
                    "resamples": settings.resamples,
                    "upstream_seeds": seeds_of(runs, |e| e.upstream_seed),
                    "detector_seeds": seeds_of(runs, |e| e.detector_seed),
                    "decision": decision, "decision_label": decision.label(), "reason": reason,
                }));
            }
            per_cloud.insert(cloud.name().to_string(), Value::Object(per_variant));
        }
        downstream.insert(d.name.clone(), Value::Object(per_cloud));
    }
    let upstream_changes: Map<String, Value> = upstream_changes
        .iter()
        .map(|(v, m)| {
            let m: Map<String, Value> = m
                .iter()
                .map(|(k, i)| (k.clone(), interval_json(i)))
                .collect();
            (v.clone(), Value::Object(m))
        })
        .collect();
    json!({
        "name": cfg.name, "baseline": cfg.baseline, "seeds": cfg.seeds,
        "downstream_seeds": cfg.downstream_seeds,
        "bootstrap": {
            "frames": r.frames, "resamples": settings.resamples, "seed": settings.seed,
            "confidence": CONFIDENCE,
        },
        "rule": intervals::RULE,
        "upstream": upstream, "upstream_changes": upstream_changes,
        "downstream": downstream, "verdicts": verdicts,
        "cross": if r.cross.is_empty() { Value::Null } else { super::cross::json(cfg, r, height_scale) },
        "decomposition": super::decomposition::json(cfg, r, height_scale),
    })
}

/// The distinct seeds of some detectors, in order.
fn seeds_of(runs: &[DetectorEval], seed: impl Fn(&DetectorEval) -> u64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for e in runs {
        if !out.contains(&seed(e)) {
            out.push(seed(e));
        }
    }
    out
}

/// `mean ± std` of a stats value (`–` when undefined).
pub fn fmt_ms(v: &Value) -> String {
    let (m, s) = mean_std(v);
    if m.is_nan() {
        "–".into()
    } else if s > 0.0 {
        format!("{m:.2} ± {s:.2}")
    } else {
        format!("{m:.2}")
    }
}

fn interval_of(v: &Value) -> Option<Interval> {
    serde_json::from_value(v.clone()).ok()
}

/// A change with its interval, e.g. `+7.99 [+2.10, +13.50]` (`–` when undefined).
pub fn change_cell(v: &Value, digits: usize) -> String {
    match interval_of(v) {
        Some(i) => format!("{:+.*} {}", digits, i.estimate, bracket(&i, digits)),
        None => "–".into(),
    }
}

/// One verdict as a sentence: the changes with their intervals, the decision and what decided.
pub fn verdict_line(v: &Value) -> String {
    let upstream = match v["upstream_change"].get("depth_mae") {
        Some(e) if !e.is_null() => format!("depth MAE {} m", change_cell(e, 3)),
        _ if v["upstream_change"].is_null() => "no upstream error (real LiDAR)".into(),
        _ => "depth MAE change undefined".into(),
    };
    let label = v["decision_label"].as_str().unwrap_or("");
    let decision = if v["decision"] == json!(Decision::SelfDefeating) {
        format!("**{label}**")
    } else {
        label.to_string()
    };
    format!(
        "{} ({} cloud), {} vs {}: {upstream}; {} {} — {decision}: {}.",
        v["downstream"].as_str().unwrap_or(""),
        v["cloud"].as_str().unwrap_or(""),
        v["variant"].as_str().unwrap_or(""),
        v["baseline"].as_str().unwrap_or(""),
        v["metric"].as_str().unwrap_or(""),
        change_cell(&v["ap_change"], 2),
        v["reason"].as_str().unwrap_or(""),
    )
}

/// The plot's cells of a class: (label, AP key), 3D and BEV × Easy, Moderate, Hard, R40 at
/// the primary IoU.
fn plot_cells(cfg: &ExperimentConfig, class: eval::Class) -> Vec<(String, String)> {
    [eval::Metric::Box3D, eval::Metric::Bev]
        .iter()
        .flat_map(|&m| {
            eval::Difficulty::ALL.map(|d| {
                let metric = m.label().trim_end_matches(" AP");
                let label = format!("{metric} {}", d.label());
                (label, difficulty_key(cfg, class, m, d, true))
            })
        })
        .collect()
}

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
                    super::config::TrainingTruth::Lidar => "LiDAR-derived sparse",
                    super::config::TrainingTruth::Dense => "dense exact",
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
fn training_noise_note(cfg: &ExperimentConfig) -> Option<String> {
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
        "# Experiment `{}`\n\n{}. Baseline upstream variant: `{}`. Values are mean ± standard deviation over the trained models; Δ is against the baseline, with its 95 % interval: a paired bootstrap over the {} val frames ({} resamples, seed {}{}).\n\n**Decision rule.** {}\n\n## Upstream: disparity and depth error on val\n\nErrors on the ground-truth pixels that every variant predicts (so that a sparse model is not flattered by the pixels it leaves out); density: the share of all ground-truth pixels the variant predicts (all / car / pedestrian pixels); outline: the background within {} px of a labelled car or pedestrian (known where the frames have instance masks), which a network that smears an object over its surroundings places at the object's depth, widening the object's points. {}\n\n| variant | {} | EPE px | D1 | density | car density | pedestrian density |\n|---|{}---|---|---|---|---|\n",
        cfg.name,
        seeds_note(cfg),
        cfg.baseline,
        boot["frames"],
        boot["resamples"],
        boot["seed"],
        boot["seconds"]
            .as_f64()
            .map_or(String::new(), |t| format!("; {t:.1} s for every interval of the report")),
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
    s += &super::objects::markdown(cfg, report);
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
    s += &super::cross::markdown(cfg, report);
    s += &super::decomposition::markdown(cfg, report);
    s += "\n## Verdicts\n\n";
    if let Some(note) = training_noise_note(cfg) {
        s += &format!("{note}\n\n");
    }
    for v in &verdicts {
        s += &format!("- {}\n", verdict_line(v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_mean_and_sample_deviation() {
        let s = stats(&[1.0, 2.0, 4.0]);
        assert!((s["mean"].as_f64().unwrap() - 7.0 / 3.0).abs() < 1e-12);
        let var = ((1.0f64 - 7.0 / 3.0).powi(2)
            + (2.0f64 - 7.0 / 3.0).powi(2)
            + (4.0f64 - 7.0 / 3.0).powi(2))
            / 2.0;
        assert!((s["std"].as_f64().unwrap() - var.sqrt()).abs() < 1e-12);
        assert_eq!(stats(&[3.0])["std"].as_f64(), Some(0.0));
    }

    fn car(x: f64, z: f64, score: Option<f64>) -> kitti::Object {
        kitti::Object {
            kind: kitti::ObjectType::Car,
            truncated: 0.0,
            occluded: 0,
            alpha: 0.0,
            bbox: kitti::Box2D {
                left: 300.0 + 30.0 * x,
                top: 150.0,
                right: 380.0 + 30.0 * x,
                bottom: 200.0,
            },
            box3d: kitti::Box3D {
                location: nalgebra::Point3::new(x, 1.6, z),
                h: 1.5,
                w: 1.6,
                l: 3.9,
                ry: 0.0,
            },
            score,
        }
    }

    /// 40 val frames of three cars each; a detector finds a car of frame `f` unless
    /// `(f + k) % miss_every == 0`, plus one false positive in every fifth frame.
    fn detector(miss_every: usize, seed: u64) -> DetectorEval {
        let frames = (0..40)
            .map(|f| {
                let gt: Vec<kitti::Object> = (0..3)
                    .map(|k| car(-6.0 + 6.0 * k as f64, 10.0 + k as f64 * 8.0, None))
                    .collect();
                let mut det: Vec<kitti::Object> = gt
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| (f + k) % miss_every != 0)
                    .map(|(k, g)| kitti::Object {
                        score: Some(0.9 - 0.01 * ((f * 3 + k) % 7) as f64),
                        ..g.clone()
                    })
                    .collect();
                if f % 5 == 0 {
                    det.push(car(12.0, 30.0, Some(0.5)));
                }
                eval::FrameLabels { gt, det }
            })
            .collect::<Vec<_>>();
        let cfg = eval::EvalConfig {
            classes: vec![eval::Class::Car, eval::Class::Pedestrian],
            iou_sets: vec![eval::IouSet::Official, eval::IouSet::Loose],
            ..eval::EvalConfig::default()
        };
        let aps = eval::report::json(&eval::evaluate(&frames, &cfg));
        DetectorEval {
            upstream_seed: seed,
            detector_seed: seed,
            aps,
            frames,
        }
    }

    /// Per-frame upstream errors: `mae` on every frame, give or take a frame-to-frame wobble.
    fn upstream(mae: f64) -> UpstreamMetrics {
        let frames: Vec<disparity::Breakdown> = (0..40)
            .map(|f| {
                let mut b = disparity::Breakdown::default();
                let e = mae + 0.3 * ((f % 4) as f64 - 1.5);
                b.all.depth_pixels = 100;
                b.all.abs_depth = e * 100.0;
                b.classes[0] = b.all;
                b.classes[1] = b.all;
                b
            })
            .collect();
        from_frames(frames)
    }

    /// A variant's metrics from its per-frame breakdowns (every pixel common to all variants).
    fn from_frames(frames: Vec<disparity::Breakdown>) -> UpstreamMetrics {
        let common = disparity::Breakdown::total(&frames);
        UpstreamMetrics {
            own: common.clone(),
            common,
            frames,
        }
    }

    /// Two seeds; variants `lidar`, `disp` (the baseline), `depth` and `worse`; a car and a
    /// pedestrian detector.
    fn four_variant_config() -> ExperimentConfig {
        toml::from_str(
            r#"
name = "t"
seeds = [0, 1]
baseline = "disp"
[data.synthetic]
frames = 4
[[upstream]]
name = "lidar"
kind = "lidar"
[[upstream]]
name = "disp"
kind = "psmnet"
[[upstream]]
name = "depth"
kind = "psmnet"
loss = "depth"
[[upstream]]
name = "worse"
kind = "psmnet"
[[downstream]]
name = "car"
class = "Car"
[[downstream]]
name = "ped"
class = "Pedestrian"
"#,
        )
        .unwrap()
    }

    /// Two seeds; `depth` has a lower depth error than `disp` on every frame; its car detector
    /// misses a car in every second frame where `disp`'s misses one in eleven (a loss); its
    /// pedestrian-class comparison has no pedestrians at all (undefined AP: inconclusive);
    /// `worse` has a higher error.
    #[test]
    fn the_report_decides_by_the_paired_intervals() {
        let cfg = four_variant_config();
        let mut r = Results {
            frames: 40,
            ..Results::default()
        };
        r.upstream
            .insert("disp".into(), vec![upstream(2.0), upstream(2.1)]);
        r.upstream
            .insert("depth".into(), vec![upstream(1.5), upstream(1.6)]);
        r.upstream
            .insert("worse".into(), vec![upstream(2.6), upstream(2.7)]);
        for det in ["car", "ped"] {
            let mut put = |variant: &str, miss_every: usize| {
                r.downstream.insert(
                    (det.into(), "sparse".into(), variant.into()),
                    vec![detector(miss_every, 0), detector(miss_every, 1)],
                );
            };
            put("lidar", 1000);
            put("disp", 11);
            put("depth", 2);
            put("worse", 11);
        }
        let report = build(&cfg, &r, 1.0);
        let v = report["verdicts"].as_array().unwrap();
        assert_eq!(v.len(), 6);
        let find = |det: &str, variant: &str| {
            v.iter()
                .find(|x| x["downstream"] == det && x["variant"] == variant)
                .unwrap()
        };
        let car_depth = find("car", "depth");
        assert_eq!(car_depth["decision"], "self-defeating", "{car_depth}");
        let up = &car_depth["upstream_change"]["depth_mae"];
        assert!(
            (up["estimate"].as_f64().unwrap() + 0.5).abs() < 1e-9,
            "{up}"
        );
        assert!(up["hi"].as_f64().unwrap() < 0.0, "{up}");
        let ap = &car_depth["ap_change"];
        assert!(
            ap["hi"].as_f64().unwrap() < 0.0
                && ap["lo"].as_f64().unwrap() < ap["hi"].as_f64().unwrap(),
            "{ap}"
        );
        assert_eq!(car_depth["variant_ap"].as_array().unwrap().len(), 2);
        assert_eq!(car_depth["resamples"], 1000);
        assert_eq!(find("car", "lidar")["decision"], "no-upstream-improvement");
        assert_eq!(find("car", "worse")["decision"], "no-upstream-improvement");
        // Same detections as the baseline: ΔAP exactly 0 on every resample, which spans zero.
        assert_eq!(find("car", "worse")["ap_change"]["lo"], 0.0);
        assert_eq!(find("ped", "depth")["decision"], "inconclusive");
        assert!(find("ped", "depth")["ap_change"].is_null());
        let md = markdown(&cfg, &report);
        assert!(
            md.contains("**SELF-DEFEATING**") && md.contains("Decision rule"),
            "{md}"
        );
        assert!(md.contains("-0.500 [-"), "{md}");
        // Two upstream seeds, a detector each: the intervals cover training noise, no caveat.
        assert!(!md.contains("not training noise"), "{md}");
        // The clouds' depth-edge filter, when set, is named where the detectors' APs are.
        assert!(!md.contains("depth edges"), "{md}");
        let mut edged = cfg.clone();
        edged.points.edges = Some(pseudo_lidar::EdgeFilter {
            radius: 2,
            ratio: 0.15,
        });
        let md = markdown(&edged, &report);
        assert!(
            md.contains("sparse clouds (depth edges dropped from the disparity variants' maps: window radius 2 px, share 0.15), official IoU"),
            "{md}"
        );
        let mut one = cfg.clone();
        one.seeds = vec![0];
        let note = training_noise_note(&one).unwrap();
        assert!(
            note.starts_with("One trained upstream model and one detector per variant")
                && note.contains("several upstream `seeds`"),
            "{note}"
        );
        one.downstream_seeds = Some(vec![0, 1]);
        assert!(training_noise_note(&one)
            .unwrap()
            .starts_with("One trained upstream model per variant:"));
        // No trained upstream model (LiDAR only): only the detectors' seeds matter.
        one.upstream.retain(|u| !u.trained());
        assert_eq!(training_noise_note(&one), None);
        one.downstream_seeds = None;
        assert!(training_noise_note(&one)
            .unwrap()
            .contains("several `downstream_seeds`"));
    }

    #[test]
    fn a_verdict_line_gives_the_intervals_and_what_decided() {
        let i = |e: f64, lo: f64, hi: f64| json!({"estimate": e, "lo": lo, "hi": hi, "resamples": 1000, "undefined": 0});
        let v = json!({
            "downstream": "pedestrian", "cloud": "sparse", "variant": "depth", "baseline": "disp",
            "metric": "Pedestrian/3d/moderate/R40@0.50",
            "upstream_change": {"depth_mae": i(-0.2, -0.3, -0.1)},
            "ap_change": i(-3.0, -5.0, -1.0),
            "decision": "self-defeating", "decision_label": "SELF-DEFEATING", "reason": "because",
        });
        let line = verdict_line(&v);
        assert!(
            line.contains("**SELF-DEFEATING**")
                && line.contains("-3.00 [-5.00, -1.00]")
                && line.contains("-0.200 [-0.300, -0.100] m")
                && line.contains("because"),
            "{line}"
        );
    }

    /// A variant's per-frame objects: two cars at 20-40 m placed `error` m too far (give or
    /// take a frame-to-frame wobble) and one at 0-10 m placed exactly, in each of 40 frames.
    fn with_objects(error: f64) -> UpstreamMetrics {
        let mut m = upstream(2.0);
        for (f, b) in m.frames.iter_mut().enumerate() {
            let e = error + 0.2 * ((f % 4) as f64 - 1.5);
            let far = &mut b.objects[0][2];
            (far.objects, far.placed, far.farther) = (2, 2, 2);
            (far.abs_median, far.median) = (2.0 * e, 2.0 * e);
            let near = &mut b.objects[0][0];
            (near.objects, near.placed, near.within) = (1, 1, 1);
        }
        from_frames(m.frames)
    }

    #[test]
    fn outline_errors_and_their_change_are_reported_where_outlines_are_known() {
        // Car outlines of 50 pixels a frame placed `mae` m off on average; no pedestrian
        // outline (as without instance masks).
        let with_outline = |mae: f64| {
            let mut m = upstream(2.0);
            for (f, b) in m.frames.iter_mut().enumerate() {
                let o = &mut b.outlines[0];
                (o.gt_pixels, o.pixels, o.depth_pixels) = (50, 50, 50);
                o.abs_depth = 50.0 * (mae + 0.1 * ((f % 4) as f64 - 1.5));
            }
            from_frames(m.frames)
        };
        let cfg = four_variant_config();
        let mut r = Results {
            frames: 40,
            ..Results::default()
        };
        r.upstream.insert("disp".into(), vec![with_outline(3.0)]);
        r.upstream.insert("depth".into(), vec![with_outline(3.5)]);
        let report = build(&cfg, &r, 1.0);
        let depth = &report["upstream"]["depth"];
        assert!(
            (depth["car_outline_depth_mae"]["mean"].as_f64().unwrap() - 3.5).abs() < 1e-9,
            "{depth}"
        );
        assert!(depth["pedestrian_outline_depth_mae"].is_null(), "{depth}");
        // Higher on every frame: the change's interval lies above zero; none without outlines.
        let changes = &report["upstream_changes"]["depth"];
        let car = &changes["car_outline_depth_mae"];
        assert!(
            (car["estimate"].as_f64().unwrap() - 0.5).abs() < 1e-9,
            "{car}"
        );
        assert!(car["lo"].as_f64().unwrap() > 0.0, "{car}");
        assert!(
            changes["pedestrian_outline_depth_mae"].is_null(),
            "{changes}"
        );
        let md = markdown(&cfg, &report);
        assert!(
            md.contains("| depth | 2.00 | 2.00 | 2.00 | 3.50 | – |"),
            "{md}"
        );
        assert!(
            md.contains("| +0.500 [+0.") && md.contains("] | – |\n"),
            "{md}"
        );
    }

    #[test]
    fn the_upstream_section_gives_each_objects_error_and_its_change() {
        let cfg = four_variant_config();
        let mut r = Results {
            frames: 40,
            ..Results::default()
        };
        r.upstream
            .insert("disp".into(), vec![with_objects(3.0), with_objects(3.0)]);
        r.upstream
            .insert("depth".into(), vec![with_objects(2.0), with_objects(2.0)]);
        let report = build(&cfg, &r, 1.0);
        // The wobble averages out over the 40 frames: errors 3.0 and 2.0, all too far.
        let far = &report["upstream"]["depth"]["objects"]["Car/20-40 m"];
        assert_eq!(far["objects"]["mean"], 80.0);
        assert!(
            (far["error"]["mean"].as_f64().unwrap() - 2.0).abs() < 1e-9,
            "{far}"
        );
        assert!(
            (far["bias"]["mean"].as_f64().unwrap() - 2.0).abs() < 1e-9,
            "{far}"
        );
        assert_eq!(far["farther"]["mean"], 1.0);
        let near = &report["upstream"]["depth"]["objects"]["Car/0-10 m"];
        assert_eq!(
            (
                near["error"]["mean"].as_f64(),
                near["within"]["mean"].as_f64()
            ),
            (Some(0.0), Some(1.0))
        );
        // Lower on every frame: the change's interval lies below zero.
        let change = &report["upstream_changes"]["depth"]["object_error/Car/20-40 m"];
        assert!(
            (change["estimate"].as_f64().unwrap() + 1.0).abs() < 1e-9,
            "{change}"
        );
        assert!(change["hi"].as_f64().unwrap() < 0.0, "{change}");
        // Cells without objects have no column; those with objects name their count.
        let md = markdown(&cfg, &report);
        assert!(
            md.contains("| variant | Car 0-10 m (40) | Car 20-40 m (80) |"),
            "{md}"
        );
        assert!(
            md.contains("| depth | 0.00 (+0.00) | 2.00 (+2.00) |"),
            "{md}"
        );
        assert!(
            md.contains("| depth | +0.00 [+0.00, +0.00] | -1.00 ["),
            "{md}"
        );
        assert!(!md.contains("Pedestrian 0-10 m"), "{md}");
    }
}
