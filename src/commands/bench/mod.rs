//! `ftf bench`: timings of the pipeline's stages, printed as a table.

use anyhow::Result;
use clap::{Args, ValueEnum};
use std::time::Instant;

mod networks;

/// Which stage to measure.
#[derive(Clone, Copy, ValueEnum)]
pub enum Stage {
    /// Synthetic frame generation (stereo pair + LiDAR scan).
    Synth,
    /// Pseudo-LiDAR conversion and sparsification of a full-size frame.
    PseudoLidar,
    /// PSMNet: a training step of the tiny test configuration and its inference (with
    /// `--reference`, the paper's network too), on `--device`.
    Psmnet,
    /// KITTI evaluation of a val-sized set (3769 frames, 10 objects and 50 detections each).
    Eval,
    /// PointPillars: frame preparation, a training step and inference of the tiny test
    /// configuration, and inference of the reference configuration (with `--reference`, its
    /// training step too), on `--device`.
    Detect,
}

/// Arguments of `ftf bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Stage to measure.
    #[arg(value_enum, default_value = "synth")]
    stage: Stage,
    /// Repetitions (at least 1).
    #[arg(long, default_value_t = 5, value_parser = at_least_one)]
    repeat: usize,
    /// Image scale for the synthetic stage (above 0, at most 4).
    #[arg(long, default_value_t = 1.0, value_parser = image_scale)]
    scale: f64,
    /// Worker threads (1 = single core; at least 1).
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    threads: usize,
    /// Device of the network stages: cpu, wgpu or cuda.
    #[arg(long)]
    device: Option<String>,
    /// Network stages: also time the reference (paper-size) networks' training steps, and
    /// PSMNet's inference on a full KITTI frame.
    #[arg(long)]
    reference: bool,
    /// Network stages: training batch size, 1 to 64 (default: 2 for psmnet, 4 for detect).
    #[arg(long, value_parser = batch_size)]
    batch: Option<usize>,
    /// PSMNet: also time the network of this training config (TOML), its inference on a
    /// half-size KITTI frame (621x188).
    #[arg(long)]
    network: Option<std::path::PathBuf>,
    /// PSMNet: training crop, height and width, each a multiple of 16 from 16 to 1280.
    #[arg(long, num_args = 2, value_names = ["H", "W"], default_values_t = [64, 128], value_parser = crop_side)]
    crop: Vec<usize>,
}

/// Runs `ftf bench`.
pub fn run(a: BenchArgs) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()?;
    match a.stage {
        Stage::Synth => pool.install(|| bench_synth(&a)),
        Stage::Eval => pool.install(|| bench_eval(&a)),
        Stage::PseudoLidar => pool.install(|| bench_pseudo_lidar(&a)),
        Stage::Psmnet => networks::bench_psmnet(&a),
        Stage::Detect => networks::bench_detect(&a),
    }
}

/// Prints a markdown table of (stage, (mean ms, min ms)) rows under a title line.
fn print_table(title: &str, rows: &[(String, (f64, f64))]) {
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
    println!("{title}");
    println!(
        "| {:<width$} | {:>10} | {:>10} |",
        "stage", "mean ms", "min ms"
    );
    println!("|{:-<w2$}|{:->12}|{:->12}|", "", "", "", w2 = width + 2);
    for (name, (mean, min)) in rows {
        let digits = if *min < 10.0 { 2 } else { 1 };
        println!("| {name:<width$} | {mean:>10.digits$} | {min:>10.digits$} |");
    }
}

/// A count of at least 1.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number of at least 1")),
    }
}

/// An image scale as the synthetic sets take: above 0, at most [`synth::validate::MAX_SCALE`].
fn image_scale(s: &str) -> Result<f64, String> {
    use synth::validate::MAX_SCALE;
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_SCALE => Ok(v),
        _ => Err(format!(
            "`{s}` is not a scale above 0 and at most {MAX_SCALE}"
        )),
    }
}

/// A training batch the benchmark can hold: 1 to 64 frames.
fn batch_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a batch of 1 to 64")),
    }
}

/// A side of a PSMNet training crop: the hourglasses need a multiple of 16; at most 1280 (a
/// full KITTI frame, padded, is 384 x 1248).
fn crop_side(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n.is_multiple_of(16) && (16..=1280).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a multiple of 16 from 16 to 1280")),
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
    let rows: Vec<(String, (f64, f64))> =
        rows.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
    print_table(
        &format!(
            "synthetic frame, {}x{}, {} thread(s), {} repetitions",
            rig.width, rig.height, a.threads, a.repeat
        ),
        &rows,
    );
    Ok(())
}

