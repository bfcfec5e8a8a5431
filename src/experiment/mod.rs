//! `ftf experiment CONFIG.toml`: the whole study from one file. For every seed, every upstream
//! variant is trained (or loaded) and predicts disparity, its clouds are made, every downstream
//! detector is retrained from scratch on every variant's clouds and evaluated; the report
//! compares each variant with the baseline. Stages are cached by manifest (see [`manifest`]).

pub mod config;
pub mod manifest;
pub mod report;
pub mod stages;

use anyhow::{bail, Context, Result};
use clap::Args;
use config::{Cloud, ExperimentConfig, UpstreamKind};
use std::path::PathBuf;

/// Arguments of `ftf experiment`.
#[derive(Args)]
pub struct ExperimentArgs {
    /// The study (TOML): data, upstream variants, clouds, downstream detectors, seeds.
    config: PathBuf,
    /// Redo a stage kind even if cached: data, upstream, points, downstream, eval, or all
    /// (repeatable); later stages that read it are redone too.
    #[arg(long)]
    force: Vec<String>,
    /// Where networks run: cpu, wgpu or cuda (default: wgpu when available, else cpu).
    #[arg(long)]
    device: Option<String>,
}

const STAGES: [&str; 6] = ["data", "upstream", "points", "downstream", "eval", "all"];

/// The number of stage steps a study takes (for the progress lines).
fn stage_count(cfg: &ExperimentConfig) -> usize {
    let data = 1 + cfg.data.root.is_some() as usize;
    let per_seed: usize = cfg
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
            (!lidar) as usize + points + cfg.points.clouds.len() * cfg.downstream.len() * 2
        })
        .sum();
    data + cfg.seeds.len() * per_seed
}

/// Runs `ftf experiment`.
pub fn run(a: ExperimentArgs) -> Result<()> {
    let cfg = ExperimentConfig::load(&a.config)?;
    for f in &a.force {
        if !STAGES.contains(&f.as_str()) {
            bail!("--force: `{f}` is not one of {}", STAGES.join(", "));
        }
    }
    let device = crate::commands::device::from_arg(a.device.as_deref())?;
    let dir = cfg.run_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
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
        train_ids: Vec::new(),
        val_ids: Vec::new(),
        position: (0, stage_count(&cfg)),
    };
    study.data()?;
    let mut results = report::Results::default();
    let mut depth_curves = Vec::new();
    for &seed in &cfg.seeds {
        for u in &cfg.upstream {
            let up = study.upstream(u, seed)?;
            if let Some(m) = &up.metrics {
                results
                    .upstream
                    .entry(u.name.clone())
                    .or_default()
                    .push(m.clone());
                if seed == cfg.seeds[0] {
                    depth_curves.push((u.name.clone(), m.clone()));
                }
            }
            for &cloud in &cfg.points.clouds {
                let points = study.points(u, seed, &up, cloud)?;
                for d in &cfg.downstream {
                    let (id, results_dir) = study.downstream(&u.name, seed, cloud, &points, d)?;
                    let ap = study.evaluate(&u.name, seed, cloud, d, &results_dir, &id)?;
                    results
                        .downstream
                        .entry((d.name.clone(), cloud.name().to_string(), u.name.clone()))
                        .or_default()
                        .push(ap);
                }
            }
        }
    }
    let json = report::build(&cfg, &results);
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
    let (w, h, rgb) = report::ap_change_plot(&cfg, &json);
    kitti::png16::write_rgb_png(&dir.join("plots/ap_change.png"), w, h, &rgb)?;
    if !depth_curves.is_empty() {
        let (w, h, rgb) = disparity::report::error_by_distance(&depth_curves);
        kitti::png16::write_rgb_png(&dir.join("plots/depth_error_by_distance.png"), w, h, &rgb)?;
    }
    println!("\n{md}");
    println!(
        "report: {} and {}",
        dir.join("report.md").display(),
        dir.join("report.json").display()
    );
    Ok(())
}
