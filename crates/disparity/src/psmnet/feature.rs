//! PSMNet's shared 2-D feature extractor: three 3×3 convolutions (the first with stride 2),
//! four residual stages (the second with stride 2, the last dilated), spatial pyramid pooling,
//! and a fusion to the cost-volume feature width, at 1/4 resolution (1/2 with
//! `cost_volume_scale = 2`, where the second stage keeps stride 1).

use super::layers::{reference_init, BasicBlock, ConvBn};
use super::model::PsmNetConfig;
use crate::ops::bilinear;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

/// One pyramid branch: average pooling over `pool` × `pool`, a 1×1 conv-bn, ReLU.
#[derive(Module, Debug)]
pub struct PyramidBranch {
    pool: usize,
    conv: ConvBn,
}

/// The feature extractor.
#[derive(Module, Debug)]
pub struct FeatureExtractor {
    first: Vec<ConvBn>,
    stages: Vec<Vec<BasicBlock>>,
    branches: Vec<PyramidBranch>,
    fuse: ConvBn,
    project: Conv2d,
    align_corners: bool,
}

impl FeatureExtractor {
    /// Builds the extractor for a configuration.
    pub fn new(cfg: &PsmNetConfig, device: &Device) -> Self {
        let c = cfg.width;
        let widths = [c, 2 * c, 4 * c, 4 * c];
        let strides = [1, cfg.cost_volume_scale / 2, 1, 1];
        let dilations = [1, 1, 1, 2];
        let mut cin = c;
        let stages = (0..4)
            .map(|s| {
                (0..cfg.blocks[s])
                    .map(|i| {
                        let block = BasicBlock::new(
                            cin,
                            widths[s],
                            if i == 0 { strides[s] } else { 1 },
                            dilations[s],
                            device,
                        );
                        cin = widths[s];
                        block
                    })
                    .collect()
            })
            .collect();
        let branches = cfg
            .pyramid_pools
            .iter()
            .map(|&pool| PyramidBranch {
                pool,
                conv: ConvBn::new(4 * c, c, 1, 1, 0, 1, device),
            })
            .collect::<Vec<_>>();
        let fused_in = 2 * c + 4 * c + c * cfg.pyramid_pools.len();
        FeatureExtractor {
            first: vec![
                ConvBn::new(3, c, 3, 2, 1, 1, device),
                ConvBn::new(c, c, 3, 1, 1, 1, device),
                ConvBn::new(c, c, 3, 1, 1, 1, device),
            ],
            stages,
            branches,
            fuse: ConvBn::new(fused_in, 4 * c, 3, 1, 1, 1, device),
            project: Conv2dConfig::new([4 * c, cfg.feature_channels], [1, 1])
                .with_bias(false)
                .with_initializer(reference_init(1, cfg.feature_channels))
                .init(device),
            align_corners: cfg.align_corners,
        }
    }

    /// Features `[B, feature_channels, H/s, W/s]` of images `[B, 3, H, W]`, s the
    /// configuration's `cost_volume_scale`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_levels(x).0
    }

    /// [`FeatureExtractor::forward`]'s features and the maps `[B, width, H/2, W/2]` after the
    /// first three convolutions.
    pub fn forward_levels(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let mut half = x;
        for conv in &self.first {
            half = relu(conv.forward(half));
        }
        let out = half.clone();
        let run =
            |blocks: &Vec<BasicBlock>, x: Tensor<4>| blocks.iter().fold(x, |x, b| b.forward(x));
        let out = run(&self.stages[0], out);
        let raw = run(&self.stages[1], out);
        let out = run(&self.stages[2], raw.clone());
        let skip = run(&self.stages[3], out);
        let [_, _, h, w] = skip.dims();
        let mut parts = vec![raw, skip.clone()];
        // The reference concatenates the coarsest pooling branch first.
        for branch in self.branches.iter().rev() {
            // A pool larger than the feature map becomes global pooling (tiny CPU inputs).
            let (kh, kw) = (branch.pool.min(h), branch.pool.min(w));
            let pooled = avg_pool2d(skip.clone(), AvgPoolOptions::new([kh, kw]));
            let feat = relu(branch.conv.forward(pooled));
            parts.push(bilinear(feat, [h, w], self.align_corners));
        }
        let fused = relu(self.fuse.forward(Tensor::cat(parts, 1)));
        (self.project.forward(fused), half)
    }
}
