//! The report's intervals and its one decision rule. Every change against the baseline (an AP,
//! an upstream depth error) gets a paired bootstrap interval over the val frames, resampling
//! the seeds too where there are several (upstream seeds, then detector seeds within each);
//! the decision reads only those intervals.

use super::stages::{DetectorEval, UpstreamMetrics};
use disparity::metrics::{BINS, CLASSES};
use disparity::{Breakdown, Sums};
use eval::bootstrap::{paired_difference, ApResampler, ApSpec, Arm, Interval, Resampled};
use eval::bootstrap::{RatioOfSums, Settings};
use std::collections::BTreeMap;

/// The pixels of a breakdown an error is computed on.
pub type Pixels = fn(&Breakdown) -> &Sums;

/// The upstream errors given intervals: (report key, column name in report.md, the pixels' sums
/// in a breakdown).
pub const UPSTREAM_ERRORS: [(&str, &str, Pixels); 5] = [
    ("depth_mae", "depth MAE", |b| &b.all),
    ("car_depth_mae", "car depth MAE", |b| &b.classes[0]),
    ("pedestrian_depth_mae", "pedestrian depth MAE", |b| {
        &b.classes[1]
    }),
    ("car_outline_depth_mae", "car outline depth MAE", |b| {
        &b.outlines[0]
    }),
    (
        "pedestrian_outline_depth_mae",
        "pedestrian outline depth MAE",
        |b| &b.outlines[1],
    ),
];

/// The decision rule, as the report's header states it.
pub const RULE: &str = "An upstream change is an *improvement* when the 95 % interval of its depth-MAE change (on the pixels every variant predicts) lies below zero; a downstream change is a *loss* when the interval of its ΔAP lies below zero (a *gain* above zero). *Self-defeating* = an improvement with a loss; *not self-defeating* = an improvement with a gain; *inconclusive* when either interval spans zero. Intervals: paired bootstrap over the val frames (both arms on the same resample), hierarchical over upstream seeds and then detector seeds where there are several.";

/// A per-frame ratio of sums an upstream error is: (numerator, denominator) of one frame's
/// breakdown.
pub type FrameRatio = Box<dyn Fn(&Breakdown) -> (f64, f64)>;

/// The upstream errors given intervals, by report key: the [`UPSTREAM_ERRORS`] depth MAEs, and
/// each class's per-object error in each distance bin (`object_error/<class>/<bin>`, the key
/// [`object_error_key`] makes).
pub fn upstream_errors() -> Vec<(String, FrameRatio)> {
    let mut errors: Vec<(String, FrameRatio)> = UPSTREAM_ERRORS
        .iter()
        .map(|&(key, _, pick)| {
            let ratio: FrameRatio =
                Box::new(move |b: &Breakdown| (pick(b).abs_depth, pick(b).depth_pixels as f64));
            (key.to_string(), ratio)
        })
        .collect();
    for c in 0..CLASSES.len() {
        for k in 0..BINS.len() {
            let ratio: FrameRatio = Box::new(move |b: &Breakdown| {
                let s = &b.objects[c][k];
                (s.abs_median, s.placed as f64)
            });
            errors.push((object_error_key(c, k), ratio));
        }
    }
    errors
}

/// The name of class `CLASSES[class]`'s objects in distance bin `BINS[bin]`, e.g. `Car/20-40 m`.
pub fn object_cell(class: usize, bin: usize) -> String {
    let (lo, hi) = BINS[bin];
    format!("{}/{lo:.0}-{hi:.0} m", CLASSES[class].as_str())
}

/// The report key of the change of a per-object error ([`object_cell`]'s objects).
pub fn object_error_key(class: usize, bin: usize) -> String {
    format!("object_error/{}", object_cell(class, bin))
}

/// Changes of `variant`'s upstream errors against `baseline`'s (one entry per upstream seed
/// each), by [`upstream_errors`] key: `None` where a side has no pixels (or objects).
pub fn upstream_changes(
    variant: &[UpstreamMetrics],
    baseline: &[UpstreamMetrics],
    settings: &Settings,
) -> BTreeMap<String, Option<Interval>> {
    upstream_errors()
        .into_iter()
        .map(|(key, ratio)| {
            let stats = |runs: &[UpstreamMetrics]| -> Vec<RatioOfSums> {
                runs.iter()
                    .map(|m| {
                        let (numer, denom) = m.frames.iter().map(&ratio).unzip();
                        RatioOfSums { numer, denom }
                    })
                    .collect()
            };
            let (v, b) = (stats(variant), stats(baseline));
            fn arm(s: &[RatioOfSums]) -> Arm<'_> {
                s.iter().map(|r| vec![r as &dyn Resampled]).collect()
            }
            let frames = v.first().map_or(0, |r| r.numer.len());
            let same = v.iter().chain(&b).all(|r| r.numer.len() == frames);
            let interval = (same && frames > 0)
                .then(|| paired_difference(frames, &arm(&v), &arm(&b), settings))
                .flatten();
            (key, interval)
        })
        .collect()
}

