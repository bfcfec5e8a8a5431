//! `ftf experiment` end to end on a minimal study: a handful of tiny synthetic frames, the real
//! LiDAR, SGM and a tiny PSMNet with the depth loss upstream, a tiny car detector downstream.

#[path = "../common/mod.rs"]
mod common;

mod close;
mod controlled;
mod runs;
mod seeds;
mod validation;

use common::{config, ftf, text};

use std::path::{Path, PathBuf};
use std::process::Output;

/// Writes the minimal study into `dir` and returns its path; `extra` is appended.
pub fn study(dir: &Path, psmnet_epochs: usize, extra: &str) -> PathBuf {
    study_with(dir, psmnet_epochs, 1, "", extra)
}

/// The minimal study with `detector_epochs` and `data` lines added to its `[data]` table.
pub fn study_with(
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

pub fn run(cfg: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["experiment", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    ftf(&args)
}

/// The mini study without its PSMNet (detectors only differ here), named `name`, with
/// `upstream_seeds` and `downstream_seeds` when given; scored on its training frames so that
/// the APs are not zero.
pub fn detector_study(
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

pub fn report_of(dir: &Path, name: &str) -> serde_json::Value {
    let path = dir.join(format!("runs/{name}/report.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fresh `ftf eval` (car, both IoU sets, quarter-size images) of `results` against `labels`
/// on the frames of `split`, written to `json`: the flat AP keys.
pub fn fresh_eval(labels: &Path, results: &Path, split: &Path, json: &Path) -> serde_json::Value {
    let o = common::eval(
        labels,
        results,
        split,
        &[
            "--classes",
            "car",
            "--iou",
            "official,loose",
            "--image-scale",
            "0.25",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}
