//! One module per subcommand; each parses its arguments and calls the stage crates.

pub mod bench;
pub mod detect;
pub mod disparity;
pub mod eval;
pub mod inspect;
pub mod pseudo_lidar;
pub mod synth;

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
