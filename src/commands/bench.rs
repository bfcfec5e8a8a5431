//! `ftf bench`: timings of the pipeline's stages, printed as a table.

use anyhow::Result;
use clap::{Args, ValueEnum};
use std::time::Instant;

/// Which stage to measure.
#[derive(Clone, Copy, ValueEnum)]
pub enum Stage {
    /// Synthetic frame generation (stereo pair + LiDAR scan).
    Synth,
}

/// Arguments of `ftf bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Stage to measure.
    #[arg(value_enum, default_value = "synth")]
    stage: Stage,
    /// Repetitions.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Image scale for the synthetic stage.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Worker threads (1 = single core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Runs `ftf bench`.
pub fn run(a: BenchArgs) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()?;
    match a.stage {
        Stage::Synth => pool.install(|| bench_synth(&a)),
    }
}

/// Times `f` `repeat` times and returns (mean, min) in milliseconds.
fn time_ms(repeat: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut times = Vec::with_capacity(repeat);
    for i in 0..repeat {
        let t = Instant::now();
        f(i);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
    (mean, min)
}

fn bench_synth(a: &BenchArgs) -> Result<()> {
    use synth::{layout, lidar, render, rig::Rig, rng::Rng};
    let cfg = synth::SynthConfig {
        scale: a.scale,
        ..Default::default()
    };
    let fc = cfg.frame_config();
    let rig = Rig::kitti_like(a.scale);
    let worlds: Vec<_> = (0..a.repeat)
        .map(|i| layout::sample_world(&fc.scene, &mut Rng::new(i as u64)))
        .collect();
    let rows = [
        (
            "scene sampling + BVH",
            time_ms(a.repeat, |i| {
                std::hint::black_box(layout::sample_world(&fc.scene, &mut Rng::new(i as u64)));
            }),
        ),
        (
            "render left image",
            time_ms(a.repeat, |i| {
                std::hint::black_box(render::render_camera(&worlds[i], &rig, 2, 1));
            }),
        ),
        (
            "render right image",
            time_ms(a.repeat, |i| {
                std::hint::black_box(render::render_camera(&worlds[i], &rig, 3, 1));
            }),
        ),
        (
            "LiDAR scan",
            time_ms(a.repeat, |i| {
                std::hint::black_box(lidar::scan(&worlds[i], &rig, &fc.lidar, 1));
            }),
        ),
        (
            "whole frame (+ labels)",
            time_ms(a.repeat, |i| {
                std::hint::black_box(synth::generate_frame(&fc, 0, i as u64));
            }),
        ),
    ];
    println!(
        "synthetic frame, {}x{}, {} thread(s), {} repetitions",
        rig.width, rig.height, a.threads, a.repeat
    );
    println!("| {:<24} | {:>10} | {:>10} |", "stage", "mean ms", "min ms");
    println!("|{:-<26}|{:->12}|{:->12}|", "", "", "");
    for (name, (mean, min)) in rows {
        println!("| {name:<24} | {mean:>10.1} | {min:>10.1} |");
    }
    Ok(())
}
