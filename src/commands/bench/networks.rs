//! `ftf bench psmnet|detect`: the two networks' training steps and inference on a chosen
//! device, with the device memory their allocator reserved where the backend reports it.

use super::{time_ms, BenchArgs};
use anyhow::Result;
use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use detector::data::Frame;
use detector::DetectorConfig;
use disparity::psmnet::PsmNetConfig;

/// One measured row: name, (mean, min) milliseconds, device memory reserved in bytes.
struct Row {
    name: String,
    ms: (f64, f64),
    reserved: Option<u64>,
}

/// Times `f` after one untimed warm-up call (kernel compilation, autotuning, allocation),
/// waiting for the device after each call, and reads what the device's allocator reserved.
fn measure(name: String, repeat: usize, device: &Device, mut f: impl FnMut(usize)) -> Row {
    device.memory_cleanup();
    f(0);
    let _ = device.sync();
    let ms = time_ms(repeat, |i| {
        f(i + 1);
        let _ = device.sync();
    });
    let reserved = device.memory_pool_usage().map(|u| u.bytes_reserved);
    eprintln!("  {name}: mean {:.2} ms, min {:.2} ms", ms.0, ms.1);
    Row { name, ms, reserved }
}

/// Prints the rows as a markdown table, with a memory column where any row has one.
fn print_rows(title: &str, rows: &[Row]) {
    let memory = rows.iter().any(|r| r.reserved.is_some());
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    println!("{title}");
    print!(
        "| {:<width$} | {:>10} | {:>10} |",
        "stage", "mean ms", "min ms"
    );
    if memory {
        print!(" {:>12} |", "reserved GiB");
    }
    println!();
    print!("|{:-<w2$}|{:->12}|{:->12}|", "", "", "", w2 = width + 2);
    if memory {
        print!("{:->14}|", "");
    }
    println!();
    for r in rows {
        let (mean, min) = r.ms;
        let digits = if min < 10.0 { 2 } else { 1 };
        print!(
            "| {:<width$} | {mean:>10.digits$} | {min:>10.digits$} |",
            r.name
        );
        if memory {
            let gib = r.reserved.map(|b| b as f64 / (1u64 << 30) as f64);
            print!(" {:>12} |", gib.map_or("-".into(), |g| format!("{g:.2}")));
        }
        println!();
    }
}

/// The device named by `--device`, the CPU without it.
fn bench_device(a: &BenchArgs) -> Result<Device> {
    crate::terminal::device::from_arg(Some(a.device.as_deref().unwrap_or("cpu")))
}

/// Times training steps of `model`: the loss `loss` gives, its backward pass and one step of
/// `optim` at rate 1e-3.
fn training_row<M: Module>(
    name: String,
    a: &BenchArgs,
    device: &Device,
    mut model: M,
    mut optim: ModuleOptimizer,
    loss: impl Fn(&M) -> Tensor<1>,
) -> Row {
    measure(name, a.repeat, device, |_| {
        let grads = GradientsParams::from_grads(loss(&model).backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
    })
}

/// A training step of PSMNet `cfg` on random `batch` × `h` × `w` crops.
fn psmnet_step(a: &BenchArgs, cfg: &PsmNetConfig, name: &str, device: &Device) -> Row {
    use disparity::loss::{psm_loss, LossKind};
    let train = device.clone().autodiff();
    let (h, w, b) = (a.crop[0], a.crop[1], a.batch.unwrap_or(2));
    let left = Tensor::<4>::random([b, 3, h, w], Distribution::Default, &train);
    let right = Tensor::<4>::random([b, 3, h, w], Distribution::Default, &train);
    let gt = Tensor::<3>::random([b, h, w], Distribution::Uniform(1.0, 30.0), &train);
    let fb = Tensor::<1>::ones([b], &train) * 100.0;
    let max = Some(cfg.max_disparity as f64);
    training_row(
        format!("{name}: training step, batch {b} x {h}x{w} crops"),
        a,
        device,
        cfg.init(&train),
        AdamConfig::new().init(),
        |model| {
            let preds = model.forward(left.clone(), right.clone(), true);
            psm_loss(&preds, gt.clone(), fb.clone(), LossKind::Disparity, max)
        },
    )
}

/// Inference of PSMNet `cfg` on a `width` × `height` frame.
fn psmnet_inference(
    a: &BenchArgs,
    cfg: &PsmNetConfig,
    name: &str,
    (width, height): (u32, u32),
    device: &Device,
) -> Row {
    use disparity::psmnet::inference::{padded, predict_pair};
    let model = cfg.init(device);
    let n = (width * height * 3) as usize;
    let pair = disparity::StereoPair {
        width,
        height,
        left: (0..n).map(|i| (i * 37 % 251) as u8).collect(),
        right: (0..n).map(|i| ((i + 12) * 37 % 251) as u8).collect(),
    };
    let (hp, wp) = (padded(height as usize), padded(width as usize));
    measure(
        format!("{name}: inference, {width}x{height} frame (padded {wp}x{hp})"),
        a.repeat,
        device,
        |_| {
            std::hint::black_box(predict_pair(&model, &pair, 100.0, device));
        },
    )
}

/// `ftf bench psmnet`.
pub fn bench_psmnet(a: &BenchArgs) -> Result<()> {
    let device = bench_device(a)?;
    let tiny = PsmNetConfig::tiny();
    let mut rows = vec![
        psmnet_step(a, &tiny, "tiny", &device),
        psmnet_inference(a, &tiny, "tiny", (311, 94), &device),
    ];
    if let Some(path) = &a.network {
        let cfg = disparity::psmnet::training::TrainConfig::load(path)?.model;
        let name = path.display().to_string();
        rows.push(psmnet_step(a, &cfg, &name, &device));
        rows.push(psmnet_inference(a, &cfg, &name, (621, 188), &device));
    }
    if a.reference {
        let reference = PsmNetConfig::default();
        rows.push(psmnet_step(a, &reference, "reference", &device));
        rows.push(psmnet_inference(
            a,
            &reference,
            "reference",
            (1242, 375),
            &device,
        ));
    }
    print_rows(
        &format!(
            "PSMNet on {device:?}; tiny = width 8, blocks 1-1-1-1, 8 aggregation channels, max disparity 32; reference = the paper's network, max disparity 192; {} repetitions after a warm-up",
            a.repeat
        ),
        &rows,
    );
    Ok(())
}

/// Four half-size synthetic frames with their simulated LiDAR inside the camera view.
fn lidar_frames(cfg: &DetectorConfig) -> Result<Vec<Frame>> {
    use detector::data::{gt_boxes, in_view};
    let specs = cfg.class_specs()?;
    let fc = synth::SynthConfig {
        scale: 0.5,
        ..Default::default()
    }
    .frame_config();
    Ok((0..4)
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
        .collect())
}

/// A frame's training input: augmented points pillarised, and the anchor targets.
type Prepared = (detector::pillars::Pillars, detector::targets::Targets);

/// Detector `cfg`'s frame preparation (augment, pillarise, assign), a closure over `frames`.
fn preparer<'a>(
    cfg: &'a DetectorConfig,
    frames: &'a [Frame],
) -> Result<impl Fn(usize, u64) -> Prepared + 'a> {
    use detector::anchors::Anchors;
    use detector::augment::{augment, SampleDatabase};
    use detector::pillars::pillarise;
    use detector::targets::assign;
    let specs = cfg.class_specs()?;
    let mut db = SampleDatabase::default();
    for f in frames {
        db.add_frame(f, specs.len(), cfg.augment.min_points);
    }
    let anchors = Anchors::new(cfg, &specs);
    Ok(move |i: usize, seed: u64| {
        let f = &frames[i % frames.len()];
        let (mut points, mut gt) = (f.points.clone(), f.gt.clone());
        let obstacles = detector::data::other_boxes(&f.labels, &specs, &f.calib);
        let mut rng = synth::rng::Rng::new(seed);
        augment(
            &mut points,
            &mut gt,
            &obstacles,
            &db,
            &cfg.augment,
            &specs,
            &mut rng,
        );
        let pillars = pillarise(&points, &cfg.pillars, cfg.pillars.max_pillars_train);
        let targets = assign(&anchors, &specs, &gt, cfg.loss.direction_offset);
        (pillars, targets)
    })
}

