//! Training a tiny PSMNet on synthetic frames on the CPU: it learns (beats the best constant
//! prediction by a wide margin on held-out frames), and an interrupted run resumes exactly.

use burn::tensor::Device;
use disparity::loss::LossKind;
use disparity::metrics::{frame_breakdown, Sums};
use disparity::psmnet::data::StereoDataset;
use disparity::psmnet::inference::predict_pair;
use disparity::psmnet::training::{load_model, train, NetworkKind, RunFiles, TrainConfig};
use disparity::psmnet::PsmNetConfig;
use kitti::{Baseline, DisparityMap, KittiRoot};
use std::path::Path;
use synth::SynthConfig;

/// burn's random generator is per device and process-wide: tests that initialise networks from
/// a seed must not interleave, so they take this lock.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn synthetic_root(dir: &Path, frames: usize) -> KittiRoot {
    let cfg = SynthConfig {
        frames,
        seed: 3,
        scale: 0.25,
        train_share: 0.75,
        ..Default::default()
    };
    // (9 training and 3 validation frames of 311 x 94 for 12 frames.)
    synth::generate_root(&cfg, dir, &|| {}).unwrap();
    KittiRoot::open(dir).unwrap()
}

fn datasets(root: &KittiRoot) -> (StereoDataset, StereoDataset) {
    let gt = root.dir(kitti::Part::Training, kitti::FileKind::Disparity);
    let ds = |name: &str| {
        StereoDataset::new(
            root.clone(),
            root.split(name).unwrap().ids,
            &gt,
            Baseline::REFERENCE,
        )
    };
    (ds("train"), ds("val"))
}

#[test]
fn a_tiny_network_learns_disparity() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path(), 12);
    let (train_set, val_set) = datasets(&root);
    let cfg = tiny_run(20);
    let device = Device::flex().autodiff();
    let out = dir.path().join("run");
    let t = std::time::Instant::now();
    let state = train(&cfg, &train_set, &val_set, &out, &device, false, &|_| {}).unwrap();
    eprintln!(
        "{} epochs, {} steps in {:.1} s; losses {:?}",
        state.epochs_done,
        state.epochs_done * 5,
        t.elapsed().as_secs_f64(),
        state
            .history
            .iter()
            .map(|h| h.train_loss as f32)
            .collect::<Vec<_>>()
    );
    // The best constant: the mean training disparity.
    let (mut sum, mut n) = (0.0, 0usize);
    for i in 0..train_set.len() {
        for d in train_set
            .get(i)
            .unwrap()
            .disparity
            .data
            .iter()
            .filter(|d| **d > 0.0)
        {
            sum += *d as f64;
            n += 1;
        }
    }
    let constant = (sum / n as f64) as f32;
    let model = load_model(
        cfg.model.init(&Device::flex()),
        &RunFiles::new(&out).model(),
    )
    .unwrap();
    let (mut net, mut flat) = (Sums::default(), Sums::default());
    for i in 0..val_set.len() {
        let e = val_set.get(i).unwrap();
        let pred = predict_pair(&model, &e.pair, e.focal_baseline, &Device::flex());
        let fb = e.focal_baseline as f64;
        net.add(&frame_breakdown(&pred, &e.disparity, fb, None, None).all);
        let c = DisparityMap {
            width: pred.width,
            height: pred.height,
            data: vec![constant; pred.data.len()],
        };
        flat.add(&frame_breakdown(&c, &e.disparity, fb, None, None).all);
    }
    let (net, flat) = (net.metrics(), flat.metrics());
    eprintln!(
        "held-out EPE: network {:.2} px, constant {constant:.1} px {:.2} px",
        net.epe, flat.epe
    );
    // 100 steps on 9 frames take the tiny network from ~9 px to ~3 px, against ~5.5 px for the
    // best constant.
    assert!(
        net.epe < 0.7 * flat.epe,
        "network {:.2} px vs constant {:.2} px",
        net.epe,
        flat.epe
    );
}

fn tiny_run(epochs: usize) -> TrainConfig {
    TrainConfig {
        model: PsmNetConfig::tiny(),
        loss: LossKind::Disparity,
        epochs,
        batch_size: 2,
        crop: [64, 128],
        learning_rate: 1e-3,
        lr_steps: vec![(2, 5e-4)],
        seed: 7,
        val_frames: 1,
        ..TrainConfig::default()
    }
}

