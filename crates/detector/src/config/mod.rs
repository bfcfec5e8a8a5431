//! The detector's configuration: one TOML file with a section per concern (pillars, network,
//! anchors, loss, post-processing, training, augmentation). Every default is the reference
//! PointPillars recipe (`../shared/REFERENCE.md` §5); smaller settings give a CPU variant.

use crate::error::{DetectorError, Result};
use kitti::label::ObjectType;
use std::collections::BTreeMap;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

mod validate;
pub use validate::{
    MAX_CHANNELS, MAX_GRID_SIDE, MAX_LAYERS_PER_BLOCK, MAX_POINTS_PER_PILLAR, MAX_STRIDE,
};

/// The whole detector configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Classes this model detects (one model per class, as in the paper, or several).
    pub classes: Vec<String>,
    /// Anchor settings by class name; every class in `classes` needs one.
    pub anchors: BTreeMap<String, AnchorClass>,
    /// Point range and pillar grid.
    pub pillars: PillarConfig,
    /// Widths and depths of the network.
    pub network: NetworkConfig,
    /// Loss weights.
    pub loss: LossConfig,
    /// Score threshold and NMS.
    pub post: PostConfig,
    /// The training recipe.
    pub train: TrainConfig,
    /// Data augmentation during training.
    pub augment: AugmentConfig,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            classes: vec!["Car".into()],
            anchors: AnchorClass::reference(),
            pillars: PillarConfig::default(),
            network: NetworkConfig::default(),
            loss: LossConfig::default(),
            post: PostConfig::default(),
            train: TrainConfig::default(),
            augment: AugmentConfig::default(),
        }
    }
}

/// Anchors and matching thresholds of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorClass {
    /// Length, width, height, metres.
    pub size: [f64; 3],
    /// z of the anchor's bottom face (velodyne frame), metres.
    pub bottom_z: f64,
    /// Headings of the anchors at each location, radians.
    pub rotations: Vec<f64>,
    /// Anchors with BEV IoU ≥ this are positives.
    pub positive_iou: f64,
    /// Anchors with BEV IoU < this are negatives (between: ignored).
    pub negative_iou: f64,
    /// Anchors on the centres of the feature-map cells (true) or, as OpenPCDet's KITTI configs
    /// (`align_center: False`), on a grid whose first and last anchors sit on the range's edges
    /// (spacing range / (cells − 1)).
    #[serde(default)]
    pub align_center: bool,
}

impl AnchorClass {
    fn new(size: [f64; 3], bottom_z: f64, positive_iou: f64, negative_iou: f64) -> Self {
        AnchorClass {
            size,
            bottom_z,
            rotations: vec![0.0, FRAC_PI_2],
            positive_iou,
            negative_iou,
            align_center: false,
        }
    }

    /// The reference anchors: Car, Pedestrian, Cyclist.
    pub fn reference() -> BTreeMap<String, AnchorClass> {
        BTreeMap::from([
            (
                "Car".into(),
                AnchorClass::new([3.9, 1.6, 1.56], -1.78, 0.6, 0.45),
            ),
            (
                "Pedestrian".into(),
                AnchorClass::new([0.8, 0.6, 1.73], -0.6, 0.5, 0.35),
            ),
            (
                "Cyclist".into(),
                AnchorClass::new([1.76, 0.6, 1.73], -0.6, 0.5, 0.35),
            ),
        ])
    }
}

/// Point range and pillar grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PillarConfig {
    /// [x_min, y_min, z_min, x_max, y_max, z_max], velodyne frame, metres.
    pub range: [f64; 6],
    /// Pillar size in x and y, metres (a pillar spans the whole z range).
    pub size: [f64; 2],
    /// Points kept a pillar (the rest are dropped and counted).
    pub max_points: usize,
    /// Pillars kept a frame in training.
    pub max_pillars_train: usize,
    /// Pillars kept a frame at inference.
    pub max_pillars_test: usize,
    /// Keep only the points that project into the left image (the reference does this for
    /// real LiDAR; pseudo-LiDAR is in view by construction).
    pub camera_fov_only: bool,
}

impl Default for PillarConfig {
    fn default() -> Self {
        PillarConfig {
            range: [0.0, -39.68, -3.0, 69.12, 39.68, 1.0],
            size: [0.16, 0.16],
            max_points: 32,
            max_pillars_train: 16000,
            max_pillars_test: 40000,
            camera_fov_only: true,
        }
    }
}

