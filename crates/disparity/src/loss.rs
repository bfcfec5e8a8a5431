//! The training losses of the stereo networks: smooth-L1 on disparity (pixels) or on depth
//! (metres, both sides mapped through depth = f_u·B / max(d, 1e-8)), on valid ground-truth
//! pixels only, weighted 0.5 / 0.7 / 1.0 over PSMNet's three outputs. Swapping the loss is the
//! "improvement" of the upstream model the project studies.

use burn::tensor::{Bool, Tensor};

/// Which quantity the loss compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Smooth-L1 on disparity, pixels (PSMNet's own loss).
    Disparity,
    /// Smooth-L1 on depth, metres.
    Depth,
}

/// Weights of PSMNet's three outputs.
pub const OUTPUT_WEIGHTS: [f64; 3] = [0.5, 0.7, 1.0];
/// Weights of PSMNet's three outputs and the refinement stage's (the network's prediction, so
/// weighted as PSMNet's last).
pub const REFINED_OUTPUT_WEIGHTS: [f64; 4] = [0.5, 0.7, 1.0, 1.0];
/// Smallest disparity used when mapping to depth.
pub const MIN_DISPARITY: f64 = 1e-8;

/// Smooth-L1 (Huber with β = 1) of a difference, element-wise.
pub fn smooth_l1(diff: Tensor<3>) -> Tensor<3> {
    let a = diff.abs();
    let small = a.clone().lower_elem(1.0);
    let quadratic = a.clone().powf_scalar(2.0) * 0.5;
    let linear = a - 0.5;
    linear.mask_where(small, quadratic)
}

/// Which ground-truth pixels the loss counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossMask {
    /// Every pixel with ground truth above 0 (the paper's `finetune_3d.py`, PSMNet's
    /// `finetune.py`): pixels nearer than the network's range still pull towards its end.
    #[default]
    Positive,
    /// Ground truth above 0 and below the network's largest disparity (PSMNet's SceneFlow
    /// `main.py`).
    BelowMax,
}

/// Pixels that count: ground truth above 0 and, when `below` is given, below it.
pub fn valid_mask(gt: &Tensor<3>, below: Option<f64>) -> Tensor<3, Bool> {
    let positive = gt.clone().greater_elem(0.0);
    match below {
        Some(max) => positive.bool_and(gt.clone().lower_elem(max)),
        None => positive,
    }
}

/// Smooth-L1 of `diff` averaged over the pixels of `mask` (0 when the mask is empty).
pub fn masked_smooth_l1(diff: Tensor<3>, mask: Tensor<3, Bool>) -> Tensor<1> {
    weighted_smooth_l1(diff, mask.float())
}

/// Smooth-L1 of `diff` averaged with per-pixel `weights` (Σ w·l / Σ w; 0 when every weight is
/// 0).
pub fn weighted_smooth_l1(diff: Tensor<3>, weights: Tensor<3>) -> Tensor<1> {
    let total = weights.clone().sum().clamp_min(1.0);
    (smooth_l1(diff) * weights).sum() / total
}

/// Σ wᵢ·loss(outputᵢ) with PSMNet's weights 0.5 / 0.7 / 1.0 over three outputs (and 1.0 for a
/// fourth, the refinement stage's), or the plain loss of a single output.
pub fn weighted_over_outputs(
    preds: &[Tensor<3>],
    loss: impl Fn(Tensor<3>) -> Tensor<1>,
) -> Tensor<1> {
    let weights: &[f64] = match preds.len() {
        3 => &OUTPUT_WEIGHTS,
        4 => &REFINED_OUTPUT_WEIGHTS,
        _ => &[1.0],
    };
    preds
        .iter()
        .zip(weights)
        .map(|(p, w)| loss(p.clone()) * *w)
        .reduce(|a, b| a + b)
        .expect("at least one output")
}

/// The loss of one prediction `[B, H, W]` against ground truth, averaged over valid pixels with
/// their `weights` (0 on pixels that do not count). `fb` holds f_u·B of each sample `[B]` (used
/// by the depth loss).
pub fn output_loss(
    pred: Tensor<3>,
    gt: Tensor<3>,
    weights: Tensor<3>,
    fb: Tensor<1>,
    kind: LossKind,
) -> Tensor<1> {
    let [b, _, _] = gt.dims();
    let diff = match kind {
        LossKind::Disparity => pred - gt,
        LossKind::Depth => {
            let fb = fb.reshape([b, 1, 1]);
            fb.clone() / pred.clamp_min(MIN_DISPARITY) - fb / gt.clamp_min(MIN_DISPARITY)
        }
    };
    weighted_smooth_l1(diff, weights)
}

/// PSMNet's training loss: 0.5·L₁ + 0.7·L₂ + 1.0·L₃ over the three outputs (or the plain loss of
/// a single output), on ground truth above 0 and, when `below` is given, below it.
pub fn psm_loss(
    preds: &[Tensor<3>],
    gt: Tensor<3>,
    fb: Tensor<1>,
    kind: LossKind,
    below: Option<f64>,
) -> Tensor<1> {
    weighted_psm_loss(preds, gt, fb, kind, below, None)
}

