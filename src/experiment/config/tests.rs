use super::*;

fn shipped(name: &str) -> Result<ExperimentConfig> {
    // Paths inside the configs are relative to the repository root, where tests run.
    ExperimentConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(name),
    )
}

#[test]
fn the_shipped_studies_are_valid() {
    let quick = shipped("synthetic-quick.toml").unwrap();
    assert_eq!(quick.baseline, "psmnet-disparity");
    let depth = quick
        .upstream
        .iter()
        .find(|u| u.name == "psmnet-depth")
        .unwrap();
    assert_eq!(depth.train_config().unwrap().loss, LossKind::Depth);
    // A downstream entry's epochs override its detector config's.
    let mut car = quick.downstream[0].clone();
    let file = detector::DetectorConfig::load(car.config.as_ref().unwrap()).unwrap();
    assert_eq!(
        car.detector_config().unwrap().train.epochs,
        file.train.epochs
    );
    car.epochs = Some(file.train.epochs + 3);
    assert_eq!(
        car.detector_config().unwrap().train.epochs,
        file.train.epochs + 3
    );
    shipped("synthetic-full.toml").unwrap();
    // The entanglement study runs the quick study's half-resolution version: the same
    // frames at scale 0.5.
    let mut half = quick.data.clone();
    let synthetic = half.synthetic.as_mut().unwrap();
    assert_eq!(synthetic.scale, 1.0);
    synthetic.scale = 0.5;
    // The entanglement study: those frames, two noises at one target MAE.
    let tangle = shipped("synthetic-entanglement.toml").unwrap();
    assert_eq!(tangle.data, half);
    let specs: Vec<_> = tangle
        .upstream
        .iter()
        .filter_map(|u| u.perturbation())
        .collect();
    assert_eq!(specs.len(), 3);
    assert_eq!(specs[1].spread, specs[2].spread);
    assert_ne!(specs[1].noise, specs[2].noise);
    // The quick study's question under detector-training noise: its frames, arms and
    // detectors, three detector seeds.
    let seeds = shipped("synthetic-quick-seeds.toml").unwrap();
    assert_eq!(seeds.downstream_seeds, Some(vec![0, 1, 2]));
    assert_eq!(seeds.data, quick.data);
    assert_eq!(seeds.upstream[..], quick.upstream[2..]);
    assert_eq!(seeds.downstream[..], quick.downstream[..]);
    // The detector-seeds question with the depth edges dropped: the main job's variants.
    let edges = shipped("synthetic-quick-edges.toml").unwrap();
    assert_eq!(
        edges.points.edges,
        Some(pseudo_lidar::EdgeFilter {
            radius: 2,
            ratio: 0.15
        })
    );
    assert_eq!(edges.downstream_seeds, Some(vec![0, 1, 2]));
    assert_eq!(
        (&edges.data, &edges.upstream, &edges.downstream, &edges.eval),
        (&quick.data, &quick.upstream, &quick.downstream, &quick.eval)
    );
    // The same question about the change: the arms under three upstream seeds.
    let useeds = shipped("synthetic-quick-upstream-seeds.toml").unwrap();
    assert_eq!(
        (useeds.seeds.clone(), useeds.downstream_seeds),
        (vec![0, 1, 2], None)
    );
    assert_eq!(useeds.data, quick.data);
    assert_eq!(useeds.upstream[..], quick.upstream[2..]);
    assert_eq!(useeds.downstream[..], quick.downstream[..]);
    // The paper's study needs the KITTI download; everything else in it checks out.
    let err = format!("{:#}", shipped("kitti-paper.toml").unwrap_err());
    assert!(
        err.contains("data.root") && err.contains("/data/kitti"),
        "{err}"
    );
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/kitti-paper.toml"),
    )
    .unwrap();
    let paper: ExperimentConfig = toml::from_str(&text).unwrap();
    let psm = paper.upstream[1].train_config().unwrap();
    assert_eq!(
        (
            psm.model.max_disparity,
            psm.epochs,
            psm.batch_size,
            psm.crop
        ),
        (192, 300, 12, [256, 512])
    );
    assert_eq!(
        paper.upstream[2].train_config().unwrap().loss,
        LossKind::Depth
    );
    // The downstream half from the paper's released PSMNets: the same study without
    // upstream training.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/kitti-paper-released.toml"),
    )
    .unwrap();
    let released: ExperimentConfig = toml::from_str(&text).unwrap();
    assert_eq!(
        (&released.downstream, &released.points, &released.eval),
        (&paper.downstream, &paper.points, &paper.eval)
    );
    let arms: Vec<_> = released
        .upstream
        .iter()
        .filter(|u| u.kind == UpstreamKind::Psmnet)
        .collect();
    assert!(arms.len() == 2 && arms.iter().all(|u| !u.trained() && u.checkpoint.is_some()));
    let err = format!("{:#}", shipped("kitti-paper-released.toml").unwrap_err());
    assert!(err.contains("data.root"), "{err}");
}

