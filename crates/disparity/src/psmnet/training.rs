//! The training loop of PSMNet: Adam with a step learning-rate schedule, random crops, the
//! disparity or depth loss, validation after every epoch, atomic checkpoints of the model and
//! the optimiser state, the best model kept, and exact resumption.

use super::data::{random_crop, weighted_batch, StereoDataset};
use super::inference::predict_pair;
use super::model::PsmNetConfig;
use crate::error::Result;
use crate::loss::{LossKind, LossMask};
use crate::metrics::{frame_breakdown, Sums};
use crate::network::StereoNet;
use crate::sdn::SdnConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use burn_support::checkpoint::{load_optimizer, load_state};
use burn_support::shuffle::epoch_order;
use kitti::rng::{hash, Rng};
use std::path::{Path, PathBuf};

/// Which network a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// PSMNet, with the loss the config names.
    #[default]
    Psmnet,
    /// SDN on PSMNet's trunk, always with its depth loss.
    Sdn,
}

impl NetworkKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            NetworkKind::Psmnet => "psmnet",
            NetworkKind::Sdn => "sdn",
        }
    }
}

/// Training settings; the defaults are the pseudo-LiDAR fine-tuning recipe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// PSMNet, or SDN on PSMNet's trunk.
    pub network: NetworkKind,
    /// The network (for SDN: its trunk).
    pub model: PsmNetConfig,
    /// SDN's depth bins (ignored for PSMNet).
    pub sdn_depth_step: f64,
    /// SDN's largest depth, metres (ignored for PSMNet).
    pub sdn_max_depth: usize,
    /// Disparity loss (the reference) or depth loss (the "improvement").
    pub loss: LossKind,
    /// Which ground-truth pixels the loss counts (PSMNet's loss only; SDN masks by depth).
    pub mask: LossMask,
    /// Epochs.
    pub epochs: usize,
    /// Examples a step.
    pub batch_size: usize,
    /// Random crop, [height, width] (multiples of 16).
    pub crop: [usize; 2],
    /// Learning rate of the first epochs.
    pub learning_rate: f64,
    /// Later learning rates: (first epoch, 0-based, rate).
    pub lr_steps: Vec<(usize, f64)>,
    /// Seed of initialisation, shuffling and crops.
    pub seed: u64,
    /// Validation frames evaluated after each epoch (at most; 0 = none).
    pub val_frames: usize,
    /// Which weights predict: the last epoch's (the paper: epoch 300) or the epoch with the
    /// lowest validation EPE (validation frames must then be held out from the study's
    /// evaluation frames).
    pub select: Selection,
    /// A training run folder (`config.toml`, `checkpoints/`) of the same network whose weights
    /// the training starts from (the paper's SceneFlow-pretrained start); None: the reference
    /// initialisation.
    pub init: Option<PathBuf>,
    /// Settings in which the `init` run's network may differ from this one: only those that
    /// change no parameter ([`super::run::INIT_MAY_DIFFER`]), to start a network of another cost-volume
    /// resolution from trained weights. Empty (the default): the same network.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_may_differ: Vec<String>,
    /// Whether batch norm layers update their running statistics and normalise by the batch's
    /// while training (`train`, the reference), or keep the start's statistics (`frozen`: a
    /// common fine-tuning choice at small batch; their scale and shift still train).
    #[serde(skip_serializing_if = "BatchNormMode::is_train")]
    pub batch_norm: BatchNormMode,
    /// Loss weight of the ground-truth pixels on labelled objects (cars, vans, pedestrians, …)
    /// relative to the others: a weighted mean over the valid pixels, from the training frames'
    /// instance masks (the synthetic sets write them). 1 (the default, the reference): every
    /// pixel alike; left out of written configs then.
    #[serde(skip_serializing_if = "is_one")]
    pub object_weight: f64,
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

/// How batch norm behaves while training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormMode {
    /// Batch statistics, running statistics updated (the reference).
    #[default]
    Train,
    /// The running statistics of the start weights, never updated.
    Frozen,
}

impl BatchNormMode {
    fn is_train(&self) -> bool {
        *self == BatchNormMode::Train
    }
}

/// Which checkpoint of a training predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The last epoch's weights.
    #[default]
    Last,
    /// The weights of the epoch with the lowest validation EPE.
    BestVal,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            network: NetworkKind::Psmnet,
            model: PsmNetConfig::default(),
            sdn_depth_step: 2.0,
            sdn_max_depth: 80,
            loss: LossKind::Disparity,
            mask: LossMask::Positive,
            epochs: 300,
            batch_size: 12,
            crop: [256, 512],
            learning_rate: 1e-3,
            lr_steps: vec![(50, 1e-4)],
            seed: 0,
            val_frames: 200,
            select: Selection::Last,
            init: None,
            init_may_differ: Vec::new(),
            batch_norm: BatchNormMode::Train,
            object_weight: 1.0,
        }
    }
}

impl TrainConfig {
    /// SDN's configuration from these settings.
    pub fn sdn(&self) -> SdnConfig {
        SdnConfig {
            trunk: self.model.clone(),
            depth_step: self.sdn_depth_step,
            max_depth: self.sdn_max_depth,
        }
    }

