//! Checking a KITTI-format root: counts, missing and malformed files, calibration sanity, and
//! how well the LiDAR points line up with the labelled boxes.

use crate::bev::{BevCanvas, BevView, Rgb};
use crate::box3d::VeloBox;
use crate::calib::{orthonormality_error, Calibration, RIGID_TOLERANCE};
use crate::dataset::{FileKind, KittiRoot, Part};
use crate::error::Result;
use crate::label::{Object, ObjectType};
use crate::png16::{check_pair_kinds, image_size, read_image};
use crate::velodyne::LidarPoint;
use nalgebra::Point3;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

/// How far beyond a box its neighbourhood reaches sideways and upwards, metres.
pub const NEIGHBOURHOOD: f64 = 1.0;
/// Height above a box's bottom below which points are left out of its neighbourhood (ground).
pub const GROUND_CUT: f64 = 0.3;
/// Objects with fewer neighbourhood points than this are not scored.
pub const MIN_POINTS: usize = 10;

/// How well the LiDAR agrees with one labelled box.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxAlignment {
    /// Frame id.
    pub frame: String,
    /// Object class.
    pub kind: ObjectType,
    /// Points in the box's neighbourhood (the box grown by [`NEIGHBOURHOOD`], ground cut off).
    pub neighbourhood: usize,
    /// Of those, points inside the box itself.
    pub inside: usize,
    /// Median distance of the neighbourhood points to the box surface, metres. LiDAR sees
    /// surfaces, so points of a well-placed box hug its faces; a cloud shifted along the line of
    /// sight pushes them into the box's interior.
    pub median_gap: f64,
}

impl BoxAlignment {
    /// Share of the neighbourhood's points that lie inside the box.
    pub fn share(&self) -> f64 {
        self.inside as f64 / self.neighbourhood.max(1) as f64
    }
}

/// Per-class summary of the alignment check.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAlignment {
    /// Object class.
    pub kind: ObjectType,
    /// Boxes scored (with at least [`MIN_POINTS`] neighbourhood points).
    pub boxes: usize,
    /// Mean share of neighbourhood points inside the box.
    pub mean_share: f64,
    /// Share of boxes with less than half their neighbourhood points inside.
    pub poorly_aligned: f64,
    /// Mean over boxes of the median point-to-surface distance, metres.
    pub mean_gap: f64,
}

/// What `inspect_root` found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Files of each kind, per part.
    pub counts: Vec<(Part, FileKind, usize)>,
    /// Frames of each split file.
    pub splits: Vec<(String, usize)>,
    /// Frames checked.
    pub frames_checked: usize,
    /// Missing or malformed files: each message names the file.
    pub problems: Vec<String>,
    /// Suspicious but readable content (calibration sanity).
    pub warnings: Vec<String>,
    /// Per-class alignment summary.
    pub alignment: Vec<ClassAlignment>,
    /// Every scored box.
    pub boxes: Vec<BoxAlignment>,
}

/// Sanity checks of a calibration against an image size; returns the problems found.
pub fn calibration_warnings(c: &Calibration, image: Option<(u32, u32)>) -> Vec<String> {
    let mut w = Vec::new();
    // (Focal lengths above 0 are checked when a calibration is read.)
    if (c.fu() - c.fv()).abs() > 0.01 * c.fu() {
        w.push(format!(
            "f_u {} and f_v {} differ by more than 1%",
            c.fu(),
            c.fv()
        ));
    }
    let b = c.baseline();
    if !(0.3..=0.8).contains(&b) {
        w.push(format!(
            "stereo baseline {b:.4} m from P2/P3 is far from KITTI's 0.54 m"
        ));
    }
    // (Tr_velo_to_cam must be rigid to be read at all; R0_rect need only be invertible.)
    let r0 = c.r0_rect();
    if orthonormality_error(r0) > RIGID_TOLERANCE || r0.determinant() < 0.0 {
        w.push("R0_rect is not a rotation".into());
    }
    // The velodyne's forward axis should look into the camera (rect z).
    let fwd = c.velo_to_rect(&Point3::new(10.0, 0.0, 0.0)) - c.velo_to_rect(&Point3::origin());
    if fwd.z < 9.0 {
        w.push(format!(
            "velodyne x (forward) maps to rect {fwd:?}, not to camera z"
        ));
    }
    if let Some((width, height)) = image {
        if !(0.0..width as f64).contains(&c.cu()) || !(0.0..height as f64).contains(&c.cv()) {
            w.push(format!(
                "principal point ({:.1}, {:.1}) lies outside the {width}x{height} image",
                c.cu(),
                c.cv()
            ));
        }
    }
    w
}

