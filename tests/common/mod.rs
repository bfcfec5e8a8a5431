//! Helpers shared by the end-to-end tests of the `ftf` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `ftf` with `args` and waits for it.
pub fn ftf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftf"))
        .args(args)
        .output()
        .expect("ftf runs")
}

/// `ftf eval` of `results` against the `labels` on the frames of `split`, with `extra` arguments.
pub fn eval(labels: &Path, results: &Path, split: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "eval",
        "--gt",
        labels.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--split",
        split.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ftf(&args)
}

/// Its stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A config file from the repository's `configs/` with some lines replaced.
pub fn config(dir: &Path, name: &str, replace: &[(&str, &str)]) -> PathBuf {
    let mut t =
        std::fs::read_to_string(format!("{}/configs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for (a, b) in replace {
        assert!(t.contains(a), "{name} lacks `{a}`");
        t = t.replace(a, b);
    }
    let p = dir.join(name);
    std::fs::write(&p, t).unwrap();
    p
}
