//! The detector's training loop: frames loaded and augmented in parallel, pillars and targets
//! built on the host, one-cycle AdamW with weight decay and gradient clipping, validation AP
//! (through the evaluation crate) every few epochs, atomic per-epoch checkpoints with the
//! optimiser state, the best model kept, and exact resumption.

use crate::anchors::Anchors;
use crate::augment::{augment, frame_objects, SampleDatabase, SampledObject};
use crate::config::{ClassSpec, DetectorConfig};
use crate::data::{box_in_range, FrameSource};
use crate::error::Result;
use crate::inference::{evaluate_frames, Detector};
use crate::loss::{detection_loss, TargetBatch};
use crate::model::PointPillars;
use crate::pillars::{pillarise, Pillars};
use crate::targets::{assign, Targets};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::Device;
use burn_support::checkpoint::{load_model, load_optimizer, load_state, CheckpointFiles};
use burn_support::shuffle::epoch_order;
use kitti::rng::{hash, Rng};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

/// Frames of one split: where they are and which ids.
#[derive(Debug, Clone)]
pub struct SplitFrames {
    /// Their files.
    pub source: FrameSource,
    /// Frame ids.
    pub ids: Vec<String>,
}

/// What one finished epoch measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean loss terms: classification, box, direction.
    pub loss: [f64; 3],
    /// Points the pillar caps dropped over the epoch.
    pub dropped_points: usize,
    /// Pillars the pillar cap dropped over the epoch.
    pub dropped_pillars: usize,
    /// Validation APs by key (`Car/3d/moderate/R40@0.70`, …), empty when not validated.
    pub val_ap: BTreeMap<String, f64>,
    /// The number the best checkpoint is chosen by: mean over classes of moderate AP_3D|R40
    /// at the official IoU (None when not validated).
    pub selection: Option<f64>,
}

/// The state written with every checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Epoch of the best checkpoint so far.
    pub best_epoch: Option<usize>,
    /// Objects in the sampling database.
    pub database_objects: usize,
    /// Every epoch so far.
    pub history: Vec<EpochRecord>,
}

/// Progress reported to the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The sampling database is built: objects by class.
    Database(Vec<(String, usize)>),
    /// A step finished: epoch, step within it, steps per epoch, running mean loss terms.
    Step(usize, usize, usize, [f64; 3]),
    /// An epoch finished.
    Epoch(EpochRecord),
}

/// Pillars and targets of a training frame after augmentation.
fn prepare(
    cfg: &DetectorConfig,
    specs: &[ClassSpec],
    anchors: &Anchors,
    data: &SplitFrames,
    db: &SampleDatabase,
    index: usize,
    seed: u64,
) -> Result<(Pillars, Targets)> {
    let frame = data
        .source
        .load(&data.ids[index], specs, cfg.pillars.camera_fov_only)?;
    let obstacles = crate::data::other_boxes(&frame.labels, specs, &frame.calib);
    let (mut points, mut gt) = (frame.points, frame.gt);
    augment(
        &mut points,
        &mut gt,
        &obstacles,
        db,
        &cfg.augment,
        specs,
        &mut Rng::new(seed),
    );
    gt.retain(|g| box_in_range(&g.params, &cfg.pillars.range));
    let pillars = pillarise(&points, &cfg.pillars, cfg.pillars.max_pillars_train);
    let targets = assign(anchors, specs, &gt, cfg.loss.direction_offset);
    Ok((pillars, targets))
}

/// Builds the sampling database from every training frame, streaming: each frame is loaded,
/// cut down to the points inside its labelled boxes and dropped, so that only the objects' points
/// are ever held at once (dense pseudo-LiDAR of all KITTI training frames would be about 12 GB).
pub fn build_database(
    cfg: &DetectorConfig,
    specs: &[ClassSpec],
    data: &SplitFrames,
) -> Result<SampleDatabase> {
    let wanted = specs.iter().any(|s| {
        cfg.augment
            .sample_objects
            .get(&s.name)
            .copied()
            .unwrap_or(0)
            > 0
    });
    let mut db = SampleDatabase::default();
    if !wanted {
        return Ok(db);
    }
    let per_frame: Vec<Vec<SampledObject>> = data
        .ids
        .par_iter()
        .map(|id| {
            let frame = data.source.load(id, specs, cfg.pillars.camera_fov_only)?;
            Ok(frame_objects(&frame, cfg.augment.min_points))
        })
        .collect::<Result<_>>()?;
    for objects in per_frame {
        db.add_objects(objects, specs.len());
    }
    Ok(db)
}

