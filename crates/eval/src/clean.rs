//! Which ground truth and detections count for a class and filter (the devkit's `cleanData`).

use crate::classes::{Class, Filter};
use crate::frame::FrameLabels;

/// Counted (0), ignored: matched but neither TP nor FP/FN (1), or not considered at all (−1).
pub(crate) type Flag = i8;

/// Flags of one frame for one class and filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cleaned {
    pub gt: Vec<Flag>,
    pub det: Vec<Flag>,
    /// Ground truth counted for recall.
    pub n_gt: usize,
}

/// Applies KITTI's rules. For a difficulty: ground truth of the class is ignored when too
/// occluded, too truncated or not taller than the minimum height; neighbour classes are ignored;
/// detections lower than the minimum height are ignored whatever their class (as in the devkit). For a range: ground truth and
/// detections of the class outside (lo, hi] of camera z are ignored. Heights are compared after
/// multiplying KITTI's pixel thresholds by `height_scale` (1 for KITTI-size images).
pub(crate) fn clean(f: &FrameLabels, class: Class, filter: &Filter, height_scale: f64) -> Cleaned {
    let mut c = Cleaned::default();
    for g in &f.gt {
        let valid = if g.kind == class.object_type() {
            1
        } else if Some(g.kind) == class.neighbour() {
            0
        } else {
            -1
        };
        let ignore = match filter {
            Filter::Difficulty(d) => {
                g.occluded > d.max_occlusion()
                    || g.truncated > d.max_truncation()
                    || g.bbox.bottom - g.bbox.top <= d.min_height() * height_scale
            }
            Filter::Range(lo, hi) => !in_range(g.box3d.location.z, *lo, *hi),
        };
        let flag = match (valid, ignore) {
            (1, false) => {
                c.n_gt += 1;
                0
            }
            (0, _) | (1, true) => 1,
            _ => -1,
        };
        c.gt.push(flag);
    }
    for d in &f.det {
        let ignore = match filter {
            Filter::Difficulty(diff) => {
                d.bbox.bottom - d.bbox.top < diff.min_height() * height_scale
            }
            Filter::Range(lo, hi) => !in_range(d.box3d.location.z, *lo, *hi),
        };
        // The devkit checks the height before the class: a small detection of any class is
        // "ignored" (it may absorb a match) rather than "not considered".
        c.det.push(if ignore {
            1
        } else if d.kind == class.object_type() {
            0
        } else {
            -1
        });
    }
    c
}

fn in_range(z: f64, lo: f64, hi: f64) -> bool {
    z > lo && z <= hi
}
