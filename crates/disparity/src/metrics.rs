//! Disparity and depth error of predicted disparity maps against ground truth: overall, by
//! distance bin, and on the pixels of each object class (how a user sees *why* an upstream
//! change helps one detector and hurts another).

use crate::objects::ObjectBins;
use kitti::{DisparityMap, ObjectType};

/// Depth range evaluated, metres.
pub const DEPTH_RANGE: (f64, f64) = (1.0, 80.0);
/// The distance bins of the report, metres (lo, hi].
pub const BINS: [(f64, f64); 4] = [(0.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, 80.0)];
/// Width of the bins of the error-against-distance curves, metres.
pub const CURVE_STEP: f64 = 5.0;
const CURVE_BINS: usize = 16;

/// Classes whose pixels are evaluated on their own.
pub const CLASSES: [ObjectType; 2] = [ObjectType::Car, ObjectType::Pedestrian];

/// Sums from which every metric follows; adding two gives the metrics of their union.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Ground-truth pixels.
    pub gt_pixels: usize,
    /// Of those, with a prediction.
    pub pixels: usize,
    /// Σ |Δd|.
    pub abs_disp: f64,
    /// Pixels with |Δd| > 3 px and > 5 % of the true disparity.
    pub d1_bad: usize,
    /// Pixels with ground-truth depth in [`DEPTH_RANGE`] and a prediction.
    pub depth_pixels: usize,
    /// Σ |Δz|.
    pub abs_depth: f64,
    /// Σ Δz².
    pub sq_depth: f64,
    /// Σ |Δz| / z.
    pub abs_rel: f64,
    /// Σ Δz² / z.
    pub sq_rel: f64,
    /// Pixels with max(z/ẑ, ẑ/z) below 1.25, 1.25², 1.25³.
    pub delta: [usize; 3],
}

impl Sums {
    /// Adds another set of sums.
    pub fn add(&mut self, o: &Sums) {
        self.gt_pixels += o.gt_pixels;
        self.pixels += o.pixels;
        self.abs_disp += o.abs_disp;
        self.d1_bad += o.d1_bad;
        self.depth_pixels += o.depth_pixels;
        self.abs_depth += o.abs_depth;
        self.sq_depth += o.sq_depth;
        self.abs_rel += o.abs_rel;
        self.sq_rel += o.sq_rel;
        for i in 0..3 {
            self.delta[i] += o.delta[i];
        }
    }

