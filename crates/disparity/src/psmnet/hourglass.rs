//! PSMNet's 3-D cost aggregation: two 3-D conv blocks, a residual block, three stacked
//! hourglasses (stride-2 3-D convolutions down twice, transposed convolutions up twice, skip
//! connections between hourglasses), and a classifier head after each.

use super::layers::{reference_init, ConvBn3d, DeconvBn3d};
use crate::psmnet::model::PsmNetConfig;
use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::PaddingConfig3d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// One hourglass on `c` channels (2c inside).
#[derive(Module, Debug)]
pub struct Hourglass {
    conv1: ConvBn3d,
    conv2: ConvBn3d,
    conv3: ConvBn3d,
    conv4: ConvBn3d,
    conv5: DeconvBn3d,
    conv6: DeconvBn3d,
}

/// An hourglass's outputs: the result and the two skip tensors the next hourglass takes.
pub struct HourglassOut {
    /// Output at the input resolution.
    pub out: Tensor<5>,
    /// Features after the first downsampling ("pre").
    pub pre: Tensor<5>,
    /// Features after the first upsampling ("post").
    pub post: Tensor<5>,
}

impl Hourglass {
    /// An hourglass on `c` channels.
    pub fn new(c: usize, device: &Device) -> Self {
        Hourglass {
            conv1: ConvBn3d::new(c, 2 * c, 2, device),
            conv2: ConvBn3d::new(2 * c, 2 * c, 1, device),
            conv3: ConvBn3d::new(2 * c, 2 * c, 2, device),
            conv4: ConvBn3d::new(2 * c, 2 * c, 1, device),
            conv5: DeconvBn3d::new(2 * c, 2 * c, device),
            conv6: DeconvBn3d::new(2 * c, c, device),
        }
    }

    /// The reference's `forward(x, presqu, postsqu)`.
    pub fn forward(
        &self,
        x: Tensor<5>,
        presqu: Option<Tensor<5>>,
        postsqu: Option<Tensor<5>>,
    ) -> HourglassOut {
        let out = relu(self.conv1.forward(x));
        let pre = self.conv2.forward(out);
        let pre = relu(match postsqu {
            Some(p) => pre + p,
            None => pre,
        });
        let out = relu(self.conv3.forward(pre.clone()));
        let out = relu(self.conv4.forward(out));
        let up = self.conv5.forward(out);
        let post = relu(match presqu {
            Some(p) => up + p,
            None => up + pre.clone(),
        });
        let out = self.conv6.forward(post.clone());
        HourglassOut { out, pre, post }
    }
}

/// A classifier head: conv-bn-relu, then a 3-D conv to one channel.
#[derive(Module, Debug)]
pub struct Classifier {
    conv: ConvBn3d,
    out: Conv3d,
}

impl Classifier {
    /// A head on `c` channels.
    pub fn new(c: usize, device: &Device) -> Self {
        Classifier {
            conv: ConvBn3d::new(c, c, 1, device),
            out: Conv3dConfig::new([c, 1], [3, 3, 3])
                .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                .with_bias(false)
                .with_initializer(reference_init(27, 1))
                .init(device),
        }
    }

    /// Scores `[B, 1, D, H, W]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.out.forward(relu(self.conv.forward(x)))
    }
}

/// The whole 3-D aggregation of PSMNet, shared with SDN: cost volume → the three cumulative
/// score volumes `[B, 1, D, H, W]`.
#[derive(Module, Debug)]
pub struct Aggregation {
    dres0: Vec<ConvBn3d>,
    dres1: Vec<ConvBn3d>,
    hourglasses: Vec<Hourglass>,
    classifiers: Vec<Classifier>,
}

impl Aggregation {
    /// The aggregation for a configuration.
    pub fn new(cfg: &PsmNetConfig, device: &Device) -> Self {
        let c = cfg.aggregation_channels;
        Aggregation {
            dres0: vec![
                ConvBn3d::new(2 * cfg.feature_channels, c, 1, device),
                ConvBn3d::new(c, c, 1, device),
            ],
            dres1: vec![
                ConvBn3d::new(c, c, 1, device),
                ConvBn3d::new(c, c, 1, device),
            ],
            hourglasses: (0..3).map(|_| Hourglass::new(c, device)).collect(),
            classifiers: (0..3).map(|_| Classifier::new(c, device)).collect(),
        }
    }

    /// Score volumes of the three outputs (cumulative, as in the reference) when `all_outputs`,
    /// else only the last.
    pub fn forward(&self, cost: Tensor<5>, all_outputs: bool) -> Vec<Tensor<5>> {
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
        if all_outputs {
            vec![c1, c2, c3]
        } else {
            vec![c3]
        }
    }
}