#[test]
fn an_interrupted_run_resumes_exactly() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path(), 12);
    let (train_set, val_set) = datasets(&root);
    let device = Device::flex().autodiff();
    // Without validation (as the quick study): nothing but the checkpoint carries the
    // batch-norm statistics across the interruption.
    let run = |epochs: usize| TrainConfig {
        val_frames: 0,
        ..tiny_run(epochs)
    };
    let (straight, resumed) = (dir.path().join("straight"), dir.path().join("resumed"));
    let a = train(
        &run(3),
        &train_set,
        &val_set,
        &straight,
        &device,
        false,
        &|_| {},
    )
    .unwrap();
    // Stop after 2 epochs (the learning rate changes at epoch 2), then resume to 3.
    train(
        &run(2),
        &train_set,
        &val_set,
        &resumed,
        &device,
        false,
        &|_| {},
    )
    .unwrap();
    let b = train(
        &run(3),
        &train_set,
        &val_set,
        &resumed,
        &device,
        true,
        &|_| {},
    )
    .unwrap();
    assert_eq!(b.epochs_done, 3);
    assert_eq!(b.history[2].learning_rate, 5e-4);
    for (x, y) in a.history.iter().zip(&b.history) {
        assert_eq!(x.train_loss, y.train_loss, "{x:?} vs {y:?}");
    }
    // What a user sees: both final models predict the same disparities, bit for bit.
    let predict = |run: &Path| {
        let model = load_model(
            PsmNetConfig::tiny().init(&Device::flex()),
            &RunFiles::new(run).model(),
        )
        .unwrap();
        let e = val_set.get(0).unwrap();
        predict_pair(&model, &e.pair, e.focal_baseline, &Device::flex()).data
    };
    let (x, y) = (predict(&straight), predict(&resumed));
    let worst = x
        .iter()
        .zip(&y)
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max);
    assert!(
        worst == 0.0,
        "resumed predictions differ by up to {worst} px"
    );
}

#[test]
fn sdn_trains_as_sdn_with_its_depth_loss_and_predicts_disparity() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path(), 12);
    let cfg = TrainConfig {
        network: NetworkKind::Sdn,
        loss: LossKind::Depth,
        lr_steps: vec![],
        ..tiny_run(1)
    };
    let out = dir.path().join("sdn");
    let first = train_run(&cfg, &root, &out);
    // The first step minimised SDN's depth loss of a freshly initialised SDN (the same seed)
    // on that batch, not a PSMNet's loss.
    let device = Device::flex().autodiff();
    let fresh = burn_support::seeded_init(&device, cfg.seed, || cfg.sdn().init(&device));
    let expected = first_batch_loss(&fresh, &cfg, &root);
    assert!(
        (first - expected).abs() <= 1e-5 * expected.abs(),
        "first step {first} vs SDN's depth loss {expected}"
    );
    let psm = burn_support::seeded_init(&device, cfg.seed, || cfg.model.init(&device));
    let psm_loss = first_batch_loss(&psm, &cfg, &root);
    assert!(
        (first - psm_loss).abs() > 1e-3 * psm_loss.abs(),
        "SDN's first loss {first} equals PSMNet's {psm_loss}"
    );
    // A PSMNet trained on the same batches with the same (depth) loss ends with other weights.
    let psm_out = dir.path().join("psmnet");
    train_run(
        &TrainConfig {
            network: NetworkKind::Psmnet,
            ..cfg.clone()
        },
        &root,
        &psm_out,
    );
    let weights = |run: &Path| std::fs::read(RunFiles::new(run).model()).unwrap();
    assert_ne!(weights(&out), weights(&psm_out));

    let (_, val_set) = datasets(&root);
    let model = load_model(
        cfg.sdn().init(&Device::flex()),
        &RunFiles::new(&out).model(),
    )
    .unwrap();
    let e = val_set.get(0).unwrap();
    let d = predict_pair(&model, &e.pair, e.focal_baseline, &Device::flex());
    // Depths within 1..80 m map to disparities within f·B/80 .. f·B.
    let fb = e.focal_baseline;
    assert!(
        d.data
            .iter()
            .all(|v| *v >= fb / 80.0 - 1e-3 && *v <= fb + 1e-3),
        "{fb}"
    );
}