/// A val-sized evaluation input: per frame 10 ground-truth objects of all classes and 50
/// detections (noisy copies of the objects and stray boxes) with random scores.
fn eval_frames(n: usize, seed: u64) -> Vec<eval::FrameLabels> {
    use kitti::{Box2D, Box3D, Object, ObjectType};
    use synth::rng::Rng;
    let mut rng = Rng::new(seed);
    let kinds = [
        ObjectType::Car,
        ObjectType::Car,
        ObjectType::Car,
        ObjectType::Van,
        ObjectType::Pedestrian,
        ObjectType::Pedestrian,
        ObjectType::Cyclist,
        ObjectType::DontCare,
    ];
    let object = |rng: &mut Rng, kind: ObjectType| {
        let z = rng.uniform(5.0, 70.0);
        let x = rng.uniform(-0.7, 0.7) * z;
        let h = 721.0 * 1.5 / z;
        let u = 609.0 + 721.0 * x / z;
        Object {
            kind,
            truncated: rng.uniform(0.0, 0.5),
            occluded: rng.int(0, 2) as i32,
            alpha: rng.uniform(-3.1, 3.1),
            bbox: Box2D {
                left: u - h,
                top: 180.0 - h / 2.0,
                right: u + h,
                bottom: 180.0 + h / 2.0,
            },
            box3d: Box3D {
                location: nalgebra::Point3::new(x, 1.6, z),
                h: 1.5,
                w: 1.6,
                l: 3.9,
                ry: rng.uniform(-3.1, 3.1),
            },
            score: None,
        }
    };
    (0..n)
        .map(|_| {
            let gt: Vec<Object> = (0..10)
                .map(|i| object(&mut rng, kinds[i % kinds.len()]))
                .collect();
            let mut det = Vec::with_capacity(50);
            for g in gt.iter().filter(|g| g.kind != ObjectType::DontCare) {
                for _ in 0..3 {
                    let mut d = g.clone();
                    d.kind = if g.kind == ObjectType::Van {
                        ObjectType::Car
                    } else {
                        g.kind
                    };
                    d.box3d.location.x += rng.normal() * 0.3;
                    d.box3d.location.z += rng.normal() * 0.5;
                    d.bbox.left += rng.normal() * 3.0;
                    d.score = Some(rng.f64());
                    det.push(d);
                }
            }
            while det.len() < 50 {
                let kind = kinds[rng.int(0, 6) as usize];
                let mut d = object(&mut rng, kind);
                d.score = Some(rng.f64() * 0.6);
                det.push(d);
            }
            eval::FrameLabels { gt, det }
        })
        .collect()
}

fn bench_eval(a: &BenchArgs) -> Result<()> {
    let frames = eval_frames(3769, 7);
    let cfg = eval::EvalConfig::default();
    let mut curves = 0;
    let (mean, min) = time_ms(a.repeat, |_| {
        curves = std::hint::black_box(eval::evaluate(&frames, &cfg))
            .curves
            .len();
    });
    print_table(
        &format!(
            "KITTI evaluation, 3769 frames x (10 objects, 50 detections), {} curves (3 classes x 3 difficulties x 2D/AOS/BEV/3D), R11 and R40, {} thread(s), {} repetitions",
            curves, a.threads, a.repeat
        ),
        &[("evaluate".into(), (mean, min))],
    );
    Ok(())
}

fn bench_pseudo_lidar(a: &BenchArgs) -> Result<()> {
    use pseudo_lidar::{sparsify, ConvertConfig, Converter, EdgeFilter, SparsifyConfig};
    let fc = synth::SynthConfig {
        scale: a.scale,
        ..Default::default()
    }
    .frame_config();
    let frame = synth::generate_frame(&fc, 0, 0);
    let conv = Converter::new(&frame.rig.calib, ConvertConfig::default());
    let dense = conv.disparity_cloud(&frame.disparity);
    let cfg = SparsifyConfig::default();
    let mut n = (0, 0);
    let convert = time_ms(a.repeat, |_| {
        n.0 = std::hint::black_box(conv.disparity_cloud(&frame.disparity)).len()
    });
    let sparse = time_ms(a.repeat, |_| {
        n.1 = std::hint::black_box(sparsify(&dense, &cfg)).len()
    });
    let filter = EdgeFilter {
        radius: 2,
        ratio: 0.15,
    };
    let edges = time_ms(a.repeat, |_| {
        std::hint::black_box(filter.apply(&frame.disparity));
    });
    let kept = filter
        .apply(&frame.disparity)
        .data
        .iter()
        .filter(|d| **d > 0.0)
        .count();
    print_table(
        &format!(
            "pseudo-LiDAR, {}x{} disparity (exact synthetic, {} valid pixels), {} thread(s), {} repetitions",
            frame.disparity.width,
            frame.disparity.height,
            frame.disparity.data.iter().filter(|d| **d > 0.0).count(),
            a.threads,
            a.repeat
        ),
        &[
            (format!("disparity -> cloud ({} pts)", n.0), convert),
            (format!("sparsify 64x512 ({} pts)", n.1), sparse),
            (
                format!(
                    "drop depth edges, radius {}, share {} ({kept} pixels kept)",
                    filter.radius, filter.ratio
                ),
                edges,
            ),
        ],
    );
    Ok(())
}
