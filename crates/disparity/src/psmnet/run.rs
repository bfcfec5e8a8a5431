//! A disparity training run on disk: its settings file (checked completely when read), the
//! folder `ftf disparity train` writes (`config.toml`, `checkpoints/`), and the start weights a
//! run may begin from (`init`), whose architecture must be the run's.

use super::model::{LevelSpacing, PsmNetConfig};
use super::refine::RefinedPsmNet;
use super::training::{NetworkKind, Selection, TrainConfig};
use crate::error::{DisparityError, Result};
use std::path::{Path, PathBuf};

/// "line N (`the line`): " for the start of a parse error's span, so that a bad value is named
/// by its line and key; empty when the error has no position.
fn where_in(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(start) = span.map(|s| s.start.min(text.len())) else {
        return String::new();
    };
    let line = text[..start].matches('\n').count();
    let shown = text.lines().nth(line).unwrap_or("").trim();
    format!("line {} (`{shown}`): ", line + 1)
}

/// The largest disparity range (and count of depth bins or refinement offsets) a config may
/// ask for, in pixels: the cost volume grows with it (the reference's is 192).
pub const MAX_DISPARITY: usize = 1024;
/// The most channels of a layer group (the reference's are 32).
pub const MAX_CHANNELS: usize = 512;
/// The most residual blocks of a feature-extractor stage (the reference's deepest has 16).
pub const MAX_BLOCKS: usize = 64;