impl PillarConfig {
    /// Grid size [nx, ny].
    pub fn grid(&self) -> [usize; 2] {
        [
            ((self.range[3] - self.range[0]) / self.size[0]).round() as usize,
            ((self.range[4] - self.range[1]) / self.size[1]).round() as usize,
        ]
    }
}

/// Network widths and depths.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Output channels of the pillar feature net.
    pub pillar_channels: usize,
    /// Extra stride-1 conv layers of each backbone block.
    pub layer_nums: Vec<usize>,
    /// Stride of each block's first conv.
    pub layer_strides: Vec<usize>,
    /// Channels of each block.
    pub filters: Vec<usize>,
    /// Upsampling stride of each block's output.
    pub upsample_strides: Vec<usize>,
    /// Channels of each upsampled output.
    pub upsample_filters: Vec<usize>,
    /// Weight of each training batch in the batch-norm running statistics (PyTorch's
    /// convention: running = (1 − m)·running + m·batch; the reference's 0.01).
    pub batch_norm_momentum: f64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            pillar_channels: 64,
            layer_nums: vec![3, 5, 5],
            layer_strides: vec![2, 2, 2],
            filters: vec![64, 128, 256],
            upsample_strides: vec![1, 2, 4],
            upsample_filters: vec![128, 128, 128],
            batch_norm_momentum: 0.01,
        }
    }
}

impl NetworkConfig {
    /// Stride of the head's feature map relative to the pillar grid.
    pub fn output_stride(&self) -> usize {
        self.layer_strides.first().copied().unwrap_or(1)
            / self.upsample_strides.first().copied().unwrap_or(1).max(1)
    }
}

/// Loss settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Focal loss alpha.
    pub focal_alpha: f64,
    /// Focal loss gamma.
    pub focal_gamma: f64,
    /// Smooth-L1 beta of the box loss.
    pub box_beta: f64,
    /// Weight of the classification loss.
    pub class_weight: f64,
    /// Weight of the box loss.
    pub box_weight: f64,
    /// Weight of the direction loss.
    pub direction_weight: f64,
    /// Offset of the two direction bins, radians.
    pub direction_offset: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            focal_alpha: 0.25,
            focal_gamma: 2.0,
            box_beta: 1.0 / 9.0,
            class_weight: 1.0,
            box_weight: 2.0,
            direction_weight: 0.2,
            direction_offset: FRAC_PI_4,
        }
    }
}

/// Post-processing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostConfig {
    /// Boxes scoring below this are dropped.
    pub score_threshold: f64,
    /// Rotated BEV NMS IoU threshold.
    pub nms_iou: f64,
    /// Highest-scoring boxes entering NMS.
    pub nms_pre: usize,
    /// Boxes kept a frame.
    pub max_boxes: usize,
}

impl Default for PostConfig {
    fn default() -> Self {
        PostConfig {
            score_threshold: 0.1,
            nms_iou: 0.01,
            nms_pre: 4096,
            max_boxes: 500,
        }
    }
}

/// The training recipe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Epochs.
    pub epochs: usize,
    /// Frames a step.
    pub batch_size: usize,
    /// Peak learning rate of the one-cycle schedule.
    pub learning_rate: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// The schedule starts at learning_rate / div_factor.
    pub div_factor: f64,
    /// Share of the steps spent warming up.
    pub pct_start: f64,
    /// Gradient-norm clipping (per parameter tensor; 0 = none).
    pub grad_norm_clip: f64,
    /// Seed of initialisation, order and augmentation.
    pub seed: u64,
    /// Validation AP every this many epochs (and after the last; 0 = only after the last).
    pub eval_every: usize,
    /// Validation frames used (at most; 0 = no validation).
    pub val_frames: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 80,
            batch_size: 4,
            learning_rate: 0.003,
            weight_decay: 0.01,
            div_factor: 10.0,
            pct_start: 0.4,
            grad_norm_clip: 10.0,
            seed: 0,
            eval_every: 5,
            val_frames: 3769,
        }
    }
}

impl TrainConfig {
    /// The one-cycle learning rate at step `step` of `total`: cosine warm-up from
    /// lr/div_factor to lr over pct_start of the steps, then cosine annealing to lr/div_factor/1e4
    /// (OpenPCDet's adam_onecycle schedule).
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let cos = |from: f64, to: f64, t: f64| {
            to + (from - to) / 2.0 * (1.0 + (std::f64::consts::PI * t).cos())
        };
        let peak = self.learning_rate;
        let start = peak / self.div_factor;
        let end = start / 1e4;
        let warm = ((total as f64) * self.pct_start).max(1.0);
        let s = step as f64;
        if s < warm {
            cos(start, peak, s / warm)
        } else {
            cos(
                peak,
                end,
                ((s - warm) / ((total as f64 - warm).max(1.0))).min(1.0),
            )
        }
    }
}

