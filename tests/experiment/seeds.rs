//! Detector seeds: the APs of single-seed runs, with intervals.

use crate::common::text;
use crate::{detector_study, report_of, run};

#[test]
fn downstream_seeds_give_the_aps_of_single_seed_runs_with_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    // Two upstream seeds as well: the LiDAR and SGM are the same for both, so each of their
    // stages runs once (never two workers on one `fixed/` folder), detectors included.
    for (name, upstream, seeds) in [
        ("both", "[0, 1]", "[0, 1]"),
        ("zero", "[0]", "[0]"),
        ("one", "[0]", "[1]"),
    ] {
        let cfg = detector_study(tmp.path(), name, upstream, Some(seeds));
        let o = run(&cfg, &["--jobs", "4"]);
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        let done = |what: &str| {
            t.lines()
                .filter(|l| l.contains(what) && l.contains(": done in "))
                .count()
        };
        assert_eq!(done("upstream: sgm seed"), 1, "{t}");
        let detectors = if name == "both" { 2 } else { 1 };
        assert_eq!(done("downstream: car on sgm"), detectors, "{t}");
    }
    let both = report_of(tmp.path(), "both");
    let verdict = &both["verdicts"][0];
    assert_eq!(verdict["variant"], "lidar");
    assert_eq!(verdict["detector_seeds"], serde_json::json!([0, 1]));
    for (arm, key) in [("lidar", "variant_ap"), ("sgm", "baseline_ap")] {
        let per_seed = verdict[key].as_array().unwrap();
        assert_eq!(per_seed.len(), 2, "{arm}: {per_seed:?}");
        for (entry, single) in per_seed.iter().zip(["zero", "one"]) {
            let alone = &report_of(tmp.path(), single)["verdicts"][0][key][0];
            assert_eq!(
                entry["detector_seed"], alone["detector_seed"],
                "{arm} {single}"
            );
            assert_eq!(entry["ap"], alone["ap"], "{arm} {single}");
        }
    }
    // Every AP of the two-seed study's detectors is the single-seed studies' AP.
    let mut nonzero = false;
    for variant in ["lidar", "sgm"] {
        let aps = both["downstream"]["car"]["sparse"][variant]
            .as_object()
            .unwrap();
        assert!(aps.len() >= 24, "{variant}: {aps:?}");
        for (key, v) in aps {
            let alone: Vec<_> = ["zero", "one"]
                .map(|single| {
                    report_of(tmp.path(), single)["downstream"]["car"]["sparse"][variant][key]
                        ["values"][0]
                        .clone()
                })
                .to_vec();
            assert_eq!(v["values"].as_array().unwrap(), &alone, "{variant} {key}");
            nonzero |= alone
                .iter()
                .any(|ap| ap.as_f64().is_some_and(|ap| ap > 0.0));
        }
    }
    assert!(nonzero, "every AP compared is zero: {both}");
    // The change comes with its interval, which contains it, and a decision with its reason.
    let ap = &verdict["ap_change"];
    let (lo, est, hi) = (
        ap["lo"].as_f64().unwrap(),
        ap["estimate"].as_f64().unwrap(),
        ap["hi"].as_f64().unwrap(),
    );
    assert!(lo <= est && est <= hi, "{ap}");
    assert_eq!(ap["resamples"], 1000);
    assert_eq!(verdict["decision"], "no-upstream-improvement");
    let md = std::fs::read_to_string(tmp.path().join("runs/both/report.md")).unwrap();
    assert!(
        md.contains("detector seeds [0, 1]")
            && md.contains("[95 % CI]")
            && md.contains("**In-sample.** `data.allow_shared_frames` is set"),
        "{md}"
    );
    // The folders name the detector seed.
    assert!(tmp
        .path()
        .join("runs/both/downstream/lidar/seed-0/sparse/car/seed-1/results")
        .is_dir());
}
