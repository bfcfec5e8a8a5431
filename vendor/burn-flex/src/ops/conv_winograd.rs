//! Winograd convolutions for 3 × 3 and 3 × 3 × 3 kernels at stride 1 (patch 8):
//! F(2 × 2, 3 × 3) and F(2 × 2 × 2, 3 × 3 × 3).
//!
//! Each 2 × 2 (× 2) block ("tile") of the output is computed from the 4 × 4 (× 4) block of the
//! input under it: the input block is transformed (`Bᵀ d B` along each axis), multiplied
//! elementwise by the transformed kernel (`G g Gᵀ` along each axis) and summed over input
//! channels — one matrix product `[c_out × c_in] · [c_in × tiles]` per position of the
//! transform, 16 (64) of them — and the sums are transformed back (`Aᵀ m A` along each axis).
//! That is 16 multiplications per 2-D tile and channel pair where im2col and GEMM take 36
//! (2.25 × fewer), and 64 per 3-D tile where they take 216 (3.4 × fewer), at the cost of the
//! transforms, which are additions only (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016).
//!
//! The input stays in its NCDHW layout (no channels-last copy, no im2col). The output's tiles
//! are cut into chunks of [`TILES_PER_TASK`]; each task transforms its chunk's input, runs the
//! products into its own buffer and writes its chunk's outputs, so the result does not depend on
//! the number of threads. The transforms run along whole runs of tiles of one row (input columns
//! split into even and odd ones), so they vectorise.
//!
//! Not bit for bit the im2col path: the products are summed in another order, after the
//! transforms' additions (relative differences of a few 1e-7 in f32; tested against direct f64
//! sums). An infinite input value turns into NaN where the direct sum gives ±∞ (the
//! transforms add and subtract it); NaN stays NaN.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::conv::calculate_conv_output_size;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

use super::conv_common::add_bias;
use super::conv_weight_grad::WeightGradGeometry;

/// Fewest input and output channels for which the transforms pay for themselves (measured:
/// PATCHES.md, patch 8).
const MIN_CHANNELS: usize = 8;

/// Output tiles per task: the columns of each task's products.
const TILES_PER_TASK: usize = 128;

/// Floats between two transform positions' matrices beyond their size, so that the matrices
/// of a buffer do not start at addresses a power of two apart (which would put the values of
/// one tile in the same cache set).
const POSITION_PAD: usize = 16;

/// Whether [`conv3d_winograd_f32`] computes this convolution: a 3 × 3 kernel of depth 1 or 3,
/// stride 1 and dilation 1 on every axis, one group, at least [`MIN_CHANNELS`] input and output
/// channels, and an output of at least 2 × 2.
pub(crate) fn should_use_winograd(
    x_shape: &[usize],
    w_shape: &[usize],
    options: &ConvOptions<3>,
) -> bool {
    let kernel_ok = matches!(w_shape[2], 1 | 3) && w_shape[3] == 3 && w_shape[4] == 3;
    let geometry_ok =
        options.stride == [1, 1, 1] && options.dilation == [1, 1, 1] && options.groups == 1;
    if !(kernel_ok && geometry_ok) {
        return false;
    }
    let [pad_d, pad_h, pad_w] = options.padding_begin();
    let out_d = calculate_conv_output_size(w_shape[2], 1, pad_d, 1, x_shape[2]);
    let out_h = calculate_conv_output_size(3, 1, pad_h, 1, x_shape[3]);
    let out_w = calculate_conv_output_size(3, 1, pad_w, 1, x_shape[4]);
    x_shape[1] >= MIN_CHANNELS
        && w_shape[0] >= MIN_CHANNELS
        && out_d >= 1
        && out_h >= 2
        && out_w >= 2
}

/// `G g` for the three taps of one kernel axis, `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½],
/// [0, 0, 1]]`.
fn kernel_axis(g: [f64; 3]) -> [f64; 4] {
    [
        g[0],
        0.5 * (g[0] + g[1] + g[2]),
        0.5 * (g[0] - g[1] + g[2]),
        g[2],
    ]
}

