//! End-to-end tests of the `ftf` binary: generate a synthetic KITTI root, inspect it, and see
//! that damaged or misaligned data is reported.

mod common;

use common::{config, ftf, text};

use kitti::{read_velodyne, write_velodyne, FileKind, KittiRoot, Part};
use std::path::{Path, PathBuf};
use std::process::Output;

fn synth(out: &Path, seed: &str) -> Output {
    ftf(&[
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--frames",
        "3",
        "--seed",
        seed,
        "--scale",
        "0.25",
    ])
}

/// A temporary folder holding a fresh 3-frame synthetic root at `root/`.
fn synthetic_root(seed: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let o = synth(&root, seed);
    assert!(o.status.success(), "{}", text(&o));
    (tmp, root)
}

/// `root/p` as a command-line argument.
fn arg(root: &Path, p: &str) -> String {
    root.join(p).to_str().unwrap().to_string()
}

/// Asserts that a command failed and that its output names every needle.
fn assert_fails_naming(o: &Output, needles: &[&str]) {
    let t = text(o);
    assert!(!o.status.success(), "succeeded:\n{t}");
    let missing: Vec<_> = needles.iter().filter(|n| !t.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "the error does not name {missing:?}:\n{t}"
    );
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files(from) {
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}

fn inspect(root: &Path, out: &Path) -> (Output, serde_json::Value) {
    let o = ftf(&[
        "inspect",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let json = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|_| "null".into());
    (o, serde_json::from_str(&json).unwrap())
}

fn car_alignment(report: &serde_json::Value, field: &str) -> f64 {
    report["alignment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "Car")
        .expect("cars were scored")[field]
        .as_f64()
        .unwrap()
}

fn car_share(report: &serde_json::Value) -> f64 {
    car_alignment(report, "mean_share")
}

fn car_gap(report: &serde_json::Value) -> f64 {
    car_alignment(report, "mean_surface_gap_m")
}

#[test]
fn synth_is_deterministic_resumable_and_inspects_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let o = synth(&a, "5");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 frames generated"), "{}", text(&o));
    assert!(synth(&b, "5").status.success());
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 3 * 7 + 4, "{fa:?}");
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
    // An interrupted run (a frame without its label file) is completed, identically.
    let label = KittiRoot::create(&a).path(Part::Training, FileKind::Label, "000001");
    std::fs::remove_file(&label).unwrap();
    let o = synth(&a, "5");
    assert!(
        text(&o).contains("1 frames generated, 2 already complete"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read(&label).unwrap(),
        std::fs::read(KittiRoot::create(&b).path(Part::Training, FileKind::Label, "000001"))
            .unwrap()
    );
    // The same folder with other settings is refused.
    let o = synth(&a, "6");
    assert_fails_naming(&o, &["synth.toml"]);

    let out = tmp.path().join("inspect");
    let (o, report) = inspect(&a, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("problems: none"), "{}", text(&o));
    assert_eq!(report["frames_checked"], 3);
    assert!(car_share(&report) > 0.95, "{report}");
    assert!(car_gap(&report) < 0.1, "{report}");
    let bev = image::open(out.join("bev_000000.png")).unwrap();
    assert_eq!((bev.width(), bev.height()), (800, 700));
}

#[test]
fn inspect_names_damaged_files_and_sees_a_shifted_cloud() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    assert!(synth(&good, "9").status.success());
    let (_, clean) = inspect(&good, &tmp.path().join("i0"));

    // A cloud shifted 1.5 m forward against its labels, as a wrong calibration would do.
    let shifted = tmp.path().join("shifted");
    copy_dir(&good, &shifted);
    let root = KittiRoot::open(&shifted).unwrap();
    for id in root
        .list_frames(Part::Training, FileKind::Velodyne)
        .unwrap()
    {
        let path = root.path(Part::Training, FileKind::Velodyne, &id);
        let mut pts = read_velodyne(&path).unwrap();
        pts.iter_mut().for_each(|p| p.x += 1.5);
        write_velodyne(&path, &pts).unwrap();
    }
    let (o, moved) = inspect(&shifted, &tmp.path().join("i1"));
    assert!(o.status.success(), "{}", text(&o));
    // Points pushed along the line of sight partly stay inside the long car boxes but leave
    // their surfaces: the share inside drops and the gap to the surface at least doubles.
    assert!(
        car_gap(&moved) > 2.0 * car_gap(&clean) && car_share(&moved) < car_share(&clean) - 0.1,
        "clean {clean} vs shifted {moved}"
    );

    // Damaged files: a truncated scan, a calibration without P2, a split id with no files.
    let bad = tmp.path().join("bad");
    copy_dir(&good, &bad);
    let root = KittiRoot::open(&bad).unwrap();
    let bin = root.path(Part::Training, FileKind::Velodyne, "000001");
    let bytes = std::fs::read(&bin).unwrap();
    std::fs::write(&bin, &bytes[..bytes.len() - 5]).unwrap();
    let calib = root.path(Part::Training, FileKind::Calib, "000002");
    let kept: String = std::fs::read_to_string(&calib)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("P2:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&calib, kept).unwrap();
    let val = root.split_path("val");
    let mut ids = std::fs::read_to_string(&val).unwrap();
    ids.push_str("000099\n");
    std::fs::write(&val, ids).unwrap();
    // An exact disparity map of another size, and a truncated instance mask.
    let disparity = root.path(Part::Training, FileKind::Disparity, "000000");
    kitti::png16::write_gray16(&disparity, 7, 5, &[0; 35]).unwrap();
    let mask = root.path(Part::Training, FileKind::Instance, "000001");
    let bytes = std::fs::read(&mask).unwrap();
    std::fs::write(&mask, &bytes[..bytes.len() / 2]).unwrap();
    let (o, report) = inspect(&bad, &tmp.path().join("i2"));
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("velodyne/000001.bin") && out.contains("truncated"),
        "{out}"
    );
    assert!(
        out.contains("calib/000002.txt") && out.contains("`P2`"),
        "{out}"
    );
    assert!(out.contains("val.txt:2") && out.contains("000099"), "{out}");
    assert!(
        out.contains("disparity_2/000000.png") && out.contains("size 7x5 differs from image_2's"),
        "{out}"
    );
    assert!(out.contains("instance_2/000001.png"), "{out}");
    assert!(report["problems"].as_array().unwrap().len() >= 5);
}

#[test]
fn bad_arguments_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let o = ftf(&[
        "synth",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
        "--scale",
        "0",
    ]);
    assert_fails_naming(&o, &["--scale", "`scale` = 0"]);
    // A settings file's value that would never finish generating: the file, the field, the
    // allowed range; nothing written.
    let settings = tmp.path().join("crowded.toml");
    std::fs::write(&settings, "[scene]\ncars = [3, 100000000]\n").unwrap();
    let o = ftf(&[
        "synth",
        "--config",
        settings.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &["crowded.toml", "`scene.cars` = [3, 100000000]", "<= 64"],
    );
    assert!(!tmp.path().join("x").exists(), "work started");
    let missing = tmp.path().join("nowhere");
    let o = ftf(&["inspect", missing.to_str().unwrap()]);
    assert_fails_naming(&o, &["nowhere"]);
    let o = ftf(&["bench", "synth", "--repeat", "0"]);
    assert_fails_naming(&o, &["--repeat", "`0`", "at least 1"]);
    // Sizes a network benchmark could not run (a crop of 0 panicked inside the network).
    let o = ftf(&["bench", "psmnet", "--crop", "0", "0"]);
    assert_fails_naming(&o, &["--crop", "`0`", "multiple of 16"]);
    let o = ftf(&["bench", "detect", "--batch", "100000"]);
    assert_fails_naming(&o, &["--batch", "`100000`", "1 to 64"]);
    let o = ftf(&["bench", "synth", "--scale", "0"]);
    assert_fails_naming(&o, &["--scale", "`0`", "above 0"]);
    let o = ftf(&[
        "pseudo-lidar",
        "--disparity",
        tmp.path().to_str().unwrap(),
        "--calib",
        tmp.path().to_str().unwrap(),
        "--out",
        tmp.path().join("pl").to_str().unwrap(),
        "--max-height",
        "NaN",
    ]);
    assert_fails_naming(&o, &["--max-height", "NaN"]);
    // A missing file is said once, with the OS's reason once (not "…(os error 2): …(os error 2)").
    let cfg = tmp.path().join("missing.toml");
    let o = ftf(&[
        "disparity",
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--root",
        tmp.path().to_str().unwrap(),
        "--out",
        tmp.path().join("run").to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["missing.toml", "(os error 2)"]);
    assert_eq!(text(&o).matches("os error 2").count(), 1, "{}", text(&o));
}

/// The AP the KITTI devkit gives a perfect detector on `n` ground truths (threshold indexing:
/// at most 41 thresholds, one per true positive).
fn perfect_ap(n: u64, r40: bool) -> f64 {
    let t = n.min(41);
    if r40 {
        t.saturating_sub(1) as f64 / 40.0 * 100.0
    } else {
        (0..41).step_by(4).filter(|&i| i < t).count() as f64 / 11.0 * 100.0
    }
}

#[test]
fn eval_scores_ground_truth_against_itself_and_names_bad_results() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    assert!(synth(&root, "3").status.success());
    let k = KittiRoot::open(&root).unwrap();
    let labels = k.dir(Part::Training, FileKind::Label);
    // Results = the labels themselves with score 1 (DontCare rows dropped).
    let results = tmp.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    for id in k.list_frames(Part::Training, FileKind::Label).unwrap() {
        let lines: String = std::fs::read_to_string(labels.join(format!("{id}.txt")))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("DontCare"))
            .map(|l| format!("{l} 1.0\n"))
            .collect();
        std::fs::write(results.join(format!("{id}.txt")), lines).unwrap();
    }
    let split = root.join("ImageSets/trainval.txt");
    let json = tmp.path().join("ap.json");
    let png = tmp.path().join("pr.png");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "eval",
            "--gt",
            labels.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
            "--split",
            split.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        ftf(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&[
        "--image-scale",
        "0.25",
        "--iou",
        "official,loose",
        "--ranges",
        "0-20,20-40",
        "--json",
        json.to_str().unwrap(),
        "--pr-plot",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3D AP@0.70 R40 Car Moderate"),
        "{}",
        text(&o)
    );
    let ap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let map = ap.as_object().unwrap();
    let mut checked = 0;
    for (key, value) in map {
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != 4 {
            continue;
        }
        let n = map[&format!("{}/{}/n_gt", parts[0], parts[2])]
            .as_u64()
            .unwrap();
        if n == 0 {
            assert!(value.is_null(), "{key}");
            continue;
        }
        let expected = perfect_ap(n, parts[3].starts_with("R40"));
        assert!(
            (value.as_f64().unwrap() - expected).abs() < 1e-9,
            "{key}: {value} vs {expected} ({n} objects)"
        );
        checked += 1;
    }
    assert!(
        map.contains_key("Car/3d/range_0-20/R11@0.50") && checked > 50,
        "{checked}"
    );
    let plot = image::open(&png).unwrap();
    assert!(plot.width() >= 1260 && plot.height() >= 320);

    // A frame without a result file is an error naming split line and path, unless allowed.
    std::fs::remove_file(results.join("000001.txt")).unwrap();
    let o = run(&[]);
    assert_fails_naming(&o, &["trainval.txt:2", "000001.txt"]);
    assert!(run(&["--missing-as-empty"]).status.success());
    // A malformed line names file and line; a line without score too.
    std::fs::write(
        results.join("000001.txt"),
        "Car 0 0 0 1 2 3 4 1.5 1.6 3.9 0 1.6 x 0 0.9\n",
    )
    .unwrap();
    let o = run(&[]);
    assert_fails_naming(&o, &["000001.txt:1", "`x`"]);
    std::fs::write(
        results.join("000001.txt"),
        "Car 0 0 0 1 2 3 4 1.5 1.6 3.9 0 1.6 20 0\n",
    )
    .unwrap();
    let o = run(&[]);
    assert_fails_naming(&o, &["000001.txt:1", "score"]);
    let o = run(&["--iou", "tight"]);
    assert_fails_naming(&o, &["tight"]);
    // One value named twice (rows and JSON keys would repeat), however spelled.
    let o = run(&["--classes", "car,pedestrian,Car"]);
    assert_fails_naming(&o, &["--classes", "`car` and `Car`", "name each once"]);
    let o = run(&["--ranges", "0-20,0.0-20"]);
    assert_fails_naming(&o, &["--ranges", "`0-20` and `0.0-20`"]);
    // A frame listed twice would count twice: refused, naming the split file and both lines.
    let split = root.join("ImageSets/trainval.txt");
    let ids = std::fs::read_to_string(&split).unwrap();
    let first = ids.lines().next().unwrap().to_string();
    std::fs::write(&split, format!("{ids}{first}\n")).unwrap();
    let o = run(&[]);
    assert_fails_naming(&o, &["trainval.txt", "listed twice", &first]);
    std::fs::write(&split, ids).unwrap();
}

#[test]
fn gt_disparity_and_pseudo_lidar_commands() {
    let (tmp, root) = synthetic_root("4");
    let r = |p: &str| arg(&root, p);
    let o = ftf(&["gt-disparity", "--root", &r(""), "--split", "trainval"]);
    assert!(
        o.status.success() && text(&o).contains("3 disparity maps written"),
        "{}",
        text(&o)
    );
    let lidar_disp =
        kitti::DisparityMap::read(&root.join("training/disparity_lidar/000000.png")).unwrap();
    let valid = lidar_disp.data.iter().filter(|d| **d > 0.0).count();
    assert!(valid > 1000, "{valid} LiDAR pixels");
    let out = tmp.path().join("pl");
    let args = [
        "pseudo-lidar",
        "--disparity",
        &r("training/disparity_2"),
        "--calib",
        &r("training/calib"),
        "--out",
        out.to_str().unwrap(),
        "--sparsify",
        "64x512",
        "--plot-frame",
        "000002",
        "--lidar",
        &r("training/velodyne"),
        "--labels",
        &r("training/label_2"),
    ];
    let o = ftf(&args);
    assert!(
        o.status.success() && text(&o).contains("3 frames converted"),
        "{}",
        text(&o)
    );
    let dense = read_velodyne(&out.join("dense/000002.bin")).unwrap();
    let sparse = read_velodyne(&out.join("sparse/000002.bin")).unwrap();
    assert!(
        !dense.is_empty()
            && sparse.len() < dense.len()
            && dense.iter().all(|p| p.x >= 0.0 && p.z < 1.0 && p.r == 1.0)
    );
    let bev = image::open(out.join("bev_000002.png")).unwrap();
    let svg = std::fs::read_to_string(out.join("bev_000002.svg")).unwrap();
    assert!(
        svg.contains("LiDAR (") && svg.contains("sparse pseudo-LiDAR ("),
        "titles as text"
    );
    assert!(
        svg.matches("<line").count() >= 3 * 5,
        "each picture's boxes as vector lines"
    );
    assert_eq!((bev.width(), bev.height()), (3 * 800 + 2 * 4, 700));
    // A second run has nothing to do; other settings are refused.
    let o = ftf(&args);
    assert!(
        text(&o).contains("0 frames converted, 3 already complete"),
        "{}",
        text(&o)
    );
    let mut closer = args.to_vec();
    closer.extend(["--close", "20"]);
    let o = ftf(&closer);
    assert_fails_naming(&o, &["pseudo-lidar.toml"]);
    // Depth edges dropped: the exact maps step at every object's silhouette, so some of the
    // points go, and every point kept is one of the unfiltered cloud's.
    let edged = tmp.path().join("edges");
    let edge_args = |extra: &[&'static str]| {
        let mut a = vec![
            "pseudo-lidar".to_string(),
            "--disparity".into(),
            r("training/disparity_2"),
            "--calib".into(),
            r("training/calib"),
            "--out".into(),
            edged.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run_edges = |extra: &[&'static str]| {
        let a = edge_args(extra);
        ftf(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run_edges(&["--edge-ratio", "0.15"]);
    assert!(o.status.success(), "{}", text(&o));
    let kept = read_velodyne(&edged.join("dense/000002.bin")).unwrap();
    let key = |p: &kitti::LidarPoint| (p.x.to_bits(), p.y.to_bits(), p.z.to_bits());
    let all: std::collections::HashSet<_> = dense.iter().map(key).collect();
    assert!(
        kept.len() < dense.len() && kept.len() > dense.len() / 2,
        "{} of {}",
        kept.len(),
        dense.len()
    );
    assert!(kept.iter().all(|p| all.contains(&key(p))));
    std::fs::remove_dir_all(&edged).unwrap();
    for (extra, needle) in [
        (&["--edge-ratio", "-1"][..], "--edge-ratio = -1"),
        (&["--edge-ratio", "NaN"][..], "--edge-ratio = NaN"),
        (
            &["--edge-ratio", "0.1", "--edge-radius", "0"][..],
            "--edge-radius = 0",
        ),
        (&["--edge-radius", "3"][..], "--edge-ratio"),
        // A grid the process could not allocate (it aborted), and a drawing that could not be
        // made (it failed after converting every frame).
        (
            &["--sparsify", "100000000x100000000"][..],
            "is larger than 1024x16384",
        ),
        (
            &["--plot-frame", "000002"][..],
            "needs --lidar and --labels",
        ),
    ] {
        assert_fails_naming(&run_edges(extra), &[needle]);
        assert!(!edged.exists(), "work started for {extra:?}");
    }
    // A bad grid and a map whose calibration is missing are named.
    let o = ftf(&[
        "pseudo-lidar",
        "--disparity",
        &r("training/disparity_2"),
        "--calib",
        &r("training/calib"),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
        "--sparsify",
        "64by512",
    ]);
    assert_fails_naming(&o, &["64by512"]);
    // A map two pixels narrower than its image (its principal point still near the centre).
    let maps = tmp.path().join("narrow");
    std::fs::create_dir_all(&maps).unwrap();
    for id in ["000000", "000001", "000002"] {
        let d = kitti::DisparityMap::read(&root.join(format!("training/disparity_2/{id}.png")))
            .unwrap();
        let (w, h) = (d.width - 2, d.height);
        let data: Vec<f32> = (0..h)
            .flat_map(|v| (0..w).map(move |u| (v, u)))
            .map(|(v, u)| d.data[(v * d.width + u) as usize])
            .collect();
        kitti::DisparityMap {
            width: w,
            height: h,
            data,
        }
        .write(&maps.join(format!("{id}.png")))
        .unwrap();
    }
    let o = ftf(&[
        "pseudo-lidar",
        "--disparity",
        maps.to_str().unwrap(),
        "--calib",
        &r("training/calib"),
        "--out",
        tmp.path().join("z").to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &["narrow/0000", "309x94", "not the size of its left image"],
    );
    std::fs::remove_file(root.join("training/calib/000001.txt")).unwrap();
    let o = ftf(&[
        "pseudo-lidar",
        "--disparity",
        &r("training/disparity_2"),
        "--calib",
        &r("training/calib"),
        "--out",
        tmp.path().join("y").to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["calib/000001.txt"]);

    // A calibration whose right camera is the left one (P3 = P2: baseline 0) wrote empty
    // LiDAR disparity maps under `--baseline calib` without a word; now the file is refused.
    let calib = root.join("training/calib/000002.txt");
    let text_of = std::fs::read_to_string(&calib).unwrap();
    let p2 = text_of.lines().find(|l| l.starts_with("P2:")).unwrap();
    let same: String = text_of
        .lines()
        .map(|l| match l.starts_with("P3:") {
            true => format!("P3:{}\n", &p2[3..]),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&calib, same).unwrap();
    let out = tmp.path().join("gt-calib");
    let o = ftf(&[
        "gt-disparity",
        "--root",
        &r(""),
        "--split",
        "val",
        "--baseline",
        "calib",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["calib/000002.txt", "stereo baseline", "= 0 m"]);
}

#[test]
fn disparity_predict_and_eval_commands() {
    let (tmp, root) = synthetic_root("8");
    let r = |p: &str| arg(&root, p);
    let pred = tmp.path().join("sgm");
    let predict = [
        "disparity",
        "predict",
        "--root",
        &r(""),
        "--split",
        "trainval",
        "--out",
        pred.to_str().unwrap(),
        "--max-disparity",
        "48",
    ];
    let o = ftf(&predict);
    assert!(
        o.status.success() && text(&o).contains("3 disparity maps predicted"),
        "{}",
        text(&o)
    );
    let o = ftf(&predict);
    assert!(
        text(&o).contains("0 disparity maps predicted, 3 already there"),
        "{}",
        text(&o)
    );
    let mut other = predict.to_vec();
    let last = other.len() - 1;
    other[last] = "64";
    let o = ftf(&other);
    assert_fails_naming(&o, &["model.txt"]);

    let json = tmp.path().join("d.json");
    let png = tmp.path().join("d.png");
    let sgm_arg = format!("sgm={}", pred.display());
    let exact_arg = format!("exact={}", r("training/disparity_2"));
    let (gt_dir, root_dir) = (r("training/disparity_2"), r(""));
    let eval = |extra: &[&str]| {
        let mut a = vec![
            "disparity",
            "eval",
            "--gt",
            &gt_dir,
            "--root",
            &root_dir,
            "--split",
            "trainval",
        ];
        a.extend_from_slice(extra);
        ftf(&a)
    };
    // A run that succeeds, with the metrics it wrote as JSON.
    let eval_json = |extra: &[&str]| {
        let mut a = extra.to_vec();
        a.extend(["--json", json.to_str().unwrap()]);
        let o = eval(&a);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (o, v)
    };
    let (o, v) = eval_json(&[
        "--pred",
        &sgm_arg,
        "--pred",
        &exact_arg,
        "--plot",
        png.to_str().unwrap(),
    ]);
    // The ground truth against itself: no error, every pixel predicted.
    let exact = &v["exact"]["all"];
    assert_eq!(
        (
            exact["epe"].as_f64(),
            exact["density"].as_f64(),
            exact["d1"].as_f64()
        ),
        (Some(0.0), Some(1.0), Some(0.0))
    );
    assert!(v["exact"]["Car"]["pixels"].as_u64().unwrap() > 100);
    let sgm = &v["sgm"]["all"];
    assert!(
        sgm["epe"].as_f64().unwrap() > 0.0 && sgm["d1"].as_f64().unwrap() < 0.25,
        "{sgm}"
    );
    // Per object: the ground truth places every car and pedestrian exactly; as many objects
    // as the frames have labels of those classes with 10 mask pixels of ground truth in range.
    assert!(text(&o).contains("Per object"), "{}", text(&o));
    let (mut expected, mut outline) = ([0u64; 2], [0u64; 2]);
    for id in ["000000", "000001", "000002"] {
        let at = |dir: &str, ext: &str| root.join(format!("training/{dir}/{id}.{ext}"));
        let mask = kitti::InstanceMask::read(&at("instance_2", "png")).unwrap();
        let gt = kitti::DisparityMap::read_any(&at("disparity_2", "png")).unwrap();
        let calib = kitti::Calibration::read(&at("calib", "txt")).unwrap();
        let fb = calib.fu() * kitti::Baseline::REFERENCE.metres(&calib);
        let labels = kitti::read_labels(&at("label_2", "txt")).unwrap();
        for (i, l) in labels.iter().enumerate() {
            let class = match l.kind {
                kitti::ObjectType::Car => 0,
                kitti::ObjectType::Pedestrian => 1,
                _ => continue,
            };
            let pixels = mask
                .data
                .iter()
                .zip(&gt.data)
                .filter(|(m, g)| {
                    let z = fb / **g as f64;
                    **m as usize == i + 1 && **g > 0.0 && (1.0..=80.0).contains(&z)
                })
                .count();
            expected[class] += (pixels >= 10) as u64;
        }
        // Outlines, counted pixel by pixel: ground-truth pixels that show no labelled object
        // but have a car (else a pedestrian) pixel within 4 px.
        let (w, h) = (mask.width as i64, mask.height as i64);
        let class_at = |x: i64, y: i64| match mask.data[(y * w + x) as usize] {
            0 => None,
            id => Some(labels[id as usize - 1].kind),
        };
        for y in 0..h {
            for x in 0..w {
                if mask.data[(y * w + x) as usize] != 0 || gt.data[(y * w + x) as usize] <= 0.0 {
                    continue;
                }
                let near = |kind| {
                    (y - 4..=y + 4).any(|v| {
                        (x - 4..=x + 4).any(|u| {
                            u >= 0 && v >= 0 && u < w && v < h && class_at(u, v) == Some(kind)
                        })
                    })
                };
                if near(kitti::ObjectType::Car) {
                    outline[0] += 1;
                } else if near(kitti::ObjectType::Pedestrian) {
                    outline[1] += 1;
                }
            }
        }
    }
    for (class, n) in [
        ("Car outline", outline[0]),
        ("Pedestrian outline", outline[1]),
    ] {
        let m = &v["exact"][class];
        assert_eq!(
            (m["pixels"].as_u64(), m["epe"].as_f64()),
            (Some(n), Some(0.0)),
            "{class}"
        );
    }
    assert!(outline[0] > 0, "no car outline to count");
    // Object pixels from LiDAR points are samples, not silhouettes: no outline rows then.
    let (o, by_lidar) = eval_json(&["--pred", &exact_arg, "--classes", "lidar"]);
    let exact_by_lidar = &by_lidar["exact"];
    assert!(
        exact_by_lidar["Car"]["pixels"].as_u64().unwrap() > 0,
        "{exact_by_lidar}"
    );
    assert!(exact_by_lidar["Car outline"].is_null(), "{exact_by_lidar}");
    assert!(!text(&o).contains("outline"), "{}", text(&o));
    // Depth edges dropped first: the exact map loses the pixels whose 5 x 5 window spans more
    // than 15 % (counted here window by window), and what is kept is still exact.
    let (_, edged) = eval_json(&["--pred", &exact_arg, "--edge-ratio", "0.15"]);
    let mut dropped = 0u64;
    for id in ["000000", "000001", "000002"] {
        let gt =
            kitti::DisparityMap::read_any(&root.join(format!("training/disparity_2/{id}.png")))
                .unwrap();
        let (w, h) = (gt.width as i64, gt.height as i64);
        let at = |x: i64, y: i64| gt.data[(y * w + x) as usize];
        for y in 0..h {
            for x in 0..w {
                if at(x, y) <= 0.0 {
                    continue;
                }
                let window: Vec<f32> = (y - 2..=y + 2)
                    .flat_map(|v| (x - 2..=x + 2).map(move |u| (u, v)))
                    .filter(|&(u, v)| u >= 0 && v >= 0 && u < w && v < h)
                    .map(|(u, v)| at(u, v))
                    .filter(|d| *d > 0.0)
                    .collect();
                let lo = window.iter().cloned().fold(f32::INFINITY, f32::min) as f64;
                let hi = window.iter().cloned().fold(0.0, f32::max) as f64;
                dropped += (hi > 1.15 * lo) as u64;
            }
        }
    }
    let (all, kept) = (&v["exact"]["all"], &edged["exact"]["all"]);
    assert!(dropped > 0, "no depth edge in the frames");
    assert_eq!(
        (kept["pixels"].as_u64(), kept["epe"].as_f64()),
        (Some(all["pixels"].as_u64().unwrap() - dropped), Some(0.0)),
        "{kept}"
    );
    let density = kept["density"].as_f64().unwrap();
    assert!(density < 1.0 && density > 0.5, "{kept}");
    let o = eval(&["--pred", &exact_arg, "--edge-ratio", "0"]);
    assert_fails_naming(&o, &["--edge-ratio = 0"]);
    // Two models of one name would share a row label and a JSON key; a name or folder left
    // out of NAME=DIR is named too.
    let o = eval(&["--pred", &exact_arg, "--pred", &exact_arg]);
    assert_fails_naming(&o, &["a second model named", "NAME=DIR"]);
    let o = eval(&["--pred", &format!("={exact_arg}")]);
    assert_fails_naming(&o, &["needs both a name and a folder"]);
    for (class, n) in [("Car", expected[0]), ("Pedestrian", expected[1])] {
        let bins = v["exact"]["objects"][class].as_object();
        let counted: u64 = bins
            .iter()
            .flat_map(|b| b.values())
            .map(|m| {
                assert_eq!(
                    (m["error"].as_f64(), m["within"].as_f64()),
                    (Some(0.0), Some(1.0)),
                    "{m}"
                );
                m["objects"].as_u64().unwrap()
            })
            .sum();
        assert_eq!(counted, n, "{class}: {}", v["exact"]["objects"]);
    }
    assert!(expected[0] > 0, "no car to count");
    let plot = image::open(&png).unwrap();
    assert_eq!((plot.width(), plot.height()), (3 * 460, 340));
    // An instance mask of another size than its frame is named with both sizes (it used to
    // panic indexing the mask).
    let mask = root.join("training/instance_2/000001.png");
    let kept = std::fs::read(&mask).unwrap();
    kitti::png16::write_gray16(&mask, 7, 5, &[0; 35]).unwrap();
    let o = eval(&["--pred", &sgm_arg]);
    assert_fails_naming(&o, &["instance_2/000001.png", "7x5"]);
    assert_ne!(o.status.code(), Some(101), "{}", text(&o));
    std::fs::write(&mask, kept).unwrap();
    // A missing prediction is named.
    std::fs::remove_file(pred.join("000002.png")).unwrap();
    let o = eval(&["--pred", &sgm_arg]);
    assert_fails_naming(&o, &["000002.png"]);
}

/// Lines replaced in a config (old, new), and what the error must name.
type BadConfig = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// Training configs that must fail before any work: lines of psmnet-tiny.toml replaced, and
/// what the error must name besides the file.
const BAD_TRAINING_CONFIGS: &[BadConfig] = &[
    // Values the hourglasses cannot take.
    (
        &[("max_disparity = 32", "max_disparity = 40")],
        &["model.max_disparity = 40", "multiple of 16"],
    ),
    (
        &[(
            "max_disparity = 32",
            "max_disparity = 32\ncost_volume_scale = 3",
        )],
        &["model.cost_volume_scale = 3", "or 2"],
    ),
    (
        &[
            ("seed = 7", "seed = 7\nnetwork = \"sdn\""),
            (
                "max_disparity = 32",
                "max_disparity = 32\ncost_volume_scale = 2",
            ),
        ],
        &["model.cost_volume_scale = 2", "\"sdn\""],
    ),
    // Sizes the process could not allocate (it aborted).
    (
        &[("width = 8", "width = 100000000")],
        &["model.width = 100000000", "1 to 512"],
    ),
    (
        &[("blocks = [1, 1, 1, 1]", "blocks = [1, 1, 1, 100000000]")],
        &["model.blocks = [1, 1, 1, 100000000]", "at most 64"],
    ),
    (
        &[
            ("max_disparity = 32", "max_disparity = 2048"),
            ("crop = [64, 128]", "crop = [64, 2048]"),
        ],
        &["model.max_disparity = 2048", "at most 1024"],
    ),
    // A start may differ only in settings that change no parameter.
    (
        &[("seed = 7", "seed = 7\ninit_may_differ = [\"model.width\"]")],
        &["init_may_differ = [\"model.width\"]", "change no parameter"],
    ),
    // The refinement stage's values, and the stage on SDN, which has no disparity regression.
    (
        &[(
            "align_corners = false",
            "align_corners = false\n\n[model.refine]\nstep = 0.0",
        )],
        &["model.refine.step = 0"],
    ),
    (
        &[(
            "align_corners = false",
            "align_corners = false\n\n[model.refine]\noffsets = 0",
        )],
        &["model.refine.offsets = 0"],
    ),
    (
        &[(
            "align_corners = false",
            "align_corners = false\n\n[model.refine]\nchannels = 0",
        )],
        &["model.refine.channels = 0"],
    ),
    (
        &[
            ("seed = 7", "seed = 7\nnetwork = \"sdn\""),
            (
                "align_corners = false",
                "align_corners = false\n\n[model.refine]",
            ),
        ],
        &["model.refine", "network = \"sdn\""],
    ),
    // Geometric levels on SDN (which resamples a uniform volume), and a spacing not offered.
    (
        &[
            ("seed = 7", "seed = 7\nnetwork = \"sdn\""),
            (
                "align_corners = false",
                "align_corners = false\nlevels = \"geometric\"",
            ),
        ],
        &["model.levels = \"geometric\"", "\"sdn\""],
    ),
    (
        &[(
            "align_corners = false",
            "align_corners = false\nlevels = \"log\"",
        )],
        &["levels", "geometric"],
    ),
    // An object weight that is not a positive number, and one on SDN (whose loss has none).
    (
        &[("seed = 7", "seed = 7\nobject_weight = 0.0")],
        &["object_weight", "above 0"],
    ),
    (
        &[("seed = 7", "seed = 7\nobject_weight = -2.0")],
        &["object_weight", "above 0"],
    ),
    (
        &[("seed = 7", "seed = 7\nobject_weight = inf")],
        &["object_weight", "finite"],
    ),
    (
        &[(
            "seed = 7",
            "seed = 7\nnetwork = \"sdn\"\nobject_weight = 4.0",
        )],
        &["object_weight = 4", "\"sdn\""],
    ),
    // A value serde refuses is named by its line and key.
    (
        &[("seed = 7", "seed = 7\nbatch_norm = \"fro\"")],
        &["(`batch_norm = \"fro\"`)", "expected `train` or `frozen`"],
    ),
    (&[("crop = [64, 128]", "crop = [0, 0]")], &["crop = [0, 0]"]),
    // Two rates for one epoch (which one applies is a guess), and selection by a validation
    // that never runs (the last epoch's weights would predict without a word).
    (
        &[(
            "lr_steps = []",
            "lr_steps = [[5, 0.0001], [9, 0.00001], [5, 0.001]]",
        )],
        &["lr_steps = [5, 0.001]", "epoch 5 is given two rates"],
    ),
    (
        &[("val_frames = 4", "val_frames = 0\nselect = \"best_val\"")],
        &["select = \"best_val\"", "val_frames = 0"],
    ),
];

#[test]
fn psmnet_train_predict_and_a_checkpoint_of_another_architecture() {
    let (tmp, root) = synthetic_root("2");
    let r = |p: &str| arg(&root, p);
    // `ftf disparity train` of psmnet-tiny.toml with some lines replaced, into `out`.
    let train_with = |replace: &[(&str, &str)], out: &str| {
        let cfg = config(tmp.path(), "psmnet-tiny.toml", replace);
        ftf(&[
            "disparity",
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--root",
            &r(""),
            "--gt",
            &r("training/disparity_2"),
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ])
    };
    let o = train_with(
        &[
            ("epochs = 20", "epochs = 1"),
            ("val_frames = 4", "val_frames = 1"),
        ],
        "run",
    );
    let run = tmp.path().join("run");
    assert!(
        o.status.success() && text(&o).contains("1 epochs done"),
        "{}",
        text(&o)
    );
    // One checkpoint: the epoch's weights and Adam state, named by the state file written last.
    let files = burn_support::CheckpointFiles::new(&run);
    for f in [
        run.join("config.toml"),
        run.join("checkpoints/model-0000.bpk"),
        run.join("checkpoints/optim-0000.bpk"),
        files.state(),
    ] {
        assert!(f.is_file(), "{} missing", f.display());
    }
    assert_eq!(files.model(), run.join("checkpoints/model-0000.bpk"));
    // A validation split that repeats training frames, refused before any work.
    let shared = tmp.path().join("shared-val");
    let o = ftf(&[
        "disparity",
        "train",
        "--config",
        config(tmp.path(), "psmnet-tiny.toml", &[])
            .to_str()
            .unwrap(),
        "--root",
        &r(""),
        "--gt",
        &r("training/disparity_2"),
        "--val-split",
        "trainval",
        "--out",
        shared.to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &[
            "ImageSets/trainval.txt:1",
            "is also in the training split",
            "train.txt",
        ],
    );
    assert!(!shared.exists());
    // A fresh training into the finished run's folder (no --resume) is refused before it
    // rewrites the folder's config: a stop before its first epoch left the old weights under
    // the new settings.
    let config_before = std::fs::read(run.join("config.toml")).unwrap();
    let o = train_with(
        &[
            ("epochs = 20", "epochs = 1"),
            ("val_frames = 4", "val_frames = 1"),
            ("seed = 7", "seed = 8"),
        ],
        "run",
    );
    assert_fails_naming(
        &o,
        &[
            "run/checkpoints/state.json",
            "holds a training run",
            "--resume",
        ],
    );
    assert_eq!(
        std::fs::read(run.join("config.toml")).unwrap(),
        config_before
    );
    // `select = "last"` (the default): no best-epoch weights, the last epoch predicts.
    assert_eq!(files.best(), None);
    assert_eq!(files.for_inference(), files.model());
    let pred = tmp.path().join("pred");
    let predict = |out: &Path| {
        ftf(&[
            "disparity",
            "predict",
            "--model",
            "trained",
            "--run",
            run.to_str().unwrap(),
            "--root",
            &r(""),
            "--split",
            "val",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = predict(&pred);
    assert!(
        o.status.success() && text(&o).contains("GB of RAM"),
        "{}",
        text(&o)
    );
    let d = kitti::DisparityMap::read(&pred.join("000002.png")).unwrap();
    assert_eq!((d.width, d.height), (311, 94));
    // One bit flipped in the weights (the file still parses, as other weights): refused by
    // the checksum its run's state recorded; the run folder is restored afterwards.
    let weights = files.model();
    let kept = std::fs::read(&weights).unwrap();
    let mut damaged = kept.clone();
    damaged[kept.len() - 1] ^= 0x40;
    std::fs::write(&weights, &damaged).unwrap();
    let o = predict(&tmp.path().join("pred-damaged"));
    assert_fails_naming(&o, &["model-0000.bpk", "damaged or replaced"]);
    std::fs::write(&weights, &kept).unwrap();
    // The same weights under a wider network: refused, naming both files.
    let wide = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replace("width = 8", "width = 16");
    std::fs::write(run.join("config.toml"), wide).unwrap();
    let o = predict(&tmp.path().join("pred2"));
    assert_fails_naming(&o, &["model-0000.bpk", "config.toml"]);

    // Values the network or its training cannot take fail before any work, naming the file and
    // the field.
    for (i, (replace, named)) in BAD_TRAINING_CONFIGS.iter().enumerate() {
        let out = format!("bad-config-{i}");
        let o = train_with(replace, &out);
        assert_fails_naming(&o, &[&["psmnet-tiny.toml"], *named].concat());
        assert!(!tmp.path().join(&out).exists(), "work started: {replace:?}");
    }
    // A crop larger than the frames (the reference's 256 x 512 on 311 x 94 frames) names a
    // frame and the crop instead of failing inside the network.
    let o = train_with(&[("crop = [64, 128]", "crop = [256, 512]")], "bad-crop");
    assert_fails_naming(&o, &["image_2/", "311 x 94", "crop = [256, 512]"]);
    assert_ne!(o.status.code(), Some(101), "{}", text(&o));
    assert!(!tmp.path().join("bad-crop/checkpoints").exists());
    let o = train_with(
        &[("epochs = 20", "epochs = 20\ninit = \"nowhere\"")],
        "bad3",
    );
    assert_fails_naming(&o, &["nowhere/config.toml"]);
    assert!(!tmp.path().join("bad3").exists(), "work started");
}

#[test]
fn detect_train_predict_draw_and_evaluate() {
    let (tmp, root) = synthetic_root("3");
    let r = |p: &str| arg(&root, p);
    let cfg = config(
        tmp.path(),
        "pointpillars-tiny.toml",
        &[("epochs = 24", "epochs = 1")],
    );
    let run = tmp.path().join("run");
    let train = |points: &str, out: &Path| {
        ftf(&[
            "detect",
            "train",
            "--points",
            points,
            "--labels",
            &r("training/label_2"),
            "--split",
            &r("ImageSets/train.txt"),
            "--val-split",
            &r("ImageSets/val.txt"),
            "--class",
            "car",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = train(&r("training/velodyne"), &run);
    assert!(
        o.status.success() && text(&o).contains("1 epochs done"),
        "{}",
        text(&o)
    );
    // A validation split that repeats training frames, refused before any work.
    let shared = tmp.path().join("shared-val");
    let o = ftf(&[
        "detect",
        "train",
        "--points",
        &r("training/velodyne"),
        "--labels",
        &r("training/label_2"),
        "--split",
        &r("ImageSets/train.txt"),
        "--val-split",
        &r("ImageSets/trainval.txt"),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        shared.to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &[
            "ImageSets/trainval.txt:1",
            "is also in the training split",
            "train.txt",
        ],
    );
    assert!(!shared.exists());
    // A second writer of a run folder (here this test, holding its lock) stops at once,
    // naming the holder, before it writes anything there.
    let held = tmp.path().join("held");
    let lock = kitti::lock::acquire(&held, "").unwrap();
    let o = ftf(&[
        "detect",
        "train",
        "--points",
        &r("training/velodyne"),
        "--labels",
        &r("training/label_2"),
        "--split",
        &r("ImageSets/train.txt"),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        held.to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &[
            &format!("another process (id {})", std::process::id()),
            "is writing this folder",
            "held/.lock",
        ],
    );
    assert!(!held.join("config.toml").exists());
    drop(lock);
    // A fresh training into a folder holding a run is refused, naming its state.
    assert_fails_naming(
        &train(&r("training/velodyne"), &run),
        &["run/checkpoints/state.json", "--resume"],
    );
    // A stub left image (1 x 1): only its size is read, and it would silently change the
    // camera's field of view; refused, naming it.
    let first = std::fs::read_to_string(root.join("ImageSets/train.txt")).unwrap();
    let first = first.lines().next().unwrap().to_string();
    let image = root.join(format!("training/image_2/{first}.png"));
    let kept = std::fs::read(&image).unwrap();
    kitti::png16::write_rgb_png(&image, 1, 1, &[0, 0, 0]).unwrap();
    let o = ftf(&[
        "detect",
        "train",
        "--points",
        &r("training/velodyne"),
        "--labels",
        &r("training/label_2"),
        "--split",
        &r("ImageSets/train.txt"),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        tmp.path().join("stub").to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &[
            &format!("image_2/{first}.png"),
            "1x1",
            "does not fit its calibration",
        ],
    );
    std::fs::write(&image, kept).unwrap();
    // A pillar size whose grid the process could not allocate (it aborted), refused before any
    // work, naming the file, the field and the grid.
    let huge = tmp.path().join("huge-grid.toml");
    let tiny = std::fs::read_to_string(&cfg).unwrap();
    assert!(tiny.contains("size = [0.4, 0.4]"));
    std::fs::write(
        &huge,
        tiny.replace("size = [0.4, 0.4]", "size = [0.0001, 0.0001]"),
    )
    .unwrap();
    let o = ftf(&[
        "detect",
        "train",
        "--points",
        &r("training/velodyne"),
        "--labels",
        &r("training/label_2"),
        "--split",
        &r("ImageSets/train.txt"),
        "--config",
        huge.to_str().unwrap(),
        "--out",
        tmp.path().join("huge").to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["huge-grid.toml: pillars.size", "512000 x 512000"]);
    assert!(!tmp.path().join("huge").exists(), "work started");
    for f in [
        "config.toml",
        "checkpoints/model-0000.bpk",
        "checkpoints/state.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let results = tmp.path().join("results");
    let predict_into = |points: &str, bev: &[&str]| {
        let (labels, split) = (r("training/label_2"), r("ImageSets/val.txt"));
        let mut args = vec![
            "detect",
            "predict",
            "--run",
            run.to_str().unwrap(),
            "--points",
            points,
            "--labels",
            &labels,
            "--split",
            &split,
            "--out",
            results.to_str().unwrap(),
        ];
        args.extend_from_slice(bev);
        ftf(&args)
    };
    let o = predict_into(&r("training/velodyne"), &["--bev", "000002"]);
    assert!(o.status.success(), "{}", text(&o));
    // The same detector on the same clouds again: the folder is theirs. Other clouds' (or
    // another detector's) results into it are refused, naming the record: their files would
    // stay beside these, and a larger split would score both.
    let o = predict_into(&r("training/velodyne"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let other = tmp.path().join("other-clouds");
    copy_dir(&root.join("training/velodyne"), &other);
    let o = predict_into(other.to_str().unwrap(), &[]);
    assert_fails_naming(
        &o,
        &[
            "results/predicted_by.txt",
            "another detector or clouds",
            "other-clouds",
        ],
    );
    // One result file per frame (empty when nothing is found), readable by `ftf eval`.
    assert!(results.join("000002.txt").is_file());
    assert!(results.join("bev/000002.png").is_file());
    assert!(results.join("bev/000002.svg").is_file());
    let o = ftf(&[
        "eval",
        "--gt",
        &r("training/label_2"),
        "--results",
        results.to_str().unwrap(),
        "--split",
        &r("ImageSets/val.txt"),
        "--classes",
        "car",
        "--image-scale",
        "0.25",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // An empty point file stops training before any work, naming the file.
    std::fs::write(root.join("training/velodyne/000000.bin"), b"").unwrap();
    let o = train(&r("training/velodyne"), &tmp.path().join("empty-points"));
    assert_fails_naming(&o, &["000000.bin", "empty"]);
}

/// A `.npy` file of `shape` with element type `descr` (e.g. `<f8`) and zero data, as numpy
/// writes it (header padded to 64 bytes).
fn raw_npy(path: &Path, descr: &str, shape: &[usize], elem: usize) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(vec![0u8; shape.iter().product::<usize>() * elem]);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn npy_maps_are_predicted_evaluated_and_converted_as_png_maps_are() {
    let (tmp, root) = synthetic_root("12");
    let r = |p: &str| arg(&root, p);
    let predict = |out: &Path, format: &str| {
        let o = ftf(&[
            "disparity",
            "predict",
            "--root",
            &r(""),
            "--split",
            "trainval",
            "--out",
            out.to_str().unwrap(),
            "--max-disparity",
            "48",
            "--format",
            format,
        ]);
        assert!(o.status.success(), "{}", text(&o));
    };
    let (png, npy) = (tmp.path().join("png"), tmp.path().join("npy"));
    predict(&png, "png");
    predict(&npy, "npy");
    // The other format into a filled folder is refused (it would leave two maps per frame).
    let o = ftf(&[
        "disparity",
        "predict",
        "--root",
        &r(""),
        "--split",
        "trainval",
        "--out",
        png.to_str().unwrap(),
        "--max-disparity",
        "48",
        "--format",
        "npy",
    ]);
    assert_fails_naming(&o, &["model.txt"]);
    // The same SGM maps; the PNG rounds them to 1/256 px, the .npy keeps them.
    let a = kitti::DisparityMap::read(&png.join("000001.png")).unwrap();
    let b = kitti::DisparityMap::read_npy(&npy.join("000001.npy")).unwrap();
    assert_eq!((a.width, a.height), (b.width, b.height));
    assert!(a
        .data
        .iter()
        .zip(&b.data)
        .all(|(p, n)| (p - n).abs() <= 1.0 / 512.0 + 1e-6));
    assert!(
        b.data.iter().any(|d| (d * 256.0).fract().abs() > 1e-3),
        "unquantised values"
    );
    let eval = |pred: &Path| {
        let json = pred.with_extension("json");
        let o = ftf(&[
            "disparity",
            "eval",
            "--gt",
            &r("training/disparity_2"),
            "--root",
            &r(""),
            "--split",
            "trainval",
            "--pred",
            &format!("m={}", pred.display()),
            "--json",
            json.to_str().unwrap(),
        ]);
        (o, json)
    };
    let epe = |json: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        v["m"]["all"]["epe"].as_f64().unwrap()
    };
    let (o, png_json) = eval(&png);
    assert!(o.status.success(), "{}", text(&o));
    let (o, npy_json) = eval(&npy);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        (epe(&png_json) - epe(&npy_json)).abs() < 2e-3,
        "{} vs {}",
        epe(&png_json),
        epe(&npy_json)
    );
    // Pseudo-LiDAR from the .npy maps.
    let cloud = tmp.path().join("pl");
    let convert = |maps: &Path, out: &Path| {
        ftf(&[
            "pseudo-lidar",
            "--disparity",
            maps.to_str().unwrap(),
            "--calib",
            &r("training/calib"),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = convert(&npy, &cloud);
    assert!(
        o.status.success() && text(&o).contains("3 frames converted"),
        "{}",
        text(&o)
    );
    // Another element type or shape is named with the file.
    raw_npy(
        &npy.join("000002.npy"),
        "<f8",
        &[b.height as usize, b.width as usize],
        8,
    );
    let (o, _) = eval(&npy);
    assert_fails_naming(&o, &["000002.npy", "<f8", "float32"]);
    kitti::npy::write_f32(&npy.join("000002.npy"), &[4, 5], &[1.0; 20]).unwrap();
    let o = convert(&npy, &tmp.path().join("pl2"));
    assert_fails_naming(&o, &["000002.npy", "5x4"]);
    // A folder holding both formats of a frame is refused, naming both.
    std::fs::copy(png.join("000000.png"), npy.join("000000.png")).unwrap();
    let (o, _) = eval(&npy);
    assert_fails_naming(&o, &["000000.png", "000000.npy"]);
}

#[test]
fn imported_reference_checkpoints_become_run_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let psm = fixtures.join("disparity/tests/fixtures/psmnet-reference/psmnet.tar");
    let cfg = tmp.path().join("psm.toml");
    std::fs::write(
        &cfg,
        "[model]\nmax_disparity = 32\nwidth = 4\nblocks = [1, 2, 1, 1]\npyramid_pools = [8, 4, 2, 1]\nfeature_channels = 4\naggregation_channels = 2\n",
    )
    .unwrap();
    let run = tmp.path().join("psm-run");
    let o = ftf(&[
        "disparity",
        "import",
        "--from",
        psm.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(
        o.status.success() && text(&o).contains("imported 229 tensors"),
        "{}",
        text(&o)
    );
    assert!(
        run.join("config.toml").is_file() && run.join("checkpoints/model-imported.bpk").is_file()
    );
    // The reference width is refused with the tensors listed.
    let o = ftf(&[
        "disparity",
        "import",
        "--from",
        psm.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["psmnet.tar", "wrong shape"]);
    let pp = fixtures.join("detector/tests/fixtures/pointpillars-reference/pointpillars.pth");
    let o = ftf(&[
        "detect",
        "import",
        "--from",
        pp.to_str().unwrap(),
        "--out",
        tmp.path().join("y").to_str().unwrap(),
        "--config",
        "configs/pointpillars-openpcdet-kitti.toml",
    ]);
    assert_fails_naming(
        &o,
        &[
            "pointpillars.pth",
            "wrong shape",
            "vfe.pfn_layers.0.linear.weight",
        ],
    );
}