impl TrainConfig {
    /// Reads and checks a training config (TOML); every error names the file and the field.
    pub fn load(path: &Path) -> Result<TrainConfig> {
        let text = kitti::io::read_text(path)?;
        let cfg: TrainConfig = toml::from_str(&text).map_err(|e| DisparityError::Config {
            path: path.to_path_buf(),
            message: format!(
                "not a disparity training config: {}{}",
                where_in(&text, e.span()),
                e.message()
            ),
        })?;
        cfg.validate().map_err(|message| DisparityError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Checks every value a training needs before any work: the field, the value and what is
    /// allowed.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let m = &self.model;
        let bad = |field: &str, value: String, allowed: &str| {
            Err(format!("{field} = {value}: must be {allowed}"))
        };
        if m.cost_volume_scale != 2 && m.cost_volume_scale != 4 {
            return bad(
                "model.cost_volume_scale",
                m.cost_volume_scale.to_string(),
                "4 (the reference: a 1/4-resolution cost volume) or 2 (1/2 resolution)",
            );
        }
        if self.network == NetworkKind::Sdn && m.cost_volume_scale != 4 {
            return bad(
                "model.cost_volume_scale",
                m.cost_volume_scale.to_string(),
                "4 for network = \"sdn\" (its depth cost volume is built at 1/4 resolution)",
            );
        }
        if self.network == NetworkKind::Sdn && m.levels != LevelSpacing::Uniform {
            return bad(
                "model.levels",
                format!("\"{}\"", m.levels.name()),
                "\"uniform\" for network = \"sdn\" (it resamples the uniform disparity volume into depth bins)",
            );
        }
        let levels = 4 * m.cost_volume_scale;
        if m.max_disparity == 0 || !m.max_disparity.is_multiple_of(levels) {
            return bad(
                "model.max_disparity",
                m.max_disparity.to_string(),
                &format!(
                    "a positive multiple of {levels} (the hourglasses halve the 1/{}-resolution volume twice)",
                    m.cost_volume_scale
                ),
            );
        }
        if m.max_disparity > MAX_DISPARITY {
            return bad(
                "model.max_disparity",
                m.max_disparity.to_string(),
                &format!("at most {MAX_DISPARITY} pixels (the reference's 192)"),
            );
        }
        for (field, v) in [
            ("model.width", m.width),
            ("model.feature_channels", m.feature_channels),
            ("model.aggregation_channels", m.aggregation_channels),
        ] {
            if !(1..=MAX_CHANNELS).contains(&v) {
                return bad(
                    field,
                    v.to_string(),
                    &format!("1 to {MAX_CHANNELS} channels (the reference's 32)"),
                );
            }
        }
        if m.blocks.iter().any(|&b| b > MAX_BLOCKS) {
            return bad(
                "model.blocks",
                format!("{:?}", m.blocks),
                &format!(
                    "at most {MAX_BLOCKS} residual blocks a stage (the reference's [3, 16, 3, 3])"
                ),
            );
        }
        if m.pyramid_pools.is_empty() || m.pyramid_pools.contains(&0) {
            return bad(
                "model.pyramid_pools",
                format!("{:?}", m.pyramid_pools),
                "a non-empty list of positive pool sizes",
            );
        }
        if self.crop.iter().any(|c| *c == 0 || !c.is_multiple_of(16)) {
            return bad(
                "crop",
                format!("{:?}", self.crop),
                "[height, width], each a positive multiple of 16",
            );
        }
        if self.crop[1] <= m.max_disparity / 2 {
            return bad(
                "crop",
                format!("{:?}", self.crop),
                &format!(
                    "wider than half of model.max_disparity ({}) so that a shift can be seen",
                    m.max_disparity
                ),
            );
        }
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1");
        }
        if !(self.object_weight.is_finite() && self.object_weight > 0.0) {
            return bad(
                "object_weight",
                self.object_weight.to_string(),
                "a finite number above 0 (1: every pixel alike)",
            );
        }
        if self.network == NetworkKind::Sdn && self.object_weight != 1.0 {
            return bad(
                "object_weight",
                self.object_weight.to_string(),
                "1 for network = \"sdn\" (its depth loss weights every pixel alike)",
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "at least 1");
        }
        let rate_ok = |r: f64| r.is_finite() && r > 0.0;
        if !rate_ok(self.learning_rate) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "a finite number above 0",
            );
        }
        if let Some((epoch, rate)) = self.lr_steps.iter().find(|(_, r)| !rate_ok(*r)) {
            return bad(
                "lr_steps",
                format!("[{epoch}, {rate}]"),
                "[epoch, rate] with a finite rate above 0",
            );
        }
        if let Some(i) = (1..self.lr_steps.len())
            .find(|&i| self.lr_steps[..i].iter().any(|s| s.0 == self.lr_steps[i].0))
        {
            let (epoch, rate) = self.lr_steps[i];
            return bad(
                "lr_steps",
                format!("[{epoch}, {rate}]"),
                &format!("one [epoch, rate] an epoch (epoch {epoch} is given two rates)"),
            );
        }
        if self.select == Selection::BestVal && self.val_frames == 0 {
            return bad(
                "select",
                "\"best_val\"".into(),
                "\"last\" when val_frames = 0: best_val picks the epoch of lowest validation EPE, \
                 and no frame is validated",
            );
        }
        if let Some(field) = self
            .init_may_differ
            .iter()
            .find(|f| !INIT_MAY_DIFFER.iter().any(|(name, _)| name == f))
        {
            let names: Vec<&str> = INIT_MAY_DIFFER.iter().map(|(name, _)| *name).collect();
            return bad(
                "init_may_differ",
                format!("[{field:?}]"),
                &format!("a list of settings that change no parameter: {names:?}"),
            );
        }
        if let Some(r) = &m.refine {
            if self.network == NetworkKind::Sdn {
                return bad(
                    "model.refine",
                    format!("{r:?}"),
                    "absent for network = \"sdn\" (the refinement stage follows PSMNet's disparity regression)",
                );
            }
            if !(1..=MAX_DISPARITY).contains(&r.offsets) {
                return bad(
                    "model.refine.offsets",
                    r.offsets.to_string(),
                    &format!("1 to {MAX_DISPARITY}"),
                );
            }
            if !(1..=MAX_CHANNELS).contains(&r.channels) {
                return bad(
                    "model.refine.channels",
                    r.channels.to_string(),
                    &format!("1 to {MAX_CHANNELS}"),
                );
            }
            if !(r.step.is_finite() && r.step > 0.0) {
                return bad(
                    "model.refine.step",
                    r.step.to_string(),
                    "a finite number of pixels above 0",
                );
            }
        }
        if self.network == NetworkKind::Sdn {
            let step = self.sdn_depth_step;
            if !(step.is_finite() && step > 0.0) {
                return bad(
                    "sdn_depth_step",
                    step.to_string(),
                    "a finite number above 0",
                );
            }
            let bins = self.sdn_max_depth as f64 / step;
            if self.sdn_max_depth == 0
                || bins.fract() != 0.0
                || !(bins as usize).is_multiple_of(4)
                || bins > MAX_DISPARITY as f64
            {
                return bad(
                    "sdn_max_depth",
                    self.sdn_max_depth.to_string(),
                    &format!(
                        "a positive multiple of 4 × sdn_depth_step ({step}): the hourglasses halve its bins twice; at most {MAX_DISPARITY} bins"
                    ),
                );
            }
        }
        Ok(())
    }

    /// The settings that fix the network's shape, as `field = value` lines.
    fn architecture(&self) -> Vec<(String, String)> {
        let m = &self.model;
        let mut fields = vec![
            ("network".to_string(), self.network.name().to_string()),
            ("model.max_disparity".into(), m.max_disparity.to_string()),
            (
                "model.cost_volume_scale".into(),
                m.cost_volume_scale.to_string(),
            ),
            ("model.width".into(), m.width.to_string()),
            ("model.blocks".into(), format!("{:?}", m.blocks)),
            (
                "model.pyramid_pools".into(),
                format!("{:?}", m.pyramid_pools),
            ),
            (
                "model.feature_channels".into(),
                m.feature_channels.to_string(),
            ),
            (
                "model.aggregation_channels".into(),
                m.aggregation_channels.to_string(),
            ),
            ("model.align_corners".into(), m.align_corners.to_string()),
            ("model.levels".into(), m.levels.name().to_string()),
            (
                "model.refine".into(),
                m.refine.as_ref().map_or("none".into(), |r| {
                    format!(
                        "offsets {}, step {}, channels {}",
                        r.offsets, r.step, r.channels
                    )
                }),
            ),
        ];
        if self.network == NetworkKind::Sdn {
            fields.push(("sdn_depth_step".into(), self.sdn_depth_step.to_string()));
            fields.push(("sdn_max_depth".into(), self.sdn_max_depth.to_string()));
        }
        fields
    }

    /// The fields in which `other`'s network differs from this one's: `field: ours vs theirs`.
    pub fn architecture_differences(&self, other: &TrainConfig) -> Vec<String> {
        self.architecture()
            .into_iter()
            .zip(other.architecture())
            .filter(|(a, b)| a != b)
            .map(|((field, ours), (_, theirs))| format!("{field}: {ours} here, {theirs} there"))
            .collect()
    }
}

