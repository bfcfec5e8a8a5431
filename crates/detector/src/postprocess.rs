//! From the head's outputs to detections: best class score per anchor, score threshold, the
//! top candidates decoded (box residuals, direction bin), rotated BEV NMS; then KITTI result
//! lines with the 2D box of the projected 3D box and alpha.

use crate::anchors::{Anchors, BoxParams};
use crate::coder::{apply_direction, decode};
use crate::config::{ClassSpec, LossConfig, PostConfig};
use crate::nms::rotated_nms;
use kitti::box3d::VeloBox;
use kitti::calib::Calibration;
use kitti::label::Object;
use nalgebra::Point3;

/// One frame's head outputs on the host, row-major per anchor.
#[derive(Debug, Clone)]
pub struct FrameOutput {
    /// `[anchors × classes]` class logits.
    pub class_logits: Vec<f32>,
    /// `[anchors × 7]` box residuals.
    pub boxes: Vec<f32>,
    /// `[anchors × 2]` direction logits.
    pub direction_logits: Vec<f32>,
}

/// A detected box in the velodyne frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Class index in the config's class list.
    pub class: usize,
    /// Confidence (sigmoid of the logit).
    pub score: f32,
    /// The box.
    pub params: BoxParams,
}

/// A network box as a velodyne box.
pub fn velo_box(p: &BoxParams) -> VeloBox {
    VeloBox {
        centre: Point3::new(p[0] as f64, p[1] as f64, p[2] as f64),
        l: p[3] as f64,
        w: p[4] as f64,
        h: p[5] as f64,
        heading: p[6] as f64,
    }
}

/// A velodyne box as network parameters.
pub fn box_params(b: &VeloBox) -> BoxParams {
    [b.centre.x, b.centre.y, b.centre.z, b.l, b.w, b.h, b.heading].map(|v| v as f32)
}

/// The detections of one frame.
pub fn detect(
    out: &FrameOutput,
    anchors: &Anchors,
    classes: usize,
    post: &PostConfig,
    loss: &LossConfig,
) -> Vec<Detection> {
    let mut candidates: Vec<(usize, usize, f32)> = (0..anchors.len())
        .filter_map(|a| {
            let logits = &out.class_logits[a * classes..(a + 1) * classes];
            let (c, &l) = logits
                .iter()
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(y.1))?;
            let score = 1.0 / (1.0 + (-l).exp());
            (score as f64 >= post.score_threshold).then_some((a, c, score))
        })
        .collect();
    candidates.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)));
    candidates.truncate(post.nms_pre);
    let dets: Vec<Detection> = candidates
        .iter()
        .map(|&(a, class, score)| {
            let delta: BoxParams = std::array::from_fn(|k| out.boxes[a * 7 + k]);
            let mut params = decode(&delta, &anchors.boxes[a]);
            let d = &out.direction_logits[a * 2..a * 2 + 2];
            let bin = usize::from(d[1] > d[0]);
            params[6] = apply_direction(params[6] as f64, bin, loss.direction_offset) as f32;
            Detection {
                class,
                score,
                params,
            }
        })
        .collect();
    let boxes: Vec<VeloBox> = dets.iter().map(|d| velo_box(&d.params)).collect();
    let scores: Vec<f32> = dets.iter().map(|d| d.score).collect();
    rotated_nms(&boxes, &scores, post.nms_iou, post.max_boxes)
        .into_iter()
        .map(|i| dets[i])
        .collect()
}

/// KITTI result lines of a frame's detections: camera box, the projected 3D box clipped to the
/// `width` × `height` image as 2D box, alpha, score. Detections entirely outside the image are
/// left out (the camera label format cannot hold them).
pub fn to_objects(
    dets: &[Detection],
    specs: &[ClassSpec],
    calib: &Calibration,
    width: u32,
    height: u32,
) -> Vec<Object> {
    dets.iter()
        .filter_map(|d| {
            let box3d = velo_box(&d.params).to_camera(calib);
            let bbox = box3d.image_box(calib, width, height)?;
            Some(Object {
                kind: specs[d.class].kind,
                truncated: -1.0,
                occluded: -1,
                alpha: box3d.alpha(),
                bbox,
                box3d,
                score: Some(d.score as f64),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coder::{direction_bin, encode};

    #[test]
    fn an_encoded_box_decodes_back_through_the_whole_post_processing() {
        let anchors = Anchors {
            boxes: vec![
                [5.0, 0.0, -1.0, 3.9, 1.6, 1.56, 0.0],
                [5.0, 0.0, -1.0, 3.9, 1.6, 1.56, 1.5707964],
                [20.0, 3.0, -1.0, 3.9, 1.6, 1.56, 0.0],
            ],
            class: vec![0; 3],
            per_cell: 2,
            map: [1, 1],
        };
        let loss = LossConfig::default();
        let gt = [5.4, 0.3, -0.9, 4.1, 1.7, 1.5, 2.8];
        let mut out = FrameOutput {
            class_logits: vec![3.0, 2.0, -5.0],
            boxes: vec![0.0; 21],
            direction_logits: vec![0.0; 6],
        };
        for a in 0..2 {
            let e = encode(&gt, &anchors.boxes[a]);
            // The regression only sees the heading modulo a half-turn.
            let mut e2 = e;
            e2[6] -= std::f32::consts::PI;
            out.boxes[a * 7..a * 7 + 7].copy_from_slice(&e2);
            let bin = direction_bin(gt[6] as f64, loss.direction_offset);
            out.direction_logits[a * 2 + bin] = 1.0;
        }
        let dets = detect(&out, &anchors, 1, &PostConfig::default(), &loss);
        // Both anchors give the same box: NMS keeps the higher score; anchor 2 is below 0.1.
        assert_eq!(dets.len(), 1);
        assert!((dets[0].score - 1.0 / (1.0 + (-3.0f32).exp())).abs() < 1e-6);
        let back = velo_box(&dets[0].params);
        let want = velo_box(&gt);
        assert!((back.centre - want.centre).norm() < 1e-5);
        let dh = kitti::box3d::wrap_angle(back.heading - want.heading);
        assert!(dh.abs() < 1e-5, "{} vs {}", back.heading, want.heading);
    }
}
