//! `ftf disparity train`, `predict`, `eval` and `import`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use disparity::frames::{evaluate_frames, predict_frames, ClassSource, MapTransform};
use disparity::{report, DisparityModel, Sgm, SgmConfig};
use kitti::{KittiRoot, Split};
use std::path::{Path, PathBuf};

/// The disparity subcommands.
#[derive(Subcommand)]
pub enum DisparityCommand {
    /// Train PSMNet (disparity or depth loss) on the frames of a KITTI root.
    Train(TrainArgs),
    /// Predict disparity maps for the frames of a split.
    Predict(PredictArgs),
    /// Disparity and depth error of prediction folders against ground truth.
    Eval(EvalArgs),
    /// Import a PSMNet checkpoint of the reference code (pretrained_sceneflow.tar,
    /// finetune_300.tar: zip or legacy format) as a run folder that `predict --model trained`,
    /// `init =` and a study's `checkpoint =` accept.
    Import(ImportArgs),
}

/// Arguments of `ftf disparity import`.
#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    paths: super::ImportPaths,
    /// Training settings whose [model] is the checkpoint's network (default: the reference
    /// PSMNet, max_disparity 192); the run records them as its config.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn import(a: ImportArgs) -> Result<()> {
    use disparity::psmnet::training::TrainConfig;
    let cfg = match &a.config {
        Some(p) => TrainConfig::load(p)?,
        None => TrainConfig::default(),
    };
    super::timed_import(&a.paths, |from, out| {
        Ok(disparity::psmnet::import::import_run(
            from,
            &cfg,
            out,
            &burn::tensor::Device::flex(),
        )?)
    })
}

/// Models `predict` can run.
#[derive(Clone, Copy, ValueEnum)]
pub enum ModelKind {
    /// Semi-global matching (census cost, 4 paths, left-right check): needs no training.
    Sgm,
    /// A network (PSMNet or SDN) trained with `ftf disparity train`: give its output folder
    /// with --run.
    Trained,
}

/// Arguments of `ftf disparity predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// The KITTI object root.
    #[arg(long)]
    root: PathBuf,
    /// Split name (ImageSets/<split>.txt).
    #[arg(long, default_value = "val")]
    split: String,
    /// The model.
    #[arg(long, value_enum, default_value = "sgm")]
    model: ModelKind,
    /// Output folder for `<id>.png` disparity maps.
    #[arg(long)]
    out: PathBuf,
    /// Largest disparity searched by SGM, pixels (192 suits full-size KITTI; scale it with the
    /// images). Trained networks use their own.
    #[arg(long, default_value_t = 192)]
    max_disparity: usize,
    /// For --model trained: the training output folder (config.toml, checkpoints/: the best
    /// epoch's weights if validation chose one, else the last's).
    #[arg(long)]
    run: Option<PathBuf>,
    /// For --model trained: cpu, wgpu or cuda (default: wgpu when available, else cpu).
    #[arg(long)]
    device: Option<String>,
    /// Map files: png (KITTI's 16-bit, 1/256 px) or npy (float32, as the paper's tools).
    #[arg(long, value_enum, default_value = "png")]
    format: FormatArg,
}

/// Map file formats of `predict --format`.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// 16-bit PNG, disparity × 256.
    Png,
    /// NumPy float32 [height, width].
    Npy,
}

impl From<FormatArg> for kitti::npy::MapFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Png => kitti::npy::MapFormat::Png,
            FormatArg::Npy => kitti::npy::MapFormat::Npy,
        }
    }
}

/// Sources of per-class pixels.
#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum ClassChoice {
    /// Synthetic instance masks.
    Instances,
    /// LiDAR points inside labelled boxes.
    Lidar,
    /// No per-class rows.
    None,
}

