//! Our PSMNet is the reference PSMNet: the official stacked-hourglass code, built at reduced
//! width with random weights and random batch-norm statistics by
//! `data-scripts/reference-fixtures.py`, saved in both PyTorch formats, gives on a fixed pair the
//! disparity in `fixtures/psmnet-reference/disparity.npy`; the same checkpoint imported into our
//! network must give it within 1e-3 px. A wrong mapping, a dropped statistic or a transposed
//! kernel must fail.

use burn::tensor::{Device, Tensor, TensorData};
use burn_support::import::{read_checkpoint, ReferenceWeights};
use disparity::psmnet::import::{import_psmnet, import_run, reference_table};
use disparity::psmnet::training::TrainConfig;
use disparity::psmnet::{trainable_params, PsmNetConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/psmnet-reference")
        .join(name)
}

/// The reduced network of the fixture (the script's `PSMNet(32, c=4, blocks=(1, 2, 1, 1),
/// pools=(8, 4, 2, 1), feat=4, agg=2)`).
fn fixture_config() -> PsmNetConfig {
    PsmNetConfig {
        max_disparity: 32,
        cost_volume_scale: 4,
        width: 4,
        blocks: [1, 2, 1, 1],
        pyramid_pools: vec![8, 4, 2, 1],
        feature_channels: 4,
        aggregation_channels: 2,
        align_corners: false,
        levels: Default::default(),
        refine: None,
    }
}

fn image(name: &str, device: &Device) -> Tensor<4> {
    let a = kitti::npy::read_f32(&fixture(name)).unwrap();
    let shape: [usize; 4] = a.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(a.values, shape), device)
}

/// The largest |ours − reference| of the disparity predicted with `weights`.
fn largest_difference(weights: &ReferenceWeights) -> f32 {
    let device = Device::flex();
    let model = import_psmnet(weights, &fixture_config(), &device).unwrap();
    let out = model.forward(
        image("left.npy", &device),
        image("right.npy", &device),
        false,
    );
    let ours = out[0].clone().into_data().try_to_vec::<f32>().unwrap();
    let reference = kitti::npy::read_f32(&fixture("disparity.npy")).unwrap();
    assert_eq!(out[0].dims().to_vec(), reference.shape);
    burn_support::largest_difference(&ours, &reference.values)
}

#[test]
fn imported_reference_weights_give_the_reference_disparity_in_both_file_formats() {
    let reference = kitti::npy::read_f32(&fixture("disparity.npy")).unwrap();
    let spread = reference.values.iter().fold(0.0f32, |m, v| m.max(*v))
        - reference.values.iter().fold(f32::MAX, |m, v| m.min(*v));
    assert!(
        spread > 1.0,
        "the reference output varies (spread {spread} px)"
    );
    for file in ["psmnet.pth", "psmnet.tar"] {
        let weights = read_checkpoint(&fixture(file)).unwrap();
        assert_eq!(weights.state_key.as_deref(), Some("state_dict"), "{file}");
        assert!(weights.data_parallel, "{file}: names carry module.");
        assert!(weights.dropped > 0, "{file}: num_batches_tracked dropped");
        let diff = largest_difference(&weights);
        println!("{file}: largest difference {diff:e} px");
        assert!(diff < 1e-3, "{file}: {diff} px");
    }
}

#[test]
fn a_transposed_kernel_or_a_lost_statistic_changes_the_disparity() {
    let weights = read_checkpoint(&fixture("psmnet.pth")).unwrap();
    // A 3x3 kernel with its two spatial axes swapped.
    let mut transposed = weights.clone();
    let t = transposed
        .tensors
        .get_mut("feature_extraction.firstconv.0.0.weight")
        .unwrap();
    let (o, i) = (t.shape[0], t.shape[1]);
    let original = t.values.clone();
    for a in 0..o * i {
        for y in 0..3 {
            for x in 0..3 {
                t.values[a * 9 + y * 3 + x] = original[a * 9 + x * 3 + y];
            }
        }
    }
    assert!(largest_difference(&transposed) > 1e-2);
    // Running statistics replaced by the initial 0 / 1 (what a dropped statistic leaves).
    let mut fresh = weights.clone();
    for (name, t) in fresh.tensors.iter_mut() {
        if name.ends_with("running_mean") {
            t.values.iter_mut().for_each(|v| *v = 0.0);
        }
        if name.ends_with("running_var") {
            t.values.iter_mut().for_each(|v| *v = 1.0);
        }
    }
    assert!(largest_difference(&fresh) > 1e-2);
}