    fn push(&mut self, gt: f64, pred: Option<f64>, fb: f64) {
        self.gt_pixels += 1;
        let Some(pred) = pred else { return };
        self.pixels += 1;
        let err = (pred - gt).abs();
        self.abs_disp += err;
        self.d1_bad += (err > 3.0 && err > 0.05 * gt) as usize;
        let z = fb / gt;
        if z >= DEPTH_RANGE.0 && z <= DEPTH_RANGE.1 {
            // Predicted depth clipped to the evaluated range, as depth benchmarks do.
            let zp = (fb / pred).clamp(DEPTH_RANGE.0, DEPTH_RANGE.1);
            let dz = zp - z;
            self.depth_pixels += 1;
            self.abs_depth += dz.abs();
            self.sq_depth += dz * dz;
            self.abs_rel += dz.abs() / z;
            self.sq_rel += dz * dz / z;
            let ratio = (z / zp).max(zp / z);
            for (i, t) in [1.25, 1.25f64.powi(2), 1.25f64.powi(3)].iter().enumerate() {
                self.delta[i] += (ratio < *t) as usize;
            }
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> Metrics {
        let n = self.pixels.max(1) as f64;
        let nz = self.depth_pixels.max(1) as f64;
        Metrics {
            pixels: self.pixels,
            density: self.pixels as f64 / self.gt_pixels.max(1) as f64,
            epe: self.abs_disp / n,
            d1: self.d1_bad as f64 / n,
            depth_pixels: self.depth_pixels,
            mae: self.abs_depth / nz,
            rmse: (self.sq_depth / nz).sqrt(),
            abs_rel: self.abs_rel / nz,
            sq_rel: self.sq_rel / nz,
            delta1: self.delta[0] as f64 / nz,
            delta2: self.delta[1] as f64 / nz,
            delta3: self.delta[2] as f64 / nz,
        }
    }
}

/// Disparity and depth metrics of a set of pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Pixels with ground truth and a prediction.
    pub pixels: usize,
    /// Share of ground-truth pixels that have a prediction.
    pub density: f64,
    /// End-point error, mean |Δd| in pixels.
    pub epe: f64,
    /// Share of pixels with |Δd| > 3 px and > 5 % (KITTI's D1).
    pub d1: f64,
    /// Pixels in the depth range.
    pub depth_pixels: usize,
    /// Mean absolute depth error, metres.
    pub mae: f64,
    /// Root mean square depth error, metres.
    pub rmse: f64,
    /// Mean |Δz| / z.
    pub abs_rel: f64,
    /// Mean Δz² / z.
    pub sq_rel: f64,
    /// Share with max(z/ẑ, ẑ/z) < 1.25.
    pub delta1: f64,
    /// … < 1.25².
    pub delta2: f64,
    /// … < 1.25³.
    pub delta3: f64,
}

/// Per-frame (or summed) sums: all pixels, the distance bins, each class, and each class's
/// error-against-distance curve (index 0 of `curves` is all pixels, then [`CLASSES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// Every ground-truth pixel.
    pub all: Sums,
    /// By [`BINS`] of ground-truth depth.
    pub bins: [Sums; 4],
    /// By [`CLASSES`].
    pub classes: [Sums; 2],
    /// The background around each of [`CLASSES`] ([`crate::outline`]; filled where the
    /// frames' instance masks are known).
    pub outlines: [Sums; 2],
    /// [all, car, pedestrian] × 5 m depth bins.
    pub curves: [[Sums; CURVE_BINS]; 3],
    /// Per-object errors by class and the object's distance bin (filled where the objects of
    /// the frames are known: [`crate::objects::frame_objects`]).
    pub objects: ObjectBins,
}

impl Default for Breakdown {
    fn default() -> Self {
        Breakdown {
            all: Sums::default(),
            bins: [Sums::default(); 4],
            classes: [Sums::default(); 2],
            outlines: [Sums::default(); 2],
            curves: [[Sums::default(); CURVE_BINS]; 3],
            objects: ObjectBins::default(),
        }
    }
}

impl Breakdown {
    /// The sum of breakdowns (e.g. of every frame of a set).
    pub fn total(parts: &[Breakdown]) -> Breakdown {
        let mut t = Breakdown::default();
        parts.iter().for_each(|b| t.add(b));
        t
    }

    /// Adds another breakdown.
    pub fn add(&mut self, o: &Breakdown) {
        self.all.add(&o.all);
        for i in 0..4 {
            self.bins[i].add(&o.bins[i]);
        }
        for i in 0..2 {
            self.classes[i].add(&o.classes[i]);
            self.outlines[i].add(&o.outlines[i]);
        }
        for c in 0..3 {
            for b in 0..CURVE_BINS {
                self.curves[c][b].add(&o.curves[c][b]);
            }
        }
        for (mine, theirs) in self
            .objects
            .iter_mut()
            .flatten()
            .zip(o.objects.iter().flatten())
        {
            mine.add(theirs);
        }
    }

    /// Rows of the report: (name, metrics); a class's outline row ("Car outline") only where
    /// outlines were evaluated.
    pub fn rows(&self) -> Vec<(String, Metrics)> {
        let mut rows = vec![("all".to_string(), self.all.metrics())];
        for (i, (lo, hi)) in BINS.iter().enumerate() {
            rows.push((format!("{lo:.0}-{hi:.0} m"), self.bins[i].metrics()));
        }
        for (i, c) in CLASSES.iter().enumerate() {
            rows.push((c.as_str().to_string(), self.classes[i].metrics()));
        }
        for (i, c) in CLASSES.iter().enumerate() {
            if self.outlines[i].gt_pixels > 0 {
                rows.push((
                    format!("{} outline", c.as_str()),
                    self.outlines[i].metrics(),
                ));
            }
        }
        rows
    }
}

