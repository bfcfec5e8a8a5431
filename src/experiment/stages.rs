//! The stages of a study, each a call into a stage crate wrapped in [`run_stage`]: data,
//! upstream (train, predict, evaluate disparity), points, downstream (train, predict) and
//! evaluation. Every stage returns the output id later stages key on.

use super::config::{
    Cloud, DownstreamConfig, ExperimentConfig, TrainingTruth, UpstreamConfig, UpstreamKind,
};
use super::manifest::{hash, run_stage, Outcome};
use crate::terminal::progress;
use anyhow::{Context, Result};
use burn::tensor::Device;
use disparity::frames::{evaluate_frames, predict_frames, ClassSource};
use disparity::psmnet::run::load_trained;
use disparity::psmnet::training::Selection;
use disparity::{Breakdown, DisparityModel, Sgm, SgmConfig};
use kitti::{FileKind, KittiRoot, Part};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use pseudo_lidar::close::{CLOSE_LABELS, CLOSE_RANGE};

/// Shared state of a running study.
pub struct Study<'a> {
    /// The configuration.
    pub cfg: &'a ExperimentConfig,
    /// `runs/<name>`.
    pub dir: PathBuf,
    /// Stage kinds to redo (`--force`).
    pub force: Vec<String>,
    /// Where networks run.
    pub device: Device,
    /// The data root (set by [`Study::data`]).
    pub root: KittiRoot,
    /// Output id of the data.
    pub data_id: String,
    /// Output id of the close clouds' labels (empty when the study has no close clouds).
    pub close_labels_id: String,
    /// Training and evaluation frames.
    pub train_ids: Vec<String>,
    /// Evaluation frames.
    pub val_ids: Vec<String>,
    /// Stages started so far, for the progress lines (stages may run side by side).
    pub started: AtomicUsize,
    /// Stages in the whole study.
    pub total: usize,
}

/// What an upstream variant produced for one seed.
#[derive(Debug, Clone)]
pub struct UpstreamOut {
    /// Output id.
    pub id: String,
    /// Disparity maps of train and val frames (None for the LiDAR).
    pub disparity: Option<PathBuf>,
    /// The noise spread σ a perturbed variant used (calibrated where it has a target MAE).
    pub spread: Option<f64>,
}

/// The file beside a controlled variant's maps that records its error model and σ.
const PERTURBATION_FILE: &str = "perturbation.json";

/// An upstream variant's disparity and depth errors on val.
#[derive(Debug, Clone)]
pub struct UpstreamMetrics {
    /// On every ground-truth pixel (density: the share it predicts).
    pub own: Breakdown,
    /// On the pixels that every variant of the same seed predicts.
    pub common: Breakdown,
    /// `common` frame by frame, in val order (what the bootstrap resamples).
    pub frames: Vec<Breakdown>,
}

/// One trained detector's evaluation on val.
#[derive(Debug, Clone)]
pub struct DetectorEval {
    /// Seed of the upstream model whose clouds it was trained on.
    pub upstream_seed: u64,
    /// Its own training seed.
    pub detector_seed: u64,
    /// Flat APs (`ap.json`).
    pub aps: serde_json::Value,
    /// Ground truth and detections of every val frame, in val order.
    pub frames: Vec<eval::FrameLabels>,
}

/// Which detector of an upstream model: its seed, and whether the study names detector seeds
/// (`downstream_seeds`; then each gets a `seed-<s>` folder) or seeds it with the upstream seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorSeed {
    /// The training seed.
    pub seed: u64,
    /// From `downstream_seeds`.
    pub listed: bool,
}

impl DetectorSeed {
    /// The detector's folder under `<cloud>/`.
    fn folder(&self, detector: &str) -> PathBuf {
        let dir = PathBuf::from(detector);
        if self.listed {
            dir.join(format!("seed-{}", self.seed))
        } else {
            dir
        }
    }
}

