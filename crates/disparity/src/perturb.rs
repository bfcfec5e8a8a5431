//! Upstream errors made to order: the exact disparity of a synthetic frame with a chosen, seeded
//! error model, so that a study can vary the *kind* of upstream error while holding its size
//! fixed (no training, seconds on a CPU).
//!
//! The map is changed in two steps. First *edge bleeding*: every valid pixel becomes the mean of
//! the valid pixels in the (2k+1)² window around it (clipped symmetrically at the image border).
//! On a plane disparity is an affine function of the pixel, which a symmetric mean leaves
//! unchanged, so only depth edges move: the foreground disparity spills over the border and a
//! ramp joins it to the background, the "long tails" of pseudo-LiDAR. Then *noise*: a
//! unit-variance field n, white or correlated by a box of radius r, scaled by the spread σ,
//! either in disparity (d̂ = d + σ·n, in pixels: far objects suffer, as a disparity loss leaves
//! them) or in depth (ẑ = z·exp(σ·n): ln(ẑ/z) has deviation σ, near and far alike, as a depth
//! loss leaves them). Results are quantised to KITTI's 1/256 px and never invalid: a disparity
//! pushed to or below zero becomes 1/256 px (a point at "infinity", clipped by every consumer).

use crate::metrics::frame_breakdown;
use kitti::rng::Rng;
use kitti::DisparityMap;
use rayon::prelude::*;

/// The smallest positive disparity a KITTI PNG can hold, px.
pub const MIN_DISPARITY: f32 = 1.0 / 256.0;

/// Where the noise lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseSpace {
    /// d̂ = d + σ·n, σ in pixels: a constant spread in disparity; depth error grows as z².
    Disparity,
    /// ẑ = z·exp(σ·n): a constant relative spread in depth.
    Depth,
}

/// One error model: noise of spread σ in a space, correlated over `blur` px, after `bleed` px of
/// edge bleeding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Perturbation {
    /// Where the noise lives.
    pub noise: NoiseSpace,
    /// σ: pixels (disparity noise) or the deviation of ln(ẑ/z) (depth noise).
    pub spread: f64,
    /// Radius of the box that correlates the noise, px (0: independent pixels).
    pub blur: usize,
    /// Radius of the edge-bleeding window, px (0: none).
    pub bleed: usize,
}

/// A field of `width × height` standard-normal values, each the normalised sum of the white noise
/// in the (2·blur+1)² box around it (drawn on a padded grid, so every value has unit variance and
/// neighbours closer than 2·blur+1 px are correlated). Deterministic in `seed`.
pub fn noise_field(width: usize, height: usize, blur: usize, seed: u64) -> Vec<f32> {
    let (pw, ph) = (width + 2 * blur, height + 2 * blur);
    let mut rng = Rng::new(seed);
    let white: Vec<f64> = (0..pw * ph).map(|_| rng.normal()).collect();
    if blur == 0 {
        return white.into_iter().map(|v| v as f32).collect();
    }
    let k = 2 * blur + 1;
    // Horizontal box sums on the padded rows, then vertical ones: the (2r+1)² box sum.
    let mut rows = vec![0.0f64; width * ph];
    for y in 0..ph {
        let line = &white[y * pw..(y + 1) * pw];
        let mut s: f64 = line[..k].iter().sum();
        rows[y * width] = s;
        for x in 1..width {
            s += line[x + k - 1] - line[x - 1];
            rows[y * width + x] = s;
        }
    }
    let norm = 1.0 / k as f64; // the box sum of k² unit variances has deviation k
    let mut out = vec![0.0f32; width * height];
    for x in 0..width {
        let mut s: f64 = (0..k).map(|y| rows[y * width + x]).sum();
        out[x] = (s * norm) as f32;
        for y in 1..height {
            s += rows[(y + k - 1) * width + x] - rows[(y - 1) * width + x];
            out[y * width + x] = (s * norm) as f32;
        }
    }
    out
}

