//! Weight gradients of convolutions and transposed convolutions, as column matrices and GEMM
//! (patch 3 of this vendored copy, see `PATCHES.md`).
//!
//! burn's default computes a convolution's weight gradient as another convolution: input and
//! output gradient with batch and channel axes swapped, the output gradient as the kernel, and
//! the forward stride as its dilation. With few channels that convolution's im2col copies one or
//! two floats per kernel tap (the batch size is its channel count) and, for strided layers, never
//! a contiguous run. Here the same sums are taken as in PyTorch's reference CPU path: for each
//! batch item, the input values under every (channel, tap) row are gathered for a tile of output
//! positions (a contiguous copy along w at unit stride), and the output gradient of that tile
//! times the transposed rows is added to the gradient:
//!
//! `dW[o, c, k] = Σ_b Σ_p grad[b, o, p] · input[b, g(o)·C_g + c, p·stride + k·dilation − pad]`
//!
//! A transposed convolution's weight gradient is the same sum with the roles of its input and
//! output gradient exchanged.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_std::{Bytes, Shape};

use super::conv_common::{convert_bf16_to_f32, convert_f32_to_bf16, inside_range};
use crate::{FlexTensor, Layout};

/// Output positions per column tile: the column buffer (rows × this many values) stays in L2.
const POSITIONS_PER_TILE: usize = 1024;
/// (channel, tap) rows per task (a multiple of 9 taps and of the 6-column GEMM kernel): fixed,
/// so results do not depend on the thread count; small, so two cores share even 3 × 3 layers.
const ROWS_PER_TASK: usize = 18;

/// Sizes of a weight-gradient sum in three dimensions (1-D and 2-D add unit axes in front).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WeightGradGeometry {
    pub batch: usize,
    /// Channels of the tensor read under the kernel (`input`).
    pub channels: usize,
    pub in_size: [usize; 3],
    /// Channels of the gradient (the rows of the weight gradient).
    pub out_channels: usize,
    pub out_size: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub dilation: [usize; 3],
    pub groups: usize,
}