/// One arm's detectors, each with its APs prepared for resampling (every frame's overlaps
/// computed once for all keys), and whether they group by upstream seed.
pub struct PreparedArm {
    /// (upstream seed, the resampler of each key, in key order; `None` where undefined).
    runs: Vec<(u64, Vec<Option<ApResampler>>)>,
    /// A trained upstream variant's detectors group by upstream seed; an untrained one's are
    /// one group (its model is the same for every seed).
    by_seed: bool,
}

impl PreparedArm {
    /// Prepares `keys` (flat AP keys) for every evaluated detector of one arm.
    pub fn new(runs: &[DetectorEval], keys: &[String], trained: bool, height_scale: f64) -> Self {
        let specs: Vec<Option<ApSpec>> = keys.iter().map(|k| ApSpec::parse(k)).collect();
        let known: Vec<ApSpec> = specs.iter().flatten().copied().collect();
        let runs = runs
            .iter()
            .map(|e| {
                let mut prepared =
                    ApResampler::for_specs(&e.frames, &known, height_scale).into_iter();
                let per_key = specs
                    .iter()
                    .map(|s| s.and_then(|_| prepared.next().flatten()))
                    .collect();
                (e.upstream_seed, per_key)
            })
            .collect();
        PreparedArm {
            runs,
            by_seed: trained,
        }
    }

    /// The arm for key number `k`: groups of resamplers, `None` where one is undefined.
    fn arm(&self, k: usize) -> Option<Arm<'_>> {
        let members: Option<Vec<(u64, &dyn Resampled)>> = self
            .runs
            .iter()
            .map(|(seed, per_key)| Some((*seed, per_key.get(k)?.as_ref()? as &dyn Resampled)))
            .collect();
        Some(group_by_seed(members?, self.by_seed))
    }
}

