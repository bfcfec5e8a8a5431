//! Running a trained detector: loading a run folder, batching pillars into tensors, predicting
//! frames into KITTI result files (one per frame, empty when nothing is found), evaluating
//! predictions with the evaluation crate, and BEV pictures of predictions against labels.

use crate::anchors::Anchors;
use crate::config::{ClassSpec, DetectorConfig, PillarConfig};
use crate::data::{Frame, FrameSource};
use crate::error::{DetectorError, Result};
use crate::model::{PillarBatch, PointPillars};
use crate::pillars::{pillarise, Pillars, POINT_FEATURES};
use crate::postprocess::{detect, to_objects, velo_box, Detection, FrameOutput};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_support::checkpoint::{load_model, CheckpointFiles};
use eval::{Class, EvalConfig, FrameLabels, IouSet, Metric};
use kitti::label::{write_labels, Object};
use std::collections::BTreeMap;
use std::path::Path;

/// The resolved config of a run, next to its checkpoints.
pub const CONFIG_FILE: &str = burn_support::checkpoint::RUN_CONFIG;

/// Writes the fully resolved config into a run folder (atomically).
pub fn write_config(cfg: &DetectorConfig, out: &Path) -> Result<()> {
    let text = toml::to_string_pretty(cfg)
        .map_err(|e| DetectorError::config("(writing)", e.to_string()))?;
    kitti::io::write_atomic(&out.join(CONFIG_FILE), text.as_bytes())?;
    Ok(())
}

/// Stacks the pillars of several frames into the network's input.
pub fn pillar_batch(frames: &[Pillars], cfg: &PillarConfig, device: &Device) -> PillarBatch {
    let [nx, ny] = cfg.grid();
    let total: usize = frames.iter().map(Pillars::len).sum();
    let mut features = Vec::with_capacity(total * cfg.max_points * POINT_FEATURES);
    let mut index = Vec::with_capacity(total);
    for (f, p) in frames.iter().enumerate() {
        features.extend_from_slice(&p.features);
        index.extend(
            p.cells
                .iter()
                .map(|&(ix, iy)| (f * ny * nx + iy * nx + ix) as i64),
        );
    }
    PillarBatch {
        features: Tensor::<3>::from_data(
            TensorData::new(features, [total, cfg.max_points, POINT_FEATURES]),
            device,
        ),
        canvas_index: Tensor::<1, Int>::from_data(TensorData::new(index, [total]), device),
        frames: frames.len(),
    }
}

/// A trained detector ready to predict.
#[derive(Debug)]
pub struct Detector {
    model: PointPillars,
    /// Its configuration.
    pub cfg: DetectorConfig,
    /// Its classes.
    pub specs: Vec<ClassSpec>,
    anchors: Anchors,
    device: Device,
}

impl Detector {
    /// A detector from a model in memory (switched to inference mode).
    pub fn from_parts(model: PointPillars, cfg: DetectorConfig, device: Device) -> Result<Self> {
        let specs = cfg.class_specs()?;
        let anchors = Anchors::new(&cfg, &specs);
        Ok(Detector {
            model: model.valid(),
            cfg,
            specs,
            anchors,
            device,
        })
    }

    /// Loads the run in `run`: its config and its best (else latest) checkpoint. Weights of
    /// another architecture are an error naming the checkpoint.
    pub fn load(run: &Path, device: Device) -> Result<Self> {
        burn_support::checkpoint::require_run_folder(
            run,
            "`ftf detect train` or `ftf detect import`",
        )?;
        let cfg = DetectorConfig::load(&run.join(CONFIG_FILE))?;
        let weights = CheckpointFiles::new(run).for_inference();
        let model = load_model(PointPillars::new(&cfg, &device), &weights)?;
        Detector::from_parts(model, cfg, device)
    }

    /// Detections of a batch of frames (velodyne boxes), with the pillars each used.
    pub fn detect(&self, frames: &[Frame]) -> Vec<(Vec<Detection>, Pillars)> {
        let pillars: Vec<Pillars> = frames
            .iter()
            .map(|f| {
                pillarise(
                    &f.points,
                    &self.cfg.pillars,
                    self.cfg.pillars.max_pillars_test,
                )
            })
            .collect();
        let out = self
            .model
            .forward(pillar_batch(&pillars, &self.cfg.pillars, &self.device));
        let host = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
        let (cls, boxes, dirs) = (
            host(out.class_logits),
            host(out.boxes),
            host(out.direction_logits),
        );
        let n = self.anchors.len();
        let c = self.specs.len();
        pillars
            .into_iter()
            .enumerate()
            .map(|(f, p)| {
                let frame = FrameOutput {
                    class_logits: cls[f * n * c..(f + 1) * n * c].to_vec(),
                    boxes: boxes[f * n * 7..(f + 1) * n * 7].to_vec(),
                    direction_logits: dirs[f * n * 2..(f + 1) * n * 2].to_vec(),
                };
                (
                    detect(&frame, &self.anchors, c, &self.cfg.post, &self.cfg.loss),
                    p,
                )
            })
            .collect()
    }

