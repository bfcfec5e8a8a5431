//! `ftf experiment CONFIG.toml`: the whole study from one file. For every seed, every upstream
//! variant is trained (or loaded) and predicts disparity, its clouds are made, every downstream
//! detector is retrained from scratch on every variant's clouds and evaluated; the report
//! compares each variant with the baseline. Stages are cached by manifest (see [`manifest`]).

pub mod config;
pub mod cross;
pub mod decomposition;
pub mod intervals;
pub mod manifest;
pub mod objects;
pub mod parallel;
pub mod report;
pub mod stages;

use anyhow::{bail, Result};
use clap::Args;
use config::{Cloud, ExperimentConfig, UpstreamKind};
use std::path::PathBuf;

/// Arguments of `ftf experiment`.
#[derive(Args)]
pub struct ExperimentArgs {
    /// The study (TOML): data, upstream variants, clouds, downstream detectors, seeds.
    config: PathBuf,
    /// Redo a stage kind even if cached: data, upstream, points, downstream, eval, cross, or all
    /// (repeatable); later stages that read it are redone too.
    #[arg(long)]
    force: Vec<String>,
    /// Where networks run: cpu, wgpu or cuda (default: wgpu when available, else cpu).
    #[arg(long)]
    device: Option<String>,
    /// Stages run side by side (default: 2 on a CPU with two or more cores, 1 on a GPU). The
    /// results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
}

const STAGES: [&str; 7] = [
    "data",
    "upstream",
    "points",
    "downstream",
    "eval",
    "cross",
    "all",
];

/// The number of stage steps a study takes (for the progress lines).
fn stage_count(cfg: &ExperimentConfig) -> usize {
    // The set (generated or opened), its LiDAR-derived disparity, the close labels.
    let data = 1
        + cfg.data.synthetic.is_some() as usize
        + cfg.points.clouds.contains(&Cloud::Close) as usize;
    let variants: usize = cfg
        .upstream
        .iter()
        .map(|u| {
            let lidar = u.kind == UpstreamKind::Lidar;
            let points = cfg
                .points
                .clouds
                .iter()
                .filter(|c| !lidar || **c == Cloud::Close)
                .count();
            let detectors: usize = cfg
                .seeds
                .iter()
                .map(|&s| detector_seeds(cfg, u, s).len())
                .sum();
            // Unseeded variants' stages run once, whatever the seeds.
            let runs = if u.seeded() { cfg.seeds.len() } else { 1 };
            // Each detector: trained, evaluated, and (cross) predicting and evaluated on every
            // variant's clouds and (decompose) on its training frames.
            let cross = if cfg.eval.cross {
                cfg.upstream.len()
            } else {
                0
            } + cfg.eval.decompose as usize;
            runs * ((!lidar) as usize + points)
                + detectors * cfg.points.clouds.len() * cfg.downstream.len() * 2 * (1 + cross)
        })
        .sum();
    data + variants
}

