//! The evaluation: for each class, filter (difficulty or distance bin), overlap metric and IoU
//! threshold, precision and recall at up to 41 score thresholds, and AP|R11 / AP|R40.

use crate::ap::{ap_r11, ap_r40, running_max_from_right, thresholds, SAMPLE_POINTS};
use crate::classes::{Class, Difficulty, Filter, IouSet, Metric};
use crate::clean::{clean, Cleaned};
use crate::frame::{FrameLabels, FrameOverlaps};
use crate::matching::{Candidates, Stats};
use rayon::prelude::*;

/// What to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// Classes.
    pub classes: Vec<Class>,
    /// IoU threshold sets (each gives its own APs).
    pub iou_sets: Vec<IouSet>,
    /// Evaluate Easy / Moderate / Hard.
    pub difficulties: bool,
    /// Camera-depth bins (lo, hi] evaluated without difficulty rules.
    pub ranges: Vec<(f64, f64)>,
    /// Factor on KITTI's minimum box heights (40/25/25 px), for images resized from KITTI's size;
    /// 1 for real KITTI.
    pub height_scale: f64,
}

impl Default for EvalConfig {
    /// All three classes, official IoUs, the three difficulties, no distance bins.
    fn default() -> Self {
        EvalConfig {
            classes: Class::ALL.to_vec(),
            iou_sets: vec![IouSet::Official],
            difficulties: true,
            ranges: Vec::new(),
            height_scale: 1.0,
        }
    }
}

impl EvalConfig {
    /// The filters to evaluate: difficulties first, then distance bins.
    pub fn filters(&self) -> Vec<Filter> {
        let mut f: Vec<Filter> = if self.difficulties {
            Difficulty::ALL.map(Filter::Difficulty).to_vec()
        } else {
            Vec::new()
        };
        f.extend(self.ranges.iter().map(|&(lo, hi)| Filter::Range(lo, hi)));
        f
    }
}

/// The precision/recall curve of one class, metric, filter and IoU threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Class.
    pub class: Class,
    /// Metric.
    pub metric: Metric,
    /// Difficulty or distance bin.
    pub filter: Filter,
    /// The IoU set this threshold came from.
    pub iou_set: IouSet,
    /// Minimum overlap (strictly exceeded).
    pub threshold: f64,
    /// Ground truth counted.
    pub n_gt: usize,
    /// Precision (or orientation similarity for AOS) at the 41 sample points, made monotone.
    pub precision: Vec<f64>,
    /// Recall at the sampled score thresholds (0 where there were fewer than 41).
    pub recall: Vec<f64>,
}

impl Curve {
    /// AP|R11 in percent, `None` when there is no ground truth to find.
    pub fn ap_r11(&self) -> Option<f64> {
        (self.n_gt > 0).then(|| ap_r11(&self.precision))
    }
    /// AP|R40 in percent, `None` when there is no ground truth to find.
    pub fn ap_r40(&self) -> Option<f64> {
        (self.n_gt > 0).then(|| ap_r40(&self.precision))
    }
    /// The flat key of one of its APs, e.g. `Car/3d/moderate/R40@0.70`.
    pub fn key(&self, r40: bool) -> String {
        crate::bootstrap::ApSpec {
            class: self.class,
            metric: self.metric,
            filter: self.filter,
            threshold: self.threshold,
            r40,
        }
        .key()
    }
    /// The table label of one of its APs, e.g. `3D AP@0.70 R40 Car Moderate`.
    pub fn label(&self, r40: bool) -> String {
        format!(
            "{}@{:.2} {} {} {}",
            self.metric.label(),
            self.threshold,
            if r40 { "R40" } else { "R11" },
            self.class.name(),
            self.filter.label()
        )
    }
}

/// All curves of an evaluation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvalResult {
    /// One curve per class, filter, metric and IoU set, in that nesting order.
    pub curves: Vec<Curve>,
}

impl EvalResult {
    /// Every AP as (key, label, value), R11 before R40 for each curve.
    pub fn entries(&self) -> Vec<(String, String, Option<f64>)> {
        self.curves
            .iter()
            .flat_map(|c| {
                [false, true].map(|r40| {
                    (
                        c.key(r40),
                        c.label(r40),
                        if r40 { c.ap_r40() } else { c.ap_r11() },
                    )
                })
            })
            .collect()
    }

    /// The AP under a flat key, if evaluated (`Some(None)` when it had no ground truth).
    pub fn get(&self, key: &str) -> Option<Option<f64>> {
        self.entries()
            .into_iter()
            .find(|(k, _, _)| k == key)
            .map(|e| e.2)
    }
}

/// One evaluation job: a class, a filter and one (overlap metric, threshold) pair; AOS rides
/// on the 2D job.
struct Job {
    class: Class,
    /// Index into the filter list (and into the cleaned flags, with the class).
    filter: usize,
    metric: Metric,
    threshold: f64,
}

