//! PointPillars' training loss: sigmoid focal loss over positive and negative anchors,
//! smooth-L1 on the box residuals of positives with the sine trick on the heading, and the
//! direction cross-entropy of positives; each frame's terms normalised by its positive count,
//! then averaged over the batch.

use crate::config::LossConfig;
use crate::model::HeadOutput;
use crate::targets::Targets;
use burn::tensor::activation::{log_softmax, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

/// The targets of a batch as tensors.
#[derive(Debug, Clone)]
pub struct TargetBatch {
    /// `[B, N, C]` one-hot class of positives (zero rows elsewhere).
    pub class: Tensor<3>,
    /// `[B, N]` classification weight: 1 / positives of the frame for positives and negatives.
    pub class_weight: Tensor<2>,
    /// `[B, N, 7]` encoded boxes.
    pub boxes: Tensor<3>,
    /// `[B, N]` regression weight: 1 / positives of the frame for positives.
    pub box_weight: Tensor<2>,
    /// `[B, N, 2]` one-hot direction bin.
    pub direction: Tensor<3>,
}

impl TargetBatch {
    /// Stacks the targets of a batch of frames for a model with `classes` classes.
    pub fn new(targets: &[Targets], classes: usize, device: &Device) -> Self {
        let b = targets.len();
        let n = targets.first().map_or(0, |t| t.labels.len());
        let mut class = vec![0.0f32; b * n * classes];
        let mut class_weight = vec![0.0f32; b * n];
        let mut boxes = vec![0.0f32; b * n * 7];
        let mut box_weight = vec![0.0f32; b * n];
        let mut direction = vec![0.0f32; b * n * 2];
        for (f, t) in targets.iter().enumerate() {
            let norm = 1.0 / t.positives().max(1) as f32;
            for (a, &label) in t.labels.iter().enumerate() {
                let i = f * n + a;
                if label >= 0 {
                    class_weight[i] = norm;
                }
                if label > 0 {
                    class[i * classes + label as usize - 1] = 1.0;
                    box_weight[i] = norm;
                    boxes[i * 7..i * 7 + 7].copy_from_slice(&t.boxes[a]);
                    direction[i * 2 + t.directions[a] as usize] = 1.0;
                }
            }
        }
        let t3 =
            |v: Vec<f32>, k: usize| Tensor::<3>::from_data(TensorData::new(v, [b, n, k]), device);
        let t2 = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [b, n]), device);
        TargetBatch {
            class: t3(class, classes),
            class_weight: t2(class_weight),
            boxes: t3(boxes, 7),
            box_weight: t2(box_weight),
            direction: t3(direction, 2),
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
pub fn smooth_l1(diff: Tensor<3>, beta: f64) -> Tensor<3> {
    let a = diff.abs();
    let small = a.clone().lower_elem(beta);
    let quadratic = a.clone().powf_scalar(2.0) * (0.5 / beta);
    let linear = a - 0.5 * beta;
    linear.mask_where(small, quadratic)
}

/// Replaces the heading column of predictions and targets by sin(p)·cos(t) and cos(p)·sin(t):
/// their difference is sin(p − t), blind to a half-turn (the direction head resolves that).
pub fn sine_trick(pred: Tensor<3>, target: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let [b, n, _] = pred.dims();
    let p = pred.clone().slice([0..b, 0..n, 6..7]);
    let t = target.clone().slice([0..b, 0..n, 6..7]);
    let p_new = p.clone().sin() * t.clone().cos();
    let t_new = p.cos() * t.sin();
    (
        Tensor::cat(vec![pred.slice([0..b, 0..n, 0..6]), p_new], 2),
        Tensor::cat(vec![target.slice([0..b, 0..n, 0..6]), t_new], 2),
    )
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
    let (p, g) = sine_trick(out.boxes, t.boxes.clone());
    let reg = smooth_l1(p - g, cfg.box_beta).sum_dim(2).squeeze_dim(2);
    let boxes = (reg * t.box_weight.clone()).sum() * (cfg.box_weight / b);
    let ce = (log_softmax(out.direction_logits, 2) * t.direction.clone())
        .sum_dim(2)
        .squeeze_dim(2)
        .neg();
    let direction = (ce * t.box_weight.clone()).sum() * (cfg.direction_weight / b);
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

    fn values(t: Tensor<3>) -> Vec<f32> {
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
        let (a, b) = sine_trick(t3(&p, [1, 1, 7]), t3(&g, [1, 1, 7]));
        let d = values(a - b);
        assert!(d.iter().all(|v| v.abs() < 1e-6), "{d:?}");
    }
}
