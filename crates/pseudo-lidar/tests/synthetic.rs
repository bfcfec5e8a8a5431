//! The pseudo-LiDAR stage on synthetic frames with exact ground truth.

use kitti::{DisparityMap, LidarPoint, ObjectType};
use nalgebra::Point3;
use pseudo_lidar::frames::{convert_frames, ConvertSettings, InputKind};
use pseudo_lidar::{lidar_disparity, sparsify, Baseline, ConvertConfig, Converter, SparsifyConfig};
use synth::{generate_frame, Frame, SynthConfig};

fn frame(index: u64) -> Frame {
    let cfg = SynthConfig {
        scale: 0.5,
        ..Default::default()
    }
    .frame_config();
    generate_frame(&cfg, 21, index)
}

#[test]
fn object_pixels_become_points_inside_their_boxes() {
    let (mut total, mut inside) = (0usize, 0usize);
    for i in 0..3 {
        let f = frame(i);
        let conv = Converter::new(&f.rig.calib, ConvertConfig::default());
        for v in 0..f.rig.height {
            for u in 0..f.rig.width {
                let line = f.mask.get(u, v) as usize;
                if line == 0 || f.labels[line - 1].kind == ObjectType::DontCare {
                    continue;
                }
                let Some(z) = conv.depth_of(f.disparity.get(u, v)) else {
                    continue;
                };
                let Some(p) = conv.point(u as f64, v as f64, z) else {
                    continue;
                };
                let b = f.labels[line - 1].box3d.to_velo(&f.rig.calib);
                total += 1;
                inside +=
                    b.contains(&Point3::new(p.x as f64, p.y as f64, p.z as f64), 0.2) as usize;
            }
        }
    }
    let share = inside as f64 / total as f64;
    eprintln!(
        "{inside} of {total} object pixels inside their box + 0.2 m ({:.2}%)",
        100.0 * share
    );
    assert!(total > 5000 && share >= 0.95, "{inside} of {total}");
}

/// The LiDAR point that lands on each pixel under the reference rule, computed here
/// independently: nearest pixel (half to even), inside [0, w−1) × [0, h−1), x > 2, last wins.
fn pixel_sources(points: &[LidarPoint], f: &Frame) -> Vec<Option<LidarPoint>> {
    let (w, h) = (f.rig.width, f.rig.height);
    let mut src = vec![None; (w * h) as usize];
    for p in points.iter().filter(|p| p.x > 2.0) {
        let img = f
            .rig
            .calib
            .velo_to_image(&Point3::new(p.x as f64, p.y as f64, p.z as f64));
        if img.u >= 0.0 && img.u < (w - 1) as f64 && img.v >= 0.0 && img.v < (h - 1) as f64 {
            let (u, v) = (
                img.u.round_ties_even() as u32,
                img.v.round_ties_even() as u32,
            );
            src[(v * w + u) as usize] = Some(*p);
        }
    }
    src
}

#[test]
fn lidar_disparity_round_trips_to_the_lidar_points() {
    let f = frame(0);
    let points: Vec<LidarPoint> = f.lidar.iter().map(|r| r.point).collect();
    let (w, h) = (f.rig.width, f.rig.height);
    let map = lidar_disparity(&points, &f.rig.calib, w, h, Baseline::Fixed(0.54));
    // Through the PNG, as the stage writes it.
    let dir = tempfile::tempdir().unwrap();
    map.write(&dir.path().join("d.png")).unwrap();
    let map = DisparityMap::read(&dir.path().join("d.png")).unwrap();
    let sources = pixel_sources(&points, &f);
    let conv = Converter::new(
        &f.rig.calib,
        ConvertConfig {
            max_height: f64::INFINITY,
            ..Default::default()
        },
    );
    let fl = f.rig.calib.fu();
    let mut checked = 0;
    for v in 0..h {
        for u in 0..w {
            let src = sources[(v * w + u) as usize];
            let d = map.get(u, v);
            assert_eq!(src.is_some(), d > 0.0, "pixel ({u},{v})");
            let Some(p) = src else { continue };
            let q = conv
                .point(u as f64, v as f64, conv.depth_of(d).unwrap())
                .unwrap();
            let z = p.x as f64;
            // Half a pixel in u and v at depth z, plus 1/256 px of disparity in depth.
            let tol = 0.5f64.hypot(0.5) * z / fl + z * z / (fl * 0.54) / 256.0 * 1.01 + 1e-3;
            let err = ((p.x - q.x) as f64)
                .hypot((p.y - q.y) as f64)
                .hypot((p.z - q.z) as f64);
            assert!(
                err <= tol,
                "pixel ({u},{v}): {err:.4} m > {tol:.4} m at {z:.1} m"
            );
            checked += 1;
        }
    }
    assert!(checked > 5000, "{checked}");
}

