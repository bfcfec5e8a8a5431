//! Train on A, test on B: every detector trained on one variant's clouds also predicts the val
//! clouds of every variant, itself included (inference only, no retraining). The diagonal is
//! computed by the same path as the rest and equals the ordinary evaluation; the report's
//! matrix shows what retraining buys (the paper's "even after the downstream model is
//! retrained" is the diagonal against the rest of its column).

use super::config::{Cloud, ExperimentConfig};
use super::intervals::{self, PreparedArm};
use super::manifest::hash;
use super::report::{primary_key, stats, Results};
use super::stages::{DetectorEval, DetectorKey, PointsOut, Study};
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The folder (under a detector's and its evaluation's) of its predictions on its own training
/// frames.
pub const TRAINING_FIT: &str = "training-fit";

/// A detector trained on one variant's clouds, and the clouds it is tried on.
pub struct CrossTask<'a> {
    /// The detector.
    pub detector: DetectorKey<'a>,
    /// Its folder (config and weights).
    pub detector_dir: &'a Path,
    /// Its output id.
    pub detector_id: &'a str,
    /// The variant whose val clouds it predicts.
    pub evaluated_on: &'a str,
    /// Those clouds.
    pub points: &'a PointsOut,
    /// Predict the training frames instead of val (the detector's fit to its own data, behind
    /// the decomposition's estimation term; then `evaluated_on` is the detector's own variant).
    pub training_frames: bool,
}

impl Study<'_> {
    /// Runs one cross evaluation: the detector predicts the other variant's val clouds into
    /// `<detector>/on/<variant>/results` and is scored like every detector.
    pub fn cross(&self, t: &CrossTask<'_>) -> Result<DetectorEval> {
        use detector::inference::{predict_folder, Detector};
        let k = &t.detector;
        let sub = |dir: &Path| {
            if t.training_frames {
                dir.join(TRAINING_FIT)
            } else {
                dir.join("on").join(t.evaluated_on)
            }
        };
        let (ids, split) = if t.training_frames {
            (&self.train_ids, &self.cfg.data.train_split)
        } else {
            (&self.val_ids, &self.cfg.data.val_split)
        };
        let dir = sub(t.detector_dir);
        let mut inputs = vec!["cross", t.detector_id, &t.points.id];
        if k.cloud == Cloud::Close {
            inputs.push(&self.close_labels_id);
        }
        if t.training_frames {
            inputs.push(TRAINING_FIT);
        }
        let key = hash(&inputs);
        let source = self.frame_source(t.points, k.cloud);
        let results = dir.join("results");
        let what = if t.training_frames {
            format!("{} on its training frames", k.what())
        } else {
            format!("{} on {}'s clouds", k.what(), t.evaluated_on)
        };
        let id = self.stage(&dir, "cross", &what, &key, |_| {
            let detector = Detector::load(t.detector_dir, self.device.clone())?;
            std::fs::create_dir_all(&results)?;
            predict_folder(&detector, &source, ids, &results, &|| {})?;
            Ok(())
        })?;
        let split = self.root.split(split)?;
        let frames = eval::load_frames(&self.labels(k.cloud), &results, &split, false)?;
        self.evaluate_in(&sub(&self.eval_dir(k)), &what, k, frames, &id)
    }
}

/// The cross-evaluation matrix of report.json: per detector and cloud, the primary AP of the
/// detectors trained on each variant (rows) on each variant's val clouds (columns), and per
/// variant what retraining buys: AP of the detector retrained on its clouds minus AP of the
/// baseline's detector on them, with its paired interval.
pub fn json(cfg: &ExperimentConfig, r: &Results, height_scale: f64) -> Value {
    let settings = cfg.bootstrap();
    let mut out = Map::new();
    for d in &cfg.downstream {
        let class = d.eval_class().unwrap_or(eval::Class::Car);
        let primary = primary_key(cfg, class);
        let keys = [primary.clone()];
        let mut per_cloud = Map::new();
        for cloud in &cfg.points.clouds {
            let runs = |trained: &str, on: &str| {
                r.cross.get(&(
                    d.name.clone(),
                    cloud.name().to_string(),
                    trained.to_string(),
                    on.to_string(),
                ))
            };
            let mut matrix = Map::new();
            for a in &cfg.upstream {
                let row: Map<String, Value> = cfg
                    .upstream
                    .iter()
                    .filter_map(|b| {
                        let runs = runs(&a.name, &b.name)?;
                        let aps: Option<Vec<f64>> =
                            runs.iter().map(|e| e.aps[&primary].as_f64()).collect();
                        Some((b.name.clone(), aps.map_or(Value::Null, |v| stats(&v))))
                    })
                    .collect();
                if !row.is_empty() {
                    matrix.insert(a.name.clone(), Value::Object(row));
                }
            }
            let mut retraining = Map::new();
            for b in cfg.upstream.iter().filter(|b| b.name != cfg.baseline) {
                let (Some(own), Some(base)) =
                    (runs(&b.name, &b.name), runs(&cfg.baseline, &b.name))
                else {
                    continue;
                };
                let own = PreparedArm::new(own, &keys, cfg.seeded(&b.name), height_scale);
                let base = PreparedArm::new(base, &keys, cfg.seeded(&cfg.baseline), height_scale);
                let change = intervals::ap_changes(&keys, &own, &base, &settings);
                let i = change.get(&primary).cloned().flatten();
                retraining.insert(b.name.clone(), i.map_or(Value::Null, |i| json!(i)));
            }
            per_cloud.insert(
                cloud.name().to_string(),
                json!({ "metric": primary, "trained_on": matrix, "retraining_gain": retraining }),
            );
        }
        out.insert(d.name.clone(), Value::Object(per_cloud));
    }
    Value::Object(out)
}

/// The matrix as markdown tables (empty when the study made none).
pub fn markdown(cfg: &ExperimentConfig, report: &Value) -> String {
    let mut s = String::new();
    let Some(cross) = report["cross"].as_object() else {
        return s;
    };
    let names: Vec<&str> = cfg.upstream.iter().map(|u| u.name.as_str()).collect();
    for d in &cfg.downstream {
        for cloud in &cfg.points.clouds {
            let c = &cross
                .get(&d.name)
                .map_or(&Value::Null, |v| &v[cloud.name()]);
            let Some(matrix) = c["trained_on"].as_object().filter(|m| !m.is_empty()) else {
                continue;
            };
            s += &format!(
                "\n## Train on A, test on B: `{}` ({} clouds), {}\n\nRows: the variant whose clouds the detector was trained on; columns: the variant whose val clouds it predicts (no retraining). The diagonal is the ordinary evaluation. Last row: what retraining buys, AP of the detector retrained on the column's clouds minus AP of the `{}` detector on them, with its 95 % interval.\n\n| trained on \\ tested on | {} |\n|---|{}\n",
                d.name,
                cloud.name(),
                c["metric"].as_str().unwrap_or(""),
                cfg.baseline,
                names.join(" | "),
                "---|".repeat(names.len())
            );
            for a in &names {
                let Some(row) = matrix.get(*a) else { continue };
                let cells: Vec<String> = names
                    .iter()
                    .map(|b| super::report::fmt_ms(&row[*b]))
                    .collect();
                s += &format!("| {a} | {} |\n", cells.join(" | "));
            }
            let gains: Vec<String> = names
                .iter()
                .map(|b| {
                    if *b == cfg.baseline {
                        "(baseline)".into()
                    } else {
                        super::report::change_cell(&c["retraining_gain"][*b], 2)
                    }
                })
                .collect();
            s += &format!("| retraining gain | {} |\n", gains.join(" | "));
        }
    }
    s
}
