//! `ftf eval`: ground truth scored against itself, bad result files named.

use crate::common::{self, text};
use crate::{assert_fails_naming, synth};
use kitti::{FileKind, KittiRoot, Part};

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
    let run = |extra: &[&str]| common::eval(&labels, &results, &split, extra);
    let sets = ["--iou", "official,loose", "--ranges", "0-20,20-40"];
    let o = run(&[
        &["--image-scale", "0.25"][..],
        &sets,
        &["--json", json.to_str().unwrap()],
        &["--pr-plot", png.to_str().unwrap()],
    ]
    .concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3D AP@0.70 R40 Car Moderate"),
        "{}",
        text(&o)
    );
    let read_json = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let ap = read_json(&json);
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
    // Without --image-scale the set's synth.toml gives it (0.25): the same APs; a scale that
    // contradicts it is refused (at 1 the boxes under 40/25 px would leave every difficulty).
    let recorded = tmp.path().join("recorded.json");
    let o = run(&[&sets[..], &["--json", recorded.to_str().unwrap()]].concat());
    assert!(text(&o).contains("heights × 0.25"), "{}", text(&o));
    assert_eq!(read_json(&recorded), ap);
    let o = run(&["--image-scale", "1"]);
    assert_fails_naming(&o, &["--image-scale 1", "synth.toml", "scale 0.25"]);
    // A picture not named .png (x.svg would be overwritten by its own SVG) and a folder as
    // --json are refused before the evaluation, writing nothing.
    let svg = tmp.path().join("curves.svg");
    let o = run(&["--pr-plot", svg.to_str().unwrap()]);
    assert_fails_naming(&o, &["--pr-plot", "curves.svg", "ending in .png"]);
    assert!(!text(&o).contains("AP@") && !svg.exists(), "{}", text(&o));
    let o = run(&["--json", tmp.path().to_str().unwrap()]);
    assert_fails_naming(&o, &["--json", "a folder"]);
    assert!(!text(&o).contains("AP@"), "{}", text(&o));

    // A frame without a result file is an error naming split line and path, unless allowed.
    std::fs::remove_file(results.join("000001.txt")).unwrap();
    let o = run(&[]);
    assert_fails_naming(&o, &["trainval.txt:2", "000001.txt"]);
    assert!(run(&["--missing-as-empty"]).status.success());
    // A mistyped results folder is not a detector that found nothing.
    let typo = tmp.path().join("resluts");
    let o = common::eval(&labels, &typo, &split, &["--missing-as-empty"]);
    assert_fails_naming(&o, &["--results", "resluts", "no such folder"]);
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
    let o = run(&["--image-scale", "inf"]);
    assert_fails_naming(&o, &["--image-scale", "inf"]);
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
