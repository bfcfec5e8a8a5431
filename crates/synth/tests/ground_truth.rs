//! Independent checks of the synthetic ground truth, read back from the written KITTI files:
//! LiDAR returns fall inside their object's labelled box, the rendered disparity agrees with the
//! LiDAR depth, and left/right pixels related by the disparity see the same surface.

use kitti::{Calibration, DisparityMap, FileKind, KittiRoot, ObjectType, Part};
use nalgebra::Point3;
use synth::shapes::Ray;
use synth::{generate_frame, write_frame, Frame, SynthConfig};

const FRAMES: u64 = 3;

fn frames(scale: f64) -> Vec<Frame> {
    let cfg = SynthConfig {
        scale,
        seed: 11,
        ..Default::default()
    }
    .frame_config();
    (0..FRAMES).map(|i| generate_frame(&cfg, 11, i)).collect()
}

/// Writes a frame and reads back its calibration, labels and disparity.
fn round_trip(
    frame: &Frame,
) -> (
    Calibration,
    Vec<kitti::Object>,
    DisparityMap,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let root = KittiRoot::create(dir.path());
    write_frame(&root, "000000", frame).unwrap();
    let calib = root.calib(Part::Training, "000000").unwrap();
    let labels = root.labels(Part::Training, "000000").unwrap();
    let disp =
        DisparityMap::read(&root.path(Part::Training, FileKind::Disparity, "000000")).unwrap();
    (calib, labels, disp, dir)
}

#[test]
fn lidar_returns_on_objects_lie_inside_their_labelled_boxes() {
    let (mut hits, mut inside) = (0usize, 0usize);
    for frame in frames(0.25) {
        let (calib, labels, _, _dir) = round_trip(&frame);
        for r in &frame.lidar {
            let Some(obj) = r.object else { continue };
            if !frame.is_labelled(obj as usize) {
                continue;
            }
            let line = frame.label_of_object[obj as usize].unwrap();
            let b = labels[line].box3d.to_velo(&calib);
            hits += 1;
            let p = Point3::new(r.point.x as f64, r.point.y as f64, r.point.z as f64);
            inside += b.contains(&p, 0.0) as usize;
        }
    }
    assert!(hits > 1000, "too few object returns to judge: {hits}");
    let share = inside as f64 / hits as f64;
    eprintln!(
        "{inside} of {hits} object returns inside their labelled box ({:.3}%)",
        100.0 * share
    );
    assert!(
        share >= 0.99,
        "only {:.2}% of {hits} object returns inside their box",
        100.0 * share
    );
}

#[test]
fn rendered_disparity_agrees_with_lidar_depth() {
    let mut errors = Vec::new();
    for frame in frames(0.5) {
        let (calib, _, disp, _dir) = round_trip(&frame);
        let fb = calib.fu() * calib.baseline();
        for r in &frame.lidar {
            let p = Point3::new(r.point.x as f64, r.point.y as f64, r.point.z as f64);
            if p.x < 2.0 {
                continue;
            }
            let img = calib.velo_to_image(&p);
            let (u0, v0) = (img.u.floor(), img.v.floor());
            if img.depth <= 0.0
                || u0 < 0.0
                || v0 < 0.0
                || u0 + 1.0 >= disp.width as f64
                || v0 + 1.0 >= disp.height as f64
            {
                continue;
            }
            // Disparity is an affine function of (u, v) on a plane, so bilinear interpolation
            // between four pixels of the same surface reproduces it exactly.
            let (u0, v0) = (u0 as u32, v0 as u32);
            let corners = [
                disp.get(u0, v0),
                disp.get(u0 + 1, v0),
                disp.get(u0, v0 + 1),
                disp.get(u0 + 1, v0 + 1),
            ];
            if corners.iter().any(|&d| d <= 0.0) {
                continue;
            }
            let (tu, tv) = (img.u - u0 as f64, img.v - v0 as f64);
            let c = corners.map(|d| d as f64);
            let rendered =
                (c[0] * (1.0 - tu) + c[1] * tu) * (1.0 - tv) + (c[2] * (1.0 - tu) + c[3] * tu) * tv;
            errors.push((rendered - fb / calib.velo_to_rect(&p).z).abs());
        }
    }
    errors.sort_by(f64::total_cmp);
    let n = errors.len();
    assert!(n > 5000, "too few LiDAR points in view: {n}");
    let median = errors[n / 2];
    let close = errors.iter().filter(|&&e| e < 0.1).count() as f64 / n as f64;
    eprintln!(
        "{n} LiDAR points: median |Δd| {median:.4} px, {:.2}% within 0.1 px",
        100.0 * close
    );
    // What remains is the PNG's 1/256 px quantisation, the LiDAR's 1 cm range noise, and points
    // on depth edges or seen by the LiDAR but hidden from the camera.
    assert!(median < 0.01, "median |Δd| {median:.4} px");
    assert!(
        close > 0.93,
        "only {:.1}% of points within 0.1 px",
        100.0 * close
    );
}

