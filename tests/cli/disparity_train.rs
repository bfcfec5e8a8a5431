//! `ftf disparity train` (its config checks, checkpoints, predictions) and `ftf disparity
//! import`.

use crate::common::{config, ftf, text};
use crate::{arg, assert_fails_naming, synthetic_root};
use std::path::Path;

/// Lines replaced in a config (old, new), and what the error must name.
type BadConfig = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// Training configs that must fail before any work: lines of psmnet-tiny.toml replaced, and
/// what the error must name besides the file.
const BAD_TRAINING_CONFIGS: &[BadConfig] = &[
    // Values the hourglasses cannot take.
    (
        &[("max_disparity = 32", "max_disparity = 40")],
        &["model.max_disparity = 40", "multiple of 16"],
    ),
    (
        &[(
            "max_disparity = 32",
            "max_disparity = 32\ncost_volume_scale = 3",
        )],
        &["model.cost_volume_scale = 3", "or 2"],
    ),
    (
        &[
            ("seed = 7", "seed = 7\nnetwork = \"sdn\""),
            (
                "max_disparity = 32",
                "max_disparity = 32\ncost_volume_scale = 2",
            ),
        ],
        &["model.cost_volume_scale = 2", "\"sdn\""],
    ),
    // Sizes the process could not allocate (it aborted).
    (
        &[("width = 8", "width = 100000000")],
        &["model.width = 100000000", "1 to 512"],
    ),
    (
        &[("blocks = [1, 1, 1, 1]", "blocks = [1, 1, 1, 100000000]")],
        &["model.blocks = [1, 1, 1, 100000000]", "at most 64"],
    ),
    (
        &[
            ("max_disparity = 32", "max_disparity = 2048"),
            ("crop = [64, 128]", "crop = [64, 2048]"),
        ],
        &["model.max_disparity = 2048", "at most 1024"],
    ),
    // A start may differ only in settings that change no parameter.
    (
        &[("seed = 7", "seed = 7\ninit_may_differ = [\"model.width\"]")],
        &["init_may_differ = [\"model.width\"]", "change no parameter"],
    ),
    // The refinement stage's values, and the stage on SDN, which has no disparity regression.
    (
        &[(
            "align_corners = false",
            "align_corners = false\n\n[model.refine]\nstep = 0.0",
        )],
        &["model.refine.step = 0"],
    ),
    (
        &[(
            "align_corners = false",
            "align_corners = false\n\n[model.refine]\noffsets = 0",
        )],
        &["model.refine.offsets = 0"],
    ),
    (
        &[(
            "align_corners = false",
            "align_corners = false\n\n[model.refine]\nchannels = 0",
        )],
        &["model.refine.channels = 0"],
    ),
    (
        &[
            ("seed = 7", "seed = 7\nnetwork = \"sdn\""),
            (
                "align_corners = false",
                "align_corners = false\n\n[model.refine]",
            ),
        ],
        &["model.refine", "network = \"sdn\""],
    ),
    // Geometric levels on SDN (which resamples a uniform volume), and a spacing not offered.
    (
        &[
            ("seed = 7", "seed = 7\nnetwork = \"sdn\""),
            (
                "align_corners = false",
                "align_corners = false\nlevels = \"geometric\"",
            ),
        ],
        &["model.levels = \"geometric\"", "\"sdn\""],
    ),
    (
        &[(
            "align_corners = false",
            "align_corners = false\nlevels = \"log\"",
        )],
        &["levels", "geometric"],
    ),
    // An object weight that is not a positive number, and one on SDN (whose loss has none).
    (
        &[("seed = 7", "seed = 7\nobject_weight = 0.0")],
        &["object_weight", "above 0"],
    ),
    (
        &[("seed = 7", "seed = 7\nobject_weight = -2.0")],
        &["object_weight", "above 0"],
    ),
    (
        &[("seed = 7", "seed = 7\nobject_weight = inf")],
        &["object_weight", "finite"],
    ),
    (
        &[(
            "seed = 7",
            "seed = 7\nnetwork = \"sdn\"\nobject_weight = 4.0",
        )],
        &["object_weight = 4", "\"sdn\""],
    ),
    // A value serde refuses is named by its line and key.
    (
        &[("seed = 7", "seed = 7\nbatch_norm = \"fro\"")],
        &["(`batch_norm = \"fro\"`)", "expected `train` or `frozen`"],
    ),
    (&[("crop = [64, 128]", "crop = [0, 0]")], &["crop = [0, 0]"]),
    // Two rates for one epoch (which one applies is a guess), and selection by a validation
    // that never runs (the last epoch's weights would predict without a word).
    (
        &[(
            "lr_steps = []",
            "lr_steps = [[5, 0.0001], [9, 0.00001], [5, 0.001]]",
        )],
        &["lr_steps = [5, 0.001]", "epoch 5 is given two rates"],
    ),
    (
        &[("val_frames = 4", "val_frames = 0\nselect = \"best_val\"")],
        &["select = \"best_val\"", "val_frames = 0"],
    ),
];

