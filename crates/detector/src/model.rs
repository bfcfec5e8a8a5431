//! PointPillars (Lang et al. 2019) in burn: the pillar feature net (linear, batch norm, ReLU,
//! max over points), the scatter to a bird's-eye-view canvas, the 2-D backbone of strided
//! blocks with upsampled, concatenated outputs, and the anchor head (class, box, direction).

use crate::config::{DetectorConfig, NetworkConfig};
use crate::pillars::POINT_FEATURES;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor};

/// Batch norm as the reference sets it (eps 1e-3; momentum 0.01 by default, from the config).
fn batch_norm(channels: usize, momentum: f64, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-3)
        .with_momentum(momentum)
        .init(device)
}

/// `linear` on the last axis of `x`, with every leading axis folded into the rows of one
/// matrix product. (burn's `Linear` on a rank > 2 input broadcasts its weight into a batched
/// product of many small matrices, forward and backward; one `[rows, in] × [in, out]` product
/// computes the same sums several times faster on the CPU.)
fn linear_rows<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    let mut dims = x.dims();
    let rows = dims[..D - 1].iter().product();
    let y = linear.forward(x.reshape([rows, dims[D - 1]]));
    dims[D - 1] = y.dims()[1];
    y.reshape(dims)
}

/// The pillars of a batch as tensors.
#[derive(Debug, Clone)]
pub struct PillarBatch {
    /// `[P, max_points, 10]` point features of every pillar of every frame.
    pub features: Tensor<3>,
    /// `[P]` flat canvas index of each pillar: frame · ny · nx + iy · nx + ix.
    pub canvas_index: Tensor<1, Int>,
    /// Frames in the batch.
    pub frames: usize,
}

/// The pillar feature net: a shared linear layer on each point's 10 features, batch norm, ReLU,
/// then the maximum over the pillar's points.
#[derive(Module, Debug)]
pub struct PillarNet {
    linear: Linear,
    bn: BatchNorm,
}

impl PillarNet {
    fn new(channels: usize, momentum: f64, device: &Device) -> Self {
        PillarNet {
            linear: LinearConfig::new(POINT_FEATURES, channels)
                .with_bias(false)
                .init(device),
            bn: batch_norm(channels, momentum, device),
        }
    }

    /// `[P, N, 10]` → `[P, C]`.
    pub fn forward(&self, features: Tensor<3>) -> Tensor<2> {
        let x = linear_rows(&self.linear, features).swap_dims(1, 2); // [P, C, N]
        let x = relu(self.bn.forward(x));
        x.max_dim(2).squeeze_dim(2)
    }
}

