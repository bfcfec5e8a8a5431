//! PSMNet (Chang & Chen 2018), stacked-hourglass version, with its configuration.

use super::feature::FeatureExtractor;
use super::hourglass::{Classifier, Hourglass};
use super::layers::ConvBn3d;
use crate::ops::{concat_cost_volume, soft_argmin, trilinear};
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Architecture settings. The defaults are the reference network (5,224,768 parameters);
/// smaller widths, block counts and disparity ranges give variants that train on a CPU.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PsmNetConfig {
    /// Largest disparity (exclusive), pixels at full resolution; a multiple of 4.
    pub max_disparity: usize,
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
}

impl Default for PsmNetConfig {
    fn default() -> Self {
        PsmNetConfig {
            max_disparity: 192,
            width: 32,
            blocks: [3, 16, 3, 3],
            pyramid_pools: vec![64, 32, 16, 8],
            feature_channels: 32,
            aggregation_channels: 32,
            align_corners: false,
        }
    }
}

impl PsmNetConfig {
    /// The tiny network that trains on a CPU (the model of `configs/psmnet-tiny.toml`): width 8,
    /// one block a stage, pyramid pools 8 and 4, 8 feature and aggregation channels, disparities
    /// below 32.
    pub fn tiny() -> Self {
        PsmNetConfig {
            max_disparity: 32,
            width: 8,
            blocks: [1, 1, 1, 1],
            pyramid_pools: vec![8, 4],
            feature_channels: 8,
            aggregation_channels: 8,
            align_corners: false,
        }
    }

    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> PsmNet {
        let c = self.aggregation_channels;
        PsmNet {
            feature: FeatureExtractor::new(self, device),
            dres0: vec![
                ConvBn3d::new(2 * self.feature_channels, c, 1, device),
                ConvBn3d::new(c, c, 1, device),
            ],
            dres1: vec![
                ConvBn3d::new(c, c, 1, device),
                ConvBn3d::new(c, c, 1, device),
            ],
            hourglasses: (0..3).map(|_| Hourglass::new(c, device)).collect(),
            classifiers: (0..3).map(|_| Classifier::new(c, device)).collect(),
            max_disparity: self.max_disparity,
            align_corners: self.align_corners,
        }
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct PsmNet {
    feature: FeatureExtractor,
    dres0: Vec<ConvBn3d>,
    dres1: Vec<ConvBn3d>,
    hourglasses: Vec<Hourglass>,
    classifiers: Vec<Classifier>,
    max_disparity: usize,
    align_corners: bool,
}

impl PsmNet {
    /// Disparity maps `[B, H, W]` of normalised image batches `[B, 3, H, W]` (H and W multiples
    /// of 16): the three cumulative outputs when `all_outputs`, else only the last.
    pub fn forward(&self, left: Tensor<4>, right: Tensor<4>, all_outputs: bool) -> Vec<Tensor<3>> {
        let [_, _, h, w] = left.dims();
        let fl = self.feature.forward(left);
        let fr = self.feature.forward(right);
        let cost = concat_cost_volume(fl, fr, self.max_disparity / 4);
        let cost0 = relu(self.dres0[1].forward(relu(self.dres0[0].forward(cost))));
        let cost0 = self.dres1[1].forward(relu(self.dres1[0].forward(cost0.clone()))) + cost0;
        let h1 = self.hourglasses[0].forward(cost0.clone(), None, None);
        let out1 = h1.out + cost0.clone();
        let h2 = self.hourglasses[1].forward(out1.clone(), Some(h1.pre.clone()), Some(h1.post));
        let out2 = h2.out + cost0.clone();
        // The reference passes the first hourglass's `pre` to the third as well.
        let h3 = self.hourglasses[2].forward(out2.clone(), Some(h1.pre), Some(h2.post));
        let out3 = h3.out + cost0;
        let c1 = self.classifiers[0].forward(out1);
        let c2 = self.classifiers[1].forward(out2) + c1.clone();
        let c3 = self.classifiers[2].forward(out3) + c2.clone();
        let scores = if all_outputs {
            vec![c1, c2, c3]
        } else {
            vec![c3]
        };
        scores
            .into_iter()
            .map(|s| {
                let up = trilinear(s, [self.max_disparity, h, w], self.align_corners);
                soft_argmin(up.squeeze_dim(1))
            })
            .collect()
    }
}