#[test]
fn disparity_shifted_right_pixel_sees_the_same_surface_point() {
    let frame = frames(0.5).swap_remove(1);
    let (calib, _, disp, dir) = round_trip(&frame);
    let root = KittiRoot::create(dir.path());
    let left = image::open(root.path(Part::Training, FileKind::LeftImage, "000000"))
        .unwrap()
        .to_rgb8();
    let right = image::open(root.path(Part::Training, FileKind::RightImage, "000000"))
        .unwrap()
        .to_rgb8();
    let right_centre = Point3::new(-calib.p(3)[(0, 3)] / calib.fu(), 0.0, 0.0);
    let (mut checked, mut visible) = (0usize, 0usize);
    let (mut diff_true, mut diff_wrong) = (Vec::new(), Vec::new());
    for v in (0..disp.height).step_by(3) {
        for u in (0..disp.width).step_by(3) {
            let d = disp.get(u, v) as f64;
            if d <= 0.0 {
                continue;
            }
            checked += 1;
            let z = calib.fu() * calib.baseline() / d;
            let p = calib.image_to_rect(u as f64, v as f64, z);
            // Visible from the right camera if nothing lies between it and the point.
            let ray = Ray {
                origin: right_centre,
                dir: p - right_centre,
            };
            let unoccluded = frame
                .world
                .trace(&ray)
                .is_some_and(|h| (h.t - 1.0).abs() < 1e-3);
            if !unoccluded {
                continue;
            }
            visible += 1;
            let img = calib.rect_to_image_of(3, &p);
            let ur = u as f64 - d;
            assert!(
                (img.u - ur).abs() < 2e-3 && (img.v - v as f64).abs() < 1e-9,
                "pixel ({u},{v}): right sees it at {img:?}, disparity says {ur}"
            );
            let sample = |x: f64| -> Option<[f64; 3]> {
                let x0 = x.floor();
                if x0 < 0.0 || x0 + 1.0 >= right.width() as f64 {
                    return None;
                }
                let t = x - x0;
                let a = right.get_pixel(x0 as u32, v).0;
                let b = right.get_pixel(x0 as u32 + 1, v).0;
                Some(std::array::from_fn(|c| {
                    a[c] as f64 * (1.0 - t) + b[c] as f64 * t
                }))
            };
            let l = left.get_pixel(u, v).0;
            let dist = |s: [f64; 3]| (0..3).map(|c| (s[c] - l[c] as f64).abs()).sum::<f64>() / 3.0;
            if let (Some(good), Some(bad)) = (sample(ur), sample(ur + 4.0)) {
                diff_true.push(dist(good));
                diff_wrong.push(dist(bad));
            }
        }
    }
    assert!(
        visible as f64 > 0.8 * checked as f64,
        "{visible} of {checked} pixels visible from the right"
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (good, bad) = (median(&mut diff_true), median(&mut diff_wrong));
    eprintln!("{visible} of {checked} pixels seen by both cameras; median colour difference {good:.2} at the match, {bad:.2} four pixels off");
    assert!(
        good < 4.0,
        "median colour difference at the true match {good}"
    );
    assert!(
        bad > 1.5 * good,
        "a 4-pixel shift should look worse: {bad} vs {good}"
    );
}

#[test]
fn labels_follow_kitti_conventions() {
    let (mut truncated, mut occluded, mut objects) = (0, 0, 0);
    for frame in frames(0.25) {
        assert_eq!(
            frame.mask.data.len(),
            (frame.rig.width * frame.rig.height) as usize
        );
        for (line, o) in frame.labels.iter().enumerate() {
            // Every label line owns at least one pixel of the instance mask.
            let pixels = frame
                .mask
                .data
                .iter()
                .filter(|&&m| m as usize == line + 1)
                .count();
            assert!(pixels > 0, "label line {} has no mask pixel", line + 1);
            if o.kind == ObjectType::DontCare {
                continue;
            }
            objects += 1;
            truncated += (o.truncated > 0.0) as usize;
            occluded += (o.occluded > 0) as usize;
            assert!((o.alpha - o.box3d.alpha()).abs() < 0.006);
            // The 2D box is the projected 3D box clipped to the image.
            let b = o
                .box3d
                .image_box(&frame.rig.calib, frame.rig.width, frame.rig.height)
                .unwrap();
            assert!(
                (b.left - o.bbox.left).abs() < 0.006 && (b.bottom - o.bbox.bottom).abs() < 0.006
            );
            assert!(o.box3d.location.z > 3.0 && o.box3d.location.z < 75.0);
        }
    }
    assert!(objects >= 10, "{objects} labelled objects");
    assert!(occluded > 0, "some objects should be occluded");
    let _ = truncated;
}
