//! Rotated bird's-eye-view non-maximum suppression with the exact rotated IoU the evaluator
//! uses (`kitti::iou`).

use kitti::box3d::VeloBox;
use kitti::iou::velo_bev_iou;

/// Indices of the boxes kept, best score first: a box is dropped when its BEV IoU with a kept,
/// higher-scoring box exceeds `iou_threshold`. At most `max_keep` are kept.
pub fn rotated_nms(
    boxes: &[VeloBox],
    scores: &[f32],
    iou_threshold: f64,
    max_keep: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let radius = |b: &VeloBox| (b.l * b.l + b.w * b.w).sqrt() / 2.0;
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        if kept.len() >= max_keep {
            break;
        }
        let b = &boxes[i];
        let suppressed = kept.iter().any(|&k| {
            let o = &boxes[k];
            let d = ((b.centre.x - o.centre.x).powi(2) + (b.centre.y - o.centre.y).powi(2)).sqrt();
            // Footprints whose circumscribed circles are apart cannot overlap.
            d < radius(b) + radius(o) && velo_bev_iou(b, o) > iou_threshold
        });
        if !suppressed {
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;
    use std::f64::consts::FRAC_PI_4;

    fn b(x: f64, y: f64, l: f64, w: f64, heading: f64) -> VeloBox {
        VeloBox {
            centre: Point3::new(x, y, 0.0),
            l,
            w,
            h: 1.5,
            heading,
        }
    }

    #[test]
    fn hand_worked_cases() {
        // Two 4 x 2 boxes shifted by 1 m along their length: IoU 6 / 10 = 0.6.
        let boxes = [
            b(0.0, 0.0, 4.0, 2.0, 0.0),
            b(1.0, 0.0, 4.0, 2.0, 0.0),
            b(10.0, 0.0, 4.0, 2.0, 0.0),
        ];
        assert_eq!(rotated_nms(&boxes, &[0.9, 0.8, 0.7], 0.5, 10), vec![0, 2]);
        assert_eq!(
            rotated_nms(&boxes, &[0.9, 0.8, 0.7], 0.61, 10),
            vec![0, 1, 2]
        );
        // The higher score wins regardless of order; max_keep caps the output.
        assert_eq!(rotated_nms(&boxes, &[0.2, 0.8, 0.7], 0.5, 10), vec![1, 2]);
        assert_eq!(rotated_nms(&boxes, &[0.2, 0.8, 0.7], 0.5, 1), vec![1]);
    }

    #[test]
    fn rotation_matters_where_an_axis_aligned_test_would_be_wrong() {
        // A 2 x 2 square and the same square turned 45°, centres 2.2 m apart along x: their
        // axis-aligned extents overlap (1 + 1.414 > 2.2) but the turned square's corner stops
        // at 2.2 − 1.414 = 0.786 < 1, so the true footprints overlap in a small triangle:
        // (1 − 0.786)² = 0.0458 m², IoU 0.0458 / (8 − 0.0458) = 0.00576.
        let boxes = [b(0.0, 0.0, 2.0, 2.0, 0.0), b(2.2, 0.0, 2.0, 2.0, FRAC_PI_4)];
        let iou = velo_bev_iou(&boxes[0], &boxes[1]);
        assert!((iou - 0.00576).abs() < 1e-4, "{iou}");
        assert_eq!(rotated_nms(&boxes, &[0.9, 0.8], 0.01, 10), vec![0, 1]);
        assert_eq!(rotated_nms(&boxes, &[0.9, 0.8], 0.005, 10), vec![0]);
    }
}
