//! The close clouds, trained and scored against the close labels.

use crate::common::text;
use crate::{detector_study, fresh_eval, report_of, run};

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
