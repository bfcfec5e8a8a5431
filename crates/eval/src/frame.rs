//! One frame's ground truth and detections, with every overlap the evaluation needs computed
//! once: 2D IoU, BEV IoU, 3D IoU for each detection/ground-truth pair, and each detection's
//! overlap with the DontCare regions.

use kitti::iou::bev_and_3d_iou;
use kitti::{Object, ObjectType};

/// Ground truth and detections of one frame (the library's input).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameLabels {
    /// Ground-truth label lines (DontCare included).
    pub gt: Vec<Object>,
    /// Detections, each with a score.
    pub det: Vec<Object>,
}

/// Overlaps of one frame, indexed `det * n_gt + gt`, for the three overlap metrics.
#[derive(Debug, Clone)]
pub(crate) struct FrameOverlaps {
    pub n_gt: usize,
    /// [2D, BEV, 3D].
    pub iou: [Vec<f64>; 3],
    /// Indices of the DontCare ground truth.
    pub dontcare: Vec<usize>,
    /// Intersection with each DontCare box over the detection's area, `det * n_dc + k`.
    pub dc_overlap: Vec<f64>,
}

impl FrameOverlaps {
    pub fn new(f: &FrameLabels) -> Self {
        let n_gt = f.gt.len();
        let n = f.det.len() * n_gt;
        let mut iou = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        for (d, det) in f.det.iter().enumerate() {
            for (g, gt) in f.gt.iter().enumerate() {
                if gt.kind == ObjectType::DontCare {
                    continue;
                }
                let i = d * n_gt + g;
                iou[0][i] = det.bbox.iou(&gt.bbox);
                // Every pair: a small detection of another class can still absorb a match as an
                // ignored detection. Far-apart pairs are rejected cheaply inside.
                let (bev, three) = bev_and_3d_iou(&det.box3d, &gt.box3d);
                iou[1][i] = bev;
                iou[2][i] = three;
            }
        }
        let dontcare: Vec<usize> = (0..n_gt)
            .filter(|&g| f.gt[g].kind == ObjectType::DontCare)
            .collect();
        let mut dc_overlap = Vec::with_capacity(f.det.len() * dontcare.len());
        for det in &f.det {
            let area = det.bbox.area();
            for &g in &dontcare {
                let inter = det.bbox.intersection(&f.gt[g].bbox);
                dc_overlap.push(if area > 0.0 { inter / area } else { 0.0 });
            }
        }
        FrameOverlaps {
            n_gt,
            iou,
            dontcare,
            dc_overlap,
        }
    }
}