/// Trains (or, with `resume`, continues training) into `out`; `device` must support autodiff.
/// The config is written to `out/config.toml` once the frames are checked (every file there,
/// and an object of every class in the labels). `progress` hears every step and epoch;
/// answering `Break` after a step or an epoch stops the run there as an interruption would
/// (an epoch stopped in the middle is redone by `resume`).
pub fn train(
    cfg: &DetectorConfig,
    data: &SplitFrames,
    val: Option<&SplitFrames>,
    out: &Path,
    device: &Device,
    resume: bool,
    progress: &dyn Fn(Progress) -> ControlFlow<()>,
) -> Result<TrainState> {
    cfg.validate()?;
    let specs = cfg.class_specs()?;
    data.source.check(&data.ids)?;
    data.source.check_classes_present(&data.ids, &specs)?;
    if let Some(v) = val {
        v.source.check(&v.ids)?;
    }
    let files = CheckpointFiles::new(out);
    crate::inference::write_config(cfg, out)?;
    let anchors = Anchors::new(cfg, &specs);
    let db = build_database(cfg, &specs, data)?;
    let counts = specs.iter().zip(&db.objects);
    // Informational: a Break here is honoured at the first step.
    let _ = progress(Progress::Database(
        counts.map(|(s, o)| (s.name.clone(), o.len())).collect(),
    ));
    let t = &cfg.train;
    let mut model = burn_support::seeded_init(device, t.seed, || PointPillars::new(cfg, device));
    let mut optim_cfg = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(t.weight_decay as f32);
    if t.grad_norm_clip > 0.0 {
        optim_cfg = optim_cfg
            .with_grad_clipping(Some(GradientClippingConfig::Norm(t.grad_norm_clip as f32)));
    }
    let mut optim = optim_cfg.init();
    let mut state = TrainState {
        epochs_done: 0,
        best_epoch: None,
        database_objects: db.len(),
        history: Vec::new(),
    };
    if resume && files.state().is_file() {
        state = load_state(&files.state())?;
        model = load_model(model, &files.model())?;
        optim = load_optimizer(optim, &files.optimizer()?)?;
    }
    let batch = t.batch_size;
    let steps = data.ids.len().div_ceil(batch);
    let total_steps = steps * t.epochs;
    for epoch in state.epochs_done..t.epochs {
        let order = epoch_order(data.ids.len(), t.seed, epoch);
        let mut sums = [0.0f64; 3];
        let (mut dropped_points, mut dropped_pillars) = (0, 0);
        for (step, chunk) in order.chunks(batch).enumerate() {
            let prepared = chunk
                .par_iter()
                .map(|&i| {
                    prepare(
                        cfg,
                        &specs,
                        &anchors,
                        data,
                        &db,
                        i,
                        hash(&[t.seed, epoch as u64, i as u64]),
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let (pillars, targets): (Vec<Pillars>, Vec<Targets>) = prepared.into_iter().unzip();
            dropped_points += pillars.iter().map(|p| p.dropped_points).sum::<usize>();
            dropped_pillars += pillars.iter().map(|p| p.dropped_pillars).sum::<usize>();
            let input = crate::inference::pillar_batch(&pillars, &cfg.pillars, device);
            let target = TargetBatch::new(&targets, specs.len(), device);
            let terms = detection_loss(model.forward(input), &target, &cfg.loss);
            let values = [&terms.class, &terms.boxes, &terms.direction]
                .map(|v| v.clone().into_scalar::<f32>() as f64);
            let grads = GradientsParams::from_grads(terms.total().backward(), &model);
            model = optim.step(t.lr_at(epoch * steps + step, total_steps), model, grads);
            for k in 0..3 {
                sums[k] += values[k];
            }
            let mean = sums.map(|s| s / (step + 1) as f64);
            if progress(Progress::Step(epoch, step, steps, mean)).is_break() {
                return Ok(state);
            }
        }
        let due = t.eval_every > 0 && (epoch + 1) % t.eval_every == 0;
        let val_ap = match val {
            Some(v) if t.val_frames > 0 && (due || epoch + 1 == t.epochs) => {
                let detector = Detector::from_parts(model.clone(), cfg.clone(), device.clone())?;
                let ids = &v.ids[..v.ids.len().min(t.val_frames)];
                evaluate_frames(&detector, &v.source, ids)?
            }
            _ => BTreeMap::new(),
        };
        let selection = selection_score(&val_ap, &specs);
        let record = EpochRecord {
            epoch,
            loss: sums.map(|s| s / steps.max(1) as f64),
            dropped_points,
            dropped_pillars,
            val_ap,
            selection,
        };
        state.history.push(record.clone());
        state.epochs_done = epoch + 1;
        let best = state.best_epoch.and_then(|b| state.history[b].selection);
        let is_best = selection.is_some_and(|s| best.is_none_or(|b| s >= b));
        if is_best {
            state.best_epoch = Some(epoch);
        }
        files.save_epoch(epoch, &model, &optim, is_best, &state)?;
        if progress(Progress::Epoch(record)).is_break() {
            break;
        }
    }
    Ok(state)
}

/// Mean over the classes of moderate AP_3D|R40 at the official IoU.
fn selection_score(ap: &BTreeMap<String, f64>, specs: &[ClassSpec]) -> Option<f64> {
    let values: Vec<f64> = crate::inference::eval_classes(specs)
        .into_iter()
        .filter_map(|c| {
            ap.get(&crate::inference::official_key(c, eval::Metric::Box3D))
                .copied()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}
