//! The study's report: upstream errors and downstream APs per variant (mean ± standard deviation
//! over seeds), their changes against the baseline variant, and a verdict per downstream model
//! and variant: was the upstream improvement self-defeating for it?

use super::config::ExperimentConfig;
use super::stages::UpstreamMetrics;
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
    /// Flat APs by (detector, cloud, variant), one map per seed.
    pub downstream: BTreeMap<(String, String, String), Vec<Value>>,
}

/// The upstream numbers of a variant: depth MAE overall, on cars, on pedestrians, EPE and D1
/// on the pixels every variant predicts (`common_pixels`, the ones compared) and on all its own
/// (`all_pixels`, with its density: the share of ground-truth pixels it predicts).
fn upstream_json(runs: &[UpstreamMetrics]) -> Value {
    let errors = |b: &dyn Fn(&UpstreamMetrics) -> &disparity::Breakdown| {
        let pick = |f: &dyn Fn(&disparity::Breakdown) -> f64| {
            stats(&runs.iter().map(|r| f(b(r))).collect::<Vec<_>>())
        };
        json!({
            "depth_mae": pick(&|b| b.all.metrics().mae),
            "car_depth_mae": pick(&|b| b.classes[0].metrics().mae),
            "pedestrian_depth_mae": pick(&|b| b.classes[1].metrics().mae),
            "epe": pick(&|b| b.all.metrics().epe),
            "d1": pick(&|b| b.all.metrics().d1),
            "density": pick(&|b| b.all.metrics().density),
            "car_density": pick(&|b| b.classes[0].metrics().density),
            "pedestrian_density": pick(&|b| b.classes[1].metrics().density),
        })
    };
    let mut v = errors(&|r| &r.common);
    v["all_pixels"] = errors(&|r| &r.own);
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
    let iou = eval::IouSet::parse(&cfg.eval.primary_iou).unwrap_or(eval::IouSet::Official);
    format!(
        "{}/{}@{:.2}",
        class.name(),
        cfg.eval.primary,
        iou.threshold(class, metric)
    )
}

/// Builds report.json.
pub fn build(cfg: &ExperimentConfig, r: &Results) -> Value {
    let upstream: Map<String, Value> = r
        .upstream
        .iter()
        .map(|(v, runs)| (v.clone(), upstream_json(runs)))
        .collect();
    let mut downstream = Map::new();
    let mut verdicts = Vec::new();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        let primary = primary_key(cfg, class);
        let mut per_cloud = Map::new();
        for cloud in &cfg.points.clouds {
            let mut per_variant = Map::new();
            for u in &cfg.upstream {
                let Some(runs) =
                    r.downstream
                        .get(&(d.name.clone(), cloud.name().to_string(), u.name.clone()))
                else {
                    continue;
                };
                let keys: Vec<String> = runs
                    .first()
                    .and_then(|v| v.as_object())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                let aps: Map<String, Value> = keys
                    .into_iter()
                    .filter_map(|k| {
                        let values: Option<Vec<f64>> =
                            runs.iter().map(|v| v[&k].as_f64()).collect();
                        Some((k, stats(&values?)))
                    })
                    .collect();
                per_variant.insert(u.name.clone(), Value::Object(aps));
            }
            let base_ap = per_variant
                .get(&cfg.baseline)
                .map(|v| mean_std(&v[&primary]));
            let base_err = upstream
                .get(&cfg.baseline)
                .map(|v| mean_std(&v["depth_mae"]));
            for u in cfg.upstream.iter().filter(|u| u.name != cfg.baseline) {
                let (Some((b_ap, b_sd)), Some(v)) = (base_ap, per_variant.get(&u.name)) else {
                    continue;
                };
                let (ap, sd) = mean_std(&v[&primary]);
                let err = upstream.get(&u.name).map(|v| mean_std(&v["depth_mae"]));
                let error_change = match (err, base_err) {
                    (Some((e, _)), Some((b, _))) => Some(e - b),
                    _ => None,
                };
                let ap_change = ap - b_ap;
                let spread = sd.max(b_sd);
                let seeds = cfg.seeds.len();
                let significant = (seeds > 1).then_some(ap_change.abs() > spread);
                let self_defeating = error_change.is_some_and(|e| e < 0.0) && ap_change < 0.0;
                verdicts.push(json!({
                    "downstream": d.name, "cloud": cloud.name(), "variant": u.name,
                    "baseline": cfg.baseline, "metric": primary,
                    "upstream_depth_mae_change": error_change, "ap_change": ap_change,
                    "seed_spread": spread, "significant": significant,
                    "self_defeating": self_defeating,
                }));
            }
            per_cloud.insert(cloud.name().to_string(), Value::Object(per_variant));
        }
        downstream.insert(d.name.clone(), Value::Object(per_cloud));
    }
    json!({
        "name": cfg.name, "baseline": cfg.baseline, "seeds": cfg.seeds,
        "upstream": upstream, "downstream": downstream, "verdicts": verdicts,
    })
}

