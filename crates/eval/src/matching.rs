//! Matching detections to ground truth in one frame (the devkit's `computeStatistics`).
//!
//! For one frame, class, filter, metric and IoU threshold, the pairs that can ever match are
//! gathered once ([`Candidates`]); each score threshold then only walks those.

use crate::clean::{Cleaned, Flag};
use crate::frame::{FrameLabels, FrameOverlaps};

/// Counts of one frame at one score threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Stats {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    /// Σ (1 + cos Δalpha) / 2 over true positives.
    pub similarity: f64,
}

/// A considered detection (flag 0 or 1).
struct Det {
    score: f64,
    flag: Flag,
    alpha: f64,
}

/// A considered ground truth (flag 0 or 1) and the detections overlapping it by more than the
/// threshold, in detection order: (index into `dets`, overlap).
struct Gt {
    flag: Flag,
    alpha: f64,
    matches: Vec<(usize, f64)>,
}

/// Everything one frame contributes to one evaluation job.
pub(crate) struct Candidates {
    dets: Vec<Det>,
    gts: Vec<Gt>,
    /// For each DontCare region (2D metric only), the detections covering it by more than the
    /// threshold (intersection over detection area).
    dontcare: Vec<Vec<usize>>,
}

impl Candidates {
    pub fn new(
        f: &FrameLabels,
        o: &FrameOverlaps,
        c: &Cleaned,
        metric: usize,
        min_overlap: f64,
    ) -> Self {
        let det_ids: Vec<usize> = (0..f.det.len()).filter(|&d| c.det[d] != -1).collect();
        let dets = det_ids
            .iter()
            .map(|&d| Det {
                score: score(&f.det[d]),
                flag: c.det[d],
                alpha: f.det[d].alpha,
            })
            .collect();
        let gts = (0..f.gt.len())
            .filter(|&g| c.gt[g] != -1)
            .map(|g| Gt {
                flag: c.gt[g],
                alpha: f.gt[g].alpha,
                matches: det_ids
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| (k, o.iou[metric][d * o.n_gt + g]))
                    .filter(|&(_, ov)| ov > min_overlap)
                    .collect(),
            })
            .collect();
        let n_dc = o.dontcare.len();
        let dontcare = if metric == 0 {
            (0..n_dc)
                .map(|k| {
                    det_ids
                        .iter()
                        .enumerate()
                        .filter(|&(_, &d)| o.dc_overlap[d * n_dc + k] > min_overlap)
                        .map(|(i, _)| i)
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        Candidates {
            dets,
            gts,
            dontcare,
        }
    }

    /// The scores of the considered detections.
    pub fn scores(&self) -> Vec<f64> {
        self.dets.iter().map(|d| d.score).collect()
    }

    /// Pass 1: with every detection considered, each ground truth takes the highest-scoring
    /// free detection overlapping it; returns the scores of the true positives.
    pub fn tp_scores(&self) -> Vec<f64> {
        let mut assigned = vec![false; self.dets.len()];
        let mut scores = Vec::new();
        for g in &self.gts {
            let mut best: Option<usize> = None;
            for &(d, _) in &g.matches {
                if !assigned[d] && best.is_none_or(|b| self.dets[d].score > self.dets[b].score) {
                    best = Some(d);
                }
            }
            if let Some(d) = best {
                assigned[d] = true;
                if g.flag == 0 && self.dets[d].flag == 0 {
                    scores.push(self.dets[d].score);
                }
            }
        }
        scores
    }

    /// Pass 2 at score threshold `thresh`: detections below it are dropped; each ground truth
    /// takes the free non-ignored detection with the largest overlap (an ignored one only if
    /// none else); matches involving ignored boxes count as nothing; unmatched considered
    /// detections are false positives, except, for the 2D metric, those covering a DontCare
    /// region.
    pub fn statistics(&self, thresh: f64, aos: bool) -> Stats {
        let mut assigned: Vec<bool> = self.dets.iter().map(|d| d.score < thresh).collect();
        let mut s = Stats::default();
        for g in &self.gts {
            let mut det_idx: Option<usize> = None;
            let mut max_iou = 0.0;
            let mut assigned_ignored = false;
            for &(d, overlap) in &g.matches {
                if assigned[d] {
                    continue;
                }
                let flag = self.dets[d].flag;
                if (overlap > max_iou || assigned_ignored) && flag == 0 {
                    max_iou = overlap;
                    det_idx = Some(d);
                    assigned_ignored = false;
                } else if det_idx.is_none() && flag == 1 {
                    det_idx = Some(d);
                    assigned_ignored = true;
                }
            }
            match det_idx {
                None => s.fn_ += (g.flag == 0) as usize,
                Some(d) => {
                    if g.flag == 0 && self.dets[d].flag == 0 {
                        s.tp += 1;
                        if aos {
                            s.similarity += (1.0 + (g.alpha - self.dets[d].alpha).cos()) / 2.0;
                        }
                    }
                    assigned[d] = true;
                }
            }
        }
        for covering in &self.dontcare {
            for &d in covering {
                if self.dets[d].flag == 0 {
                    assigned[d] = true;
                }
            }
        }
        s.fp = self
            .dets
            .iter()
            .zip(&assigned)
            .filter(|(d, &a)| !a && d.flag == 0)
            .count();
        s
    }
}

/// A detection's score (a result line without one scores 0).
pub(crate) fn score(o: &kitti::Object) -> f64 {
    o.score.unwrap_or(0.0)
}
