//! The shipped start weights of the quick study's PSMNet (models/psmnet-quick-pretrained-full/,
//! and the half-resolution stage it was made from, models/psmnet-quick-pretrained/) still
//! reproduce the metrics their provenance files recorded on the recorded frames: a stale,
//! retrained or corrupted file fails here.

use burn::tensor::Device;
use disparity::frames::{evaluate_frames, predict_frames, ClassSource};
use kitti::{FileKind, KittiRoot, Part};
use std::path::Path;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn the_shipped_pretrained_psmnet_reproduces_its_recorded_metrics() {
    reproduces_recorded_metrics("models/psmnet-quick-pretrained");
}

#[test]
fn the_shipped_full_resolution_start_reproduces_its_recorded_metrics() {
    reproduces_recorded_metrics("models/psmnet-quick-pretrained-full");
}

/// Regenerates the recorded frames of the `shipped` weights' provenance, predicts them and
/// compares.
fn reproduces_recorded_metrics(shipped: &str) {
    let model_dir = repo(shipped);
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model_dir.join("provenance.json")).unwrap())
            .unwrap();
    // The recorded frames, regenerated from the pretraining set's settings and seed.
    let data_cfg = repo(provenance["data_config"].as_str().unwrap());
    let synth_cfg: synth::SynthConfig =
        toml::from_str(&std::fs::read_to_string(data_cfg).unwrap()).unwrap();
    assert_eq!(provenance["data_seed"].as_u64(), Some(synth_cfg.seed));
    let ids: Vec<String> = provenance["check_frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    let dir = tempfile::tempdir().unwrap();
    let root = KittiRoot::create(dir.path());
    for id in &ids {
        let index: u64 = id.parse().unwrap();
        let frame = synth::generate_frame(&synth_cfg.frame_config(), synth_cfg.seed, index);
        synth::write_frame(&root, id, &frame).unwrap();
    }
    let (model, settings) =
        disparity::psmnet::run::load_trained(&model_dir, Device::flex()).unwrap();
    let maps = dir.path().join("maps");
    predict_frames(
        model.as_ref(),
        &settings,
        &root,
        &ids,
        &maps,
        kitti::npy::MapFormat::Png,
        &|| {},
    )
    .unwrap();
    let metrics = evaluate_frames(
        &maps,
        &root.dir(Part::Training, FileKind::Disparity),
        &root.dir(Part::Training, FileKind::Calib),
        &ClassSource::Instances {
            masks: root.dir(Part::Training, FileKind::Instance),
            labels: root.dir(Part::Training, FileKind::Label),
        },
        kitti::Baseline::REFERENCE,
        &ids,
        &[],
        None,
        &|| {},
    )
    .unwrap();
    let metrics = disparity::Breakdown::total(&metrics);
    let recorded = provenance["check_metrics"]["pretrained"]
        .as_object()
        .unwrap();
    let rows: std::collections::BTreeMap<String, disparity::Metrics> =
        metrics.rows().into_iter().collect();
    // Every row recorded (all pixels, distance bins, classes) is computed again; rows added to
    // the table since (outlines) are not in the record.
    let compared = recorded.keys().filter(|row| *row != "objects").count();
    assert!(compared >= 7, "{shipped}: only {compared} rows recorded");
    for (row, want) in recorded.iter().filter(|(row, _)| *row != "objects") {
        let m = rows
            .get(row)
            .unwrap_or_else(|| panic!("{shipped}: row {row} recorded but not computed"));
        for (field, value) in [("epe", m.epe), ("d1", m.d1), ("mae", m.mae)] {
            let want = want[field].as_f64().unwrap();
            assert!(
                (value - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{shipped}, {row} {field}: {value} now, {want} recorded"
            );
        }
    }
    // The start is worth shipping: on its held-out frames it is far from an untrained network
    // (6.6 px after its first epoch).
    let heldout_epe = provenance["heldout_val"]["pretrained"]["all"]["epe"]
        .as_f64()
        .unwrap();
    assert!(
        heldout_epe < 2.0,
        "{shipped}: held-out EPE {heldout_epe} px"
    );
}
