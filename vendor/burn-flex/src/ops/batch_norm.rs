//! Batch normalisation over axis 1 without transposed copies (patch 4, see `PATCHES.md`).
//!
//! burn-backend's defaults build the batch statistics from `swap_dims(0, 1)` copies and
//! compute forward and backward as chains of whole-tensor operations (about ten full passes
//! forward and twelve backward, each with its own buffer). Here each channel's values are
//! read where they lie in the contiguous `[batch, channels, inner…]` input: training
//! statistics in two reading passes (mean, then squared deviations, summed in f64), the
//! output in one writing pass, the backward in one reading and one writing pass.
//!
//! The output, the inference path and the input gradient use the defaults' formulas, operation
//! by operation in the tensor's precision (inference is bit-for-bit the default's); the sums
//! are taken in f64 in a fixed order (8 lanes, blocks of constant size), so the results do not
//! depend on the number of threads. f16 and bf16 go through f32.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::{DType, Element};
use burn_std::{Bytes, bf16, f16};

use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

/// Elements per unit of parallel work: a constant, so sums do not depend on the thread count.
const BLOCK: usize = 16 * 1024;
/// Below this many elements everything runs on the calling thread.
#[cfg(feature = "rayon")]
const SERIAL_BELOW: usize = 64 * 1024;

/// The float types computed natively.
trait Real:
    bytemuck::Pod
    + Element
    + core::ops::Sub<Output = Self>
    + core::ops::Div<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Add<Output = Self>
{
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn sqrt(self) -> Self;
}

impl Real for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn sqrt(self) -> Self {
        num_traits::Float::sqrt(self)
    }
}

impl Real for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn sqrt(self) -> Self {
        num_traits::Float::sqrt(self)
    }
}

/// How a `[batch, channels, inner…]` tensor's values group by channel.
#[derive(Clone, Copy, Debug)]
struct Planes {
    batch: usize,
    channels: usize,
    /// Values of one (batch item, channel) plane: the product of the axes after 1.
    inner: usize,
}

impl Planes {
    fn of(shape: &[usize]) -> Self {
        assert!(
            shape.len() >= 2,
            "batch_norm: the input needs a batch and a channel axis, got shape {shape:?}"
        );
        Planes {
            batch: shape[0],
            channels: shape[1],
            inner: shape[2..].iter().product(),
        }
    }

    fn len(&self) -> usize {
        self.batch * self.channels * self.inner
    }

    /// Values per channel, the statistics' denominator.
    fn per_channel(&self) -> f64 {
        (self.batch * self.inner) as f64
    }

    /// Planes per task, about `BLOCK` values: batch items of one channel when summing, planes
    /// in order when writing.
    fn planes_per_task(&self) -> usize {
        (BLOCK / self.inner.max(1)).max(1)
    }
}

/// `f(i)` for `i` in `0..n`, in order, on the thread pool when the tensor is large.
fn map_tasks<R: Send>(n: usize, elements: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if elements >= SERIAL_BELOW {
        use rayon::prelude::*;
        return (0..n).into_par_iter().map(f).collect();
    }
    let _ = elements;
    (0..n).map(f).collect()
}

/// Per channel `c`, the K sums of `term(c, values)` over its values, where `values` holds the
/// value of each of the `N` same-shaped `inputs` at one index, in f64.
///
/// Planes of at least 8 values are summed per channel in 8 lanes, batch items in blocks of
/// constant size added in order; smaller planes (pillar features: one value per item and
/// channel) row by row, all channels at once. Either way the order does not depend on the
/// number of threads.
fn channel_sums<T: Real, const N: usize, const K: usize>(
    p: Planes,
    inputs: [&[T]; N],
    term: impl Fn(usize, [f64; N]) -> [f64; K] + Sync + Send,
) -> Vec<[f64; K]> {
    for input in inputs {
        assert_eq!(input.len(), p.len(), "batch_norm: input sizes differ");
    }
    let add = |acc: &mut [f64; K], t: [f64; K]| {
        for (a, v) in acc.iter_mut().zip(t) {
            *a += v;
        }
    };
    let at = |planes: &[&[T]; N], i: usize| core::array::from_fn(|j| planes[j][i].to_f64());
    let plane = |b: usize, c: usize| {
        let start = (b * p.channels + c) * p.inner;
        inputs.map(|input| &input[start..start + p.inner])
    };
    let rows = p.planes_per_task();
    let blocks = p.batch.div_ceil(rows);
    let block_rows = |k: usize| k * rows..((k + 1) * rows).min(p.batch);
    if p.inner < 8 {
        let partial = map_tasks(blocks, p.len(), |k| {
            let mut acc = vec![[0.0; K]; p.channels];
            for b in block_rows(k) {
                for (c, acc) in acc.iter_mut().enumerate() {
                    let planes = plane(b, c);
                    for i in 0..p.inner {
                        add(acc, term(c, at(&planes, i)));
                    }
                }
            }
            acc
        });
        let mut total = vec![[0.0; K]; p.channels];
        for block in partial {
            for (t, s) in total.iter_mut().zip(block) {
                add(t, s);
            }
        }
        return total;
    }
    let partial = map_tasks(p.channels * blocks, p.len(), |task| {
        let (c, k) = (task / blocks, task % blocks);
        let mut lanes = [[0.0; K]; 8];
        let mut tail = [0.0; K];
        for b in block_rows(k) {
            let planes = plane(b, c);
            let whole = p.inner / 8 * 8;
            for base in (0..whole).step_by(8) {
                let chunk: [&[T]; N] = planes.map(|plane| &plane[base..base + 8]);
                for (l, lane) in lanes.iter_mut().enumerate() {
                    add(lane, term(c, at(&chunk, l)));
                }
            }
            for i in whole..p.inner {
                add(&mut tail, term(c, at(&planes, i)));
            }
        }
        for lane in lanes {
            add(&mut tail, lane);
        }
        tail
    });
    partial
        .chunks(blocks.max(1))
        .map(|blocks| {
            let mut acc = [0.0; K];
            for s in blocks {
                add(&mut acc, *s);
            }
            acc
        })
        .chain(core::iter::repeat([0.0; K]))
        .take(p.channels)
        .collect()
}