#[test]
fn missing_unexpected_and_misshapen_tensors_are_listed_naming_the_file() {
    let device = Device::flex();
    let weights = read_checkpoint(&fixture("psmnet.tar")).unwrap();
    let mut bad = weights.clone();
    bad.tensors.remove("dres2.conv5.1.running_var");
    let extra = bad.tensors["classif1.2.weight"].clone();
    bad.tensors.insert("classif4.2.weight".into(), extra);
    let err = import_psmnet(&bad, &fixture_config(), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("psmnet.tar"), "{err}");
    assert!(
        err.contains("1 tensors missing") && err.contains("dres2.conv5.1.running_var"),
        "{err}"
    );
    assert!(
        err.contains("1 unexpected") && err.contains("classif4.2.weight"),
        "{err}"
    );
    // Another width: every tensor has the wrong shape.
    let wider = PsmNetConfig {
        aggregation_channels: 4,
        ..fixture_config()
    };
    let err = import_psmnet(&weights, &wider, &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("of the wrong shape") && err.contains("dres0.0.0.weight"),
        "{err}"
    );
    // Fewer blocks: the file's extra block is unexpected.
    let shallower = PsmNetConfig {
        blocks: [1, 1, 1, 1],
        ..fixture_config()
    };
    let err = import_psmnet(&weights, &shallower, &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("feature_extraction.layer2.1.conv1.0.0.weight"),
        "{err}"
    );
    let err = read_checkpoint(&fixture("disparity.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("disparity.npy") && err.contains("not a PyTorch checkpoint"),
        "{err}"
    );
}

#[test]
fn the_full_width_table_matches_the_official_network_tensor_for_tensor() {
    // Names and shapes of the official PSMNet(192)'s state dict, written by the script.
    let text = std::fs::read_to_string(fixture("psmnet-full-shapes.json")).unwrap();
    let official: BTreeMap<String, Vec<usize>> = serde_json::from_str(&text).unwrap();
    let official: BTreeMap<_, _> = official
        .into_iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked"))
        .collect();
    let cfg = PsmNetConfig::default();
    let model = cfg.init(&Device::flex());
    let ours = burn_support::import::parameter_shapes(&model);
    let table = reference_table(&cfg);
    let mapped: BTreeMap<String, Vec<usize>> = table
        .entries
        .iter()
        .map(|e| (e.reference.clone(), ours[&e.ours].clone()))
        .collect();
    assert_eq!(mapped, official);
    assert_eq!(
        table.entries.len(),
        ours.len(),
        "every parameter of ours filled once"
    );
    let official_trainable: usize = official
        .iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    assert_eq!(trainable_params(&model), official_trainable);
}

#[test]
fn an_imported_run_predicts_as_the_imported_network() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let cfg = TrainConfig {
        model: fixture_config(),
        ..TrainConfig::default()
    };
    let record = import_run(&fixture("psmnet.pth"), &cfg, &run, &Device::flex()).unwrap();
    assert_eq!(
        record.tensors,
        reference_table(&fixture_config()).entries.len()
    );
    let read = disparity::psmnet::run::read_run_config(&run).unwrap();
    assert_eq!(read.model, fixture_config());
    // The run's weights are the imported ones.
    let weights = disparity::psmnet::run::check_run(&read, &run).unwrap();
    let device = Device::flex();
    let loaded = burn_support::load_model(fixture_config().init(&device), &weights).unwrap();
    let out = loaded.forward(
        image("left.npy", &device),
        image("right.npy", &device),
        false,
    );
    let ours = out[0].clone().into_data().try_to_vec::<f32>().unwrap();
    let reference = kitti::npy::read_f32(&fixture("disparity.npy")).unwrap();
    let diff = burn_support::largest_difference(&ours, &reference.values);
    assert!(diff < 1e-3, "{diff}");
    // A training of the same network accepts it as its start (`init =`); another width does not.
    let start = TrainConfig {
        init: Some(run.clone()),
        ..cfg.clone()
    };
    assert_eq!(
        disparity::psmnet::run::start_weights(&start).unwrap(),
        Some(disparity::psmnet::run::StartWeights {
            path: weights,
            base_only: false
        })
    );
    let wider = TrainConfig {
        model: PsmNetConfig {
            width: 8,
            ..fixture_config()
        },
        ..start
    };
    let err = disparity::psmnet::run::start_weights(&wider)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.width: 8 here, 4 there"), "{err}");
    // An SDN config is refused: the checkpoint is a PSMNet.
    let sdn = TrainConfig {
        network: disparity::psmnet::training::NetworkKind::Sdn,
        ..cfg.clone()
    };
    let err = import_run(
        &fixture("psmnet.tar"),
        &sdn,
        &dir.path().join("sdn"),
        &Device::flex(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("psmnet.tar") && err.contains("only PSMNet"),
        "{err}"
    );
    // A second import into the same folder is refused before it replaces anything.
    let err = import_run(&fixture("psmnet.tar"), &cfg, &run, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.toml") && err.contains("already there"),
        "{err}"
    );
    assert!(run.join("checkpoints/model-imported.bpk").is_file());
    // No optimiser state: resuming it is refused with a reason.
    let err = burn_support::CheckpointFiles::new(&run)
        .optimizer()
        .unwrap_err()
        .to_string();
    assert!(err.contains("imported weights"), "{err}");
}