/// Trains `cfg` into `out` and writes its resolved config beside the checkpoints, as
/// `ftf disparity train` does, so that the folder can be an `init`.
fn train_run(cfg: &TrainConfig, root: &KittiRoot, out: &Path) -> f64 {
    let (train_set, val_set) = datasets(root);
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("config.toml"), toml::to_string(cfg).unwrap()).unwrap();
    let first = std::sync::Mutex::new(f64::NAN);
    let device = Device::flex().autodiff();
    train(cfg, &train_set, &val_set, out, &device, false, &|p| {
        if let disparity::psmnet::training::Progress::Step(0, 0, _, loss) = p {
            *first.lock().unwrap() = loss;
        }
    })
    .unwrap();
    first.into_inner().unwrap()
}

/// A 12-frame synthetic root in a temporary folder and, in its `pre/`, a tiny run trained
/// `epochs` on it: the start the fine-tuning tests load (take [`SEEDED`] first).
fn root_with_start(epochs: usize) -> (tempfile::TempDir, KittiRoot, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = synthetic_root(dir.path(), 12);
    let pre = dir.path().join("pre");
    train_run(&tiny_run(epochs), &root, &pre);
    (dir, root, pre)
}

/// The first batch of epoch 0 of `cfg`, built here from the public pieces (order, crop
/// stream, batcher) rather than by the training loop.
fn first_batch(cfg: &TrainConfig, root: &KittiRoot) -> disparity::psmnet::data::Batch {
    first_batch_weighting_objects(cfg, root, false)
}

/// [`first_batch`], with the pixels of labelled objects weighted `cfg.object_weight` times
/// (read from the frames' instance masks) when `objects`.
fn first_batch_weighting_objects(
    cfg: &TrainConfig,
    root: &KittiRoot,
    objects: bool,
) -> disparity::psmnet::data::Batch {
    use disparity::psmnet::data::{random_crop, weighted_batch};
    let (train_set, _) = datasets(root);
    let (train_set, weight) = if objects {
        (train_set.with_objects(), cfg.object_weight)
    } else {
        (train_set, 1.0)
    };
    let order = burn_support::shuffle::epoch_order(train_set.len(), cfg.seed, 0);
    let mut rng = kitti::rng::Rng::new(kitti::rng::hash(&[cfg.seed, 0, 0, 1]));
    let examples: Vec<_> = order[..cfg.batch_size]
        .iter()
        .map(|&i| {
            random_crop(
                &train_set.get(i).unwrap(),
                cfg.crop[0],
                cfg.crop[1],
                &mut rng,
            )
        })
        .collect();
    weighted_batch(&examples, weight, &Device::flex().autodiff())
}

#[test]
fn object_weight_weighs_the_objects_pixels_from_the_instance_masks() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, root, pre) = root_with_start(1);
    let cfg = TrainConfig {
        seed: 8,
        epochs: 1,
        lr_steps: vec![],
        init: Some(pre.clone()),
        object_weight: 6.0,
        ..tiny_run(1)
    };
    let first = train_run(&cfg, &root, &dir.path().join("weighted"));
    let device = Device::flex().autodiff();
    let start = || load_model(cfg.model.init(&device), &RunFiles::new(&pre).model()).unwrap();
    let weighted = first_batch_weighting_objects(&cfg, &root, true);
    // The weights are the instance masks': 6 on object pixels, 1 elsewhere, objects present.
    let w = weighted
        .pixel_weights
        .clone()
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let on_objects = w.iter().filter(|v| **v == 6.0).count();
    assert!(
        on_objects > 0 && w.iter().all(|v| *v == 6.0 || *v == 1.0),
        "{on_objects}"
    );
    use disparity::network::StereoNet;
    let by_weights: f32 = start()
        .training_loss(&weighted, cfg.loss, None)
        .into_scalar();
    let plain = first_batch_loss(&start(), &cfg, &root);
    assert!(
        (first - by_weights as f64).abs() <= 1e-5 * first.abs(),
        "first step {first} vs the start's weighted loss {by_weights}"
    );
    assert!(
        (first - plain).abs() > 1e-3 * plain.abs(),
        "the weighted loss equals the plain one ({plain}): the check proves nothing"
    );
    // Frames without instance masks (real KITTI) are refused, naming the file.
    let id = &root.split("train").unwrap().ids[0];
    let mask = root.path(kitti::Part::Training, kitti::FileKind::Instance, id);
    std::fs::remove_file(&mask).unwrap();
    let (train_set, val_set) = datasets(&root);
    let err = train(
        &cfg,
        &train_set,
        &val_set,
        &dir.path().join("no-masks"),
        &device,
        false,
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&mask.display().to_string()) && err.contains("object_weight"),
        "{err}"
    );
}

