//! burn's convolutions on the CPU backend, at the shapes our networks train with (batch 2 or 4,
//! few channels, stride 1 and 2, 2-D and 3-D, transposed), against a direct sum in f64: the
//! output, the input gradient and the weight gradient. The vendored burn-flex (vendor/burn-flex,
//! see its PATCHES.md) changes four things these cover: the dispatch of a 2-D weight gradient
//! (patch 1), the copies of the 3-D im2col and col2im (patch 2: pure copies, same sums), the
//! weight gradients of convolutions and transposed convolutions, now summed as column matrices
//! times the output gradient (patch 3: same products, another order), and Winograd convolutions
//! for 3 × 3 (× 3) stride-1 layers with at least 8 channels, forward and both gradients (patch 8:
//! fewer products, after additions). The values must stay the same to float precision.

use burn::tensor::module::{conv3d, conv_transpose3d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};

/// A grouped, strided, padded, dilated 3-D convolution (2-D: depth 1, kernel depth 1):
/// `out[n, o, q] = Σ_{c, k} w[o, c, k] · x[n, g(o)·C_g + c, q·stride + k·dilation − pad]`.
#[derive(Clone, Copy)]
struct Geometry {
    n: usize,
    /// Input channels (all groups).
    c: usize,
    /// Output channels (all groups).
    o: usize,
    groups: usize,
    size: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    pad: [usize; 3],
    dilation: [usize; 3],
}

impl Geometry {
    fn out(&self) -> [usize; 3] {
        std::array::from_fn(|a| {
            (self.size[a] + 2 * self.pad[a] - self.dilation[a] * (self.kernel[a] - 1) - 1)
                / self.stride[a]
                + 1
        })
    }

    /// The convolution's input `[n, c, size]`.
    fn input_shape(&self) -> [usize; 5] {
        let [d, h, w] = self.size;
        [self.n, self.c, d, h, w]
    }

    /// The convolution's output `[n, o, out]`.
    fn output_shape(&self) -> [usize; 5] {
        let [d, h, w] = self.out();
        [self.n, self.o, d, h, w]
    }

    fn weight_shape(&self) -> [usize; 5] {
        let [kd, kh, kw] = self.kernel;
        [self.o, self.c / self.groups, kd, kh, kw]
    }

    /// Calls `f(x index, w index, out index)` for every product of the convolution.
    fn each_product(&self, mut f: impl FnMut(usize, usize, usize)) {
        let out = self.out();
        let (cg, og) = (self.c / self.groups, self.o / self.groups);
        let volume = |s: [usize; 3]| s[0] * s[1] * s[2];
        let index = |s: [usize; 3], p: [usize; 3]| (p[0] * s[1] + p[1]) * s[2] + p[2];
        for n in 0..self.n {
            for o in 0..self.o {
                for q in grid(out) {
                    let out_i = (n * self.o + o) * volume(out) + index(out, q);
                    for c in 0..cg {
                        for k in grid(self.kernel) {
                            let p: [usize; 3] = std::array::from_fn(|a| {
                                (q[a] * self.stride[a] + k[a] * self.dilation[a])
                                    .wrapping_sub(self.pad[a])
                            });
                            if (0..3).all(|a| p[a] < self.size[a]) {
                                let channel = (o / og) * cg + c;
                                let x_i = (n * self.c + channel) * volume(self.size)
                                    + index(self.size, p);
                                let w_i =
                                    (o * cg + c) * volume(self.kernel) + index(self.kernel, k);
                                f(x_i, w_i, out_i);
                            }
                        }
                    }
                }
            }
        }
    }

    fn options(&self) -> ConvOptions<3> {
        ConvOptions::new(self.stride, self.pad, self.dilation, self.groups)
    }
}

/// Every index of a 3-D grid, in row-major order.
fn grid(size: [usize; 3]) -> impl Iterator<Item = [usize; 3]> {
    (0..size[0])
        .flat_map(move |d| (0..size[1]).flat_map(move |h| (0..size[2]).map(move |w| [d, h, w])))
}