/// Scores each labelled (non-DontCare) box of a frame against its LiDAR points.
pub fn align_frame(
    frame: &str,
    calib: &Calibration,
    labels: &[Object],
    points: &[LidarPoint],
) -> Vec<BoxAlignment> {
    labels
        .iter()
        .filter(|o| o.kind != ObjectType::DontCare && o.box3d.location.z > 0.0)
        .filter_map(|o| {
            let b = o.box3d.to_velo(calib);
            let (mut inside, mut gaps) = (0, Vec::new());
            for p in points {
                let q = Point3::new(p.x as f64, p.y as f64, p.z as f64);
                if in_neighbourhood(&b, &q) {
                    inside += b.contains(&q, 0.0) as usize;
                    gaps.push(b.surface_distance(&q));
                }
            }
            let neighbourhood = gaps.len();
            (neighbourhood >= MIN_POINTS).then(|| {
                let mid = neighbourhood / 2;
                let median_gap = *gaps.select_nth_unstable_by(mid, f64::total_cmp).1;
                BoxAlignment {
                    frame: frame.to_string(),
                    kind: o.kind,
                    neighbourhood,
                    inside,
                    median_gap,
                }
            })
        })
        .collect()
}

fn in_neighbourhood(b: &VeloBox, q: &Point3<f64>) -> bool {
    let bottom = b.centre.z - b.h / 2.0;
    if q.z < bottom + GROUND_CUT || q.z > bottom + b.h + NEIGHBOURHOOD {
        return false;
    }
    let grown = VeloBox {
        l: b.l + 2.0 * NEIGHBOURHOOD,
        w: b.w + 2.0 * NEIGHBOURHOOD,
        h: f64::INFINITY,
        ..*b
    };
    grown.contains(q, 0.0)
}

struct FrameResult {
    problems: Vec<String>,
    warnings: Vec<String>,
    boxes: Vec<BoxAlignment>,
}