/// Statistics of (upstream seed, statistic) as an arm: one group per upstream seed, or one group
/// for all when the variant is the same model for every seed.
fn group_by_seed<'a>(members: Vec<(u64, &'a dyn Resampled)>, by_seed: bool) -> Arm<'a> {
    let mut groups: Vec<(u64, Vec<&dyn Resampled>)> = Vec::new();
    for (seed, r) in members {
        let key = if by_seed { seed } else { 0 };
        match groups.iter_mut().find(|(s, _)| *s == key) {
            Some((_, g)) => g.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// AP changes of `variant` against `baseline`, both prepared for the same `keys` (flat AP
/// keys): by key, `None` where an AP is undefined.
pub fn ap_changes(
    keys: &[String],
    variant: &PreparedArm,
    baseline: &PreparedArm,
    settings: &Settings,
) -> BTreeMap<String, Option<Interval>> {
    keys.iter()
        .enumerate()
        .map(|(k, key)| {
            let interval = (|| {
                let (v, b) = (variant.arm(k)?, baseline.arm(k)?);
                let frames = v.first()?.first()?.frames();
                if v.iter().chain(&b).flatten().any(|r| r.frames() != frames) {
                    return None;
                }
                paired_difference(frames, &v, &b, settings)
            })();
            (key.clone(), interval)
        })
        .collect()
}

/// The gap between a detector's AP on its training frames and on val (`train` and `val`: the
/// same detectors, evaluated on each set), averaged over the detectors, with a bootstrap
/// interval that resamples each frame set within itself and the seeds as [`ap_changes`] does.
/// `None` where an AP is undefined or the detectors do not pair up.
pub fn train_val_gap(
    key: &str,
    train: &[DetectorEval],
    val: &[DetectorEval],
    seeded: bool,
    height_scale: f64,
    settings: &Settings,
) -> Option<Interval> {
    use eval::bootstrap::{stratified_mean, BlockDifference};
    let spec = ApSpec::parse(key)?;
    let mut gaps = Vec::new();
    for v in val {
        let t = train
            .iter()
            .find(|t| (t.upstream_seed, t.detector_seed) == (v.upstream_seed, v.detector_seed))?;
        let gap = BlockDifference {
            first: ApResampler::new(&t.frames, spec, height_scale)?,
            second: ApResampler::new(&v.frames, spec, height_scale)?,
        };
        gaps.push((v.upstream_seed, gap));
    }
    let strata = [train.first()?.frames.len(), val.first()?.frames.len()];
    if gaps
        .iter()
        .any(|(_, g)| g.first.frames() != strata[0] || g.second.frames() != strata[1])
    {
        return None;
    }
    let members = gaps
        .iter()
        .map(|(s, g)| (*s, g as &dyn Resampled))
        .collect();
    stratified_mean(&strata, &group_by_seed(members, seeded), settings)
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The upstream error improved and the detector's AP fell.
    SelfDefeating,
    /// The upstream error improved and the detector's AP rose.
    NotSelfDefeating,
    /// An interval spans zero.
    Inconclusive,
    /// No upstream improvement: no error to compare (the real LiDAR), or it got worse.
    NoUpstreamImprovement,
}

impl Decision {
    /// As written in the report.
    pub fn label(self) -> &'static str {
        match self {
            Decision::SelfDefeating => "SELF-DEFEATING",
            Decision::NotSelfDefeating => "not self-defeating",
            Decision::Inconclusive => "inconclusive",
            Decision::NoUpstreamImprovement => "no upstream improvement to judge",
        }
    }
}

/// `[lo, hi]` with signs.
pub fn bracket(i: &Interval, digits: usize) -> String {
    format!("[{:+.*}, {:+.*}]", digits, i.lo, digits, i.hi)
}

/// The decision from the upstream error change's interval (`None`: the variant has no
/// upstream error, e.g. the real LiDAR) and the ΔAP interval, with the reason: which interval
/// decided.
pub fn decide(upstream: Option<Option<&Interval>>, ap: Option<&Interval>) -> (Decision, String) {
    let Some(upstream) = upstream else {
        return (
            Decision::NoUpstreamImprovement,
            "the real LiDAR has no upstream error to compare".into(),
        );
    };
    let Some(u) = upstream else {
        return (
            Decision::Inconclusive,
            "the depth-MAE change has no interval (no common pixels)".into(),
        );
    };
    let err = format!("depth-MAE change {} m", bracket(u, 3));
    if u.lo > 0.0 {
        return (
            Decision::NoUpstreamImprovement,
            format!("{err} lies above zero: the upstream change made the depth error worse"),
        );
    }
    if u.hi >= 0.0 {
        return (
            Decision::Inconclusive,
            format!("{err} spans zero: not an upstream improvement that can be told from noise"),
        );
    }
    let Some(a) = ap else {
        return (
            Decision::Inconclusive,
            format!("{err} lies below zero (improvement), but the AP is undefined on val (no ground truth)"),
        );
    };
    let gap = format!("ΔAP {}", bracket(a, 2));
    if a.hi < 0.0 {
        (
            Decision::SelfDefeating,
            format!("{err} lies below zero (improvement) and {gap} lies below zero (loss)"),
        )
    } else if a.lo > 0.0 {
        (
            Decision::NotSelfDefeating,
            format!("{err} lies below zero (improvement) and {gap} lies above zero (gain)"),
        )
    } else {
        (
            Decision::Inconclusive,
            format!("{err} lies below zero (improvement), but {gap} spans zero"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(lo: f64, hi: f64) -> Interval {
        Interval {
            estimate: (lo + hi) / 2.0,
            lo,
            hi,
            resamples: 1000,
            undefined: 0,
        }
    }

    #[test]
    fn each_outcome_of_the_decision_rule() {
        let better = interval(-0.3, -0.1);
        let cases = [
            (
                Some(Some(better)),
                Some(interval(-5.0, -1.0)),
                Decision::SelfDefeating,
                "loss",
            ),
            (
                Some(Some(better)),
                Some(interval(0.5, 3.0)),
                Decision::NotSelfDefeating,
                "gain",
            ),
            (
                Some(Some(better)),
                Some(interval(-2.0, 1.0)),
                Decision::Inconclusive,
                "ΔAP [-2.00, +1.00] spans zero",
            ),
            (
                Some(Some(interval(-0.2, 0.1))),
                Some(interval(-5.0, -1.0)),
                Decision::Inconclusive,
                "depth-MAE change [-0.200, +0.100] m spans zero",
            ),
            (
                Some(Some(interval(0.1, 0.4))),
                Some(interval(-5.0, -1.0)),
                Decision::NoUpstreamImprovement,
                "worse",
            ),
            (
                None,
                Some(interval(10.0, 20.0)),
                Decision::NoUpstreamImprovement,
                "real LiDAR",
            ),
            (
                Some(Some(better)),
                None,
                Decision::Inconclusive,
                "undefined",
            ),
        ];
        for (up, ap, want, phrase) in cases {
            let (d, reason) = decide(up.as_ref().map(|u| u.as_ref()), ap.as_ref());
            assert_eq!(d, want, "{reason}");
            assert!(reason.contains(phrase), "{reason}");
        }
    }
}