/// Sums of `values` (where `valid`) over a window of radius `r` along one axis, clipped
/// symmetrically at the ends: index i sums i−ρ..=i+ρ with ρ = min(r, i, n−1−i).
fn symmetric_sums(values: &[f64], r: usize) -> Vec<f64> {
    let n = values.len();
    let mut prefix = vec![0.0f64; n + 1];
    for (i, v) in values.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v;
    }
    (0..n)
        .map(|i| {
            let rho = r.min(i).min(n - 1 - i);
            prefix[i + rho + 1] - prefix[i - rho]
        })
        .collect()
}

/// Edge bleeding: each valid pixel becomes the mean of the valid pixels in its (2r+1)² window
/// (clipped symmetrically at the border); invalid pixels stay invalid. Planes are unchanged.
pub fn bleed(map: &DisparityMap, r: usize) -> DisparityMap {
    if r == 0 {
        return map.clone();
    }
    let (w, h) = (map.width as usize, map.height as usize);
    let valid = |d: f32| d > 0.0 && d.is_finite();
    // Horizontal pass (sums of values and of counts per row), then vertical.
    let mut sum_h = vec![0.0f64; w * h];
    let mut count_h = vec![0.0f64; w * h];
    for y in 0..h {
        let row = &map.data[y * w..(y + 1) * w];
        let v: Vec<f64> = row
            .iter()
            .map(|&d| if valid(d) { d as f64 } else { 0.0 })
            .collect();
        let c: Vec<f64> = row.iter().map(|&d| valid(d) as u8 as f64).collect();
        sum_h[y * w..(y + 1) * w].copy_from_slice(&symmetric_sums(&v, r));
        count_h[y * w..(y + 1) * w].copy_from_slice(&symmetric_sums(&c, r));
    }
    let mut out = map.clone();
    for x in 0..w {
        let column = |a: &[f64]| (0..h).map(|y| a[y * w + x]).collect::<Vec<_>>();
        let s = symmetric_sums(&column(&sum_h), r);
        let c = symmetric_sums(&column(&count_h), r);
        for y in 0..h {
            if valid(map.data[y * w + x]) {
                out.data[y * w + x] = (s[y] / c[y]) as f32;
            }
        }
    }
    out
}

/// KITTI's 1/256 px quantisation, never below [`MIN_DISPARITY`] (what [`DisparityMap::write`]
/// stores, so a map read back equals the one computed).
fn quantise(d: f64) -> f32 {
    let q = (d * 256.0).round() / 256.0;
    if q.is_finite() && q > 0.0 {
        q.min(65535.0 / 256.0) as f32
    } else {
        MIN_DISPARITY
    }
}

/// Adds noise of spread `sigma` in `space` to the valid pixels of `bled` (already bled),
/// with the unit field `field`; invalid pixels stay invalid.
pub fn add_noise(
    bled: &DisparityMap,
    field: &[f32],
    space: NoiseSpace,
    sigma: f64,
) -> DisparityMap {
    let mut out = bled.clone();
    for (d, &n) in out.data.iter_mut().zip(field) {
        if !(*d > 0.0 && d.is_finite()) {
            continue;
        }
        let (d0, n) = (*d as f64, n as f64);
        *d = quantise(match space {
            NoiseSpace::Disparity => d0 + sigma * n,
            // ẑ = z·exp(σn) ⇔ d̂ = d·exp(−σn).
            NoiseSpace::Depth => d0 * (-sigma * n).exp(),
        });
    }
    out
}

/// The perturbed map of `exact` under `p`, noise drawn from `seed`.
pub fn perturb(exact: &DisparityMap, p: &Perturbation, seed: u64) -> DisparityMap {
    let field = noise_field(exact.width as usize, exact.height as usize, p.blur, seed);
    add_noise(&bleed(exact, p.bleed), &field, p.noise, p.spread)
}

/// One frame ready for perturbing many times: its exact map, the bled map, its noise field and
/// f_u·B (turning disparity into depth).
#[derive(Debug, Clone)]
pub struct PreparedFrame {
    /// The exact disparity.
    pub exact: DisparityMap,
    /// After edge bleeding.
    pub bled: DisparityMap,
    /// The unit noise field.
    pub field: Vec<f32>,
    /// f_u · baseline, px·m.
    pub fb: f64,
}

