//! A whole study: fresh APs, every stage cached, and a killed run completed when run again.

use crate::common::{ftf, text};
use crate::{fresh_eval, run, study, study_with};
use std::process::Command;

#[test]
fn a_study_runs_reports_fresh_ap_and_caches_every_stage() {
    let tmp = tempfile::tempdir().unwrap();
    // The detectors train long enough on the three training frames to find their cars, and are
    // scored on those frames, so that the APs compared below are not all zero.
    let cfg = study_with(
        tmp.path(),
        1,
        40,
        "train_split = \"train\"\nval_split = \"train\"\nallow_shared_frames = true",
        "",
    );
    let o = run(&cfg, &["--jobs", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = tmp.path().join("runs/mini");
    for f in [
        "config.toml",
        "report.md",
        "report.json",
        "plots/depth_error_by_distance.png",
        "plots/ap_change.png",
        "plots/depth_error_by_distance.svg",
        "plots/ap_change.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The AP-change figure as SVG: every group label in full (the old bitmap font cut them).
    let svg = std::fs::read_to_string(out.join("plots/ap_change.svg")).unwrap();
    assert!(
        svg.contains("BEV Moderate") && svg.contains("3D Hard"),
        "{svg}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdicts"].as_array().unwrap().len(), 2);
    assert!(
        report["upstream"]["psmnet-depth"]["depth_mae"]["mean"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    // The PSMNet fine-tuned on LiDAR-derived disparity: the study's maps are those of
    // `ftf gt-disparity`, and the resolved study records that ground truth.
    let root = out.join("data");
    let fresh_gt = tmp.path().join("gt-disparity");
    let o = ftf(&[
        "gt-disparity",
        "--root",
        root.to_str().unwrap(),
        "--split",
        "trainval",
        "--out",
        fresh_gt.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for id in ["000000", "000002"] {
        let png = format!("{id}.png");
        assert_eq!(
            std::fs::read(out.join("data/disparity_lidar").join(&png)).unwrap(),
            std::fs::read(fresh_gt.join(&png)).unwrap(),
            "{id}"
        );
    }
    let resolved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(resolved.contains("gt = \"lidar\""), "{resolved}");

    // The report's APs are those of a fresh `ftf eval` of the written predictions.
    let mut nonzero = 0;
    for variant in ["lidar", "sgm", "psmnet-depth"] {
        let results = out.join(format!("downstream/{variant}/seed-0/sparse/car/results"));
        let split = root.join("ImageSets/train.txt");
        let json = tmp.path().join(format!("{variant}.json"));
        let fresh = fresh_eval(&root.join("training/label_2"), &results, &split, &json);
        let reported = &report["downstream"]["car"]["sparse"][variant];
        let mut compared = 0;
        for (k, v) in fresh.as_object().unwrap() {
            if let Some(ap) = v.as_f64() {
                assert_eq!(reported[k]["mean"].as_f64(), Some(ap), "{variant} {k}");
                compared += 1;
            }
        }
        assert!(compared >= 24, "{variant}: only {compared} APs compared");
        nonzero += fresh
            .as_object()
            .unwrap()
            .values()
            .filter(|v| v.as_f64().is_some_and(|ap| ap > 0.0))
            .count();
    }
    assert!(nonzero > 0, "every compared AP is zero");

    // A second run trains nothing: every stage is a cache hit.
    let weights =
        burn_support::CheckpointFiles::new(&out.join("upstream/psmnet-depth/seed-0")).model();
    let before = std::fs::metadata(&weights).unwrap().modified().unwrap();
    let o = run(&cfg, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(": cached") && !t.contains(": done") && !t.contains("resumed"),
        "{t}"
    );
    assert_eq!(
        std::fs::metadata(&weights).unwrap().modified().unwrap(),
        before
    );

    // --force eval redoes only the evaluation stages: per detector (three), its own, that of
    // its fit to its training frames and those on each variant's clouds (three).
    let o = run(&cfg, &["--force", "eval"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let done: Vec<&str> = t.lines().filter(|l| l.contains(": done in ")).collect();
    assert!(
        done.len() == 3 * (2 + 3) && done.iter().all(|l| l.contains("] eval:")),
        "{t}"
    );

    // Retraining the detectors one at a time gives the side-by-side run's APs exactly.
    let o = run(&cfg, &["--force", "downstream", "--jobs", "1"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let retrained = t
        .lines()
        .filter(|l| l.contains("] downstream:") && l.contains(": done in "));
    assert_eq!(retrained.count(), 3, "{t}");
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(again["downstream"], report["downstream"]);
}

#[test]
fn an_interrupted_study_completes_when_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = study(tmp.path(), 10, "");
    let stage = tmp.path().join("runs/mini/upstream/psmnet-depth/seed-0");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftf"))
        .args(["experiment", cfg.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the PSMNet's first epoch is checkpointed: nine epochs are left, so the
    // kill always lands inside the training.
    let t0 = std::time::Instant::now();
    while !stage.join("checkpoints/state.json").exists() {
        assert!(
            t0.elapsed().as_secs() < 600,
            "no checkpoint after 10 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !stage.join("manifest.json").exists(),
        "the stage finished before the kill"
    );
    let o = run(&cfg, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(tmp.path().join("runs/mini/report.json").is_file());
    assert!(
        t.contains("upstream: psmnet-depth seed 0: resumed and finished"),
        "{t}"
    );
    assert!(t.contains("data: 6 synthetic frames: cached"), "{t}");
}
