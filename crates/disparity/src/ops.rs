//! Tensor operations the stereo networks need that burn does not offer as such: linear
//! resizing along one axis (and so trilinear upsampling of cost volumes), the concatenation
//! cost volume, and soft-argmin disparity regression.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Source taps of 1-D linear resizing from `n` to `out` samples: for each output sample the two
/// input indices and the weight of the second. With `align_corners` the end samples of input and
/// output coincide (src = i·(n−1)/(out−1)); without it sample centres are mapped (src =
/// (i + ½)·n/out − ½, clamped at 0), PyTorch's default.
pub fn linear_taps(n: usize, out: usize, align_corners: bool) -> (Vec<i64>, Vec<i64>, Vec<f32>) {
    let mut i0 = Vec::with_capacity(out);
    let mut i1 = Vec::with_capacity(out);
    let mut w = Vec::with_capacity(out);
    for i in 0..out {
        let src = if align_corners {
            if out > 1 {
                i as f64 * (n as f64 - 1.0) / (out as f64 - 1.0)
            } else {
                0.0
            }
        } else {
            ((i as f64 + 0.5) * n as f64 / out as f64 - 0.5).max(0.0)
        };
        let lo = (src.floor() as usize).min(n - 1);
        let hi = (lo + 1).min(n - 1);
        i0.push(lo as i64);
        i1.push(hi as i64);
        w.push(if hi == lo {
            0.0
        } else {
            (src - lo as f64) as f32
        });
    }
    (i0, i1, w)
}

fn index(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::<1, Int>::from_data(TensorData::new(values, [n]), device)
}

/// The `[out, n]` matrix of 1-D linear resizing (row i holds output sample i's two weights,
/// from [`linear_taps`]), row-major.
pub fn interpolation_matrix(n: usize, out: usize, align_corners: bool) -> Vec<f32> {
    let (i0, i1, w) = linear_taps(n, out, align_corners);
    let mut m = vec![0.0f32; out * n];
    for i in 0..out {
        m[i * n + i0[i] as usize] += 1.0 - w[i];
        m[i * n + i1[i] as usize] += w[i];
    }
    m
}

/// Linear resizing of the middle axis of `[batch, n, rest]` to `out` samples: the product
/// M · x with [`interpolation_matrix`] M, for every batch entry.
fn resize_middle(x: Tensor<3>, out: usize, align_corners: bool) -> Tensor<3> {
    let n = x.dims()[1];
    if n == out {
        return x;
    }
    let m = interpolation_matrix(n, out, align_corners);
    let m = Tensor::<3>::from_data(TensorData::new(m, [1, out, n]), &x.device());
    m.matmul(x)
}

/// Linear resizing of the last axis of `[rows, n]` to `out` samples: the product x · Mᵀ.
fn resize_last(x: Tensor<2>, out: usize, align_corners: bool) -> Tensor<2> {
    let n = x.dims()[1];
    if n == out {
        return x;
    }
    let m = interpolation_matrix(n, out, align_corners);
    let mut mt = vec![0.0f32; n * out];
    for i in 0..out {
        for j in 0..n {
            mt[j * out + i] = m[i * n + j];
        }
    }
    let mt = Tensor::<2>::from_data(TensorData::new(mt, [n, out]), &x.device());
    x.matmul(mt)
}

/// Resizes axis `axis` of a 5-D tensor to `out` samples by linear interpolation, as one matrix
/// product with [`interpolation_matrix`] (its backward is one product too). Shifted copies and
/// index gathers did the same in many passes over the upsampled volume; the product's extra
/// multiplications by zero cost less.
pub fn resize_axis(x: Tensor<5>, axis: usize, out: usize, align_corners: bool) -> Tensor<5> {
    let dims = x.dims();
    let n = dims[axis];
    if n == out {
        return x;
    }
    let before: usize = dims[..axis].iter().product();
    let after: usize = dims[axis + 1..].iter().product();
    let mut shape = dims;
    shape[axis] = out;
    if after == 1 {
        resize_last(x.reshape([before, n]), out, align_corners).reshape(shape)
    } else {
        resize_middle(x.reshape([before, n, after]), out, align_corners).reshape(shape)
    }
}

