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

/// The mini study without its PSMNet (detectors only differ here), named `name`, with
/// `upstream_seeds` and `downstream_seeds` when given; scored on its training frames so that
/// the APs are not zero.
fn detector_study(
    dir: &Path,
    name: &str,
    upstream_seeds: &str,
    downstream_seeds: Option<&str>,
) -> PathBuf {
    let cfg = study_with(
        dir,
        1,
        40,
        "train_split = \"train\"\nval_split = \"train\"\nallow_shared_frames = true",
        "\n[eval]\nprimary = \"bev/moderate/R40\"\nprimary_iou = \"loose\"\n",
    );
    let mut t = std::fs::read_to_string(&cfg).unwrap();
    let psm = t.find("[[upstream]]\nname = \"psmnet-depth\"").unwrap();
    let end = t[psm..].find("[[downstream]]").unwrap() + psm;
    t.replace_range(psm..end, "");
    t = t.replace("name = \"mini\"", &format!("name = \"{name}\""));
    if let Some(seeds) = downstream_seeds {
        t = t.replace(
            "seeds = [0]",
            &format!("seeds = {upstream_seeds}\ndownstream_seeds = {seeds}"),
        );
    }
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, t).unwrap();
    p
}

fn report_of(dir: &Path, name: &str) -> serde_json::Value {
    let path = dir.join(format!("runs/{name}/report.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

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

/// A fresh `ftf eval` (car, both IoU sets, quarter-size images) of `results` against `labels`
/// on the frames of `split`, written to `json`: the flat AP keys.
fn fresh_eval(labels: &Path, results: &Path, split: &Path, json: &Path) -> serde_json::Value {
    let o = ftf(&[
        "eval",
        "--gt",
        labels.to_str().unwrap(),
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
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn close_clouds_train_and_score_against_close_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = detector_study(tmp.path(), "close", "[0]", None);
    let t = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{t}\n[points]\nclouds = [\"close\"]\n")).unwrap();
    let o = run(&cfg, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = tmp.path().join("runs/close");
    let full = run_dir.join("data/training/label_2");
    let close = run_dir.join("data/label_2_close");
    // The close labels: every object centred beyond 20 m (camera z) is a DontCare region over
    // its own 2D box; the others are unchanged.
    let (mut far, mut near) = (0, 0);
    let train = std::fs::read_to_string(run_dir.join("data/ImageSets/train.txt")).unwrap();
    for id in train.lines() {
        let a = kitti::read_labels(&full.join(format!("{id}.txt"))).unwrap();
        let b = kitti::read_labels(&close.join(format!("{id}.txt"))).unwrap();
        let name = id;
        assert_eq!(a.len(), b.len(), "{name:?}");
        for (a, b) in a.iter().zip(&b) {
            if a.kind != kitti::ObjectType::DontCare && a.box3d.location.z > 20.0 {
                assert_eq!((b.kind, b.bbox), (kitti::ObjectType::DontCare, a.bbox));
                far += 1;
            } else {
                assert_eq!(a, b);
                near += usize::from(a.kind == kitti::ObjectType::Car);
            }
        }
    }
    assert!(far > 0 && near > 0, "{far} far, {near} near cars");
    // The close detectors are scored against the close labels: the report's APs are a fresh
    // `ftf eval` against label_2_close, not against the full labels.
    let report = report_of(tmp.path(), "close");
    let mut differs = false;
    for variant in ["lidar", "sgm"] {
        let results = run_dir.join(format!("downstream/{variant}/seed-0/close/car/results"));
        let split = run_dir.join("data/ImageSets/train.txt");
        let json = |tag: &str| tmp.path().join(format!("{variant}-{tag}.json"));
        let against_close = fresh_eval(&close, &results, &split, &json("close"));
        let against_full = fresh_eval(&full, &results, &split, &json("full"));
        let reported = &report["downstream"]["car"]["close"][variant];
        for (k, v) in against_close.as_object().unwrap() {
            if let Some(ap) = v.as_f64() {
                assert_eq!(reported[k]["mean"].as_f64(), Some(ap), "{variant} {k}");
                differs |= against_full[k].as_f64() != Some(ap);
            }
        }
    }
    assert!(differs, "the close and the full labels give the same APs");
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
    // Perturbed variants: every field checked up front, each named with its value.
    let perturbed = |fields: &str| {
        (
            "kind = \"sgm\"\nmax_disparity = 48",
            format!("kind = \"perturbed\"\n{fields}"),
        )
    };
    for (fields, needles) in [
        ("target_mae = 1.0", &["upstream.sgm.noise"][..]),
        (
            "noise = \"disparity\"",
            &["upstream.sgm", "exactly one of `spread`"],
        ),
        (
            "noise = \"disparity\"\nspread = 1.0\ntarget_mae = 1.0",
            &["upstream.sgm", "exactly one of `spread`"],
        ),
        (
            "noise = \"depth\"\nspread = -1.0",
            &["upstream.sgm.spread", "-1"],
        ),
        (
            "noise = \"depth\"\ntarget_mae = nan",
            &["upstream.sgm.target_mae", "NaN"],
        ),
        (
            "noise = \"depth\"\ntarget_mae = 1.0\nblur = 99",
            &["upstream.sgm.blur", "99 px", "32 px"],
        ),
        ("noise = \"pixels\"\nspread = 1.0", &["pixels"]),
    ] {
        let (from, to) = perturbed(fields);
        check((from, &to), needles);
    }
    check(
        (
            "kind = \"sgm\"\nmax_disparity = 48",
            "kind = \"sgm\"\nbleed = 2",
        ),
        &["upstream.sgm", "perturbed variants only"],
    );
    check(
        ("max_disparity = 48", "max_disparity = 0"),
        &["upstream.sgm.max_disparity", "1..=512", "got 0"],
    );
    check(
        ("loss = \"depth\"", "loss = \"depth\"\nmax_disparity = 64"),
        &["upstream.psmnet-depth.max_disparity", "sgm only"],
    );
    // The PSMNet's crop (64 x 128) does not fit frames at a tenth of KITTI's size (124 x 38).
    check(
        ("scale = 0.25", "scale = 0.1"),
        &["upstream.psmnet-depth", "crop = [64, 128]", "124 x 38"],
    );
    // The depth-edge filter of the points stage.
    let edges = |table: &str| {
        (
            "baseline = \"sgm\"",
            format!("baseline = \"sgm\"\n[points]\nedges = {{ {table} }}"),
        )
    };
    for (table, needles) in [
        (
            "radius = 0, ratio = 0.15",
            &["points.edges.radius = 0", "1 to 16"][..],
        ),
        (
            "radius = 2, ratio = nan",
            &["points.edges.ratio = NaN", "above 0"],
        ),
        ("radius = 2", &["ratio"]),
        ("radius = 2, ratio = 0.1, size = 3", &["size"]),
    ] {
        let (from, to) = edges(table);
        check((from, &to), needles);
    }
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
    // The statistics: the primary AP must be one the evaluation computes, the baseline must
    // have an upstream error, seeds and names are unique, intervals need resamples.
    check(
        (
            "[[downstream]]",
            "[eval]\niou_sets = [\"official\"]\nprimary_iou = \"loose\"\n\n[[downstream]]",
        ),
        &["eval.primary_iou", "loose", "iou_sets"],
    );
    check(
        (
            "[[downstream]]",
            "[eval]\nprimary = \"3d/range_0-20/R40\"\n\n[[downstream]]",
        ),
        &["eval.primary", "3d/range_0-20/R40"],
    );
    check(
        (
            "[[downstream]]",
            "[eval]\nresamples = 200\n\n[[downstream]]",
        ),
        &["eval.resamples", "200", "1000"],
    );
    // A range bin or a cloud listed twice (their APs and stages would repeat).
    check(
        (
            "[[downstream]]",
            "[eval]\nranges = [[0.0, 20.0], [20.0, 40.0], [0.0, 20.0]]\n\n[[downstream]]",
        ),
        &["eval.ranges", "[0, 20] is listed twice"],
    );
    check(
        (
            "[[downstream]]",
            "[points]\nclouds = [\"sparse\", \"dense\", \"sparse\"]\n\n[[downstream]]",
        ),
        &["points.clouds", "`sparse` is listed twice"],
    );
    // The synthetic set's settings go through the same checks as `ftf synth --config`.
    check(
        (
            "seed = 1\n",
            "seed = 1\n\n[data.synthetic.lidar]\nrange_noise = -1.0\n",
        ),
        &["data.synthetic", "`lidar.range_noise` = -1"],
    );
    check(
        (
            "[[downstream]]",
            "[eval]\nresamples = 100000000000\n\n[[downstream]]",
        ),
        &["eval.resamples", "100000000000", "at most 100000"],
    );
    check(
        ("baseline = \"sgm\"", "baseline = \"lidar\""),
        &["baseline", "lidar", "no upstream error"],
    );
    check(
        ("seeds = [0]", "seeds = [0, 0]"),
        &["seeds", "listed twice"],
    );
    check(
        ("seeds = [0]", "seeds = [0]\ndownstream_seeds = []"),
        &["downstream_seeds", "at least one"],
    );
    check(
        ("name = \"psmnet-depth\"", "name = \"sgm\""),
        &["upstream.sgm", "unique"],
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