/// A training step of detector `cfg` on a batch of `--batch` prepared frames.
fn detector_step(
    a: &BenchArgs,
    cfg: &DetectorConfig,
    name: &str,
    frames: &[Frame],
    device: &Device,
) -> Result<Row> {
    use detector::inference::pillar_batch;
    use detector::loss::{detection_loss, TargetBatch};
    use detector::model::PointPillars;
    let classes = cfg.class_specs()?.len();
    let prepare = preparer(cfg, frames)?;
    let batch = a.batch.unwrap_or(4);
    let (pillars, targets): (Vec<_>, Vec<_>) = (0..batch).map(|i| prepare(i, i as u64)).unzip();
    let train = device.clone().autodiff();
    Ok(training_row(
        format!("{name}: training step, batch {batch}"),
        a,
        device,
        PointPillars::new(cfg, &train),
        AdamWConfig::new().init(),
        |model| {
            let input = pillar_batch(&pillars, &cfg.pillars, &train);
            let target = TargetBatch::new(&targets, classes, &train);
            detection_loss(model.forward(input), &target, &cfg.loss).total()
        },
    ))
}

/// Inference and NMS of an untrained detector `cfg`, one frame at a time.
fn detector_inference(
    a: &BenchArgs,
    cfg: &DetectorConfig,
    name: &str,
    frames: &[Frame],
    device: &Device,
) -> Result<Row> {
    use detector::inference::Detector;
    use detector::model::PointPillars;
    let model = PointPillars::new(cfg, device);
    let detector = Detector::from_parts(model, cfg.clone(), device.clone())?;
    Ok(measure(
        format!("{name}: inference + NMS, one frame"),
        a.repeat,
        device,
        |i| {
            std::hint::black_box(detector.predict(&frames[i % frames.len()]));
        },
    ))
}

/// `ftf bench detect`.
pub fn bench_detect(a: &BenchArgs) -> Result<()> {
    let device = bench_device(a)?;
    let tiny = DetectorConfig::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/pointpillars-tiny.toml"
    )))?;
    let reference = DetectorConfig::default();
    let frames = lidar_frames(&tiny)?;
    let prepare = preparer(&tiny, &frames)?;
    let cpu = Device::flex();
    let mut rows = vec![
        measure(
            "tiny: prepare a frame (augment, pillars, targets; CPU)".into(),
            a.repeat,
            &cpu,
            |i| {
                std::hint::black_box(prepare(i, i as u64));
            },
        ),
        detector_step(a, &tiny, "tiny", &frames, &device)?,
        detector_inference(a, &tiny, "tiny", &frames, &device)?,
    ];
    if a.reference {
        rows.push(detector_step(a, &reference, "reference", &frames, &device)?);
    }
    rows.push(detector_inference(
        a,
        &reference,
        "reference 432x496",
        &frames,
        &device,
    )?);
    let points = frames.iter().map(|f| f.points.len()).sum::<usize>() / frames.len();
    print_rows(
        &format!(
            "PointPillars on {device:?}, synthetic LiDAR in the camera view (~{points} points a frame), {} repetitions after a warm-up",
            a.repeat
        ),
        &rows,
    );
    Ok(())
}