fn fmt_ms(v: &Value) -> String {
    let (m, s) = mean_std(v);
    if m.is_nan() {
        "–".into()
    } else if s > 0.0 {
        format!("{m:.2} ± {s:.2}")
    } else {
        format!("{m:.2}")
    }
}

/// One verdict as a sentence.
pub fn verdict_line(v: &Value) -> String {
    let err = v["upstream_depth_mae_change"].as_f64();
    let ap = v["ap_change"].as_f64().unwrap_or(f64::NAN);
    let spread = v["seed_spread"].as_f64().unwrap_or(0.0);
    let upstream = match err {
        Some(e) => format!(
            "depth MAE {e:+.3} m ({})",
            if e < 0.0 { "improved" } else { "worse" }
        ),
        None => "no upstream error to compare (real LiDAR)".into(),
    };
    let significance = match v["significant"].as_bool() {
        Some(true) => format!("larger than the seed-to-seed spread {spread:.2}"),
        Some(false) => format!("NOT significant: within the seed-to-seed spread {spread:.2}"),
        None => "one seed: significance unknown".into(),
    };
    let judgement = if v["self_defeating"].as_bool() == Some(true) {
        "SELF-DEFEATING: the upstream improvement lowered this detector's AP after retraining"
    } else if err.is_some_and(|e| e < 0.0) {
        "not self-defeating: the upstream improvement did not lower this detector's AP"
    } else {
        "no upstream improvement to judge"
    };
    format!(
        "{} ({} cloud), {} vs {}: {upstream}; {} {ap:+.2} ({significance}) — {judgement}.",
        v["downstream"].as_str().unwrap_or(""),
        v["cloud"].as_str().unwrap_or(""),
        v["variant"].as_str().unwrap_or(""),
        v["baseline"].as_str().unwrap_or(""),
        v["metric"].as_str().unwrap_or(""),
    )
}

/// The change in AP against the baseline (R40 at the primary IoU; 3D and BEV × Easy, Moderate,
/// Hard) with error bars of the combined seed spread: one chart per detector and cloud, one bar
/// per variant; (width, height, RGB).
pub fn ap_change_plot(cfg: &ExperimentConfig, report: &Value) -> (u32, u32, Vec<u8>) {
    let iou = eval::IouSet::parse(&cfg.eval.primary_iou).unwrap_or(eval::IouSet::Official);
    let mut charts = Vec::new();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        for cloud in &cfg.points.clouds {
            let per_variant = &report["downstream"][&d.name][cloud.name()];
            let cells: Vec<(String, String)> = [eval::Metric::Box3D, eval::Metric::Bev]
                .iter()
                .flat_map(|m| {
                    ["easy", "moderate", "hard"].map(|diff| {
                        let key = format!(
                            "{}/{}/{diff}/R40@{:.2}",
                            class.name(),
                            m.key(),
                            iou.threshold(class, *m)
                        );
                        (format!("{} {}", m.key(), &diff[..3]), key)
                    })
                })
                .collect();
            let series = cfg
                .upstream
                .iter()
                .filter(|u| u.name != cfg.baseline && !per_variant[&u.name].is_null())
                .enumerate()
                .map(|(i, u)| plot::BarSeries {
                    name: u.name.clone(),
                    colour: plot::PALETTE[i % plot::PALETTE.len()],
                    values: cells
                        .iter()
                        .map(|(_, k)| {
                            let (v, sv) = mean_std(&per_variant[&u.name][k]);
                            let (b, sb) = mean_std(&per_variant[&cfg.baseline][k]);
                            (v - b, (sv * sv + sb * sb).sqrt())
                        })
                        .collect(),
                })
                .collect();
            charts.push(
                plot::BarChart {
                    title: format!("{}, {}: vs {}", d.name, cloud.name(), cfg.baseline),
                    y_label: format!("AP change (R40, {} IoU)", iou.name()),
                    groups: cells.into_iter().map(|c| c.0).collect(),
                    series,
                }
                .render(560, 340),
            );
        }
    }
    plot::Canvas::grid(&charts, 2).into_rgb()
}

