//! Our PointPillars is OpenPCDet's: its PillarVFE, PointPillarScatter, BaseBEVBackbone and
//! AnchorHeadSingle, built at reduced width with random weights and batch-norm statistics by
//! `data-scripts/reference-fixtures.py` and saved in both PyTorch formats as OpenPCDet saves
//! checkpoints, give on fixed pillars the head outputs in `fixtures/pointpillars-reference/`;
//! the same checkpoint imported into our network must give them within 1e-4.

use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_support::import::{read_checkpoint, ReferenceWeights};
use detector::config::DetectorConfig;
use detector::import::{import_pointpillars, import_run, openpcdet_table};
use detector::model::PillarBatch;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pointpillars-reference")
        .join(name)
}

/// Three classes with two rotations each and the reference's default anchors.
fn three_classes() -> DetectorConfig {
    DetectorConfig {
        classes: vec!["Car".into(), "Pedestrian".into(), "Cyclist".into()],
        ..DetectorConfig::default()
    }
}

/// The reduced network of the fixture: a 16 x 16 grid (6.4 m at 0.4 m), the script's
/// `PointPillar(8, [1, 2, 1], [2, 2, 2], [8, 8, 16], [1, 2, 4], [8, 8, 8], 6, 3)`.
fn fixture_config() -> DetectorConfig {
    let mut cfg = three_classes();
    cfg.pillars.range = [0.0, -3.2, -3.0, 6.4, 3.2, 1.0];
    cfg.pillars.size = [0.4, 0.4];
    cfg.pillars.max_points = 6;
    let n = &mut cfg.network;
    n.pillar_channels = 8;
    n.layer_nums = vec![1, 2, 1];
    n.layer_strides = vec![2, 2, 2];
    n.filters = vec![8, 8, 16];
    n.upsample_strides = vec![1, 2, 4];
    n.upsample_filters = vec![8, 8, 8];
    cfg
}

fn array(name: &str) -> kitti::npy::Array<f32> {
    kitti::npy::read_f32(&fixture(name)).unwrap()
}

/// The fixture's pillars as our network's input: coordinates (batch, z, y, x) become the
/// canvas index batch·ny·nx + y·nx + x.
fn batch(device: &Device) -> PillarBatch {
    let f = array("features.npy");
    let shape: [usize; 3] = f.shape.clone().try_into().unwrap();
    let coords = kitti::npy::read_i32(&fixture("coords.npy")).unwrap();
    let (nx, ny) = (16i64, 16i64);
    let index: Vec<i64> = coords
        .values
        .chunks(4)
        .map(|c| c[0] as i64 * ny * nx + c[2] as i64 * nx + c[3] as i64)
        .collect();
    let frames = 1 + coords
        .values
        .chunks(4)
        .map(|c| c[0] as usize)
        .max()
        .unwrap();
    PillarBatch {
        features: Tensor::from_data(TensorData::new(f.values, shape), device),
        canvas_index: Tensor::<1, Int>::from_data(
            TensorData::new(index.clone(), [index.len()]),
            device,
        ),
        frames,
    }
}

fn largest(a: &Tensor<3>, reference: &str) -> f32 {
    let r = array(reference);
    assert_eq!(a.dims().to_vec(), r.shape, "{reference}");
    let ours = a.clone().into_data().try_to_vec::<f32>().unwrap();
    burn_support::largest_difference(&ours, &r.values)
}

/// The largest differences of the class, box and direction outputs.
fn differences(weights: &ReferenceWeights) -> [f32; 3] {
    let device = Device::flex();
    let model = import_pointpillars(weights, &fixture_config(), &device).unwrap();
    let out = model.forward(batch(&device));
    [
        largest(&out.class_logits, "cls_preds.npy"),
        largest(&out.boxes, "box_preds.npy"),
        largest(&out.direction_logits, "dir_cls_preds.npy"),
    ]
}