/// `soft_expectation(trilinear(scores, size, align_corners).squeeze_dim(1), values)` for score
/// volumes `[B, 1, D', H', W']` (PSMNet's and SDN's regression heads): `[B, H, W]` for `size` =
/// `[D, H, W]` and one value per upsampled level. The same function, computed with the levels
/// as the last, contiguous axis: the low-resolution volume is permuted (cheap), each axis is
/// resized by one matrix product, the softmax runs along contiguous rows and the expectation is
/// one more product. The straightforward order (upsampling, then a softmax across the second
/// axis of the full-resolution volume) took a fifth of the tiny PSMNet's training step on the
/// CPU (38.6 of 196 ms), most of it the softmax; this takes 18.3 ms.
pub fn upsampled_expectation(
    scores: Tensor<5>,
    size: [usize; 3],
    values: &[f32],
    align_corners: bool,
) -> Tensor<3> {
    let [b, c, d0, h0, w0] = scores.dims();
    let [d, h, w] = size;
    assert!(
        c == 1 && values.len() == d,
        "one score channel and one value per level"
    );
    let device = scores.device();
    let x = scores.reshape([b, d0, h0, w0]).permute([0, 2, 3, 1]);
    let x = resize_middle(x.reshape([b, h0, w0 * d0]), h, align_corners);
    let x = resize_middle(x.reshape([b * h, w0, d0]), w, align_corners);
    let x = resize_last(x.reshape([b * h * w, d0]), d, align_corners);
    // Σ v·e / Σ e with e = exp(x − max): numerator and denominator in one product. The max
    // only keeps exp in range; the softmax does not depend on it, so no gradient flows through
    // it (detached, which spares its backward pass).
    let e = (x.clone() - x.detach().max_dim(1)).exp();
    let weights: Vec<f32> = values.iter().flat_map(|&v| [v, 1.0]).collect();
    let sums = e.matmul(Tensor::<2>::from_data(
        TensorData::new(weights, [d, 2]),
        &device,
    ));
    let expectation = sums.clone().narrow(1, 0, 1) / sums.narrow(1, 1, 1);
    expectation.reshape([b, h, w])
}

/// Bilinear resizing of `[B, C, H, W]` to `[B, C, size[0], size[1]]`, separable along height
/// and width. Unlike burn's `interpolate` it trains on every backend: burn's GPU (JIT)
/// backends have no bilinear backward pass.
pub fn bilinear(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    let x = resize_axis(x.unsqueeze_dim(2), 3, size[0], align_corners);
    resize_axis(x, 4, size[1], align_corners).squeeze_dim(2)
}

/// Trilinear upsampling of `[B, C, D, H, W]` to `[B, C, size[0], size[1], size[2]]`, separable
/// along depth, height and width.
pub fn trilinear(x: Tensor<5>, size: [usize; 3], align_corners: bool) -> Tensor<5> {
    let x = resize_axis(x, 2, size[0], align_corners);
    let x = resize_axis(x, 3, size[1], align_corners);
    resize_axis(x, 4, size[2], align_corners)
}

/// The concatenation cost volume `[B, 2C, levels, H, W]`: at level d, left features next to
/// right features shifted right by d columns, zeros where the shift leaves nothing (PSMNet).
pub fn concat_cost_volume(left: Tensor<4>, right: Tensor<4>, levels: usize) -> Tensor<5> {
    let [b, c, h, w] = left.dims();
    let device = left.device();
    let slices: Vec<Tensor<5>> = (0..levels)
        .map(|d| {
            let pair = if d == 0 {
                Tensor::cat(vec![left.clone(), right.clone()], 1)
            } else if d < w {
                let zeros = Tensor::<4>::zeros([b, 2 * c, h, d], &device);
                let l = left.clone().narrow(3, d, w - d);
                let r = right.clone().narrow(3, 0, w - d);
                Tensor::cat(vec![zeros, Tensor::cat(vec![l, r], 1)], 3)
            } else {
                Tensor::<4>::zeros([b, 2 * c, h, w], &device)
            };
            pair.unsqueeze_dim(2)
        })
        .collect();
    Tensor::cat(slices, 2)
}

