//! The GPU code path: PSMNet's forward pass and a training step on wgpu against the CPU (burn's
//! GPU backends lack some backward passes the CPU has, e.g. bilinear interpolation's, so
//! training is checked too). Runs when the build has the
//! `wgpu` feature and an adapter exists (`cargo test -p disparity --features wgpu`; Mesa's
//! lavapipe provides one on a CPU-only machine); says SKIPPED on the terminal otherwise.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use burn_support::device::{select, skip_without_wgpu, DeviceChoice};
use disparity::psmnet::PsmNetConfig;

#[test]
fn a_forward_pass_on_wgpu_matches_the_cpu() {
    if skip_without_wgpu("a_forward_pass_on_wgpu_matches_the_cpu") {
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
    let worst = burn_support::largest_difference(&a, &b);
    assert!(worst < 1e-2, "largest CPU/wgpu difference {worst} px");
}

#[test]
fn a_training_step_on_wgpu_matches_the_cpu() {
    use burn::optim::{GradientsParams, SgdConfig};
    use burn_support::checkpoint::{load_model, save_model};
    use disparity::loss::{psm_loss, LossKind};
    use disparity::psmnet::PsmNet;
    if skip_without_wgpu("a_training_step_on_wgpu_matches_the_cpu") {
        return;
    }
    let cpu = Device::flex().autodiff();
    let gpu = select(Some(DeviceChoice::Wgpu)).unwrap().autodiff();
    // The GPU model is made as `ftf disparity train --device wgpu` makes it from `init =`
    // weights: built on the device, then loaded from the CPU model's checkpoint. (Moving a
    // model with burn 0.22's `to_device` instead leaves its parameters as outputs of a copy,
    // so a backward pass finds none of their gradients and a step changes nothing: an earlier
    // version of this test did that.)
    let model = PsmNetConfig::tiny().init(&cpu);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.bpk");
    save_model(&model, &file).unwrap();
    let model_gpu = load_model(PsmNetConfig::tiny().init(&gpu), &file).unwrap();
    let left = Tensor::<4>::random([1, 3, 32, 64], Distribution::Default, &cpu);
    let right = Tensor::<4>::random([1, 3, 32, 64], Distribution::Default, &cpu);
    let gt = Tensor::<3>::random([1, 32, 64], Distribution::Uniform(1.0, 30.0), &cpu);
    // Loss, number of parameter gradients found, loss after one SGD step, and that loss again
    // (a second forward pass of the same model on the same batch must repeat it exactly).
    let step = |model: PsmNet, device: &Device| {
        let (l, r, g) = (
            left.clone().to_device(device),
            right.clone().to_device(device),
            gt.clone().to_device(device),
        );
        let fb = Tensor::<1>::ones([1], device) * 100.0;
        let loss = |m: &PsmNet| {
            let preds = m.forward(l.clone(), r.clone(), true);
            psm_loss(
                &preds,
                g.clone(),
                fb.clone(),
                LossKind::Disparity,
                Some(32.0),
            )
        };
        let first = loss(&model);
        let before = first.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(first.backward(), &model);
        let found = grads.len();
        let model = SgdConfig::new().init().step(0.05, model, grads);
        let after = loss(&model).into_scalar::<f32>();
        let again = loss(&model).into_scalar::<f32>();
        (before, found, after, again)
    };
    let (a0, na, a, a2) = step(model, &cpu);
    let (b0, nb, b, b2) = step(model_gpu, &gpu);
    let close = |x: f32, y: f32| x.is_finite() && (x - y).abs() < 1e-4 * x.abs().max(1.0);
    assert!(
        na > 0 && na == nb,
        "parameter gradients found: CPU {na}, wgpu {nb}"
    );
    assert!(
        close(a0, b0) && close(a, b),
        "loss before a step: CPU {a0}, wgpu {b0}; after it: CPU {a}, wgpu {b}"
    );
    assert!(
        a2 == a && b2 == b,
        "a repeated forward pass: CPU {a} then {a2}, wgpu {b} then {b2}"
    );
    // The step moved the loss (a step that did nothing would compare equal on both devices).
    assert!((a - a0).abs() > 1e-2, "{a0} -> {a}");
}