fn check_frame(root: &KittiRoot, part: Part, id: &str) -> FrameResult {
    let mut r = FrameResult {
        problems: Vec::new(),
        warnings: Vec::new(),
        boxes: Vec::new(),
    };
    for &k in part.standard_files() {
        let p = root.path(part, k, id);
        if !p.is_file() {
            r.problems.push(format!(
                "{}: missing ({} of frame {id})",
                p.display(),
                k.name()
            ));
        }
    }
    let mut note = |res: Result<()>| {
        if let Err(e) = res {
            r.problems.push(e.to_string());
        }
    };
    let left = root.path(part, FileKind::LeftImage, id);
    let right = root.path(part, FileKind::RightImage, id);
    // Both images, and on synthetic sets the exact disparity and the instance mask, are read
    // whole (a truncated PNG, whose header may be intact, fails); each must have the left
    // image's size, and the right image its kind (colour or grayscale).
    let mut left_image = None;
    if left.is_file() {
        match read_image(&left) {
            Ok(img) => left_image = Some(img),
            Err(e) => note(Err(e)),
        }
    }
    let size = left_image.as_ref().map(|img| (img.width(), img.height()));
    let same_size = |path: &std::path::Path, found: (u32, u32)| match size {
        Some(l) if l != found => Err(crate::KittiError::malformed(
            path,
            None,
            format!(
                "size {}x{} differs from image_2's {}x{}",
                found.0, found.1, l.0, l.1
            ),
        )),
        _ => Ok(()),
    };
    if right.is_file() {
        note(read_image(&right).and_then(|img| {
            same_size(&right, (img.width(), img.height()))?;
            match &left_image {
                Some(l) => check_pair_kinds((&left, l), (&right, &img)),
                None => Ok(()),
            }
        }));
    }
    let disparity = root.path(part, FileKind::Disparity, id);
    if disparity.is_file() {
        note(
            crate::DisparityMap::read(&disparity)
                .and_then(|d| same_size(&disparity, (d.width, d.height))),
        );
    }
    let instances = root.path(part, FileKind::Instance, id);
    if instances.is_file() {
        note(
            crate::InstanceMask::read(&instances)
                .and_then(|m| same_size(&instances, (m.width, m.height))),
        );
    }
    let exists = |k| root.path(part, k, id).is_file();
    let calib = if exists(FileKind::Calib) {
        match root.calib(part, id) {
            Ok(c) => Some(c),
            Err(e) => {
                note(Err(e));
                None
            }
        }
    } else {
        None
    };
    let labels = if part == Part::Training && exists(FileKind::Label) {
        root.labels(part, id).map_err(|e| note(Err(e))).ok()
    } else {
        None
    };
    let points = if exists(FileKind::Velodyne) {
        root.velodyne(part, id).map_err(|e| note(Err(e))).ok()
    } else {
        None
    };
    if let Some(c) = &calib {
        let path = root.path(part, FileKind::Calib, id);
        r.warnings.extend(
            calibration_warnings(c, size)
                .into_iter()
                .map(|w| format!("{}: {w}", path.display())),
        );
        if let (Some(labels), Some(points)) = (&labels, &points) {
            r.boxes = align_frame(id, c, labels, points);
        }
    }
    r
}