/// Fills `out` plane by plane: `write(channel, range of the plane, its slice of out)`.
fn fill_planes<T: Send>(
    out: &mut [T],
    p: Planes,
    write: impl Fn(usize, core::ops::Range<usize>, &mut [T]) + Sync + Send,
) {
    let inner = p.inner.max(1);
    let chunk = p.planes_per_task() * inner;
    let task = |(t, out): (usize, &mut [T])| {
        let first = t * p.planes_per_task();
        for (i, plane) in out.chunks_mut(inner).enumerate() {
            let q = first + i;
            write(q % p.channels, q * inner..(q + 1) * inner, plane);
        }
    };
    #[cfg(feature = "rayon")]
    if p.len() >= SERIAL_BELOW {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk).enumerate().for_each(task);
        return;
    }
    out.chunks_mut(chunk).enumerate().for_each(task);
}

/// A new buffer of `p.len()` values, each written once by `write` through [`fill_planes`]
/// (no zero fill first).
fn filled<T: Real>(
    p: Planes,
    write: impl Fn(usize, core::ops::Range<usize>, &mut [core::mem::MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let len = p.len();
    let mut out = Vec::with_capacity(len);
    fill_planes(&mut out.spare_capacity_mut()[..len], p, write);
    // SAFETY: fill_planes hands every value of the buffer to `write`, which writes it.
    unsafe { out.set_len(len) };
    out
}

fn vector<T: Real>(t: &FlexTensor, channels: usize, what: &str) -> Vec<T> {
    let t = t.to_contiguous();
    let v: &[T] = t.storage();
    assert_eq!(
        v.len(),
        channels,
        "batch_norm: {what} has {} values, the input {channels} channels",
        v.len()
    );
    v.to_vec()
}

fn tensor<T: Real>(data: Vec<T>, shape: burn_std::Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(shape),
        T::dtype(),
    )
}

/// `((x − mean) / sqrt(var + ε)) · γ + β` per channel, in `T`, as the default computes it.
fn normalise<T: Real>(
    x: &FlexTensor,
    gamma: &[T],
    beta: &[T],
    mean: &[T],
    variance: &[T],
    epsilon: f64,
) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let p = Planes::of(&shape);
    let eps = T::from_f64(epsilon);
    let std: Vec<T> = variance.iter().map(|&v| (v + eps).sqrt()).collect();
    let data: &[T] = x.storage();
    let out = filled(p, |c, range, out| {
        let (m, s, g, b) = (mean[c], std[c], gamma[c], beta[c]);
        for (o, &v) in out.iter_mut().zip(&data[range]) {
            o.write(((v - m) / s) * g + b);
        }
    });
    tensor(out, shape)
}

fn inference_typed<T: Real>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
) -> FlexTensor {
    let x = x.to_contiguous();
    let c = Planes::of(x.layout().shape()).channels;
    normalise::<T>(
        &x,
        &vector(&gamma, c, "gamma"),
        &vector(&beta, c, "beta"),
        &vector(&mean, c, "mean"),
        &vector(&variance, c, "variance"),
        epsilon,
    )
}

fn train_typed<T: Real>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> [FlexTensor; 3] {
    let x = x.to_contiguous();
    let p = Planes::of(x.layout().shape());
    let n = p.per_channel();
    let data: &[T] = x.storage();
    let mean64: Vec<f64> = channel_sums(p, [data], |_, [x]| [x])
        .iter()
        .map(|s| s[0] / n)
        .collect();
    let variance: Vec<T> = channel_sums(p, [data], |c, [x]| {
        let d = x - mean64[c];
        [d * d]
    })
    .iter()
    .map(|s| T::from_f64(s[0] / n))
    .collect();
    let mean: Vec<T> = mean64.iter().map(|&m| T::from_f64(m)).collect();
    let output = normalise::<T>(
        &x,
        &vector(&gamma, p.channels, "gamma"),
        &vector(&beta, p.channels, "beta"),
        &mean,
        &variance,
        epsilon,
    );
    let channels = burn_std::Shape::from(vec![p.channels]);
    [
        output,
        tensor(mean, channels.clone()),
        tensor(variance, channels),
    ]
}

