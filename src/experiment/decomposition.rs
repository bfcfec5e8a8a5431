//! Where a variant's AP goes: per detector, the gap between the real LiDAR's AP and a variant's,
//! split into terms that are each measured with an interval. Empirical stand-ins for the
//! paper's error decomposition, no more:
//!
//! - *representation* = AP(LiDAR) − AP(oracle): the same exact geometry as points seen by a
//!   LiDAR and as a pseudo-LiDAR cloud of the exact disparity (one per pixel, sparsified), each
//!   with a retrained detector: what the point pattern alone costs;
//! - *upstream error* = AP(oracle) − AP(variant), both retrained: what the variant's disparity
//!   errors cost once the detector has adapted to them (total = representation + upstream
//!   error, exactly, on the estimates);
//! - *estimation* = AP on the detector's own training frames − AP on val: the finite-data gap
//!   of the detector trained on that variant's clouds (its interval resamples both frame sets).

use super::config::{ExperimentConfig, UpstreamKind};
use super::intervals::{ap_changes, train_val_gap, PreparedArm};
use super::report::{change_cell, fmt_ms, primary_key, stats, Results};
use serde_json::{json, Map, Value};

/// The decomposition of report.json, per detector and cloud (`Null` entries where the study
/// lacks the LiDAR or oracle variant a term needs).
pub fn json(cfg: &ExperimentConfig, r: &Results, height_scale: f64) -> Value {
    let settings = cfg.bootstrap();
    let first_of = |kind: UpstreamKind| {
        cfg.upstream
            .iter()
            .find(|u| u.kind == kind)
            .map(|u| u.name.clone())
    };
    let (lidar, oracle) = (
        first_of(UpstreamKind::Lidar),
        first_of(UpstreamKind::Oracle),
    );
    let interval = |i: Option<eval::bootstrap::Interval>| i.map_or(Value::Null, |i| json!(i));
    let mut out = Map::new();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        let key = primary_key(cfg, class);
        let keys = [key.clone()];
        let mut per_cloud = Map::new();
        for cloud in &cfg.points.clouds {
            let entry = |v: &str| (d.name.clone(), cloud.name().to_string(), v.to_string());
            let arm = |v: &Option<String>| {
                let name = v.as_ref()?;
                let runs = r.downstream.get(&entry(name))?;
                Some(PreparedArm::new(
                    runs,
                    &keys,
                    cfg.seeded(name),
                    height_scale,
                ))
            };
            let change = |a: &Option<PreparedArm>, b: &Option<PreparedArm>| {
                let (a, b) = (a.as_ref()?, b.as_ref()?);
                ap_changes(&keys, a, b, &settings).remove(&key).flatten()
            };
            let (lidar_arm, oracle_arm) = (arm(&lidar), arm(&oracle));
            let mut variants = Map::new();
            for u in &cfg.upstream {
                let Some(val) = r.downstream.get(&entry(&u.name)) else {
                    continue;
                };
                let aps: Option<Vec<f64>> = val.iter().map(|e| e.aps[&key].as_f64()).collect();
                let own = arm(&Some(u.name.clone()));
                let is = |other: &Option<String>| other.as_deref() == Some(u.name.as_str());
                let estimation = r.training_fit.get(&entry(&u.name)).and_then(|train| {
                    train_val_gap(
                        &key,
                        train,
                        val,
                        cfg.seeded(&u.name),
                        height_scale,
                        &settings,
                    )
                });
                variants.insert(
                    u.name.clone(),
                    json!({
                        "ap": aps.map_or(Value::Null, |a| stats(&a)),
                        "total": if is(&lidar) { Value::Null } else { interval(change(&lidar_arm, &own)) },
                        "upstream_error": if is(&lidar) || is(&oracle) { Value::Null } else { interval(change(&oracle_arm, &own)) },
                        "estimation": interval(estimation),
                    }),
                );
            }
            per_cloud.insert(
                cloud.name().to_string(),
                json!({
                    "metric": key, "lidar": lidar, "oracle": oracle,
                    "representation": interval(change(&lidar_arm, &oracle_arm)),
                    "variants": variants,
                }),
            );
        }
        out.insert(d.name.clone(), Value::Object(per_cloud));
    }
    Value::Object(out)
}

/// The decomposition as markdown tables.
pub fn markdown(cfg: &ExperimentConfig, report: &Value) -> String {
    let mut s = String::new();
    for d in &cfg.downstream {
        for cloud in &cfg.points.clouds {
            let c = &report["decomposition"][&d.name][cloud.name()];
            let Some(variants) = c["variants"].as_object() else {
                continue;
            };
            let name = |v: &Value| {
                v.as_str()
                    .map_or("(none)".to_string(), |n| format!("`{n}`"))
            };
            s += &format!(
                "\n## Where the AP goes: `{}` ({} clouds), {}\n\nAP points, each with its 95 % interval. Total gap = AP of the LiDAR {} minus the variant's; *representation* = LiDAR minus the oracle {} (the same exact geometry as pseudo-LiDAR's point pattern): {}; *upstream error* = oracle minus the variant, both retrained (total = representation + upstream error); *estimation* = the variant's detector on its own training frames minus on val. Empirical stand-ins for the paper's terms (README).\n\n| variant | AP | total gap | upstream error | estimation (train − val) |\n|---|---|---|---|---|\n",
                d.name,
                cloud.name(),
                c["metric"].as_str().unwrap_or(""),
                name(&c["lidar"]),
                name(&c["oracle"]),
                change_cell(&c["representation"], 2),
            );
            for u in &cfg.upstream {
                let Some(v) = variants.get(&u.name) else {
                    continue;
                };
                s += &format!(
                    "| {} | {} | {} | {} | {} |\n",
                    u.name,
                    fmt_ms(&v["ap"]),
                    change_cell(&v["total"], 2),
                    change_cell(&v["upstream_error"], 2),
                    change_cell(&v["estimation"], 2)
                );
            }
        }
    }
    s
}
