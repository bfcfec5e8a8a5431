//! PointPillars' training loss: sigmoid focal loss over positive and negative anchors,
//! smooth-L1 on the box residuals of positives with the sine trick on the heading, and the
//! direction cross-entropy of positives; each frame's terms normalised by its positive count,
//! then averaged over the batch.

use crate::config::LossConfig;
use crate::model::HeadOutput;
use crate::targets::Targets;
use burn::tensor::activation::{log_softmax, sigmoid};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// The targets of a batch as tensors. The box and direction terms weigh positives only, so their
/// targets are kept for the positive anchors alone, and the predictions gathered to them (the
/// same sums as over every anchor with zero weights, without passes over the other 99 %).
#[derive(Debug, Clone)]
pub struct TargetBatch {
    /// `[B, N, C]` one-hot class of positives (zero rows elsewhere).
    pub class: Tensor<3>,
    /// `[B, N]` classification weight: 1 / positives of the frame for positives and negatives.
    pub class_weight: Tensor<2>,
    /// `[M]` the positive anchors of the batch, as flat indices frame · N + anchor, in order.
    pub positives: Tensor<1, Int>,
    /// `[M, 7]` encoded boxes of the positives.
    pub boxes: Tensor<2>,
    /// `[M]` regression weight of each positive: 1 / positives of its frame.
    pub box_weight: Tensor<1>,
    /// `[M, 2]` one-hot direction bin of the positives.
    pub direction: Tensor<2>,
}

impl TargetBatch {
    /// Stacks the targets of a batch of frames for a model with `classes` classes.
    pub fn new(targets: &[Targets], classes: usize, device: &Device) -> Self {
        let b = targets.len();
        let n = targets.first().map_or(0, |t| t.labels.len());
        let mut class = vec![0.0f32; b * n * classes];
        let mut class_weight = vec![0.0f32; b * n];
        let (mut positives, mut boxes, mut box_weight, mut direction) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (f, t) in targets.iter().enumerate() {
            let norm = 1.0 / t.positives().max(1) as f32;
            for (a, &label) in t.labels.iter().enumerate() {
                let i = f * n + a;
                if label >= 0 {
                    class_weight[i] = norm;
                }
                if label > 0 {
                    class[i * classes + label as usize - 1] = 1.0;
                    positives.push(i as i64);
                    boxes.extend_from_slice(&t.boxes[a]);
                    box_weight.push(norm);
                    let mut bins = [0.0f32; 2];
                    bins[t.directions[a] as usize] = 1.0;
                    direction.extend_from_slice(&bins);
                }
            }
        }
        let m = positives.len();
        let t3 =
            |v: Vec<f32>, k: usize| Tensor::<3>::from_data(TensorData::new(v, [b, n, k]), device);
        let t2 = |v: Vec<f32>, k: usize| Tensor::<2>::from_data(TensorData::new(v, [m, k]), device);
        TargetBatch {
            class: t3(class, classes),
            class_weight: Tensor::from_data(TensorData::new(class_weight, [b, n]), device),
            positives: Tensor::from_data(TensorData::new(positives, [m]), device),
            boxes: t2(boxes, 7),
            box_weight: Tensor::from_data(TensorData::new(box_weight, [m]), device),
            direction: t2(direction, 2),
        }
    }
}

/// The three loss terms (already weighted) of a batch.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// Focal classification loss.
    pub class: Tensor<1>,
    /// Box regression loss.
    pub boxes: Tensor<1>,
    /// Direction loss.
    pub direction: Tensor<1>,
}

impl LossTerms {
    /// Their sum, the quantity trained on.
    pub fn total(&self) -> Tensor<1> {
        self.class.clone() + self.boxes.clone() + self.direction.clone()
    }
}

/// Sigmoid focal loss, element-wise: α_t (1 − p_t)^γ · BCE(logit, target).
pub fn sigmoid_focal(logits: Tensor<3>, target: Tensor<3>, alpha: f64, gamma: f64) -> Tensor<3> {
    let p = sigmoid(logits.clone());
    // Stable BCE with logits: max(x, 0) − x·t + ln(1 + e^−|x|).
    let bce = logits.clone().clamp_min(0.0) - logits.clone() * target.clone()
        + (logits.abs().neg().exp() + 1.0).log();
    let one_minus_t = target.clone().neg() + 1.0;
    let p_t = p.clone() * target.clone() + (p.neg() + 1.0) * one_minus_t.clone();
    let alpha_t = target * alpha + one_minus_t * (1.0 - alpha);
    alpha_t * (p_t.neg() + 1.0).powf_scalar(gamma) * bce
}

/// Smooth-L1 with transition point `beta`, element-wise.
pub fn smooth_l1<const D: usize>(diff: Tensor<D>, beta: f64) -> Tensor<D> {
    let a = diff.abs();
    let small = a.clone().lower_elem(beta);
    let quadratic = a.clone().powf_scalar(2.0) * (0.5 / beta);
    let linear = a - 0.5 * beta;
    linear.mask_where(small, quadratic)
}

