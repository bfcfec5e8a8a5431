//! Controlled upstream variants: their errors, and cross-evaluation's diagonal.

use crate::common::{ftf, text};
use crate::{detector_study, report_of, run};
use std::path::{Path, PathBuf};

/// The detector study with the oracle and two perturbed variants (disparity and depth noise
/// calibrated to the same depth MAE) in place of SGM, the oracle as the baseline.
fn controlled_study(dir: &Path) -> PathBuf {
    let cfg = detector_study(dir, "controlled", "[0]", None);
    let mut t = std::fs::read_to_string(&cfg).unwrap();
    t = t.replace(
        "[[upstream]]\nname = \"sgm\"\nkind = \"sgm\"\nmax_disparity = 48\n",
        r#"[[upstream]]
name = "oracle"
kind = "oracle"

[[upstream]]
name = "disparity-noise"
kind = "perturbed"
noise = "disparity"
target_mae = 2.0
blur = 1

[[upstream]]
name = "depth-noise"
kind = "perturbed"
noise = "depth"
target_mae = 2.0
bleed = 1
"#,
    );
    t = t.replace("baseline = \"sgm\"", "baseline = \"oracle\"");
    std::fs::write(&cfg, t).unwrap();
    cfg
}

#[test]
fn controlled_variants_have_their_errors_and_cross_evaluation_repeats_the_diagonal() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = controlled_study(tmp.path());
    let o = run(&cfg, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let report = report_of(tmp.path(), "controlled");
    let mae = |v: &str| {
        report["upstream"][v]["all_pixels"]["depth_mae"]["mean"]
            .as_f64()
            .unwrap()
    };
    // The oracle is exact; both noises meet their target on val within 2 %.
    assert_eq!(mae("oracle"), 0.0, "{report}");
    for v in ["disparity-noise", "depth-noise"] {
        assert!((mae(v) - 2.0).abs() < 0.04, "{v}: {}", mae(v));
        assert!(report["upstream"][v]["spread"]["mean"].as_f64().unwrap() > 0.0);
    }
    // The oracle's clouds are `ftf pseudo-lidar` of the exact disparity.
    let run_dir = tmp.path().join("runs/controlled");
    let data = run_dir.join("data/training");
    let fresh = tmp.path().join("fresh");
    let o = ftf(&[
        "pseudo-lidar",
        "--disparity",
        data.join("disparity_2").to_str().unwrap(),
        "--calib",
        data.join("calib").to_str().unwrap(),
        "--out",
        fresh.to_str().unwrap(),
        "--sparsify",
        "64x512",
        "--split",
        run_dir.join("data/ImageSets/train.txt").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ours = run_dir.join("points/oracle/fixed/sparse/sparse");
    let noisy = run_dir.join("points/disparity-noise/seed-0/sparse/sparse");
    let mut frames = 0;
    for entry in std::fs::read_dir(fresh.join("sparse")).unwrap() {
        let name = entry.unwrap().file_name();
        if !name.to_string_lossy().ends_with(".bin") {
            continue;
        }
        let read = |dir: &Path| {
            std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        };
        let expected = read(&fresh.join("sparse"));
        assert_eq!(read(&ours), expected, "{name:?}");
        assert_ne!(read(&noisy), expected, "{name:?}");
        frames += 1;
    }
    let train = std::fs::read_to_string(run_dir.join("data/ImageSets/train.txt")).unwrap();
    assert_eq!(frames, train.lines().count());
    // Train on A, test on B: the diagonal is the ordinary evaluation, number for number.
    let primary = "Car/bev/moderate/R40@0.50";
    let mut nonzero = false;
    for v in ["lidar", "oracle", "disparity-noise", "depth-noise"] {
        let cross = &report["cross"]["car"]["sparse"]["trained_on"][v];
        let own = &report["downstream"]["car"]["sparse"][v][primary]["values"];
        assert_eq!(&cross[v]["values"], own, "{v}: {cross}");
        assert!(cross.as_object().unwrap().len() == 4, "{v}: {cross}");
        nonzero |= own[0].as_f64().unwrap() > 0.0;
    }
    assert!(nonzero, "every AP compared is zero: {report}");
    let gain = &report["cross"]["car"]["sparse"]["retraining_gain"]["depth-noise"];
    assert!(
        gain["lo"].as_f64().unwrap() <= gain["hi"].as_f64().unwrap(),
        "{gain}"
    );
    // The decomposition: total = representation + upstream error, each an AP difference of the
    // arms above; here val is the training split, so the estimation term's estimate is zero.
    let dec = &report["decomposition"]["car"]["sparse"];
    let ap = |v: &str| own_ap(&report, v, primary);
    let estimate = |i: &serde_json::Value| i["estimate"].as_f64().unwrap();
    assert!((estimate(&dec["representation"]) - (ap("lidar") - ap("oracle"))).abs() < 1e-9);
    for v in ["disparity-noise", "depth-noise"] {
        let row = &dec["variants"][v];
        assert!(
            (estimate(&row["total"]) - (ap("lidar") - ap(v))).abs() < 1e-9,
            "{row}"
        );
        assert!((estimate(&row["upstream_error"]) - (ap("oracle") - ap(v))).abs() < 1e-9);
        // The two frame sets are the same frames, resampled independently: zero, spanned.
        let e = &row["estimation"];
        assert_eq!(estimate(e), 0.0, "{e}");
        assert!(e["lo"].as_f64().unwrap() <= 0.0 && e["hi"].as_f64().unwrap() >= 0.0);
    }
    assert!(dec["variants"]["oracle"]["upstream_error"].is_null());
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        md.contains("Train on A, test on B")
            && md.contains("calibrated to a depth MAE of 2 m")
            && md.contains("Where the AP goes"),
        "{md}"
    );
}

/// The mean primary AP of the detectors retrained on `variant`'s clouds.
fn own_ap(report: &serde_json::Value, variant: &str, key: &str) -> f64 {
    report["downstream"]["car"]["sparse"][variant][key]["mean"]
        .as_f64()
        .unwrap()
}
