//! `ftf detect`: train, predict, draw, and the evaluation of its results.

use crate::common::{config, ftf, text};
use crate::{arg, assert_fails_naming, copy_dir, synthetic_root};
use std::path::Path;

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
    // `ftf detect train` on the root's LiDAR and train split into `out`, with `extra`.
    let train_with = |extra: &[&str], out: &Path| {
        let (points, labels, split) = (
            r("training/velodyne"),
            r("training/label_2"),
            r("ImageSets/train.txt"),
        );
        let mut args = vec![
            "detect", "train", "--points", &points, "--labels", &labels, "--split", &split,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
        ftf(&args)
    };
    let (val, trainval, cfg_arg) = (
        r("ImageSets/val.txt"),
        r("ImageSets/trainval.txt"),
        cfg.to_str().unwrap(),
    );
    let train = |out: &Path| {
        train_with(
            &["--val-split", &val, "--class", "car", "--config", cfg_arg],
            out,
        )
    };
    let o = train(&run);
    assert!(
        o.status.success()
            && text(&o).contains("1 epochs done; epoch 0's weights (the best on validation)"),
        "{}",
        text(&o)
    );
    // --resume into a folder without a run says that it starts from the first epoch.
    let fresh = tmp.path().join("fresh");
    let o = train_with(&["--config", cfg_arg, "--class", "car", "--resume"], &fresh);
    assert!(
        o.status.success()
            && text(&o).contains("fresh: no run to continue")
            && text(&o).contains("1 epochs done; the last epoch's weights predict"),
        "{}",
        text(&o)
    );
    // A validation split that repeats training frames, refused before any work.
    let shared = tmp.path().join("shared-val");
    let o = train_with(&["--val-split", &trainval, "--config", cfg_arg], &shared);
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
    let o = train_with(&["--config", cfg_arg], &held);
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
    // A class the training frames hold no object of (the synthetic world has no cyclists) is
    // refused before anything is written: its head would learn that there is none.
    let none = tmp.path().join("no-cyclists");
    let o = train_with(&["--config", cfg_arg, "--class", "cyclist"], &none);
    assert_fails_naming(&o, &["label_2", "no Cyclist in the 2 training frames"]);
    assert!(!none.join("config.toml").exists());
    // A fresh training into a folder holding a run is refused, naming its state.
    assert_fails_naming(&train(&run), &["run/checkpoints/state.json", "--resume"]);
    // A stub left image (1 x 1): only its size is read, and it would silently change the
    // camera's field of view; refused, naming it.
    let first = std::fs::read_to_string(root.join("ImageSets/train.txt")).unwrap();
    let first = first.lines().next().unwrap().to_string();
    let image = root.join(format!("training/image_2/{first}.png"));
    let kept = std::fs::read(&image).unwrap();
    kitti::png16::write_rgb_png(&image, 1, 1, &[0, 0, 0]).unwrap();
    let o = train_with(&["--config", cfg_arg], &tmp.path().join("stub"));
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
    let o = train_with(
        &["--config", huge.to_str().unwrap()],
        &tmp.path().join("huge"),
    );
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
    let (labels, split) = (r("training/label_2"), r("ImageSets/val.txt"));
    let predict_with = |run: &Path, points: &str, out: &Path, bev: &[&str]| {
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
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(bev);
        ftf(&args)
    };
    let predict_to = |points: &str, out: &Path, bev: &[&str]| predict_with(&run, points, out, bev);
    let predict_into = |points: &str, bev: &[&str]| predict_to(points, &results, bev);
    // A folder that is not a run (here the root) is named as such before anything is written.
    let nowhere = tmp.path().join("nowhere");
    let o = predict_with(&root, &r("training/velodyne"), &nowhere, &[]);
    assert_fails_naming(
        &o,
        &["not a run folder: no config.toml", "ftf detect train"],
    );
    assert!(!nowhere.exists());
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
            "results/predicted_by.toml",
            "another detector or clouds",
            "other-clouds",
        ],
    );
    // A folder of files no detector recorded (here the root's labels) is refused untouched.
    let label = root.join("training/label_2/000002.txt");
    let kept = std::fs::read(&label).unwrap();
    let o = predict_to(&r("training/velodyne"), &root.join("training/label_2"), &[]);
    assert_fails_naming(&o, &["training/label_2", "no predicted_by.toml"]);
    assert_eq!(std::fs::read(&label).unwrap(), kept);
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
    let o = train(&tmp.path().join("empty-points"));
    assert_fails_naming(&o, &["000000.bin", "empty"]);
}