    /// KITTI result lines of one frame.
    pub fn predict(&self, frame: &Frame) -> Vec<Object> {
        let dets = self.detect(std::slice::from_ref(frame)).remove(0).0;
        let (w, h) = frame.image_size;
        to_objects(&dets, &self.specs, &frame.calib, w, h)
    }
}

/// Counts of a prediction run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PredictSummary {
    /// Frames predicted.
    pub frames: usize,
    /// Boxes written.
    pub boxes: usize,
    /// Points the pillar caps dropped.
    pub dropped_points: usize,
    /// Pillars the pillar cap dropped.
    pub dropped_pillars: usize,
}

/// Predicts every frame of `ids` into `out/<id>.txt` (written atomically; empty when nothing is
/// found), calling `tick` after each frame.
pub fn predict_folder(
    detector: &Detector,
    source: &FrameSource,
    ids: &[String],
    out: &Path,
    tick: &dyn Fn(),
) -> Result<PredictSummary> {
    source.check(ids)?;
    let mut s = PredictSummary::default();
    for id in ids {
        let frame = source.load(id, &detector.specs, detector.cfg.pillars.camera_fov_only)?;
        let (dets, pillars) = detector.detect(std::slice::from_ref(&frame)).remove(0);
        let (w, h) = frame.image_size;
        let objects = to_objects(&dets, &detector.specs, &frame.calib, w, h);
        write_labels(&out.join(format!("{id}.txt")), &objects)?;
        s.frames += 1;
        s.boxes += objects.len();
        s.dropped_points += pillars.dropped_points;
        s.dropped_pillars += pillars.dropped_pillars;
        tick();
    }
    Ok(s)
}

/// The evaluation classes of a detector's classes (those KITTI evaluates).
pub fn eval_classes(specs: &[ClassSpec]) -> Vec<Class> {
    specs.iter().filter_map(|s| Class::parse(&s.name)).collect()
}

/// The key of moderate AP|R40 of `class` under `metric` at the official IoU.
pub fn official_key(class: Class, metric: Metric) -> String {
    format!(
        "{}/{}/moderate/R40@{:.2}",
        class.name(),
        metric.key(),
        IouSet::Official.threshold(class, metric)
    )
}

/// Predicts `ids` of `source` (which needs labels) and evaluates them: moderate BEV and 3D AP,
/// R11 and R40, at the official and loose IoUs, by flat key. The image-height rule is scaled by
/// the frames' height relative to KITTI's 375 px.
pub fn evaluate_frames(
    detector: &Detector,
    source: &FrameSource,
    ids: &[String],
) -> Result<BTreeMap<String, f64>> {
    let mut frames = Vec::with_capacity(ids.len());
    let mut height = 375;
    for id in ids {
        let frame = source.load(id, &detector.specs, detector.cfg.pillars.camera_fov_only)?;
        height = frame.image_size.1;
        frames.push(FrameLabels {
            det: detector.predict(&frame),
            gt: frame.labels,
        });
    }
    let cfg = EvalConfig {
        classes: eval_classes(&detector.specs),
        iou_sets: vec![IouSet::Official, IouSet::Loose],
        difficulties: true,
        ranges: Vec::new(),
        height_scale: kitti_height_scale(height),
    };
    let result = eval::evaluate(&frames, &cfg);
    Ok(result
        .curves
        .iter()
        .filter(|c| matches!(c.metric, Metric::Bev | Metric::Box3D) && c.filter.key() == "moderate")
        .flat_map(|c| [(c.key(false), c.ap_r11()), (c.key(true), c.ap_r40())])
        .filter_map(|(k, v)| Some((k, v?)))
        .collect())
}

/// 1 for KITTI-sized images (370–376 px high), else the height over 375.
pub fn kitti_height_scale(height: u32) -> f64 {
    if (365..=380).contains(&height) {
        1.0
    } else {
        height as f64 / 375.0
    }
}

/// A BEV picture of a frame: its points, labelled boxes of the detector's classes (green) and
/// predictions (red).
pub fn bev_picture(frame: &Frame, dets: &[Detection], path: &Path) -> Result<()> {
    let mut canvas = kitti::bev::BevCanvas::new(kitti::bev::BevView::default());
    canvas.points(&frame.points);
    for g in &frame.gt {
        canvas.velo_box(&velo_box(&g.params), [60, 220, 60]);
    }
    for d in dets {
        canvas.velo_box(&velo_box(&d.params), [240, 60, 60]);
    }
    canvas.save(path)?;
    Ok(())
}