/// How the trained upstream networks were started, on what they were trained and which
/// weights predict, as one sentence per trained variant.
fn selection_note(cfg: &ExperimentConfig) -> String {
    use disparity::psmnet::training::Selection;
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
            Some(format!(
                "`{}`: {} epochs from {start} on {} ground truth ({:?} loss); it predicts with {weights}.",
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

/// Builds report.md from report.json.
pub fn markdown(cfg: &ExperimentConfig, report: &Value) -> String {
    let mut s = format!(
        "# Experiment `{}`\n\nSeeds: {:?}. Baseline upstream variant: `{}`. Values are mean ± standard deviation over seeds; Δ is against the baseline.\n\n## Upstream: disparity and depth error on val\n\nErrors on the ground-truth pixels that every variant predicts (so that a sparse model is not flattered by the pixels it leaves out); density: the share of all ground-truth pixels the variant predicts (all / car / pedestrian pixels). {}\n\n| variant | depth MAE m | car depth MAE m | pedestrian depth MAE m | EPE px | D1 | density | car density | pedestrian density |\n|---|---|---|---|---|---|---|---|---|\n",
        cfg.name,
        cfg.seeds,
        cfg.baseline,
        selection_note(cfg)
    );
    for u in &cfg.upstream {
        match report["upstream"].get(&u.name) {
            Some(v) => {
                let own = &v["all_pixels"];
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    u.name,
                    fmt_ms(&v["depth_mae"]),
                    fmt_ms(&v["car_depth_mae"]),
                    fmt_ms(&v["pedestrian_depth_mae"]),
                    fmt_ms(&v["epe"]),
                    fmt_ms(&v["d1"]),
                    fmt_ms(&own["density"]),
                    fmt_ms(&own["car_density"]),
                    fmt_ms(&own["pedestrian_density"]),
                )
            }
            None => s += &format!("| {} | (real LiDAR) | | | | | | | |\n", u.name),
        }
    }
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        let primary = primary_key(cfg, class);
        let iou = eval::IouSet::parse(&cfg.eval.primary_iou).unwrap_or(eval::IouSet::Official);
        let key = |metric: eval::Metric, diff: &str, r: &str| {
            format!(
                "{}/{}/{diff}/{r}@{:.2}",
                class.name(),
                metric.key(),
                iou.threshold(class, metric)
            )
        };
        let columns: Vec<(String, String)> = [
            (eval::Metric::Box3D, "easy", "R40"),
            (eval::Metric::Box3D, "moderate", "R40"),
            (eval::Metric::Box3D, "hard", "R40"),
            (eval::Metric::Bev, "moderate", "R40"),
            (eval::Metric::Box3D, "moderate", "R11"),
            (eval::Metric::Bev, "moderate", "R11"),
        ]
        .iter()
        .map(|(m, d, r)| (format!("{} {d} {r}", m.key()), key(*m, d, r)))
        .collect();
        for cloud in &cfg.points.clouds {
            s += &format!(
                "\n## Downstream `{}` ({}), retrained on each variant's {} clouds, {} IoU\n\n| variant | {} | Δ {} |\n|---|{}---|\n",
                d.name,
                class.name(),
                cloud.name(),
                iou.name(),
                columns.iter().map(|c| c.0.clone()).collect::<Vec<_>>().join(" | "),
                cfg.eval.primary,
                "---|".repeat(columns.len())
            );
            let per_variant = &report["downstream"][&d.name][cloud.name()];
            let base = mean_std(&per_variant[&cfg.baseline][&primary]).0;
            for u in &cfg.upstream {
                let v = &per_variant[&u.name];
                if v.is_null() {
                    continue;
                }
                let cells: Vec<String> = columns.iter().map(|c| fmt_ms(&v[&c.1])).collect();
                s += &format!(
                    "| {} | {} | {:+.2} |\n",
                    u.name,
                    cells.join(" | "),
                    mean_std(&v[&primary]).0 - base
                );
            }
        }
    }
    s += "\n## Verdicts\n\n";
    for v in report["verdicts"].as_array().into_iter().flatten() {
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

    /// A study of two seeds: `depth` improves the depth error over `disp`; the car detector
    /// loses 4 AP with it (spread 1: significant), the pedestrian detector gains 0.5 (within
    /// the spread).
    #[test]
    fn the_report_judges_changes_against_the_baseline_and_the_seed_spread() {
        let cfg: ExperimentConfig = toml::from_str(
            r#"
name = "t"
seeds = [0, 1]
baseline = "disp"
[data.synthetic]
frames = 4
[[upstream]]
name = "disp"
kind = "psmnet"
[[upstream]]
name = "depth"
kind = "psmnet"
loss = "depth"
[[downstream]]
name = "car"
class = "Car"
[[downstream]]
name = "ped"
class = "Pedestrian"
"#,
        )
        .unwrap();
        let breakdown = |mae: f64| {
            let mut b = disparity::Breakdown::default();
            b.all.depth_pixels = 10;
            b.all.abs_depth = mae * 10.0;
            UpstreamMetrics {
                own: b.clone(),
                common: b,
            }
        };
        let mut r = Results::default();
        r.upstream
            .insert("disp".into(), vec![breakdown(2.0), breakdown(2.2)]);
        r.upstream
            .insert("depth".into(), vec![breakdown(1.5), breakdown(1.7)]);
        let car = "Car/3d/moderate/R40@0.70";
        let ped = "Pedestrian/3d/moderate/R40@0.50";
        let aps = |key: &str, values: [f64; 2]| values.map(|v| json!({ key: v })).to_vec();
        let mut put = |det: &str, variant: &str, v: Vec<Value>| {
            r.downstream
                .insert((det.into(), "sparse".into(), variant.into()), v);
        };
        put("car", "disp", aps(car, [50.0, 52.0]));
        put("car", "depth", aps(car, [47.0, 47.0]));
        put("ped", "disp", aps(ped, [30.0, 31.0]));
        put("ped", "depth", aps(ped, [31.0, 31.0]));
        let report = build(&cfg, &r);
        let v = report["verdicts"].as_array().unwrap();
        assert_eq!(v.len(), 2);
        let (c, p) = (&v[0], &v[1]);
        assert!((c["upstream_depth_mae_change"].as_f64().unwrap() + 0.5).abs() < 1e-9);
        assert!((c["ap_change"].as_f64().unwrap() + 4.0).abs() < 1e-9);
        assert!((c["seed_spread"].as_f64().unwrap() - 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(
            (c["significant"].as_bool(), c["self_defeating"].as_bool()),
            (Some(true), Some(true))
        );
        assert!((p["ap_change"].as_f64().unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(
            (p["significant"].as_bool(), p["self_defeating"].as_bool()),
            (Some(false), Some(false))
        );
        let md = markdown(&cfg, &report);
        assert!(
            md.contains("SELF-DEFEATING") && md.contains("NOT significant"),
            "{md}"
        );
    }

    #[test]
    fn a_lower_error_with_a_lower_ap_is_self_defeating() {
        let v = json!({
            "downstream": "pedestrian", "cloud": "sparse", "variant": "depth", "baseline": "disp",
            "metric": "Pedestrian/3d/moderate/R40@0.50", "upstream_depth_mae_change": -0.2,
            "ap_change": -3.0, "seed_spread": 1.0, "significant": true, "self_defeating": true,
        });
        let line = verdict_line(&v);
        assert!(
            line.contains("SELF-DEFEATING")
                && line.contains("-3.00")
                && line.contains("larger than"),
            "{line}"
        );
    }
}
