//! `ftf detect train`, `predict` and `import`: the PointPillars detectors on any point source.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use detector::data::FrameSource;
use detector::inference::{bev_picture, predict_folder, Detector};
use detector::training::{train, Progress, SplitFrames};
use detector::DetectorConfig;
use kitti::split::Split;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// The detector subcommands.
#[derive(Subcommand)]
pub enum DetectCommand {
    /// Train a detector from scratch on a folder of point clouds (LiDAR or pseudo-LiDAR).
    Train(TrainArgs),
    /// Write KITTI result files (and optional BEV pictures) for the frames of a split.
    Predict(PredictArgs),
    /// Import an OpenPCDet PointPillar checkpoint (e.g. pointpillar_7728.pth) as a run folder
    /// that `predict` and a study accept.
    Import(ImportArgs),
}

/// Arguments of `ftf detect import`.
#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    paths: super::ImportPaths,
    /// Detector settings of the checkpoint's network, classes in the checkpoint's order (e.g.
    /// configs/pointpillars-openpcdet-kitti.toml for OpenPCDet's KITTI model).
    #[arg(long)]
    config: PathBuf,
}

fn import(a: ImportArgs) -> Result<()> {
    let cfg = DetectorConfig::load(&a.config)?;
    super::timed_import(&a.paths, |from, out| {
        Ok(detector::import::import_run(
            from,
            &cfg,
            out,
            &burn::tensor::Device::flex(),
        )?)
    })
}

/// Where a split's frames are.
#[derive(Args, Clone)]
pub struct FrameArgs {
    /// Folder of `<id>.bin` point clouds (velodyne/ or a pseudo-LiDAR output).
    #[arg(long)]
    points: PathBuf,
    /// Folder of `<id>.txt` labels (e.g. ROOT/training/label_2).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Split file listing the frame ids (e.g. ROOT/ImageSets/train.txt).
    #[arg(long)]
    split: PathBuf,
    /// Calibration folder (default: `calib` beside the label folder).
    #[arg(long)]
    calib: Option<PathBuf>,
    /// Left-image folder, for image sizes (default: `image_2` beside the label folder).
    #[arg(long)]
    images: Option<PathBuf>,
}

impl FrameArgs {
    /// The frames of `--split`, their files checked.
    fn frames(&self) -> Result<SplitFrames> {
        self.frames_of(Split::read(&self.split)?)
    }

    /// The frames of `split` (read already) in these folders, their files checked.
    fn frames_of(&self, split: Split) -> Result<SplitFrames> {
        let part = match (&self.labels, &self.calib) {
            (Some(l), _) => l.parent().unwrap_or(Path::new(".")).to_path_buf(),
            (None, Some(c)) => c.parent().unwrap_or(Path::new(".")).to_path_buf(),
            (None, None) => bail!("give --labels (calib/ and image_2/ beside it) or --calib"),
        };
        let source = FrameSource {
            points: self.points.clone(),
            labels: self.labels.clone(),
            calib: self.calib.clone().unwrap_or_else(|| part.join("calib")),
            images: self.images.clone().unwrap_or_else(|| part.join("image_2")),
        };
        let ids = split.non_empty()?.ids;
        source.check(&ids)?;
        Ok(SplitFrames { source, ids })
    }
}

/// Arguments of `ftf detect train`.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    frames: FrameArgs,
    /// Detector settings (TOML; omitted fields take the reference PointPillars values).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Classes to detect, comma-separated (car, pedestrian, cyclist); overrides the config.
    #[arg(long)]
    class: Option<String>,
    /// Validation split file (same point, label and calibration folders unless --val-points).
    #[arg(long)]
    val_split: Option<PathBuf>,
    /// Validation point folder (default: --points).
    #[arg(long)]
    val_points: Option<PathBuf>,
    /// Output folder: config.toml, checkpoints/.
    #[arg(long)]
    out: PathBuf,
    /// Continue from the last checkpoint in OUT.
    #[arg(long)]
    resume: bool,
    /// Where to train: cpu, wgpu or cuda (default: wgpu when available, else cpu).
    #[arg(long)]
    device: Option<String>,
}