/// What a job measures.
struct JobCurves {
    precision: Vec<f64>,
    recall: Vec<f64>,
    orientation: Option<Vec<f64>>,
    n_gt: usize,
}

/// Evaluates detections against ground truth, frame by frame, per KITTI's rules.
pub fn evaluate(frames: &[FrameLabels], cfg: &EvalConfig) -> EvalResult {
    let overlaps: Vec<FrameOverlaps> = frames.par_iter().map(FrameOverlaps::new).collect();
    let aos_possible = frames.iter().flat_map(|f| &f.det).all(|d| d.alpha != -10.0);
    let filters = cfg.filters();
    // Cleaning depends only on class and filter: once per pair, indexed class × filter.
    let pairs: Vec<(usize, usize)> = (0..cfg.classes.len())
        .flat_map(|c| (0..filters.len()).map(move |f| (c, f)))
        .collect();
    let cleaned: Vec<Vec<Cleaned>> = pairs
        .par_iter()
        .map(|&(c, f)| {
            frames
                .iter()
                .map(|fr| clean(fr, cfg.classes[c], &filters[f], cfg.height_scale))
                .collect()
        })
        .collect();
    let mut jobs = Vec::new();
    for (c, f) in &pairs {
        let class = cfg.classes[*c];
        for metric in [Metric::Box2D, Metric::Bev, Metric::Box3D] {
            let mut seen: Vec<f64> = Vec::new();
            for set in &cfg.iou_sets {
                let t = set.threshold(class, metric);
                if !seen.contains(&t) {
                    seen.push(t);
                    jobs.push((
                        c * filters.len() + f,
                        Job {
                            class,
                            filter: *f,
                            metric,
                            threshold: t,
                        },
                    ));
                }
            }
        }
    }
    let results: Vec<(Job, JobCurves)> = jobs
        .into_par_iter()
        .map(|(pair, job)| {
            let aos = aos_possible && job.metric == Metric::Box2D;
            let out = run_job(frames, &overlaps, &cleaned[pair], &job, aos);
            (job, out)
        })
        .collect();
    let mut curves = Vec::new();
    for (job, out) in results {
        for set in cfg
            .iou_sets
            .iter()
            .filter(|s| s.threshold(job.class, job.metric) == job.threshold)
        {
            let curve = |metric, precision: &Vec<f64>| Curve {
                class: job.class,
                metric,
                filter: filters[job.filter],
                iou_set: *set,
                threshold: job.threshold,
                n_gt: out.n_gt,
                precision: precision.clone(),
                recall: out.recall.clone(),
            };
            curves.push(curve(job.metric, &out.precision));
            if let Some(o) = &out.orientation {
                curves.push(curve(Metric::Aos, o));
            }
        }
    }
    let rank = |c: &Curve| {
        let f = filters
            .iter()
            .position(|g| *g == c.filter)
            .unwrap_or(usize::MAX);
        (c.class, f, c.iou_set, c.metric)
    };
    curves.sort_by_key(rank);
    EvalResult { curves }
}

fn run_job(
    frames: &[FrameLabels],
    overlaps: &[FrameOverlaps],
    clean: &[Cleaned],
    job: &Job,
    aos: bool,
) -> JobCurves {
    let m = job.metric as usize;
    let n_gt: usize = clean.iter().map(|c| c.n_gt).sum();
    let candidates: Vec<Candidates> = (0..frames.len())
        .into_par_iter()
        .map(|i| Candidates::new(&frames[i], &overlaps[i], &clean[i], m, job.threshold))
        .collect();
    let scores: Vec<f64> = candidates
        .par_iter()
        .flat_map_iter(|c| c.tp_scores())
        .collect();
    let thresh = thresholds(scores, n_gt);
    let totals: Vec<Stats> = candidates
        .par_iter()
        .map(|c| {
            thresh
                .iter()
                .map(|&t| c.statistics(t, aos))
                .collect::<Vec<Stats>>()
        })
        .reduce(
            || vec![Stats::default(); thresh.len()],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    x.tp += y.tp;
                    x.fp += y.fp;
                    x.fn_ += y.fn_;
                    x.similarity += y.similarity;
                }
                a
            },
        );
    let mut precision = vec![0.0; SAMPLE_POINTS];
    let mut recall = vec![0.0; SAMPLE_POINTS];
    let mut orientation = vec![0.0; SAMPLE_POINTS];
    for (i, s) in totals.iter().enumerate() {
        recall[i] = s.tp as f64 / (s.tp + s.fn_).max(1) as f64;
        precision[i] = s.tp as f64 / (s.tp + s.fp).max(1) as f64;
        orientation[i] = s.similarity / (s.tp + s.fp).max(1) as f64;
    }
    running_max_from_right(&mut precision);
    running_max_from_right(&mut orientation);
    JobCurves {
        precision,
        recall,
        orientation: aos.then_some(orientation),
        n_gt,
    }
}