/// The kernel transform of every (output, input) channel pair, laid out as one matrix
/// `[c_out × c_in]` per transform position (`positions` of them: 16 or 64), computed in f64.
/// `kd` is the kernel depth (1: no transform along depth).
fn transform_kernels(w: &[f32], c_out: usize, c_in: usize, kd: usize) -> Vec<f32> {
    let pd = if kd == 3 { 4 } else { 1 };
    let mut u = vec![0.0f32; pd * 16 * c_out * c_in];
    for o in 0..c_out {
        for c in 0..c_in {
            let g = &w[(o * c_in + c) * kd * 9..][..kd * 9];
            // Along width, then height, then depth: t[z][i][j] (fixed arrays: this runs for
            // every channel pair).
            let mut t = [[[0.0f64; 4]; 4]; 3];
            for (z, plane) in t.iter_mut().enumerate().take(kd) {
                let rows: [[f64; 4]; 3] = core::array::from_fn(|y| {
                    kernel_axis(core::array::from_fn(|x| f64::from(g[(z * 3 + y) * 3 + x])))
                });
                for j in 0..4 {
                    let column = kernel_axis([rows[0][j], rows[1][j], rows[2][j]]);
                    for (i, value) in column.into_iter().enumerate() {
                        plane[i][j] = value;
                    }
                }
            }
            for i in 0..4 {
                for j in 0..4 {
                    let along_depth = if kd == 3 {
                        kernel_axis([t[0][i][j], t[1][i][j], t[2][i][j]])
                    } else {
                        [t[0][i][j], 0.0, 0.0, 0.0]
                    };
                    for (z, value) in along_depth.into_iter().enumerate().take(pd) {
                        let p = (z * 4 + i) * 4 + j;
                        u[(p * c_out + o) * c_in + c] = value as f32;
                    }
                }
            }
        }
    }
    u
}

/// The output, written by the tasks at disjoint offsets.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);

// SAFETY: the tasks write disjoint values of the output (their own tiles), which outlives them.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer `offset` values further (still to be written through `write`'s contract).
    fn at(self, offset: usize) -> Self {
        Self(self.0.wrapping_add(offset))
    }

    /// Writes `value` at `offset`.
    ///
    /// # Safety
    /// `offset` lies inside the output and no other task writes it.
    #[inline(always)]
    unsafe fn write(self, offset: usize, value: f32) {
        unsafe { self.0.add(offset).write(value) }
    }
}

/// The input and output volumes' geometry and the tile grid.
#[derive(Clone, Copy)]
struct Volume {
    /// Kernel depth: 1 or 3.
    kd: usize,
    in_d: usize,
    in_h: usize,
    in_w: usize,
    out_d: usize,
    out_h: usize,
    out_w: usize,
    pad_d: usize,
    pad_h: usize,
    pad_w: usize,
    tiles_h: usize,
    tiles_w: usize,
}

impl Volume {
    /// The geometry of a convolution with kernel depth `kd` (1 or 3) from input size
    /// `[in_d, in_h, in_w]` to output size `[out_d, out_h, out_w]` at `padding`.
    fn new(kd: usize, input: [usize; 3], output: [usize; 3], padding: [usize; 3]) -> Self {
        let ([in_d, in_h, in_w], [out_d, out_h, out_w]) = (input, output);
        let [pad_d, pad_h, pad_w] = padding;
        Self {
            kd,
            in_d,
            in_h,
            in_w,
            out_d,
            out_h,
            out_w,
            pad_d,
            pad_h,
            pad_w,
            tiles_h: out_h.div_ceil(2),
            tiles_w: out_w.div_ceil(2),
        }
    }

    /// Output tiles of one batch item.
    fn tiles(&self) -> usize {
        self.out_d.div_ceil(self.depth_tile()) * self.tiles_h * self.tiles_w
    }

    /// Input planes under one tile along depth (4 for a kernel of depth 3, else 1).
    fn depth_block(&self) -> usize {
        if self.kd == 3 { 4 } else { 1 }
    }

    /// Output planes of one tile along depth (2 for a kernel of depth 3, else 1).
    fn depth_tile(&self) -> usize {
        if self.kd == 3 { 2 } else { 1 }
    }

    /// Transform positions: 64 or 16.
    fn positions(&self) -> usize {
        self.depth_block() * 16
    }
}

/// A run of consecutive tiles of one tile row: depth `tz`, row `ty`, columns `tx0..tx0 + len`,
/// at column `offset` of a task's transform matrices.
#[derive(Clone, Copy)]
struct Segment {
    tz: usize,
    ty: usize,
    tx0: usize,
    len: usize,
    offset: usize,
}

/// The segments of tiles `first..first + n` (row-major over the volume's tile grid).
fn segments(volume: &Volume, first: usize, n: usize) -> impl Iterator<Item = Segment> + '_ {
    let mut t = first;
    core::iter::from_fn(move || {
        if t >= first + n {
            return None;
        }
        let plane = volume.tiles_h * volume.tiles_w;
        let (tz, rest) = (t / plane, t % plane);
        let (ty, tx0) = (rest / volume.tiles_w, rest % volume.tiles_w);
        let len = (volume.tiles_w - tx0).min(first + n - t);
        let segment = Segment {
            tz,
            ty,
            tx0,
            len,
            offset: t - first,
        };
        t += len;
        Some(segment)
    })
}