/// The resolved training config of a run folder (`<run>/config.toml`).
pub fn read_run_config(run: &Path) -> Result<TrainConfig> {
    burn_support::checkpoint::require_run_folder(
        run,
        "`ftf disparity train` or `ftf disparity import`",
    )?;
    TrainConfig::load(&run.join(burn_support::checkpoint::RUN_CONFIG))
}

/// The weights a run predicts with: its best checkpoint if validation chose one, else its last.
pub fn inference_weights(run: &Path) -> PathBuf {
    burn_support::CheckpointFiles::new(run).for_inference()
}

/// Checks that `run` is a finished disparity run of `cfg`'s architecture and returns the
/// weights file it predicts with. Serves `init` (start weights) and a study's `checkpoint`.
pub fn check_run(cfg: &TrainConfig, run: &Path) -> Result<PathBuf> {
    check_against(cfg, run, &read_run_config(run)?)
}

/// [`check_run`] with the run's config `theirs` already read.
fn check_against(cfg: &TrainConfig, run: &Path, theirs: &TrainConfig) -> Result<PathBuf> {
    let differences = cfg.architecture_differences(theirs);
    if !differences.is_empty() {
        return Err(DisparityError::Config {
            path: run.join("config.toml"),
            message: format!(
                "holds another network than this training's: {}",
                differences.join("; ")
            ),
        });
    }
    let weights = inference_weights(run);
    if !weights.is_file() {
        return Err(DisparityError::Config {
            path: weights,
            message: "no weights: the run folder has no finished checkpoint".into(),
        });
    }
    Ok(weights)
}