/// Differences of predicted and target box residuals `[M, 7]`: the first six as they are
/// (`[M, 6]`), and the heading's by the sine trick (`[M, 1]`): the reference replaces the
/// headings p and t by sin(p)·cos(t) and cos(p)·sin(t), whose difference is sin(p − t),
/// computed so here (one sine instead of four trigonometric functions). It is blind to a
/// half-turn (the direction head resolves that). Kept apart rather than concatenated back into
/// seven columns: the loss sums over them anyway.
pub fn box_differences(pred: Tensor<2>, target: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let m = pred.dims()[0];
    let diff = pred - target;
    let heading = diff.clone().slice([0..m, 6..7]).sin();
    (diff.slice([0..m, 0..6]), heading)
}

/// The rows of `[B, N, K]` predictions at flat anchor indices `[M]`: `[M, K]`.
fn gather(pred: Tensor<3>, index: Tensor<1, Int>) -> Tensor<2> {
    let [b, n, k] = pred.dims();
    pred.reshape([b * n, k]).select(0, index)
}

/// The loss of a batch.
pub fn detection_loss(out: HeadOutput, t: &TargetBatch, cfg: &LossConfig) -> LossTerms {
    let b = out.class_logits.dims()[0].max(1) as f64;
    let focal = sigmoid_focal(
        out.class_logits,
        t.class.clone(),
        cfg.focal_alpha,
        cfg.focal_gamma,
    );
    let class =
        (focal.sum_dim(2).squeeze_dim(2) * t.class_weight.clone()).sum() * (cfg.class_weight / b);
    let (boxes, direction) = if t.positives.dims()[0] == 0 {
        let zero = || Tensor::zeros([1], &t.class.device());
        (zero(), zero())
    } else {
        let pred = gather(out.boxes, t.positives.clone());
        let (rest, heading) = box_differences(pred, t.boxes.clone());
        let reg = (smooth_l1(rest, cfg.box_beta).sum_dim(1) + smooth_l1(heading, cfg.box_beta))
            .squeeze_dim(1);
        let boxes = (reg * t.box_weight.clone()).sum() * (cfg.box_weight / b);
        let logits = gather(out.direction_logits, t.positives.clone());
        let ce = (log_softmax(logits, 1) * t.direction.clone())
            .sum_dim(1)
            .squeeze_dim(1)
            .neg();
        let direction = (ce * t.box_weight.clone()).sum() * (cfg.direction_weight / b);
        (boxes, direction)
    };
    LossTerms {
        class,
        boxes,
        direction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t3(v: &[f32], shape: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &Device::flex())
    }

    fn t2(v: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &Device::flex())
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn focal_loss_matches_the_formula() {
        let x = [2.0f32, -1.0, 0.5, -3.0];
        let y = [1.0f32, 1.0, 0.0, 0.0];
        let got = values(sigmoid_focal(
            t3(&x, [1, 4, 1]),
            t3(&y, [1, 4, 1]),
            0.25,
            2.0,
        ));
        for i in 0..4 {
            let p = 1.0 / (1.0 + (-x[i] as f64).exp());
            let (pt, at) = if y[i] == 1.0 {
                (p, 0.25)
            } else {
                (1.0 - p, 0.75)
            };
            let want = -at * (1.0 - pt).powi(2) * pt.ln();
            assert!(
                (got[i] as f64 - want).abs() < 1e-6,
                "{i}: {} vs {want}",
                got[i]
            );
        }
    }

    #[test]
    fn smooth_l1_switches_at_beta_and_the_sine_trick_ignores_half_turns() {
        let got = values(smooth_l1(t3(&[0.05, -0.5], [1, 2, 1]), 1.0 / 9.0));
        assert!((got[0] - 0.5 * 0.0025 * 9.0).abs() < 1e-7);
        assert!((got[1] - (0.5 - 0.5 / 9.0)).abs() < 1e-7);
        let mut p = [0.0f32; 7];
        let mut g = [0.0f32; 7];
        p[6] = 0.3;
        g[6] = 0.3 + std::f32::consts::PI;
        let (_, heading) = box_differences(t2(&p, [1, 7]), t2(&g, [1, 7]));
        let d = values(heading);
        assert!(d.iter().all(|v| v.abs() < 1e-6), "{d:?}");
        p[..6].copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        g[6] = 0.3 + 0.5;
        let (rest, heading) = box_differences(t2(&p, [1, 7]), t2(&g, [1, 7]));
        assert_eq!(values(rest), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!((values(heading)[0] - (-0.5f32).sin()).abs() < 1e-6);
    }

    /// The loss of a small random batch against the formula summed in f64 over every anchor
    /// with the reference's dense weights (zero for the box and direction terms of
    /// non-positives), which the gathered computation must equal.
    #[test]
    fn the_batch_loss_matches_the_dense_formula() {
        let (b, n, classes) = (2usize, 6usize, 2usize);
        let device = Device::flex();
        let mut rng = kitti::rng::Rng::new(3);
        let mut random = |k: usize| {
            (0..k)
                .map(|_| rng.uniform(-2.0, 2.0) as f32)
                .collect::<Vec<_>>()
        };
        let (logits, boxes, dirs) = (
            random(b * n * classes),
            random(b * n * 7),
            random(b * n * 2),
        );
        let targets = vec![
            Targets {
                labels: vec![0, 1, -1, 2, 0, 0],
                boxes: (0..n)
                    .map(|a| [0.1 * a as f32, -0.2, 0.3, 0.0, 0.1, -0.1, 2.5])
                    .collect(),
                directions: vec![0, 1, 0, 0, 0, 0],
            },
            Targets {
                labels: vec![0, 0, 1, 0, -1, 0],
                boxes: vec![[0.05, 0.0, -0.3, 0.2, 0.0, 0.4, -1.0]; n],
                directions: vec![0, 0, 1, 0, 0, 0],
            },
        ];
        let out = HeadOutput {
            class_logits: Tensor::from_data(
                TensorData::new(logits.clone(), [b, n, classes]),
                &device,
            ),
            boxes: Tensor::from_data(TensorData::new(boxes.clone(), [b, n, 7]), &device),
            direction_logits: Tensor::from_data(TensorData::new(dirs.clone(), [b, n, 2]), &device),
        };
        let cfg = LossConfig::default();
        let terms = detection_loss(out, &TargetBatch::new(&targets, classes, &device), &cfg);
        let got = [terms.class, terms.boxes, terms.direction].map(|t| values(t)[0] as f64);

        let mut want = [0.0f64; 3];
        let beta = cfg.box_beta;
        let smooth = |d: f64| {
            if d.abs() < beta {
                0.5 * d * d / beta
            } else {
                d.abs() - 0.5 * beta
            }
        };
        for (f, t) in targets.iter().enumerate() {
            let norm = 1.0 / t.positives().max(1) as f64;
            for a in 0..n {
                let (label, i) = (t.labels[a], f * n + a);
                if label < 0 {
                    continue;
                }
                for c in 0..classes {
                    let x = logits[i * classes + c] as f64;
                    let y = if label == c as i32 + 1 { 1.0 } else { 0.0 };
                    let p = 1.0 / (1.0 + (-x).exp());
                    let (pt, at) = if y == 1.0 {
                        (p, cfg.focal_alpha)
                    } else {
                        (1.0 - p, 1.0 - cfg.focal_alpha)
                    };
                    want[0] += norm * -at * (1.0 - pt).powf(cfg.focal_gamma) * pt.ln();
                }
                if label > 0 {
                    let (p, g) = (&boxes[i * 7..i * 7 + 7], t.boxes[a]);
                    let mut reg: f64 = (0..6).map(|k| smooth(p[k] as f64 - g[k] as f64)).sum();
                    reg += smooth(
                        (p[6] as f64).sin() * (g[6] as f64).cos()
                            - (p[6] as f64).cos() * (g[6] as f64).sin(),
                    );
                    want[1] += norm * reg;
                    let (d0, d1) = (dirs[i * 2] as f64, dirs[i * 2 + 1] as f64);
                    let lse = d0.max(d1) + ((d0 - d0.max(d1)).exp() + (d1 - d0.max(d1)).exp()).ln();
                    want[2] += norm * (lse - [d0, d1][t.directions[a] as usize]);
                }
            }
        }
        let scale = [cfg.class_weight, cfg.box_weight, cfg.direction_weight].map(|w| w / b as f64);
        for k in 0..3 {
            let w = want[k] * scale[k];
            assert!(
                (got[k] - w).abs() <= 1e-5 * w.abs().max(1.0),
                "term {k}: {} vs {w}",
                got[k]
            );
        }
        assert!(want.iter().all(|&v| v > 0.0));

        // No positive anchor in the batch: box and direction terms are zero, the class term is not.
        let background = vec![
            Targets {
                labels: vec![0; n],
                boxes: vec![[0.0; 7]; n],
                directions: vec![0; n]
            };
            b
        ];
        let out = HeadOutput {
            class_logits: Tensor::from_data(TensorData::new(logits, [b, n, classes]), &device),
            boxes: Tensor::from_data(TensorData::new(boxes, [b, n, 7]), &device),
            direction_logits: Tensor::from_data(TensorData::new(dirs, [b, n, 2]), &device),
        };
        let terms = detection_loss(out, &TargetBatch::new(&background, classes, &device), &cfg);
        assert!(values(terms.class)[0] > 0.0);
        assert_eq!(values(terms.boxes)[0], 0.0);
        assert_eq!(values(terms.direction)[0], 0.0);
    }
}
