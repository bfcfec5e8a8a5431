//! `ftf`: the command-line front door of the Fixes-That-Fail toolkit.

mod commands;

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
    /// Measure the speed of the pipeline's stages and print a table.
    Bench(commands::bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(a) => commands::synth::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Bench(a) => commands::bench::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