/// Per-pixel class of the left image: index into [`CLASSES`] + 1, or 0 (from an
/// [`crate::objects::ObjectMap`]).
pub type ClassMap = Vec<u8>;

/// Errors of one frame's prediction. `fb` = f_u · B turns disparity into depth; `classes`
/// optionally tells each pixel's class, `outlines` each pixel's outline class
/// ([`crate::outline::outline_map`]). Pixels without ground truth are skipped; a prediction of
/// 0 (or less, or non-finite) counts as missing (lowering the density).
pub fn frame_breakdown(
    pred: &DisparityMap,
    gt: &DisparityMap,
    fb: f64,
    classes: Option<&ClassMap>,
    outlines: Option<&ClassMap>,
) -> Breakdown {
    let mut b = Breakdown::default();
    for (i, (&g, &p)) in gt.data.iter().zip(&pred.data).enumerate() {
        if !(g > 0.0 && g.is_finite()) {
            continue;
        }
        let (g, p) = (g as f64, p as f64);
        let pred = (p > 0.0 && p.is_finite()).then_some(p);
        let z = fb / g;
        b.all.push(g, pred, fb);
        if let Some(k) = BINS.iter().position(|(lo, hi)| z > *lo && z <= *hi) {
            b.bins[k].push(g, pred, fb);
        }
        let bin = ((z / CURVE_STEP) as usize).min(CURVE_BINS - 1);
        b.curves[0][bin].push(g, pred, fb);
        if let Some(c) = classes.map(|m| m[i]).filter(|c| *c > 0) {
            b.classes[c as usize - 1].push(g, pred, fb);
            b.curves[c as usize][bin].push(g, pred, fb);
        }
        if let Some(c) = outlines.map(|m| m[i]).filter(|c| *c > 0) {
            b.outlines[c as usize - 1].push(g, pred, fb);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // f·B = 400: disparity 20 is 20 m, 40 is 10 m, 4 is 100 m (outside the depth range).
        let gt = DisparityMap {
            width: 4,
            height: 1,
            data: vec![20.0, 40.0, 4.0, 0.0],
        };
        let pred = DisparityMap {
            width: 4,
            height: 1,
            data: vec![16.0, 40.5, 4.0, 7.0],
        };
        let b = frame_breakdown(&pred, &gt, 400.0, None, None);
        let m = b.all.metrics();
        assert_eq!((m.pixels, m.density), (3, 1.0));
        assert!((m.epe - 4.5 / 3.0).abs() < 1e-12);
        // |Δd| = 4 > 3 and > 5% of 20: one bad pixel of three.
        assert!((m.d1 - 1.0 / 3.0).abs() < 1e-12);
        // Depths: 20 → 25 (|Δz| 5), 10 → 400/40.5 (|Δz| 0.1235); the 100 m pixel is out of range.
        let dz2 = 10.0 - 400.0 / 40.5;
        assert_eq!(m.depth_pixels, 2);
        assert!((m.mae - (5.0 + dz2) / 2.0).abs() < 1e-12);
        assert!((m.rmse - ((25.0 + dz2 * dz2) / 2.0f64).sqrt()).abs() < 1e-12);
        assert!((m.abs_rel - (5.0 / 20.0 + dz2 / 10.0) / 2.0).abs() < 1e-12);
        // 25/20 = 1.25 is not < 1.25: only the second pixel passes δ1; both pass δ2.
        assert_eq!((m.delta1, m.delta2), (0.5, 1.0));
        assert_eq!(b.bins[1].metrics().pixels, 1); // the 20 m pixel is in (10, 20]
        assert_eq!(b.bins[0].metrics().pixels, 1); // the 10 m pixel is in (0, 10]
    }

    #[test]
    fn missing_predictions_lower_the_density_only() {
        let gt = DisparityMap {
            width: 2,
            height: 1,
            data: vec![20.0, 20.0],
        };
        let pred = DisparityMap {
            width: 2,
            height: 1,
            data: vec![20.0, 0.0],
        };
        let m = frame_breakdown(&pred, &gt, 400.0, None, None).all.metrics();
        assert_eq!((m.pixels, m.density, m.epe), (1, 0.5, 0.0));
    }
}
