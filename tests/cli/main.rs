//! End-to-end tests of the `ftf` binary, one module a command family: each runs the binary on
//! a small synthetic KITTI root and checks what it wrote or the error it named.

#[path = "../common/mod.rs"]
mod common;

mod arguments;
mod detect;
mod disparity;
mod disparity_train;
mod eval;
mod inspect;
mod pseudo_lidar;

use common::{ftf, text};
use std::path::{Path, PathBuf};
use std::process::Output;

pub fn synth(out: &Path, seed: &str) -> Output {
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
pub fn synthetic_root(seed: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let o = synth(&root, seed);
    assert!(o.status.success(), "{}", text(&o));
    (tmp, root)
}

/// `root/p` as a command-line argument.
pub fn arg(root: &Path, p: &str) -> String {
    root.join(p).to_str().unwrap().to_string()
}

/// Asserts that a command failed and that its output names every needle.
pub fn assert_fails_naming(o: &Output, needles: &[&str]) {
    let t = text(o);
    assert!(!o.status.success(), "succeeded:\n{t}");
    let missing: Vec<_> = needles.iter().filter(|n| !t.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "the error does not name {missing:?}:\n{t}"
    );
}

pub fn files(dir: &Path) -> Vec<PathBuf> {
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

pub fn copy_dir(from: &Path, to: &Path) {
    for f in files(from) {
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}
