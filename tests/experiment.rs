//! `ftf experiment` end to end on a minimal study: a handful of tiny synthetic frames, the real
//! LiDAR, SGM and a tiny PSMNet with the depth loss upstream, a tiny car detector downstream.

mod common;

use common::{config, ftf, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Writes the minimal study into `dir` and returns its path; `extra` is appended.
fn study(dir: &Path, psmnet_epochs: usize, extra: &str) -> PathBuf {
    study_with(dir, psmnet_epochs, 1, "", extra)
}

/// The minimal study with `detector_epochs` and `data` lines added to its `[data]` table.
fn study_with(
    dir: &Path,
    psmnet_epochs: usize,
    detector_epochs: usize,
    data: &str,
    extra: &str,
) -> PathBuf {
    let psm = config(
        dir,
        "psmnet-tiny.toml",
        &[("epochs = 20", &format!("epochs = {psmnet_epochs}"))],
    );
    let pp = config(
        dir,
        "pointpillars-tiny.toml",
        &[("epochs = 24", &format!("epochs = {detector_epochs}"))],
    );
    let text = format!(
        r#"name = "mini"
runs_dir = "{runs}"
seeds = [0]
baseline = "sgm"

[data]
{data}

[data.synthetic]
frames = 6
scale = 0.25
seed = 1

[[upstream]]
name = "lidar"
kind = "lidar"

[[upstream]]
name = "sgm"
kind = "sgm"
max_disparity = 48

[[upstream]]
name = "psmnet-depth"
kind = "psmnet"
train = "{psm}"
loss = "depth"

[[downstream]]
name = "car"
class = "Car"
config = "{pp}"
{extra}"#,
        runs = dir.join("runs").display(),
        psm = psm.display(),
        pp = pp.display(),
        data = data,
    );
    let p = dir.join("study.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn run(cfg: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["experiment", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    ftf(&args)
}

#[test]
fn a_study_runs_reports_fresh_ap_and_caches_every_stage() {
    let tmp = tempfile::tempdir().unwrap();
    // The detectors train long enough on the three training frames to find their cars, and are
    // scored on those frames, so that the APs compared below are not all zero.
    let cfg = study_with(
        tmp.path(),
        1,
        40,
        "train_split = \"train\"\nval_split = \"train\"",
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
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
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
        let o = ftf(&[
            "eval",
            "--gt",
            root.join("training/label_2").to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
            "--split",
            split.to_str().unwrap(),
            "--classes",
            "car",
            "--iou",
            "official,loose",
            "--image-scale",
            "0.25",
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let fresh: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
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
    let weights = out.join("upstream/psmnet-depth/seed-0/checkpoints/last.bpk");
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

    // --force eval redoes only the evaluation stages.
    let o = run(&cfg, &["--force", "eval"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let done: Vec<&str> = t.lines().filter(|l| l.contains(": done in ")).collect();
    assert!(
        done.len() == 3 && done.iter().all(|l| l.contains("] eval:")),
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
    let started = tmp
        .path()
        .join("runs/mini/upstream/psmnet-depth/seed-0/started.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftf"))
        .args(["experiment", cfg.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while it trains the PSMNet variant.
    let t0 = std::time::Instant::now();
    while !started.exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let interrupted = started.exists();
    let o = run(&cfg, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(tmp.path().join("runs/mini/report.json").is_file());
    if interrupted {
        assert!(
            t.contains("upstream: psmnet-depth seed 0: resumed and finished"),
            "{t}"
        );
    }
    assert!(t.contains("data: 6 synthetic frames: cached"), "{t}");
}

#[test]
fn bad_studies_fail_before_any_work_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |extra_replace: (&str, &str), needles: &[&str]| {
        let cfg = study(tmp.path(), 1, "");
        let t = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(extra_replace.0, extra_replace.1);
        std::fs::write(&cfg, t).unwrap();
        let o = run(&cfg, &[]);
        let t = text(&o);
        assert!(
            !o.status.success() && needles.iter().all(|n| t.contains(n)),
            "{t}"
        );
        assert!(!tmp.path().join("runs/mini").exists(), "work started: {t}");
    };
    check(
        ("baseline = \"sgm\"", "baseline = \"sdn\""),
        &["baseline", "sdn"],
    );
    check(("kind = \"sgm\"", "kind = \"census\""), &["census"]);
    check(
        (
            "name = \"car\"\nclass = \"Car\"",
            "name = \"car\"\nclass = \"Truck\"",
        ),
        &["downstream.car", "Truck"],
    );
    check(
        (
            "name = \"car\"\nclass = \"Car\"",
            "name = \"car\"\nclass = \"Car\"\nepochs = 0",
        ),
        &["downstream.car", "epochs must be positive"],
    );
    check(
        ("psmnet-tiny.toml", "missing.toml"),
        &["upstream.psmnet-depth.train", "missing.toml"],
    );
    // A checkpoint from another architecture: a PSMNet run given to an SDN variant.
    let run_dir = tmp.path().join("psm-run");
    std::fs::create_dir_all(run_dir.join("checkpoints")).unwrap();
    std::fs::write(run_dir.join("config.toml"), "network = \"psmnet\"\n").unwrap();
    std::fs::write(run_dir.join("checkpoints/last.bpk"), b"x").unwrap();
    check(
        (
            "kind = \"psmnet\"",
            &format!("kind = \"sdn\"\ncheckpoint = \"{}\"", run_dir.display()),
        ),
        &[
            "upstream.psmnet-depth.checkpoint",
            "another network",
            "network: sdn here, psmnet there",
        ],
    );
    // Start weights of another width, and start weights that are not there.
    std::fs::write(
        run_dir.join("config.toml"),
        "[model]\nmax_disparity = 32\nwidth = 16\n",
    )
    .unwrap();
    check(
        (
            "loss = \"depth\"",
            &format!("loss = \"depth\"\ninit = \"{}\"", run_dir.display()),
        ),
        &[
            "upstream.psmnet-depth.init",
            "model.width: 8 here, 16 there",
        ],
    );
    check(
        (
            "loss = \"depth\"",
            "loss = \"depth\"\ninit = \"/no/such/run\"",
        ),
        &["upstream.psmnet-depth.init", "/no/such/run/config.toml"],
    );
    // Dense ground truth exists only on synthetic data; the mini study's is synthetic, so a
    // wrong value is what fails here.
    check(
        ("loss = \"depth\"", "loss = \"depth\"\ngt = \"exact\""),
        &["exact", "gt"],
    );
}

#[test]
fn zero_jobs_fail_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = study(tmp.path(), 1, "");
    let o = run(&cfg, &["--jobs", "0"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("--jobs: must be at least 1"),
        "{t}"
    );
    assert!(!tmp.path().join("runs/mini").exists(), "{t}");
}
