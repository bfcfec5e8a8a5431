//! Bad studies, refused before any work, naming the field.

use crate::common::text;
use crate::{run, study};

#[test]
fn bad_studies_fail_before_any_work_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |extra_replace: (&str, &str), needles: &[&str]| {
        let cfg = study(tmp.path(), 1, "");
        let t = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(extra_replace.0, extra_replace.1);
        std::fs::write(&cfg, t).unwrap();
        let o = run(&cfg, &[]);
        let t = text(&o);
        assert!(
            !o.status.success() && needles.iter().all(|n| t.contains(n)),
            "{t}"
        );
        assert!(!tmp.path().join("runs/mini").exists(), "work started: {t}");
    };
    check(
        ("baseline = \"sgm\"", "baseline = \"sdn\""),
        &["baseline", "sdn"],
    );
    check(("kind = \"sgm\"", "kind = \"census\""), &["census"]);
    // A file where the study's run folder belongs.
    std::fs::create_dir_all(tmp.path().join("runs")).unwrap();
    std::fs::write(tmp.path().join("runs/taken"), "").unwrap();
    check(
        ("name = \"mini\"", "name = \"taken\""),
        &["runs_dir", "taken: a file where the output folder belongs"],
    );
    // Perturbed variants: every field checked up front, each named with its value.
    let perturbed = |fields: &str| {
        (
            "kind = \"sgm\"\nmax_disparity = 48",
            format!("kind = \"perturbed\"\n{fields}"),
        )
    };
    for (fields, needles) in [
        ("target_mae = 1.0", &["upstream.sgm.noise"][..]),
        (
            "noise = \"disparity\"",
            &["upstream.sgm", "exactly one of `spread`"],
        ),
        (
            "noise = \"disparity\"\nspread = 1.0\ntarget_mae = 1.0",
            &["upstream.sgm", "exactly one of `spread`"],
        ),
        (
            "noise = \"depth\"\nspread = -1.0",
            &["upstream.sgm.spread", "-1"],
        ),
        (
            "noise = \"depth\"\ntarget_mae = nan",
            &["upstream.sgm.target_mae", "NaN"],
        ),
        (
            "noise = \"depth\"\ntarget_mae = 1.0\nblur = 99",
            &["upstream.sgm.blur", "99 px", "32 px"],
        ),
        ("noise = \"pixels\"\nspread = 1.0", &["pixels"]),
    ] {
        let (from, to) = perturbed(fields);
        check((from, &to), needles);
    }
    check(
        (
            "kind = \"sgm\"\nmax_disparity = 48",
            "kind = \"sgm\"\nbleed = 2",
        ),
        &["upstream.sgm", "perturbed variants only"],
    );
    check(
        ("max_disparity = 48", "max_disparity = 0"),
        &["upstream.sgm.max_disparity", "1..=512", "got 0"],
    );
    check(
        ("loss = \"depth\"", "loss = \"depth\"\nmax_disparity = 64"),
        &["upstream.psmnet-depth.max_disparity", "sgm only"],
    );
    // The PSMNet's crop (64 x 128) does not fit frames at a tenth of KITTI's size (124 x 38).
    check(
        ("scale = 0.25", "scale = 0.1"),
        &["upstream.psmnet-depth", "crop = [64, 128]", "124 x 38"],
    );
    // The depth-edge filter of the points stage.
    let edges = |table: &str| {
        (
            "baseline = \"sgm\"",
            format!("baseline = \"sgm\"\n[points]\nedges = {{ {table} }}"),
        )
    };
    for (table, needles) in [
        (
            "radius = 0, ratio = 0.15",
            &["points.edges.radius = 0", "1 to 16"][..],
        ),
        (
            "radius = 2, ratio = nan",
            &["points.edges.ratio = NaN", "above 0"],
        ),
        ("radius = 2", &["ratio"]),
        ("radius = 2, ratio = 0.1, size = 3", &["size"]),
    ] {
        let (from, to) = edges(table);
        check((from, &to), needles);
    }
    check(
        (
            "name = \"car\"\nclass = \"Car\"",
            "name = \"car\"\nclass = \"Truck\"",
        ),
        &["downstream.car", "Truck"],
    );
    check(
        (
            "name = \"car\"\nclass = \"Car\"",
            "name = \"car\"\nclass = \"Car\"\nepochs = 0",
        ),
        &["downstream.car", "epochs must be positive"],
    );
    check(
        ("psmnet-tiny.toml", "missing.toml"),
        &["upstream.psmnet-depth.train", "missing.toml"],
    );
    // A checkpoint from another architecture: a PSMNet run given to an SDN variant.
    let run_dir = tmp.path().join("psm-run");
    std::fs::create_dir_all(run_dir.join("checkpoints")).unwrap();
    std::fs::write(run_dir.join("config.toml"), "network = \"psmnet\"\n").unwrap();
    std::fs::write(run_dir.join("checkpoints/last.bpk"), b"x").unwrap();
    check(
        (
            "kind = \"psmnet\"",
            &format!("kind = \"sdn\"\ncheckpoint = \"{}\"", run_dir.display()),
        ),
        &[
            "upstream.psmnet-depth.checkpoint",
            "another network",
            "network: sdn here, psmnet there",
        ],
    );
    // Start weights of another width, and start weights that are not there.
    std::fs::write(
        run_dir.join("config.toml"),
        "[model]\nmax_disparity = 32\nwidth = 16\n",
    )
    .unwrap();
    check(
        (
            "loss = \"depth\"",
            &format!("loss = \"depth\"\ninit = \"{}\"", run_dir.display()),
        ),
        &[
            "upstream.psmnet-depth.init",
            "model.width: 8 here, 16 there",
        ],
    );
    check(
        (
            "loss = \"depth\"",
            "loss = \"depth\"\ninit = \"/no/such/run\"",
        ),
        &[
            "upstream.psmnet-depth.init",
            "/no/such/run: not a run folder: no such folder",
        ],
    );
    // The statistics: the primary AP must be one the evaluation computes, the baseline must
    // have an upstream error, seeds and names are unique, intervals need resamples.
    check(
        (
            "[[downstream]]",
            "[eval]\niou_sets = [\"official\"]\nprimary_iou = \"loose\"\n\n[[downstream]]",
        ),
        &["eval.primary_iou", "loose", "iou_sets"],
    );
    check(
        (
            "[[downstream]]",
            "[eval]\nprimary = \"3d/range_0-20/R40\"\n\n[[downstream]]",
        ),
        &["eval.primary", "3d/range_0-20/R40"],
    );
    check(
        (
            "[[downstream]]",
            "[eval]\nresamples = 200\n\n[[downstream]]",
        ),
        &["eval.resamples", "200", "1000"],
    );
    // A range bin or a cloud listed twice (their APs and stages would repeat).
    check(
        (
            "[[downstream]]",
            "[eval]\nranges = [[0.0, 20.0], [20.0, 40.0], [0.0, 20.0]]\n\n[[downstream]]",
        ),
        &["eval.ranges", "[0, 20] is listed twice"],
    );
    check(
        (
            "[[downstream]]",
            "[points]\nclouds = [\"sparse\", \"dense\", \"sparse\"]\n\n[[downstream]]",
        ),
        &["points.clouds", "`sparse` is listed twice"],
    );
    // The synthetic set's settings go through the same checks as `ftf synth --config`.
    check(
        (
            "seed = 1\n",
            "seed = 1\n\n[data.synthetic.lidar]\nrange_noise = -1.0\n",
        ),
        &["data.synthetic", "`lidar.range_noise` = -1"],
    );
    check(
        (
            "[[downstream]]",
            "[eval]\nresamples = 100000000000\n\n[[downstream]]",
        ),
        &["eval.resamples", "100000000000", "at most 100000"],
    );
    check(
        ("baseline = \"sgm\"", "baseline = \"lidar\""),
        &["baseline", "lidar", "no upstream error"],
    );
    check(
        ("seeds = [0]", "seeds = [0, 0]"),
        &["seeds", "listed twice"],
    );
    check(
        ("seeds = [0]", "seeds = [0]\ndownstream_seeds = []"),
        &["downstream_seeds", "at least one"],
    );
    check(
        ("name = \"psmnet-depth\"", "name = \"sgm\""),
        &["upstream.sgm", "unique"],
    );
    // Dense ground truth exists only on synthetic data; the mini study's is synthetic, so a
    // wrong value is what fails here.
    check(
        ("loss = \"depth\"", "loss = \"depth\"\ngt = \"exact\""),
        &["exact", "gt"],
    );
}

#[test]
fn zero_jobs_fail_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = study(tmp.path(), 1, "");
    let o = run(&cfg, &["--jobs", "0"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("--jobs: must be at least 1"),
        "{t}"
    );
    assert!(!tmp.path().join("runs/mini").exists(), "{t}");
}
