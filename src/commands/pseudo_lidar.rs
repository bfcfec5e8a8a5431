//! `ftf pseudo-lidar` (disparity/depth maps → clouds) and `ftf gt-disparity` (LiDAR → disparity
//! ground truth).

use anyhow::{bail, Context, Result};
use clap::Args;
use kitti::{read_labels, read_velodyne, Calibration, KittiRoot, Part, Split};
use pseudo_lidar::frames::{
    convert_frames, gt_disparity_frames, output_paths, ConvertSettings, InputKind,
};
use pseudo_lidar::{Baseline, ConvertConfig, SparsifyConfig};
use std::path::{Path, PathBuf};

/// Parses `--baseline`: `calib` or a number of metres.
pub fn parse_baseline(s: &str) -> Result<Baseline> {
    Baseline::parse(s)
        .with_context(|| format!("--baseline: `{s}` is neither `calib` nor a baseline in metres"))
}

/// Arguments of `ftf pseudo-lidar`.
#[derive(Args)]
pub struct PseudoLidarArgs {
    /// Folder of disparity PNGs (`<id>.png`, value / 256 px), or depth PNGs with --depth.
    #[arg(long)]
    disparity: PathBuf,
    /// Folder of calibration files (`<id>.txt`).
    #[arg(long)]
    calib: PathBuf,
    /// Output folder: clouds go to OUT/dense/<id>.bin (and OUT/sparse/ with --sparsify).
    #[arg(long)]
    out: PathBuf,
    /// The maps hold depth in metres (value / 256) instead of disparity.
    #[arg(long)]
    depth: bool,
    /// Only the frames of this split file (default: every map in the folder).
    #[arg(long)]
    split: Option<PathBuf>,
    /// The "close" variant: keep points with velodyne x below this many metres.
    #[arg(long, value_parser = positive_metres, allow_negative_numbers = true)]
    close: Option<f64>,
    /// Also write LiDAR-like sparse clouds on a ROWSxCOLS angular grid, e.g. 64x512.
    #[arg(long)]
    sparsify: Option<String>,
    /// Stereo baseline: metres, or `calib` for each frame's own (default: the reference's 0.54).
    #[arg(long, default_value = "0.54")]
    baseline: String,
    /// Keep points below this velodyne height, metres.
    #[arg(long, default_value_t = 1.0)]
    max_height: f64,
    /// Do not round disparities to 1/256 px first.
    #[arg(long)]
    no_quantize: bool,
    /// Depth edges dropped first.
    #[command(flatten)]
    edges: super::EdgeArgs,
    /// Draw this frame's clouds from above next to its LiDAR scan (needs --lidar and --labels).
    #[arg(long)]
    plot_frame: Option<String>,
    /// Folder of the real velodyne scans, for --plot-frame.
    #[arg(long)]
    lidar: Option<PathBuf>,
    /// Folder of the ground-truth labels, for --plot-frame.
    #[arg(long)]
    labels: Option<PathBuf>,
}

/// Frame ids: from a split file, or every `*.png` in `dir`.
fn frame_ids(split: Option<&Path>, dir: &Path) -> Result<Vec<String>> {
    if let Some(s) = split {
        return Ok(Split::read(s)?.ids);
    }
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            let ext = p.extension()?;
            (ext == "png" || ext == "npy").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .filter(|s| !s.starts_with('.'))
        .collect();
    ids.sort();
    // A frame with both a .png and a .npy map is listed once (and refused when converted).
    ids.dedup();
    if ids.is_empty() {
        bail!("{}: no .png or .npy maps found", dir.display());
    }
    Ok(ids)
}