    /// The learning rate of `epoch` (0-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.lr_steps
            .iter()
            .filter(|(start, _)| epoch >= *start)
            .max_by_key(|(start, _)| *start)
            .map_or(self.learning_rate, |(_, lr)| *lr)
    }
}

/// What one finished epoch measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation end-point error, pixels (NaN without validation; `null` in JSON).
    #[serde(deserialize_with = "nan_if_null")]
    pub val_epe: f64,
    /// Validation D1 share (NaN without validation).
    #[serde(deserialize_with = "nan_if_null")]
    pub val_d1: f64,
    /// Wall time of the epoch (training and validation), seconds.
    #[serde(default)]
    pub seconds: f64,
}

/// A number that JSON holds as `null` when it is NaN (serde_json writes NaN as `null`), so that
/// the state of a run without validation reads back and resumes.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The state written with every checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Epoch with the best validation EPE so far.
    pub best_epoch: Option<usize>,
    /// Every epoch so far.
    pub history: Vec<EpochRecord>,
}

/// Progress reported to the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// A step finished: epoch, step within it, steps per epoch, running mean loss.
    Step(usize, usize, usize, f64),
    /// An epoch finished.
    Epoch(usize, f64, f64),
}

pub use burn_support::checkpoint::load_model;
/// The checkpoint files of a run (shared with the detector's training).
pub use burn_support::checkpoint::CheckpointFiles as RunFiles;

/// Validation: EPE and D1 of the model at full frame size over the first `n` frames.
fn validate<N: StereoNet>(
    model: &N,
    val: &StereoDataset,
    n: usize,
    device: &Device,
) -> Result<(f64, f64)> {
    if n == 0 || val.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    let model = model.valid();
    let mut sums = Sums::default();
    for i in 0..n.min(val.len()) {
        let e = val.get(i)?;
        let pred = predict_pair(&model, &e.pair, e.focal_baseline, device);
        sums.add(&frame_breakdown(&pred, &e.disparity, e.focal_baseline as f64, None, None).all);
    }
    let m = sums.metrics();
    Ok((m.epe, m.d1))
}

/// Trains (or, with `resume`, continues training) into `out`; `device` must support autodiff.
/// The network is the one `cfg.network` names: PSMNet with `cfg.loss`, or SDN with its depth
/// loss.
pub fn train(
    cfg: &TrainConfig,
    train: &StereoDataset,
    val: &StereoDataset,
    out: &Path,
    device: &Device,
    resume: bool,
    progress: &dyn Fn(Progress),
) -> Result<TrainState> {
    let data = (train, val);
    match cfg.network {
        NetworkKind::Psmnet if cfg.model.refine.is_some() => train_network(
            cfg,
            || super::RefinedPsmNet::new(&cfg.model, device),
            data,
            out,
            device,
            resume,
            progress,
        ),
        NetworkKind::Psmnet => train_network(
            cfg,
            || cfg.model.init(device),
            data,
            out,
            device,
            resume,
            progress,
        ),
        NetworkKind::Sdn => train_network(
            cfg,
            || cfg.sdn().init(device),
            data,
            out,
            device,
            resume,
            progress,
        ),
    }
}