/// Every seed and upstream variant (trained, its clouds made: the untrained ones one at a time,
/// the trainings `jobs` at a time), then every detector retrained on every cloud and evaluated,
/// `jobs` at a time.
fn run_variants(study: &stages::Study, jobs: usize) -> Result<report::Results> {
    let cfg = study.cfg;
    let variants: Vec<(u64, &config::UpstreamConfig)> = cfg
        .seeds
        .iter()
        .flat_map(|&seed| cfg.upstream.iter().map(move |u| (seed, u)))
        .collect();
    // Unseeded variants (the LiDAR, SGM, the oracle) are the same model for every seed: their
    // stages run once, under the first seed, and every seed reads that output (two workers never write
    // one `fixed/` folder at once).
    let first = cfg.seeds[0];
    // Variants without training (the LiDAR, SGM, perturbations: their frames are predicted in
    // parallel) run first, one at a time on every core; then the trainings, `jobs` at a time. An
    // SGM beside a training had one core and held up the training that waited for its worker.
    let (mut runs, trained): (Vec<_>, Vec<_>) = variants
        .iter()
        .copied()
        .filter(|(seed, u)| u.seeded() || *seed == first)
        .partition(|(_, u)| !u.trained());
    let stage = |&(seed, u): &(u64, &config::UpstreamConfig)| {
        let up = study.upstream(u, seed)?;
        let clouds = cfg.points.clouds.iter();
        let points = clouds
            .map(|&cloud| Ok((cloud, study.points(u, seed, &up, cloud)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok((up, points))
    };
    let mut outputs = parallel::map(&runs, 1, stage)?;
    outputs.extend(parallel::map(&trained, jobs, stage)?);
    runs.extend(trained);
    let mut upstream = Vec::with_capacity(variants.len());
    for (seed, u) in &variants {
        let run_seed = if u.seeded() { *seed } else { first };
        let Some(i) = runs
            .iter()
            .position(|(s, r)| *s == run_seed && r.name == u.name)
        else {
            bail!("upstream.{}: no stage ran for seed {seed}", u.name);
        };
        upstream.push(&outputs[i]);
    }
    let mut results = report::Results {
        frames: study.val_ids.len(),
        ..report::Results::default()
    };
    // Every variant's errors, also on the pixels that all variants of its seed predict.
    for (&(seed, u), (up, _)) in variants.iter().zip(&upstream) {
        let Some(maps) = &up.disparity else { continue };
        let common: Vec<PathBuf> = variants
            .iter()
            .zip(&upstream)
            .filter(|((s, _), _)| *s == seed)
            .filter_map(|(_, (other, _))| other.disparity.clone())
            .collect();
        let m = study.upstream_metrics(u, maps, &common)?;
        results.upstream.entry(u.name.clone()).or_default().push(m);
        if let Some(spread) = up.spread {
            results
                .spreads
                .entry(u.name.clone())
                .or_default()
                .push(spread);
        }
    }
    // Detector by detector: trainings of one config take about as long, so side-by-side
    // workers finish together.
    let mut detections = Vec::new();
    for d in &cfg.downstream {
        for (&(seed, u), (_, points)) in variants.iter().zip(&upstream) {
            for ds in detector_seeds(cfg, u, seed) {
                detections.extend(points.iter().map(|(cloud, p)| {
                    let key = stages::DetectorKey {
                        variant: &u.name,
                        seed,
                        detector_seed: ds,
                        cloud: *cloud,
                        detector: d,
                    };
                    (key, p)
                }));
            }
        }
    }
    let evals = parallel::map(&detections, jobs, |(k, points)| {
        let (id, results_dir) = study.downstream(k, points)?;
        let e = study.evaluate(k, &results_dir, &id)?;
        let dir = results_dir.parent().map(PathBuf::from).unwrap_or_default();
        Ok((e, id, dir))
    })?;
    if cfg.eval.cross || cfg.eval.decompose {
        // Every detector on every variant's val clouds of the same cloud kind (a seeded
        // variant's of the detector's upstream seed), and on its own training frames.
        let points_of = |seed: u64, name: &str, cloud: Cloud| {
            let (_, (_, points)) = variants
                .iter()
                .zip(&upstream)
                .find(|((s, u), _)| *s == seed && u.name == name)?;
            points.iter().find(|(c, _)| *c == cloud).map(|(_, p)| p)
        };
        let mut tasks = Vec::new();
        for ((k, own), (_, id, dir)) in detections.iter().zip(&evals) {
            let task = |evaluated_on, points, training_frames| cross::CrossTask {
                detector: *k,
                detector_dir: dir,
                detector_id: id,
                evaluated_on,
                points,
                training_frames,
            };
            if cfg.eval.decompose {
                tasks.push(task(k.variant, own, true));
            }
            for b in cfg.upstream.iter().filter(|_| cfg.eval.cross) {
                let Some(points) = points_of(k.seed, &b.name, k.cloud) else {
                    bail!(
                        "upstream.{}: no {} clouds for seed {}",
                        b.name,
                        k.cloud.name(),
                        k.seed
                    );
                };
                tasks.push(task(&b.name, points, false));
            }
        }
        let crossed = parallel::map(&tasks, jobs, |t| study.cross(t))?;
        for (t, e) in tasks.iter().zip(crossed) {
            let k = &t.detector;
            let (d, c, a) = (&k.detector.name, k.cloud.name(), k.variant);
            if t.training_frames {
                let key = (d.clone(), c.to_string(), a.to_string());
                results.training_fit.entry(key).or_default().push(e);
            } else {
                let key = (
                    d.clone(),
                    c.to_string(),
                    a.to_string(),
                    t.evaluated_on.into(),
                );
                results.cross.entry(key).or_default().push(e);
            }
        }
    }
    for ((k, _), (e, _, _)) in detections.iter().zip(evals) {
        let key = (
            k.detector.name.clone(),
            k.cloud.name().to_string(),
            k.variant.to_string(),
        );
        results.downstream.entry(key).or_default().push(e);
    }
    Ok(results)
}

/// The detectors trained on the model of variant `u` and upstream seed `seed`. With
/// `downstream_seeds`, a variant that is not seeded (the LiDAR, SGM, the oracle) is the same
/// model for every upstream seed, so its detectors are trained once, under the first seed.
fn detector_seeds(
    cfg: &ExperimentConfig,
    u: &config::UpstreamConfig,
    seed: u64,
) -> Vec<stages::DetectorSeed> {
    let listed = cfg.downstream_seeds.is_some();
    if listed && !u.seeded() && seed != cfg.seeds[0] {
        return Vec::new();
    }
    cfg.detector_seeds(seed)
        .into_iter()
        .map(|s| stages::DetectorSeed { seed: s, listed })
        .collect()
}

/// Runs `ftf experiment`.
pub fn run(a: ExperimentArgs) -> Result<()> {
    let cfg = ExperimentConfig::load(&a.config)?;
    for f in &a.force {
        if !STAGES.contains(&f.as_str()) {
            bail!("--force: `{f}` is not one of {}", STAGES.join(", "));
        }
    }
    let device = crate::terminal::device::from_arg(a.device.as_deref())?;
    let jobs = match a.jobs {
        Some(0) => bail!("--jobs: must be at least 1"),
        Some(j) => j,
        None if burn_support::device::is_cpu(&device) => {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
        }
        None => 1,
    };
    let dir = cfg.run_dir();
    let _lock = kitti::lock::acquire(&dir, "give this study another `name`")?;
    kitti::io::write_atomic(
        &dir.join("config.toml"),
        toml::to_string_pretty(&cfg)?.as_bytes(),
    )?;
    let mut study = stages::Study {
        cfg: &cfg,
        dir: dir.clone(),
        force: a.force.clone(),
        device,
        root: kitti::KittiRoot::create(&dir),
        data_id: String::new(),
        close_labels_id: String::new(),
        train_ids: Vec::new(),
        val_ids: Vec::new(),
        started: Default::default(),
        total: stage_count(&cfg),
    };
    study.data()?;
    let results = run_variants(&study, jobs)?;
    let depth_curves: Vec<_> = cfg
        .upstream
        .iter()
        .filter_map(|u| {
            let first = results.upstream.get(&u.name)?.first()?;
            Some((u.name.clone(), first.common.clone()))
        })
        .collect();
    let started = std::time::Instant::now();
    let mut json = report::build(&cfg, &results, study.height_scale());
    let seconds = started.elapsed().as_secs_f64();
    json["bootstrap"]["seconds"] = serde_json::json!(seconds);
    crate::terminal::progress::line(&format!(
        "report: {} paired bootstrap intervals of {} resamples in {seconds:.1}s",
        json["verdicts"].as_array().map_or(0, |v| v.len()),
        cfg.eval.resamples
    ));
    kitti::io::write_atomic(
        &dir.join("report.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    let mut md = report::markdown(&cfg, &json);
    if !depth_curves.is_empty() {
        md += &format!(
            "\n## Upstream errors by distance and class (seed {})\n\n{}",
            cfg.seeds[0],
            disparity::report::table(&depth_curves)
        );
    }
    kitti::io::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    report::ap_change_plot(&cfg, &json).write(&dir.join("plots/ap_change.png"))?;
    if !depth_curves.is_empty() {
        disparity::report::error_by_distance(&depth_curves)
            .write(&dir.join("plots/depth_error_by_distance.png"))?;
    }
    println!("\n{md}");
    println!(
        "report: {} and {}",
        dir.join("report.md").display(),
        dir.join("report.json").display()
    );
    Ok(())
}