/// Runs `ftf pseudo-lidar`.
pub fn run(a: PseudoLidarArgs) -> Result<()> {
    let sparsify = match &a.sparsify {
        Some(s) => {
            Some(SparsifyConfig::with_grid(s).map_err(|m| anyhow::anyhow!("--sparsify: {m}"))?)
        }
        None => None,
    };
    // The drawing's frame and the folders it needs, resolved before any work.
    let plot = match (&a.plot_frame, &a.lidar, &a.labels) {
        (Some(id), Some(lidar), Some(labels)) => Some((id, lidar, labels)),
        (Some(_), _, _) => bail!("--plot-frame needs --lidar and --labels"),
        (None, _, _) => None,
    };
    if !a.max_height.is_finite() {
        bail!(
            "--max-height must be a finite height in metres, got {}",
            a.max_height
        );
    }
    let settings = ConvertSettings {
        input: if a.depth {
            InputKind::Depth
        } else {
            InputKind::Disparity
        },
        convert: ConvertConfig {
            baseline: parse_baseline(&a.baseline)?,
            quantize: !a.no_quantize,
            max_height: a.max_height,
            close: a.close,
            edges: a.edges.filter()?,
            ..Default::default()
        },
        sparsify,
    };
    let ids = frame_ids(a.split.as_deref(), &a.disparity)?;
    if let Some((id, _, _)) = plot.filter(|(id, _, _)| !ids.contains(id)) {
        bail!(
            "--plot-frame: frame `{id}` is not among the frames to convert ({} of them, {} to {})",
            ids.len(),
            ids[0],
            ids[ids.len() - 1]
        );
    }
    kitti::io::refuse_unrecorded(&a.out, pseudo_lidar::frames::SETTINGS_FILE)?;
    let bar = crate::terminal::progress::bar(ids.len() as u64, "pseudo-lidar");
    let s = convert_frames(&a.disparity, &a.calib, &a.out, &ids, &settings, &|| {
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    let per = |n: usize| n as f64 / s.done.max(1) as f64;
    println!(
        "{}: {} frames converted, {} already complete; {:.0} dense{} points a frame",
        a.out.display(),
        s.done,
        s.skipped,
        per(s.dense_points),
        if settings.sparsify.is_some() {
            format!(" and {:.0} sparse", per(s.sparse_points))
        } else {
            String::new()
        }
    );
    if let Some((id, lidar, labels)) = plot {
        let calib = Calibration::read(&a.calib.join(format!("{id}.txt")))?;
        let gt = read_labels(&labels.join(format!("{id}.txt")))?;
        let real = read_velodyne(&lidar.join(format!("{id}.bin")))?;
        let paths = output_paths(&a.out, id, settings.sparsify.is_some());
        let dense = read_velodyne(&paths[0])?;
        let mut clouds: Vec<(&str, &[kitti::LidarPoint])> =
            vec![("LiDAR", &real), ("pseudo-LiDAR", &dense)];
        let sparse = if let Some(p) = paths.get(1) {
            read_velodyne(p)?
        } else {
            Vec::new()
        };
        if !sparse.is_empty() {
            clouds.push(("sparse pseudo-LiDAR", &sparse));
        }
        let map_path = kitti::npy::map_file(&a.disparity, id)?
            .with_context(|| format!("{}: no map {id}.png or {id}.npy", a.disparity.display()))?;
        let map = kitti::DisparityMap::read_any(&map_path)?;
        let png = a.out.join(format!("bev_{id}.png"));
        pseudo_lidar::bev::compare_bev(&calib, &gt, &clouds, map.width).write(&png)?;
        println!("bird's-eye views of frame {id}: {}", png.display());
    }
    Ok(())
}

/// The record `ftf gt-disparity` keeps in its output folder of what made the maps there.
const GT_DISPARITY_RECORD: &str = "gt-disparity.toml";

/// The record `ftf close-labels` keeps in its output folder of what made the labels there.
const CLOSE_LABELS_RECORD: &str = "close-labels.toml";

/// Arguments of `ftf gt-disparity`.
#[derive(Args)]
pub struct GtDisparityArgs {
    /// The KITTI object root.
    #[arg(long)]
    root: PathBuf,
    /// Split name (ImageSets/<split>.txt).
    #[arg(long, default_value = "train")]
    split: String,
    /// Output folder (default ROOT/training/disparity_lidar).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stereo baseline: metres, or `calib` (default: the reference's 0.54).
    #[arg(long, default_value = "0.54")]
    baseline: String,
}

/// Runs `ftf gt-disparity`.
pub fn run_gt(a: GtDisparityArgs) -> Result<()> {
    let root = KittiRoot::open(&a.root)?;
    let split = root.split(&a.split)?;
    let out = a.out.unwrap_or_else(|| {
        root.root()
            .join(Part::Training.dir())
            .join("disparity_lidar")
    });
    let baseline = parse_baseline(&a.baseline)?;
    let record = format!(
        "# LiDAR-derived disparity (generate_disp.py's rule)\nroot = {:?}\nbaseline = {:?}\n",
        super::files::absolute(root.root()).display().to_string(),
        a.baseline.trim()
    );
    super::files::claim_output(
        &out,
        GT_DISPARITY_RECORD,
        &record,
        "outputs of other settings",
    )?;
    let bar = crate::terminal::progress::bar(split.len() as u64, "gt-disparity");
    let (written, skipped) =
        gt_disparity_frames(&root, &split.ids, &out, baseline, &|| bar.inc(1))?;
    bar.finish_and_clear();
    println!(
        "{}: {written} disparity maps written, {skipped} already there",
        out.display()
    );
    Ok(())
}

/// Arguments of `ftf close-labels`.
#[derive(Args)]
pub struct CloseLabelsArgs {
    /// The KITTI object root.
    #[arg(long)]
    root: PathBuf,
    /// Split name (ImageSets/<split>.txt).
    #[arg(long, default_value = "trainval")]
    split: String,
    /// Output folder (default ROOT/training/label_2_close).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The cut, metres: objects centred farther (camera z) become DontCare.
    #[arg(
        long,
        default_value_t = pseudo_lidar::close::CLOSE_RANGE,
        value_parser = positive_metres,
        allow_negative_numbers = true
    )]
    range: f64,
}

/// A finite distance above 0 m.
fn positive_metres(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a distance: give metres above 0")),
    }
}

/// Runs `ftf close-labels`.
pub fn run_close_labels(a: CloseLabelsArgs) -> Result<()> {
    let root = KittiRoot::open(&a.root)?;
    let split = root.frames_of(&a.split)?;
    let labels = root.dir(Part::Training, kitti::FileKind::Label);
    let out = a.out.unwrap_or_else(|| {
        root.root()
            .join(Part::Training.dir())
            .join(pseudo_lidar::close::CLOSE_LABELS)
    });
    let record = format!(
        "# close labels: objects centred beyond range_m become DontCare\nlabels = {:?}\nrange_m = {}\n",
        super::files::absolute(&labels).display().to_string(),
        a.range
    );
    super::files::claim_output(
        &out,
        CLOSE_LABELS_RECORD,
        &record,
        "outputs of other settings",
    )?;
    pseudo_lidar::close::write_close_labels(&labels, &out, &split.ids, a.range)?;
    println!(
        "{}: close labels of {} frames (objects beyond {} m are DontCare)",
        out.display(),
        split.len(),
        a.range
    );
    Ok(())
}