/// The weight gradient `[out_channels, channels / groups, kd, kh, kw]` (row-major) of the sum in
/// the module doc. `input` is `[batch, channels, in_size]`, `grad` is `[batch, out_channels,
/// out_size]`, both contiguous.
pub(crate) fn weight_grad<T>(
    input: &[T],
    grad: &[T],
    geo: &WeightGradGeometry,
    zero: T,
    one: T,
) -> Vec<T>
where
    T: bytemuck::Pod + Copy + Send + Sync + 'static,
{
    let positions: usize = geo.out_size.iter().product();
    let in_spatial: usize = geo.in_size.iter().product();
    let taps: usize = geo.kernel.iter().product();
    let groups = geo.groups.max(1);
    let channels_per_group = geo.channels / groups;
    let outs_per_group = geo.out_channels / groups;
    let rows = channels_per_group * taps;
    let mut dw = vec![zero; geo.out_channels * rows];
    if dw.is_empty() || positions == 0 || geo.batch == 0 {
        return dw;
    }
    debug_assert_eq!(input.len(), geo.batch * geo.channels * in_spatial);
    debug_assert_eq!(grad.len(), geo.batch * geo.out_channels * positions);

    let tasks_per_group = rows.div_ceil(ROWS_PER_TASK);
    // Task t: group t / tasks_per_group, rows from `row_start`; its block `[outs_per_group, n]`
    // of the gradient, written into `dw` once every task is done.
    let rows_of = |t: usize| {
        let row_start = (t % tasks_per_group) * ROWS_PER_TASK;
        (row_start, (row_start + ROWS_PER_TASK).min(rows) - row_start)
    };
    let task = |t: usize| -> Vec<T> {
        let g = t / tasks_per_group;
        let (row_start, n) = rows_of(t);
        let mut block = vec![zero; outs_per_group * n];
        let tile = POSITIONS_PER_TILE.min(positions);
        let mut columns = vec![zero; n * tile];
        let mut first = true;
        for b in 0..geo.batch {
            let input_b = &input[(b * geo.channels + g * channels_per_group) * in_spatial..]
                [..channels_per_group * in_spatial];
            let grad_b = &grad[(b * geo.out_channels + g * outs_per_group) * positions..]
                [..outs_per_group * positions];
            for p0 in (0..positions).step_by(tile) {
                let p1 = (p0 + tile).min(positions);
                let len = p1 - p0;
                for (r, column) in columns.chunks_exact_mut(len).take(n).enumerate() {
                    let row = row_start + r;
                    let (c, k) = (row / taps, row % taps);
                    fill_row(column, &input_b[c * in_spatial..][..in_spatial], k, p0, geo, zero);
                }
                // block[o, r] (+)= Σ_p grad[o, p] · columns[r, p]
                // SAFETY: `block` is [outs_per_group, n], `grad_b` holds [outs_per_group,
                // positions] from p0 on, `columns` [n, len]: every access is in bounds.
                unsafe {
                    gemm::gemm(
                        outs_per_group,
                        n,
                        len,
                        block.as_mut_ptr(),
                        1,
                        n as isize,
                        !first,
                        grad_b[p0..].as_ptr(),
                        1,
                        positions as isize,
                        columns.as_ptr(),
                        len as isize,
                        1,
                        one,
                        one,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                first = false;
            }
        }
        block
    };

    let tasks = groups * tasks_per_group;
    #[cfg(feature = "rayon")]
    let blocks: Vec<Vec<T>> = {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().map(task).collect()
    };
    #[cfg(not(feature = "rayon"))]
    let blocks: Vec<Vec<T>> = (0..tasks).map(task).collect();
    for (t, block) in blocks.iter().enumerate() {
        let (row_start, n) = rows_of(t);
        let group = &mut dw[(t / tasks_per_group) * outs_per_group * rows..];
        for (dst, src) in group.chunks_mut(rows).zip(block.chunks_exact(n)) {
            dst[row_start..row_start + n].copy_from_slice(src);
        }
    }
    dw
}

/// Fills `column` with the values of one input channel (`plane`, `[in_size]`) under kernel tap
/// `k` for the output positions `p0..p0 + column.len()`, zero where the tap falls in the padding.
fn fill_row<T: Copy>(
    column: &mut [T],
    plane: &[T],
    k: usize,
    p0: usize,
    geo: &WeightGradGeometry,
    zero: T,
) {
    let [_, kh, kw] = geo.kernel;
    let (tap_d, tap_h, tap_w) = (k / (kh * kw), (k / kw) % kh, k % kw);
    let [_, out_h, out_w] = geo.out_size;
    let [in_d, in_h, in_w] = geo.in_size;
    let offset = |tap: usize, axis: usize| tap * geo.dilation[axis];
    // Output positions along w whose tap lands inside the input.
    let (w_lo, w_hi) = inside_range(offset(tap_w, 2), geo.padding[2], geo.stride[2], in_w, out_w);
    let stride_w = geo.stride[2];

    let mut p = p0;
    let mut filled = 0;
    while filled < column.len() {
        let (od, oh, ow0) = (p / (out_h * out_w), (p / out_w) % out_h, p % out_w);
        let ow1 = out_w.min(ow0 + column.len() - filled);
        let segment = &mut column[filled..filled + (ow1 - ow0)];
        let id = (od * geo.stride[0] + offset(tap_d, 0)).wrapping_sub(geo.padding[0]);
        let ih = (oh * geo.stride[1] + offset(tap_h, 1)).wrapping_sub(geo.padding[1]);
        let (lo, hi) = (w_lo.clamp(ow0, ow1), w_hi.clamp(ow0, ow1));
        if id >= in_d || ih >= in_h || lo >= hi {
            segment.fill(zero);
        } else {
            let line = &plane[(id * in_h + ih) * in_w..][..in_w];
            segment[..lo - ow0].fill(zero);
            segment[hi - ow0..].fill(zero);
            // First input column read: lo · stride + offset − pad (inside by construction).
            let iw = lo * stride_w + offset(tap_w, 2) - geo.padding[2];
            let inside = &mut segment[lo - ow0..hi - ow0];
            if stride_w == 1 {
                inside.copy_from_slice(&line[iw..iw + inside.len()]);
            } else {
                for (value, &x) in inside.iter_mut().zip(line[iw..].iter().step_by(stride_w)) {
                    *value = x;
                }
            }
        }
        filled += ow1 - ow0;
        p += ow1 - ow0;
    }
}

/// The weight gradient as a tensor of `weight_shape` (`[out_channels, channels / groups,
/// kernel…]` with 1 to 3 kernel axes), from `input` and `grad` of any float dtype; f32, f64 and
/// f16 are summed in their own type, bf16 in f32.
pub(crate) fn weight_grad_tensor(
    input: FlexTensor,
    grad: FlexTensor,
    weight_shape: Shape,
    geo: WeightGradGeometry,
) -> FlexTensor {
    let dtype = input.dtype();
    let (input, grad) = (input.to_contiguous(), grad.to_contiguous());
    let layout = Layout::contiguous(weight_shape);
    match dtype {
        DType::F32 if super::conv_winograd::weight_grad_applies(&geo) => {
            let dw =
                super::conv_winograd::weight_grad_winograd_f32(input.storage(), grad.storage(), &geo);
            FlexTensor::new(Bytes::from_elems(dw), layout, dtype)
        }
        DType::F32 => {
            let dw = weight_grad::<f32>(input.storage(), grad.storage(), &geo, 0.0, 1.0);
            FlexTensor::new(Bytes::from_elems(dw), layout, dtype)
        }
        DType::F64 => {
            let dw = weight_grad::<f64>(input.storage(), grad.storage(), &geo, 0.0, 1.0);
            FlexTensor::new(Bytes::from_elems(dw), layout, dtype)
        }
        DType::F16 => {
            use burn_std::f16;
            let dw = weight_grad::<f16>(
                input.storage(),
                grad.storage(),
                &geo,
                f16::from_f32(0.0),
                f16::from_f32(1.0),
            );
            FlexTensor::new(Bytes::from_elems(dw), layout, dtype)
        }
        DType::BF16 => {
            let (input, grad) = (convert_bf16_to_f32(&input), convert_bf16_to_f32(&grad));
            let dw = weight_grad::<f32>(input.storage(), grad.storage(), &geo, 0.0, 1.0);
            convert_f32_to_bf16(&FlexTensor::new(Bytes::from_elems(dw), layout, DType::F32))
        }
        dtype => panic!("conv weight backward: unsupported dtype {dtype:?}"),
    }
}

/// Pads an N-d size, stride, … to three axes with `fill` in front.
pub(crate) fn to_3d<const N: usize>(values: [usize; N], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - N..].copy_from_slice(&values);
    out
}

/// The geometry of a weight gradient read from its tensors: `input` (read under the kernel),
/// `grad` (its rows) and the weight's kernel axes, with the layer's stride, padding at the start,
/// dilation and groups.
pub(crate) fn geometry<const N: usize>(
    input: &FlexTensor,
    grad: &FlexTensor,
    weight_shape: &Shape,
    stride: [usize; N],
    padding: [usize; N],
    dilation: [usize; N],
    groups: usize,
) -> WeightGradGeometry {
    let spatial = |shape: &Shape| -> [usize; 3] {
        let axes: [usize; N] = core::array::from_fn(|i| shape[2 + i]);
        to_3d(axes, 1)
    };
    let (input_shape, grad_shape) = (input.layout().shape(), grad.layout().shape());
    WeightGradGeometry {
        batch: input_shape[0],
        channels: input_shape[1],
        in_size: spatial(input_shape),
        out_channels: grad_shape[1],
        out_size: spatial(grad_shape),
        kernel: spatial(weight_shape),
        stride: to_3d(stride, 1),
        padding: to_3d(padding, 0),
        dilation: to_3d(dilation, 1),
        groups,
    }
}
