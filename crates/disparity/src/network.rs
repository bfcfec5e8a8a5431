//! What the training loop and inference need from a stereo network, so that PSMNet and SDN
//! share them.

use crate::error::Result;
use crate::loss::{weighted_psm_loss, LossKind};
use crate::psmnet::data::Batch;
use crate::psmnet::run::StartWeights;
use crate::psmnet::training::load_model;
use crate::psmnet::{PsmNet, RefinedPsmNet};
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
    /// This network with the start weights `start` loaded (into PSMNet alone when they hold
    /// no refinement stage: the stage keeps its fresh initialisation).
    fn load_start(self, start: &StartWeights) -> Result<Self> {
        Ok(load_model(self, &start.path)?)
    }
}

/// The disparity-regression loss of a batch's outputs (PSMNet's, and the refinement stage's).
fn regression_loss(
    preds: &[Tensor<3>],
    batch: &Batch,
    kind: LossKind,
    below: Option<f64>,
) -> Tensor<1> {
    weighted_psm_loss(
        preds,
        batch.disparity.clone(),
        batch.focal_baseline.clone(),
        kind,
        below,
        batch.pixel_weights.clone(),
    )
}

impl StereoNet for PsmNet {
    fn training_loss(&self, batch: &Batch, kind: LossKind, below: Option<f64>) -> Tensor<1> {
        let preds = self.forward(batch.left.clone(), batch.right.clone(), true);
        regression_loss(&preds, batch, kind, below)
    }
    fn disparity(&self, left: Tensor<4>, right: Tensor<4>, _focal_baseline: f32) -> Tensor<3> {
        self.forward(left, right, false).pop().expect("one output")
    }
}

impl StereoNet for RefinedPsmNet {
    fn training_loss(&self, batch: &Batch, kind: LossKind, below: Option<f64>) -> Tensor<1> {
        let preds = self.forward(batch.left.clone(), batch.right.clone(), true);
        regression_loss(&preds, batch, kind, below)
    }
    fn disparity(&self, left: Tensor<4>, right: Tensor<4>, _focal_baseline: f32) -> Tensor<3> {
        self.forward(left, right, false).pop().expect("one output")
    }
    fn load_start(mut self, start: &StartWeights) -> Result<Self> {
        if start.base_only {
            self.base = load_model(self.base, &start.path)?;
            Ok(self)
        } else {
            Ok(load_model(self, &start.path)?)
        }
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