/// `Bᵀ` along one axis of four values: `[d0 − d2, d1 + d2, d2 − d1, d1 − d3]`, applied to
/// four rows at a time, in place.
#[inline(always)]
fn input_axis(d0: &mut [f32], d1: &mut [f32], d2: &mut [f32], d3: &mut [f32]) {
    let rows = d0.iter_mut().zip(d1.iter_mut()).zip(d2.iter_mut()).zip(d3.iter_mut());
    for (((a, b), c), d) in rows {
        let (x0, x1, x2, x3) = (*a, *b, *c, *d);
        *a = x0 - x2;
        *b = x1 + x2;
        *c = x2 - x1;
        *d = x1 - x3;
    }
}

/// `Bᵀ` along the axis of rows `first + k · step` (k < 4) of `rows` (rows of `stride` values,
/// the first `cols` of each transformed).
fn input_axis_rows(rows: &mut [f32], stride: usize, first: usize, step: usize, cols: usize) {
    let span = step * stride;
    let (d0, rest) = rows[first * stride..].split_at_mut(span);
    let (d1, rest) = rest.split_at_mut(span);
    let (d2, d3) = rest.split_at_mut(span);
    input_axis(&mut d0[..cols], &mut d1[..cols], &mut d2[..cols], &mut d3[..cols]);
}

/// Scratch rows of one task: the input rows under a segment (`depth_block` × 4 of them, row
/// `r` at `r · stride`), columns split into even and odd ones, transformed in place along
/// height and depth.
struct Rows {
    even: Vec<f32>,
    odd: Vec<f32>,
    stride: usize,
}

impl Rows {
    fn new(volume: &Volume, len: usize) -> Self {
        let rows = volume.depth_block() * 4;
        Self {
            even: vec![0.0; rows * (len + 1)],
            odd: vec![0.0; rows * (len + 1)],
            stride: len + 1,
        }
    }

    /// Loads the input rows under `segment` from one input channel `x` (`in_d × in_h × in_w`,
    /// zero outside): row `4·dz + i` is depth `depth_tile·tz + dz − pad_d`, height
    /// `2·ty + i − pad_h`, its column `2·tx0 − pad_w + 2k` in `even[·][k]` and the next in
    /// `odd[·][k]`; then applies `Bᵀ` along height and along depth.
    fn load(&mut self, volume: &Volume, x: &[f32], segment: &Segment) {
        let (cols, stride) = (segment.len + 1, self.stride);
        let x0 = (2 * segment.tx0) as isize - volume.pad_w as isize;
        let (in_w, plane) = (volume.in_w, volume.in_h * volume.in_w);
        // Columns k whose pair 2k, 2k + 1 lies inside a row, copied without tests.
        let lo = ((-x0).max(0) as usize).div_ceil(2).min(cols);
        let hi = (((in_w as isize - x0).max(0) as usize) / 2).clamp(lo, cols);
        let outside = |v: isize, size: usize| v < 0 || v as usize >= size;
        let rows = self.even.chunks_exact_mut(stride).zip(self.odd.chunks_exact_mut(stride));
        for (r, (even, odd)) in rows.take(volume.depth_block() * 4).enumerate() {
            let (dz, i) = (r / 4, r % 4);
            let (even, odd) = (&mut even[..cols], &mut odd[..cols]);
            let z = (volume.depth_tile() * segment.tz + dz) as isize - volume.pad_d as isize;
            let y = (2 * segment.ty + i) as isize - volume.pad_h as isize;
            if outside(z, volume.in_d) || outside(y, volume.in_h) {
                even.fill(0.0);
                odd.fill(0.0);
                continue;
            }
            let row = &x[z as usize * plane + y as usize * in_w..][..in_w];
            let at = |col: isize| if outside(col, in_w) { 0.0 } else { row[col as usize] };
            for k in (0..lo).chain(hi..cols) {
                even[k] = at(x0 + 2 * k as isize);
                odd[k] = at(x0 + 2 * k as isize + 1);
            }
            let start = (x0 + 2 * lo as isize) as usize;
            let pairs = row[start..start + 2 * (hi - lo)].chunks_exact(2);
            for ((e, o), pair) in even[lo..hi].iter_mut().zip(&mut odd[lo..hi]).zip(pairs) {
                *e = pair[0];
                *o = pair[1];
            }
        }
        for half in [&mut self.even, &mut self.odd] {
            for dz in 0..volume.depth_block() {
                input_axis_rows(half, stride, dz * 4, 1, cols);
            }
            if volume.kd == 3 {
                for i in 0..4 {
                    input_axis_rows(half, stride, i, 4, cols);
                }
            }
        }
    }