impl PreparedFrame {
    /// Prepares `exact` for the bleeding and blur of `p`, noise from `seed`.
    pub fn new(exact: DisparityMap, fb: f64, p: &Perturbation, seed: u64) -> Self {
        let field = noise_field(exact.width as usize, exact.height as usize, p.blur, seed);
        PreparedFrame {
            bled: bleed(&exact, p.bleed),
            exact,
            field,
            fb,
        }
    }

    /// The perturbed map at spread `sigma`.
    pub fn at(&self, space: NoiseSpace, sigma: f64) -> DisparityMap {
        add_noise(&self.bled, &self.field, space, sigma)
    }
}

/// Overall depth MAE of the frames perturbed at spread `sigma`, by the report's rule
/// ([`crate::metrics`]: every exact pixel in the depth range, predictions clipped to it).
pub fn depth_mae(frames: &[PreparedFrame], space: NoiseSpace, sigma: f64) -> f64 {
    let (abs, n) = frames
        .par_iter()
        .map(|f| {
            let b = frame_breakdown(&f.at(space, sigma), &f.exact, f.fb, None, None);
            (b.all.abs_depth, b.all.depth_pixels)
        })
        .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    abs / n.max(1) as f64
}

/// Why a target depth MAE cannot be met.
#[derive(Debug, Clone, PartialEq)]
pub enum CalibrationError {
    /// Edge bleeding alone (σ = 0) already errs more than the target.
    BelowBleeding {
        /// The MAE at σ = 0, m.
        floor: f64,
    },
    /// No spread reaches it (depths are clipped to the evaluated range).
    Unreachable {
        /// The largest MAE found, m.
        largest: f64,
    },
}

