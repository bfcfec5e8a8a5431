//! One module per subcommand; each parses its arguments and calls the stage crates.

pub mod bench;
pub mod detect;
pub mod disparity;
pub mod eval;
pub mod files;
pub mod inspect;
pub mod pseudo_lidar;
pub mod synth;

/// The depth-edge filter's options (`ftf pseudo-lidar`, `ftf disparity eval`).
#[derive(clap::Args)]
pub struct EdgeArgs {
    /// Drop depth edges ("flying pixels") first: a pixel whose window's largest value exceeds
    /// its smallest by more than this share, e.g. 0.15 (not the paper's pipeline).
    #[arg(long, allow_negative_numbers = true)]
    edge_ratio: Option<f64>,
    /// The window of --edge-ratio: (2·R + 1)² pixels around each pixel.
    #[arg(
        long,
        default_value_t = 2,
        requires = "edge_ratio",
        allow_negative_numbers = true
    )]
    edge_radius: u32,
}

impl EdgeArgs {
    /// The filter asked for, checked (an error names the option and its value).
    pub fn filter(&self) -> anyhow::Result<Option<::pseudo_lidar::EdgeFilter>> {
        let Some(ratio) = self.edge_ratio else {
            return Ok(None);
        };
        let f = ::pseudo_lidar::EdgeFilter {
            radius: self.edge_radius,
            ratio,
        };
        f.check().map_err(|m| anyhow::anyhow!("--edge-{m}"))?;
        Ok(Some(f))
    }
}

/// Where an import reads and writes (`ftf disparity import`, `ftf detect import`).
#[derive(clap::Args)]
pub struct ImportPaths {
    /// The PyTorch checkpoint.
    #[arg(long)]
    from: std::path::PathBuf,
    /// The run folder to write (config.toml, checkpoints/).
    #[arg(long)]
    out: std::path::PathBuf,
}

/// Runs an import (given the checkpoint and the run folder) and says what it read and how long
/// it took.
fn timed_import(
    paths: &ImportPaths,
    import: impl FnOnce(
        &std::path::Path,
        &std::path::Path,
    ) -> anyhow::Result<burn_support::import::ImportedFrom>,
) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let record = import(&paths.from, &paths.out)?;
    println!(
        "imported {} tensors from {} ({} bookkeeping buffers left out) into {} in {:.2} s",
        record.tensors,
        paths.from.display(),
        record.dropped,
        paths.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