/// One trained detector: which detector, on which variant's clouds of which upstream seed, with
/// which seed of its own.
#[derive(Debug, Clone, Copy)]
pub struct DetectorKey<'a> {
    /// The upstream variant whose clouds it was trained on.
    pub variant: &'a str,
    /// Their upstream seed.
    pub seed: u64,
    /// Its own seed.
    pub detector_seed: DetectorSeed,
    /// The cloud kind.
    pub cloud: Cloud,
    /// The detector.
    pub detector: &'a DownstreamConfig,
}

impl DetectorKey<'_> {
    /// Its folder under `<stage>/` (downstream, eval).
    fn folder(&self, stage: &str) -> PathBuf {
        PathBuf::from(stage)
            .join(self.variant)
            .join(format!("seed-{}", self.seed))
            .join(self.cloud.name())
            .join(self.detector_seed.folder(&self.detector.name))
    }

    /// Its stages' progress label.
    pub fn what(&self) -> String {
        let own = if self.detector_seed.listed {
            format!(" detector seed {}", self.detector_seed.seed)
        } else {
            String::new()
        };
        format!(
            "{} on {} seed {}{own} {}",
            self.detector.name,
            self.variant,
            self.seed,
            self.cloud.name()
        )
    }
}

/// A folder of point clouds and its output id.
#[derive(Debug, Clone)]
pub struct PointsOut {
    /// Output id.
    pub id: String,
    /// `<id>.bin` files for train and val frames.
    pub dir: PathBuf,
}