/// [`concat_cost_volume`] at fractional shifts: at level k, left features next to right features
/// shifted right by `shifts[k]` columns (linear interpolation between the two nearest whole
/// shifts), zeros in the columns where the shift leaves nothing to interpolate. Whole shifts
/// give `concat_cost_volume`'s levels exactly.
pub fn fractional_concat_cost_volume(
    left: Tensor<4>,
    right: Tensor<4>,
    shifts: &[f32],
) -> Tensor<5> {
    let [b, c, h, w] = left.dims();
    let device = left.device();
    // The right features shifted right by `d` whole columns, zeros where nothing arrives.
    let shifted = |d: usize| -> Tensor<4> {
        if d == 0 {
            right.clone()
        } else if d < w {
            let zeros = Tensor::<4>::zeros([b, c, h, d], &device);
            Tensor::cat(vec![zeros, right.clone().narrow(3, 0, w - d)], 3)
        } else {
            Tensor::<4>::zeros([b, c, h, w], &device)
        }
    };
    let slices: Vec<Tensor<5>> = shifts
        .iter()
        .map(|&s| {
            let s = s.max(0.0);
            let whole = s.floor() as usize;
            let t = s - whole as f32;
            let (r, empty) = if t > 0.0 {
                (
                    shifted(whole) * (1.0 - t) + shifted(whole + 1) * t,
                    whole + 1,
                )
            } else {
                (shifted(whole), whole)
            };
            let pair = Tensor::cat(vec![left.clone(), r], 1);
            let pair = if empty == 0 {
                pair
            } else if empty < w {
                let zeros = Tensor::<4>::zeros([b, 2 * c, h, empty], &device);
                Tensor::cat(vec![zeros, pair.narrow(3, empty, w - empty)], 3)
            } else {
                Tensor::<4>::zeros([b, 2 * c, h, w], &device)
            };
            pair.unsqueeze_dim(2)
        })
        .collect();
    Tensor::cat(slices, 2)
}

/// Right-image features where each left pixel's match lies: output `[b, c, y, x]` is `right`
/// `[B, C, H, W]` linearly interpolated at column x − `shift[b, y, x]` (`shift` `[B, H, W]`, in
/// columns, taken as a constant: no gradient flows into it), zero where that column lies
/// outside [0, W − 1]. Gradients flow into `right`.
pub fn warp_width(right: Tensor<4>, shift: Tensor<3>) -> Tensor<4> {
    let [b, c, h, w] = right.dims();
    let device = right.device();
    let last = (w - 1) as f32;
    let columns = Tensor::<1, Int>::arange(0..w as i64, &device)
        .float()
        .reshape([1, 1, w]);
    let pos = columns - shift.detach();
    let inside = pos
        .clone()
        .greater_equal_elem(0.0)
        .bool_and(pos.clone().lower_equal_elem(last))
        .float()
        .unsqueeze_dim::<4>(1);
    let pos = pos.clamp(0.0, last);
    let lo = pos.clone().floor();
    let t = (pos - lo.clone()).unsqueeze_dim::<4>(1);
    let lo = lo.int();
    let hi = (lo.clone() + 1).clamp_max(w as i64 - 1);
    let spread = |i: Tensor<3, Int>| i.unsqueeze_dim::<4>(1).expand([b, c, h, w]);
    let g0 = right.clone().gather(3, spread(lo));
    let g1 = right.gather(3, spread(hi));
    (g0 * (t.ones_like() - t.clone()) + g1 * t) * inside
}