/// The loss of `model` on the first batch of epoch 0 of `cfg`.
fn first_batch_loss<N: disparity::network::StereoNet>(
    model: &N,
    cfg: &TrainConfig,
    root: &KittiRoot,
) -> f64 {
    let b = first_batch(cfg, root);
    let loss: f32 = model.training_loss(&b, cfg.loss, None).into_scalar();
    loss as f64
}

#[test]
fn fine_tuning_starts_from_the_init_weights_and_another_architecture_is_refused() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, root, pre) = root_with_start(2);

    // Fine-tuning from `pre` (another seed: other crops and order): its first step's loss is
    // the loss of the loaded weights on that batch.
    let tune = TrainConfig {
        seed: 8,
        epochs: 1,
        lr_steps: vec![],
        init: Some(pre.clone()),
        ..tiny_run(1)
    };
    let first = train_run(&tune, &root, &dir.path().join("tune"));
    let device = Device::flex().autodiff();
    let loaded = load_model(tune.model.init(&device), &RunFiles::new(&pre).model()).unwrap();
    let expected = first_batch_loss(&loaded, &tune, &root);
    assert!(
        (first - expected).abs() <= 1e-5 * expected.abs(),
        "first step {first} vs loaded model {expected}"
    );
    // Without `init` the same first batch sees the reference initialisation: another loss.
    let fresh = TrainConfig {
        init: None,
        ..tune.clone()
    };
    let scratch = train_run(&fresh, &root, &dir.path().join("scratch"));
    assert!(
        (scratch - expected).abs() > 0.05 * expected.abs(),
        "from scratch {scratch} vs from init {expected}"
    );

    // Start weights of another network fail before any work, naming the file and the field.
    let mut wide = tune.clone();
    wide.model.width = 16;
    let out = dir.path().join("wide");
    let (train_set, val_set) = datasets(&root);
    let err = train(&wide, &train_set, &val_set, &out, &device, false, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.width: 16 here, 8 there") && err.contains("pre/config.toml"),
        "{err}"
    );
    assert!(
        !RunFiles::new(&out).dir.exists(),
        "a checkpoint was written"
    );
    // A network of another cost-volume resolution (the same parameters) is refused as well,
    // unless the config says the start may differ in it: then it starts from those weights.
    let mut half = tune.clone();
    half.model.cost_volume_scale = 2;
    let err = disparity::psmnet::run::start_weights(&half)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.cost_volume_scale: 2 here, 4 there"),
        "{err}"
    );
    half.init_may_differ = vec!["model.cost_volume_scale".into()];
    half.validate().unwrap();
    let first = train_run(&half, &root, &dir.path().join("half"));
    let loaded = load_model(half.model.init(&device), &RunFiles::new(&pre).model()).unwrap();
    let expected = first_batch_loss(&loaded, &half, &root);
    assert!(
        (first - expected).abs() <= 1e-5 * expected.abs(),
        "first step {first} vs loaded model {expected}"
    );
    // Only settings that change no parameter may be named.
    half.init_may_differ = vec!["model.width".into()];
    let err = half.validate().unwrap_err();
    assert!(
        err.contains("init_may_differ = [\"model.width\"]") && err.contains("no parameter"),
        "{err}"
    );
    // And a folder without weights.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(pre.join("config.toml"), empty.join("config.toml")).unwrap();
    let no_weights = TrainConfig {
        init: Some(empty),
        ..tune
    };
    let err = disparity::psmnet::run::start_weights(&no_weights)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no weights"), "{err}");
}

