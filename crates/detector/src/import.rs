//! PointPillars weights from OpenPCDet checkpoints (`pointpillar_7728.pth` and any other
//! `PointPillar` model with `PillarVFE`, `PointPillarScatter`, `BaseBEVBackbone` and
//! `AnchorHeadSingle`): the table from OpenPCDet's module names to ours, and a run folder of
//! imported weights that `ftf detect predict` and a study accept as a trained one.

use crate::config::DetectorConfig;
use crate::error::Result;
use crate::inference::write_config;
use crate::model::PointPillars;
use burn::tensor::Device;
use burn_support::import::{
    apply_table, check_new_run_folder, read_checkpoint, save_imported_run, ImportedFrom, Layout,
    ReferenceWeights, Table,
};
use std::path::Path;

/// The import table of a PointPillars of `cfg`'s shape: every tensor of OpenPCDet's state
/// dict and the parameter of ours it fills.
pub fn openpcdet_table(cfg: &DetectorConfig) -> Table {
    let mut t = Table::default();
    let net = &cfg.network;
    // PillarVFE: one PFNLayer (nn.Linear without bias, BatchNorm1d).
    t.tensor(
        "vfe.pfn_layers.0.linear.weight",
        "pillar_net.linear.weight",
        Layout::LinearTranspose,
    );
    t.batch_norm("vfe.pfn_layers.0.norm", "pillar_net.bn");
    // BaseBEVBackbone.blocks[i] = Sequential(ZeroPad2d, Conv2d, BN, ReLU, (Conv2d, BN, ReLU)*n).
    for (i, &layers) in net.layer_nums.iter().enumerate() {
        for j in 0..=layers {
            let (conv, bn) = (1 + 3 * j, 2 + 3 * j);
            let ours = format!("backbone.blocks.{i}.{j}");
            t.conv(
                &format!("backbone_2d.blocks.{i}.{conv}"),
                &format!("{ours}.conv"),
            );
            t.batch_norm(
                &format!("backbone_2d.blocks.{i}.{bn}"),
                &format!("{ours}.bn"),
            );
        }
        // deblocks[i] = Sequential(ConvTranspose2d(k = s, stride s), BN, ReLU); ours keeps a
        // stride-1 deblock as the 1x1 product it is.
        let (r, o) = (
            format!("backbone_2d.deblocks.{i}"),
            format!("backbone.ups.{i}"),
        );
        if net.upsample_strides[i] == 1 {
            t.tensor(
                format!("{r}.0.weight"),
                format!("{o}.up.linear.weight"),
                Layout::PointwiseDeconv,
            );
        } else {
            t.conv(&format!("{r}.0"), &format!("{o}.up"));
        }
        t.batch_norm(&format!("{r}.1"), &format!("{o}.bn"));
    }
    // AnchorHeadSingle: 1x1 convolutions with bias; ours are products over channels.
    for (r, o) in [
        ("conv_cls", "class_head"),
        ("conv_box", "box_head"),
        ("conv_dir_cls", "direction_head"),
    ] {
        t.weight_and_bias(&format!("dense_head.{r}"), o, Layout::PointwiseConv);
    }
    t
}

/// A PointPillars of `cfg`'s shape holding the weights of an OpenPCDet checkpoint.
pub fn import_pointpillars(
    weights: &ReferenceWeights,
    cfg: &DetectorConfig,
    device: &Device,
) -> Result<PointPillars> {
    Ok(apply_table(
        PointPillars::new(cfg, device),
        weights,
        &openpcdet_table(cfg),
        "OpenPCDet PointPillar",
    )?)
}

/// Imports the OpenPCDet checkpoint `from` with the detector of `cfg` (checked) into the run
/// folder `out` (`config.toml` = `cfg` resolved, `checkpoints/` with the weights).
pub fn import_run(
    from: &Path,
    cfg: &DetectorConfig,
    out: &Path,
    device: &Device,
) -> Result<ImportedFrom> {
    check_new_run_folder(out)?;
    cfg.validate()?;
    let weights = read_checkpoint(from)?;
    let model = import_pointpillars(&weights, cfg, device)?;
    write_config(cfg, out)?;
    Ok(save_imported_run(out, &model, &weights)?)
}
