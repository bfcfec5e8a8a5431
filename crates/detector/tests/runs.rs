//! Training runs resume exactly, one model can hold several classes, and bad point files stop a
//! run naming the file.

mod common;

use burn::tensor::Device;
use common::{synthetic, tiny_config};
use detector::training::{train, Progress, TrainState};
use detector::{DetectorConfig, DetectorError};
use std::ops::ControlFlow;
use std::path::Path;

#[test]
fn a_resumed_run_matches_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut train_set, mut val_set) = synthetic(&tmp.path().join("root"), 6);
    train_set.ids.truncate(4);
    val_set.ids.truncate(2);
    let mut cfg = tiny_config();
    cfg.train.epochs = 3;
    cfg.train.batch_size = 2;
    // Every box passes, so that the predictions compared below are never empty.
    cfg.post.score_threshold = 0.0;
    let device = Device::flex().autodiff();
    // Without validation (as inside `ftf experiment`): nothing but the checkpoint carries the
    // batch-norm statistics across the interruption.
    let run = |out: &Path, resume: bool, stop_after: usize| -> TrainState {
        let stop = |p: Progress| match p {
            Progress::Epoch(r) if r.epoch + 1 == stop_after => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        };
        train(&cfg, &train_set, None, out, &device, resume, &stop).unwrap()
    };
    let whole = tmp.path().join("whole");
    let full = run(&whole, false, usize::MAX);
    // Interrupted after the first epoch, then resumed.
    let parts = tmp.path().join("parts");
    let first = run(&parts, false, 1);
    assert_eq!(first.epochs_done, 1);
    assert_eq!(
        first.history[0], full.history[0],
        "training is not deterministic"
    );
    let resumed = run(&parts, true, usize::MAX);
    assert_eq!(resumed.history.len(), 3);
    assert_eq!(resumed.history[1..], full.history[1..]);
    let (a, b) = (weights(&cfg, &whole), weights(&cfg, &parts));
    let worst = burn_support::largest_difference(&a, &b);
    assert!(
        worst == 0.0,
        "resumed weights or batch-norm statistics differ by up to {worst}"
    );
    // What a user sees: the two final models predict the same boxes with the same scores.
    let (p, q) = (
        detector::Detector::load(&whole, Device::flex()).unwrap(),
        detector::Detector::load(&parts, Device::flex()).unwrap(),
    );
    let mut boxes = 0;
    for id in &val_set.ids {
        let frame = val_set.source.load(id, &p.specs, true).unwrap();
        let (x, y) = (p.predict(&frame), q.predict(&frame));
        assert_eq!(x, y, "frame {id}");
        boxes += x.len();
    }
    assert!(
        boxes > 0,
        "the models predict nothing: the comparison proves little"
    );
}

#[test]
fn empty_and_malformed_point_files_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (train_set, _) = synthetic(&tmp.path().join("root"), 2);
    let id = &train_set.ids[0];
    let specs = tiny_config().class_specs().unwrap();
    let bin = train_set.source.points.join(format!("{id}.bin"));
    std::fs::write(&bin, b"").unwrap();
    let err = train_set.source.load(id, &specs, true).unwrap_err();
    assert!(matches!(err, DetectorError::EmptyCloud { .. }), "{err}");
    assert!(err.to_string().contains(&format!("{id}.bin")), "{err}");
    std::fs::write(&bin, [0u8; 20]).unwrap();
    let err = train_set.source.load(id, &specs, true).unwrap_err();
    assert!(err.to_string().contains(&format!("{id}.bin")), "{err}");
    std::fs::remove_file(&bin).unwrap();
    let err = train_set.source.check(&train_set.ids).unwrap_err();
    assert!(err.to_string().contains("no point cloud file"), "{err}");
}

/// Every float parameter (and batch-norm statistic) of a run's last checkpoint, in order.
fn weights(cfg: &DetectorConfig, run: &Path) -> Vec<f32> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let device = Device::flex();
    let model = burn_support::load_model(
        detector::model::PointPillars::new(cfg, &device),
        &burn_support::CheckpointFiles::new(run).model(),
    )
    .unwrap();
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

#[test]
fn one_model_can_detect_several_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut train_set, mut val_set) = synthetic(&tmp.path().join("root"), 6);
    train_set.ids.truncate(2);
    val_set.ids.truncate(1);
    let mut cfg = tiny_config();
    cfg.classes = vec!["Car".into(), "Pedestrian".into()];
    cfg.train.epochs = 1;
    cfg.train.eval_every = 1;
    let out = tmp.path().join("run");
    let state = train(
        &cfg,
        &train_set,
        Some(&val_set),
        &out,
        &Device::flex().autodiff(),
        false,
        &|_| ControlFlow::Continue(()),
    )
    .unwrap();
    // Validation scored both classes.
    let ap = &state.history[0].val_ap;
    assert!(
        ap.keys().any(|k| k.starts_with("Car/")) && ap.keys().any(|k| k.starts_with("Pedestrian/")),
        "{ap:?}"
    );
    let detector = detector::Detector::load(&out, Device::flex()).unwrap();
    assert_eq!(detector.specs.len(), 2);
    let frame = val_set
        .source
        .load(&val_set.ids[0], &detector.specs, true)
        .unwrap();
    for o in detector.predict(&frame) {
        assert!(matches!(
            o.kind,
            kitti::label::ObjectType::Car | kitti::label::ObjectType::Pedestrian
        ));
    }
}

#[test]
fn the_sampling_database_keeps_only_the_points_of_its_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let (train_set, _) = synthetic(&tmp.path().join("root"), 6);
    let cfg = tiny_config();
    let specs = cfg.class_specs().unwrap();
    let db = detector::training::build_database(&cfg, &specs, &train_set).unwrap();
    // The same objects, in the same order, as cutting every loaded frame at once would give.
    let mut whole = detector::augment::SampleDatabase::default();
    let mut scene_points = 0;
    for id in &train_set.ids {
        let frame = train_set
            .source
            .load(id, &specs, cfg.pillars.camera_fov_only)
            .unwrap();
        scene_points += frame.points.len();
        whole.add_frame(&frame, specs.len(), cfg.augment.min_points);
    }
    assert!(!db.is_empty());
    assert_eq!(db.objects, whole.objects);
    // What it holds is the objects' points, a small share of the frames' points.
    let kept: usize = db.objects.iter().flatten().map(|o| o.points.len()).sum();
    assert!(
        kept * 5 < scene_points,
        "{kept} of {scene_points} points kept"
    );
}