    /// The input transform of tiles `first..first + n` of one batch item `x` (`c_in` channels
    /// of `in_d × in_h × in_w`): position p, channel c, tile t at `v[p · stride + c · n + t]`.
    fn transform_chunk(
        &mut self,
        volume: &Volume,
        x: &[f32],
        (first, n): (usize, usize),
        v: &mut [f32],
        stride: usize,
    ) {
        let in_volume = volume.in_d * volume.in_h * volume.in_w;
        for (c, x_channel) in x.chunks_exact(in_volume).enumerate() {
            for segment in segments(volume, first, n) {
                self.load(volume, x_channel, &segment);
                let v = &mut v[c * n + segment.offset..];
                self.transform_into(volume, v, stride, segment.len);
            }
        }
    }

    /// Applies `B` along the width of the loaded rows and writes the transformed values of each
    /// tile: position `4r + j` (row `r`) to `v[position · stride ..][tile]`.
    fn transform_into(&self, volume: &Volume, v: &mut [f32], stride: usize, len: usize) {
        let rows = self.even.chunks_exact(self.stride).zip(self.odd.chunks_exact(self.stride));
        for (r, (e, o)) in rows.take(volume.depth_block() * 4).enumerate() {
            let (e, o) = (&e[..len + 1], &o[..len + 1]);
            let (v0, rest) = v[4 * r * stride..].split_at_mut(stride);
            let (v1, rest) = rest.split_at_mut(stride);
            let (v2, v3) = rest.split_at_mut(stride);
            let (v0, v1, v2, v3) = (&mut v0[..len], &mut v1[..len], &mut v2[..len], &mut v3[..len]);
            for t in 0..len {
                let (e0, o0, e1, o1) = (e[t], o[t], e[t + 1], o[t + 1]);
                v0[t] = e0 - e1;
                v1[t] = o0 + e1;
                v2[t] = e1 - o0;
                v3[t] = o0 - o1;
            }
        }
    }
}

/// `Aᵀ m A` of a 4 × 4 transform for the tiles of a segment, `Aᵀ = [[1, 1, 1, 0], [0, 1, −1,
/// −1]]`: `m` holds position `p`'s values at `m[p · stride ..][tile]`; writes the 2 × 2 outputs
/// of each tile into the output plane `out` (rows of `out_w`), clipped to the plane.
///
/// # Safety
/// `out` points at an output plane; the segment's outputs in it are written by no one else.
unsafe fn transform_output(
    volume: &Volume,
    m: &[f32],
    stride: usize,
    segment: &Segment,
    y: &mut [Vec<f32>; 4],
    out: OutPtr,
) {
    let len = segment.len;
    let at = |p: usize| &m[p * stride..][..len];
    let [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15] =
        core::array::from_fn(at);
    let [y00, y01, y10, y11] = y;
    for t in 0..len {
        let r00 = m0[t] + m4[t] + m8[t];
        let r01 = m1[t] + m5[t] + m9[t];
        let r02 = m2[t] + m6[t] + m10[t];
        let r03 = m3[t] + m7[t] + m11[t];
        let r10 = m4[t] - m8[t] - m12[t];
        let r11 = m5[t] - m9[t] - m13[t];
        let r12 = m6[t] - m10[t] - m14[t];
        let r13 = m7[t] - m11[t] - m15[t];
        y00[t] = r00 + r01 + r02;
        y01[t] = r01 - r02 - r03;
        y10[t] = r10 + r11 + r12;
        y11[t] = r11 - r12 - r13;
    }
    let (oy, ox) = (2 * segment.ty, 2 * segment.tx0);
    // Output columns of the segment inside the plane (the last tile of a row of odd width
    // has one).
    let cols = (2 * len).min(volume.out_w - ox);
    for (dy, (left, right)) in [(&*y00, &*y01), (&*y10, &*y11)].into_iter().enumerate() {
        if oy + dy >= volume.out_h {
            break;
        }
        let row = (oy + dy) * volume.out_w + ox;
        for c in 0..cols {
            let value = if c % 2 == 0 { left[c / 2] } else { right[c / 2] };
            // SAFETY: inside the plane (clipped above); the caller owns the segment's outputs.
            unsafe { out.write(row + c, value) };
        }
    }
}

