//! One module per subcommand; each parses its arguments and calls the stage crates.

pub mod bench;
pub mod detect;
pub mod disparity;
pub mod eval;
pub mod inspect;
pub mod pseudo_lidar;
pub mod synth;

/// Runs an import of the checkpoint `from` into the run folder `out` and says what it read and
/// how long it took.
fn timed_import(
    from: &std::path::Path,
    out: &std::path::Path,
    import: impl FnOnce() -> anyhow::Result<burn_support::import::ImportedFrom>,
) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let record = import()?;
    println!(
        "imported {} tensors from {} ({} bookkeeping buffers left out) into {} in {:.2} s",
        record.tensors,
        from.display(),
        record.dropped,
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
