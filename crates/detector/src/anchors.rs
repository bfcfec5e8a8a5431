//! Anchors: for every cell of the head's feature map, one box a class and rotation, standing on
//! the class's anchor bottom height; placed as OpenPCDet's anchor generator places them (on the
//! cell centres with `align_center`, else on a grid spanning the range edge to edge).

use crate::config::{ClassSpec, DetectorConfig};

/// A box in the velodyne frame as the network sees it: [x, y, z (centre), l, w, h, heading].
pub type BoxParams = [f32; 7];

/// All anchors of a configuration, in the order of the head's flattened output:
/// row (y) of the feature map, then column (x), then anchor within the cell.
#[derive(Debug, Clone)]
pub struct Anchors {
    /// The anchor boxes.
    pub boxes: Vec<BoxParams>,
    /// Index of each anchor's class in the config's class list.
    pub class: Vec<usize>,
    /// Anchors a feature-map cell.
    pub per_cell: usize,
    /// Feature map [width (x), height (y)].
    pub map: [usize; 2],
}

impl Anchors {
    /// The anchors of `cfg` (whose classes must be valid).
    pub fn new(cfg: &DetectorConfig, classes: &[ClassSpec]) -> Self {
        let [fx, fy] = cfg.feature_map();
        let [x0, y0, _, x1, y1, _] = cfg.pillars.range;
        let per_cell: usize = classes.iter().map(|c| c.anchor.rotations.len()).sum();
        let mut boxes = Vec::with_capacity(fx * fy * per_cell);
        let mut class = Vec::with_capacity(boxes.capacity());
        for j in 0..fy {
            for i in 0..fx {
                for (k, c) in classes.iter().enumerate() {
                    let x = grid_position(x0, x1, fx, i, c.anchor.align_center);
                    let y = grid_position(y0, y1, fy, j, c.anchor.align_center);
                    let [l, w, h] = c.anchor.size;
                    let z = c.anchor.bottom_z + h / 2.0;
                    for &r in &c.anchor.rotations {
                        boxes.push([x, y, z, l, w, h, r].map(|v| v as f32));
                        class.push(k);
                    }
                }
            }
        }
        Anchors {
            boxes,
            class,
            per_cell,
            map: [fx, fy],
        }
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }
}

/// Position of anchor `i` of `n` along [lo, hi]: the centre of cell i (`align_center`), else
/// lo + i · (hi − lo) / (n − 1) (OpenPCDet's `align_center: False`; one anchor sits at lo).
fn grid_position(lo: f64, hi: f64, n: usize, i: usize, align_center: bool) -> f64 {
    if align_center {
        lo + (i as f64 + 0.5) * (hi - lo) / n as f64
    } else if n > 1 {
        lo + i as f64 * (hi - lo) / (n - 1) as f64
    } else {
        lo
    }
}

/// `val` shifted by whole periods into [−offset·period, (1 − offset)·period).
pub fn limit_period(val: f64, offset: f64, period: f64) -> f64 {
    val - (val / period + offset).floor() * period
}

/// The axis-aligned BEV rectangle [x1, y1, x2, y2] nearest to a rotated box: its own extent
/// when the heading is within 45° of the x axis, else with length and width swapped.
pub fn nearest_bev(b: &BoxParams) -> [f64; 4] {
    let r = limit_period(b[6] as f64, 0.5, std::f64::consts::PI);
    let (l, w) = if r.abs() > std::f64::consts::FRAC_PI_4 {
        (b[4] as f64, b[3] as f64)
    } else {
        (b[3] as f64, b[4] as f64)
    };
    let (x, y) = (b[0] as f64, b[1] as f64);
    [x - l / 2.0, y - w / 2.0, x + l / 2.0, y + w / 2.0]
}

/// IoU of two axis-aligned rectangles [x1, y1, x2, y2].
pub fn aligned_iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PillarConfig;

    #[test]
    fn anchors_span_the_range_or_sit_on_cell_centres_in_the_heads_order() {
        let mut cfg = DetectorConfig {
            classes: vec!["Car".into(), "Pedestrian".into()],
            ..DetectorConfig::default()
        };
        cfg.pillars = PillarConfig {
            range: [0.0, -3.2, -3.0, 6.4, 3.2, 1.0],
            size: [0.4, 0.4],
            ..PillarConfig::default()
        };
        cfg.network.layer_nums = vec![1];
        cfg.network.layer_strides = vec![2];
        cfg.network.filters = vec![8];
        cfg.network.upsample_strides = vec![1];
        cfg.network.upsample_filters = vec![8];
        cfg.validate().unwrap();
        let mut specs = cfg.class_specs().unwrap();
        // OpenPCDet's KITTI default: the 8 anchors of a row span [0, 6.4] edge to edge.
        let edges = Anchors::new(&cfg, &specs);
        let step = 6.4 / 7.0;
        let b = edges.boxes[(2 * 8 + 1) * 4 + 3];
        assert!((b[0] as f64 - step).abs() < 1e-5, "{b:?}");
        assert!((b[1] as f64 - (-3.2 + 2.0 * step)).abs() < 1e-5, "{b:?}");
        let last = edges.boxes[edges.len() - 1];
        assert!((last[0] as f64 - 6.4).abs() < 1e-5 && (last[1] as f64 - 3.2).abs() < 1e-5);
        for s in &mut specs {
            s.anchor.align_center = true;
        }
        let a = Anchors::new(&cfg, &specs);
        assert_eq!(a.map, [8, 8]);
        assert_eq!((a.per_cell, a.len()), (4, 256));
        // Cell (x 1, y 2), pedestrian at 90 degrees: index (2 * 8 + 1) * 4 + 3.
        let b = a.boxes[(2 * 8 + 1) * 4 + 3];
        let want = [
            1.2,
            -1.2,
            -0.6 + 1.73 / 2.0,
            0.8,
            0.6,
            1.73,
            std::f64::consts::FRAC_PI_2,
        ];
        for (x, y) in b.iter().zip(want) {
            assert!((*x as f64 - y).abs() < 1e-5, "{b:?}");
        }
        assert_eq!(a.class[(2 * 8 + 1) * 4 + 3], 1);
    }

    #[test]
    fn nearest_bev_swaps_sides_past_45_degrees() {
        assert_eq!(
            nearest_bev(&[0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.3]),
            [-2.0, -1.0, 2.0, 1.0]
        );
        assert_eq!(
            nearest_bev(&[0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 1.2]),
            [-1.0, -2.0, 1.0, 2.0]
        );
        assert_eq!(
            nearest_bev(&[0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 3.0]),
            [-2.0, -1.0, 2.0, 1.0]
        );
        // Two 2 x 2 squares overlapping by half: 2 / 6.
        let iou = aligned_iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 0.0, 3.0, 2.0]);
        assert!((iou - 1.0 / 3.0).abs() < 1e-12);
        assert!(
            (limit_period(-3.5, 0.5, std::f64::consts::PI) - (-3.5 + std::f64::consts::PI)).abs()
                < 1e-12
        );
    }
}