/// `Aᵀ` along depth for the tiles of a segment: from the 64 positions of `m` (position `p` at
/// `m[p · stride ..][tile]`) to the 16 positions of each of the tile's two output planes,
/// `planes[(plane · 16 + q) · len + tile]`.
fn reduce_depth(m: &[f32], stride: usize, len: usize, planes: &mut [f32]) {
    for q in 0..16 {
        let at = |z: usize| &m[(z * 16 + q) * stride..][..len];
        let (a, b, c, d) = (at(0), at(1), at(2), at(3));
        let (front, back) = planes.split_at_mut(16 * len);
        let (front, back) = (&mut front[q * len..][..len], &mut back[q * len..][..len]);
        for t in 0..len {
            front[t] = a[t] + b[t] + c[t];
            back[t] = b[t] - c[t] - d[t];
        }
    }
}

/// One task's buffers: the transformed input and the products (one matrix per position), the
/// rows of the input transform, the depth-reduced products and the outputs of the output
/// transform.
struct Scratch {
    v: Vec<f32>,
    m: Vec<f32>,
    rows: Rows,
    planes: Vec<f32>,
    y: [Vec<f32>; 4],
}

/// `y = x ⋆ w + bias` for the convolutions [`should_use_winograd`] accepts, f32, NCDHW.
pub(crate) fn conv3d_winograd_f32(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<3>,
) -> FlexTensor {
    let x = x.to_contiguous();
    let weight = weight.to_contiguous();
    let x_shape = x.layout().shape();
    let (batch, c_in) = (x_shape[0], x_shape[1]);
    let (c_out, kd) = (weight.layout().shape()[0], weight.layout().shape()[2]);
    let [pad_d, pad_h, pad_w] = options.padding_begin();
    let (out_h, out_w) = (
        calculate_conv_output_size(3, 1, pad_h, 1, x_shape[3]),
        calculate_conv_output_size(3, 1, pad_w, 1, x_shape[4]),
    );
    let volume = Volume::new(
        kd,
        [x_shape[2], x_shape[3], x_shape[4]],
        [
            calculate_conv_output_size(kd, 1, pad_d, 1, x_shape[2]),
            out_h,
            out_w,
        ],
        [pad_d, pad_h, pad_w],
    );
    let positions = volume.positions();
    let tiles = volume.tiles();
    let chunks = tiles.div_ceil(TILES_PER_TASK);
    let in_volume = volume.in_d * volume.in_h * volume.in_w;
    let out_plane = out_h * out_w;

    let x_data: &[f32] = x.storage();
    let u = transform_kernels(weight.storage(), c_out, c_in, kd);

    let total = batch * c_out * volume.out_d * out_plane;
    let mut out: Vec<f32> = Vec::with_capacity(total);
    let out_ptr = OutPtr(out.as_mut_ptr());
    let v_stride = |n: usize| c_in * n + POSITION_PAD;
    let m_stride = |n: usize| c_out * n + POSITION_PAD;

    // One task: `chunk` of the tiles of batch item `b`.
    let task = |scratch: &mut Scratch, index: usize| {
        let (b, chunk) = (index / chunks, index % chunks);
        let first = chunk * TILES_PER_TASK;
        let n = TILES_PER_TASK.min(tiles - first);
        let (vs, ms) = (v_stride(n), m_stride(n));
        let Scratch {
            v,
            m,
            rows,
            planes,
            y,
        } = scratch;

        let x_item = &x_data[b * c_in * in_volume..][..c_in * in_volume];
        rows.transform_chunk(&volume, x_item, (first, n), v, vs);

        // The products: m[p] = u[p] · v[p], [c_out × n] each.
        for p in 0..positions {
            // SAFETY: u[p] is c_out × c_in, v[p] c_in × n and m[p] c_out × n, row-major, inside
            // their buffers (sized for TILES_PER_TASK ≥ n columns).
            unsafe {
                gemm::gemm(
                    c_out,
                    n,
                    c_in,
                    m.as_mut_ptr().add(p * ms),
                    1,
                    n as isize,
                    false,
                    u.as_ptr().add(p * c_out * c_in),
                    1,
                    c_in as isize,
                    v.as_ptr().add(p * vs),
                    1,
                    n as isize,
                    0.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }

        // Output transform, one output channel at a time.
        for o in 0..c_out {
            let channel = out_ptr.at((b * c_out + o) * volume.out_d * out_plane);
            for segment in segments(&volume, first, n) {
                let values = &m[o * n + segment.offset..];
                let z0 = volume.depth_tile() * segment.tz;
                if volume.kd == 1 {
                    // SAFETY: the output plane z0; this task's tiles are written by no other.
                    unsafe {
                        let plane = channel.at(z0 * out_plane);
                        transform_output(&volume, values, ms, &segment, y, plane);
                    }
                    continue;
                }
                let len = segment.len;
                reduce_depth(values, ms, len, planes);
                for dz in 0..2 {
                    if z0 + dz >= volume.out_d {
                        break;
                    }
                    let values = &planes[dz * 16 * len..];
                    // SAFETY: as above, output plane z0 + dz.
                    unsafe {
                        let plane = channel.at((z0 + dz) * out_plane);
                        transform_output(&volume, values, len, &segment, y, plane);
                    }
                }
            }
        }
    };

    let scratch = || {
        let n = TILES_PER_TASK.min(tiles);
        let row = n.min(volume.tiles_w);
        Scratch {
            v: vec![0.0f32; positions * v_stride(n)],
            m: vec![0.0f32; positions * m_stride(n)],
            rows: Rows::new(&volume, row),
            planes: vec![0.0f32; 32 * row],
            y: core::array::from_fn(|_| vec![0.0f32; row]),
        }
    };
    let tasks = batch * chunks;
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().for_each_init(scratch, task);
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut buffers = scratch();
        for index in 0..tasks {
            task(&mut buffers, index);
        }
    }
    // SAFETY: the tasks wrote every output value (every tile of every batch item, every
    // channel).
    unsafe { out.set_len(total) };

    if let Some(bias) = bias {
        let bias = bias.to_contiguous();
        add_bias(&mut out, bias.storage(), batch, c_out, volume.out_d * out_plane);
    }
    let shape = vec![batch, c_out, volume.out_d, out_h, out_w];
    FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::from(shape)),
        DType::F32,
    )
}

