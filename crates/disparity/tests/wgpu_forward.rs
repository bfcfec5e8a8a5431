//! The GPU code path: PSMNet's forward pass on wgpu against the CPU. Runs when the build has the
//! `wgpu` feature and an adapter exists (`cargo test -p disparity --features wgpu`; Mesa's
//! lavapipe provides one on a CPU-only machine); skips with a message otherwise.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use burn_support::device::{select, wgpu_available, DeviceChoice};
use disparity::psmnet::PsmNetConfig;

#[test]
fn a_forward_pass_on_wgpu_matches_the_cpu() {
    if !wgpu_available() {
        eprintln!("skipped: no wgpu adapter in this build or on this machine");
        return;
    }
    let cpu = Device::flex();
    let gpu = select(Some(DeviceChoice::Wgpu)).unwrap();
    let model = PsmNetConfig::tiny().init(&cpu).valid();
    let left = Tensor::<4>::random([1, 3, 32, 64], Distribution::Default, &cpu);
    let right = Tensor::<4>::random([1, 3, 32, 64], Distribution::Default, &cpu);
    let on_cpu = model
        .forward(left.clone(), right.clone(), false)
        .pop()
        .unwrap();
    let model_gpu = model.to_device(&gpu);
    let on_gpu = model_gpu
        .forward(left.to_device(&gpu), right.to_device(&gpu), false)
        .pop()
        .unwrap();
    let (a, b) = (
        on_cpu.into_data().try_to_vec::<f32>().unwrap(),
        on_gpu.into_data().try_to_vec::<f32>().unwrap(),
    );
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-2, "largest CPU/wgpu difference {worst} px");
}
