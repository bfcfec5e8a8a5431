//! What the training loop and inference need from a stereo network, so that PSMNet and SDN
//! share them.

use crate::loss::{psm_loss, LossKind};
use crate::psmnet::data::Batch;
use crate::psmnet::PsmNet;
use crate::sdn::{sdn_loss, SdnNet};
use burn::module::Module;
use burn::tensor::Tensor;

/// A trainable stereo network.
pub trait StereoNet: Module + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The training loss of a batch (all output heads), on ground truth above 0 and, when
    /// `below` is given, below that disparity.
    fn training_loss(&self, batch: &Batch, kind: LossKind, below: Option<f64>) -> Tensor<1>;
    /// Disparity `[1, H, W]` of one normalised, padded pair whose frame has f_u·B `focal_baseline`.
    fn disparity(&self, left: Tensor<4>, right: Tensor<4>, focal_baseline: f32) -> Tensor<3>;
}

impl StereoNet for PsmNet {
    fn training_loss(&self, batch: &Batch, kind: LossKind, below: Option<f64>) -> Tensor<1> {
        let preds = self.forward(batch.left.clone(), batch.right.clone(), true);
        psm_loss(
            &preds,
            batch.disparity.clone(),
            batch.focal_baseline.clone(),
            kind,
            below,
        )
    }
    fn disparity(&self, left: Tensor<4>, right: Tensor<4>, _focal_baseline: f32) -> Tensor<3> {
        self.forward(left, right, false).pop().expect("one output")
    }
}

impl StereoNet for SdnNet {
    /// SDN always trains on depth, whatever `kind` says.
    fn training_loss(&self, batch: &Batch, _kind: LossKind, _below: Option<f64>) -> Tensor<1> {
        let preds = self.forward(
            batch.left.clone(),
            batch.right.clone(),
            &batch.focal_baseline_values,
            true,
        );
        sdn_loss(
            &preds,
            batch.disparity.clone(),
            &batch.focal_baseline_values,
            self.max_depth() as f64,
        )
    }
    fn disparity(&self, left: Tensor<4>, right: Tensor<4>, focal_baseline: f32) -> Tensor<3> {
        let depth = self
            .forward(left, right, &[focal_baseline], false)
            .pop()
            .expect("one output");
        depth.recip() * focal_baseline
    }
}
