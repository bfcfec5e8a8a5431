//! Paired bootstrap intervals for the change of a statistic between two arms evaluated on the
//! same frames (REFERENCE §9): resample the frames with replacement, the same resample for both
//! arms, recompute both statistics, take the difference; with several trained instances per arm,
//! resample those too, hierarchically (upstream seeds, then downstream seeds within each).
//!
//! A resample is a vector of frame multiplicities (`weights[i]` copies of frame `i`). An AP
//! under a resample ([`ApResampler`]) equals [`crate::evaluate`] on the frame list with each
//! frame repeated that many times: every frame's matching at every score threshold it can meet
//! is done once, so a resample costs a sort of the true-positive scores and table lookups.

use crate::ap::{ap_r11, ap_r40, running_max_from_right, thresholds, SAMPLE_POINTS};
use crate::classes::{Class, Difficulty, Filter, Metric};
use crate::clean::clean;
use crate::frame::{FrameLabels, FrameOverlaps};
use crate::matching::{Candidates, Stats};
use rayon::prelude::*;

/// One AP of an evaluation: class, metric, filter, IoU threshold and recall sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApSpec {
    /// Class.
    pub class: Class,
    /// Metric (AOS rides on the 2D matching).
    pub metric: Metric,
    /// Difficulty or distance bin.
    pub filter: Filter,
    /// Minimum overlap (strictly exceeded).
    pub threshold: f64,
    /// AP|R40 (else AP|R11).
    pub r40: bool,
}

impl ApSpec {
    /// The flat key of the AP (also [`crate::Curve::key`]), e.g. `Car/bev/moderate/R40@0.50`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}@{:.2}",
            self.class.name(),
            self.metric.key(),
            self.filter.key(),
            if self.r40 { "R40" } else { "R11" },
            self.threshold
        )
    }

    /// Parses a flat key (difficulties and `range_LO-HI` bins); `None` when it is not one.
    pub fn parse(key: &str) -> Option<ApSpec> {
        let (left, threshold) = key.split_once('@')?;
        let threshold: f64 = threshold.parse().ok()?;
        let parts: Vec<&str> = left.split('/').collect();
        let [class, metric, filter, recall] = parts[..] else {
            return None;
        };
        let class = Class::ALL.into_iter().find(|c| c.name() == class)?;
        let metric = Metric::ALL.into_iter().find(|m| m.key() == metric)?;
        let filter = match Difficulty::ALL.into_iter().find(|d| d.key() == filter) {
            Some(d) => Filter::Difficulty(d),
            None => {
                let (lo, hi) = filter.strip_prefix("range_")?.split_once('-')?;
                Filter::Range(lo.parse().ok()?, hi.parse().ok()?)
            }
        };
        let r40 = match recall {
            "R40" => true,
            "R11" => false,
            _ => return None,
        };
        Some(ApSpec {
            class,
            metric,
            filter,
            threshold,
            r40,
        })
    }
}

/// What one frame contributes at any score threshold.
struct FrameTable {
    /// Ground truth counted for recall.
    n_gt: usize,
    /// Pass-1 true-positive scores.
    tp_scores: Vec<f64>,
    /// The distinct scores of its considered detections, ascending.
    scores: Vec<f64>,
    /// `stats[j]`: the counts when the detections kept are those scoring at least
    /// `scores[j]`; the last entry, with none kept.
    stats: Vec<Stats>,
}

impl FrameTable {
    /// The counts at score threshold `t` (detections scoring below it dropped).
    fn at(&self, t: f64) -> &Stats {
        &self.stats[self.scores.partition_point(|&s| s < t)]
    }
}

/// One AP recomputed for any resample of a fixed list of frames.
pub struct ApResampler {
    frames: Vec<FrameTable>,
    spec: ApSpec,
}

impl ApResampler {
    /// Prepares `spec` over `frames` (heights compared as in [`crate::EvalConfig`]'s
    /// `height_scale`). `None` for AOS when a detection has no alpha (the evaluation gives no
    /// AOS then either).
    pub fn new(frames: &[FrameLabels], spec: ApSpec, height_scale: f64) -> Option<Self> {
        Self::for_specs(frames, &[spec], height_scale)
            .pop()
            .flatten()
    }

