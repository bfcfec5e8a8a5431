//! `ftf disparity predict` and `ftf disparity eval`, with PNG and `.npy` maps.

use crate::common::{ftf, text};
use crate::{arg, assert_fails_naming, synthetic_root};
use std::path::Path;

#[test]
fn disparity_predict_and_eval_commands() {
    let (tmp, root) = synthetic_root("8");
    let r = |p: &str| arg(&root, p);
    let pred = tmp.path().join("sgm");
    let predict = [
        "disparity",
        "predict",
        "--root",
        &r(""),
        "--split",
        "trainval",
        "--out",
        pred.to_str().unwrap(),
        "--max-disparity",
        "48",
    ];
    let o = ftf(&predict);
    assert!(
        o.status.success() && text(&o).contains("3 disparity maps predicted"),
        "{}",
        text(&o)
    );
    let o = ftf(&predict);
    assert!(
        text(&o).contains("0 disparity maps predicted, 3 already there"),
        "{}",
        text(&o)
    );
    let mut other = predict.to_vec();
    let last = other.len() - 1;
    other[last] = "64";
    let o = ftf(&other);
    assert_fails_naming(&o, &["model.txt"]);
    // A run given without `--model trained` is refused: SGM's maps were written in its place.
    let run = tmp.path().join("some-run");
    let o = ftf(&[&predict[..], &["--run", run.to_str().unwrap()]].concat());
    assert_fails_naming(&o, &["--run is for --model trained"]);
    // The root's exact maps as `--out`: taken as "already there" before, and scored as SGM's;
    // refused now, the maps untouched.
    let mut into_truth = predict.to_vec();
    let gt_maps = r("training/disparity_2");
    into_truth[7] = &gt_maps;
    let o = ftf(&into_truth);
    assert_fails_naming(&o, &["training/disparity_2", "3 file(s)", "no model.txt"]);
    assert!(!root.join("training/disparity_2/model.txt").exists());
    // A grayscale right image beside a colour left one (KITTI's image_1 for its image_3) is
    // named, with both kinds, before a map of that pair is written.
    let right = root.join("training/image_3/000001.png");
    let kept = std::fs::read(&right).unwrap();
    image::DynamicImage::ImageRgb8(image::open(&right).unwrap().to_rgb8())
        .grayscale()
        .save(&right)
        .unwrap();
    let gray = tmp.path().join("gray");
    let mut into_gray = predict.to_vec();
    let gray_arg = gray.display().to_string();
    into_gray[7] = &gray_arg;
    let o = ftf(&into_gray);
    assert_fails_naming(
        &o,
        &[
            "image_3/000001.png",
            "a grayscale image beside the colour left image",
        ],
    );
    assert!(!gray.join("000001.png").exists());
    std::fs::write(&right, kept).unwrap();

    let json = tmp.path().join("d.json");
    let png = tmp.path().join("d.png");
    let sgm_arg = format!("sgm={}", pred.display());
    let exact_arg = format!("exact={}", r("training/disparity_2"));
    let (gt_dir, root_dir) = (r("training/disparity_2"), r(""));
    let eval = |extra: &[&str]| {
        let mut a = vec![
            "disparity",
            "eval",
            "--gt",
            &gt_dir,
            "--root",
            &root_dir,
            "--split",
            "trainval",
        ];
        a.extend_from_slice(extra);
        ftf(&a)
    };
    // A run that succeeds, with the metrics it wrote as JSON.
    let eval_json = |extra: &[&str]| {
        let mut a = extra.to_vec();
        a.extend(["--json", json.to_str().unwrap()]);
        let o = eval(&a);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (o, v)
    };
    let (o, v) = eval_json(&[
        "--pred",
        &sgm_arg,
        "--pred",
        &exact_arg,
        "--plot",
        png.to_str().unwrap(),
    ]);
    // The ground truth against itself: no error, every pixel predicted.
    let exact = &v["exact"]["all"];
    assert_eq!(
        (
            exact["epe"].as_f64(),
            exact["density"].as_f64(),
            exact["d1"].as_f64()
        ),
        (Some(0.0), Some(1.0), Some(0.0))
    );
    assert!(v["exact"]["Car"]["pixels"].as_u64().unwrap() > 100);
    let sgm = &v["sgm"]["all"];
    assert!(
        sgm["epe"].as_f64().unwrap() > 0.0 && sgm["d1"].as_f64().unwrap() < 0.25,
        "{sgm}"
    );
    // Per object: the ground truth places every car and pedestrian exactly; as many objects
    // as the frames have labels of those classes with 10 mask pixels of ground truth in range.
    assert!(text(&o).contains("Per object"), "{}", text(&o));
    let (mut expected, mut outline) = ([0u64; 2], [0u64; 2]);
    for id in ["000000", "000001", "000002"] {
        let at = |dir: &str, ext: &str| root.join(format!("training/{dir}/{id}.{ext}"));
        let mask = kitti::InstanceMask::read(&at("instance_2", "png")).unwrap();
        let gt = kitti::DisparityMap::read_any(&at("disparity_2", "png")).unwrap();
        let calib = kitti::Calibration::read(&at("calib", "txt")).unwrap();
        let fb = calib.fu() * kitti::Baseline::REFERENCE.metres(&calib);
        let labels = kitti::read_labels(&at("label_2", "txt")).unwrap();
        for (i, l) in labels.iter().enumerate() {
            let class = match l.kind {
                kitti::ObjectType::Car => 0,
                kitti::ObjectType::Pedestrian => 1,
                _ => continue,
            };
            let pixels = mask
                .data
                .iter()
                .zip(&gt.data)
                .filter(|(m, g)| {
                    let z = fb / **g as f64;
                    **m as usize == i + 1 && **g > 0.0 && (1.0..=80.0).contains(&z)
                })
                .count();
            expected[class] += (pixels >= 10) as u64;
        }
        // Outlines, counted pixel by pixel: ground-truth pixels that show no labelled object
        // but have a car (else a pedestrian) pixel within 4 px.
        let (w, h) = (mask.width as i64, mask.height as i64);
        let class_at = |x: i64, y: i64| match mask.data[(y * w + x) as usize] {
            0 => None,
            id => Some(labels[id as usize - 1].kind),
        };
        for y in 0..h {
            for x in 0..w {
                if mask.data[(y * w + x) as usize] != 0 || gt.data[(y * w + x) as usize] <= 0.0 {
                    continue;
                }
                let near = |kind| {
                    (y - 4..=y + 4).any(|v| {
                        (x - 4..=x + 4).any(|u| {
                            u >= 0 && v >= 0 && u < w && v < h && class_at(u, v) == Some(kind)
                        })
                    })
                };
                if near(kitti::ObjectType::Car) {
                    outline[0] += 1;
                } else if near(kitti::ObjectType::Pedestrian) {
                    outline[1] += 1;
                }
            }
        }
    }
    for (class, n) in [
        ("Car outline", outline[0]),
        ("Pedestrian outline", outline[1]),
    ] {
        let m = &v["exact"][class];
        assert_eq!(
            (m["pixels"].as_u64(), m["epe"].as_f64()),
            (Some(n), Some(0.0)),
            "{class}"
        );
    }
    assert!(outline[0] > 0, "no car outline to count");
    // Object pixels from LiDAR points are samples, not silhouettes: no outline rows then.
    let (o, by_lidar) = eval_json(&["--pred", &exact_arg, "--classes", "lidar"]);
    let exact_by_lidar = &by_lidar["exact"];
    assert!(
        exact_by_lidar["Car"]["pixels"].as_u64().unwrap() > 0,
        "{exact_by_lidar}"
    );
    assert!(exact_by_lidar["Car outline"].is_null(), "{exact_by_lidar}");
    assert!(!text(&o).contains("outline"), "{}", text(&o));
    // Depth edges dropped first: the exact map loses the pixels whose 5 x 5 window spans more
    // than 15 % (counted here window by window), and what is kept is still exact.
    let (_, edged) = eval_json(&["--pred", &exact_arg, "--edge-ratio", "0.15"]);
    let mut dropped = 0u64;
    for id in ["000000", "000001", "000002"] {
        let gt =
            kitti::DisparityMap::read_any(&root.join(format!("training/disparity_2/{id}.png")))
                .unwrap();
        let (w, h) = (gt.width as i64, gt.height as i64);
        let at = |x: i64, y: i64| gt.data[(y * w + x) as usize];
        for y in 0..h {
            for x in 0..w {
                if at(x, y) <= 0.0 {
                    continue;
                }
                let window: Vec<f32> = (y - 2..=y + 2)
                    .flat_map(|v| (x - 2..=x + 2).map(move |u| (u, v)))
                    .filter(|&(u, v)| u >= 0 && v >= 0 && u < w && v < h)
                    .map(|(u, v)| at(u, v))
                    .filter(|d| *d > 0.0)
                    .collect();
                let lo = window.iter().cloned().fold(f32::INFINITY, f32::min) as f64;
                let hi = window.iter().cloned().fold(0.0, f32::max) as f64;
                dropped += (hi > 1.15 * lo) as u64;
            }
        }
    }
    let (all, kept) = (&v["exact"]["all"], &edged["exact"]["all"]);
    assert!(dropped > 0, "no depth edge in the frames");
    assert_eq!(
        (kept["pixels"].as_u64(), kept["epe"].as_f64()),
        (Some(all["pixels"].as_u64().unwrap() - dropped), Some(0.0)),
        "{kept}"
    );
    let density = kept["density"].as_f64().unwrap();
    assert!(density < 1.0 && density > 0.5, "{kept}");
    let o = eval(&["--pred", &exact_arg, "--edge-ratio", "0"]);
    assert_fails_naming(&o, &["--edge-ratio = 0"]);
    // Two models of one name would share a row label and a JSON key; a name or folder left
    // out of NAME=DIR is named too.
    let o = eval(&["--pred", &exact_arg, "--pred", &exact_arg]);
    assert_fails_naming(&o, &["a second model named", "NAME=DIR"]);
    let o = eval(&["--pred", &format!("={exact_arg}")]);
    assert_fails_naming(&o, &["needs both a name and a folder"]);
    // A mistyped folder, and a picture not named .png, are named before any map is read.
    let o = eval(&["--pred", "exact=nowhere"]);
    assert_fails_naming(&o, &["--pred nowhere", "no such folder"]);
    let o = eval(&["--pred", &exact_arg, "--plot", "depth.jpg"]);
    assert_fails_naming(&o, &["--plot depth.jpg", "ending in .png"]);
    for (class, n) in [("Car", expected[0]), ("Pedestrian", expected[1])] {
        let bins = v["exact"]["objects"][class].as_object();
        let counted: u64 = bins
            .iter()
            .flat_map(|b| b.values())
            .map(|m| {
                assert_eq!(
                    (m["error"].as_f64(), m["within"].as_f64()),
                    (Some(0.0), Some(1.0)),
                    "{m}"
                );
                m["objects"].as_u64().unwrap()
            })
            .sum();
        assert_eq!(counted, n, "{class}: {}", v["exact"]["objects"]);
    }
    assert!(expected[0] > 0, "no car to count");
    let plot = image::open(&png).unwrap();
    assert_eq!((plot.width(), plot.height()), (3 * 460, 340));
    // An instance mask of another size than its frame is named with both sizes (it used to
    // panic indexing the mask).
    let mask = root.join("training/instance_2/000001.png");
    let kept = std::fs::read(&mask).unwrap();
    kitti::png16::write_gray16(&mask, 7, 5, &[0; 35]).unwrap();
    let o = eval(&["--pred", &sgm_arg]);
    assert_fails_naming(&o, &["instance_2/000001.png", "7x5"]);
    assert_ne!(o.status.code(), Some(101), "{}", text(&o));
    std::fs::write(&mask, kept).unwrap();
    // A missing prediction is named.
    std::fs::remove_file(pred.join("000002.png")).unwrap();
    let o = eval(&["--pred", &sgm_arg]);
    assert_fails_naming(&o, &["000002.png"]);
}

