//! Bad command-line arguments, named before any work.

use crate::assert_fails_naming;
use crate::common::{ftf, text};

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
