//! `ftf gt-disparity`, `ftf pseudo-lidar` and `ftf close-labels`.

use crate::common::{ftf, text};
use crate::{arg, assert_fails_naming, synthetic_root};
use kitti::read_velodyne;
use std::path::Path;

#[test]
fn gt_disparity_and_pseudo_lidar_commands() {
    let (tmp, root) = synthetic_root("4");
    let r = |p: &str| arg(&root, p);
    // `ftf gt-disparity` of the root's `split`, with `extra`.
    let root_arg = r("");
    let gt_disparity = |split: &str, extra: &[&str]| {
        ftf(&[
            &["gt-disparity", "--root", &root_arg, "--split", split][..],
            extra,
        ]
        .concat())
    };
    let o = gt_disparity("trainval", &[]);
    assert!(
        o.status.success() && text(&o).contains("3 disparity maps written"),
        "{}",
        text(&o)
    );
    let lidar_disp =
        kitti::DisparityMap::read(&root.join("training/disparity_lidar/000000.png")).unwrap();
    let valid = lidar_disp.data.iter().filter(|d| **d > 0.0).count();
    assert!(valid > 1000, "{valid} LiDAR pixels");
    // Outputs go into folders these commands made: a root's own ground truth given as `--out`
    // is refused before anything is written (gt-disparity took the exact maps there as done,
    // close-labels overwrote label_2), its files untouched.
    let exact = root.join("training/disparity_2/000000.png");
    let kept = std::fs::read(&exact).unwrap();
    let o = gt_disparity("trainval", &["--out", &r("training/disparity_2")]);
    assert_fails_naming(&o, &["training/disparity_2", "no gt-disparity.toml"]);
    assert_eq!(std::fs::read(&exact).unwrap(), kept);
    // Its own folder again: the same settings find their maps; other settings are refused.
    let o = gt_disparity("trainval", &[]);
    assert!(
        o.status.success() && text(&o).contains("0 disparity maps written, 3 already there"),
        "{}",
        text(&o)
    );
    let o = gt_disparity("val", &["--baseline", "calib"]);
    assert_fails_naming(
        &o,
        &["gt-disparity.toml", "other settings", "baseline = \"0.54\""],
    );
    let label = root.join("training/label_2/000000.txt");
    let kept = std::fs::read_to_string(&label).unwrap();
    let o = ftf(&[
        "close-labels",
        "--root",
        &r(""),
        "--out",
        &r("training/label_2"),
    ]);
    assert_fails_naming(&o, &["training/label_2", "no close-labels.toml"]);
    assert_eq!(std::fs::read_to_string(&label).unwrap(), kept);
    let o = ftf(&["close-labels", "--root", &r("")]);
    assert!(
        o.status.success() && text(&o).contains("close labels of 3 frames"),
        "{}",
        text(&o)
    );
    // Each object centred beyond 20 m became DontCare, the others stayed as they were.
    let close = std::fs::read_to_string(root.join("training/label_2_close/000000.txt")).unwrap();
    let (far, near): (Vec<_>, Vec<_>) = kitti::label::parse_labels(&kept, &label)
        .unwrap()
        .into_iter()
        .filter(|o| o.kind != kitti::ObjectType::DontCare)
        .partition(|o| o.box3d.location.z > 20.0);
    let cut = kitti::label::parse_labels(&close, &label).unwrap();
    assert!(!far.is_empty() && !near.is_empty(), "{kept}");
    for o in &near {
        assert!(cut.contains(o), "{o:?} kept");
    }
    let dont_care = cut.iter().filter(|o| o.kind == kitti::ObjectType::DontCare);
    assert!(dont_care.count() >= far.len(), "{close}");
    // `ftf pseudo-lidar` of a folder of maps, with the root's calibrations, into `out`.
    let (exact, calib) = (r("training/disparity_2"), r("training/calib"));
    let convert = |maps: &str, out: &Path, extra: &[&str]| {
        let out = out.to_str().unwrap();
        let mut a = vec![
            "pseudo-lidar",
            "--disparity",
            maps,
            "--calib",
            &calib,
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        ftf(&a)
    };
    let out = tmp.path().join("pl");
    let (velodyne, labels) = (r("training/velodyne"), r("training/label_2"));
    let drawn = [
        "--sparsify",
        "64x512",
        "--plot-frame",
        "000002",
        "--lidar",
        &velodyne,
        "--labels",
        &labels,
    ];
    let o = convert(&exact, &out, &drawn);
    assert!(
        o.status.success() && text(&o).contains("3 frames converted"),
        "{}",
        text(&o)
    );
    // The root's velodyne folder as `--out` is refused, its scans untouched.
    let scan = root.join("training/velodyne/000000.bin");
    let kept_scan = std::fs::read(&scan).unwrap();
    let o = convert(&exact, &root.join("training/velodyne"), &[]);
    assert_fails_naming(&o, &["training/velodyne", "no pseudo-lidar.toml"]);
    assert_eq!(std::fs::read(&scan).unwrap(), kept_scan);
    assert!(!root.join("training/velodyne/dense").exists());
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
    let o = convert(&exact, &out, &drawn);
    assert!(
        text(&o).contains("0 frames converted, 3 already complete"),
        "{}",
        text(&o)
    );
    let o = convert(&exact, &out, &[&drawn[..], &["--close", "20"]].concat());
    assert_fails_naming(&o, &["pseudo-lidar.toml"]);
    // Depth edges dropped: the exact maps step at every object's silhouette, so some of the
    // points go, and every point kept is one of the unfiltered cloud's.
    let edged = tmp.path().join("edges");
    let run_edges = |extra: &[&str]| convert(&exact, &edged, extra);
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
        // A cut that cuts nothing, or everything.
        (&["--close", "inf"][..], "`inf` is not a distance"),
        (&["--close", "-5"][..], "`-5` is not a distance"),
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
    let o = convert(&exact, &tmp.path().join("x"), &["--sparsify", "64by512"]);
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
    let o = convert(maps.to_str().unwrap(), &tmp.path().join("z"), &[]);
    assert_fails_naming(
        &o,
        &["narrow/0000", "309x94", "not the size of its left image"],
    );
    std::fs::remove_file(root.join("training/calib/000001.txt")).unwrap();
    let o = convert(&exact, &tmp.path().join("y"), &[]);
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
    let o = gt_disparity(
        "val",
        &["--baseline", "calib", "--out", out.to_str().unwrap()],
    );
    assert_fails_naming(&o, &["calib/000002.txt", "stereo baseline", "= 0 m"]);
}