/// The training loop of any stereo network that `build` makes (from `cfg.seed`).
fn train_network<N: StereoNet>(
    cfg: &TrainConfig,
    build: impl FnOnce() -> N,
    (train, val): (&StereoDataset, &StereoDataset),
    out: &Path,
    device: &Device,
    resume: bool,
    progress: &dyn Fn(Progress),
) -> Result<TrainState> {
    train.check_crop(cfg.crop)?;
    let with_objects;
    let train = if cfg.object_weight != 1.0 {
        with_objects = train.clone().with_objects();
        &with_objects
    } else {
        train
    };
    let files = RunFiles::new(out);
    let start = super::run::start_weights(cfg)?;
    let mut model = burn_support::seeded_init(device, cfg.seed, build);
    if let Some(start) = &start {
        model = model.load_start(start)?;
    }
    if cfg.batch_norm == BatchNormMode::Frozen {
        // Frozen modules normalise by their running statistics; every weight then trains again.
        let frozen = model.freeze();
        let every = burn::module::ParamGroup::ids_from_module(frozen.clone());
        model = frozen.set_require_grad_group(every, true);
    }
    let mut optim: ModuleOptimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let mut state = TrainState {
        epochs_done: 0,
        best_epoch: None,
        history: Vec::new(),
    };
    if resume && files.state().is_file() {
        state = load_state(&files.state())?;
        model = load_model(model, &files.model())?;
        optim = load_optimizer(optim, &files.optimizer()?)?;
    }
    let below = (cfg.mask == LossMask::BelowMax).then_some(cfg.model.max_disparity as f64);
    for epoch in state.epochs_done..cfg.epochs {
        let started = std::time::Instant::now();
        let lr = cfg.lr_at(epoch);
        let order = epoch_order(train.len(), cfg.seed, epoch);
        let steps = order.len().div_ceil(cfg.batch_size.max(1));
        let mut total = 0.0;
        for (step, chunk) in order.chunks(cfg.batch_size.max(1)).enumerate() {
            let mut crop_rng = Rng::new(hash(&[cfg.seed, epoch as u64, step as u64, 1]));
            let examples = chunk
                .iter()
                .map(|&i| {
                    train
                        .get(i)
                        .map(|e| random_crop(&e, cfg.crop[0], cfg.crop[1], &mut crop_rng))
                })
                .collect::<Result<Vec<_>>>()?;
            let b = weighted_batch(&examples, cfg.object_weight, device);
            let loss = model.training_loss(&b, cfg.loss, below);
            let value: f32 = loss.clone().into_scalar();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            total += value as f64;
            progress(Progress::Step(
                epoch,
                step,
                steps,
                total / (step + 1) as f64,
            ));
        }
        let (val_epe, val_d1) = validate(&model, val, cfg.val_frames, device)?;
        let train_loss = total / steps.max(1) as f64;
        state.history.push(EpochRecord {
            epoch,
            learning_rate: lr,
            train_loss,
            val_epe,
            val_d1,
            seconds: started.elapsed().as_secs_f64(),
        });
        state.epochs_done = epoch + 1;
        let best = state.best_epoch.map(|b| state.history[b].val_epe);
        let is_best = !val_epe.is_nan() && best.is_none_or(|b| val_epe < b);
        if is_best {
            state.best_epoch = Some(epoch);
        }
        let keep_best = is_best && cfg.select == Selection::BestVal;
        files.save_epoch(epoch, &model, &optim, keep_best, &state)?;
        progress(Progress::Epoch(epoch, train_loss, val_epe));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configs_parse_and_follow_the_recipe() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs");
        let read = |name: &str| -> TrainConfig {
            toml::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap()).unwrap()
        };
        let kitti = read("psmnet-kitti.toml");
        assert_eq!(
            kitti,
            TrainConfig {
                val_frames: kitti.val_frames,
                ..TrainConfig::default()
            }
        );
        assert_eq!((kitti.lr_at(49), kitti.lr_at(50)), (1e-3, 1e-4));
        let depth = read("psmnet-kitti-depth.toml");
        assert_eq!(
            depth,
            TrainConfig {
                loss: LossKind::Depth,
                ..kitti
            }
        );
        assert_eq!(read("psmnet-tiny.toml").model, PsmNetConfig::tiny());
        // The refinement recipe: the quick study's network plus the stage, starting from the
        // shipped weights of that network.
        let refine = read("psmnet-pretrain-quick-refine.toml");
        refine.validate().unwrap();
        let quick = read("psmnet-quick-half.toml");
        assert_eq!(
            refine.model,
            PsmNetConfig {
                refine: Some(super::super::RefineConfig::default()),
                ..quick.model.clone()
            }
        );
        assert_eq!(refine.init, quick.init);
        // The geometric-levels try: the same network and start but for the levels' spacing.
        let geometric = read("psmnet-pretrain-quick-geometric.toml");
        geometric.validate().unwrap();
        assert_eq!(
            geometric.model,
            PsmNetConfig {
                levels: super::super::LevelSpacing::Geometric,
                ..quick.model.clone()
            }
        );
        assert_eq!(geometric.init, quick.init);
        assert_eq!(geometric.init_may_differ, vec!["model.levels".to_string()]);
        // The last pretraining stage trains the quick study's network, from the second stage's
        // weights (a 1/4-resolution cost volume and smaller pools: the same parameters).
        let half = read("psmnet-pretrain-quick-half.toml");
        half.validate().unwrap();
        assert_eq!(half.model, quick.model);
        // The fourth stage: the third stage's weights in the full-resolution study's network.
        let full = read("psmnet-pretrain-quick-full.toml");
        full.validate().unwrap();
        let quick_full = read("psmnet-quick.toml");
        quick_full.validate().unwrap();
        assert_eq!(full.model, quick_full.model);
        assert_eq!(
            PsmNetConfig {
                max_disparity: 64,
                cost_volume_scale: 2,
                ..full.model.clone()
            },
            quick.model
        );
        assert_eq!(full.init, quick.init);
        // The object-weighted try: the fourth stage's weights in the same network.
        let objects = read("psmnet-pretrain-quick-objects.toml");
        objects.validate().unwrap();
        assert_eq!(objects.model, quick_full.model);
        assert_eq!(
            objects.init.as_deref(),
            Some(std::path::Path::new("models/psmnet-quick-pretrained-full"))
        );
        assert!(objects.object_weight > 1.0 && full.object_weight == 1.0);
        assert_eq!(
            quick_full.init.as_deref(),
            Some(std::path::Path::new("models/psmnet-quick-pretrained-full"))
        );
        let stage2 = read("psmnet-pretrain-quick-stage2.toml");
        assert_eq!(
            PsmNetConfig {
                cost_volume_scale: 2,
                pyramid_pools: vec![16, 8],
                ..stage2.model
            },
            quick.model
        );
    }
}