/// Resamples the disparity axis (axis 2) of a `[B, C, D, H, W]` volume at fractional positions,
/// one list per sample, by linear interpolation; positions outside [0, D − 1] give zeros.
/// Returns `[B, C, K, H, W]` for K positions per sample.
pub fn sample_axis2(x: Tensor<5>, positions: &[Vec<f32>]) -> Tensor<5> {
    let [b, _, d, _, _] = x.dims();
    let device = x.device();
    let parts: Vec<Tensor<5>> = (0..b)
        .map(|s| {
            let k = positions[s].len();
            let (mut i0, mut i1, mut w0, mut w1) = (
                Vec::with_capacity(k),
                Vec::with_capacity(k),
                Vec::with_capacity(k),
                Vec::with_capacity(k),
            );
            for &p in &positions[s] {
                let inside = p >= 0.0 && p <= (d - 1) as f32;
                let lo = if inside { p.floor() as usize } else { 0 };
                let hi = (lo + 1).min(d - 1);
                let t = if inside { p - lo as f32 } else { 0.0 };
                i0.push(lo as i64);
                i1.push(hi as i64);
                w0.push(if inside { 1.0 - t } else { 0.0 });
                w1.push(if inside && hi != lo { t } else { 0.0 });
            }
            let xs = x.clone().narrow(0, s, 1);
            let weight = |w: Vec<f32>| {
                Tensor::<1>::from_data(TensorData::new(w, [k]), &device).reshape([1, 1, k, 1, 1])
            };
            xs.clone().select(2, index(i0, &device)) * weight(w0)
                + xs.select(2, index(i1, &device)) * weight(w1)
        })
        .collect();
    Tensor::cat(parts, 0)
}

/// Expected value of `values` under the softmax of `scores` `[B, N, H, W]` over axis 1: `[B, H, W]`.
pub fn soft_expectation(scores: Tensor<4>, values: &[f32]) -> Tensor<3> {
    let n = values.len();
    let device = scores.device();
    let p = softmax(scores, 1);
    let v = Tensor::<1>::from_data(TensorData::new(values.to_vec(), [n]), &device)
        .reshape([1, n, 1, 1]);
    (p * v).sum_dim(1).squeeze_dim(1)
}