/// A 3×3 conv (no bias), batch norm and ReLU.
#[derive(Module, Debug)]
struct ConvBnRelu {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBnRelu {
    fn new(cin: usize, cout: usize, stride: usize, momentum: f64, device: &Device) -> Self {
        ConvBnRelu {
            conv: Conv2dConfig::new([cin, cout], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn: batch_norm(cout, momentum, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// A 1×1 convolution done as a matrix product on channels-last data (burn's CPU backend
/// back-propagates a 1×1 `Conv2d` several times slower).
#[derive(Module, Debug)]
struct Pointwise {
    linear: Linear,
}

impl Pointwise {
    fn new(linear: Linear) -> Self {
        Pointwise { linear }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        linear_rows(&self.linear, x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
    }
}

/// How a block's output reaches the common stride: a transposed conv with kernel = stride, or
/// a 1×1 conv when the stride is 1 (the same map, computed faster).
#[derive(Module, Debug)]
enum Upsample {
    Transposed(ConvTranspose2d),
    Identity(Pointwise),
}

/// Upsampling (no bias), batch norm and ReLU.
#[derive(Module, Debug)]
struct UpBnRelu {
    up: Upsample,
    bn: BatchNorm,
}

impl UpBnRelu {
    fn new(cin: usize, cout: usize, stride: usize, momentum: f64, device: &Device) -> Self {
        let up = if stride == 1 {
            Upsample::Identity(Pointwise::new(
                LinearConfig::new(cin, cout).with_bias(false).init(device),
            ))
        } else {
            Upsample::Transposed(
                ConvTranspose2dConfig::new([cin, cout], [stride, stride])
                    .with_stride([stride, stride])
                    .with_bias(false)
                    .init(device),
            )
        };
        UpBnRelu {
            up,
            bn: batch_norm(cout, momentum, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match &self.up {
            Upsample::Transposed(c) => c.forward(x),
            Upsample::Identity(p) => p.forward(x),
        };
        relu(self.bn.forward(x))
    }
}

/// The 2-D backbone: blocks of one strided and `layer_nums` plain 3×3 convs; each block's output
/// upsampled to the common stride; the upsampled maps concatenated.
#[derive(Module, Debug)]
pub struct Backbone {
    blocks: Vec<Vec<ConvBnRelu>>,
    ups: Vec<UpBnRelu>,
}

impl Backbone {
    fn new(cfg: &NetworkConfig, device: &Device) -> Self {
        let mut cin = cfg.pillar_channels;
        let mut blocks = Vec::new();
        let mut ups = Vec::new();
        let m = cfg.batch_norm_momentum;
        for i in 0..cfg.layer_nums.len() {
            let cout = cfg.filters[i];
            let mut block = vec![ConvBnRelu::new(cin, cout, cfg.layer_strides[i], m, device)];
            block.extend((0..cfg.layer_nums[i]).map(|_| ConvBnRelu::new(cout, cout, 1, m, device)));
            blocks.push(block);
            ups.push(UpBnRelu::new(
                cout,
                cfg.upsample_filters[i],
                cfg.upsample_strides[i],
                m,
                device,
            ));
            cin = cout;
        }
        Backbone { blocks, ups }
    }

    /// `[B, C, ny, nx]` → one `[B, upsample_filters[i], ny / s, nx / s]` map per block: the
    /// feature map is their concatenation along channels, left to the heads (which take it
    /// apart again; see [`heads`]).
    pub fn forward(&self, mut x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut outs = Vec::with_capacity(self.blocks.len());
        for (block, up) in self.blocks.iter().zip(&self.ups) {
            for layer in block {
                x = layer.forward(x);
            }
            outs.push(up.forward(x.clone()));
        }
        outs
    }
}

/// The network's raw outputs, flattened to one row per anchor in [`crate::anchors::Anchors`]
/// order.
#[derive(Debug, Clone)]
pub struct HeadOutput {
    /// `[B, anchors, classes]` class logits.
    pub class_logits: Tensor<3>,
    /// `[B, anchors, 7]` box residuals.
    pub boxes: Tensor<3>,
    /// `[B, anchors, 2]` direction logits.
    pub direction_logits: Tensor<3>,
}

/// The detector.
#[derive(Module, Debug)]
pub struct PointPillars {
    pillar_net: PillarNet,
    backbone: Backbone,
    class_head: Linear,
    box_head: Linear,
    direction_head: Linear,
    grid: [usize; 2],
    channels: usize,
    classes: usize,
}

/// A head's weight `[C, A·K]` and bias `[A·K]` (zero where the layer has none).
fn weight_and_bias(head: &Linear) -> (Tensor<2>, Tensor<1>) {
    let weight = head.weight.val();
    let bias = match &head.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([weight.dims()[1]], &weight.device()),
    };
    (weight, bias)
}

/// The three heads (1×1 convs) on the backbone's feature map, the concatenation of `maps`
/// `[B, C_j, H, W]` along channels, as one product per frame of the heads' weights stacked
/// `[A·K, C]` with the frame's features `[C, H·W]`, summed over the maps' blocks of channels:
/// no concatenated copy forward or backward. (Three thin products, one per head, each too
/// small for more than one core, took several times longer; and features left channels-first
/// give their gradients back contiguous, where a channels-last copy's came back strided, slow
/// for each layer behind.) Each head's rows are then turned to `[B, H·W·A, K]`, `K` = `ks[i]`.
fn heads(heads: [&Linear; 3], maps: Vec<Tensor<4>>, ks: [usize; 3]) -> [Tensor<3>; 3] {
    let [b, _, h, w] = maps[0].dims();
    let (weights, biases): (Vec<_>, Vec<_>) = heads.into_iter().map(weight_and_bias).unzip();
    let widths: Vec<usize> = weights.iter().map(|w| w.dims()[1]).collect();
    let outputs: usize = widths.iter().sum();
    let weight = Tensor::cat(weights, 1).transpose(); // [A·K (all heads), C]
    let mut y = Tensor::cat(biases, 0).reshape([1, outputs, 1]); // [B, A·K, H·W] once summed
    let mut channel = 0;
    for map in maps {
        let c = map.dims()[1];
        let block = weight.clone().slice([0..outputs, channel..channel + c]);
        y = y + block.unsqueeze::<3>().matmul(map.reshape([b, c, h * w]));
        channel += c;
    }
    let mut start = 0;
    [0, 1, 2].map(|i| {
        let (width, k) = (widths[i], ks[i]);
        let part = y.clone().slice([0..b, start..start + width, 0..h * w]);
        start += width;
        part.swap_dims(1, 2).reshape([b, h * w * width / k, k])
    })
}

impl PointPillars {
    /// Builds the network of `cfg` (validated) on `device`.
    pub fn new(cfg: &DetectorConfig, device: &Device) -> Self {
        let per_cell: usize = cfg
            .classes
            .iter()
            .filter_map(|c| cfg.anchors.get(c))
            .map(|a| a.rotations.len())
            .sum();
        let classes = cfg.classes.len();
        let cin: usize = cfg.network.upsample_filters.iter().sum();
        let head = |cout: usize| LinearConfig::new(cin, cout);
        let mut class_head = head(per_cell * classes).init(device);
        // The class bias starts at a prior of 1 % (the reference's focal-loss initialisation).
        let prior = -((1.0f64 - 0.01) / 0.01).ln();
        class_head.bias = Some(Param::from_tensor(Tensor::full(
            [per_cell * classes],
            prior,
            device,
        )));
        let box_head = head(per_cell * 7)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.001,
            })
            .init(device);
        PointPillars {
            pillar_net: PillarNet::new(
                cfg.network.pillar_channels,
                cfg.network.batch_norm_momentum,
                device,
            ),
            backbone: Backbone::new(&cfg.network, device),
            class_head,
            box_head,
            direction_head: head(per_cell * 2).init(device),
            grid: cfg.pillars.grid(),
            channels: cfg.network.pillar_channels,
            classes,
        }
    }

    /// Scatters pillar features `[P, C]` onto the BEV canvas `[B, C, ny, nx]`.
    fn scatter(&self, pillars: Tensor<2>, index: Tensor<1, Int>, frames: usize) -> Tensor<4> {
        let [nx, ny] = self.grid;
        let device = pillars.device();
        let canvas = Tensor::<2>::zeros([frames * ny * nx, self.channels], &device);
        let canvas = if pillars.dims()[0] == 0 {
            canvas
        } else {
            canvas.select_assign(0, index, pillars, IndexingUpdateOp::Add)
        };
        canvas
            .reshape([frames, ny, nx, self.channels])
            .permute([0, 3, 1, 2])
    }

    /// The head outputs for a batch of pillars.
    pub fn forward(&self, batch: PillarBatch) -> HeadOutput {
        let pillars = if batch.features.dims()[0] == 0 {
            Tensor::zeros([0, self.channels], &batch.features.device())
        } else {
            self.pillar_net.forward(batch.features)
        };
        let canvas = self.scatter(pillars, batch.canvas_index, batch.frames);
        let [class_logits, boxes, direction_logits] = heads(
            [&self.class_head, &self.box_head, &self.direction_head],
            self.backbone.forward(canvas),
            [self.classes, 7, 2],
        );
        HeadOutput {
            class_logits,
            boxes,
            direction_logits,
        }
    }
}
