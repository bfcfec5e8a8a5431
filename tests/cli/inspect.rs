//! Generating a synthetic root, inspecting it, and seeing damaged or misaligned data reported.

use crate::common::{ftf, text};
use crate::{assert_fails_naming, copy_dir, files, synth};
use kitti::{read_velodyne, write_velodyne, FileKind, KittiRoot, Part};
use std::path::Path;
use std::process::Output;

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
    // So is a folder of other files (a real root given by mistake), its files untouched.
    let other = tmp.path().join("other");
    let label = other.join("training/label_2/000000.txt");
    std::fs::create_dir_all(label.parent().unwrap()).unwrap();
    std::fs::write(&label, "Car 0 0 0 1 2 3 4 1.5 1.6 3.9 0 1.6 20 0\n").unwrap();
    let o = synth(&other, "5");
    assert_fails_naming(
        &o,
        &[
            "other",
            "holds 1 file(s) (training among them)",
            "no synth.toml",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&label).unwrap(),
        "Car 0 0 0 1 2 3 4 1.5 1.6 3.9 0 1.6 20 0\n"
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(synth(&empty, "5").status.success());

    let out = tmp.path().join("inspect");
    let (o, report) = inspect(&a, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("problems: none"), "{}", text(&o));
    assert_eq!(report["frames_checked"], 3);
    assert!(car_share(&report) > 0.95, "{report}");
    assert!(car_gap(&report) < 0.1, "{report}");
    let bev = image::open(out.join("bev_000000.png")).unwrap();
    assert_eq!((bev.width(), bev.height()), (800, 700));
    // A frame to draw that is not there, and a limit that checks nothing, are named before the
    // inspection runs.
    let args = |extra: &[&str]| {
        let mut v = vec!["inspect", a.to_str().unwrap(), "--out"];
        v.push(out.to_str().unwrap());
        v.extend_from_slice(extra);
        ftf(&v)
    };
    std::fs::remove_file(out.join("report.json")).unwrap();
    let o = args(&["--frame", "000999"]);
    assert_fails_naming(&o, &["--frame `000999`", "no such frame", "velodyne"]);
    let o = args(&["--max-frames", "0"]);
    assert_fails_naming(&o, &["--max-frames 0", "at least 1"]);
    assert!(!out.join("report.json").exists(), "the inspection ran");
    // A file as --out is named too, before the inspection (it used to say "File exists" after).
    let file = out.join("bev_000000.png");
    let o = ftf(&[
        "inspect",
        a.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["--out", "bev_000000.png", "a file"]);
    assert!(!text(&o).contains("problems"), "{}", text(&o));
    let o = args(&["--frame", "000002"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("bev_000002.png").is_file());
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
    // A left image cut short behind an intact header (a download or unzip that stopped), and a
    // grayscale right image beside a colour left one.
    let left = root.path(Part::Training, FileKind::LeftImage, "000002");
    let bytes = std::fs::read(&left).unwrap();
    std::fs::write(&left, &bytes[..bytes.len() / 2]).unwrap();
    let right = root.path(Part::Training, FileKind::RightImage, "000000");
    image::open(&right)
        .unwrap()
        .grayscale()
        .save(&right)
        .unwrap();
    let (o, report) = inspect(&bad, &tmp.path().join("i2"));
    let out = text(&o);
    assert!(
        out.contains("image_2/000002.png: cannot read image"),
        "{out}"
    );
    assert!(
        out.contains("image_3/000000.png: a grayscale image beside the colour left image"),
        "{out}"
    );
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
    assert!(report["problems"].as_array().unwrap().len() >= 7);
}
