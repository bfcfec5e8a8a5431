//! One synthetic frame, generated in memory: world, stereo images, exact disparity, instance
//! mask, LiDAR scan and labels.

use crate::layout::{sample_world, SceneConfig};
use crate::lidar::{scan, LidarConfig, Return};
use crate::render::{render_camera, silhouette_pixels, CameraImage};
use crate::rig::Rig;
use crate::rng::{hash, Rng};
use crate::world::World;
use kitti::{Box2D, Calibration, DisparityMap, InstanceMask, Object, ObjectType};

/// Objects whose 2D box is lower than this at full resolution become DontCare, pixels.
pub const DONT_CARE_HEIGHT: f64 = 15.0;
/// Objects with less than this share of their silhouette visible become DontCare.
pub const DONT_CARE_VISIBLE: f64 = 0.05;

/// Everything generated for one frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The world that was rendered.
    pub world: World,
    /// Sensor rig (calibration and image size).
    pub rig: Rig,
    /// Left image (`image_2`) with depth and object ids.
    pub left: CameraImage,
    /// Right image (`image_3`).
    pub right: CameraImage,
    /// Exact disparity of the left image (0 on the sky).
    pub disparity: DisparityMap,
    /// Label lines.
    pub labels: Vec<Object>,
    /// Label line (0-based) of each world object, `None` for objects not labelled.
    pub label_of_object: Vec<Option<usize>>,
    /// Left-image instance mask: label line number (1-based) or 0.
    pub mask: InstanceMask,
    /// LiDAR returns.
    pub lidar: Vec<Return>,
}

/// Settings for generating frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameConfig {
    /// Image scale relative to KITTI's 1242 × 375 (intrinsics scale with it).
    pub scale: f64,
    /// Scene contents.
    pub scene: SceneConfig,
    /// LiDAR model.
    pub lidar: LidarConfig,
}

impl Default for FrameConfig {
    fn default() -> Self {
        FrameConfig {
            scale: 1.0,
            scene: SceneConfig::default(),
            lidar: LidarConfig::default(),
        }
    }
}

/// Generates frame number `index` of the set with seed `seed`; a pure function of its inputs.
pub fn generate_frame(cfg: &FrameConfig, seed: u64, index: u64) -> Frame {
    let frame_seed = hash(&[seed, index]);
    let mut rng = Rng::new(frame_seed);
    let rig = Rig::kitti_like(cfg.scale);
    let world = sample_world(&cfg.scene, &mut rng);
    let left = render_camera(&world, &rig, 2, hash(&[frame_seed, 2]));
    let right = render_camera(&world, &rig, 3, hash(&[frame_seed, 3]));
    let lidar = scan(&world, &rig, &cfg.lidar, hash(&[frame_seed, 64]));
    let fb = rig.calib.fu() * rig.calib.baseline();
    let mut disparity = DisparityMap::new(rig.width, rig.height);
    for (d, &z) in disparity.data.iter_mut().zip(&left.depth) {
        if z > 0.0 {
            *d = (fb / z as f64) as f32;
        }
    }
    let (labels, label_of_object) = derive_labels(&world, &rig, &left, cfg.scale);
    let mask = InstanceMask {
        width: rig.width,
        height: rig.height,
        data: left
            .object
            .iter()
            .map(|o| {
                o.and_then(|i| label_of_object[i as usize])
                    .map_or(0, |line| line as u16 + 1)
            })
            .collect(),
    };
    Frame {
        world,
        rig,
        left,
        right,
        disparity,
        labels,
        label_of_object,
        mask,
        lidar,
    }
}

/// Rounds to KITTI's two decimals.
fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Label lines for the world's objects: truncation from the share of the projected box outside
/// the image, occlusion from the share of the object's silhouette hidden by other surfaces,
/// DontCare for objects too small or too hidden to label, nothing for objects not in view.
fn derive_labels(
    world: &World,
    rig: &Rig,
    left: &CameraImage,
    scale: f64,
) -> (Vec<Object>, Vec<Option<usize>>) {
    let calib: &Calibration = &rig.calib;
    let mut visible = vec![0usize; world.objects.len()];
    for o in left.object.iter().flatten() {
        visible[*o as usize] += 1;
    }
    let mut labels = Vec::new();
    let mut line_of = vec![None; world.objects.len()];
    for (i, obj) in world.objects.iter().enumerate() {
        let Some(extent) = obj.box3d.image_extent(calib) else {
            continue;
        };
        let Some(clipped) = extent.clipped(rig.width, rig.height) else {
            continue;
        };
        if visible[i] == 0 {
            continue;
        }
        let cols = (
            clipped.left.floor() as u32,
            (clipped.right.ceil() as u32).min(rig.width - 1),
        );
        let rows = (
            clipped.top.floor() as u32,
            (clipped.bottom.ceil() as u32).min(rig.height - 1),
        );
        let silhouette = silhouette_pixels(world, rig, i, cols, rows).max(visible[i]);
        let visible_share = visible[i] as f64 / silhouette as f64;
        let bbox = Box2D {
            left: r2(clipped.left),
            top: r2(clipped.top),
            right: r2(clipped.right),
            bottom: r2(clipped.bottom),
        };
        let object =
            if bbox.height() / scale < DONT_CARE_HEIGHT || visible_share < DONT_CARE_VISIBLE {
                Object::dont_care(bbox)
            } else {
                let truncated = if extent.area() > 0.0 {
                    (1.0 - clipped.area() / extent.area()).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let hidden = 1.0 - visible_share;
                Object {
                    kind: obj.kind,
                    truncated: r2(truncated),
                    occluded: if hidden < 0.15 {
                        0
                    } else if hidden < 0.5 {
                        1
                    } else {
                        2
                    },
                    alpha: r2(obj.box3d.alpha()),
                    bbox,
                    box3d: obj.box3d,
                    score: None,
                }
            };
        line_of[i] = Some(labels.len());
        labels.push(object);
    }
    (labels, line_of)
}

impl Frame {
    /// Whether world object `i` has a label line of its own class (not DontCare).
    pub fn is_labelled(&self, i: usize) -> bool {
        self.label_of_object[i].is_some_and(|l| self.labels[l].kind != ObjectType::DontCare)
    }
}
