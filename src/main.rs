//! `ftf`: the command-line front door of the Fixes-That-Fail toolkit.

mod commands;
mod experiment;
mod terminal;

use clap::{Parser, Subcommand};

/// Reproduce and extend the stereo → pseudo-LiDAR → 3D detection experiment of
/// "Fixes That Fail" on KITTI-format data.
#[derive(Parser)]
#[command(name = "ftf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic data set in the KITTI object layout.
    Synth(commands::synth::SynthArgs),
    /// Check a KITTI-format root: files, calibration, label/LiDAR alignment; draw a BEV picture.
    Inspect(commands::inspect::InspectArgs),
    /// KITTI AP (R11 and R40; 2D, BEV, 3D, AOS) of result files against ground truth.
    Eval(commands::eval::EvalArgs),
    /// Convert disparity (or depth) maps into pseudo-LiDAR clouds, optionally sparsified.
    PseudoLidar(commands::pseudo_lidar::PseudoLidarArgs),
    /// Derive sparse disparity ground truth from the LiDAR scans of a KITTI root.
    GtDisparity(commands::pseudo_lidar::GtDisparityArgs),
    /// Write the close clouds' labels: objects centred beyond the cut become DontCare.
    CloseLabels(commands::pseudo_lidar::CloseLabelsArgs),
    /// Disparity models: predict, evaluate.
    #[command(subcommand)]
    Disparity(commands::disparity::DisparityCommand),
    /// 3D detectors (PointPillars): train on LiDAR or pseudo-LiDAR, predict, draw.
    #[command(subcommand)]
    Detect(commands::detect::DetectCommand),
    /// Run a whole study from one TOML file: swap the disparity network, retrain the
    /// detectors, report the change in AP.
    Experiment(experiment::ExperimentArgs),
    /// Measure the speed of the pipeline's stages and print a table.
    Bench(commands::bench::BenchArgs),
}

fn main() {
    // Behave like other command-line tools when the reader of our output goes away
    // (`ftf eval ... | head`): end quietly instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    terminal::memory::keep_freed_memory();
    let cli = Cli::parse();
    if let Err(e) = terminal::workers::on_global_pool(|| run(cli.command)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Runs one subcommand.
fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Synth(a) => commands::synth::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::PseudoLidar(a) => commands::pseudo_lidar::run(a),
        Command::GtDisparity(a) => commands::pseudo_lidar::run_gt(a),
        Command::CloseLabels(a) => commands::pseudo_lidar::run_close_labels(a),
        Command::Disparity(c) => commands::disparity::run(c),
        Command::Detect(c) => commands::detect::run(c),
        Command::Experiment(a) => experiment::run(a),
        Command::Bench(a) => commands::bench::run(a),
    }
}