/// Copies one architecture setting of the start's network (the second) into this one's.
pub type TakeSetting = fn(&mut PsmNetConfig, &PsmNetConfig);

/// The architecture settings `init_may_differ` may name, each with how the start's value is
/// taken over: they change no parameter's shape, so the start's weights load into the network
/// unchanged.
pub const INIT_MAY_DIFFER: [(&str, TakeSetting); 4] = [
    ("model.max_disparity", |ours, theirs| {
        ours.max_disparity = theirs.max_disparity
    }),
    ("model.cost_volume_scale", |ours, theirs| {
        ours.cost_volume_scale = theirs.cost_volume_scale
    }),
    ("model.pyramid_pools", |ours, theirs| {
        ours.pyramid_pools = theirs.pyramid_pools.clone()
    }),
    ("model.levels", |ours, theirs| ours.levels = theirs.levels),
];

/// Start weights for a training: the weights file, and whether it holds only PSMNet, for a
/// network with a refinement stage that then starts fresh.
#[derive(Debug, Clone, PartialEq)]
pub struct StartWeights {
    /// The weights file.
    pub path: PathBuf,
    /// The file holds PSMNet without the refinement stage this training adds.
    pub base_only: bool,
}

/// The start weights of a training that begins from `cfg.init`, checked (None without `init`):
/// a run of the same network, or of the same PSMNet without the refinement stage `cfg` adds.
pub fn start_weights(cfg: &TrainConfig) -> Result<Option<StartWeights>> {
    let Some(run) = cfg.init.as_deref() else {
        return Ok(None);
    };
    let theirs = read_run_config(run)?;
    let base_only = cfg.model.refine.is_some() && theirs.model.refine.is_none();
    // A run without the stage is checked against this network without it, and the settings
    // the start may differ in (no parameter depends on them) are taken as the start's.
    let mut checked = cfg.clone();
    if base_only {
        checked.model.refine = None;
    }
    for (name, take) in INIT_MAY_DIFFER {
        if cfg.init_may_differ.iter().any(|f| f == name) {
            take(&mut checked.model, &theirs.model);
        }
    }
    let path = check_against(&checked, run, &theirs)?;
    Ok(Some(StartWeights { path, base_only }))
}

/// The network of a training run folder (its best, else last, checkpoint) as a disparity model,
/// with the settings line predictions record (the weights file and the run's config).
pub fn load_trained(
    run: &Path,
    device: burn::tensor::Device,
) -> Result<(Box<dyn crate::DisparityModel>, String)> {
    use super::inference::NetPredictor;
    use super::training::load_model;
    let cfg = read_run_config(run)?;
    let weights = check_against(&cfg, run, &cfg)?;
    let unloadable = |e: kitti::KittiError| DisparityError::Config {
        path: weights.clone(),
        message: format!(
            "cannot be loaded as the network {} describes ({e})",
            run.join("config.toml").display()
        ),
    };
    let (baseline, name) = (kitti::Baseline::REFERENCE, cfg.network.name().to_string());
    let model: Box<dyn crate::DisparityModel> = match cfg.network {
        NetworkKind::Psmnet if cfg.model.refine.is_some() => Box::new(NetPredictor {
            model: load_model(RefinedPsmNet::new(&cfg.model, &device), &weights)
                .map_err(unloadable)?,
            device,
            name,
            baseline,
        }),
        NetworkKind::Psmnet => Box::new(NetPredictor {
            model: load_model(cfg.model.init(&device), &weights).map_err(unloadable)?,
            device,
            name,
            baseline,
        }),
        NetworkKind::Sdn => Box::new(NetPredictor {
            model: load_model(cfg.sdn().init(&device), &weights).map_err(unloadable)?,
            device,
            name,
            baseline,
        }),
    };
    let text = toml::to_string(&cfg).unwrap_or_default();
    Ok((
        model,
        format!("{} {}\n{text}", cfg.network.name(), weights.display()),
    ))
}
