//! `ftf bench`: timings of the pipeline's stages, printed as a table.

use anyhow::Result;
use clap::{Args, ValueEnum};
use std::time::Instant;

/// Which stage to measure.
#[derive(Clone, Copy, ValueEnum)]
pub enum Stage {
    /// Synthetic frame generation (stereo pair + LiDAR scan).
    Synth,
    /// Pseudo-LiDAR conversion and sparsification of a full-size frame.
    PseudoLidar,
    /// PSMNet on the CPU: a training step of the tiny test configuration and its inference.
    Psmnet,
    /// KITTI evaluation of a val-sized set (3769 frames, 10 objects and 50 detections each).
    Eval,
    /// PointPillars on the CPU: frame preparation, a training step and inference of the tiny
    /// test configuration, and inference of the reference configuration.
    Detect,
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
        Stage::Eval => pool.install(|| bench_eval(&a)),
        Stage::PseudoLidar => pool.install(|| bench_pseudo_lidar(&a)),
        Stage::Psmnet => bench_psmnet(&a),
        Stage::Detect => bench_detect(&a),
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
    use pseudo_lidar::{sparsify, ConvertConfig, Converter, SparsifyConfig};
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
        ],
    );
    Ok(())
}

fn bench_psmnet(a: &BenchArgs) -> Result<()> {
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Device, Distribution, Tensor};
    use disparity::loss::{psm_loss, LossKind};
    use disparity::psmnet::inference::predict_pair;
    use disparity::psmnet::PsmNetConfig;
    let cfg = PsmNetConfig::tiny();
    let device = Device::flex().autodiff();
    let mut model = cfg.init(&device);
    let mut optim = AdamConfig::new().init();
    let (b, h, w) = (2, 64, 128);
    let left = Tensor::<4>::random([b, 3, h, w], Distribution::Default, &device);
    let right = Tensor::<4>::random([b, 3, h, w], Distribution::Default, &device);
    let gt = Tensor::<3>::random([b, h, w], Distribution::Uniform(1.0, 30.0), &device);
    let fb = Tensor::<1>::ones([b], &device) * 100.0;
    let step = time_ms(a.repeat, |_| {
        let preds = model.clone().forward(left.clone(), right.clone(), true);
        let loss = psm_loss(&preds, gt.clone(), fb.clone(), LossKind::Disparity, 32.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
    });
    let cpu = Device::flex();
    let infer_model = cfg.init(&cpu);
    let pair = disparity::StereoPair {
        width: 311,
        height: 94,
        left: vec![100; 311 * 94 * 3],
        right: vec![90; 311 * 94 * 3],
    };
    let infer = time_ms(a.repeat, |_| {
        std::hint::black_box(predict_pair(&infer_model, &pair, 100.0, &cpu));
    });
    print_table(
        &format!("PSMNet, tiny configuration (width 8, blocks 1-1-1-1, 8 aggregation channels, max disparity 32), flex CPU backend, {} repetitions", a.repeat),
        &[
            ("training step, batch 2 x 64x128 crops".into(), step),
            ("inference, 311x94 frame (padded 96x320)".into(), infer),
        ],
    );
    Ok(())
}

fn bench_detect(a: &BenchArgs) -> Result<()> {
    use burn::optim::{AdamWConfig, GradientsParams};
    use burn::tensor::Device;
    use detector::anchors::Anchors;
    use detector::augment::{augment, SampleDatabase};
    use detector::data::{gt_boxes, in_view, Frame};
    use detector::inference::{pillar_batch, Detector};
    use detector::loss::{detection_loss, TargetBatch};
    use detector::model::PointPillars;
    use detector::pillars::pillarise;
    use detector::targets::assign;
    use detector::DetectorConfig;
    let tiny = DetectorConfig::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/pointpillars-tiny.toml"
    )))?;
    let specs = tiny.class_specs()?;
    let fc = synth::SynthConfig {
        scale: 0.5,
        ..Default::default()
    }
    .frame_config();
    let frames: Vec<Frame> = (0..4)
        .map(|i| {
            let f = synth::generate_frame(&fc, 0, i);
            let size = (f.rig.width, f.rig.height);
            let points: Vec<_> = f
                .lidar
                .iter()
                .map(|r| r.point)
                .filter(|p| in_view(p, &f.rig.calib, size))
                .collect();
            Frame {
                id: format!("{i:06}"),
                gt: gt_boxes(&f.labels, &specs, &f.rig.calib),
                points,
                labels: f.labels,
                calib: f.rig.calib,
                image_size: size,
            }
        })
        .collect();
    let mut db = SampleDatabase::default();
    for f in &frames {
        db.add_frame(f, specs.len(), tiny.augment.min_points);
    }
    let anchors = Anchors::new(&tiny, &specs);
    let prepare = |f: &Frame, seed: u64| {
        let (mut points, mut gt) = (f.points.clone(), f.gt.clone());
        augment(
            &mut points,
            &mut gt,
            &db,
            &tiny.augment,
            &specs,
            &mut synth::rng::Rng::new(seed),
        );
        let pillars = pillarise(&points, &tiny.pillars, tiny.pillars.max_pillars_train);
        (
            pillars,
            assign(&anchors, &specs, &gt, tiny.loss.direction_offset),
        )
    };
    let prep = time_ms(a.repeat, |i| {
        std::hint::black_box(prepare(&frames[i % 4], i as u64));
    });
    let (pillars, targets): (Vec<_>, Vec<_>) =
        (0..4).map(|i| prepare(&frames[i], i as u64)).unzip();
    let device = Device::flex().autodiff();
    let mut model = PointPillars::new(&tiny, &device);
    let mut optim = AdamWConfig::new().init();
    let step = time_ms(a.repeat, |_| {
        let input = pillar_batch(&pillars, &tiny.pillars, &device);
        let target = TargetBatch::new(&targets, specs.len(), &device);
        let loss = detection_loss(model.forward(input), &target, &tiny.loss).total();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
    });
    let cpu = Device::flex();
    let small = Detector::from_parts(PointPillars::new(&tiny, &cpu), tiny.clone(), cpu.clone())?;
    let infer = time_ms(a.repeat, |i| {
        std::hint::black_box(small.predict(&frames[i % 4]));
    });
    let reference = DetectorConfig::default();
    let full = Detector::from_parts(PointPillars::new(&reference, &cpu), reference, cpu)?;
    let infer_full = time_ms(a.repeat.min(2), |i| {
        std::hint::black_box(full.predict(&frames[i % 4]));
    });
    let points = frames.iter().map(|f| f.points.len()).sum::<usize>() / 4;
    print_table(
        &format!(
            "PointPillars, flex CPU backend, synthetic LiDAR in the camera view (~{points} points a frame), {} repetitions",
            a.repeat
        ),
        &[
            ("tiny: prepare a frame (augment, pillars, targets)".into(), prep),
            ("tiny: training step, batch 4".into(), step),
            ("tiny: inference + NMS, one frame".into(), infer),
            ("reference 432x496: inference + NMS, one frame".into(), infer_full),
        ],
    );
    Ok(())
}
