use super::markdown::training_noise_note;
use super::*;

#[test]
fn stats_are_mean_and_sample_deviation() {
    let s = stats(&[1.0, 2.0, 4.0]);
    assert!((s["mean"].as_f64().unwrap() - 7.0 / 3.0).abs() < 1e-12);
    let var = ((1.0f64 - 7.0 / 3.0).powi(2)
        + (2.0f64 - 7.0 / 3.0).powi(2)
        + (4.0f64 - 7.0 / 3.0).powi(2))
        / 2.0;
    assert!((s["std"].as_f64().unwrap() - var.sqrt()).abs() < 1e-12);
    assert_eq!(stats(&[3.0])["std"].as_f64(), Some(0.0));
}

fn car(x: f64, z: f64, score: Option<f64>) -> kitti::Object {
    kitti::Object {
        kind: kitti::ObjectType::Car,
        truncated: 0.0,
        occluded: 0,
        alpha: 0.0,
        bbox: kitti::Box2D {
            left: 300.0 + 30.0 * x,
            top: 150.0,
            right: 380.0 + 30.0 * x,
            bottom: 200.0,
        },
        box3d: kitti::Box3D {
            location: nalgebra::Point3::new(x, 1.6, z),
            h: 1.5,
            w: 1.6,
            l: 3.9,
            ry: 0.0,
        },
        score,
    }
}

/// 40 val frames of three cars each; a detector finds a car of frame `f` unless
/// `(f + k) % miss_every == 0`, plus one false positive in every fifth frame.
fn detector(miss_every: usize, seed: u64) -> DetectorEval {
    let frames = (0..40)
        .map(|f| {
            let gt: Vec<kitti::Object> = (0..3)
                .map(|k| car(-6.0 + 6.0 * k as f64, 10.0 + k as f64 * 8.0, None))
                .collect();
            let mut det: Vec<kitti::Object> = gt
                .iter()
                .enumerate()
                .filter(|(k, _)| (f + k) % miss_every != 0)
                .map(|(k, g)| kitti::Object {
                    score: Some(0.9 - 0.01 * ((f * 3 + k) % 7) as f64),
                    ..g.clone()
                })
                .collect();
            if f % 5 == 0 {
                det.push(car(12.0, 30.0, Some(0.5)));
            }
            eval::FrameLabels { gt, det }
        })
        .collect::<Vec<_>>();
    let cfg = eval::EvalConfig {
        classes: vec![eval::Class::Car, eval::Class::Pedestrian],
        iou_sets: vec![eval::IouSet::Official, eval::IouSet::Loose],
        ..eval::EvalConfig::default()
    };
    let aps = eval::report::json(&eval::evaluate(&frames, &cfg));
    DetectorEval {
        upstream_seed: seed,
        detector_seed: seed,
        aps,
        frames,
    }
}

/// Per-frame upstream errors: `mae` on every frame, give or take a frame-to-frame wobble.
fn upstream(mae: f64) -> UpstreamMetrics {
    let frames: Vec<disparity::Breakdown> = (0..40)
        .map(|f| {
            let mut b = disparity::Breakdown::default();
            let e = mae + 0.3 * ((f % 4) as f64 - 1.5);
            b.all.depth_pixels = 100;
            b.all.abs_depth = e * 100.0;
            b.classes[0] = b.all;
            b.classes[1] = b.all;
            b
        })
        .collect();
    from_frames(frames)
}

/// A variant's metrics from its per-frame breakdowns (every pixel common to all variants).
fn from_frames(frames: Vec<disparity::Breakdown>) -> UpstreamMetrics {
    let common = disparity::Breakdown::total(&frames);
    UpstreamMetrics {
        own: common.clone(),
        common,
        frames,
    }
}

/// Two seeds; variants `lidar`, `disp` (the baseline), `depth` and `worse`; a car and a
/// pedestrian detector.
fn four_variant_config() -> ExperimentConfig {
    toml::from_str(
        r#"
name = "t"
seeds = [0, 1]
baseline = "disp"
[data.synthetic]
frames = 4
[[upstream]]
name = "lidar"
kind = "lidar"
[[upstream]]
name = "disp"
kind = "psmnet"
[[upstream]]
name = "depth"
kind = "psmnet"
loss = "depth"
[[upstream]]
name = "worse"
kind = "psmnet"
[[downstream]]
name = "car"
class = "Car"
[[downstream]]
name = "ped"
class = "Pedestrian"
"#,
    )
    .unwrap()
}