    /// Prepares every one of `specs` over the same `frames`, computing each frame's overlaps
    /// once for all of them; in `specs`' order, `None` as in [`ApResampler::new`].
    pub fn for_specs(
        frames: &[FrameLabels],
        specs: &[ApSpec],
        height_scale: f64,
    ) -> Vec<Option<Self>> {
        let overlaps: Vec<FrameOverlaps> = frames.par_iter().map(FrameOverlaps::new).collect();
        let alphas = frames.iter().flat_map(|f| &f.det).all(|d| d.alpha != -10.0);
        specs
            .iter()
            .map(|&spec| {
                let aos = spec.metric == Metric::Aos;
                if aos && !alphas {
                    return None;
                }
                let m = spec.metric.overlap_metric() as usize;
                let tables = frames
                    .par_iter()
                    .zip(&overlaps)
                    .map(|(f, o)| {
                        let cleaned = clean(f, spec.class, &spec.filter, height_scale);
                        let c = Candidates::new(f, o, &cleaned, m, spec.threshold);
                        let mut scores = c.scores();
                        scores.sort_by(f64::total_cmp);
                        scores.dedup();
                        let stats = scores
                            .iter()
                            .copied()
                            .chain([f64::INFINITY])
                            .map(|t| c.statistics(t, aos))
                            .collect();
                        FrameTable {
                            n_gt: cleaned.n_gt,
                            tp_scores: c.tp_scores(),
                            scores,
                            stats,
                        }
                    })
                    .collect();
                Some(ApResampler {
                    frames: tables,
                    spec,
                })
            })
            .collect()
    }

    /// What it computes.
    pub fn spec(&self) -> ApSpec {
        self.spec
    }
}

/// A statistic of a fixed list of frames that can be recomputed for a resample of them.
pub trait Resampled: Sync {
    /// Frames in the list.
    fn frames(&self) -> usize;
    /// The statistic when frame `i` counts `weights[i]` times; `None` where undefined (e.g. an
    /// AP without ground truth).
    fn value(&self, weights: &[u32]) -> Option<f64>;
}

impl Resampled for ApResampler {
    fn frames(&self) -> usize {
        self.frames.len()
    }

    fn value(&self, weights: &[u32]) -> Option<f64> {
        let used = || {
            self.frames
                .iter()
                .zip(weights)
                .filter(|(_, &w)| w > 0)
                .map(|(f, &w)| (f, w as usize))
        };
        let n_gt: usize = used().map(|(f, w)| f.n_gt * w).sum();
        if n_gt == 0 {
            return None;
        }
        let scores: Vec<f64> = used()
            .flat_map(|(f, w)| (0..w).flat_map(move |_| f.tp_scores.iter().copied()))
            .collect();
        let thresh = thresholds(scores, n_gt);
        let mut precision = vec![0.0; SAMPLE_POINTS];
        for (i, &t) in thresh.iter().enumerate() {
            let (mut tp, mut fp, mut similarity) = (0usize, 0usize, 0.0f64);
            for (f, w) in used() {
                let s = f.at(t);
                tp += s.tp * w;
                fp += s.fp * w;
                similarity += s.similarity * w as f64;
            }
            precision[i] = if self.spec.metric == Metric::Aos {
                similarity / (tp + fp).max(1) as f64
            } else {
                tp as f64 / (tp + fp).max(1) as f64
            };
        }
        running_max_from_right(&mut precision);
        Some(if self.spec.r40 {
            ap_r40(&precision)
        } else {
            ap_r11(&precision)
        })
    }
}

/// A ratio of per-frame sums, Σ wᵢ·numerᵢ / Σ wᵢ·denomᵢ: a mean over pixels (e.g. depth MAE:
/// each frame's sum of absolute errors over its pixel count).
#[derive(Debug, Clone, PartialEq)]
pub struct RatioOfSums {
    /// Per-frame numerators.
    pub numer: Vec<f64>,
    /// Per-frame denominators.
    pub denom: Vec<f64>,
}

impl Resampled for RatioOfSums {
    fn frames(&self) -> usize {
        self.numer.len()
    }

    fn value(&self, weights: &[u32]) -> Option<f64> {
        let (mut n, mut d) = (0.0, 0.0);
        for ((a, b), &w) in self.numer.iter().zip(&self.denom).zip(weights) {
            n += a * w as f64;
            d += b * w as f64;
        }
        (d > 0.0).then(|| n / d)
    }
}

/// How intervals are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Seed of the resampling (the same seed gives the same interval).
    pub seed: u64,
    /// Coverage of the percentile interval, e.g. 0.95.
    pub confidence: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            resamples: 1000,
            seed: 0,
            confidence: 0.95,
        }
    }
}

/// The change of a statistic between two arms, with its percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// The change on the frames as they are: arm A's mean over its instances minus arm B's.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Of those, left out because a statistic was undefined on them.
    pub undefined: usize,
}

/// Trained instances of one arm: groups (upstream seeds) of instances (downstream seeds).
pub type Arm<'a> = Vec<Vec<&'a dyn Resampled>>;