#[test]
fn sparse_clouds_keep_one_point_a_cell_inside_the_crop() {
    let f = frame(1);
    let conv = Converter::new(&f.rig.calib, ConvertConfig::default());
    let dense = conv.disparity_cloud(&f.disparity);
    let cfg = SparsifyConfig::default();
    let sparse = sparsify(&dense, &cfg);
    assert!(
        sparse.len() > 3000 && sparse.len() <= 64 * 512 && sparse.len() < dense.len() / 2,
        "{} of {}",
        sparse.len(),
        dense.len()
    );
    let mut seen = std::collections::HashSet::new();
    for p in &sparse {
        assert!(
            (0.0..120.0).contains(&p.x)
                && (-50.0..50.0).contains(&p.y)
                && (-2.5..1.5).contains(&p.z),
            "{p:?}"
        );
        // Cell, recomputed from the angles in degrees.
        let az = 45.0 - (p.y as f64).atan2(p.x as f64).to_degrees();
        let el = 2.0
            - (p.z as f64)
                .atan2((p.x as f64).hypot(p.y as f64))
                .to_degrees();
        let cell = (
            (el / 0.4).clamp(0.0, 63.0) as usize,
            (az / (90.0 / 512.0)).clamp(0.0, 511.0) as usize,
        );
        assert!(seen.insert(cell), "two points in cell {cell:?}");
        assert!(dense.contains(p));
    }
}

#[test]
fn folders_convert_resume_and_refuse_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (maps, calib, out) = (
        dir.path().join("disp"),
        dir.path().join("calib"),
        dir.path().join("out"),
    );
    let ids: Vec<String> = (0..2).map(kitti::frame_id).collect();
    for (i, id) in ids.iter().enumerate() {
        let f = frame(i as u64);
        f.disparity.write(&maps.join(format!("{id}.png"))).unwrap();
        f.rig.calib.write(&calib.join(format!("{id}.txt"))).unwrap();
    }
    let settings = ConvertSettings {
        input: InputKind::Disparity,
        convert: ConvertConfig::default(),
        sparsify: Some(SparsifyConfig::default()),
    };
    let s = convert_frames(&maps, &calib, &out, &ids, &settings, &|| {}).unwrap();
    assert_eq!((s.done, s.skipped), (2, 0));
    let dense = kitti::read_velodyne(&out.join("dense/000001.bin")).unwrap();
    let f = frame(1);
    assert_eq!(
        dense,
        Converter::new(&f.rig.calib, ConvertConfig::default())
            .disparity_cloud(&DisparityMap::read(&maps.join("000001.png")).unwrap())
    );
    std::fs::remove_file(out.join("sparse/000000.bin")).unwrap();
    let s = convert_frames(&maps, &calib, &out, &ids, &settings, &|| {}).unwrap();
    assert_eq!((s.done, s.skipped), (1, 1));
    let close = ConvertSettings {
        convert: ConvertConfig {
            close: Some(20.0),
            ..Default::default()
        },
        ..settings
    };
    let e = convert_frames(&maps, &calib, &out, &ids, &close, &|| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("pseudo-lidar.toml"), "{e}");
    // A frame without calibration is named.
    std::fs::remove_file(calib.join("000001.txt")).unwrap();
    let e = convert_frames(
        &maps,
        &calib,
        &dir.path().join("out2"),
        &ids,
        &settings,
        &|| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("000001") && e.contains("calib/000001.txt"),
        "{e}"
    );
}