/// Arguments of `ftf detect predict`.
#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    frames: FrameArgs,
    /// The training output folder (config.toml, checkpoints/: the best epoch's weights, else
    /// the last's).
    #[arg(long)]
    run: PathBuf,
    /// Output folder for `<id>.txt` KITTI result files.
    #[arg(long)]
    out: PathBuf,
    /// Frame ids to draw as BEV PNGs (points, labels green, predictions red) into OUT/bev/.
    #[arg(long, value_delimiter = ',')]
    bev: Vec<String>,
    /// Where to run: cpu, wgpu or cuda.
    #[arg(long)]
    device: Option<String>,
}

/// Runs a detector subcommand.
pub fn run(c: DetectCommand) -> Result<()> {
    match c {
        DetectCommand::Train(a) => train_cmd(a),
        DetectCommand::Predict(a) => predict(a),
        DetectCommand::Import(a) => import(a),
    }
}

/// `car,pedestrian` → `["Car", "Pedestrian"]`.
fn class_names(arg: &str) -> Result<Vec<String>> {
    arg.split(',')
        .map(|c| match c.trim().to_ascii_lowercase().as_str() {
            "car" => Ok("Car".to_string()),
            "pedestrian" | "ped" => Ok("Pedestrian".to_string()),
            "cyclist" => Ok("Cyclist".to_string()),
            other => bail!("--class: `{other}` is not car, pedestrian or cyclist"),
        })
        .collect()
}

fn train_cmd(a: TrainArgs) -> Result<()> {
    let mut cfg = match &a.config {
        Some(p) => DetectorConfig::load(p)?,
        None => DetectorConfig::default(),
    };
    if let Some(c) = &a.class {
        cfg.classes = class_names(c)?;
    }
    cfg.validate()?;
    if a.frames.labels.is_none() {
        bail!("training needs --labels");
    }
    let train_split = Split::read(&a.frames.split)?;
    let val = match &a.val_split {
        Some(path) => {
            let split = Split::read(path)?.held_out_from(&train_split)?;
            let args = FrameArgs {
                split: path.clone(),
                points: a.val_points.clone().unwrap_or(a.frames.points.clone()),
                ..a.frames.clone()
            };
            Some(args.frames_of(split)?)
        }
        None => None,
    };
    let data = a.frames.frames_of(train_split)?;
    let _lock = kitti::lock::acquire(&a.out, "give this run another --out")?;
    burn_support::checkpoint::CheckpointFiles::new(&a.out).check_fresh_start(a.resume)?;
    crate::terminal::progress::resume_notice(&a.out, a.resume);
    let cfg_path = a.out.join(detector::inference::CONFIG_FILE);
    if a.resume && cfg_path.is_file() {
        let old = DetectorConfig::load(&cfg_path)?;
        if old != cfg {
            bail!(
                "{}: --resume with other settings than the run was started with",
                cfg_path.display()
            );
        }
    }
    let device = crate::terminal::device::from_arg(a.device.as_deref())?.autodiff();
    let steps = data.ids.len().div_ceil(cfg.train.batch_size) as u64;
    let bar = crate::terminal::progress::bar(steps * cfg.train.epochs as u64, "train");
    let state = train(
        &cfg,
        &data,
        val.as_ref(),
        &a.out,
        &device,
        a.resume,
        &|p| match p {
            Progress::Database(counts) => {
                let counts: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
                bar.println(format!(
                    "ground-truth sampling database: {}",
                    counts.join(", ")
                ));
                ControlFlow::Continue(())
            }
            Progress::Step(e, s, _, l) => {
                bar.set_position(e as u64 * steps + s as u64 + 1);
                bar.set_message(format!(
                    "ep {e} cls {:.3} box {:.3} dir {:.3}",
                    l[0], l[1], l[2]
                ));
                ControlFlow::Continue(())
            }
            Progress::Epoch(r) => {
                let mut line = format!(
                    "epoch {}: loss cls {:.4} box {:.4} dir {:.4}",
                    r.epoch, r.loss[0], r.loss[1], r.loss[2]
                );
                for (k, v) in r.val_ap.iter().filter(|(k, _)| k.contains("R40")) {
                    line += &format!("; {k} {v:.2}");
                }
                if r.dropped_points + r.dropped_pillars > 0 {
                    line += &format!(
                    "\n  warning: the pillar caps dropped {} points and {} pillars this epoch (raise pillars.max_points / max_pillars_train, or sparsify the cloud)",
                    r.dropped_points, r.dropped_pillars
                );
                }
                bar.println(line);
                ControlFlow::Continue(())
            }
        },
    )?;
    bar.finish_and_clear();
    crate::terminal::progress::training_done(&a.out, state.epochs_done, state.best_epoch);
    Ok(())
}

