//! Elementwise binary operations on tensors large enough for the vendored burn-flex to split
//! them across threads (patch 9, vendor/burn-flex/PATCHES.md: closures without a SIMD kernel,
//! such as ReLU's backward mask or `powf`, on contiguous operands of at least 256 Ki values).
//! Each value must be exactly what the same expression gives one value at a time, whichever
//! operand the result is written into: the left one when it is uniquely owned, the right one
//! (with the operands swapped back) when only it is, or a new buffer when both are shared or
//! one is a view at an offset.

use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Above the 256 Ki threshold and not a multiple of the 64 Ki chunk.
const N: usize = 600_001;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn tensor(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

/// `a^b` one value at a time, as the reference.
fn powf(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(&x, &y)| x.powf(y)).collect()
}

fn assert_same(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let wrong = got
        .iter()
        .zip(want)
        .position(|(g, w)| g.to_bits() != w.to_bits());
    assert!(
        wrong.is_none(),
        "{what}: value {} is {} where one value at a time gives {}",
        wrong.unwrap(),
        got[wrong.unwrap()],
        want[wrong.unwrap()]
    );
}

#[test]
fn large_closure_operations_give_the_values_of_one_value_at_a_time() {
    let device = Device::flex();
    let a: Vec<f32> = (0..N).map(|i| 0.5 + (i % 977) as f32 / 400.0).collect();
    let b: Vec<f32> = (0..N).map(|i| -1.5 + (i % 613) as f32 / 150.0).collect();
    let want = powf(&a, &b);

    // Both operands uniquely owned: the result goes into the left one.
    let got = values(tensor(&a, &device).powf(tensor(&b, &device)));
    assert_same("unique left operand", &got, &want);

    // The left operand shared: the result goes into the right one, operands swapped back.
    let left = tensor(&a, &device);
    let got = values(left.clone().powf(tensor(&b, &device)));
    assert_same("shared left operand", &got, &want);
    drop(left);

    // Both shared: a new buffer.
    let (left, right) = (tensor(&a, &device), tensor(&b, &device));
    let got = values(left.clone().powf(right.clone()));
    assert_same("both operands shared", &got, &want);
    assert_same("left operand untouched", &values(left), &a);
    assert_same("right operand untouched", &values(right), &b);

    // A contiguous view at an offset on the left, the right one shared.
    let mut padded = vec![7.0f32; 5];
    padded.extend_from_slice(&a);
    let view = tensor(&padded, &device).narrow(0, 5, N);
    let right = tensor(&b, &device);
    let got = values(view.powf(right.clone()));
    assert_same("left view at an offset", &got, &want);
}

#[test]
fn relu_gradient_on_a_large_tensor_is_the_masked_upstream_gradient() {
    let device = Device::flex().autodiff();
    let x =
        Tensor::<2>::random([N / 11, 11], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let w = Tensor::<2>::random([N / 11, 11], Distribution::Default, &device);
    let grads = (relu(x.clone()) * w.clone()).sum().backward();
    let got = values(x.grad(&grads).unwrap());
    let (xs, ws) = (values(x.inner()), values(w.inner()));
    let want: Vec<f32> = xs
        .iter()
        .zip(&ws)
        .map(|(&x, &w)| if x > 0.0 { w } else { 0.0 })
        .collect();
    assert!(want.iter().filter(|&&v| v == 0.0).count() > N / 4);
    assert_same("ReLU's input gradient", &got, &want);
}
