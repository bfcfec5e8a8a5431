//! Hand-worked cases of the KITTI rules. Values come from following the devkit's algorithm on
//! paper; note its quirk that precision is indexed by score threshold, so a class with fewer
//! than 41 ground-truth objects can never reach AP|R40 = 100.

use eval::{evaluate, Class, Difficulty, EvalConfig, FrameLabels, IouSet};
use kitti::{Box2D, Box3D, Object, ObjectType};
use nalgebra::Point3;

/// A car 4 m long, 2 m wide, 1.5 m high at camera (x, 1.6, z), with a 2D box 60 px high.
fn car(x: f64, z: f64) -> Object {
    Object {
        kind: ObjectType::Car,
        truncated: 0.0,
        occluded: 0,
        alpha: 0.0,
        bbox: Box2D {
            left: 100.0 + 10.0 * x,
            top: 100.0,
            right: 200.0 + 10.0 * x,
            bottom: 160.0,
        },
        box3d: Box3D {
            location: Point3::new(x, 1.6, z),
            h: 1.5,
            w: 2.0,
            l: 4.0,
            ry: 0.0,
        },
        score: None,
    }
}

fn det(mut o: Object, score: f64) -> Object {
    o.score = Some(score);
    o
}

fn ap(frames: &[FrameLabels], cfg: &EvalConfig, key: &str) -> Option<f64> {
    evaluate(frames, cfg)
        .get(key)
        .unwrap_or_else(|| panic!("{key} was not evaluated"))
}

