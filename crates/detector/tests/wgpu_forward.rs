//! The GPU code path of the detector: PointPillars' head outputs on wgpu against the CPU. Runs
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

#[test]
fn a_forward_pass_on_wgpu_matches_the_cpu() {
    if skip_without_wgpu("a_forward_pass_on_wgpu_matches_the_cpu") {
        return;
    }
    let cfg = DetectorConfig::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/pointpillars-tiny.toml"
    )))
    .unwrap();
    // A few hundred points on two boxes and the ground.
    let points: Vec<LidarPoint> = (0..600)
        .map(|i| {
            let t = i as f32 * 0.37;
            LidarPoint {
                x: 5.0 + (t * 7.1) % 40.0,
                y: -10.0 + (t * 3.3) % 20.0,
                z: -1.7 + (t * 0.9) % 1.5,
                r: (t * 0.1) % 1.0,
            }
        })
        .collect();
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
        let (a, b) = (host(a), host(b));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "largest CPU/wgpu difference {worst}");
    }
}