/// `seconds` as `1m05s` (or `42.0s` under a minute).
fn minutes(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let s = seconds.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

impl<'a> Study<'a> {
    fn forced(&self, stage: &str) -> bool {
        self.force.iter().any(|f| f == stage || f == "all")
    }

    /// Runs one stage with a progress line.
    pub(super) fn stage(
        &self,
        dir: &Path,
        stage: &str,
        what: &str,
        key: &str,
        work: impl FnOnce(bool) -> Result<()>,
    ) -> Result<String> {
        let k = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let n = self.total;
        progress::line(&format!("[{k}/{n}] {stage}: {what}"));
        let (m, outcome) = run_stage(dir, stage, key, self.forced(stage), work)?;
        let how = match outcome {
            Outcome::Cached => "cached".to_string(),
            Outcome::Resumed => format!("resumed and finished in {}", minutes(m.seconds)),
            Outcome::Done => format!("done in {}", minutes(m.seconds)),
        };
        progress::line(&format!("[{k}/{n}] {stage}: {what}: {how}"));
        Ok(m.output_id)
    }

    /// Ground-truth disparity the upstream models are judged by: the synthetic set's exact
    /// maps, or LiDAR-derived maps for a real root.
    pub fn gt_disparity(&self) -> PathBuf {
        if self.cfg.data.synthetic.is_some() {
            self.root.dir(Part::Training, FileKind::Disparity)
        } else {
            self.lidar_disparity()
        }
    }

    /// The LiDAR-derived disparity of every frame (`generate_disp.py`'s rule), made by the
    /// data stage for real and synthetic roots alike.
    pub fn lidar_disparity(&self) -> PathBuf {
        self.dir.join("data/disparity_lidar")
    }

    /// The ground truth a network of variant `u` trains on.
    fn training_truth(&self, u: &UpstreamConfig) -> PathBuf {
        match u.gt {
            TrainingTruth::Lidar => self.lidar_disparity(),
            TrainingTruth::Dense => self.root.dir(Part::Training, FileKind::Disparity),
        }
    }

    /// Where per-class pixels come from in disparity evaluation.
    fn class_source(&self) -> ClassSource {
        let labels = self.root.dir(Part::Training, FileKind::Label);
        if self.cfg.data.synthetic.is_some() {
            ClassSource::Instances {
                masks: self.root.dir(Part::Training, FileKind::Instance),
                labels,
            }
        } else {
            ClassSource::Lidar {
                velodyne: self.root.dir(Part::Training, FileKind::Velodyne),
                labels,
            }
        }
    }

    /// Factor on KITTI's minimum box heights for these images.
    pub fn height_scale(&self) -> f64 {
        self.cfg.data.synthetic.map_or(1.0, |s| s.scale)
    }

    /// Train and val frames together, each once (the splits may share frames, and two workers
    /// must never write the same frame's files at once).
    fn all_ids(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.train_ids
            .iter()
            .chain(&self.val_ids)
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect()
    }

    /// The data stage: generate the synthetic set (or open the root) and derive LiDAR disparity
    /// ground truth for every frame.
    pub fn data(&mut self) -> Result<()> {
        let cfg = self.cfg;
        if let Some(s) = &cfg.data.synthetic {
            let dir = self.dir.join("data");
            let key = hash(&["data", &toml::to_string(s)?]);
            let s = *s;
            let bar_dir = dir.clone();
            self.data_id = self.stage(
                &dir.clone(),
                "data",
                &format!("{} synthetic frames", s.frames),
                &key,
                move |_| {
                    let bar = progress::bar(s.frames as u64, "synth");
                    synth::generate_root(&s, &bar_dir, &|| bar.inc(1))?;
                    bar.finish_and_clear();
                    Ok(())
                },
            )?;
            self.root = KittiRoot::open(&dir)?;
        } else if let Some(root) = &cfg.data.root {
            self.root = KittiRoot::open(root)?;
        }
        self.train_ids = self.root.frames_of(&cfg.data.train_split)?.ids;
        self.val_ids = self.root.frames_of(&cfg.data.val_split)?.ids;
        {
            let dir = self.lidar_disparity();
            let key = hash(&[
                "gt-disparity",
                &self.root.root().display().to_string(),
                &self.data_id,
            ]);
            let (root, ids) = (self.root.clone(), self.all_ids());
            self.data_id = self.stage(
                &dir.clone(),
                "data",
                "LiDAR disparity ground truth",
                &key,
                move |_| {
                    pseudo_lidar::frames::gt_disparity_frames(
                        &root,
                        &ids,
                        &dir,
                        kitti::Baseline::REFERENCE,
                        &|| {},
                    )?;
                    Ok(())
                },
            )?;
        }
        if cfg.points.clouds.contains(&Cloud::Close) {
            let dir = self.close_labels();
            let key = hash(&["close-labels", &CLOSE_RANGE.to_string(), &self.data_id]);
            let (labels, ids) = (
                self.root.dir(Part::Training, FileKind::Label),
                self.all_ids(),
            );
            let out = dir.clone();
            self.close_labels_id = self.stage(&dir, "data", "close labels", &key, move |_| {
                pseudo_lidar::close::write_close_labels(&labels, &out, &ids, CLOSE_RANGE)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The close clouds' labels (`data/label_2_close`, made by the data stage): objects beyond
    /// the cut are DontCare regions.
    pub fn close_labels(&self) -> PathBuf {
        self.dir.join("data").join(CLOSE_LABELS)
    }

    /// The labels a detector on `cloud` trains and is evaluated with: the close labels for close
    /// clouds, else the root's.
    pub fn labels(&self, cloud: Cloud) -> PathBuf {
        match cloud {
            Cloud::Close => self.close_labels(),
            Cloud::Dense | Cloud::Sparse => self.root.dir(Part::Training, FileKind::Label),
        }
    }

    /// The upstream stage of one variant and seed: train (psmnet/sdn), predict disparity for
    /// train and val, evaluate it on val.
    pub fn upstream(&self, u: &UpstreamConfig, seed: u64) -> Result<UpstreamOut> {
        if u.kind == UpstreamKind::Lidar {
            return Ok(UpstreamOut {
                id: hash(&["lidar", &self.data_id]),
                disparity: None,
                spread: None,
            });
        }
        let dir = self
            .dir
            .join("upstream")
            .join(&u.name)
            .join(seed_folder(u.seeded(), seed));
        if let Some(spec) = u.perturbation() {
            return self.controlled(u, seed, &spec, &dir);
        }
        let (settings, train_cfg) = match u.kind {
            UpstreamKind::Sgm => (format!("sgm {:?}", u.max_disparity), None),
            _ => {
                let mut t = u.train_config()?;
                t.seed = seed;
                (toml::to_string(&t)?, Some(t))
            }
        };
        // Given weights (a checkpoint to use, or start weights) are identified by their path
        // and their file's size and time.
        let stamp = |run: &Path| {
            let weights = disparity::psmnet::run::inference_weights(run);
            let meta = std::fs::metadata(&weights).ok();
            let stamp = meta.map(|m| (m.len(), m.modified().ok()));
            format!("{} {stamp:?}", weights.display())
        };
        let given: Vec<String> = [
            &u.checkpoint,
            &train_cfg.as_ref().and_then(|t| t.init.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|run| stamp(run))
        .collect();
        let truth = format!("{:?}", u.gt);
        let key = hash(&[
            "upstream",
            &settings,
            &given.join(" "),
            &truth,
            &self.data_id,
        ]);
        let disparity_dir = dir.join("disparity");
        let ids = self.all_ids();
        let (root, gt, val_ids, device) = (
            self.root.clone(),
            self.training_truth(u),
            self.val_ids.clone(),
            self.device.clone(),
        );
        let train_ids = self.train_ids.clone();
        let what = format!("{} seed {seed}", u.name);
        let work_dir = dir.clone();
        let id = self.stage(&dir, "upstream", &what, &key, |resume| {
            let model: Box<dyn DisparityModel> = match (u.kind, &train_cfg, &u.checkpoint) {
                (UpstreamKind::Sgm, _, _) => {
                    let max = u.max_disparity.unwrap_or(192);
                    Box::new(Sgm(SgmConfig {
                        max_disparity: max,
                        ..SgmConfig::default()
                    }))
                }
                (_, _, Some(run)) => load_trained(run, device.clone())?.0,
                (_, Some(t), None) => {
                    // Model selection never looks at the study's evaluation frames: a network
                    // that keeps its best epoch is validated on frames held out from training.
                    let ids = match t.select {
                        Selection::Last => (&train_ids[..], &val_ids[..]),
                        Selection::BestVal => {
                            train_ids.split_at(train_ids.len().saturating_sub(t.val_frames))
                        }
                    };
                    train_upstream(t, &u.name, &root, &gt, ids, &work_dir, &device, resume)?;
                    load_trained(&work_dir, device.clone())?.0
                }
                _ => unreachable!("validated: psmnet/sdn have a training config"),
            };
            let bar = progress::bar(ids.len() as u64, &format!("{} maps", u.name));
            predict_frames(
                model.as_ref(),
                &settings,
                &root,
                &ids,
                &disparity_dir,
                kitti::npy::MapFormat::Png,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            Ok(())
        })?;
        Ok(UpstreamOut {
            id,
            disparity: Some(dir.join("disparity")),
            spread: None,
        })
    }

    /// The upstream stage of an oracle or perturbed variant: the exact maps of train and val
    /// under its error model (noise seeded by `seed`), σ calibrated on val where it has a target.
    fn controlled(
        &self,
        u: &UpstreamConfig,
        seed: u64,
        spec: &disparity::controlled::PerturbSpec,
        dir: &Path,
    ) -> Result<UpstreamOut> {
        use disparity::controlled::write_perturbed_frames;
        let noise_seed = if u.seeded() { seed } else { 0 };
        let key = hash(&[
            "controlled",
            &format!("{spec:?}"),
            &noise_seed.to_string(),
            &self.data_id,
        ]);
        let maps = dir.join("disparity");
        let record = dir.join(PERTURBATION_FILE);
        let ids = self.all_ids();
        let what = format!("{} seed {seed}", u.name);
        let id = self.stage(dir, "upstream", &what, &key, |_| {
            let bar = progress::bar(ids.len() as u64, &format!("{} maps", u.name));
            let spread = write_perturbed_frames(
                &self.root.dir(Part::Training, FileKind::Disparity),
                &self.root.dir(Part::Training, FileKind::Calib),
                kitti::Baseline::REFERENCE,
                &ids,
                &self.val_ids,
                &maps,
                spec,
                noise_seed,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            let json = serde_json::json!({
                "kind": u.kind, "noise": u.noise, "spread": spread, "target_mae": u.target_mae,
                "blur": spec.blur, "bleed": spec.bleed, "seed": noise_seed,
            });
            kitti::io::write_atomic(&record, serde_json::to_string_pretty(&json)?.as_bytes())?;
            Ok(())
        })?;
        let text = kitti::io::read_text(&record)?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("reading {}", record.display()))?;
        Ok(UpstreamOut {
            id,
            disparity: Some(maps),
            spread: json["spread"].as_f64(),
        })
    }

    /// The disparity and depth errors of one variant's val maps: on all its pixels, and on the
    /// pixels that every map in `common` (the same seed's variants) predicts. Cheap next to
    /// training, so not cached: `metrics.json` beside the maps always matches them.
    pub fn upstream_metrics(
        &self,
        u: &UpstreamConfig,
        maps: &Path,
        common: &[PathBuf],
    ) -> Result<UpstreamMetrics> {
        let calib = self.root.dir(Part::Training, FileKind::Calib);
        let eval = |common: &[PathBuf]| {
            evaluate_frames(
                maps,
                &self.gt_disparity(),
                &calib,
                &self.class_source(),
                kitti::Baseline::REFERENCE,
                &self.val_ids,
                common,
                None,
                &|| {},
            )
        };
        let frames = eval(common)?;
        let m = UpstreamMetrics {
            own: Breakdown::total(&eval(&[])?),
            common: Breakdown::total(&frames),
            frames,
        };
        let json = serde_json::json!({
            "all_pixels": disparity::report::json(&[(u.name.clone(), m.own.clone())]),
            "common_pixels": disparity::report::json(&[(u.name.clone(), m.common.clone())]),
            "common_with": common,
        });
        let path = maps.parent().unwrap_or(maps).join("metrics.json");
        kitti::io::write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
        Ok(m)
    }

    /// The points stage: one cloud kind of one upstream output.
    pub fn points(
        &self,
        u: &UpstreamConfig,
        seed: u64,
        up: &UpstreamOut,
        cloud: Cloud,
    ) -> Result<PointsOut> {
        use pseudo_lidar::frames::{convert_frames, ConvertSettings, InputKind};
        use pseudo_lidar::{ConvertConfig, SparsifyConfig};
        let velodyne = self.root.dir(Part::Training, FileKind::Velodyne);
        let dir = self
            .dir
            .join("points")
            .join(&u.name)
            .join(seed_folder(u.seeded(), seed))
            .join(cloud.name());
        let mut key = hash(&["points", cloud.name(), &up.id]);
        if let Some(e) = &self.cfg.points.edges {
            // Only when set, so that folders made before the setting existed stay cached.
            key = hash(&[&key, "edges", &toml::to_string(e)?]);
        }
        let ids = self.all_ids();
        let what = format!("{} seed {seed} {}", u.name, cloud.name());
        match (&up.disparity, cloud) {
            // The real LiDAR is already a sparse cloud.
            (None, Cloud::Dense | Cloud::Sparse) => Ok(PointsOut {
                id: up.id.clone(),
                dir: velodyne,
            }),
            (None, Cloud::Close) => {
                let out = dir.clone();
                let id = self.stage(&dir, "points", &what, &key, move |_| {
                    for id in &ids {
                        let mut p = kitti::read_velodyne(&velodyne.join(format!("{id}.bin")))?;
                        p.retain(|p| (p.x as f64) < CLOSE_RANGE);
                        kitti::write_velodyne(&out.join(format!("{id}.bin")), &p)?;
                    }
                    Ok(())
                })?;
                Ok(PointsOut { id, dir })
            }
            (Some(maps), _) => {
                let settings = ConvertSettings {
                    input: InputKind::Disparity,
                    convert: ConvertConfig {
                        close: (cloud == Cloud::Close).then_some(CLOSE_RANGE),
                        edges: self.cfg.points.edges,
                        ..ConvertConfig::default()
                    },
                    sparsify: (cloud != Cloud::Dense).then(SparsifyConfig::default),
                };
                let (maps, calib, out) = (
                    maps.clone(),
                    self.root.dir(Part::Training, FileKind::Calib),
                    dir.clone(),
                );
                let id = self.stage(&dir, "points", &what, &key, move |_| {
                    let bar = progress::bar(ids.len() as u64, "points");
                    convert_frames(&maps, &calib, &out, &ids, &settings, &|| bar.inc(1))?;
                    bar.finish_and_clear();
                    Ok(())
                })?;
                // convert_frames writes dense/ and, when sparsifying, sparse/ beside it.
                let sub = if cloud == Cloud::Dense {
                    "dense"
                } else {
                    "sparse"
                };
                Ok(PointsOut {
                    id,
                    dir: dir.join(sub),
                })
            }
        }
    }

    /// The downstream stage: a detector trained from scratch on one cloud (of upstream seed
    /// `seed`), predicting val.
    pub fn downstream(&self, k: &DetectorKey<'_>, points: &PointsOut) -> Result<(String, PathBuf)> {
        use detector::inference::{predict_folder, Detector};
        use detector::training::{train, SplitFrames};
        let (d, variant) = (k.detector, k.variant);
        let mut cfg = d.detector_config()?;
        cfg.train.seed = k.detector_seed.seed;
        let dir = self.dir.join(k.folder("downstream"));
        let settings = toml::to_string(&cfg)?;
        let mut inputs = vec!["downstream", &settings, &points.id];
        if k.cloud == Cloud::Close {
            inputs.push(&self.close_labels_id);
        }
        let key = hash(&inputs);
        let source = self.frame_source(points, k.cloud);
        let data = SplitFrames {
            source: source.clone(),
            ids: self.train_ids.clone(),
        };
        let val_ids = self.val_ids.clone();
        let device = self.device.clone();
        let results = dir.join("results");
        let work_dir = dir.clone();
        let id = self.stage(&dir, "downstream", &k.what(), &key, |resume| {
            let steps = data.ids.len().div_ceil(cfg.train.batch_size) as u64;
            let label = format!("{}/{variant}", d.name);
            let bar = progress::bar(steps * cfg.train.epochs as u64, &label);
            train(
                &cfg,
                &data,
                None,
                &work_dir,
                &device.clone().autodiff(),
                resume,
                &|p| {
                    if let detector::training::Progress::Step(e, s, n, _) = p {
                        bar.set_position((e * n + s + 1) as u64);
                    }
                    ControlFlow::Continue(())
                },
            )?;
            bar.finish_and_clear();
            let detector = Detector::load(&work_dir, device.clone())?;
            std::fs::create_dir_all(&results)?;
            predict_folder(&detector, &source, &val_ids, &results, &|| {})?;
            Ok(())
        })?;
        Ok((id, dir.join("results")))
    }

    /// The points and labels a detector on `cloud` reads: `points`' clouds, the cloud's labels.
    pub fn frame_source(&self, points: &PointsOut, cloud: Cloud) -> detector::data::FrameSource {
        detector::data::FrameSource {
            points: points.dir.clone(),
            labels: Some(self.labels(cloud)),
            calib: self.root.dir(Part::Training, FileKind::Calib),
            images: self.root.dir(Part::Training, FileKind::LeftImage),
        }
    }

    /// The evaluation of one detector's val predictions: its flat APs and the frames they were
    /// computed from.
    pub fn evaluate(
        &self,
        k: &DetectorKey<'_>,
        results: &Path,
        input_id: &str,
    ) -> Result<DetectorEval> {
        let split = self.root.split(&self.cfg.data.val_split)?;
        let frames = eval::load_frames(&self.labels(k.cloud), results, &split, false)?;
        let dir = self.eval_dir(k);
        self.evaluate_in(&dir, &k.what(), k, frames, input_id)
    }

    /// Where the evaluation of a detector goes.
    pub fn eval_dir(&self, k: &DetectorKey<'_>) -> PathBuf {
        self.dir.join(k.folder("eval"))
    }

    /// Evaluates one detector's predictions, read with their labels as `frames`, into
    /// `dir/ap.json` as the stage `what` (the detector trained on clouds of upstream seed `seed`).
    pub fn evaluate_in(
        &self,
        dir: &Path,
        what: &str,
        k: &DetectorKey<'_>,
        frames: Vec<eval::FrameLabels>,
        input_id: &str,
    ) -> Result<DetectorEval> {
        let key = hash(&["eval", &toml::to_string(&self.cfg.eval)?, input_id]);
        let json_path = dir.join("ap.json");
        let cfg = eval::EvalConfig {
            classes: vec![k.detector.eval_class()?],
            iou_sets: self.cfg.iou_sets()?,
            difficulties: true,
            ranges: self.cfg.eval.ranges.clone(),
            height_scale: self.height_scale(),
        };
        let out = json_path.clone();
        self.stage(dir, "eval", what, &key, |_| {
            let r = eval::evaluate(&frames, &cfg);
            let text = serde_json::to_string_pretty(&eval::report::json(&r))?;
            kitti::io::write_atomic(&out, text.as_bytes())?;
            Ok(())
        })?;
        let text = std::fs::read_to_string(&json_path)
            .with_context(|| format!("reading {}", json_path.display()))?;
        Ok(DetectorEval {
            upstream_seed: k.seed,
            detector_seed: k.detector_seed.seed,
            aps: serde_json::from_str(&text)?,
            frames,
        })
    }
}

/// `seed-<s>` for seeded variants, `fixed` for the others (computed once for every seed).
fn seed_folder(seeded: bool, seed: u64) -> String {
    if seeded {
        format!("seed-{seed}")
    } else {
        "fixed".into()
    }
}

/// Trains a disparity network (the bar says `label`) into `dir` (config.toml, checkpoints/) on
/// train ids, validating on val ids, resuming when asked.
#[allow(clippy::too_many_arguments)]
fn train_upstream(
    cfg: &disparity::psmnet::training::TrainConfig,
    label: &str,
    root: &KittiRoot,
    gt: &Path,
    (train_ids, val_ids): (&[String], &[String]),
    dir: &Path,
    device: &Device,
    resume: bool,
) -> Result<()> {
    use disparity::psmnet::data::StereoDataset;
    use disparity::psmnet::training::train;
    kitti::io::write_atomic(&dir.join("config.toml"), toml::to_string(cfg)?.as_bytes())?;
    let ds = |ids: &[String]| {
        StereoDataset::new(root.clone(), ids.to_vec(), gt, kitti::Baseline::REFERENCE)
    };
    let steps = train_ids.len().div_ceil(cfg.batch_size.max(1)) as u64;
    let bar = progress::bar(steps * cfg.epochs as u64, label);
    train(
        cfg,
        &ds(train_ids),
        &ds(val_ids),
        dir,
        &device.clone().autodiff(),
        resume,
        &|p| {
            if let disparity::psmnet::training::Progress::Step(e, s, _, _) = p {
                bar.set_position(e as u64 * steps + s as u64 + 1);
            }
        },
    )?;
    bar.finish_and_clear();
    Ok(())
}