fn cars_only() -> EvalConfig {
    EvalConfig {
        classes: vec![Class::Car],
        ..Default::default()
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// 41 copies of a frame: enough ground truth for every one of the 41 recall samples.
fn copies(f: FrameLabels) -> Vec<FrameLabels> {
    vec![f; 41]
}

#[test]
fn iou_just_above_and_just_below_the_threshold() {
    // Shifting a 4 m box by δ along its length gives BEV and 3D IoU (4 − δ)/(4 + δ):
    // δ = 0.70 → 0.7021 (a match at 0.7), δ = 0.71 → 0.6985 (none).
    let gt = car(0.0, 20.0);
    let mut near = car(0.0, 20.0);
    near.box3d.location.x += 0.70;
    let mut far = car(0.0, 20.0);
    far.box3d.location.x += 0.71;
    let cfg = cars_only();
    let above = copies(FrameLabels {
        gt: vec![gt.clone()],
        det: vec![det(near, 0.9)],
    });
    let below = copies(FrameLabels {
        gt: vec![gt.clone()],
        det: vec![det(far, 0.9)],
    });
    for key in [
        "Car/3d/moderate/R40@0.70",
        "Car/bev/moderate/R40@0.70",
        "Car/3d/moderate/R11@0.70",
    ] {
        assert!(close(ap(&above, &cfg, key), 100.0), "{key}");
        assert!(close(ap(&below, &cfg, key), 0.0), "{key}");
    }
    // Under the loose set (car BEV/3D at 0.5) the farther box matches too.
    let loose = EvalConfig {
        iou_sets: vec![IouSet::Loose],
        ..cars_only()
    };
    assert!(close(ap(&below, &loose, "Car/3d/moderate/R40@0.50"), 100.0));

    // 2D: a box covering exactly 70% of the ground truth's area has IoU exactly 0.7, which is
    // not strictly greater, so it does not match; 71% does.
    let mut exact = gt.clone();
    exact.bbox.right = exact.bbox.left + 70.0;
    let mut more = gt.clone();
    more.bbox.right = more.bbox.left + 71.0;
    let f = |d: Object| {
        copies(FrameLabels {
            gt: vec![gt.clone()],
            det: vec![det(d, 0.9)],
        })
    };
    assert!(close(ap(&f(exact), &cfg, "Car/2d/easy/R40@0.70"), 0.0));
    assert!(close(ap(&f(more), &cfg, "Car/2d/easy/R40@0.70"), 100.0));
}

#[test]
fn few_ground_truths_follow_the_devkit_threshold_indexing() {
    // One perfectly detected car: one threshold, precision[0] = 1, the rest 0.
    let one = vec![FrameLabels {
        gt: vec![car(0.0, 20.0)],
        det: vec![det(car(0.0, 20.0), 1.0)],
    }];
    let cfg = cars_only();
    assert!(close(ap(&one, &cfg, "Car/3d/easy/R11@0.70"), 100.0 / 11.0));
    assert!(close(ap(&one, &cfg, "Car/3d/easy/R40@0.70"), 0.0));
}

#[test]
fn a_small_multi_frame_case_worked_on_paper() {
    // Four frames, one car each. Frame 0: TP at 0.9. Frame 1: TP at 0.8. Frame 2: a detection
    // at 0.85 that misses (FP) and its car missed. Frame 3: nothing detected.
    // TP scores [0.9, 0.8], n_gt 4 → thresholds [0.9, 0.8].
    // At 0.9: TP 1, FP 0 → precision 1. At 0.8: TP 2, FP 1 → precision 2/3.
    // R11 = precision[0] / 11 = 9.0909; R40 = precision[1] / 40 = 1.6667.
    let frames = vec![
        FrameLabels {
            gt: vec![car(0.0, 20.0)],
            det: vec![det(car(0.0, 20.0), 0.9)],
        },
        FrameLabels {
            gt: vec![car(0.0, 20.0)],
            det: vec![det(car(0.1, 20.0), 0.8)],
        },
        FrameLabels {
            gt: vec![car(0.0, 20.0)],
            det: vec![det(car(5.0, 30.0), 0.85)],
        },
        FrameLabels {
            gt: vec![car(0.0, 20.0)],
            det: vec![],
        },
    ];
    let cfg = cars_only();
    assert!(close(
        ap(&frames, &cfg, "Car/3d/moderate/R11@0.70"),
        100.0 / 11.0
    ));
    assert!(close(
        ap(&frames, &cfg, "Car/3d/moderate/R40@0.70"),
        100.0 * (2.0 / 3.0) / 40.0
    ));
}

#[test]
fn difficulty_edges() {
    let cfg = cars_only();
    let tall = car(0.0, 20.0);
    // Ground truth exactly 25 px high: ignored in Moderate (height must exceed 25).
    let mut short = car(-6.0, 30.0);
    short.bbox.bottom = short.bbox.top + 25.0;
    let frames = copies(FrameLabels {
        gt: vec![tall.clone(), short.clone()],
        det: vec![det(tall.clone(), 0.9), det(short.clone(), 0.95)],
    });
    // The short one's detection matches an ignored ground truth: neither TP nor FP.
    let r = evaluate(&frames, &cfg);
    let moderate = r
        .curves
        .iter()
        .find(|c| c.key(true) == "Car/3d/moderate/R40@0.70")
        .unwrap();
    assert_eq!(moderate.n_gt, 41);
    assert!(close(moderate.ap_r40(), 100.0));
    // 0.01 px taller and it counts.
    let mut counted = short.clone();
    counted.bbox.bottom += 0.01;
    let frames = copies(FrameLabels {
        gt: vec![tall.clone(), counted.clone()],
        det: vec![det(tall.clone(), 0.9), det(counted, 0.95)],
    });
    let r = evaluate(&frames, &cfg);
    assert_eq!(
        r.curves
            .iter()
            .find(|c| c.key(true) == "Car/3d/moderate/R40@0.70")
            .unwrap()
            .n_gt,
        82
    );

    // An unmatched detection exactly 25 px high is considered (not below the minimum): an FP.
    let mut fp = car(8.0, 50.0);
    fp.bbox.bottom = fp.bbox.top + 25.0;
    let frames = copies(FrameLabels {
        gt: vec![tall.clone()],
        det: vec![det(tall.clone(), 0.9), det(fp.clone(), 0.95)],
    });
    assert!(close(ap(&frames, &cfg, "Car/3d/moderate/R40@0.70"), 50.0));
    // 24.99 px high: ignored, so no FP.
    fp.bbox.bottom -= 0.01;
    let frames = copies(FrameLabels {
        gt: vec![tall.clone()],
        det: vec![det(tall.clone(), 0.9), det(fp, 0.95)],
    });
    assert!(close(ap(&frames, &cfg, "Car/3d/moderate/R40@0.70"), 100.0));

    // Truncation exactly 0.3 is allowed in Moderate, not in Easy.
    let mut cut = tall.clone();
    cut.truncated = 0.3;
    let frames = copies(FrameLabels {
        gt: vec![cut.clone()],
        det: vec![det(cut, 0.9)],
    });
    let r = evaluate(&frames, &cfg);
    let n = |d: Difficulty| {
        r.curves
            .iter()
            .find(|c| c.key(true) == format!("Car/3d/{}/R40@0.70", d.key()))
            .unwrap()
            .n_gt
    };
    assert_eq!(
        (
            n(Difficulty::Easy),
            n(Difficulty::Moderate),
            n(Difficulty::Hard)
        ),
        (0, 41, 41)
    );
    assert_eq!(r.get("Car/3d/easy/R40@0.70"), Some(None));
}

#[test]
fn a_van_is_a_neighbour_of_car_neither_tp_nor_fp() {
    let cfg = cars_only();
    let mut van = car(6.0, 25.0);
    van.kind = ObjectType::Van;
    let frame = |dets: Vec<Object>| {
        copies(FrameLabels {
            gt: vec![car(0.0, 20.0), van.clone()],
            det: dets,
        })
    };
    // A car detection on the van: not an FP. The van itself undetected: not an FN.
    let mut on_van = van.clone();
    on_van.kind = ObjectType::Car;
    let with = frame(vec![det(car(0.0, 20.0), 0.9), det(on_van.clone(), 0.95)]);
    assert!(close(ap(&with, &cfg, "Car/3d/moderate/R40@0.70"), 100.0));
    let without = frame(vec![det(car(0.0, 20.0), 0.9)]);
    assert!(close(ap(&without, &cfg, "Car/3d/moderate/R40@0.70"), 100.0));
    // The same detection on a truck (not a neighbour) is an FP: precision 1/2.
    let mut truck = van.clone();
    truck.kind = ObjectType::Truck;
    let frames = copies(FrameLabels {
        gt: vec![car(0.0, 20.0), truck],
        det: vec![det(car(0.0, 20.0), 0.9), det(on_van, 0.95)],
    });
    assert!(close(ap(&frames, &cfg, "Car/3d/moderate/R40@0.70"), 50.0));
}

#[test]
fn dont_care_suppresses_false_positives_in_2d_only() {
    let cfg = cars_only();
    // A DontCare region around a far detection with no ground truth behind it.
    let stray = car(9.0, 60.0);
    let region = Object::dont_care(Box2D {
        left: stray.bbox.left - 5.0,
        top: stray.bbox.top - 5.0,
        right: stray.bbox.right + 5.0,
        bottom: stray.bbox.bottom + 5.0,
    });
    let frames = copies(FrameLabels {
        gt: vec![car(0.0, 20.0), region],
        det: vec![det(car(0.0, 20.0), 0.9), det(stray, 0.95)],
    });
    // 2D: the stray box lies inside the DontCare region, so it is not an FP.
    assert!(close(ap(&frames, &cfg, "Car/2d/moderate/R40@0.70"), 100.0));
    // BEV and 3D know no DontCare: an FP above the TP halves the precision.
    assert!(close(ap(&frames, &cfg, "Car/bev/moderate/R40@0.70"), 50.0));
    assert!(close(ap(&frames, &cfg, "Car/3d/moderate/R40@0.70"), 50.0));
}

#[test]
fn range_bins_filter_ground_truth_and_detections_alike() {
    let cfg = EvalConfig {
        difficulties: false,
        ranges: vec![(0.0, 20.0), (20.0, 40.0)],
        ..cars_only()
    };
    // A near car found, a far car missed, a far false positive. Heights, occlusion and
    // truncation do not matter in range mode: the near car is heavily occluded.
    let mut near = car(0.0, 15.0);
    near.occluded = 3;
    let frames = copies(FrameLabels {
        gt: vec![near.clone(), car(3.0, 30.0)],
        det: vec![det(near, 0.9), det(car(-8.0, 35.0), 0.8)],
    });
    assert!(close(
        ap(&frames, &cfg, "Car/3d/range_0-20/R40@0.70"),
        100.0
    ));
    assert!(close(ap(&frames, &cfg, "Car/3d/range_20-40/R40@0.70"), 0.0));
    // A car at exactly 20 m belongs to (0, 20].
    let at20 = copies(FrameLabels {
        gt: vec![car(0.0, 20.0)],
        det: vec![det(car(0.0, 20.0), 0.9)],
    });
    assert!(close(ap(&at20, &cfg, "Car/3d/range_0-20/R40@0.70"), 100.0));
    assert_eq!(ap(&at20, &cfg, "Car/3d/range_20-40/R40@0.70"), None);
}

#[test]
fn aos_measures_orientation_on_the_2d_matches() {
    let cfg = cars_only();
    let gt = car(0.0, 20.0);
    let mut flipped = gt.clone();
    flipped.alpha = std::f64::consts::PI / 2.0; // Δalpha = 90°: similarity (1 + cos)/2 = 1/2
    let frames = copies(FrameLabels {
        gt: vec![gt],
        det: vec![det(flipped, 0.9)],
    });
    assert!(close(ap(&frames, &cfg, "Car/2d/easy/R40@0.70"), 100.0));
    assert!(close(ap(&frames, &cfg, "Car/aos/easy/R40@0.70"), 50.0));
}

#[test]
fn a_small_detection_of_another_class_absorbs_a_match_as_in_the_devkit() {
    // The devkit marks every detection below the minimum height as ignored before looking at
    // its class, so a 20 px "Pedestrian" box on a car neither counts for the car (no TP) nor
    // leaves it missed (no FN).
    let cfg = cars_only();
    let mut small_car = car(0.0, 20.0);
    small_car.bbox.bottom = small_car.bbox.top + 30.0; // Moderate ground truth (> 25 px)
    let mut tiny = small_car.clone();
    tiny.kind = ObjectType::Pedestrian;
    tiny.bbox.bottom = tiny.bbox.top + 20.0; // IoU 20/30 = 0.667 < 0.7 in 2D, same 3D box
    let frames = copies(FrameLabels {
        gt: vec![car(-8.0, 30.0), small_car],
        det: vec![det(car(-8.0, 30.0), 0.9), det(tiny, 0.95)],
    });
    let r = evaluate(&frames, &cfg);
    let three_d = r
        .curves
        .iter()
        .find(|c| c.key(true) == "Car/3d/moderate/R40@0.70")
        .unwrap();
    assert_eq!(three_d.n_gt, 82);
    let max_recall = |c: &eval::Curve| c.recall.iter().cloned().fold(0.0, f64::max);
    // 3D: 41 TPs, and the 41 small cars are absorbed (no FN): recall 41 / (41 + 0) = 1.
    assert_eq!(max_recall(three_d), 1.0);
    // 2D: the pedestrian box overlaps the car by only 0.667, so those cars are missed: 0.5.
    let two_d = r
        .curves
        .iter()
        .find(|c| c.key(true) == "Car/2d/moderate/R40@0.70")
        .unwrap();
    assert_eq!(max_recall(two_d), 0.5);
}

#[test]
fn every_threshold_of_every_iou_set_is_strict() {
    // Shifting a 4 m box by δ along its length: IoU (4 − δ)/(4 + δ), equal to t at
    // δ* = 4(1 − t)/(1 + t). 1 cm less matches, 1 cm more does not.
    for (class, kind, set, t) in [
        (Class::Car, ObjectType::Car, IouSet::Official, 0.7),
        (Class::Car, ObjectType::Car, IouSet::Loose, 0.5),
        (Class::Car, ObjectType::Car, IouSet::Strict, 0.9),
        (
            Class::Pedestrian,
            ObjectType::Pedestrian,
            IouSet::Official,
            0.5,
        ),
        (
            Class::Pedestrian,
            ObjectType::Pedestrian,
            IouSet::Loose,
            0.25,
        ),
        (
            Class::Pedestrian,
            ObjectType::Pedestrian,
            IouSet::Strict,
            0.7,
        ),
        (Class::Cyclist, ObjectType::Cyclist, IouSet::Official, 0.5),
    ] {
        let cfg = EvalConfig {
            classes: vec![class],
            iou_sets: vec![set],
            ..Default::default()
        };
        let mut gt = car(0.0, 20.0);
        gt.kind = kind;
        let star = 4.0 * (1.0 - t) / (1.0 + t);
        for (shift, expected) in [(star - 0.01, 100.0), (star + 0.01, 0.0)] {
            let mut d = gt.clone();
            d.box3d.location.x += shift;
            let frames = copies(FrameLabels {
                gt: vec![gt.clone()],
                det: vec![det(d, 0.9)],
            });
            for metric in ["bev", "3d"] {
                let key = format!("{}/{metric}/moderate/R40@{t:.2}", class.name());
                assert!(
                    close(ap(&frames, &cfg, &key), expected),
                    "{key} at shift {shift:.3}"
                );
            }
        }
    }
}