/// A stride-1 transposed 3 × 3 (× 3) convolution as the convolution it equals, when that one
/// is computed by [`conv3d_winograd_f32`]: the kernel turned by 180° on every axis with its two
/// channel axes exchanged, padded by k − 1 − p (burn computes the input gradient of every
/// convolution as a transposed convolution). `None` where it does not apply.
pub(crate) fn conv_transpose3d_winograd_f32(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &Option<FlexTensor>,
    options: &ConvTransposeOptions<3>,
) -> Option<FlexTensor> {
    let w_shape = weight.layout().shape();
    let kd = w_shape[2];
    let [pad_d, pad_h, pad_w] = options.padding;
    let applies = options.stride == [1, 1, 1]
        && options.dilation == [1, 1, 1]
        && options.groups == 1
        && options.padding_out == [0, 0, 0]
        && matches!(kd, 1 | 3)
        && w_shape[3..] == [3, 3]
        && pad_d < kd
        && pad_h <= 2
        && pad_w <= 2;
    if !applies {
        return None;
    }
    let (c_in, c_out) = (w_shape[0], w_shape[1]);
    let conv_options = ConvOptions::new(
        [1, 1, 1],
        [kd - 1 - pad_d, 2 - pad_h, 2 - pad_w],
        [1, 1, 1],
        1,
    );
    let conv_w_shape = [c_out, c_in, kd, 3, 3];
    if !should_use_winograd(x.layout().shape(), &conv_w_shape, &conv_options) {
        return None;
    }
    let weight = weight.clone().to_contiguous();
    let w: &[f32] = weight.storage();
    let taps = kd * 9;
    let mut turned = vec![0.0f32; c_out * c_in * taps];
    for ci in 0..c_in {
        for co in 0..c_out {
            let src = &w[(ci * c_out + co) * taps..][..taps];
            let dst = &mut turned[(co * c_in + ci) * taps..][..taps];
            for (k, value) in src.iter().enumerate() {
                dst[taps - 1 - k] = *value;
            }
        }
    }
    let turned = FlexTensor::new(
        Bytes::from_elems(turned),
        Layout::contiguous(Shape::from(conv_w_shape.to_vec())),
        DType::F32,
    );
    Some(conv3d_winograd_f32(
        x.clone(),
        turned,
        bias.clone(),
        &conv_options,
    ))
}

/// Tile chunks each task of a weight gradient sums (a constant, so that the sum's order does
/// not depend on the number of threads).
const CHUNKS_PER_GRADIENT_TASK: usize = 4;

/// Whether [`weight_grad_winograd_f32`] computes this weight gradient: the convolutions
/// [`should_use_winograd`] accepts (the same kernels, strides, dilations, groups and channel
/// counts), at padding at most 2.
pub(crate) fn weight_grad_applies(geo: &WeightGradGeometry) -> bool {
    let [kd, kh, kw] = geo.kernel;
    matches!(kd, 1 | 3)
        && [kh, kw] == [3, 3]
        && geo.stride == [1, 1, 1]
        && geo.dilation == [1, 1, 1]
        && geo.groups <= 1
        && geo.padding[0] < kd
        && geo.padding[1] <= 2
        && geo.padding[2] <= 2
        && geo.channels >= MIN_CHANNELS
        && geo.out_channels >= MIN_CHANNELS
        && geo.out_size[1] >= 2
        && geo.out_size[2] >= 2
}

