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

mod figure;
mod markdown;
#[cfg(test)]
mod tests;

pub use figure::ap_change_plot;
pub use markdown::markdown;