/// A `.npy` file of `shape` with element type `descr` (e.g. `<f8`) and zero data, as numpy
/// writes it (header padded to 64 bytes).
fn raw_npy(path: &Path, descr: &str, shape: &[usize], elem: usize) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(vec![0u8; shape.iter().product::<usize>() * elem]);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn npy_maps_are_predicted_evaluated_and_converted_as_png_maps_are() {
    let (tmp, root) = synthetic_root("12");
    let r = |p: &str| arg(&root, p);
    let predict = |out: &Path, format: &str| {
        ftf(&[
            "disparity",
            "predict",
            "--root",
            &r(""),
            "--split",
            "trainval",
            "--out",
            out.to_str().unwrap(),
            "--max-disparity",
            "48",
            "--format",
            format,
        ])
    };
    let (png, npy) = (tmp.path().join("png"), tmp.path().join("npy"));
    for (out, format) in [(&png, "png"), (&npy, "npy")] {
        let o = predict(out, format);
        assert!(o.status.success(), "{}", text(&o));
    }
    // The other format into a filled folder is refused (it would leave two maps per frame).
    let o = predict(&png, "npy");
    assert_fails_naming(&o, &["model.txt"]);
    // The same SGM maps; the PNG rounds them to 1/256 px, the .npy keeps them.
    let a = kitti::DisparityMap::read(&png.join("000001.png")).unwrap();
    let b = kitti::DisparityMap::read_npy(&npy.join("000001.npy")).unwrap();
    assert_eq!((a.width, a.height), (b.width, b.height));
    assert!(a
        .data
        .iter()
        .zip(&b.data)
        .all(|(p, n)| (p - n).abs() <= 1.0 / 512.0 + 1e-6));
    assert!(
        b.data.iter().any(|d| (d * 256.0).fract().abs() > 1e-3),
        "unquantised values"
    );
    let eval = |pred: &Path| {
        let json = pred.with_extension("json");
        let o = ftf(&[
            "disparity",
            "eval",
            "--gt",
            &r("training/disparity_2"),
            "--root",
            &r(""),
            "--split",
            "trainval",
            "--pred",
            &format!("m={}", pred.display()),
            "--json",
            json.to_str().unwrap(),
        ]);
        (o, json)
    };
    let epe = |json: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        v["m"]["all"]["epe"].as_f64().unwrap()
    };
    let (o, png_json) = eval(&png);
    assert!(o.status.success(), "{}", text(&o));
    let (o, npy_json) = eval(&npy);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        (epe(&png_json) - epe(&npy_json)).abs() < 2e-3,
        "{} vs {}",
        epe(&png_json),
        epe(&npy_json)
    );
    // Pseudo-LiDAR from the .npy maps.
    let cloud = tmp.path().join("pl");
    let convert = |maps: &Path, out: &Path| {
        ftf(&[
            "pseudo-lidar",
            "--disparity",
            maps.to_str().unwrap(),
            "--calib",
            &r("training/calib"),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = convert(&npy, &cloud);
    assert!(
        o.status.success() && text(&o).contains("3 frames converted"),
        "{}",
        text(&o)
    );
    // Another element type or shape is named with the file.
    raw_npy(
        &npy.join("000002.npy"),
        "<f8",
        &[b.height as usize, b.width as usize],
        8,
    );
    let (o, _) = eval(&npy);
    assert_fails_naming(&o, &["000002.npy", "<f8", "float32"]);
    kitti::npy::write_f32(&npy.join("000002.npy"), &[4, 5], &[1.0; 20]).unwrap();
    let o = convert(&npy, &tmp.path().join("pl2"));
    assert_fails_naming(&o, &["000002.npy", "5x4"]);
    // A folder holding both formats of a frame is refused, naming both.
    std::fs::copy(png.join("000000.png"), npy.join("000000.png")).unwrap();
    let (o, _) = eval(&npy);
    assert_fails_naming(&o, &["000000.png", "000000.npy"]);
}
