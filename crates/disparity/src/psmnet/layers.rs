//! Convolution + batch-norm building blocks shared by the stereo networks.

use burn::module::Module;
use burn::nn::conv::{
    Conv2d, Conv2dConfig, Conv3d, Conv3dConfig, ConvTranspose3d, ConvTranspose3dConfig,
};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// The reference's initialisation of a convolution's weights (PSMNet's `__init__` loop):
/// normal with mean 0 and std √(2 / n), n = kernel elements × output channels. Batch norm keeps
/// burn's 1 / 0, as the reference; transposed convolutions keep the framework default there too.
pub fn reference_init(kernel_elements: usize, out_channels: usize) -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: (2.0 / (kernel_elements * out_channels) as f64).sqrt(),
    }
}

/// 2-D convolution without bias followed by batch norm (PSMNet's `convbn`); padding equals the
/// dilation for dilated kernels, as in the reference.
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    /// A `kernel`×`kernel` convolution `cin → cout` with `stride`, `pad` and `dilation`.
    pub fn new(
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        dilation: usize,
        device: &Device,
    ) -> Self {
        let p = if dilation > 1 { dilation } else { pad };
        ConvBn {
            conv: Conv2dConfig::new([cin, cout], [kernel, kernel])
                .with_stride([stride, stride])
                .with_dilation([dilation, dilation])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_bias(false)
                .with_initializer(reference_init(kernel * kernel, cout))
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
        }
    }

    /// conv → bn.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// ResNet basic block without the final ReLU (PSMNet's `BasicBlock`).
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    /// A block `cin → cout`; a 1×1 projection is added when the shape changes.
    pub fn new(cin: usize, cout: usize, stride: usize, dilation: usize, device: &Device) -> Self {
        BasicBlock {
            conv1: ConvBn::new(cin, cout, 3, stride, 1, dilation, device),
            conv2: ConvBn::new(cout, cout, 3, 1, 1, dilation, device),
            downsample: (stride != 1 || cin != cout)
                .then(|| ConvBn::new(cin, cout, 1, stride, 0, 1, device)),
        }
    }

    /// conv2(relu(conv1(x))) + shortcut(x).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = self.conv2.forward(relu(self.conv1.forward(x.clone())));
        let shortcut = match &self.downsample {
            Some(d) => d.forward(x),
            None => x,
        };
        out + shortcut
    }
}

/// 3-D convolution without bias followed by batch norm (`convbn_3d`).
#[derive(Module, Debug)]
pub struct ConvBn3d {
    conv: Conv3d,
    bn: BatchNorm,
}

impl ConvBn3d {
    /// A 3×3×3 convolution `cin → cout` with `stride` and padding 1.
    pub fn new(cin: usize, cout: usize, stride: usize, device: &Device) -> Self {
        ConvBn3d {
            conv: Conv3dConfig::new([cin, cout], [3, 3, 3])
                .with_stride([stride; 3])
                .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                .with_bias(false)
                .with_initializer(reference_init(27, cout))
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
        }
    }

    /// conv → bn.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// Transposed 3-D convolution (stride 2, doubling each axis) followed by batch norm.
#[derive(Module, Debug)]
pub struct DeconvBn3d {
    conv: ConvTranspose3d,
    bn: BatchNorm,
}

impl DeconvBn3d {
    /// A 3×3×3 transposed convolution `cin → cout`, stride 2, padding 1, output padding 1.
    pub fn new(cin: usize, cout: usize, device: &Device) -> Self {
        DeconvBn3d {
            conv: ConvTranspose3dConfig::new([cin, cout], [3, 3, 3])
                .with_stride([2; 3])
                .with_padding([1; 3])
                .with_padding_out([1; 3])
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
        }
    }

    /// deconv → bn.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.bn.forward(self.conv.forward(x))
    }
}