#[test]
fn a_checkpoint_without_a_training_config_keeps_its_own_network() {
    // The shipped start as a variant that is predicted, never fine-tuned: without `train`,
    // its network is the checkpoint's (the quick study's), not the reference recipe's.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let start_dir = root
        .join("models/psmnet-quick-pretrained")
        .display()
        .to_string();
    let text = format!(
        r#"
name = "t"
baseline = "start"
[data.synthetic]
frames = 8
scale = 0.5
[[upstream]]
name = "start"
kind = "psmnet"
checkpoint = "{start_dir}"
[[downstream]]
name = "car"
class = "Car"
"#
    );
    let cfg: ExperimentConfig = toml::from_str(&text).unwrap();
    cfg.validate().unwrap();
    let quick = disparity::psmnet::training::TrainConfig::load(
        &root.join("configs/psmnet-quick-half.toml"),
    )
    .unwrap();
    let start = cfg.upstream[0].train_config().unwrap();
    assert_eq!(start.model, quick.model);
    assert_ne!(
        start.model,
        disparity::psmnet::training::TrainConfig::default().model
    );
    // A checkpoint folder without its config is refused, naming the field and the file.
    let empty = tempfile::tempdir().unwrap();
    let text = text.replace(&start_dir, &empty.path().display().to_string());
    let cfg: ExperimentConfig = toml::from_str(&text).unwrap();
    let err = format!("{:#}", cfg.validate().unwrap_err());
    assert!(
        err.contains("upstream.start.checkpoint") && err.contains("config.toml"),
        "{err}"
    );
}

#[test]
fn controlled_variants_need_synthetic_data() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("ImageSets")).unwrap();
    std::fs::create_dir_all(root.path().join("training")).unwrap();
    std::fs::write(root.path().join("ImageSets/train.txt"), "000000\n").unwrap();
    std::fs::write(root.path().join("ImageSets/val.txt"), "000001\n").unwrap();
    for kind in [
        "kind = \"oracle\"",
        "kind = \"perturbed\"\nnoise = \"depth\"\nspread = 0.1",
    ] {
        let text = format!(
            r#"
name = "t"
baseline = "u"
[data]
root = "{}"
[[upstream]]
name = "u"
{kind}
[[downstream]]
name = "car"
class = "Car"
"#,
            root.path().display()
        );
        let cfg: ExperimentConfig = toml::from_str(&text).unwrap();
        let err = format!("{:#}", cfg.validate().unwrap_err());
        assert!(
            err.contains("upstream.u") && err.contains("only synthetic data"),
            "{err}"
        );
    }
}

#[test]
fn a_val_split_sharing_frames_with_the_train_split_is_refused() {
    // A KITTI root whose val split repeats two training frames.
    let root = tempfile::tempdir().unwrap();
    let sets = root.path().join("ImageSets");
    std::fs::create_dir_all(&sets).unwrap();
    std::fs::create_dir_all(root.path().join("training")).unwrap();
    std::fs::write(sets.join("train.txt"), "000000\n000001\n000002\n").unwrap();
    std::fs::write(sets.join("val.txt"), "000003\n000002\n000001\n").unwrap();
    std::fs::write(sets.join("test.txt"), "000003\n000004\n").unwrap();
    let mut cfg = shipped("synthetic-quick.toml").unwrap();
    cfg.data.synthetic = None;
    cfg.data.root = Some(root.path().to_path_buf());
    let err = format!("{:#}", cfg.validate().unwrap_err());
    assert!(
        err.contains("data.val_split: `val` shares 2 of its 3 frames")
            && err.contains("data.train_split `train`")
            && err.contains("the first: 000002"),
        "{err}"
    );
    // Disjoint splits pass (the root's frames are checked when the data stage reads them).
    cfg.data.val_split = "test".into();
    cfg.validate().unwrap();
    // A split file that is not there, or not a split, is named before any work.
    cfg.data.val_split = "tset".into();
    let err = format!("{:#}", cfg.validate().unwrap_err());
    assert!(
        err.contains("data.val_split") && err.contains("ImageSets/tset.txt"),
        "{err}"
    );
    std::fs::write(sets.join("tset.txt"), "000003\n000003\n").unwrap();
    let err = format!("{:#}", cfg.validate().unwrap_err());
    assert!(
        err.contains("tset.txt:2") && err.contains("listed twice"),
        "{err}"
    );

    // A synthetic set: trainval holds every val frame; train and val are disjoint.
    let mut quick = shipped("synthetic-quick.toml").unwrap();
    quick.data.train_split = "trainval".into();
    let err = format!("{:#}", quick.validate().unwrap_err());
    assert!(
        err.contains("`val` shares 100 of its 100 frames with data.train_split `trainval`"),
        "{err}"
    );
    quick.data.allow_shared_frames = true;
    quick.validate().unwrap();
    quick.data.train_split = "test".into();
    let err = format!("{:#}", quick.validate().unwrap_err());
    assert!(
        err.contains("data.train_split: `test` is not a split of a synthetic set"),
        "{err}"
    );
}
