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
}

/// `seed-<s>` for seeded variants, `fixed` for the others (computed once for every seed).
fn seed_folder(seeded: bool, seed: u64) -> String {
    if seeded {
        format!("seed-{seed}")
    } else {
        "fixed".into()
    }
}

mod downstream;
mod upstream;
