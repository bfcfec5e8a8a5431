//! PSMNet (Chang & Chen 2018), stacked-hourglass version, with its configuration.

use super::feature::FeatureExtractor;
use super::hourglass::Aggregation;
use super::refine::RefineConfig;
use crate::ops::{concat_cost_volume, fractional_concat_cost_volume, upsampled_expectation};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Architecture settings. The defaults are the reference network (5,224,768 parameters);
/// smaller widths, block counts and disparity ranges give variants that train on a CPU.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PsmNetConfig {
    /// Largest disparity (exclusive), pixels at full resolution; a multiple of 4 ×
    /// `cost_volume_scale`.
    pub max_disparity: usize,
    /// The cost volume's resolution as a fraction of the input's: 4 (the reference: features,
    /// volume and aggregation at 1/4 resolution, disparities in steps of 4 pixels) or 2 (1/2
    /// resolution, steps of 2 pixels: the second residual stage keeps stride 1).
    pub cost_volume_scale: usize,
    /// Base width of the feature extractor (stages use 1, 2, 4, 4 times it).
    pub width: usize,
    /// Residual blocks in each of the four stages.
    pub blocks: [usize; 4],
    /// Spatial pyramid pooling sizes, finest last.
    pub pyramid_pools: Vec<usize>,
    /// Feature channels entering the cost volume (it holds twice as many).
    pub feature_channels: usize,
    /// Channels of the 3-D aggregation.
    pub aggregation_channels: usize,
    /// Corner alignment of the bilinear and trilinear upsampling (PyTorch's default is false).
    pub align_corners: bool,
    /// How the cost volume's levels are spaced in disparity (`"uniform"`: the reference's, left
    /// out of written configs so that those of earlier builds read back unchanged).
    #[serde(skip_serializing_if = "LevelSpacing::is_uniform")]
    pub levels: LevelSpacing,
    /// A refinement stage at 1/2 resolution after the regression (`[model.refine]`; none in
    /// the reference network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine: Option<RefineConfig>,
}

impl Default for PsmNetConfig {
    fn default() -> Self {
        PsmNetConfig {
            max_disparity: 192,
            cost_volume_scale: 4,
            width: 32,
            blocks: [3, 16, 3, 3],
            pyramid_pools: vec![64, 32, 16, 8],
            feature_channels: 32,
            aggregation_channels: 32,
            align_corners: false,
            levels: LevelSpacing::Uniform,
            refine: None,
        }
    }
}

/// How the cost volume's levels are spaced in disparity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelSpacing {
    /// The reference's: level k at k · `cost_volume_scale` pixels (whole shifts of the feature
    /// maps), upsampled to one level a pixel before the regression.
    #[default]
    Uniform,
    /// As many levels from 1 pixel to `max_disparity` − 1 in a geometric progression, so
    /// uniform in log depth (DORN's spacing-increasing discretisation): each level about the
    /// same fraction of its depth away from the next, where uniform levels leave far objects
    /// and their background one level apart (shifts by fractions of a feature column,
    /// interpolated linearly; the regression over these levels directly).
    Geometric,
}

impl LevelSpacing {
    /// Whether the spacing is the reference's.
    pub fn is_uniform(&self) -> bool {
        *self == LevelSpacing::Uniform
    }

    /// Its name in configs.
    pub fn name(self) -> &'static str {
        match self {
            LevelSpacing::Uniform => "uniform",
            LevelSpacing::Geometric => "geometric",
        }
    }
}

/// The disparities of `count` geometric levels from 1 to `max_disparity` − 1 pixels.
pub fn geometric_levels(count: usize, max_disparity: usize) -> Vec<f32> {
    let top = (max_disparity as f64 - 1.0).max(1.0);
    let last = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|k| top.powf(k as f64 / last) as f32)
        .collect()
}

impl PsmNetConfig {
    /// The tiny network that trains on a CPU (the model of `configs/psmnet-tiny.toml`): width 8,
    /// one block a stage, pyramid pools 8 and 4, 8 feature and aggregation channels, disparities
    /// below 32.
    pub fn tiny() -> Self {
        PsmNetConfig {
            max_disparity: 32,
            cost_volume_scale: 4,
            width: 8,
            blocks: [1, 1, 1, 1],
            pyramid_pools: vec![8, 4],
            feature_channels: 8,
            aggregation_channels: 8,
            align_corners: false,
            levels: LevelSpacing::Uniform,
            refine: None,
        }
    }

    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> PsmNet {
        PsmNet {
            feature: FeatureExtractor::new(self, device),
            aggregation: Aggregation::new(self, device),
            max_disparity: self.max_disparity,
            cost_volume_scale: self.cost_volume_scale,
            align_corners: self.align_corners,
            geometric: self.levels == LevelSpacing::Geometric,
        }
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct PsmNet {
    feature: FeatureExtractor,
    aggregation: Aggregation,
    max_disparity: usize,
    cost_volume_scale: usize,
    align_corners: bool,
    geometric: bool,
}

impl PsmNet {
    /// Disparity maps `[B, H, W]` of normalised image batches `[B, 3, H, W]` (H and W multiples
    /// of 16): the three cumulative outputs when `all_outputs`, else only the last.
    pub fn forward(&self, left: Tensor<4>, right: Tensor<4>, all_outputs: bool) -> Vec<Tensor<3>> {
        self.forward_levels(left, right, all_outputs).0
    }

    /// [`PsmNet::forward`]'s outputs with the extractor's left and right 1/2-resolution maps.
    pub fn forward_levels(
        &self,
        left: Tensor<4>,
        right: Tensor<4>,
        all_outputs: bool,
    ) -> (Vec<Tensor<3>>, Tensor<4>, Tensor<4>) {
        let [_, _, h, w] = left.dims();
        let (fl, left_half) = self.feature.forward_levels(left);
        let (fr, right_half) = self.feature.forward_levels(right);
        let levels = self.max_disparity / self.cost_volume_scale;
        // The regression's disparities: the volume's own levels when they are geometric; else
        // one a pixel, the volume trilinearly upsampled to them (the reference).
        let (cost, disparities) = if self.geometric {
            let disparities = geometric_levels(levels, self.max_disparity);
            let shifts: Vec<f32> = disparities
                .iter()
                .map(|d| d / self.cost_volume_scale as f32)
                .collect();
            (fractional_concat_cost_volume(fl, fr, &shifts), disparities)
        } else {
            let disparities = (0..self.max_disparity).map(|d| d as f32).collect();
            (concat_cost_volume(fl, fr, levels), disparities)
        };
        let scores = self.aggregation.forward(cost, all_outputs);
        // Upsampling to full resolution, then soft-argmin over the disparities.
        let outputs = scores
            .into_iter()
            .map(|s| {
                upsampled_expectation(
                    s,
                    [disparities.len(), h, w],
                    &disparities,
                    self.align_corners,
                )
            })
            .collect();
        (outputs, left_half, right_half)
    }
}