/// Two seeds; `depth` has a lower depth error than `disp` on every frame; its car detector
/// misses a car in every second frame where `disp`'s misses one in eleven (a loss); its
/// pedestrian-class comparison has no pedestrians at all (undefined AP: inconclusive);
/// `worse` has a higher error.
#[test]
fn the_report_decides_by_the_paired_intervals() {
    let cfg = four_variant_config();
    let mut r = Results {
        frames: 40,
        ..Results::default()
    };
    r.upstream
        .insert("disp".into(), vec![upstream(2.0), upstream(2.1)]);
    r.upstream
        .insert("depth".into(), vec![upstream(1.5), upstream(1.6)]);
    r.upstream
        .insert("worse".into(), vec![upstream(2.6), upstream(2.7)]);
    for det in ["car", "ped"] {
        let mut put = |variant: &str, miss_every: usize| {
            r.downstream.insert(
                (det.into(), "sparse".into(), variant.into()),
                vec![detector(miss_every, 0), detector(miss_every, 1)],
            );
        };
        put("lidar", 1000);
        put("disp", 11);
        put("depth", 2);
        put("worse", 11);
    }
    let report = build(&cfg, &r, 1.0);
    let v = report["verdicts"].as_array().unwrap();
    assert_eq!(v.len(), 6);
    let find = |det: &str, variant: &str| {
        v.iter()
            .find(|x| x["downstream"] == det && x["variant"] == variant)
            .unwrap()
    };
    let car_depth = find("car", "depth");
    assert_eq!(car_depth["decision"], "self-defeating", "{car_depth}");
    let up = &car_depth["upstream_change"]["depth_mae"];
    assert!(
        (up["estimate"].as_f64().unwrap() + 0.5).abs() < 1e-9,
        "{up}"
    );
    assert!(up["hi"].as_f64().unwrap() < 0.0, "{up}");
    let ap = &car_depth["ap_change"];
    assert!(
        ap["hi"].as_f64().unwrap() < 0.0 && ap["lo"].as_f64().unwrap() < ap["hi"].as_f64().unwrap(),
        "{ap}"
    );
    assert_eq!(car_depth["variant_ap"].as_array().unwrap().len(), 2);
    assert_eq!(car_depth["resamples"], 1000);
    assert_eq!(find("car", "lidar")["decision"], "no-upstream-improvement");
    assert_eq!(find("car", "worse")["decision"], "no-upstream-improvement");
    // Same detections as the baseline: ΔAP exactly 0 on every resample, which spans zero.
    assert_eq!(find("car", "worse")["ap_change"]["lo"], 0.0);
    assert_eq!(find("ped", "depth")["decision"], "inconclusive");
    assert!(find("ped", "depth")["ap_change"].is_null());
    let md = markdown(&cfg, &report);
    assert!(
        md.contains("**SELF-DEFEATING**") && md.contains("Decision rule"),
        "{md}"
    );
    assert!(md.contains("-0.500 [-"), "{md}");
    // Disjoint splits: no in-sample warning (the end-to-end tests check the warning's presence).
    assert!(!md.contains("In-sample"), "{md}");
    // Two upstream seeds, a detector each: the intervals cover training noise, no caveat.
    assert!(!md.contains("not training noise"), "{md}");
    // The clouds' depth-edge filter, when set, is named where the detectors' APs are.
    assert!(!md.contains("depth edges"), "{md}");
    let mut edged = cfg.clone();
    edged.points.edges = Some(pseudo_lidar::EdgeFilter {
        radius: 2,
        ratio: 0.15,
    });
    let md = markdown(&edged, &report);
    assert!(
        md.contains("sparse clouds (depth edges dropped from the disparity variants' maps: window radius 2 px, share 0.15), official IoU"),
        "{md}"
    );
    let mut one = cfg.clone();
    one.seeds = vec![0];
    let note = training_noise_note(&one).unwrap();
    assert!(
        note.starts_with("One trained upstream model and one detector per variant")
            && note.contains("several upstream `seeds`"),
        "{note}"
    );
    one.downstream_seeds = Some(vec![0, 1]);
    assert!(training_noise_note(&one)
        .unwrap()
        .starts_with("One trained upstream model per variant:"));
    // No trained upstream model (LiDAR only): only the detectors' seeds matter.
    one.upstream.retain(|u| !u.trained());
    assert_eq!(training_noise_note(&one), None);
    one.downstream_seeds = None;
    assert!(training_noise_note(&one)
        .unwrap()
        .contains("several `downstream_seeds`"));
}

#[test]
fn a_verdict_line_gives_the_intervals_and_what_decided() {
    let i = |e: f64, lo: f64, hi: f64| json!({"estimate": e, "lo": lo, "hi": hi, "resamples": 1000, "undefined": 0});
    let v = json!({
        "downstream": "pedestrian", "cloud": "sparse", "variant": "depth", "baseline": "disp",
        "metric": "Pedestrian/3d/moderate/R40@0.50",
        "upstream_change": {"depth_mae": i(-0.2, -0.3, -0.1)},
        "ap_change": i(-3.0, -5.0, -1.0),
        "decision": "self-defeating", "decision_label": "SELF-DEFEATING", "reason": "because",
    });
    let line = verdict_line(&v);
    assert!(
        line.contains("**SELF-DEFEATING**")
            && line.contains("-3.00 [-5.00, -1.00]")
            && line.contains("-0.200 [-0.300, -0.100] m")
            && line.contains("because"),
        "{line}"
    );
}