/// Augmentation during training.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Ground-truth objects pasted into each training frame, by class (0 = no sampling).
    pub sample_objects: BTreeMap<String, usize>,
    /// Objects with fewer points than this stay out of the sampling database.
    pub min_points: usize,
    /// Random flip along the x axis (y → −y).
    pub flip: bool,
    /// Global rotation about z drawn from ±this, radians.
    pub rotation: f64,
    /// Global scaling drawn from [min, max].
    pub scaling: [f64; 2],
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            sample_objects: BTreeMap::from([
                ("Car".into(), 15),
                ("Pedestrian".into(), 15),
                ("Cyclist".into(), 15),
            ]),
            min_points: 5,
            flip: true,
            rotation: FRAC_PI_4,
            scaling: [0.95, 1.05],
        }
    }
}

/// One class the model detects, resolved from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSpec {
    /// Name as in label files.
    pub name: String,
    /// Label type.
    pub kind: ObjectType,
    /// Its anchors.
    pub anchor: AnchorClass,
}

impl DetectorConfig {
    /// Reads a config file (missing fields take the reference values) and checks it.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = kitti::io::read_text(path)?;
        let cfg: DetectorConfig = toml::from_str(&text)
            .map_err(|e| DetectorError::config(path.display().to_string(), e.to_string()))?;
        cfg.validate().map_err(|e| match e {
            DetectorError::Config { field, message } => {
                DetectorError::config(format!("{}: {field}", path.display()), message)
            }
            other => other,
        })?;
        Ok(cfg)
    }

    /// The classes with their anchors, checked against the label types.
    pub fn class_specs(&self) -> Result<Vec<ClassSpec>> {
        if self.classes.is_empty() {
            return Err(DetectorError::config("classes", "no class to detect"));
        }
        self.classes
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let kind: ObjectType = name.parse().map_err(|_| {
                    DetectorError::config("classes", format!("`{name}` is not a KITTI object type"))
                })?;
                // A second head for one class would report each object twice, the copy a false
                // positive; DontCare regions are not objects to find.
                if self.classes[..i].contains(name) {
                    return Err(DetectorError::config(
                        "classes",
                        format!("`{name}` is listed twice; each class may appear once"),
                    ));
                }
                if kind == ObjectType::DontCare {
                    return Err(DetectorError::config(
                        "classes",
                        "`DontCare` marks regions to ignore, not a class to detect",
                    ));
                }
                let anchor = self.anchors.get(name).cloned().ok_or_else(|| {
                    DetectorError::config(
                        format!("anchors.{name}"),
                        "missing: every class needs anchor settings",
                    )
                })?;
                Ok(ClassSpec {
                    name: name.clone(),
                    kind,
                    anchor,
                })
            })
            .collect()
    }

    /// The head's feature-map size [width (x), height (y)].
    pub fn feature_map(&self) -> [usize; 2] {
        let [nx, ny] = self.pillars.grid();
        let s = self.network.output_stride();
        [nx / s, ny / s]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_reference_recipe() {
        let c = DetectorConfig::default();
        c.validate().unwrap();
        assert_eq!(c.pillars.grid(), [432, 496]);
        assert_eq!(c.feature_map(), [216, 248]);
        assert_eq!(c.anchors["Car"].size, [3.9, 1.6, 1.56]);
        let t = &c.train;
        assert!((t.lr_at(0, 100) - 0.0003).abs() < 1e-12);
        assert!((t.lr_at(40, 100) - 0.003).abs() < 1e-12);
        assert!(t.lr_at(99, 100) < 1e-5);
    }

    #[test]
    fn the_shipped_configs_parse_and_follow_the_recipe() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs"));
        let car = DetectorConfig::load(&dir.join("pointpillars-car.toml")).unwrap();
        let mut reference = DetectorConfig::default();
        reference.augment.sample_objects = BTreeMap::from([("Car".into(), 15)]);
        reference.anchors.retain(|k, _| k == "Car");
        assert_eq!(car, reference);
        let ped = DetectorConfig::load(&dir.join("pointpillars-pedestrian.toml")).unwrap();
        assert_eq!(ped.class_specs().unwrap()[0].anchor.size, [0.8, 0.6, 1.73]);
        assert_eq!(ped.network, NetworkConfig::default());
        let tiny = DetectorConfig::load(&dir.join("pointpillars-tiny.toml")).unwrap();
        assert_eq!(tiny.feature_map(), [64, 64]);
    }
}