#[test]
fn imported_openpcdet_weights_give_the_reference_head_outputs_in_both_file_formats() {
    for file in ["pointpillars.pth", "pointpillars.tar"] {
        let weights = read_checkpoint(&fixture(file)).unwrap();
        // The weights are model_state's, not the optimiser state's; global_step is dropped.
        assert_eq!(weights.state_key.as_deref(), Some("model_state"), "{file}");
        assert!(!weights.tensors.contains_key("global_step"));
        let d = differences(&weights);
        println!(
            "{file}: largest differences class {:e}, box {:e}, direction {:e}",
            d[0], d[1], d[2]
        );
        assert!(d.iter().all(|x| *x < 1e-4), "{file}: {d:?}");
    }
    let spread = array("cls_preds.npy")
        .values
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        spread > 0.1,
        "the reference outputs are not all near zero ({spread})"
    );
}

#[test]
fn a_wrong_channel_order_or_a_lost_statistic_changes_the_outputs() {
    let weights = read_checkpoint(&fixture("pointpillars.pth")).unwrap();
    // The class head's output channels in another order (as a mapping that ordered anchors
    // or classes differently would leave them).
    let mut reordered = weights.clone();
    for name in ["dense_head.conv_cls.weight", "dense_head.conv_cls.bias"] {
        let t = reordered.tensors.get_mut(name).unwrap();
        let per_output = t.values.len() / t.shape[0];
        let rows: Vec<Vec<f32>> = t
            .values
            .chunks(per_output)
            .rev()
            .map(<[f32]>::to_vec)
            .collect();
        t.values = rows.concat();
    }
    assert!(differences(&reordered)[0] > 1e-2);
    let mut fresh = weights.clone();
    for (name, t) in fresh.tensors.iter_mut() {
        if name.starts_with("backbone_2d.blocks.1") && name.ends_with("running_var") {
            t.values.iter_mut().for_each(|v| *v = 1.0);
        }
    }
    assert!(differences(&fresh).iter().all(|d| *d > 1e-3));
}

#[test]
fn another_architecture_is_refused_with_the_tensors_listed() {
    let weights = read_checkpoint(&fixture("pointpillars.tar")).unwrap();
    let mut one_class = fixture_config();
    one_class.classes = vec!["Car".into()];
    let err = import_pointpillars(&weights, &one_class, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pointpillars.tar") && err.contains("wrong shape"),
        "{err}"
    );
    assert!(
        err.contains(
            "dense_head.conv_cls.weight: [18, 24, 1, 1] in the file, [2, 24, 1, 1] expected"
        ),
        "{err}"
    );
    let mut deeper = fixture_config();
    deeper.network.layer_nums = vec![1, 2, 2];
    let err = import_pointpillars(&weights, &deeper, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing") && err.contains("backbone_2d.blocks.2.7.weight"),
        "{err}"
    );
}

#[test]
fn the_kitti_table_matches_openpcdets_pointpillar_tensor_for_tensor() {
    let text = std::fs::read_to_string(fixture("pointpillars-full-shapes.json")).unwrap();
    let official: BTreeMap<String, Vec<usize>> = serde_json::from_str(&text).unwrap();
    let official: BTreeMap<_, _> = official
        .into_iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked") && n != "global_step")
        .collect();
    let cfg = three_classes();
    let model = detector::model::PointPillars::new(&cfg, &Device::flex());
    let ours = burn_support::import::parameter_shapes(&model);
    let table = openpcdet_table(&cfg);
    let mapped: BTreeMap<String, Vec<usize>> = table
        .entries
        .iter()
        .map(|e| {
            (
                e.reference.clone(),
                e.layout.reference_shape(&ours[&e.ours]),
            )
        })
        .collect();
    assert_eq!(mapped, official);
    assert_eq!(table.entries.len(), ours.len());
    let count = |m: &BTreeMap<String, Vec<usize>>| -> usize {
        m.values().map(|s| s.iter().product::<usize>()).sum()
    };
    assert_eq!(count(&mapped), count(&official));
    println!(
        "OpenPCDet PointPillar tensors {} elements {}",
        official.len(),
        count(&official)
    );
}

#[test]
fn an_imported_run_is_a_detector_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    import_run(
        &fixture("pointpillars.pth"),
        &fixture_config(),
        &run,
        &Device::flex(),
    )
    .unwrap();
    let det = detector::Detector::load(&run, Device::flex()).unwrap();
    assert_eq!(det.cfg, fixture_config());
    let err = import_run(
        &fixture("missing.pth"),
        &fixture_config(),
        &dir.path().join("other"),
        &Device::flex(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing.pth"), "{err}");
}