/// The spread σ at which the frames' depth MAE equals `target` (m), to within 0.1 %: bisection on
/// σ with the same noise fields throughout, so the MAE moves smoothly with σ.
pub fn calibrate_spread(
    frames: &[PreparedFrame],
    space: NoiseSpace,
    target: f64,
) -> Result<f64, CalibrationError> {
    let floor = depth_mae(frames, space, 0.0);
    if floor >= target {
        return Err(CalibrationError::BelowBleeding { floor });
    }
    let mut lo = 0.0;
    let mut hi = match space {
        NoiseSpace::Disparity => 0.25,
        NoiseSpace::Depth => 0.02,
    };
    let mut at_hi = depth_mae(frames, space, hi);
    let mut doublings = 0;
    while at_hi < target {
        doublings += 1;
        if doublings > 24 {
            return Err(CalibrationError::Unreachable { largest: at_hi });
        }
        lo = hi;
        hi *= 2.0;
        at_hi = depth_mae(frames, space, hi);
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        let m = depth_mae(frames, space, mid);
        if (m - target).abs() <= 1e-3 * target {
            return Ok(mid);
        }
        if m < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(width: u32, height: u32, f: impl Fn(u32, u32) -> f32) -> DisparityMap {
        let mut m = DisparityMap::new(width, height);
        for v in 0..height {
            for u in 0..width {
                m.set(u, v, f(u, v));
            }
        }
        m
    }

    fn deviation(values: impl Iterator<Item = f64>) -> (f64, f64) {
        let v: Vec<f64> = values.collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn noise_fields_have_unit_variance_and_the_correlation_of_their_box() {
        for blur in [0usize, 3] {
            let f = noise_field(300, 200, blur, 7);
            let (mean, sd) = deviation(f.iter().map(|&x| x as f64));
            assert!(
                mean.abs() < 0.05 && (sd - 1.0).abs() < 0.05,
                "{blur}: {mean} {sd}"
            );
            // Neighbours one pixel apart share 2r of the 2r+1 box columns: correlation 2r/(2r+1).
            let lag1 = f
                .chunks(300)
                .flat_map(|row| row.windows(2).map(|p| p[0] as f64 * p[1] as f64))
                .sum::<f64>()
                / (299.0 * 200.0);
            let expected = 2.0 * blur as f64 / (2.0 * blur as f64 + 1.0);
            assert!(
                (lag1 - expected).abs() < 0.05,
                "{blur}: {lag1} vs {expected}"
            );
        }
        assert_eq!(noise_field(20, 10, 2, 1), noise_field(20, 10, 2, 1));
        assert_ne!(noise_field(20, 10, 2, 1), noise_field(20, 10, 2, 2));
    }

    #[test]
    fn bleeding_keeps_planes_and_ramps_across_edges() {
        // A slanted plane (affine disparity) with a foreground box and a patch of sky.
        let plane = |u: u32, v: u32| 10.0 + 0.25 * u as f32 + 0.5 * v as f32;
        let m = map(40, 30, |u, v| {
            if (10..20).contains(&u) && (10..20).contains(&v) {
                60.0
            } else if v < 3 && u > 30 {
                0.0
            } else {
                plane(u, v)
            }
        });
        let b = bleed(&m, 2);
        // Far from the box and the sky, the plane is exact, borders included.
        for (u, v) in [(0, 29), (39, 29), (30, 25), (2, 5), (25, 3)] {
            assert!((b.get(u, v) - plane(u, v)).abs() < 1e-4, "({u}, {v})");
        }
        // Sky stays invalid; the box's inside is unchanged; just outside it, background pixels
        // take a share of the foreground (a ramp between the two).
        assert_eq!(b.get(35, 1), 0.0);
        assert_eq!(b.get(15, 15), 60.0);
        let outside = b.get(8, 15);
        assert!(outside > plane(8, 15) + 5.0 && outside < 60.0, "{outside}");
        assert!(b.get(9, 15) > outside, "the ramp rises towards the object");
    }

    #[test]
    fn the_noise_has_the_spread_it_claims() {
        let exact = map(311, 94, |u, v| 5.0 + 0.1 * u as f32 + 0.3 * v as f32);
        let fb = 194.0;
        let disp = Perturbation {
            noise: NoiseSpace::Disparity,
            spread: 0.8,
            blur: 0,
            bleed: 0,
        };
        let p = perturb(&exact, &disp, 3);
        let (mean, sd) = deviation(
            p.data
                .iter()
                .zip(&exact.data)
                .map(|(&a, &b)| (a - b) as f64),
        );
        assert!(mean.abs() < 0.02 && (sd - 0.8).abs() < 0.02, "{mean} {sd}");
        // Depth noise: ln(ẑ/z) has deviation σ near and far alike.
        let depth = Perturbation {
            noise: NoiseSpace::Depth,
            spread: 0.05,
            ..disp
        };
        let p = perturb(&exact, &depth, 3);
        let log_ratio = |near: bool| {
            deviation(
                p.data
                    .iter()
                    .zip(&exact.data)
                    .filter(|(_, &d)| (d > 25.0) == near)
                    .map(|(&a, &b)| ((fb / a as f64) / (fb / b as f64)).ln()),
            )
            .1
        };
        for near in [true, false] {
            let sd = log_ratio(near);
            assert!((sd - 0.05).abs() < 0.003, "near {near}: {sd}");
        }
        // Quantised like a KITTI PNG, never invalid.
        assert!(p
            .data
            .iter()
            .all(|d| *d > 0.0 && (d * 256.0).fract() == 0.0));
    }

    #[test]
    fn calibration_meets_the_target_for_both_spaces() {
        let frames: Vec<PreparedFrame> = (0..4)
            .map(|k| {
                let exact = map(160, 60, |u, v| {
                    3.0 + 0.05 * u as f32 + 0.4 * v as f32 + k as f32
                });
                (exact, k)
            })
            .map(|(e, k)| {
                PreparedFrame::new(
                    e,
                    194.0,
                    &Perturbation {
                        noise: NoiseSpace::Depth,
                        spread: 0.0,
                        blur: 1,
                        bleed: 0,
                    },
                    k,
                )
            })
            .collect();
        for space in [NoiseSpace::Disparity, NoiseSpace::Depth] {
            let sigma = calibrate_spread(&frames, space, 1.5).unwrap();
            let mae = depth_mae(&frames, space, sigma);
            assert!((mae - 1.5).abs() < 0.01, "{space:?}: σ {sigma} gives {mae}");
        }
        assert!(matches!(
            calibrate_spread(&frames, NoiseSpace::Depth, 0.0),
            Err(CalibrationError::BelowBleeding { .. })
        ));
        assert!(matches!(
            calibrate_spread(&frames, NoiseSpace::Disparity, 500.0),
            Err(CalibrationError::Unreachable { .. })
        ));
    }
}