/// Arguments of `ftf disparity eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Ground-truth disparity folder (e.g. ROOT/training/disparity_lidar or, on synthetic data,
    /// ROOT/training/disparity_2).
    #[arg(long)]
    gt: PathBuf,
    /// Prediction folder, as NAME=DIR or DIR; repeat to compare models.
    #[arg(long, required = true)]
    pred: Vec<String>,
    /// The KITTI object root: calibrations, labels, and the source of per-class pixels
    /// (instance masks when present, otherwise LiDAR points inside labelled boxes).
    #[arg(long)]
    root: PathBuf,
    /// Split name (ImageSets/<split>.txt).
    #[arg(long, default_value = "val")]
    split: String,
    /// Stereo baseline for depth: metres, or `calib` (default: the reference's 0.54).
    #[arg(long, default_value = "0.54")]
    baseline: String,
    /// Where per-class pixels come from: `instances` (synthetic masks), `lidar` (LiDAR points
    /// inside labelled boxes, consistent with LiDAR-derived ground truth), `none`; default:
    /// instances when the root has them, else lidar.
    #[arg(long, value_enum)]
    classes: Option<ClassChoice>,
    /// Count only the pixels that every --pred folder predicts (compares models of different
    /// density on the same pixels; each model's own density is then 1).
    #[arg(long)]
    common: bool,
    /// Every prediction's depth edges dropped first, as `ftf pseudo-lidar` drops them (the
    /// errors of the pixels that become points; density counts what is kept).
    #[command(flatten)]
    edges: super::EdgeArgs,
    /// Also write the metrics as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also draw depth error against distance (per model and class) into this PNG.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Arguments of `ftf disparity train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Training settings (TOML; every field optional, defaults = the reference recipe).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The KITTI object root.
    #[arg(long)]
    root: PathBuf,
    /// Ground-truth disparity folder (default ROOT/training/disparity_lidar, made by
    /// `ftf gt-disparity`; synthetic sets also have the exact ROOT/training/disparity_2).
    #[arg(long)]
    gt: Option<PathBuf>,
    /// Training split name.
    #[arg(long, default_value = "train")]
    train_split: String,
    /// Validation split name.
    #[arg(long, default_value = "val")]
    val_split: String,
    /// Output folder: config.toml, checkpoints/.
    #[arg(long)]
    out: PathBuf,
    /// Continue from the last checkpoint in OUT.
    #[arg(long)]
    resume: bool,
    /// A run folder of the same network to start from (overrides the config's `init`).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Stereo baseline for the depth loss: metres, or `calib`.
    #[arg(long, default_value = "0.54")]
    baseline: String,
    /// Where to train: cpu, wgpu or cuda (default: wgpu when this build has it and an adapter
    /// exists, else cpu).
    #[arg(long)]
    device: Option<String>,
}

fn train(a: TrainArgs) -> Result<()> {
    use disparity::psmnet::data::StereoDataset;
    use disparity::psmnet::training::{train, Progress, TrainConfig};
    let mut cfg = match &a.config {
        Some(p) => TrainConfig::load(p)?,
        None => TrainConfig::default(),
    };
    if let Some(init) = &a.init {
        cfg.init = Some(init.clone());
    }
    // The start weights' architecture is checked before any work.
    disparity::psmnet::run::start_weights(&cfg)?;
    let root = KittiRoot::open(&a.root)?;
    let gt =
        a.gt.clone()
            .unwrap_or_else(|| root.root().join("training/disparity_lidar"));
    if !gt.is_dir() {
        bail!(
            "{}: no ground-truth disparity folder (run `ftf gt-disparity` first, or pass --gt)",
            gt.display()
        );
    }
    let baseline = super::pseudo_lidar::parse_baseline(&a.baseline)?;
    let ds = |ids: Vec<String>| StereoDataset::new(root.clone(), ids, &gt, baseline);
    let train_split = root.frames_of(&a.train_split)?;
    let val_split = root.split(&a.val_split)?.held_out_from(&train_split)?;
    let (train_set, val_set) = (ds(train_split.ids), ds(val_split.ids));
    let _lock = kitti::lock::acquire(&a.out, "give this run another --out")?;
    burn_support::checkpoint::CheckpointFiles::new(&a.out).check_fresh_start(a.resume)?;
    crate::terminal::progress::resume_notice(&a.out, a.resume);
    let resolved = toml::to_string(&cfg)?;
    let cfg_path = a.out.join("config.toml");
    if a.resume && cfg_path.is_file() && std::fs::read_to_string(&cfg_path)? != resolved {
        bail!(
            "{}: --resume with other settings than the run was started with",
            cfg_path.display()
        );
    }
    kitti::io::write_atomic(&cfg_path, resolved.as_bytes())?;
    let device = crate::terminal::device::from_arg(a.device.as_deref())?.autodiff();
    let steps = train_set.len().div_ceil(cfg.batch_size) as u64;
    let bar = crate::terminal::progress::bar(steps * cfg.epochs as u64, "train");
    let state = train(
        &cfg,
        &train_set,
        &val_set,
        &a.out,
        &device,
        a.resume,
        &|p| match p {
            Progress::Step(e, s, _, loss) => {
                bar.set_position(e as u64 * steps + s as u64 + 1);
                bar.set_message(format!("ep {e} loss {loss:.3}"));
            }
            Progress::Epoch(e, loss, epe) => bar.println(format!(
                "epoch {e}: train loss {loss:.4}, val EPE {epe:.3} px"
            )),
        },
    )?;
    bar.finish_and_clear();
    crate::terminal::progress::training_done(&a.out, state.epochs_done, state.best_epoch);
    Ok(())
}