/// The paired, hierarchical bootstrap of `mean(a) − mean(b)` over `frames` frames: each
/// resample draws the frames with replacement (shared by both arms), then for each arm its
/// groups with replacement and, within each drawn group, its instances with replacement, and
/// averages the drawn instances' statistics. `None` when the estimate itself is undefined or an
/// arm is empty. Resamples run in parallel; each has its own random stream, so the result does
/// not depend on the thread count.
pub fn paired_difference(
    frames: usize,
    a: &Arm<'_>,
    b: &Arm<'_>,
    settings: &Settings,
) -> Option<Interval> {
    hierarchical(&[frames], a, Some(b), settings)
}

/// The hierarchical bootstrap of `mean(a)` over frames made of consecutive blocks of `strata`
/// frames (e.g. training frames, then val frames): each resample draws every block's frames
/// with replacement within the block, so that every block keeps its size, then the arm's groups
/// and instances as [`paired_difference`] does. With [`BlockDifference`] statistics it gives the
/// interval of a difference between two independent frame sets.
pub fn stratified_mean(strata: &[usize], a: &Arm<'_>, settings: &Settings) -> Option<Interval> {
    hierarchical(strata, a, None, settings)
}

/// The bootstrap behind [`paired_difference`] and [`stratified_mean`]: `mean(a) − mean(b)`
/// (or `mean(a)` without `b`), frames drawn within each stratum.
fn hierarchical(
    strata: &[usize],
    a: &Arm<'_>,
    b: Option<&Arm<'_>>,
    settings: &Settings,
) -> Option<Interval> {
    let frames: usize = strata.iter().sum();
    let all_ones = vec![1u32; frames];
    let full_mean = |arm: &Arm<'_>| -> Option<f64> {
        let values: Option<Vec<f64>> = arm.iter().flatten().map(|s| s.value(&all_ones)).collect();
        let values = values?;
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let estimate = full_mean(a)? - b.map_or(Some(0.0), full_mean)?;
    let arms = std::iter::once(a).chain(b);
    if arms.clone().any(|arm| arm.iter().any(|g| g.is_empty())) {
        return None;
    }
    let mut deltas: Vec<f64> = (0..settings.resamples)
        .into_par_iter()
        .filter_map(|r| {
            let mut rng = SplitMix::for_stream(settings.seed, r as u64);
            let mut weights = vec![0u32; frames];
            let mut offset = 0;
            for &n in strata {
                for _ in 0..n {
                    weights[offset + rng.below(n)] += 1;
                }
                offset += n;
            }
            let ma = resampled_mean(a, &weights, &mut rng)?;
            let mb = match b {
                Some(b) => resampled_mean(b, &weights, &mut rng)?,
                None => 0.0,
            };
            Some(ma - mb)
        })
        .collect();
    let undefined = settings.resamples - deltas.len();
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_by(f64::total_cmp);
    let tail = (1.0 - settings.confidence) / 2.0;
    Some(Interval {
        estimate,
        lo: quantile(&deltas, tail),
        hi: quantile(&deltas, 1.0 - tail),
        resamples: settings.resamples,
        undefined,
    })
}

/// A statistic on one block of frames minus another's on the next block: over the frames
/// `first`'s, then `second`'s (e.g. a detector's AP on its training frames minus on val).
pub struct BlockDifference<A, B> {
    /// Computed on the first `first.frames()` frames.
    pub first: A,
    /// Computed on the rest.
    pub second: B,
}

impl<A: Resampled, B: Resampled> Resampled for BlockDifference<A, B> {
    fn frames(&self) -> usize {
        self.first.frames() + self.second.frames()
    }

    fn value(&self, weights: &[u32]) -> Option<f64> {
        let (w1, w2) = weights.split_at(self.first.frames());
        Some(self.first.value(w1)? - self.second.value(w2)?)
    }
}

/// One arm's mean over its drawn instances under frame `weights`.
fn resampled_mean(arm: &Arm<'_>, weights: &[u32], rng: &mut SplitMix) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for _ in 0..arm.len() {
        let group = &arm[rng.below(arm.len())];
        for _ in 0..group.len() {
            sum += group[rng.below(group.len())].value(weights)?;
            n += 1;
        }
    }
    Some(sum / n as f64)
}

/// The `p` quantile of sorted values, interpolating linearly between order statistics (the
/// "type 7" rule: position p·(n − 1)).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let i = h.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (h - i as f64) * (sorted[j] - sorted[i])
}

/// SplitMix64: a small, fast generator with independent streams per (seed, stream).
struct SplitMix(u64);

impl SplitMix {
    fn for_stream(seed: u64, stream: u64) -> Self {
        let mut g = SplitMix(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        g.next();
        g
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}
