//! `ftf eval`: KITTI AP of a folder of result files against ground-truth labels.

use anyhow::{bail, Context, Result};
use clap::Args;
use eval::{load_frames, report, Class, EvalConfig, IouSet};
use kitti::Split;
use std::path::PathBuf;

/// Arguments of `ftf eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Folder of ground-truth label files (e.g. ROOT/training/label_2).
    #[arg(long)]
    gt: PathBuf,
    /// Folder of result files, one `<id>.txt` per frame (16 fields a line, with score).
    #[arg(long)]
    results: PathBuf,
    /// Split file listing the frames to evaluate (e.g. ROOT/ImageSets/val.txt).
    #[arg(long)]
    split: PathBuf,
    /// IoU threshold sets, comma separated: official, loose, strict.
    #[arg(long, default_value = "official", value_delimiter = ',')]
    iou: Vec<String>,
    /// Classes, comma separated: car, pedestrian, cyclist.
    #[arg(long, default_value = "car,pedestrian,cyclist", value_delimiter = ',')]
    classes: Vec<String>,
    /// Camera-depth bins evaluated without difficulty rules, e.g. 0-20,20-40,40-80.
    #[arg(long, value_delimiter = ',')]
    ranges: Vec<String>,
    /// Skip the Easy/Moderate/Hard evaluation (only the range bins).
    #[arg(long)]
    no_difficulties: bool,
    /// Count split frames without a result file as frames with no detections.
    #[arg(long)]
    missing_as_empty: bool,
    /// Image scale relative to KITTI: KITTI's minimum box heights (40/25/25 px) are multiplied
    /// by it. Default: the scale a synthetic set's synth.toml (two folders above --gt) records,
    /// else 1; a value that contradicts synth.toml is refused.
    #[arg(long)]
    image_scale: Option<f64>,
    /// Also write the APs as flat JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also draw precision-recall curves into this PNG.
    #[arg(long)]
    pr_plot: Option<PathBuf>,
    /// Print one wide table (a header of labels, a row of values) instead of one row per AP.
    #[arg(long)]
    wide: bool,
}

/// Parses `lo-hi` bins.
pub fn parse_ranges(specs: &[String]) -> Result<Vec<(f64, f64)>> {
    specs
        .iter()
        .map(|s| {
            let (lo, hi) = s
                .split_once('-')
                .with_context(|| format!("--ranges: `{s}` is not LO-HI (metres), e.g. 0-20"))?;
            let lo: f64 = lo
                .trim()
                .parse()
                .with_context(|| format!("--ranges: `{lo}` in `{s}` is not a number"))?;
            let hi: f64 = hi
                .trim()
                .parse()
                .with_context(|| format!("--ranges: `{hi}` in `{s}` is not a number"))?;
            if !(lo >= 0.0 && hi > lo) {
                bail!("--ranges: `{s}` needs 0 <= LO < HI");
            }
            Ok((lo, hi))
        })
        .collect()
}

/// Refuses a list whose values (`parsed` from `given`) repeat one: its rows and JSON keys
/// would repeat.
fn once_each<T: PartialEq>(flag: &str, given: &[String], parsed: &[T]) -> Result<()> {
    for (i, v) in parsed.iter().enumerate() {
        if let Some(j) = parsed[..i].iter().position(|w| w == v) {
            bail!(
                "{flag}: `{}` and `{}` name the same value; name each once",
                given[j],
                given[i]
            );
        }
    }
    Ok(())
}

/// Builds the evaluation settings from the arguments.
fn config(a: &EvalArgs) -> Result<EvalConfig> {
    let iou_sets = a
        .iou
        .iter()
        .map(|s| {
            IouSet::parse(s)
                .with_context(|| format!("--iou: unknown set `{s}` (official, loose, strict)"))
        })
        .collect::<Result<Vec<_>>>()?;
    let classes = a
        .classes
        .iter()
        .map(|s| {
            Class::parse(s).with_context(|| {
                format!("--classes: unknown class `{s}` (car, pedestrian, cyclist)")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let height_scale = image_scale(a)?;
    let ranges = parse_ranges(&a.ranges)?;
    once_each("--iou", &a.iou, &iou_sets)?;
    once_each("--classes", &a.classes, &classes)?;
    once_each("--ranges", &a.ranges, &ranges)?;
    let cfg = EvalConfig {
        classes,
        iou_sets,
        difficulties: !a.no_difficulties,
        ranges,
        height_scale,
    };
    if cfg.filters().is_empty() {
        bail!("nothing to evaluate: --no-difficulties needs --ranges");
    }
    Ok(cfg)
}

/// The image scale: `--image-scale`, checked against the scale a synthetic set records (a
/// set rendered at 0.5 evaluated at 1 would drop its boxes under 40/25 px from every
/// difficulty without a word), else that scale, else KITTI's 1.
fn image_scale(a: &EvalArgs) -> Result<f64> {
    if let Some(s) = a.image_scale {
        if !s.is_finite() || s <= 0.0 {
            bail!("--image-scale must be a positive number, got {s}");
        }
    }
    let root = a.gt.parent().and_then(|p| p.parent());
    let recorded = match root {
        Some(r) => synth::dataset::recorded_config(r)?
            .map(|c| (c.scale, r.join(synth::dataset::CONFIG_FILE))),
        None => None,
    };
    match (a.image_scale, recorded) {
        (Some(given), Some((scale, path))) if (given - scale).abs() > 1e-9 => bail!(
            "--image-scale {given}: {} records that these frames were rendered at scale \
             {scale}, and KITTI's minimum box heights shrink with the images; give {scale}, \
             or leave --image-scale out",
            path.display()
        ),
        (Some(given), _) => Ok(given),
        (None, Some((scale, _))) => Ok(scale),
        (None, None) => Ok(1.0),
    }
}

/// Runs `ftf eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    let cfg = config(&a)?;
    super::files::check_report_files(a.json.as_deref(), ("--pr-plot", a.pr_plot.as_deref()))?;
    super::files::require_folder("--gt", &a.gt, "<id>.txt label files")?;
    super::files::require_folder("--results", &a.results, "<id>.txt result files")?;
    let split = Split::read(&a.split)?;
    let frames = load_frames(&a.gt, &a.results, &split, a.missing_as_empty)?;
    let result = eval::evaluate(&frames, &cfg);
    println!(
        "{} frames of {}{}",
        frames.len(),
        a.split.display(),
        if cfg.height_scale == 1.0 {
            String::new()
        } else {
            format!(
                "; minimum box heights × {} (the image scale)",
                cfg.height_scale
            )
        }
    );
    print!(
        "{}",
        if a.wide {
            report::wide_table(&result)
        } else {
            report::table(&result)
        }
    );
    if let Some(path) = &a.json {
        super::files::write_json(path, &report::json(&result))?;
    }
    if let Some(path) = &a.pr_plot {
        super::files::write_figure(path, &report::pr_plot(&result), "precision-recall curves")?;
    }
    Ok(())
}
