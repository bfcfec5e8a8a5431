//! Batch normalisation on the CPU backend, at the shapes our networks train with (PSMNet's 3-D
//! cost volumes, PointPillars' 2-D maps and pillar features, and one large enough to be split
//! across threads), against direct f64 formulas: the training output, the batch mean and
//! variance, and the gradients of input, γ and β. The vendored burn-flex computes these per
//! channel in place of burn's `swap_dims` composition (patch 4, vendor/burn-flex/PATCHES.md: the
//! same formulas, statistics summed in f64). Inference with given statistics must give exactly
//! what the composite `(x − mean) / sqrt(var + ε) · γ + β` gives.

use burn::tensor::module::{batch_norm, batch_norm_train};
use burn::tensor::{Device, Distribution, Tensor};

const EPSILON: f64 = 1e-5;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// Largest |a − b| relative to the largest |b| (at least 1).
fn relative_difference(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
        / scale
}

fn assert_close(what: &str, shape: &[usize], got: &[f32], want: &[f64]) {
    let e = relative_difference(got, want);
    assert!(e < 2e-5, "{shape:?}: {what} differs by {e:e}");
}

/// The direct f64 batch normalisation of `x` (`[batch, channels, inner]` flattened) and, for
/// the loss `Σ out · w`, the gradients of x, γ and β.
struct Direct {
    output: Vec<f64>,
    mean: Vec<f64>,
    variance: Vec<f64>,
    x_grad: Vec<f64>,
    gamma_grad: Vec<f64>,
    beta_grad: Vec<f64>,
}

fn direct(shape: &[usize], x: &[f32], gamma: &[f32], beta: &[f32], w: &[f32]) -> Direct {
    let (batch, channels) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let n = (batch * inner) as f64;
    let index = |b: usize, c: usize, i: usize| (b * channels + c) * inner + i;
    let mut d = Direct {
        output: vec![0.0; x.len()],
        mean: vec![0.0; channels],
        variance: vec![0.0; channels],
        x_grad: vec![0.0; x.len()],
        gamma_grad: vec![0.0; channels],
        beta_grad: vec![0.0; channels],
    };
    for c in 0..channels {
        let each = || (0..batch).flat_map(move |b| (0..inner).map(move |i| index(b, c, i)));
        let mean = each().map(|k| x[k] as f64).sum::<f64>() / n;
        let variance = each().map(|k| (x[k] as f64 - mean).powi(2)).sum::<f64>() / n;
        let inv_std = 1.0 / (variance + EPSILON).sqrt();
        let normalised = |k: usize| (x[k] as f64 - mean) * inv_std;
        let beta_grad: f64 = each().map(|k| w[k] as f64).sum();
        let gamma_grad: f64 = each().map(|k| w[k] as f64 * normalised(k)).sum();
        for k in each() {
            d.output[k] = normalised(k) * gamma[c] as f64 + beta[c] as f64;
            // d/dx of γ·(x − μ)/σ with μ and σ the batch's own statistics.
            d.x_grad[k] = gamma[c] as f64
                * inv_std
                * (w[k] as f64 - beta_grad / n - normalised(k) * gamma_grad / n);
        }
        (d.mean[c], d.variance[c]) = (mean, variance);
        (d.gamma_grad[c], d.beta_grad[c]) = (gamma_grad, beta_grad);
    }
    d
}

/// Training-mode batch normalisation of a random `shape` input (mean 3, deviation 2) against
/// the direct formulas.
fn check_train<const D: usize>(shape: [usize; D]) {
    let device = Device::flex().autodiff();
    let channels = shape[1];
    let x = Tensor::<D>::random(shape, Distribution::Normal(3.0, 2.0), &device).require_grad();
    let gamma =
        Tensor::<1>::random([channels], Distribution::Normal(1.0, 0.5), &device).require_grad();
    let beta =
        Tensor::<1>::random([channels], Distribution::Normal(0.0, 0.5), &device).require_grad();
    let w = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let result = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), EPSILON);
    let grads = (result.output.clone() * w.clone()).sum().backward();
    let want = direct(
        &shape,
        &values(x.clone().inner()),
        &values(gamma.clone().inner()),
        &values(beta.clone().inner()),
        &values(w),
    );
    assert_close(
        "output",
        &shape,
        &values(result.output.inner()),
        &want.output,
    );
    assert_close("mean", &shape, &values(result.mean.inner()), &want.mean);
    assert_close(
        "variance",
        &shape,
        &values(result.variance.inner()),
        &want.variance,
    );
    let grad = |t: Tensor<1>| values(t.grad(&grads).unwrap());
    assert_close(
        "x gradient",
        &shape,
        &values(x.grad(&grads).unwrap()),
        &want.x_grad,
    );
    assert_close("gamma gradient", &shape, &grad(gamma), &want.gamma_grad);
    assert_close("beta gradient", &shape, &grad(beta), &want.beta_grad);
}

#[test]
fn training_batch_norm_matches_the_direct_formulas() {
    check_train([2, 8, 8, 16, 32]); // PSMNet tiny: a cost volume at 1/4 of a 64 × 128 crop
    check_train([4, 16, 33, 31]); // a 2-D map whose planes are not a multiple of 8 values
    check_train([37, 6]); // pillar features: one value per (item, channel)
    check_train([3, 4, 64, 64, 20]); // large enough to run on several threads
}

#[test]
fn inference_batch_norm_is_the_composite_formula_exactly() {
    let device = Device::flex();
    for shape in [[2, 8, 3, 5], [4, 16, 64, 64], [1, 3, 1, 1]] {
        let c = shape[1];
        let x = Tensor::<4>::random(shape, Distribution::Normal(3.0, 2.0), &device);
        let channel = |mean, sd| Tensor::<1>::random([c], Distribution::Normal(mean, sd), &device);
        let (gamma, beta, mean) = (channel(1.0, 0.5), channel(0.0, 0.5), channel(3.0, 1.0));
        let variance = channel(0.0, 2.0).abs();
        let fused = batch_norm(
            x.clone(),
            gamma.clone(),
            beta.clone(),
            mean.clone(),
            variance.clone(),
            EPSILON,
        );
        let per_channel = |t: Tensor<1>| t.reshape([1, c, 1, 1]);
        let composite = (x - per_channel(mean)) / per_channel(variance).add_scalar(EPSILON).sqrt()
            * per_channel(gamma)
            + per_channel(beta);
        assert_eq!(values(fused), values(composite), "{shape:?}");
    }
}