/// Checks a root: every frame found in `training/` and `testing/` (at most `max_frames` per part
/// when given), every split file in `ImageSets/`. `progress` is called once per frame checked.
pub fn inspect_root(
    root: &KittiRoot,
    max_frames: Option<usize>,
    progress: &(dyn Fn() + Sync),
) -> Result<Report> {
    let mut report = Report::default();
    let mut work: Vec<(Part, String)> = Vec::new();
    for part in [Part::Training, Part::Testing] {
        let mut ids = BTreeSet::new();
        for kind in [
            FileKind::LeftImage,
            FileKind::RightImage,
            FileKind::Calib,
            FileKind::Label,
            FileKind::Velodyne,
            FileKind::Disparity,
            FileKind::Instance,
        ] {
            let found = root.list_frames(part, kind)?;
            if !found.is_empty() {
                report.counts.push((part, kind, found.len()));
            }
            ids.extend(found);
        }
        let take = max_frames.unwrap_or(usize::MAX);
        work.extend(ids.into_iter().take(take).map(|id| (part, id)));
    }
    let sets = root.root().join("ImageSets");
    if sets.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&sets)
            .map_err(|e| crate::KittiError::io(&sets, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let p = e.path();
                (p.extension()? == "txt").then(|| p.file_stem()?.to_str().map(String::from))?
            })
            .collect();
        names.sort();
        for name in names {
            match root.split(&name) {
                Ok(split) => {
                    report.splits.push((name.clone(), split.len()));
                    let part = if name == "test" {
                        Part::Testing
                    } else {
                        Part::Training
                    };
                    for (id, line) in split.ids.iter().zip(&split.lines) {
                        let missing: Vec<&str> = part
                            .standard_files()
                            .iter()
                            .filter(|&&k| !root.path(part, k, id).is_file())
                            .map(|k| k.name())
                            .collect();
                        if !missing.is_empty() {
                            report.problems.push(format!(
                                "{}:{line}: frame {id} has no {} file in {}",
                                split.path.display(),
                                missing.join(", "),
                                root.root().join(part.dir()).display()
                            ));
                        }
                    }
                }
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
    let results: Vec<FrameResult> = work
        .par_iter()
        .map(|(part, id)| {
            let r = check_frame(root, *part, id);
            progress();
            r
        })
        .collect();
    report.frames_checked = results.len();
    for r in results {
        report.problems.extend(r.problems);
        report.warnings.extend(r.warnings);
        report.boxes.extend(r.boxes);
    }
    report.alignment = summarise(&report.boxes);
    Ok(report)
}

fn summarise(boxes: &[BoxAlignment]) -> Vec<ClassAlignment> {
    let kinds: BTreeSet<ObjectType> = boxes.iter().map(|b| b.kind).collect();
    kinds
        .into_iter()
        .map(|kind| {
            let of: Vec<&BoxAlignment> = boxes.iter().filter(|b| b.kind == kind).collect();
            let n = of.len() as f64;
            ClassAlignment {
                kind,
                boxes: of.len(),
                mean_share: of.iter().map(|b| b.share()).sum::<f64>() / n,
                poorly_aligned: of.iter().filter(|b| b.share() < 0.5).count() as f64 / n,
                mean_gap: of.iter().map(|b| b.median_gap).sum::<f64>() / n,
            }
        })
        .collect()
}

/// Colour used for each class in pictures.
pub fn class_colour(kind: ObjectType) -> Rgb {
    match kind {
        ObjectType::Car => [40, 220, 40],
        ObjectType::Van | ObjectType::Truck | ObjectType::Tram => [40, 200, 200],
        ObjectType::Pedestrian | ObjectType::PersonSitting => [240, 60, 60],
        ObjectType::Cyclist => [240, 200, 40],
        ObjectType::Misc | ObjectType::DontCare => [150, 150, 150],
    }
}

/// A bird's-eye view of one frame: LiDAR points by height, points inside labelled boxes in
/// white, box outlines by class, and the left camera's field of view. Labels shifted against
/// the cloud show as outlines with no white points in them.
pub fn frame_bev(
    calib: &Calibration,
    labels: &[Object],
    points: &[LidarPoint],
    image_width: u32,
) -> BevCanvas {
    let mut canvas = BevCanvas::new(BevView::default());
    for u in [0.0, image_width.saturating_sub(1) as f64] {
        let far = calib.image_to_velo(u, calib.cv(), 80.0);
        let near = calib.image_to_velo(u, calib.cv(), 0.1);
        canvas.line([near.x, near.y], [far.x, far.y], [90, 90, 160]);
    }
    canvas.points(points);
    let boxes: Vec<(ObjectType, VeloBox)> = labels
        .iter()
        .filter(|o| o.kind != ObjectType::DontCare)
        .map(|o| (o.kind, o.box3d.to_velo(calib)))
        .collect();
    let inside: Vec<LidarPoint> = points
        .iter()
        .filter(|p| {
            let q = Point3::new(p.x as f64, p.y as f64, p.z as f64);
            boxes.iter().any(|(_, b)| b.contains(&q, 0.0))
        })
        .copied()
        .collect();
    canvas.points_coloured(&inside, [255, 255, 255]);
    for (kind, b) in &boxes {
        canvas.velo_box(b, class_colour(*kind));
    }
    canvas
}

/// Reads a frame from `root` and writes its bird's-eye view to `out`.
pub fn write_frame_bev(root: &KittiRoot, part: Part, id: &str, out: &Path) -> Result<()> {
    let calib = root.calib(part, id)?;
    let labels = if part == Part::Training {
        root.labels(part, id)?
    } else {
        Vec::new()
    };
    let points = root.velodyne(part, id)?;
    let width = image_size(&root.path(part, FileKind::LeftImage, id))
        .map(|s| s.0)
        .unwrap_or(1242);
    frame_bev(&calib, &labels, &points, width).save(out)
}