/// The file of a results folder that names what wrote its result files.
/// (TOML, not `.txt`: tools that read every `*.txt` of a results folder as a frame's results
/// must find only those.)
const PREDICTED_BY: &str = "predicted_by.toml";

/// Takes the folder `out` for the results of the detector in `run` on the clouds in `points`:
/// records them (the run, its weights' checksum, the clouds) in `out/predicted_by.toml`, or
/// refuses a folder whose record names other ones, whose result files would otherwise stay
/// beside this run's (those of frames this split does not list) and be scored with them.
fn claim_results(out: &Path, run: &Path, points: &Path) -> Result<()> {
    let weights = burn_support::CheckpointFiles::new(run).for_inference();
    let record = format!(
        "run = {:?}\nweights = {:?}\nchecksum = {:?}\npoints = {:?}\n",
        super::files::absolute(run).display().to_string(),
        weights.file_name().unwrap_or_default().to_string_lossy(),
        burn_support::checkpoint::checksum(&weights)?,
        super::files::absolute(points).display().to_string()
    );
    super::files::claim_output(
        out,
        PREDICTED_BY,
        &record,
        "the results of another detector or clouds",
    )
}

fn predict(a: PredictArgs) -> Result<()> {
    let device = crate::terminal::device::from_arg(a.device.as_deref())?;
    let detector = Detector::load(&a.run, device)
        .with_context(|| format!("loading the detector in {}", a.run.display()))?;
    let data = a.frames.frames()?;
    for id in &a.bev {
        if !data.ids.contains(id) {
            bail!("--bev: frame {id} is not in {}", a.frames.split.display());
        }
    }
    claim_results(&a.out, &a.run, &a.frames.points)?;
    let bar = crate::terminal::progress::bar(data.ids.len() as u64, "detect");
    let summary = predict_folder(&detector, &data.source, &data.ids, &a.out, &|| bar.inc(1))?;
    bar.finish_and_clear();
    for id in &a.bev {
        let frame = data
            .source
            .load(id, &detector.specs, detector.cfg.pillars.camera_fov_only)?;
        let dets = detector.detect(std::slice::from_ref(&frame)).remove(0).0;
        let path = a.out.join("bev").join(format!("{id}.png"));
        bev_picture(&frame, &dets, &path)?;
        println!("{}", path.display());
    }
    println!(
        "{}: {} frames, {} boxes",
        a.out.display(),
        summary.frames,
        summary.boxes
    );
    if summary.dropped_points + summary.dropped_pillars > 0 {
        println!(
            "warning: the pillar caps dropped {} points and {} pillars (raise pillars.max_points / max_pillars_test, or sparsify the cloud)",
            summary.dropped_points, summary.dropped_pillars
        );
    }
    Ok(())
}