/// [`psm_loss`] with per-pixel weights `[B, H, W]` on the valid pixels (a weighted mean over
/// them; None: every valid pixel alike).
pub fn weighted_psm_loss(
    preds: &[Tensor<3>],
    gt: Tensor<3>,
    fb: Tensor<1>,
    kind: LossKind,
    below: Option<f64>,
    pixel_weights: Option<Tensor<3>>,
) -> Tensor<1> {
    let valid = valid_mask(&gt, below).float();
    let weights = match pixel_weights {
        Some(w) => valid * w,
        None => valid,
    };
    weighted_over_outputs(preds, |p| {
        output_loss(p, gt.clone(), weights.clone(), fb.clone(), kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn grads_of(kind: LossKind) -> Vec<f32> {
        let device = Device::flex().autodiff();
        // f·B = 400: a near pixel at 50 px (8 m) and a far one at 5 px (80 m), both predicted
        // 1 px too high; a third pixel without ground truth.
        let pred = Tensor::<3>::from_data(
            TensorData::new(vec![51.0f32, 6.0, 30.0], [1, 1, 3]),
            &device,
        )
        .require_grad();
        let gt =
            Tensor::<3>::from_data(TensorData::new(vec![50.0f32, 5.0, 0.0], [1, 1, 3]), &device);
        let fb = Tensor::<1>::from_data(TensorData::new(vec![400.0f32], [1]), &device);
        let loss = psm_loss(std::slice::from_ref(&pred), gt, fb, kind, Some(192.0));
        let grads = loss.backward();
        pred.grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn depth_loss_weighs_far_pixels_more_than_the_disparity_loss() {
        let disp = grads_of(LossKind::Disparity);
        let depth = grads_of(LossKind::Depth);
        // Disparity loss: |Δd| = 1 is the Huber knee, gradient 1 / 2 valid pixels, equal for both.
        assert!(
            (disp[0] - 0.5).abs() < 1e-6 && (disp[1] - 0.5).abs() < 1e-6,
            "{disp:?}"
        );
        // Depth loss: Δz = 400/51 − 8 = −0.157 m near (quadratic zone), 400/6 − 80 = −13.3 m far
        // (linear zone). ∂z/∂d = −400/d²: near −0.154, far −11.1; the far pixel dominates.
        let near = 0.5 * (400.0 / 51.0 - 8.0) * (-400.0 / 51.0f32.powi(2));
        // Slope −1 of the Huber loss in its linear zone, halved by the 2 valid pixels.
        let far = -0.5 * (-400.0 / 36.0);
        assert!(
            (depth[0] - near).abs() < 1e-4 && (depth[1] - far).abs() < 1e-3,
            "{depth:?} vs {near}, {far}"
        );
        assert!(depth[1] / depth[0] > 200.0);
        // No ground truth, no gradient.
        assert_eq!((disp[2], depth[2]), (0.0, 0.0));
    }

    #[test]
    fn object_weights_give_a_weighted_mean_over_the_valid_pixels() {
        let device = Device::flex();
        let t = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [1, 1, 4]), &device);
        // Errors 0.5, 2, 3 px on valid pixels, the last pixel without ground truth.
        let pred = t(vec![10.5, 12.0, 3.0, 7.0]);
        let gt = t(vec![10.0, 10.0, 6.0, 0.0]);
        let fb = Tensor::<1>::from_data(TensorData::new(vec![400.0f32], [1]), &device);
        // Smooth-L1: 0.125, 1.5, 2.5; the second and last pixels on an object, weight 4.
        let weights = t(vec![1.0, 4.0, 1.0, 4.0]);
        let loss = |w: Option<Tensor<3>>| -> f32 {
            weighted_psm_loss(
                std::slice::from_ref(&pred),
                gt.clone(),
                fb.clone(),
                LossKind::Disparity,
                None,
                w,
            )
            .into_scalar()
        };
        let expected = (0.125 + 4.0 * 1.5 + 2.5) / (1.0 + 4.0 + 1.0);
        assert!((loss(Some(weights)) - expected).abs() < 1e-6);
        // Unit weights are the plain loss.
        let plain = (0.125 + 1.5 + 2.5) / 3.0;
        assert!((loss(Some(t(vec![1.0; 4]))) - plain).abs() < 1e-6);
        assert!((loss(None) - plain).abs() < 1e-6);
    }

    #[test]
    fn smooth_l1_by_hand() {
        let device = Device::flex();
        let d =
            Tensor::<3>::from_data(TensorData::new(vec![0.5f32, -2.0, 0.0], [1, 1, 3]), &device);
        assert_eq!(
            smooth_l1(d).into_data().try_to_vec::<f32>().unwrap(),
            vec![0.125, 1.5, 0.0]
        );
    }
}
