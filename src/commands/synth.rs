//! `ftf synth`: generate a synthetic KITTI-format set.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use synth::SynthConfig;

/// Arguments of `ftf synth`.
#[derive(Args)]
pub struct SynthArgs {
    /// Output folder (becomes a KITTI object root).
    #[arg(long)]
    out: PathBuf,
    /// Number of frames.
    #[arg(long)]
    frames: Option<usize>,
    /// Random seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Image scale relative to 1242 x 375 (intrinsics shrink with it), e.g. 0.25.
    #[arg(long)]
    scale: Option<f64>,
    /// A TOML file with any SynthConfig fields (command-line values override it).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs `ftf synth`.
pub fn run(a: SynthArgs) -> Result<()> {
    let mut cfg = match &a.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<SynthConfig>(&text)
                .with_context(|| format!("{}: invalid synthetic config", p.display()))?
        }
        None => SynthConfig::default(),
    };
    if let Some(v) = a.frames {
        cfg.frames = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    if let Some(v) = a.scale {
        cfg.scale = v;
    }
    // An error names where the settings came from: the file and the flags that override it.
    let sources: Vec<String> = a
        .config
        .iter()
        .map(|p| p.display().to_string())
        .chain(
            [
                ("--frames", a.frames.is_some()),
                ("--seed", a.seed.is_some()),
                ("--scale", a.scale.is_some()),
            ]
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(flag, _)| flag.to_string()),
        )
        .collect();
    cfg.validate().with_context(|| sources.join(" and "))?;
    // A new or empty folder, or a set it made (its synth.toml): a folder of other files, such
    // as a real KITTI root given by mistake, would be overwritten frame by frame.
    kitti::io::refuse_unrecorded(&a.out, synth::dataset::CONFIG_FILE)?;
    let bar = crate::terminal::progress::bar(cfg.frames as u64, "synth");
    let summary = synth::generate_root(&cfg, &a.out, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let objects: Vec<String> = summary
        .objects
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!(
        "{}: {} frames generated, {} already complete; {}; {:.0} LiDAR points a frame",
        a.out.display(),
        summary.generated,
        summary.skipped,
        if objects.is_empty() {
            "no new labels".into()
        } else {
            objects.join(", ")
        },
        summary.lidar_points as f64 / summary.generated.max(1) as f64
    );
    Ok(())
}