/// `A` along one axis of an output-gradient pair `[a, b]`: `[a, a + b, a − b, −b]`
/// (the transpose of the output transform `Aᵀ`).
#[inline(always)]
fn gradient_axis(a: f32, b: f32) -> [f32; 4] {
    [a, a + b, a - b, -b]
}

/// `Gᵀ` along one axis: `[m0 + ½(m1 + m2), ½(m1 − m2), ½(m1 + m2) + m3]` (the transpose of
/// the kernel transform `G`), in f64.
fn kernel_axis_transposed(m: [f64; 4]) -> [f64; 3] {
    [
        m[0] + 0.5 * (m[1] + m[2]),
        0.5 * (m[1] - m[2]),
        0.5 * (m[1] + m[2]) + m[3],
    ]
}

/// The weight gradient `dW[o][c][k] = Σ_{b, q} dy[b][o][q] · x[b][c][q + k − pad]` of the
/// convolutions [`weight_grad_applies`] accepts, f32, `[c_out, c_in, kd, 3, 3]`: by the
/// transposition principle `dg = Gᵀ (A dy Aᵀ ⊙ Bᵀ d B) G` per tile, summed over tiles — per
/// transform position one matrix product `[c_out × tiles] · [tiles × c_in]`, accumulated over
/// tiles and batch items, then transformed back once.
pub(crate) fn weight_grad_winograd_f32(x: &[f32], dy: &[f32], geo: &WeightGradGeometry) -> Vec<f32> {
    let (c_in, c_out, kd) = (geo.channels, geo.out_channels, geo.kernel[0]);
    let [in_d, in_h, in_w] = geo.in_size;
    let [out_d, out_h, out_w] = geo.out_size;
    let volume = Volume::new(kd, geo.in_size, geo.out_size, geo.padding);
    let positions = volume.positions();
    let tiles = volume.tiles();
    let chunks = tiles.div_ceil(TILES_PER_TASK);
    let groups_per_item = chunks.div_ceil(CHUNKS_PER_GRADIENT_TASK);
    let (in_volume, out_volume) = (in_d * in_h * in_w, out_d * out_h * out_w);
    let matrix = c_out * c_in;
    let v_stride = |n: usize| c_in * n + POSITION_PAD;
    let e_stride = |n: usize| c_out * n + POSITION_PAD;

    // One task: CHUNKS_PER_GRADIENT_TASK chunks of batch item b's tiles, summed into its own
    // position matrices.
    let task = |scratch: &mut GradientScratch, index: usize| -> Vec<f32> {
        let (b, group) = (index / groups_per_item, index % groups_per_item);
        let mut sums = vec![0.0f32; positions * matrix];
        let mut first_product = true;
        let last = ((group + 1) * CHUNKS_PER_GRADIENT_TASK).min(chunks);
        for chunk in group * CHUNKS_PER_GRADIENT_TASK..last {
            let first = chunk * TILES_PER_TASK;
            let n = TILES_PER_TASK.min(tiles - first);
            let (vs, es) = (v_stride(n), e_stride(n));
            let GradientScratch { v, e, rows } = scratch;
            let x_item = &x[b * c_in * in_volume..][..c_in * in_volume];
            rows.transform_chunk(&volume, x_item, (first, n), v, vs);
            for o in 0..c_out {
                let dy_channel = &dy[(b * c_out + o) * out_volume..][..out_volume];
                for segment in segments(&volume, first, n) {
                    transform_gradient(&volume, dy_channel, &segment, &mut e[o * n..], es);
                }
            }
            for p in 0..positions {
                // SAFETY: e[p] is c_out × n, v[p] c_in × n (read as its transpose, n × c_in)
                // and sums[p] c_out × c_in, inside their buffers.
                unsafe {
                    gemm::gemm(
                        c_out,
                        c_in,
                        n,
                        sums.as_mut_ptr().add(p * matrix),
                        1,
                        c_in as isize,
                        !first_product,
                        e.as_ptr().add(p * es),
                        1,
                        n as isize,
                        v.as_ptr().add(p * vs),
                        n as isize,
                        1,
                        1.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            first_product = false;
        }
        sums
    };
    let scratch = || {
        let n = TILES_PER_TASK.min(tiles);
        GradientScratch {
            v: vec![0.0f32; positions * v_stride(n)],
            e: vec![0.0f32; positions * e_stride(n)],
            rows: Rows::new(&volume, n.min(volume.tiles_w)),
        }
    };
    let tasks = geo.batch * groups_per_item;
    #[cfg(feature = "rayon")]
    let partial: Vec<Vec<f32>> = {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().map_init(scratch, task).collect()
    };
    #[cfg(not(feature = "rayon"))]
    let partial: Vec<Vec<f32>> = {
        let mut buffers = scratch();
        (0..tasks).map(|t| task(&mut buffers, t)).collect()
    };
    // The tasks' sums, added in task order.
    let mut sums = vec![0.0f32; positions * matrix];
    for part in &partial {
        for (sum, value) in sums.iter_mut().zip(part) {
            *sum += value;
        }
    }
    transform_weight_gradient(&sums, c_out, c_in, kd)
}

/// One weight-gradient task's buffers: the transformed input, the transformed output gradient
/// (one matrix per position each) and the rows of the input transform.
struct GradientScratch {
    v: Vec<f32>,
    e: Vec<f32>,
    rows: Rows,
}

/// `A dy Aᵀ` (along every axis) of the output-gradient blocks of a segment's tiles, 2 × 2
/// (× 2) values each (zero past the output's edges), from one output channel `dy`
/// (`out_d × out_h × out_w`): position `p` of tile `t` to `e[p · stride + offset + t]`.
fn transform_gradient(
    volume: &Volume,
    dy: &[f32],
    segment: &Segment,
    e: &mut [f32],
    stride: usize,
) {
    let depth = volume.depth_tile();
    let at = |z: usize, y: usize, x: usize| {
        if z < volume.out_d && y < volume.out_h && x < volume.out_w {
            dy[(z * volume.out_h + y) * volume.out_w + x]
        } else {
            0.0
        }
    };
    for t in 0..segment.len {
        let (z0, y0, x0) = (
            depth * segment.tz,
            2 * segment.ty,
            2 * (segment.tx0 + t),
        );
        // Along width, then height: per output plane dz, h[dz][i][j].
        let mut h = [[[0.0f32; 4]; 4]; 2];
        for (dz, plane) in h.iter_mut().enumerate().take(depth) {
            let w0 = gradient_axis(at(z0 + dz, y0, x0), at(z0 + dz, y0, x0 + 1));
            let w1 = gradient_axis(at(z0 + dz, y0 + 1, x0), at(z0 + dz, y0 + 1, x0 + 1));
            for j in 0..4 {
                let column = gradient_axis(w0[j], w1[j]);
                for i in 0..4 {
                    plane[i][j] = column[i];
                }
            }
        }
        let index = segment.offset + t;
        for i in 0..4 {
            for j in 0..4 {
                if depth == 1 {
                    e[(i * 4 + j) * stride + index] = h[0][i][j];
                } else {
                    let along = gradient_axis(h[0][i][j], h[1][i][j]);
                    for (z, value) in along.into_iter().enumerate() {
                        e[((z * 4 + i) * 4 + j) * stride + index] = value;
                    }
                }
            }
        }
    }
}

/// `Gᵀ m G` (along every axis) of the summed position matrices: the weight gradient
/// `[c_out, c_in, kd, 3, 3]`, computed in f64.
fn transform_weight_gradient(sums: &[f32], c_out: usize, c_in: usize, kd: usize) -> Vec<f32> {
    let matrix = c_out * c_in;
    let positions = if kd == 3 { 64 } else { 16 };
    let pd = positions / 16;
    let mut dw = vec![0.0f32; matrix * kd * 9];
    for o in 0..c_out {
        for c in 0..c_in {
            let m = |p: usize| f64::from(sums[p * matrix + o * c_in + c]);
            // Along width, then height: per depth position z, r[z][y][x] (a fixed array: this
            // runs for every channel pair).
            let mut r = [[[0.0f64; 3]; 3]; 4];
            for (z, plane) in r.iter_mut().enumerate().take(pd) {
                let rows: [[f64; 3]; 4] = core::array::from_fn(|i| {
                    kernel_axis_transposed(core::array::from_fn(|j| m((z * 4 + i) * 4 + j)))
                });
                for x in 0..3 {
                    let column = kernel_axis_transposed(core::array::from_fn(|i| rows[i][x]));
                    for (y, value) in column.into_iter().enumerate() {
                        plane[y][x] = value;
                    }
                }
            }
            let out = &mut dw[(o * c_in + c) * kd * 9..][..kd * 9];
            for y in 0..3 {
                for x in 0..3 {
                    if kd == 1 {
                        out[y * 3 + x] = r[0][y][x] as f32;
                    } else {
                        let along =
                            kernel_axis_transposed(core::array::from_fn(|z| r[z][y][x]));
                        for (z, value) in along.into_iter().enumerate() {
                            out[(z * 3 + y) * 3 + x] = value as f32;
                        }
                    }
                }
            }
        }
    }
    dw
}
