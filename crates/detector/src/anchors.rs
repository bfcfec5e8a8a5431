//! Anchors: for every cell of the head's feature map, one box a class and rotation, centred on
//! the cell, standing on the class's anchor bottom height.

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
        let stride = cfg.network.output_stride() as f64;
        let [x0, y0, ..] = cfg.pillars.range;
        let (sx, sy) = (cfg.pillars.size[0] * stride, cfg.pillars.size[1] * stride);
        let per_cell: usize = classes.iter().map(|c| c.anchor.rotations.len()).sum();
        let mut boxes = Vec::with_capacity(fx * fy * per_cell);
        let mut class = Vec::with_capacity(boxes.capacity());
        for j in 0..fy {
            for i in 0..fx {
                let x = x0 + (i as f64 + 0.5) * sx;
                let y = y0 + (j as f64 + 0.5) * sy;
                for (k, c) in classes.iter().enumerate() {
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
    fn anchors_sit_on_cell_centres_in_the_heads_order() {
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
        let specs = cfg.class_specs().unwrap();
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