#[test]
fn psmnet_train_predict_and_a_checkpoint_of_another_architecture() {
    let (tmp, root) = synthetic_root("2");
    let r = |p: &str| arg(&root, p);
    // `ftf disparity train` of psmnet-tiny.toml with some lines replaced, into `out`.
    let train_with = |replace: &[(&str, &str)], out: &str| {
        let cfg = config(tmp.path(), "psmnet-tiny.toml", replace);
        ftf(&[
            "disparity",
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--root",
            &r(""),
            "--gt",
            &r("training/disparity_2"),
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ])
    };
    let o = train_with(
        &[
            ("epochs = 20", "epochs = 1"),
            ("val_frames = 4", "val_frames = 1"),
        ],
        "run",
    );
    let run = tmp.path().join("run");
    assert!(
        o.status.success() && text(&o).contains("1 epochs done"),
        "{}",
        text(&o)
    );
    // One checkpoint: the epoch's weights and Adam state, named by the state file written last.
    let files = burn_support::CheckpointFiles::new(&run);
    for f in [
        run.join("config.toml"),
        run.join("checkpoints/model-0000.bpk"),
        run.join("checkpoints/optim-0000.bpk"),
        files.state(),
    ] {
        assert!(f.is_file(), "{} missing", f.display());
    }
    assert_eq!(files.model(), run.join("checkpoints/model-0000.bpk"));
    // A validation split that repeats training frames, refused before any work.
    let shared = tmp.path().join("shared-val");
    let o = ftf(&[
        "disparity",
        "train",
        "--config",
        config(tmp.path(), "psmnet-tiny.toml", &[])
            .to_str()
            .unwrap(),
        "--root",
        &r(""),
        "--gt",
        &r("training/disparity_2"),
        "--val-split",
        "trainval",
        "--out",
        shared.to_str().unwrap(),
    ]);
    assert_fails_naming(
        &o,
        &[
            "ImageSets/trainval.txt:1",
            "is also in the training split",
            "train.txt",
        ],
    );
    assert!(!shared.exists());
    // A fresh training into the finished run's folder (no --resume) is refused before it
    // rewrites the folder's config: a stop before its first epoch left the old weights under
    // the new settings.
    let config_before = std::fs::read(run.join("config.toml")).unwrap();
    let o = train_with(
        &[
            ("epochs = 20", "epochs = 1"),
            ("val_frames = 4", "val_frames = 1"),
            ("seed = 7", "seed = 8"),
        ],
        "run",
    );
    assert_fails_naming(
        &o,
        &[
            "run/checkpoints/state.json",
            "holds a training run",
            "--resume",
        ],
    );
    assert_eq!(
        std::fs::read(run.join("config.toml")).unwrap(),
        config_before
    );
    // `select = "last"` (the default): no best-epoch weights, the last epoch predicts.
    assert_eq!(files.best(), None);
    assert_eq!(files.for_inference(), files.model());
    let pred = tmp.path().join("pred");
    let predict = |out: &Path| {
        ftf(&[
            "disparity",
            "predict",
            "--model",
            "trained",
            "--run",
            run.to_str().unwrap(),
            "--root",
            &r(""),
            "--split",
            "val",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = predict(&pred);
    assert!(
        o.status.success() && text(&o).contains("GB of RAM"),
        "{}",
        text(&o)
    );
    let d = kitti::DisparityMap::read(&pred.join("000002.png")).unwrap();
    assert_eq!((d.width, d.height), (311, 94));
    // One bit flipped in the weights (the file still parses, as other weights): refused by
    // the checksum its run's state recorded; the run folder is restored afterwards.
    let weights = files.model();
    let kept = std::fs::read(&weights).unwrap();
    let mut damaged = kept.clone();
    damaged[kept.len() - 1] ^= 0x40;
    std::fs::write(&weights, &damaged).unwrap();
    let o = predict(&tmp.path().join("pred-damaged"));
    assert_fails_naming(&o, &["model-0000.bpk", "damaged or replaced"]);
    std::fs::write(&weights, &kept).unwrap();
    // The same weights under a wider network: refused, naming both files.
    let wide = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replace("width = 8", "width = 16");
    std::fs::write(run.join("config.toml"), wide).unwrap();
    let o = predict(&tmp.path().join("pred2"));
    assert_fails_naming(&o, &["model-0000.bpk", "config.toml"]);

    // Values the network or its training cannot take fail before any work, naming the file and
    // the field.
    for (i, (replace, named)) in BAD_TRAINING_CONFIGS.iter().enumerate() {
        let out = format!("bad-config-{i}");
        let o = train_with(replace, &out);
        assert_fails_naming(&o, &[&["psmnet-tiny.toml"], *named].concat());
        assert!(!tmp.path().join(&out).exists(), "work started: {replace:?}");
    }
    // A crop larger than the frames (the reference's 256 x 512 on 311 x 94 frames) names a
    // frame and the crop instead of failing inside the network.
    let o = train_with(&[("crop = [64, 128]", "crop = [256, 512]")], "bad-crop");
    assert_fails_naming(&o, &["image_2/", "311 x 94", "crop = [256, 512]"]);
    assert_ne!(o.status.code(), Some(101), "{}", text(&o));
    assert!(!tmp.path().join("bad-crop/checkpoints").exists());
    let o = train_with(
        &[("epochs = 20", "epochs = 20\ninit = \"nowhere\"")],
        "bad3",
    );
    assert_fails_naming(&o, &["nowhere: not a run folder: no such folder"]);
    assert!(!tmp.path().join("bad3").exists(), "work started");
}

#[test]
fn imported_reference_checkpoints_become_run_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let psm = fixtures.join("disparity/tests/fixtures/psmnet-reference/psmnet.tar");
    let cfg = tmp.path().join("psm.toml");
    std::fs::write(
        &cfg,
        "[model]\nmax_disparity = 32\nwidth = 4\nblocks = [1, 2, 1, 1]\npyramid_pools = [8, 4, 2, 1]\nfeature_channels = 4\naggregation_channels = 2\n",
    )
    .unwrap();
    let run = tmp.path().join("psm-run");
    let o = ftf(&[
        "disparity",
        "import",
        "--from",
        psm.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(
        o.status.success() && text(&o).contains("imported 229 tensors"),
        "{}",
        text(&o)
    );
    assert!(
        run.join("config.toml").is_file() && run.join("checkpoints/model-imported.bpk").is_file()
    );
    // The reference width is refused with the tensors listed.
    let o = ftf(&[
        "disparity",
        "import",
        "--from",
        psm.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_fails_naming(&o, &["psmnet.tar", "wrong shape"]);
    let pp = fixtures.join("detector/tests/fixtures/pointpillars-reference/pointpillars.pth");
    let o = ftf(&[
        "detect",
        "import",
        "--from",
        pp.to_str().unwrap(),
        "--out",
        tmp.path().join("y").to_str().unwrap(),
        "--config",
        "configs/pointpillars-openpcdet-kitti.toml",
    ]);
    assert_fails_naming(
        &o,
        &[
            "pointpillars.pth",
            "wrong shape",
            "vfe.pfn_layers.0.linear.weight",
        ],
    );
}