/// Soft-argmin regression over `[B, D, H, W]` scores: softmax over the disparity axis, then
/// the expected disparity Σ d·p_d, `[B, H, W]`.
pub fn soft_argmin(scores: Tensor<4>) -> Tensor<3> {
    let [_, d, _, _] = scores.dims();
    let device = scores.device();
    let p = softmax(scores, 1);
    let values = Tensor::<1, Int>::arange(0..d as i64, &device)
        .float()
        .reshape([1, d, 1, 1]);
    (p * values).sum_dim(1).squeeze_dim(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn fractional_shifts_match_whole_shifts_and_interpolate_between_them() {
        let device = Device::flex();
        let (c, h, w) = (2, 3, 7);
        // Left features 100 + column; right features = column (channel 1: 10 × column).
        let left: Vec<f32> = (0..c * h * w).map(|i| 100.0 + (i % w) as f32).collect();
        let right: Vec<f32> = (0..c * h * w)
            .map(|i| (i % w) as f32 * if i / (h * w) == 1 { 10.0 } else { 1.0 })
            .collect();
        let left = Tensor::<4>::from_data(TensorData::new(left, [1, c, h, w]), &device);
        let right = Tensor::<4>::from_data(TensorData::new(right, [1, c, h, w]), &device);
        let whole = values(concat_cost_volume(left.clone(), right.clone(), 4));
        let same = values(fractional_concat_cost_volume(
            left.clone(),
            right.clone(),
            &[0.0, 1.0, 2.0, 3.0],
        ));
        assert_eq!(whole, same);
        // At a shift of 1.5 the right features hold column x − 1.5, from column 2 on.
        let v = values(fractional_concat_cost_volume(left, right, &[1.5]));
        let at = |ch: usize, y: usize, x: usize| v[(ch * h + y) * w + x];
        for y in 0..h {
            for x in 0..w {
                if x < 2 {
                    for ch in 0..2 * c {
                        assert_eq!(at(ch, y, x), 0.0, "column {x} has no match");
                    }
                } else {
                    assert_eq!(at(0, y, x), 100.0 + x as f32);
                    assert!((at(2, y, x) - (x as f32 - 1.5)).abs() < 1e-5);
                    assert!((at(3, y, x) - 10.0 * (x as f32 - 1.5)).abs() < 1e-4);
                }
            }
        }
    }

    /// The values of `f` at `input` (shape `dims`, CPU autodiff) and the gradient there of
    /// Σ weights · f, whose weights make the gradient position-dependent.
    fn value_and_weighted_grad<const D: usize, const E: usize>(
        input: &[f32],
        dims: [usize; D],
        weights: &[f32],
        f: impl Fn(Tensor<D>) -> Tensor<E>,
    ) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let x =
            Tensor::<D>::from_data(TensorData::new(input.to_vec(), dims), &device).require_grad();
        let y = f(x.clone());
        let w = Tensor::<E>::from_data(TensorData::new(weights.to_vec(), y.dims()), &device);
        let grads = (y.clone() * w).sum().backward();
        (values(y), values(x.grad(&grads).unwrap()))
    }

    /// Asserts that two (values, gradient) pairs agree within `tolerance(reference value)`.
    fn assert_same_values_and_grads(
        got: &(Vec<f32>, Vec<f32>),
        want: &(Vec<f32>, Vec<f32>),
        tolerance: impl Fn(f32) -> f32,
        what: &str,
    ) {
        assert_eq!(
            (got.0.len(), got.1.len()),
            (want.0.len(), want.1.len()),
            "{what}"
        );
        for (a, b) in got.0.iter().zip(&want.0).chain(got.1.iter().zip(&want.1)) {
            assert!((a - b).abs() < tolerance(*b), "{what}: {a} vs {b}");
        }
    }

    /// Trilinear interpolation of one output sample computed directly from the definition.
    fn reference(
        input: &[f32],
        dims: [usize; 3],
        out: [usize; 3],
        at: [usize; 3],
        align: bool,
    ) -> f32 {
        let taps: Vec<(usize, usize, f32)> = (0..3)
            .map(|a| {
                let (i0, i1, w) = linear_taps(dims[a], out[a], align);
                (i0[at[a]] as usize, i1[at[a]] as usize, w[at[a]])
            })
            .collect();
        let mut v = 0.0;
        for (dz, wz) in [(taps[0].0, 1.0 - taps[0].2), (taps[0].1, taps[0].2)] {
            for (dy, wy) in [(taps[1].0, 1.0 - taps[1].2), (taps[1].1, taps[1].2)] {
                for (dx, wx) in [(taps[2].0, 1.0 - taps[2].2), (taps[2].1, taps[2].2)] {
                    v += wz * wy * wx * input[(dz * dims[1] + dy) * dims[2] + dx];
                }
            }
        }
        v
    }

    #[test]
    fn taps_by_hand() {
        // 2 → 4 without aligned corners: centres map to −0.25, 0.25, 0.75, 1.25 (clamped).
        let (i0, i1, w) = linear_taps(2, 4, false);
        assert_eq!((i0, i1), (vec![0, 0, 0, 1], vec![1, 1, 1, 1]));
        assert_eq!(w, vec![0.0, 0.25, 0.75, 0.0]);
        // 2 → 4 with aligned corners: 0, 1/3, 2/3, 1.
        let (_, _, w) = linear_taps(2, 4, true);
        assert!((w[1] - 1.0 / 3.0).abs() < 1e-6 && (w[2] - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn bilinear_matches_burns_interpolate_forward_and_backward() {
        use burn::tensor::module::interpolate;
        use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
        let input: Vec<f32> = (0..2 * 3 * 4 * 5)
            .map(|i| ((i * 37) % 11) as f32 - 3.0)
            .collect();
        // 7 x 9 takes the general path, 8 x 20 the whole-factor one.
        for (align, [oh, ow]) in [(false, [7, 9]), (true, [7, 9]), (false, [8, 20])] {
            let weights: Vec<f32> = (0..2 * 3 * oh * ow)
                .map(|i| ((i * 13) % 7) as f32)
                .collect();
            let ours = value_and_weighted_grad(&input, [2, 3, 4, 5], &weights, |x| {
                bilinear(x, [oh, ow], align)
            });
            let burns = value_and_weighted_grad(&input, [2, 3, 4, 5], &weights, |x| {
                let mut opts = InterpolateOptions::new(InterpolateMode::Bilinear);
                opts.align_corners = align;
                opts.output_size = Some([oh, ow]);
                interpolate(x, opts)
            });
            assert_same_values_and_grads(&ours, &burns, |_| 1e-4, &format!("align {align}"));
        }
    }

    #[test]
    fn trilinear_matches_the_definition() {
        let device = Device::flex();
        let dims = [3, 4, 5];
        let input: Vec<f32> = (0..60).map(|i| ((i * 37) % 11) as f32 - 3.0).collect();
        // Whole factors (12 = 4·3, 20 = 4·5) take the interleaving path, 7 the general one.
        for (align, out) in [
            (false, [6, 7, 10]),
            (true, [6, 7, 10]),
            (false, [12, 8, 20]),
        ] {
            let x =
                Tensor::<5>::from_data(TensorData::new(input.clone(), [1, 1, 3, 4, 5]), &device);
            let y = values(trilinear(x, out, align));
            for z in 0..out[0] {
                for v in 0..out[1] {
                    for u in 0..out[2] {
                        let got = y[(z * out[1] + v) * out[2] + u];
                        let want = reference(&input, dims, out, [z, v, u], align);
                        assert!(
                            (got - want).abs() < 1e-5,
                            "align {align} at ({z},{v},{u}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn cost_volume_shifts_the_right_features() {
        let device = Device::flex();
        let left = Tensor::<4>::from_data(
            TensorData::new((0..8).map(|i| i as f32).collect::<Vec<_>>(), [1, 1, 2, 4]),
            &device,
        );
        let right = Tensor::<4>::from_data(
            TensorData::new(
                (0..8).map(|i| 10.0 + i as f32).collect::<Vec<_>>(),
                [1, 1, 2, 4],
            ),
            &device,
        );
        let v = concat_cost_volume(left, right, 3);
        assert_eq!(v.dims(), [1, 2, 3, 2, 4]);
        let d = values(v);
        // Channel 1 (right features), level 2, row 0: zeros, zeros, then right columns 0, 1.
        let at = |ch: usize, lvl: usize, row: usize| {
            d[((ch * 3 + lvl) * 2 + row) * 4..((ch * 3 + lvl) * 2 + row) * 4 + 4].to_vec()
        };
        assert_eq!(at(1, 2, 0), vec![0.0, 0.0, 10.0, 11.0]);
        // Channel 0 (left features), level 2, row 1: zeros, then left columns 2, 3.
        assert_eq!(at(0, 2, 1), vec![0.0, 0.0, 6.0, 7.0]);
        assert_eq!(at(0, 0, 1), vec![4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn sampling_the_disparity_axis_interpolates_and_zeroes_outside() {
        let device = Device::flex();
        // One sample, one channel, disparities 0..4 with values 10, 20, 30, 40 at a single pixel.
        let x = Tensor::<5>::from_data(
            TensorData::new(vec![10.0f32, 20.0, 30.0, 40.0], [1, 1, 4, 1, 1]),
            &device,
        );
        let y = values(sample_axis2(x, &[vec![0.0, 1.25, 3.0, 3.5, -0.5]]));
        assert_eq!(y, vec![10.0, 22.5, 40.0, 0.0, 0.0]);
    }

    #[test]
    fn warping_samples_the_right_features_at_the_matching_column() {
        // Two channels, two rows, five columns; shifts whole, fractional, zero, and beyond
        // either edge. Expected: the definition, column by column.
        let (c, h, w) = (2, 2, 5);
        let right: Vec<f32> = (0..c * h * w).map(|i| (i * i % 7) as f32 + 0.5).collect();
        let shift = vec![0.0f32, 1.0, 1.5, 4.0, 6.0, 0.0, 0.75, 1.25, 2.9, -0.25];
        let weights: Vec<f32> = (0..c * h * w).map(|i| 1.0 + i as f32 * 0.1).collect();
        let device = Device::flex();
        let shift_t = Tensor::<3>::from_data(TensorData::new(shift.clone(), [1, h, w]), &device);
        let got = value_and_weighted_grad(&right, [1, c, h, w], &weights, |r| {
            warp_width(r, shift_t.clone())
        });
        let mut value = vec![0.0f32; c * h * w];
        let mut grad = vec![0.0f32; c * h * w];
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let p = x as f32 - shift[y * w + x];
                    if p < 0.0 || p > (w - 1) as f32 {
                        continue;
                    }
                    let lo = p.floor() as usize;
                    let hi = (lo + 1).min(w - 1);
                    let t = p - lo as f32;
                    let row = (ch * h + y) * w;
                    let out = row + x;
                    value[out] = (1.0 - t) * right[row + lo] + t * right[row + hi];
                    grad[row + lo] += (1.0 - t) * weights[out];
                    grad[row + hi] += t * weights[out];
                }
            }
        }
        // Beyond the edges (row 0: shifts 4 and 6 at columns 3 and 4; row 1: -0.25 at column 4)
        // the output is zero; inside it is not.
        assert_eq!((value[3], value[4], value[9]), (0.0, 0.0, 0.0));
        assert!(value[..3].iter().chain(&value[5..9]).all(|v| *v > 0.0));
        assert_same_values_and_grads(&got, &(value, grad), |_| 1e-5, "warp_width");
    }

    #[test]
    fn soft_argmin_is_the_expected_disparity() {
        let device = Device::flex();
        // Scores ln(1), ln(3) at disparities 0 and 1: probabilities 1/4, 3/4, expectation 0.75.
        let s = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2, 1, 1]),
            &device,
        );
        let d = values(soft_argmin(s));
        assert!((d[0] - 0.75).abs() < 1e-6);
    }

    #[test]
    fn the_upsampled_expectation_equals_upsampling_then_soft_expectation() {
        let input: Vec<f32> = (0..2 * 4 * 3 * 5)
            .map(|i| ((i * 37) % 11) as f32 * 0.4 - 2.0)
            .collect();
        // Whole factors (PSMNet's) and a general size, with and without aligned corners; the
        // values of a depth head (not evenly spaced) for the second.
        for (align, size) in [(false, [16, 12, 20]), (true, [9, 7, 11])] {
            let levels: Vec<f32> = (0..size[0]).map(|i| (i * i) as f32 * 0.3 + 1.0).collect();
            let weights: Vec<f32> = (0..2 * size[1] * size[2])
                .map(|i| ((i * 13) % 7) as f32 - 3.0)
                .collect();
            let dims = [2, 1, 4, 3, 5];
            let fused = value_and_weighted_grad(&input, dims, &weights, |x| {
                upsampled_expectation(x, size, &levels, align)
            });
            let plain = value_and_weighted_grad(&input, dims, &weights, |x| {
                soft_expectation(trilinear(x, size, align).squeeze_dim(1), &levels)
            });
            assert_eq!(fused.0.len(), 2 * size[1] * size[2]);
            assert_same_values_and_grads(
                &fused,
                &plain,
                |b| 1e-4 * b.abs().max(1.0),
                &format!("align {align}"),
            );
        }
    }
}
