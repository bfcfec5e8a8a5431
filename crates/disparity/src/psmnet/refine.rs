//! An optional refinement stage after PSMNet's regression, a cascade step as in CasStereoNet
//! (Gu et al. 2020): matching again at 1/2 resolution, in a narrow band of disparities around
//! PSMNet's estimate. PSMNet matches at 1/4 resolution; a car 30 m away at half KITTI size
//! spans about 6 px of disparity and 5 feature columns there, and its estimate is off by a pixel
//! or more. The stage adds the expected offset of the band to the estimate.

use super::layers::{ConvBn, ConvBn3d};
use super::model::{PsmNet, PsmNetConfig};
use crate::ops::{bilinear, soft_expectation, warp_width};
use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{Initializer, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

/// Settings of the refinement stage (`[model.refine]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefineConfig {
    /// Hypotheses on each side of PSMNet's estimate (2·offsets + 1 in all).
    pub offsets: usize,
    /// Spacing of the hypotheses, pixels at full resolution.
    pub step: f32,
    /// Channels of the matching features and of the 3-D convolutions.
    pub channels: usize,
}

impl Default for RefineConfig {
    fn default() -> Self {
        RefineConfig {
            offsets: 4,
            step: 1.0,
            channels: 8,
        }
    }
}

impl RefineConfig {
    /// The offsets of the hypotheses from the estimate, pixels at full resolution.
    pub fn offset_values(&self) -> Vec<f32> {
        band(self.offsets, self.step)
    }
}

/// `offsets` hypotheses `step` apart on each side of 0, and 0.
fn band(offsets: usize, step: f32) -> Vec<f32> {
    let k = offsets as f32;
    (0..2 * offsets + 1)
        .map(|i| (i as f32 - k) * step)
        .collect()
}

/// The stage: matching features from the extractor's 1/2-resolution maps, a band cost volume,
/// two 3-D conv blocks and a score layer that starts at zero (so a stage added to trained
/// weights starts by returning their estimate unchanged).
#[derive(Module, Debug)]
pub struct Refinement {
    unary: Vec<ConvBn>,
    cost: Vec<ConvBn3d>,
    score: Conv3d,
    offsets: usize,
    step: f32,
    align_corners: bool,
}

impl Refinement {
    /// The stage on half-resolution features of `half_channels` channels.
    pub fn new(
        cfg: &RefineConfig,
        half_channels: usize,
        align_corners: bool,
        device: &Device,
    ) -> Self {
        let c = cfg.channels;
        Refinement {
            unary: vec![
                ConvBn::new(half_channels, c, 3, 1, 1, 1, device),
                ConvBn::new(c, c, 3, 1, 1, 1, device),
            ],
            cost: vec![
                ConvBn3d::new(2 * c, c, 1, device),
                ConvBn3d::new(c, c, 1, device),
            ],
            score: Conv3dConfig::new([c, 1], [3, 3, 3])
                .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                .with_bias(false)
                .with_initializer(Initializer::Zeros)
                .init(device),
            offsets: cfg.offsets,
            step: cfg.step,
            align_corners,
        }
    }

    fn matching_features(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.unary[0].forward(x));
        self.unary[1].forward(x)
    }

    /// The refined disparity `[B, H, W]` of an estimate `[B, H, W]` (taken as a constant) from
    /// the left and right half-resolution maps `[B, C, H/2, W/2]`.
    pub fn forward(
        &self,
        left_half: Tensor<4>,
        right_half: Tensor<4>,
        estimate: Tensor<3>,
    ) -> Tensor<3> {
        let [b, h, w] = estimate.dims();
        let estimate = estimate.detach();
        let fl = self.matching_features(left_half);
        let fr = self.matching_features(right_half);
        let [_, _, hh, wh] = fl.dims();
        // The estimate averaged over each half-resolution pixel (full-resolution pixels); each
        // hypothesis shifts by it plus its offset, in half-resolution pixels.
        let factor = (w / wh) as f32;
        let pooled = avg_pool2d(
            estimate.clone().unsqueeze_dim::<4>(1),
            AvgPoolOptions::new([h / hh, w / wh]),
        )
        .squeeze_dim::<3>(1);
        let offsets = band(self.offsets, self.step);
        let slices: Vec<Tensor<5>> = offsets
            .iter()
            .map(|&o| {
                let warped = warp_width(fr.clone(), (pooled.clone() + o) / factor);
                Tensor::cat(vec![fl.clone(), warped], 1).unsqueeze_dim(2)
            })
            .collect();
        let mut x = Tensor::cat(slices, 2);
        for layer in &self.cost {
            x = relu(layer.forward(x));
        }
        let scores = self.score.forward(x).squeeze_dim::<4>(1);
        let residual = soft_expectation(scores, &offsets);
        let residual = bilinear(residual.unsqueeze_dim(1), [h, w], self.align_corners);
        estimate + residual.reshape([b, h, w])
    }
}

/// PSMNet followed by the refinement stage: the network a config with `[model.refine]` builds.
#[derive(Module, Debug)]
pub struct RefinedPsmNet {
    /// PSMNet (its weights load from a run without the stage, as a start).
    pub base: PsmNet,
    refine: Refinement,
}

impl RefinedPsmNet {
    /// Builds the network of `cfg` (whose `refine` must be set) on `device`.
    pub fn new(cfg: &PsmNetConfig, device: &Device) -> Self {
        let refine = cfg.refine.clone().unwrap_or_default();
        RefinedPsmNet {
            base: cfg.init(device),
            refine: Refinement::new(&refine, cfg.width, cfg.align_corners, device),
        }
    }

    /// PSMNet's three outputs and the refined disparity last when `all_outputs`, else only the
    /// refined disparity; `[B, H, W]` each.
    pub fn forward(&self, left: Tensor<4>, right: Tensor<4>, all_outputs: bool) -> Vec<Tensor<3>> {
        let (mut outputs, left_half, right_half) =
            self.base.forward_levels(left, right, all_outputs);
        let estimate = outputs.last().expect("one output").clone();
        let refined = self.refine.forward(left_half, right_half, estimate);
        if all_outputs {
            outputs.push(refined);
            outputs
        } else {
            vec![refined]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offsets_are_symmetric_about_the_estimate() {
        let cfg = RefineConfig {
            offsets: 2,
            step: 0.5,
            channels: 4,
        };
        assert_eq!(cfg.offset_values(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    }

    #[test]
    fn a_new_stage_returns_psmnets_estimate_and_outputs_four_maps() {
        let mut cfg = PsmNetConfig::tiny();
        cfg.refine = Some(RefineConfig::default());
        let device = Device::flex();
        let net = burn_support::seeded_init(&device, 3, || RefinedPsmNet::new(&cfg, &device));
        let left = super::super::test_image(&device);
        let right = left.clone() * 0.9;
        let all = net.forward(left.clone(), right.clone(), true);
        assert_eq!(all.len(), 4);
        let base = net
            .base
            .forward(left.clone(), right.clone(), false)
            .pop()
            .unwrap();
        let refined = net.forward(left, right, false).pop().unwrap();
        let (b, r) = (
            base.into_data().try_to_vec::<f32>().unwrap(),
            refined.into_data().try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(b.len(), 32 * 64);
        // The zero score layer gives equal scores, so the expected offset is zero.
        for (x, y) in b.iter().zip(&r) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
}
