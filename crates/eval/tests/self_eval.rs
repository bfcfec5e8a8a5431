//! Ground truth evaluated against itself: every AP is 100 wherever a class has at least 41
//! objects, and otherwise exactly what the devkit's threshold indexing gives.

use eval::{evaluate, EvalConfig, FrameLabels, IouSet};
use kitti::{Box2D, Box3D, Object, ObjectType};
use nalgebra::Point3;

/// The AP the devkit gives for a perfect detector on `n` ground truths: all `n` TP scores are
/// thresholds up to 41, each with precision 1.
pub fn perfect_ap(n: usize, r40: bool) -> f64 {
    let t = n.min(41);
    if r40 {
        (t.saturating_sub(1)) as f64 / 40.0 * 100.0
    } else {
        (0..41).step_by(4).filter(|&i| i < t).count() as f64 / 11.0 * 100.0
    }
}

/// A deterministic scatter of labelled objects of every type, with varied heights,
/// truncation and occlusion, plus DontCare regions.
fn scene(frame: u64) -> Vec<Object> {
    let mut s = frame
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let kinds = [
        ObjectType::Car,
        ObjectType::Car,
        ObjectType::Van,
        ObjectType::Pedestrian,
        ObjectType::PersonSitting,
        ObjectType::Cyclist,
        ObjectType::Truck,
        ObjectType::DontCare,
    ];
    (0..8)
        .map(|i| {
            let top = 100.0 + 50.0 * next();
            let bbox = Box2D {
                left: 100.0 * i as f64,
                top,
                right: 100.0 * i as f64 + 60.0,
                bottom: top + 10.0 + 60.0 * next(),
            };
            if kinds[i] == ObjectType::DontCare {
                return Object::dont_care(bbox);
            }
            Object {
                kind: kinds[i],
                truncated: (next() * 0.6 * 100.0).round() / 100.0,
                occluded: (next() * 3.0) as i32,
                alpha: next() * 6.0 - 3.0,
                bbox,
                box3d: Box3D {
                    location: Point3::new(-20.0 + 5.0 * i as f64, 1.6, 5.0 + 60.0 * next()),
                    h: 1.5,
                    w: 1.6,
                    l: 3.9,
                    ry: next() * 6.0 - 3.0,
                },
                score: None,
            }
        })
        .collect()
}

fn as_detections(gt: &[Object]) -> Vec<Object> {
    gt.iter()
        .filter(|o| o.kind != ObjectType::DontCare)
        .map(|o| Object {
            score: Some(1.0),
            ..o.clone()
        })
        .collect()
}

#[test]
fn ground_truth_against_itself() {
    for n_frames in [3u64, 200] {
        let frames: Vec<FrameLabels> = (0..n_frames)
            .map(|f| {
                let gt = scene(f);
                FrameLabels {
                    det: as_detections(&gt),
                    gt,
                }
            })
            .collect();
        let cfg = EvalConfig {
            iou_sets: vec![IouSet::Official, IouSet::Loose, IouSet::Strict],
            ranges: vec![(0.0, 20.0), (20.0, 80.0)],
            ..Default::default()
        };
        let r = evaluate(&frames, &cfg);
        assert_eq!(r.curves.len(), 3 * 5 * 3 * 4);
        let mut hundreds = 0;
        for c in &r.curves {
            if c.n_gt == 0 {
                assert_eq!(c.ap_r40(), None);
                continue;
            }
            for r40 in [false, true] {
                let ap = if r40 { c.ap_r40() } else { c.ap_r11() }.unwrap();
                assert!(
                    (ap - perfect_ap(c.n_gt, r40)).abs() < 1e-9,
                    "{} with {} objects: {ap}",
                    c.key(r40),
                    c.n_gt
                );
                hundreds += (ap == 100.0) as usize;
            }
        }
        if n_frames == 200 {
            assert!(
                hundreds > 100,
                "large sets should mostly reach 100: {hundreds}"
            );
        }
    }
}
