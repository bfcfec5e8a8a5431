//! PSMNet weights from the reference code's checkpoints (JiaRenChang/PSMNet's
//! `pretrained_sceneflow.tar`, the paper's `finetune_300.tar`): the table from the official
//! stacked-hourglass module names (`models/submodule.py`, `models/stackhourglass.py`) to ours,
//! and a run folder of imported weights that `ftf disparity predict --model trained`, `init =`
//! and a study's `checkpoint =` accept as they accept a trained one.

use super::model::{PsmNet, PsmNetConfig};
use super::training::{NetworkKind, TrainConfig};
use crate::error::Result;
use burn::tensor::Device;
use burn_support::import::{
    apply_table, check_new_run_folder, read_checkpoint, save_imported_run, ImportedFrom,
    ReferenceWeights, Table,
};
use std::path::Path;

/// The reference name of `convbn(...)` at `reference` (a Sequential of conv, bn) → our
/// `ConvBn` at `ours`.
fn conv_bn(t: &mut Table, reference: &str, ours: &str) {
    t.conv(&format!("{reference}.0"), &format!("{ours}.conv"));
    t.batch_norm(&format!("{reference}.1"), &format!("{ours}.bn"));
}

/// The import table of a PSMNet of `cfg`'s shape: every tensor of the official state dict and
/// the parameter of ours it fills.
pub fn reference_table(cfg: &PsmNetConfig) -> Table {
    let mut t = Table::default();
    let fe = "feature_extraction";
    // firstconv = Sequential(convbn, ReLU, convbn, ReLU, convbn, ReLU).
    for (i, r) in [0, 2, 4].into_iter().enumerate() {
        conv_bn(
            &mut t,
            &format!("{fe}.firstconv.{r}"),
            &format!("feature.first.{i}"),
        );
    }
    // layer1..4 = Sequential(BasicBlock...); BasicBlock.conv1 = Sequential(convbn, ReLU).
    let widths = [cfg.width, 2 * cfg.width, 4 * cfg.width, 4 * cfg.width];
    let strides = [1, 2, 1, 1];
    let mut cin = cfg.width;
    for (s, &blocks) in cfg.blocks.iter().enumerate() {
        for b in 0..blocks {
            let (r, o) = (
                format!("{fe}.layer{}.{b}", s + 1),
                format!("feature.stages.{s}.{b}"),
            );
            conv_bn(&mut t, &format!("{r}.conv1.0"), &format!("{o}.conv1"));
            conv_bn(&mut t, &format!("{r}.conv2"), &format!("{o}.conv2"));
            if b == 0 && (strides[s] != 1 || cin != widths[s]) {
                conv_bn(
                    &mut t,
                    &format!("{r}.downsample"),
                    &format!("{o}.downsample"),
                );
            }
            cin = widths[s];
        }
    }
    // branchK = Sequential(AvgPool2d, convbn, ReLU), K = 1 for the largest pool.
    for k in 0..cfg.pyramid_pools.len() {
        conv_bn(
            &mut t,
            &format!("{fe}.branch{}.1", k + 1),
            &format!("feature.branches.{k}.conv"),
        );
    }
    // lastconv = Sequential(convbn, ReLU, Conv2d 1x1).
    conv_bn(&mut t, &format!("{fe}.lastconv.0"), "feature.fuse");
    t.conv(&format!("{fe}.lastconv.2"), "feature.project");
    // dres0 = Sequential(convbn_3d, ReLU, convbn_3d, ReLU); dres1 = (convbn_3d, ReLU, convbn_3d).
    for d in ["dres0", "dres1"] {
        for (i, r) in [0, 2].into_iter().enumerate() {
            conv_bn(&mut t, &format!("{d}.{r}"), &format!("aggregation.{d}.{i}"));
        }
    }
    // dres2..4 = hourglass: conv1, conv3, conv4 = Sequential(convbn_3d, ReLU); conv2 = convbn_3d;
    // conv5, conv6 = Sequential(ConvTranspose3d, BatchNorm3d).
    for h in 0..3 {
        let (r, o) = (
            format!("dres{}", h + 2),
            format!("aggregation.hourglasses.{h}"),
        );
        for c in ["conv1", "conv3", "conv4"] {
            conv_bn(&mut t, &format!("{r}.{c}.0"), &format!("{o}.{c}"));
        }
        for c in ["conv2", "conv5", "conv6"] {
            conv_bn(&mut t, &format!("{r}.{c}"), &format!("{o}.{c}"));
        }
    }
    // classifK = Sequential(convbn_3d, ReLU, Conv3d to 1 channel).
    for k in 0..3 {
        let (r, o) = (
            format!("classif{}", k + 1),
            format!("aggregation.classifiers.{k}"),
        );
        conv_bn(&mut t, &format!("{r}.0"), &format!("{o}.conv"));
        t.conv(&format!("{r}.2"), &format!("{o}.out"));
    }
    t
}

/// A PSMNet of `cfg`'s shape holding the weights of a reference checkpoint.
pub fn import_psmnet(
    weights: &ReferenceWeights,
    cfg: &PsmNetConfig,
    device: &Device,
) -> Result<PsmNet> {
    Ok(apply_table(
        cfg.init(device),
        weights,
        &reference_table(cfg),
        "PSMNet (stacked hourglass)",
    )?)
}

/// Imports the PSMNet checkpoint `from` with the network of `cfg` (a PSMNet) into the run folder `out`
/// (`config.toml` = `cfg` resolved, `checkpoints/` with the weights); returns what was read.
pub fn import_run(
    from: &Path,
    cfg: &TrainConfig,
    out: &Path,
    device: &Device,
) -> Result<ImportedFrom> {
    if cfg.network != NetworkKind::Psmnet {
        return Err(kitti::KittiError::malformed(
            from,
            None,
            format!(
                "network = \"{}\": only PSMNet checkpoints can be imported",
                cfg.network.name()
            ),
        )
        .into());
    }
    check_new_run_folder(out)?;
    let weights = read_checkpoint(from)?;
    let model = import_psmnet(&weights, &cfg.model, device)?;
    let text =
        toml::to_string(cfg).map_err(|e| kitti::KittiError::malformed(out, None, e.to_string()))?;
    kitti::io::write_atomic(&out.join("config.toml"), text.as_bytes())?;
    Ok(save_imported_run(out, &model, &weights)?)
}
