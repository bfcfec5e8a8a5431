//! The gradients of burn's 2-D convolution on the CPU backend, at the shapes our networks train
//! with (batch 2 or 4, few channels, stride 1 and 2), against a direct sum in f64. burn computes
//! a weight gradient as a convolution of the input with the output gradient as its kernel; the
//! vendored burn-flex (vendor/burn-flex, see its PATCHES.md) sends that one to im2col + GEMM
//! instead of the small-channel direct path, which changes the summation order: this says the
//! values stay the same to float precision.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::{Device, Distribution, Tensor};

/// out[n, o, y, x] = Σ_{c, i, j} w[o, c, i, j] · x[n, c, y·s + i − p, x·s + j − p], with a
/// 3 × 3 kernel and padding 1.
struct Shape {
    n: usize,
    c: usize,
    o: usize,
    h: usize,
    w: usize,
    s: usize,
}

const K: usize = 3;
const P: usize = 1;

impl Shape {
    fn out(&self) -> (usize, usize) {
        (
            (self.h + 2 * P - K) / self.s + 1,
            (self.w + 2 * P - K) / self.s + 1,
        )
    }

    /// Calls `f(x index, w index, out index)` for every product of the convolution.
    fn each_product(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (oh, ow) = self.out();
        for (n, o, y, xx) in indices4(self.n, self.o, oh, ow) {
            let out = ((n * self.o + o) * oh + y) * ow + xx;
            for (c, i, j) in
                (0..self.c).flat_map(|c| (0..K).flat_map(move |i| (0..K).map(move |j| (c, i, j))))
            {
                let (iy, ix) = (
                    (y * self.s + i).wrapping_sub(P),
                    (xx * self.s + j).wrapping_sub(P),
                );
                if iy < self.h && ix < self.w {
                    let x = ((n * self.c + c) * self.h + iy) * self.w + ix;
                    f(x, ((o * self.c + c) * K + i) * K + j, out);
                }
            }
        }
    }

    /// d loss / d w for loss = Σ out · g, in f64.
    fn weight_grad(&self, x: &[f32], g: &[f32]) -> Vec<f64> {
        let mut dw = vec![0.0f64; self.o * self.c * K * K];
        self.each_product(|xi, wi, oi| dw[wi] += g[oi] as f64 * x[xi] as f64);
        dw
    }

    /// d loss / d x, in f64.
    fn input_grad(&self, w: &[f32], g: &[f32]) -> Vec<f64> {
        let mut dx = vec![0.0f64; self.n * self.c * self.h * self.w];
        self.each_product(|xi, wi, oi| dx[xi] += g[oi] as f64 * w[wi] as f64);
        dx
    }
}

/// Every (a, b, c, d) below the bounds, in row-major order.
fn indices4(
    a: usize,
    b: usize,
    c: usize,
    d: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..a).flat_map(move |i| {
        (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l))))
    })
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// Largest |a − b| relative to the largest |b|.
fn relative_difference(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
        / scale
}

fn check(shape: Shape) {
    let device = Device::flex().autodiff();
    let conv: Conv2d = Conv2dConfig::new([shape.c, shape.o], [K, K])
        .with_stride([shape.s, shape.s])
        .with_padding(PaddingConfig2d::Explicit(P, P, P, P))
        .with_bias(false)
        .init(&device);
    let weight = Tensor::<4>::random(
        [shape.o, shape.c, K, K],
        Distribution::Normal(0.0, 0.5),
        &device,
    );
    let conv = Conv2d {
        weight: Param::from_tensor(weight.clone().detach().require_grad()),
        ..conv
    };
    let x = Tensor::<4>::random(
        [shape.n, shape.c, shape.h, shape.w],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    let (oh, ow) = shape.out();
    let g = Tensor::<4>::random(
        [shape.n, shape.o, oh, ow],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let out = conv.forward(x.clone());
    let grads = (out * g.clone()).sum().backward();
    let dw = values(conv.weight.val().grad(&grads).unwrap());
    let dx = values(x.grad(&grads).unwrap());
    let (xv, gv, wv) = (values(x.inner()), values(g), values(weight));
    let (ew, ex) = (
        relative_difference(&dw, &shape.weight_grad(&xv, &gv)),
        relative_difference(&dx, &shape.input_grad(&wv, &gv)),
    );
    assert!(ew < 1e-5 && ex < 1e-5, "weight {ew:e}, input {ex:e}");
}

fn shape(n: usize, c: usize, o: usize, (h, w): (usize, usize), s: usize) -> Shape {
    Shape { n, c, o, h, w, s }
}

#[test]
fn conv_gradients_match_the_direct_sum_at_small_batch() {
    // PSMNet's feature extractor at batch 2: 8 channels, stride 1 and 2 (the kernel of the
    // weight-gradient convolution is the 24 x 64 output gradient).
    check(shape(2, 8, 8, (24, 64), 1));
    check(shape(2, 8, 16, (24, 64), 2));
    // PointPillars' first block at batch 4, and a first layer with 3 input channels.
    check(shape(4, 16, 16, (32, 32), 2));
    check(shape(4, 3, 8, (20, 36), 1));
}