/// Adds `a[i] · b[j]` into `into[k]` for each product `(i, j, k)` (indices permuted by `pick`).
fn direct_sum(geometry: &Geometry, len: usize, pick: Pick, a: &[f32], b: &[f32]) -> Vec<f64> {
    let mut into = vec![0.0f64; len];
    geometry.each_product(|x, w, out| {
        let (i, j, k) = pick(x, w, out);
        into[k] += a[i] as f64 * b[j] as f64;
    });
    into
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

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

fn assert_close(what: &str, geometry_name: &str, got: &[f32], want: &[f64]) {
    let e = relative_difference(got, want);
    assert!(e < 1e-5, "{geometry_name}: {what} differs by {e:e}");
}

/// Which operands of a product `(x index, w index, out index)` of the convolution a sum reads
/// (`a`, `b`) and where it adds (`into`), as `(a, b, into)`.
type Pick = fn(usize, usize, usize) -> (usize, usize, usize);

/// A layer's output `out` (of input `x` and weight `w`) and, for the loss `Σ out · g`, its input
/// and weight gradients against the direct sums picked by `[output, input gradient, weight
/// gradient]`.
fn verify(name: &str, geometry: &Geometry, [x, w, out, g]: [Tensor<5>; 4], picks: [Pick; 3]) {
    let grads = (out.clone() * g.clone()).sum().backward();
    let (xv, wv, gv) = (
        values(x.clone().inner()),
        values(w.clone().inner()),
        values(g),
    );
    let (out_len, x_len, w_len) = (gv.len(), xv.len(), wv.len());
    let forward = direct_sum(geometry, out_len, picks[0], &xv, &wv);
    let input_grad = direct_sum(geometry, x_len, picks[1], &gv, &wv);
    let weight_grad = direct_sum(geometry, w_len, picks[2], &gv, &xv);
    assert_close("output", name, &values(out.inner()), &forward);
    assert_close(
        "input gradient",
        name,
        &values(x.grad(&grads).unwrap()),
        &input_grad,
    );
    assert_close(
        "weight gradient",
        name,
        &values(w.grad(&grads).unwrap()),
        &weight_grad,
    );
}

/// Random layer input `[x_shape]` (tracked), weight (tracked) and output gradient `[g_shape]`.
fn operands(
    geometry: &Geometry,
    x_shape: [usize; 5],
    g_shape: [usize; 5],
) -> (Tensor<5>, Tensor<5>, Tensor<5>) {
    let device = Device::flex().autodiff();
    let x = random(x_shape, &device).require_grad();
    let w = random(geometry.weight_shape(), &device).require_grad();
    (x, w, random(g_shape, &device))
}

/// The convolution's output, input gradient and weight gradient against the direct sums.
fn check_conv(name: &str, geometry: Geometry) {
    let (x, w, g) = operands(&geometry, geometry.input_shape(), geometry.output_shape());
    let out = conv3d(x.clone(), w.clone(), None, geometry.options());
    let picks: [Pick; 3] = [
        |x, w, o| (x, w, o),
        |x, w, o| (o, w, x),
        |x, w, o| (o, x, w),
    ];
    verify(name, &geometry, [x, w, out, g], picks);
}

/// A transposed convolution is the input gradient of the convolution `geometry` with the
/// transposed layer's weight: its input has that convolution's output shape, its output that
/// convolution's input shape (`padding_out` rows past the last one it reaches).
fn check_conv_transpose(name: &str, geometry: Geometry, padding_out: [usize; 3]) {
    // The transposed layer maps o channels to c; its weight is the convolution's.
    let (x, w, g) = operands(&geometry, geometry.output_shape(), geometry.input_shape());
    let options = ConvTransposeOptions::new(
        geometry.stride,
        geometry.pad,
        padding_out,
        geometry.dilation,
        geometry.groups,
    );
    let out = conv_transpose3d(x.clone(), w.clone(), None, options);
    assert_eq!(out.dims(), geometry.input_shape(), "{name}");
    // In the convolution's terms the transposed layer's input sits at its output index and the
    // transposed output at its input index.
    let picks: [Pick; 3] = [
        |x, w, o| (o, w, x),
        |x, w, o| (x, w, o),
        |x, w, o| (x, o, w),
    ];
    verify(name, &geometry, [x, w, out, g], picks);
}

/// A 3 × 3 (× 3) layer with padding 1, no groups or dilation.
fn layer(n: usize, c: usize, o: usize, size: [usize; 3], stride: usize) -> Geometry {
    let k = if size[0] == 1 { [1, 3, 3] } else { [3, 3, 3] };
    let pad = if size[0] == 1 { [0, 1, 1] } else { [1, 1, 1] };
    Geometry {
        n,
        c,
        o,
        groups: 1,
        size,
        kernel: k,
        stride: if size[0] == 1 {
            [1, stride, stride]
        } else {
            [stride; 3]
        },
        pad,
        dilation: [1; 3],
    }
}

#[test]
fn two_d_convolutions_match_the_direct_sums_at_small_batch() {
    // PSMNet's feature extractor at batch 2: 8 channels, stride 1 and 2 (the kernel of burn's
    // weight-gradient convolution would be the 24 x 64 output gradient).
    check_conv("feature 8->8", layer(2, 8, 8, [1, 24, 64], 1));
    check_conv("feature 8->16 /2", layer(2, 8, 16, [1, 24, 64], 2));
    // PointPillars' first block at batch 4, and a first layer with 3 input channels.
    check_conv("pillars 16->16 /2", layer(4, 16, 16, [1, 32, 32], 2));
    check_conv("rgb 3->8", layer(4, 3, 8, [1, 20, 36], 1));
    // A dilated layer (PSMNet's later residual blocks).
    let dilated = Geometry {
        pad: [0, 2, 2],
        dilation: [1, 2, 2],
        ..layer(2, 8, 8, [1, 16, 30], 1)
    };
    check_conv("dilated", dilated);
}

#[test]
fn three_d_convolutions_match_the_direct_sums() {
    // PSMNet's cost-volume layers: stride 1 and 2, one output channel (the classifier), and an
    // uneven volume.
    check_conv("volume 8->8", layer(2, 8, 8, [6, 12, 20], 1));
    check_conv("volume 8->16 /2", layer(2, 8, 16, [8, 16, 32], 2));
    check_conv("classifier 8->1", layer(1, 8, 1, [5, 7, 11], 1));
    // Groups, a dilation, an uneven kernel and strides per axis.
    let odd = Geometry {
        n: 2,
        c: 4,
        o: 6,
        groups: 2,
        size: [5, 9, 13],
        kernel: [2, 3, 4],
        stride: [1, 2, 3],
        pad: [1, 0, 2],
        dilation: [2, 1, 1],
    };
    check_conv("grouped, uneven", odd);
}

#[test]
fn transposed_convolutions_match_the_direct_sums() {
    // PSMNet's hourglass up-sampling: 16 -> 8 channels, stride 2, padding_out 1.
    check_conv_transpose("hourglass up", layer(2, 8, 16, [8, 16, 32], 2), [1, 1, 1]);
    check_conv_transpose("stride 1", layer(2, 4, 8, [4, 6, 10], 1), [0, 0, 0]);
    check_conv_transpose("2-D /2", layer(2, 8, 8, [1, 12, 20], 2), [0, 1, 1]);
    let grouped = Geometry {
        groups: 2,
        dilation: [1, 2, 1],
        pad: [1, 2, 1],
        ..layer(2, 4, 6, [4, 9, 7], 1)
    };
    check_conv_transpose("grouped, dilated", grouped, [0, 0, 0]);
}

#[test]
fn winograd_convolutions_match_the_direct_sums() {
    // 3 × 3 (× 3), stride-1 layers with at least 8 channels on both sides take burn-flex's
    // Winograd path (patch 8), F(2 × 2, 3 × 3) and F(2 × 2 × 2, 3 × 3 × 3): the forward pass,
    // and the input gradient and transposed convolutions as the convolution they equal.
    // Padding 0, 1 and 2, odd and even sizes (tiles cut at the edges), more than one task's
    // tiles (runs of tiles across rows and planes), a depth axis under a kernel of depth 1, and
    // channel counts that are not multiples of 8.
    let cases = [
        (1, 0, [1, 7, 9], 8, 16),
        (1, 1, [1, 24, 64], 16, 8),
        (1, 2, [1, 5, 6], 8, 8),
        (1, 1, [1, 33, 41], 12, 20),
        (1, 1, [3, 10, 11], 8, 8),
        (3, 1, [5, 7, 9], 8, 12),
        (3, 0, [6, 6, 7], 8, 8),
        (3, 2, [3, 4, 5], 10, 8),
        (3, 1, [8, 16, 32], 8, 8),
    ];
    for (kd, pad, size, c, o) in cases {
        let geometry = Geometry {
            kernel: [kd, 3, 3],
            stride: [1; 3],
            pad: [if kd == 3 { pad } else { 0 }, pad, pad],
            ..layer(2, c, o, size, 1)
        };
        let name = format!("winograd {c}->{o} {size:?} kernel depth {kd} pad {pad}");
        check_conv(&name, geometry);
        check_conv_transpose(&format!("{name}, transposed"), geometry, [0, 0, 0]);
    }
}
