//! The GPU code path of the detector: PointPillars' head outputs and a training step on wgpu
//! against the CPU. Runs
//! when the build has the `wgpu` feature and an adapter exists (`cargo test -p detector
//! --features wgpu --test wgpu_forward`; Mesa's lavapipe provides one on a CPU-only machine);
//! says SKIPPED on the terminal otherwise.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use burn_support::device::{select, skip_without_wgpu, DeviceChoice};
use detector::inference::pillar_batch;
use detector::model::PointPillars;
use detector::pillars::pillarise;
use detector::DetectorConfig;
use kitti::velodyne::LidarPoint;

/// A few hundred points spread over boxes and the ground.
fn scene() -> Vec<LidarPoint> {
    (0..600)
        .map(|i| {
            let t = i as f32 * 0.37;
            LidarPoint {
                x: 5.0 + (t * 7.1) % 40.0,
                y: -10.0 + (t * 3.3) % 20.0,
                z: -1.7 + (t * 0.9) % 1.5,
                r: (t * 0.1) % 1.0,
            }
        })
        .collect()
}

fn tiny_config() -> DetectorConfig {
    DetectorConfig::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/pointpillars-tiny.toml"
    )))
    .unwrap()
}

#[test]
fn a_forward_pass_on_wgpu_matches_the_cpu() {
    if skip_without_wgpu("a_forward_pass_on_wgpu_matches_the_cpu") {
        return;
    }
    let cfg = tiny_config();
    let points = scene();
    let pillars = pillarise(&points, &cfg.pillars, cfg.pillars.max_pillars_test);
    let cpu = Device::flex();
    let gpu = select(Some(DeviceChoice::Wgpu)).unwrap();
    let model = PointPillars::new(&cfg, &cpu).valid();
    let on_cpu = model.forward(pillar_batch(
        std::slice::from_ref(&pillars),
        &cfg.pillars,
        &cpu,
    ));
    let on_gpu = model.to_device(&gpu).forward(pillar_batch(
        std::slice::from_ref(&pillars),
        &cfg.pillars,
        &gpu,
    ));
    let host = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
    for (a, b) in [
        (on_cpu.class_logits, on_gpu.class_logits),
        (on_cpu.boxes, on_gpu.boxes),
    ] {
        let worst = burn_support::largest_difference(&host(a), &host(b));
        assert!(worst < 1e-3, "largest CPU/wgpu difference {worst}");
    }
}

#[test]
fn a_training_step_on_wgpu_matches_the_cpu() {
    use burn::optim::{GradientsParams, SgdConfig};
    use burn_support::checkpoint::{load_model, save_model};
    use detector::anchors::Anchors;
    use detector::loss::{detection_loss, TargetBatch};
    use detector::targets::{assign, GtBox};
    if skip_without_wgpu("a_training_step_on_wgpu_matches_the_cpu") {
        return;
    }
    let cfg = tiny_config();
    let specs = cfg.class_specs().unwrap();
    let anchors = Anchors::new(&cfg, &specs);
    // One car 15 m ahead: positives for the box and direction terms, negatives elsewhere.
    let gt = [GtBox {
        class: 0,
        params: [15.0, 1.0, -1.0, 3.9, 1.6, 1.56, 0.3],
    }];
    let targets = assign(&anchors, &specs, &gt, cfg.loss.direction_offset);
    assert!(targets.positives() > 0);
    let pillars = pillarise(&scene(), &cfg.pillars, cfg.pillars.max_pillars_train);
    let cpu = Device::flex().autodiff();
    let gpu = select(Some(DeviceChoice::Wgpu)).unwrap().autodiff();
    // Built on each device and loaded from one checkpoint, as training from weights does.
    let model = PointPillars::new(&cfg, &cpu);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.bpk");
    save_model(&model, &file).unwrap();
    let model_gpu = load_model(PointPillars::new(&cfg, &gpu), &file).unwrap();
    let step = |model: PointPillars, device: &Device| {
        let target = TargetBatch::new(std::slice::from_ref(&targets), specs.len(), device);
        let loss = |m: &PointPillars| {
            let input = pillar_batch(std::slice::from_ref(&pillars), &cfg.pillars, device);
            detection_loss(m.forward(input), &target, &cfg.loss).total()
        };
        let first = loss(&model);
        let before = first.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(first.backward(), &model);
        let found = grads.len();
        let model = SgdConfig::new().init().step(0.01, model, grads);
        let after = loss(&model).into_scalar::<f32>();
        (before, found, after)
    };
    let (a0, na, a) = step(model, &cpu);
    let (b0, nb, b) = step(model_gpu, &gpu);
    let close = |x: f32, y: f32| x.is_finite() && (x - y).abs() < 1e-3 * x.abs().max(1.0);
    assert!(
        na > 0 && na == nb,
        "parameter gradients found: CPU {na}, wgpu {nb}"
    );
    assert!(
        close(a0, b0) && close(a, b),
        "loss before a step: CPU {a0}, wgpu {b0}; after it: CPU {a}, wgpu {b}"
    );
    assert!((a - a0).abs() > 1e-3, "{a0} -> {a}");
}