/// A variant's per-frame objects: two cars at 20-40 m placed `error` m too far (give or
/// take a frame-to-frame wobble) and one at 0-10 m placed exactly, in each of 40 frames.
fn with_objects(error: f64) -> UpstreamMetrics {
    let mut m = upstream(2.0);
    for (f, b) in m.frames.iter_mut().enumerate() {
        let e = error + 0.2 * ((f % 4) as f64 - 1.5);
        let far = &mut b.objects[0][2];
        (far.objects, far.placed, far.farther) = (2, 2, 2);
        (far.abs_median, far.median) = (2.0 * e, 2.0 * e);
        let near = &mut b.objects[0][0];
        (near.objects, near.placed, near.within) = (1, 1, 1);
    }
    from_frames(m.frames)
}

#[test]
fn outline_errors_and_their_change_are_reported_where_outlines_are_known() {
    // Car outlines of 50 pixels a frame placed `mae` m off on average; no pedestrian
    // outline (as without instance masks).
    let with_outline = |mae: f64| {
        let mut m = upstream(2.0);
        for (f, b) in m.frames.iter_mut().enumerate() {
            let o = &mut b.outlines[0];
            (o.gt_pixels, o.pixels, o.depth_pixels) = (50, 50, 50);
            o.abs_depth = 50.0 * (mae + 0.1 * ((f % 4) as f64 - 1.5));
        }
        from_frames(m.frames)
    };
    let cfg = four_variant_config();
    let mut r = Results {
        frames: 40,
        ..Results::default()
    };
    r.upstream.insert("disp".into(), vec![with_outline(3.0)]);
    r.upstream.insert("depth".into(), vec![with_outline(3.5)]);
    let report = build(&cfg, &r, 1.0);
    let depth = &report["upstream"]["depth"];
    assert!(
        (depth["car_outline_depth_mae"]["mean"].as_f64().unwrap() - 3.5).abs() < 1e-9,
        "{depth}"
    );
    assert!(depth["pedestrian_outline_depth_mae"].is_null(), "{depth}");
    // Higher on every frame: the change's interval lies above zero; none without outlines.
    let changes = &report["upstream_changes"]["depth"];
    let car = &changes["car_outline_depth_mae"];
    assert!(
        (car["estimate"].as_f64().unwrap() - 0.5).abs() < 1e-9,
        "{car}"
    );
    assert!(car["lo"].as_f64().unwrap() > 0.0, "{car}");
    assert!(
        changes["pedestrian_outline_depth_mae"].is_null(),
        "{changes}"
    );
    let md = markdown(&cfg, &report);
    assert!(
        md.contains("| depth | 2.00 | 2.00 | 2.00 | 3.50 | – |"),
        "{md}"
    );
    assert!(
        md.contains("| +0.500 [+0.") && md.contains("] | – |\n"),
        "{md}"
    );
}

#[test]
fn the_upstream_section_gives_each_objects_error_and_its_change() {
    let cfg = four_variant_config();
    let mut r = Results {
        frames: 40,
        ..Results::default()
    };
    r.upstream
        .insert("disp".into(), vec![with_objects(3.0), with_objects(3.0)]);
    r.upstream
        .insert("depth".into(), vec![with_objects(2.0), with_objects(2.0)]);
    let report = build(&cfg, &r, 1.0);
    // The wobble averages out over the 40 frames: errors 3.0 and 2.0, all too far.
    let far = &report["upstream"]["depth"]["objects"]["Car/20-40 m"];
    assert_eq!(far["objects"]["mean"], 80.0);
    assert!(
        (far["error"]["mean"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{far}"
    );
    assert!(
        (far["bias"]["mean"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{far}"
    );
    assert_eq!(far["farther"]["mean"], 1.0);
    let near = &report["upstream"]["depth"]["objects"]["Car/0-10 m"];
    assert_eq!(
        (
            near["error"]["mean"].as_f64(),
            near["within"]["mean"].as_f64()
        ),
        (Some(0.0), Some(1.0))
    );
    // Lower on every frame: the change's interval lies below zero.
    let change = &report["upstream_changes"]["depth"]["object_error/Car/20-40 m"];
    assert!(
        (change["estimate"].as_f64().unwrap() + 1.0).abs() < 1e-9,
        "{change}"
    );
    assert!(change["hi"].as_f64().unwrap() < 0.0, "{change}");
    // Cells without objects have no column; those with objects name their count.
    let md = markdown(&cfg, &report);
    assert!(
        md.contains("| variant | Car 0-10 m (40) | Car 20-40 m (80) |"),
        "{md}"
    );
    assert!(
        md.contains("| depth | 0.00 (+0.00) | 2.00 (+2.00) |"),
        "{md}"
    );
    assert!(
        md.contains("| depth | +0.00 [+0.00, +0.00] | -1.00 ["),
        "{md}"
    );
    assert!(!md.contains("Pedestrian 0-10 m"), "{md}");
}
