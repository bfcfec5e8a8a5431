//! Training augmentation: ground-truth sampling from a database of labelled objects cut out of
//! the *same* point source the detector trains on (so a pseudo-LiDAR detector pastes
//! pseudo-LiDAR objects), then a random flip along x, a global rotation about z and a global
//! scaling of points and boxes together.

use crate::anchors::BoxParams;
use crate::config::{AugmentConfig, ClassSpec};
use crate::data::Frame;
use crate::postprocess::velo_box;
use crate::targets::GtBox;
use kitti::iou::velo_bev_iou;
use kitti::rng::Rng;
use kitti::velodyne::LidarPoint;
use nalgebra::Point3;

/// A labelled object cut out of a training cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledObject {
    /// Its box.
    pub gt: GtBox,
    /// The points inside the box.
    pub points: Vec<LidarPoint>,
}

/// Objects of every class, cut out of the training frames.
#[derive(Debug, Clone, Default)]
pub struct SampleDatabase {
    /// By class index.
    pub objects: Vec<Vec<SampledObject>>,
}

fn inside(b: &BoxParams, p: &LidarPoint) -> bool {
    velo_box(b).contains(&Point3::new(p.x as f64, p.y as f64, p.z as f64), 0.0)
}

/// The labelled objects of one frame holding at least `min_points` points, each with only the
/// points inside its box (what the database keeps of a frame).
pub fn frame_objects(frame: &Frame, min_points: usize) -> Vec<SampledObject> {
    frame
        .gt
        .iter()
        .filter_map(|g| {
            let points: Vec<LidarPoint> = frame
                .points
                .iter()
                .filter(|p| inside(&g.params, p))
                .copied()
                .collect();
            (points.len() >= min_points.max(1)).then_some(SampledObject { gt: *g, points })
        })
        .collect()
}

impl SampleDatabase {
    /// Adds objects cut out of a frame (see [`frame_objects`]) to their classes' pools.
    pub fn add_objects(&mut self, objects: Vec<SampledObject>, classes: usize) {
        self.objects
            .resize(classes.max(self.objects.len()), Vec::new());
        for o in objects {
            self.objects[o.gt.class].push(o);
        }
    }

    /// Adds the objects of one frame holding at least `min_points` points.
    pub fn add_frame(&mut self, frame: &Frame, classes: usize, min_points: usize) {
        self.add_objects(frame_objects(frame, min_points), classes);
    }

