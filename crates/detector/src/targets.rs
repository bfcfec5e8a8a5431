//! Training targets: every anchor is matched to the ground-truth boxes of its class by
//! axis-aligned BEV IoU (positive at or above the class's positive threshold, negative below its
//! negative threshold, ignored between), and every ground-truth box also claims its best
//! anchors. Positives get the residual encoding of their box and a direction bin.

use crate::anchors::{aligned_iou, nearest_bev, Anchors, BoxParams};
use crate::coder::{direction_bin, encode};
use crate::config::ClassSpec;

/// A labelled box of a frame: its class index in the config's class list and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GtBox {
    /// Class index.
    pub class: usize,
    /// Box parameters (velodyne frame).
    pub params: BoxParams,
}

/// The targets of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Per anchor: −1 ignored, 0 background, c + 1 positive of class c.
    pub labels: Vec<i32>,
    /// Per anchor: encoded box (zero for non-positives).
    pub boxes: Vec<BoxParams>,
    /// Per anchor: direction bin (0 for non-positives).
    pub directions: Vec<u8>,
}

impl Targets {
    /// Positive anchors.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&l| l > 0).count()
    }
}

/// Assigns targets to `anchors` for the boxes `gt` of one frame.
pub fn assign(
    anchors: &Anchors,
    classes: &[ClassSpec],
    gt: &[GtBox],
    direction_offset: f64,
) -> Targets {
    let n = anchors.len();
    let mut labels = vec![-1i32; n];
    let mut matched = vec![usize::MAX; n];
    for (c, spec) in classes.iter().enumerate() {
        let gts: Vec<(usize, [f64; 4])> = gt
            .iter()
            .enumerate()
            .filter(|(_, g)| g.class == c)
            .map(|(i, g)| (i, nearest_bev(&g.params)))
            .collect();
        let mine = (0..n).filter(|&a| anchors.class[a] == c);
        if gts.is_empty() {
            for a in mine {
                labels[a] = 0;
            }
            continue;
        }
        let mut best_of_gt = vec![0.0f64; gts.len()];
        let mut overlaps: Vec<(usize, usize, Vec<f64>)> = Vec::new();
        for a in mine {
            let r = nearest_bev(&anchors.boxes[a]);
            let ious: Vec<f64> = gts.iter().map(|(_, g)| aligned_iou(&r, g)).collect();
            // The box the anchor overlaps most (the first on ties, as torch's argmax).
            let (arg, best) = ious
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |m, (k, &v)| if v > m.1 { (k, v) } else { m },
                );
            for (k, &v) in ious.iter().enumerate() {
                best_of_gt[k] = best_of_gt[k].max(v);
            }
            if best >= spec.anchor.positive_iou {
                labels[a] = c as i32 + 1;
                matched[a] = gts[arg].0;
            } else if best < spec.anchor.negative_iou {
                labels[a] = 0;
            }
            if best > 0.0 {
                overlaps.push((a, arg, ious));
            }
        }
        // Each box also takes the anchors that overlap it most (when any overlaps at all); such
        // an anchor regresses the box it overlaps most, as OpenPCDet's `gt_inds_force`.
        for (a, arg, ious) in &overlaps {
            if (0..gts.len()).any(|k| best_of_gt[k] > 0.0 && ious[k] == best_of_gt[k]) {
                labels[*a] = c as i32 + 1;
                matched[*a] = gts[*arg].0;
            }
        }
    }
    let mut boxes = vec![[0.0f32; 7]; n];
    let mut directions = vec![0u8; n];
    for a in 0..n {
        if labels[a] > 0 {
            let g = &gt[matched[a]].params;
            boxes[a] = encode(g, &anchors.boxes[a]);
            directions[a] = direction_bin(g[6] as f64, direction_offset) as u8;
        }
    }
    Targets {
        labels,
        boxes,
        directions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AnchorClass;

    /// Three hand-placed 2 x 2 anchors of one class along x, at x = 0, 1.5, 10.
    fn setup() -> (Anchors, Vec<ClassSpec>) {
        let spec = ClassSpec {
            name: "Car".into(),
            kind: kitti::label::ObjectType::Car,
            anchor: AnchorClass {
                size: [2.0, 2.0, 1.0],
                bottom_z: 0.0,
                rotations: vec![0.0],
                positive_iou: 0.6,
                negative_iou: 0.3,
                align_center: true,
            },
        };
        let boxes = [0.0, 1.5, 10.0]
            .map(|x| [x, 0.0, 0.5, 2.0, 2.0, 1.0, 0.0])
            .to_vec();
        let anchors = Anchors {
            class: vec![0; boxes.len()],
            boxes,
            per_cell: 1,
            map: [3, 1],
        };
        (anchors, vec![spec])
    }

    #[test]
    fn thresholds_split_positive_ignored_and_negative() {
        let (anchors, specs) = setup();
        // A box at x = 0.2: IoU 1.8·2/(8 − 3.6) = 0.818 with anchor 0, 0.7·2/(8 − 1.4) = 0.212
        // with anchor 1, 0 with anchor 2.
        let gt = [GtBox {
            class: 0,
            params: [0.2, 0.0, 0.5, 2.0, 2.0, 1.0, 0.0],
        }];
        let t = assign(&anchors, &specs, &gt, 0.0);
        assert_eq!(t.labels, vec![1, 0, 0]);
        // At x = 0.6: IoU 0.538 with anchor 0 (ignored band) and 0.379 with anchor 1 (ignored).
        let gt = [GtBox {
            class: 0,
            params: [0.6, 0.0, 0.5, 2.0, 2.0, 1.0, 0.0],
        }];
        let t = assign(&anchors, &specs, &gt, 0.0);
        // Anchor 0 is still its best anchor, so it is forced positive.
        assert_eq!(t.labels, vec![1, -1, 0]);
        let e = t.boxes[0];
        assert!((e[0] - 0.6 / 8f32.sqrt()).abs() < 1e-6 && e[3].abs() < 1e-6);
    }

    #[test]
    fn a_forced_anchor_regresses_the_box_it_overlaps_most() {
        let (anchors, specs) = setup();
        // Anchor 1 (x = 1.5) is the best anchor of both boxes: of B at x = 3.2 (IoU 0.081) and
        // of A at x = 0.9 (IoU 0.538). Forced positive, it regresses A, the box it overlaps
        // most, although B comes first.
        let b = GtBox {
            class: 0,
            params: [3.2, 0.0, 0.5, 2.0, 2.0, 1.0, 0.0],
        };
        let a = GtBox {
            class: 0,
            params: [0.9, 0.0, 0.5, 2.0, 2.0, 1.0, 0.0],
        };
        let t = assign(&anchors, &specs, &[b, a], 0.0);
        assert_eq!(t.labels, vec![-1, 1, 0]);
        assert!(
            (t.boxes[1][0] - (0.9 - 1.5) / 8f32.sqrt()).abs() < 1e-6,
            "{:?}",
            t.boxes[1]
        );
    }

    #[test]
    fn a_box_far_from_every_anchor_still_claims_its_best_one_and_other_classes_are_background() {
        let (anchors, specs) = setup();
        // Only overlaps anchor 2 a little: IoU 0.5·2/(8 − 1) = 0.143 < 0.3.
        let gt = [GtBox {
            class: 0,
            params: [11.5, 0.0, 0.5, 2.0, 2.0, 1.0, 3.0],
        }];
        let t = assign(&anchors, &specs, &gt, 0.0);
        assert_eq!(t.labels, vec![0, 0, 1]);
        assert_eq!(t.directions[2], 0);
        assert_eq!(t.positives(), 1);
        // A box of a class the model does not know leaves every anchor background.
        let t = assign(&anchors, &specs, &[GtBox { class: 1, ..gt[0] }], 0.0);
        assert_eq!(t.labels, vec![0, 0, 0]);
    }
}