#[test]
fn a_refinement_stage_starts_from_psmnet_weights_and_then_learns() {
    use disparity::psmnet::{RefineConfig, RefinedPsmNet};
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, root, pre) = root_with_start(1);

    // PSMNet with the stage, from `pre` (a run without it): the first step's loss is PSMNet's
    // three-output loss of the loaded weights plus, for the stage's output, the loss of
    // PSMNet's last output (a fresh stage returns the estimate unchanged).
    let mut tune = TrainConfig {
        seed: 8,
        epochs: 2,
        lr_steps: vec![],
        init: Some(pre.clone()),
        ..tiny_run(2)
    };
    tune.model.refine = Some(RefineConfig::default());
    let first = train_run(&tune, &root, &dir.path().join("tune"));
    let device = Device::flex().autodiff();
    let psmnet = load_model(
        PsmNetConfig::tiny().init(&device),
        &RunFiles::new(&pre).model(),
    )
    .unwrap();
    let b = first_batch(&tune, &root);
    let outputs = psmnet.forward(b.left.clone(), b.right.clone(), true);
    let last = disparity::loss::psm_loss(
        &outputs[2..],
        b.disparity.clone(),
        b.focal_baseline.clone(),
        tune.loss,
        None,
    );
    let expected = first_batch_loss(&psmnet, &tune, &root) + last.into_scalar::<f32>() as f64;
    assert!(
        (first - expected).abs() <= 1e-5 * expected.abs(),
        "first step {first} vs PSMNet's weights {expected}"
    );

    // After training the stage changes PSMNet's estimate: its output is no longer the base's.
    let tuned = load_model(
        RefinedPsmNet::new(&tune.model, &device),
        &RunFiles::new(&dir.path().join("tune")).model(),
    )
    .unwrap();
    let all = tuned.forward(b.left.clone(), b.right.clone(), true);
    let change = (all[3].clone() - all[2].clone())
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(
        change > 1e-3,
        "the stage still returns the estimate ({change})"
    );

    // A run with the stage is no start for a network without it.
    let back = TrainConfig {
        init: Some(dir.path().join("tune")),
        ..tiny_run(1)
    };
    let err = disparity::psmnet::run::start_weights(&back)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.refine: none here, offsets 4, step 1, channels 8 there"),
        "{err}"
    );
}

/// Every parameter and running statistic of the run in `dir`, by name.
fn weights_of(run: &Path, model: &PsmNetConfig) -> std::collections::BTreeMap<String, Vec<f32>> {
    use burn::store::ModuleSnapshot;
    let loaded = load_model(model.init(&Device::flex()), &RunFiles::new(run).model()).unwrap();
    loaded
        .collect(None, None, true)
        .iter()
        .map(|t| {
            let data = burn::store::bridge::to_data(t).unwrap();
            (t.name.clone(), data.try_into_vec::<f32>().unwrap())
        })
        .collect()
}

#[test]
fn frozen_batch_norm_keeps_the_start_statistics_and_trains_every_weight() {
    use disparity::psmnet::training::BatchNormMode;
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, root, pre) = root_with_start(2);
    let tune = |batch_norm| TrainConfig {
        seed: 8,
        epochs: 1,
        lr_steps: vec![],
        init: Some(pre.clone()),
        batch_norm,
        ..tiny_run(1)
    };
    let frozen_cfg = tune(BatchNormMode::Frozen);
    let first = train_run(&frozen_cfg, &root, &dir.path().join("frozen"));
    train_run(
        &tune(BatchNormMode::Train),
        &root,
        &dir.path().join("train"),
    );

    // The first step's loss is the start's loss when it normalises by its running statistics
    // (burn's frozen batch norm), not by the batch's.
    // (Each from its own copy of the start: a forward pass on batch statistics updates the
    // running ones.)
    let device = Device::flex().autodiff();
    let start =
        || load_model(frozen_cfg.model.init(&device), &RunFiles::new(&pre).model()).unwrap();
    let by_running = first_batch_loss(&burn::module::Module::freeze(start()), &frozen_cfg, &root);
    let by_batch = first_batch_loss(&start(), &frozen_cfg, &root);
    assert!(
        (first - by_running).abs() <= 1e-5 * by_running.abs(),
        "first step {first} vs the start on its running statistics {by_running}"
    );
    assert!(
        (by_batch - by_running).abs() > 1e-3 * by_running.abs(),
        "the two normalisations give the same loss ({by_batch}): the check proves nothing"
    );

    let model = &frozen_cfg.model;
    let start = weights_of(&pre, model);
    let frozen = weights_of(&dir.path().join("frozen"), model);
    let trained = weights_of(&dir.path().join("train"), model);
    assert_eq!(start.len(), frozen.len());
    let is_stat = |name: &str| name.contains("running_");
    let stats = start.keys().filter(|n| is_stat(n)).count();
    assert!(stats >= 10, "{stats} running statistics");
    let moved = |run: &std::collections::BTreeMap<String, Vec<f32>>, stat: bool| {
        start
            .iter()
            .filter(|(n, _)| is_stat(n) == stat)
            .filter(|(n, v)| run[*n] != **v)
            .count()
    };
    // Frozen: no running statistic moved, every weight did (scale and shift included).
    assert_eq!(moved(&frozen, true), 0);
    assert_eq!(moved(&frozen, false), start.len() - stats);
    // Training mode: the statistics moved too.
    assert_eq!(moved(&trained, true), stats);
}