    /// Objects stored.
    pub fn len(&self) -> usize {
        self.objects.iter().map(Vec::len).sum()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pastes database objects into a frame until each class has the configured number of boxes:
/// candidates overlapping (BEV) a box of the model's classes, any other labelled object of the
/// frame (`obstacles`: vans, cyclists, … as OpenPCDet checks every labelled box) or an already
/// pasted box are skipped; scene points inside a pasted box are removed before its points are
/// added.
pub fn sample_objects(
    points: &mut Vec<LidarPoint>,
    gt: &mut Vec<GtBox>,
    obstacles: &[BoxParams],
    db: &SampleDatabase,
    cfg: &AugmentConfig,
    classes: &[ClassSpec],
    rng: &mut Rng,
) {
    let mut pasted: Vec<&SampledObject> = Vec::new();
    for (c, spec) in classes.iter().enumerate() {
        let want = cfg.sample_objects.get(&spec.name).copied().unwrap_or(0);
        let have = gt.iter().filter(|g| g.class == c).count();
        let pool = match db.objects.get(c) {
            Some(p) if !p.is_empty() => p,
            _ => continue,
        };
        for _ in have..want {
            let cand = &pool[rng.int(0, pool.len() as i64 - 1) as usize];
            let vb = velo_box(&cand.gt.params);
            let collides = gt
                .iter()
                .map(|g| &g.params)
                .chain(obstacles)
                .any(|b| velo_bev_iou(&vb, &velo_box(b)) > 0.0);
            if !collides {
                gt.push(cand.gt);
                pasted.push(cand);
            }
        }
    }
    if pasted.is_empty() {
        return;
    }
    points.retain(|p| !pasted.iter().any(|o| inside(&o.gt.params, p)));
    for o in pasted {
        points.extend_from_slice(&o.points);
    }
}

/// Mirrors points and boxes across the x axis (y → −y, heading → −heading).
pub fn flip(points: &mut [LidarPoint], gt: &mut [GtBox]) {
    for p in points.iter_mut() {
        p.y = -p.y;
    }
    for g in gt.iter_mut() {
        g.params[1] = -g.params[1];
        g.params[6] = -g.params[6];
    }
}

/// Rotates points and boxes about the z axis by `angle` radians.
pub fn rotate(points: &mut [LidarPoint], gt: &mut [GtBox], angle: f64) {
    let (s, c) = (angle.sin() as f32, angle.cos() as f32);
    let turn = |x: f32, y: f32| (c * x - s * y, s * x + c * y);
    for p in points.iter_mut() {
        (p.x, p.y) = turn(p.x, p.y);
    }
    for g in gt.iter_mut() {
        (g.params[0], g.params[1]) = turn(g.params[0], g.params[1]);
        g.params[6] += angle as f32;
    }
}

/// Scales points and boxes (positions and sizes) by `factor` about the origin.
pub fn scale(points: &mut [LidarPoint], gt: &mut [GtBox], factor: f64) {
    let f = factor as f32;
    for p in points.iter_mut() {
        p.x *= f;
        p.y *= f;
        p.z *= f;
    }
    for g in gt.iter_mut() {
        for v in &mut g.params[..6] {
            *v *= f;
        }
    }
}

/// The whole training augmentation of one frame, drawn from `rng`; `obstacles` are the frame's
/// labelled boxes of other classes (pasted objects must not land on them).
pub fn augment(
    points: &mut Vec<LidarPoint>,
    gt: &mut Vec<GtBox>,
    obstacles: &[BoxParams],
    db: &SampleDatabase,
    cfg: &AugmentConfig,
    classes: &[ClassSpec],
    rng: &mut Rng,
) {
    sample_objects(points, gt, obstacles, db, cfg, classes, rng);
    if cfg.flip && rng.chance(0.5) {
        flip(points, gt);
    }
    if cfg.rotation > 0.0 {
        rotate(points, gt, rng.uniform(-cfg.rotation, cfg.rotation));
    }
    if cfg.scaling[1] > cfg.scaling[0] {
        scale(points, gt, rng.uniform(cfg.scaling[0], cfg.scaling[1]));
    }
    // Points in a random order: the pillar caps then drop a random share, not the tail.
    for i in (1..points.len()).rev() {
        points.swap(i, rng.int(0, i as i64) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AnchorClass;

    fn pt(x: f32, y: f32, z: f32) -> LidarPoint {
        LidarPoint { x, y, z, r: 0.3 }
    }

    fn gt(x: f32, y: f32, heading: f32) -> GtBox {
        GtBox {
            class: 0,
            params: [x, y, -1.0, 4.0, 2.0, 1.5, heading],
        }
    }

    fn spec() -> Vec<ClassSpec> {
        vec![ClassSpec {
            name: "Car".into(),
            kind: kitti::label::ObjectType::Car,
            anchor: AnchorClass::reference()["Car"].clone(),
        }]
    }

    #[test]
    fn geometric_augmentations_keep_points_inside_their_boxes() {
        let mut points = vec![pt(10.5, 2.3, -0.8), pt(9.2, 1.6, -1.5), pt(30.0, -5.0, 0.0)];
        let mut boxes = vec![gt(10.0, 2.0, 0.4)];
        assert!(points[..2].iter().all(|p| inside(&boxes[0].params, p)));
        flip(&mut points, &mut boxes);
        rotate(&mut points, &mut boxes, 0.6);
        scale(&mut points, &mut boxes, 1.04);
        assert!(points[..2].iter().all(|p| inside(&boxes[0].params, p)));
        assert!(!inside(&boxes[0].params, &points[2]));
        // Flip then rotate by 0.6 then scale: the centre (10, 2) → (10, −2) → rotated → ×1.04.
        let (s, c) = 0.6f64.sin_cos();
        let want = [1.04 * (c * 10.0 + s * 2.0), 1.04 * (s * 10.0 - c * 2.0)];
        assert!((boxes[0].params[0] as f64 - want[0]).abs() < 1e-4);
        assert!((boxes[0].params[1] as f64 - want[1]).abs() < 1e-4);
        assert!((boxes[0].params[6] - (-0.4 + 0.6)).abs() < 1e-6);
        assert!((boxes[0].params[3] - 4.16).abs() < 1e-5);
    }

    #[test]
    fn sampling_pastes_objects_that_do_not_collide_and_replaces_their_points() {
        let source = Frame {
            id: "000000".into(),
            points: vec![pt(20.0, 5.0, -1.0), pt(20.5, 5.2, -0.7), pt(40.0, 0.0, 0.0)],
            gt: vec![gt(20.0, 5.0, 0.0)],
            labels: Vec::new(),
            calib: kitti::calib::Calibration::ideal(700.0, 600.0, 180.0),
            image_size: (1242, 375),
        };
        let mut db = SampleDatabase::default();
        db.add_frame(&source, 1, 2);
        assert_eq!(db.len(), 1);
        let cfg = AugmentConfig {
            sample_objects: [("Car".to_string(), 2)].into(),
            ..AugmentConfig::default()
        };
        // A scene with one car elsewhere and a stray point where the pasted car will go.
        let mut points = vec![pt(20.1, 5.1, -1.2), pt(8.0, 0.0, -1.0)];
        let mut boxes = vec![gt(8.0, 0.0, 0.0)];
        sample_objects(
            &mut points,
            &mut boxes,
            &[],
            &db,
            &cfg,
            &spec(),
            &mut Rng::new(1),
        );
        assert_eq!(boxes.len(), 2);
        assert_eq!(
            points,
            vec![pt(8.0, 0.0, -1.0), pt(20.0, 5.0, -1.0), pt(20.5, 5.2, -0.7)]
        );
        // The same object again collides with itself: nothing more is pasted.
        let mut again = boxes.clone();
        sample_objects(
            &mut points,
            &mut again,
            &[],
            &db,
            &AugmentConfig {
                sample_objects: [("Car".to_string(), 5)].into(),
                ..cfg
            },
            &spec(),
            &mut Rng::new(2),
        );
        assert_eq!(again, boxes);
        // A pedestrian (not one of the model's classes) where the car would go blocks it, and
        // its points stay.
        let mut scene = vec![pt(20.1, 5.1, -1.2), pt(8.0, 0.0, -1.0)];
        let mut cars = vec![gt(8.0, 0.0, 0.0)];
        let pedestrian = [20.2, 5.3, -0.9, 0.8, 0.6, 1.7, 0.0];
        sample_objects(
            &mut scene,
            &mut cars,
            &[pedestrian],
            &db,
            &cfg,
            &spec(),
            &mut Rng::new(1),
        );
        assert_eq!(cars, vec![gt(8.0, 0.0, 0.0)]);
        assert_eq!(scene, vec![pt(20.1, 5.1, -1.2), pt(8.0, 0.0, -1.0)]);
    }
}