/// Runs a disparity subcommand.
pub fn run(c: DisparityCommand) -> Result<()> {
    match c {
        DisparityCommand::Train(a) => train(a),
        DisparityCommand::Predict(a) => predict(a),
        DisparityCommand::Eval(a) => eval(a),
        DisparityCommand::Import(a) => import(a),
    }
}

fn predict(a: PredictArgs) -> Result<()> {
    disparity::sgm::check_max_disparity(a.max_disparity)
        .map_err(|e| anyhow::anyhow!("--max-disparity {e}"))?;
    let root = KittiRoot::open(&a.root)?;
    let split = root.split(&a.split)?;
    let (model, settings): (Box<dyn DisparityModel>, String) = match a.model {
        ModelKind::Sgm => {
            // A run or a device given without `--model trained` would be ignored, and SGM's
            // maps written where the run's were expected.
            if let Some(flag) = [("--run", a.run.is_some()), ("--device", a.device.is_some())]
                .into_iter()
                .find_map(|(flag, given)| given.then_some(flag))
            {
                bail!("{flag} is for --model trained; add it (or leave {flag} out for SGM)");
            }
            let cfg = SgmConfig {
                max_disparity: a.max_disparity,
                ..Default::default()
            };
            (Box::new(Sgm(cfg)), format!("{cfg:?}\n"))
        }
        ModelKind::Trained => {
            let run = a
                .run
                .as_ref()
                .context("--model trained needs --run TRAINING_OUTPUT_FOLDER")?;
            load_network(
                run,
                &root,
                &split,
                crate::terminal::device::from_arg(a.device.as_deref())?,
            )?
        }
    };
    kitti::io::refuse_unrecorded(&a.out, disparity::frames::SETTINGS_FILE)?;
    let bar = crate::terminal::progress::bar(split.len() as u64, "predict");
    let (done, skipped) = predict_frames(
        model.as_ref(),
        &settings,
        &root,
        &split.ids,
        &a.out,
        a.format.into(),
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    println!(
        "{}: {done} disparity maps predicted, {skipped} already there",
        a.out.display()
    );
    Ok(())
}

/// Memory the machine can give a CPU run, from /proc/meminfo (None where unknown).
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Loads a trained network (PSMNet or SDN, as its config says) from a training folder, after
/// checking its memory needs for the split's first frame against the memory available.
fn load_network(
    run: &Path,
    root: &KittiRoot,
    split: &Split,
    device: burn::tensor::Device,
) -> Result<(Box<dyn DisparityModel>, String)> {
    use disparity::psmnet::inference::estimate_memory_bytes;
    let cfg = disparity::psmnet::run::read_run_config(run)?;
    if let Some(id) = split.ids.first() {
        let (w, h) = kitti::png16::image_size(&root.path(
            kitti::Part::Training,
            kitti::FileKind::LeftImage,
            id,
        ))?;
        let need = estimate_memory_bytes(&cfg.model, h as usize, w as usize, 0);
        let on_cpu = burn_support::is_cpu(&device);
        println!(
            "{:?} inference at {w}x{h} (max disparity {}): about {:.2} GB of {}",
            cfg.network,
            cfg.model.max_disparity,
            need as f64 / 1e9,
            if on_cpu {
                "RAM"
            } else {
                "GPU memory (not checked: the backend does not report free GPU memory)"
            }
        );
        if let Some(have) = available_memory().filter(|_| on_cpu) {
            if need > have {
                bail!(
                    "inference at {w}x{h} needs about {:.1} GB but only {:.1} GB are available: use smaller images, a smaller max_disparity, or a GPU",
                    need as f64 / 1e9,
                    have as f64 / 1e9
                );
            }
        }
    }
    Ok(disparity::psmnet::run::load_trained(run, device)?)
}

fn eval(a: EvalArgs) -> Result<()> {
    super::files::check_report_files(a.json.as_deref(), ("--plot", a.plot.as_deref()))?;
    super::files::require_folder("--gt", &a.gt, "<id>.png or <id>.npy disparity maps")?;
    let root = KittiRoot::open(&a.root)?;
    let split: Split = root.split(&a.split)?;
    let baseline = super::pseudo_lidar::parse_baseline(&a.baseline)?;
    let drop_edges = a
        .edges
        .filter()?
        .map(|f| move |m: &kitti::DisparityMap| f.apply(m));
    let part = kitti::Part::Training;
    let labels = root.dir(part, kitti::FileKind::Label);
    let masks = root.dir(part, kitti::FileKind::Instance);
    let choice = a.classes.unwrap_or(if masks.is_dir() {
        ClassChoice::Instances
    } else if labels.is_dir() {
        ClassChoice::Lidar
    } else {
        ClassChoice::None
    });
    let classes = match choice {
        ClassChoice::Instances => ClassSource::Instances { masks, labels },
        ClassChoice::Lidar => ClassSource::Lidar {
            velodyne: root.dir(part, kitti::FileKind::Velodyne),
            labels,
        },
        ClassChoice::None => ClassSource::None,
    };
    let calib = root.dir(part, kitti::FileKind::Calib);
    let mut folders = Vec::new();
    for spec in &a.pred {
        let (name, dir) = match spec.split_once('=') {
            Some((n, d)) if !n.trim().is_empty() && !d.is_empty() => {
                (n.to_string(), PathBuf::from(d))
            }
            Some(_) => bail!("--pred `{spec}`: NAME=DIR needs both a name and a folder"),
            None => {
                let d = PathBuf::from(spec);
                let n = d
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(String::from)
                    .with_context(|| format!("--pred `{spec}` has no folder name; use NAME=DIR"))?;
                (n, d)
            }
        };
        if folders.iter().any(|(n, _)| *n == name) {
            bail!(
                "--pred `{spec}`: a second model named `{name}` (a folder's name is its model's \
                 name unless given as NAME=DIR); give each a name of its own"
            );
        }
        super::files::require_folder("--pred", &dir, "<id>.png or <id>.npy disparity maps")?;
        folders.push((name, dir));
    }
    let common: Vec<PathBuf> = if a.common {
        folders.iter().map(|(_, d)| d.clone()).collect()
    } else {
        Vec::new()
    };
    let mut models = Vec::new();
    for (name, dir) in folders {
        let bar = crate::terminal::progress::bar(split.len() as u64, &name);
        let ids = &split.ids;
        let b = evaluate_frames(
            &dir,
            &a.gt,
            &calib,
            &classes,
            baseline,
            ids,
            &common,
            drop_edges.as_ref().map(|f| f as &MapTransform),
            &|| bar.inc(1),
        )?;
        bar.finish_and_clear();
        models.push((name, disparity::Breakdown::total(&b)));
    }
    println!(
        "{} frames of {}; depth metrics on ground truth within 1-80 m",
        split.len(),
        split.path.display()
    );
    print!("{}", report::table(&models));
    let objects = report::object_table(&models);
    if !objects.is_empty() {
        println!(
            "\nPer object (each labelled car and pedestrian with at least {} ground-truth pixels, \
             by its distance): error = mean |median depth error| of its pixels over the objects \
             placed (with as many predicted pixels); bias = mean signed median (+: too far)",
            disparity::objects::MIN_OBJECT_PIXELS
        );
        print!("{objects}");
    }
    if let Some(p) = &a.json {
        super::files::write_json(p, &report::json(&models))?;
    }
    if let Some(p) = &a.plot {
        super::files::write_figure(
            p,
            &report::error_by_distance(&models),
            "depth error against distance",
        )?;
    }
    Ok(())
}