fn backward_typed<T: Real>(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> [FlexTensor; 3] {
    let x = x.to_contiguous();
    let grad = output_grad.to_contiguous();
    let shape = x.layout().shape().clone();
    assert_eq!(
        &shape,
        grad.layout().shape(),
        "batch_norm backward: the output gradient's shape differs from the input's"
    );
    let p = Planes::of(&shape);
    let n = p.per_channel();
    let (xs, gs): (&[T], &[T]) = (x.storage(), grad.storage());
    let gamma = vector::<T>(&gamma, p.channels, "gamma");
    let mean = vector::<T>(&mean, p.channels, "mean");
    let variance = vector::<T>(&variance, p.channels, "variance");
    let eps = T::from_f64(epsilon);
    let one = T::from_f64(1.0);
    let inv_std: Vec<T> = variance.iter().map(|&v| one / (v + eps).sqrt()).collect();
    let mean64: Vec<f64> = mean.iter().map(|m| m.to_f64()).collect();
    // (Σ g, Σ g (x − mean)) per channel.
    let sums = channel_sums(p, [gs, xs], |c, [g, x]| [g, g * (x - mean64[c])]);
    // Σ g · normalised = inv_std · Σ g (x − mean).
    let beta_grad: Vec<T> = sums.iter().map(|s| T::from_f64(s[0])).collect();
    let gamma_grad: Vec<T> = sums
        .iter()
        .zip(&inv_std)
        .map(|(s, &i)| T::from_f64(s[1] * i.to_f64()))
        .collect();
    let mean_grad: Vec<T> = sums.iter().map(|s| T::from_f64(s[0] / n)).collect();
    let mean_normalised_grad: Vec<T> = sums
        .iter()
        .zip(&inv_std)
        .map(|(s, &i)| T::from_f64(s[1] * i.to_f64() / n))
        .collect();
    let x_grad = filled(p, |c, range, out| {
        let (m, i, mg, mng) = (mean[c], inv_std[c], mean_grad[c], mean_normalised_grad[c]);
        let scale = gamma[c] * i;
        for ((o, &xv), &gv) in out.iter_mut().zip(&xs[range.clone()]).zip(&gs[range]) {
            let normalised = (xv - m) * i;
            o.write(scale * ((gv - mg) - normalised * mng));
        }
    });
    let channels = burn_std::Shape::from(vec![p.channels]);
    [
        tensor(x_grad, shape),
        tensor(gamma_grad, channels.clone()),
        tensor(beta_grad, channels),
    ]
}

/// Runs `f` on f32 copies of half-precision `tensors` and converts its results back.
fn via_f32<const N: usize, const M: usize>(
    tensors: [FlexTensor; N],
    f: impl FnOnce([FlexTensor; N]) -> [FlexTensor; M],
) -> [FlexTensor; M] {
    match tensors[0].dtype() {
        DType::F16 => f(tensors.map(|t| cast_to_f32::<f16>(t, f16::to_f32)))
            .map(|t| cast_from_f32::<f16>(t, f16::from_f32)),
        DType::BF16 => f(tensors.map(|t| cast_to_f32::<bf16>(t, bf16::to_f32)))
            .map(|t| cast_from_f32::<bf16>(t, bf16::from_f32)),
        dtype => panic!("burn_flex::batch_norm: unsupported dtype {dtype:?}"),
    }
}

/// Batch normalisation with given statistics (`ModuleOps::batch_norm`).
pub fn inference(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
) -> FlexTensor {
    match x.dtype() {
        DType::F32 => inference_typed::<f32>(x, gamma, beta, mean, variance, epsilon),
        DType::F64 => inference_typed::<f64>(x, gamma, beta, mean, variance, epsilon),
        _ => {
            let [out] = via_f32([x, gamma, beta, mean, variance], |[x, g, b, m, v]| {
                [inference_typed::<f32>(x, g, b, m, v, epsilon)]
            });
            out
        }
    }
}

/// Batch normalisation with the batch's own statistics (`ModuleOps::batch_norm_train`):
/// output, mean and biased variance.
pub fn train(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64) -> [FlexTensor; 3] {
    match x.dtype() {
        DType::F32 => train_typed::<f32>(x, gamma, beta, epsilon),
        DType::F64 => train_typed::<f64>(x, gamma, beta, epsilon),
        _ => via_f32([x, gamma, beta], |[x, g, b]| {
            train_typed::<f32>(x, g, b, epsilon)
        }),
    }
}

/// Gradients of [`train`] with respect to its input, γ and β (`ModuleOps::batch_norm_train_backward`).
pub fn backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> [FlexTensor; 3] {
    match x.dtype() {
        DType::F32 => backward_typed::<f32>(x, gamma, mean, variance, epsilon, output_grad),
        DType::F64 => backward_typed::<f64>(x, gamma, mean, variance, epsilon, output_grad),
        _ => via_f32(
            [x, gamma, mean, variance, output_grad],
            |[x, g, m, v, o]| backward_typed::<f32>(x, g, m, v, epsilon, o),
        ),
    }
}
