//! Semi-global matching (Hirschmüller 2008) with a census cost: a disparity model that needs no
//! training. Census 7 × 7, four aggregation paths (left→right, right→left, top→bottom,
//! bottom→top), winner-takes-all with parabolic sub-pixel refinement, a left–right consistency
//! check and a 3 × 3 median filter. Rows (and, for the vertical paths, columns) run in parallel.

use kitti::DisparityMap;
use rayon::prelude::*;

/// Settings of semi-global matching.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgmConfig {
    /// Disparities searched: 0..max_disparity (pixels).
    pub max_disparity: usize,
    /// Penalty for a disparity change of one pixel between neighbours.
    pub p1: u16,
    /// Penalty for larger changes.
    pub p2: u16,
    /// Largest left–right disagreement kept, pixels.
    pub lr_tolerance: f32,
    /// The best cost must beat the second best (outside ±1) by this share, 0 to disable.
    pub uniqueness: f32,
}

/// The largest disparity range semi-global matching searches, pixels.
pub const MAX_SGM_DISPARITY: usize = 512;

/// Checks a disparity range for semi-global matching: 1..=[`MAX_SGM_DISPARITY`] pixels.
pub fn check_max_disparity(max_disparity: usize) -> Result<(), String> {
    if (1..=MAX_SGM_DISPARITY).contains(&max_disparity) {
        Ok(())
    } else {
        Err(format!(
            "must be in 1..={MAX_SGM_DISPARITY} pixels, got {max_disparity}"
        ))
    }
}

impl Default for SgmConfig {
    fn default() -> Self {
        SgmConfig {
            max_disparity: 192,
            p1: 10,
            p2: 120,
            lr_tolerance: 1.0,
            uniqueness: 0.05,
        }
    }
}

/// A grayscale image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Intensities 0..255.
    pub data: Vec<u8>,
}

impl Gray {
    /// Luma of an RGB8 buffer (ITU-R BT.601 weights).
    pub fn from_rgb(width: usize, height: usize, rgb: &[u8]) -> Gray {
        let data = rgb
            .chunks_exact(3)
            .map(|p| {
                ((299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32 + 500) / 1000) as u8
            })
            .collect();
        Gray {
            width,
            height,
            data,
        }
    }
}

const CENSUS_R: isize = 3;

/// Census transform: for each pixel, one bit per neighbour in a 7 × 7 window, set when the
/// neighbour is darker than the centre (borders are clamped).
pub fn census(img: &Gray) -> Vec<u64> {
    let (w, h) = (img.width as isize, img.height as isize);
    (0..h)
        .into_par_iter()
        .flat_map_iter(|v| {
            (0..w).map(move |u| {
                let c = img.data[(v * w + u) as usize];
                let mut bits = 0u64;
                for dv in -CENSUS_R..=CENSUS_R {
                    for du in -CENSUS_R..=CENSUS_R {
                        if du == 0 && dv == 0 {
                            continue;
                        }
                        let (x, y) = ((u + du).clamp(0, w - 1), (v + dv).clamp(0, h - 1));
                        bits = (bits << 1) | (img.data[(y * w + x) as usize] < c) as u64;
                    }
                }
                bits
            })
        })
        .collect()
}

/// Matching cost volume `[v][u][d]`: Hamming distance of census codes; disparities that would
/// look outside the right image take the cost of the last valid one.
fn cost_volume(left: &[u64], right: &[u64], w: usize, h: usize, dmax: usize) -> Vec<u8> {
    let mut cost = vec![0u8; w * h * dmax];
    cost.par_chunks_mut(w * dmax)
        .enumerate()
        .for_each(|(v, row)| {
            for u in 0..w {
                let l = left[v * w + u];
                let cell = &mut row[u * dmax..(u + 1) * dmax];
                for (d, c) in cell.iter_mut().enumerate() {
                    let ur = u.saturating_sub(d);
                    *c = (l ^ right[v * w + ur]).count_ones() as u8;
                }
            }
        });
    cost
}

/// One step of the SGM recursion: `out[d] = cost[d] + min(prev[d], prev[d±1] + p1, min(prev) + p2) − min(prev)`.
fn step(cost: &[u8], prev: &[u16], out: &mut [u16], p1: u16, p2: u16) {
    let n = cost.len();
    let min_prev = prev.iter().copied().min().unwrap_or(0);
    let jump = min_prev.saturating_add(p2);
    for d in 0..n {
        let mut best = prev[d].min(jump);
        if d > 0 {
            best = best.min(prev[d - 1].saturating_add(p1));
        }
        if d + 1 < n {
            best = best.min(prev[d + 1].saturating_add(p1));
        }
        out[d] = cost[d] as u16 + best - min_prev;
    }
}

/// Sum of the four path costs `[v][u][d]`.
fn aggregate(cost: &[u8], w: usize, h: usize, dmax: usize, cfg: &SgmConfig) -> Vec<u16> {
    let mut sum = vec![0u16; w * h * dmax];
    // Horizontal paths: rows are independent.
    sum.par_chunks_mut(w * dmax)
        .enumerate()
        .for_each(|(v, srow)| {
            let crow = &cost[v * w * dmax..(v + 1) * w * dmax];
            let mut prev = vec![0u16; dmax];
            let mut cur = vec![0u16; dmax];
            for order in [false, true] {
                prev.fill(0);
                for i in 0..w {
                    let u = if order { w - 1 - i } else { i };
                    let c = &crow[u * dmax..(u + 1) * dmax];
                    if i == 0 {
                        cur.iter_mut().zip(c).for_each(|(o, &x)| *o = x as u16);
                    } else {
                        step(c, &prev, &mut cur, cfg.p1, cfg.p2);
                    }
                    srow[u * dmax..(u + 1) * dmax]
                        .iter_mut()
                        .zip(&cur)
                        .for_each(|(s, &x)| *s = s.saturating_add(x));
                    std::mem::swap(&mut prev, &mut cur);
                }
            }
        });
    // Vertical paths: row by row, columns in parallel, each column keeping its own state.
    for downward in [true, false] {
        let mut prev = vec![0u16; w * dmax];
        for i in 0..h {
            let v = if downward { i } else { h - 1 - i };
            let crow = &cost[v * w * dmax..(v + 1) * w * dmax];
            let srow = &mut sum[v * w * dmax..(v + 1) * w * dmax];
            prev.par_chunks_mut(dmax)
                .zip(srow.par_chunks_mut(dmax))
                .zip(crow.par_chunks(dmax))
                .for_each(|((p, s), c)| {
                    let mut out = [0u16; 512];
                    let out = &mut out[..dmax];
                    if i == 0 {
                        out.iter_mut().zip(c).for_each(|(o, &x)| *o = x as u16);
                    } else {
                        step(c, p, out, cfg.p1, cfg.p2);
                    }
                    p.copy_from_slice(out);
                    s.iter_mut()
                        .zip(out.iter())
                        .for_each(|(s, &x)| *s = s.saturating_add(x));
                });
        }
    }
    sum
}

/// Winner-takes-all with parabolic sub-pixel refinement; `None` when the minimum is not unique
/// enough.
fn best_disparity(costs: &[u16], uniqueness: f32) -> Option<f32> {
    let (d, &best) = costs.iter().enumerate().min_by_key(|(_, c)| **c)?;
    if uniqueness > 0.0 {
        let second = costs
            .iter()
            .enumerate()
            .filter(|(e, _)| e.abs_diff(d) > 1)
            .map(|(_, c)| *c)
            .min()
            .unwrap_or(u16::MAX);
        if (second as f32) * (1.0 - uniqueness) < best as f32 {
            return None;
        }
    }
    if d == 0 || d + 1 == costs.len() {
        return Some(d as f32);
    }
    let (a, b, c) = (costs[d - 1] as f32, best as f32, costs[d + 1] as f32);
    let denom = a - 2.0 * b + c;
    let offset = if denom > 0.0 {
        (a - c) / (2.0 * denom)
    } else {
        0.0
    };
    Some(d as f32 + offset.clamp(-0.5, 0.5))
}

/// Disparity of the left image of a rectified pair (0 = invalid: failed the left–right check or
/// the uniqueness test, or would look outside the right image).
pub fn sgm(left: &Gray, right: &Gray, cfg: &SgmConfig) -> DisparityMap {
    let (w, h) = (left.width, left.height);
    let dmax = cfg.max_disparity.clamp(1, 512).min(w.max(1));
    let cost = cost_volume(&census(left), &census(right), w, h, dmax);
    let sum = aggregate(&cost, w, h, dmax, cfg);
    drop(cost);
    let rows: Vec<Vec<f32>> = (0..h)
        .into_par_iter()
        .map(|v| {
            let srow = &sum[v * w * dmax..(v + 1) * w * dmax];
            let left_d: Vec<Option<f32>> = (0..w)
                .map(|u| best_disparity(&srow[u * dmax..(u + 1) * dmax], cfg.uniqueness))
                .collect();
            // Right-image disparities from the same costs: pixel ur matches left pixel ur + d.
            let right_d: Vec<f32> = (0..w)
                .map(|ur| {
                    (0..dmax.min(w - ur))
                        .min_by_key(|&d| srow[(ur + d) * dmax + d])
                        .map_or(f32::NAN, |d| d as f32)
                })
                .collect();
            (0..w)
                .map(|u| match left_d[u] {
                    Some(d) if d >= 0.5 && (u as f32) >= d => {
                        let ur = (u as f32 - d).round() as usize;
                        if (right_d[ur.min(w - 1)] - d).abs() <= cfg.lr_tolerance {
                            d
                        } else {
                            0.0
                        }
                    }
                    _ => 0.0,
                })
                .collect()
        })
        .collect();
    let raw: Vec<f32> = rows.into_iter().flatten().collect();
    DisparityMap {
        width: w as u32,
        height: h as u32,
        data: median3(&raw, w, h),
    }
}

/// 3 × 3 median over valid (non-zero) neighbours; invalid pixels stay invalid.
fn median3(d: &[f32], w: usize, h: usize) -> Vec<f32> {
    (0..h)
        .into_par_iter()
        .flat_map_iter(|v| {
            (0..w).map(move |u| {
                let c = d[v * w + u];
                if c <= 0.0 {
                    return 0.0;
                }
                let mut n = [0f32; 9];
                let mut k = 0;
                for y in v.saturating_sub(1)..=(v + 1).min(h - 1) {
                    for x in u.saturating_sub(1)..=(u + 1).min(w - 1) {
                        let e = d[y * w + x];
                        if e > 0.0 {
                            n[k] = e;
                            k += 1;
                        }
                    }
                }
                let s = &mut n[..k];
                s.sort_by(f32::total_cmp);
                s[k / 2]
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random-dot stereo pair: the right image is the left shifted by `shift` pixels.
    fn random_dots(w: usize, h: usize, shift: usize) -> (Gray, Gray) {
        let mut s = 12345u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        };
        let world: Vec<u8> = (0..(w + shift) * h).map(|_| next()).collect();
        let pick = |off: usize| Gray {
            width: w,
            height: h,
            data: (0..h)
                .flat_map(|v| (0..w).map(move |u| (v, u)))
                .map(|(v, u)| world[v * (w + shift) + u + off])
                .collect(),
        };
        // Left pixel u sees world column u; right pixel u − shift sees world column u too.
        (pick(0), pick(shift))
    }

    #[test]
    fn a_constant_shift_is_recovered_exactly() {
        let (l, r) = random_dots(120, 60, 7);
        let d = sgm(
            &l,
            &r,
            &SgmConfig {
                max_disparity: 32,
                ..Default::default()
            },
        );
        // Columns left of the shift (plus the census radius) have no match in the right image.
        let seen: Vec<f32> = (0..60)
            .flat_map(|v| (10..120).map(move |u| (u, v)))
            .map(|(u, v)| d.get(u, v))
            .collect();
        let valid: Vec<f32> = seen.iter().copied().filter(|&x| x > 0.0).collect();
        assert!(
            valid.len() > seen.len() * 9 / 10,
            "{} of {} valid",
            valid.len(),
            seen.len()
        );
        assert!(
            valid.iter().all(|&x| (x - 7.0).abs() < 0.5),
            "{:?}",
            valid.iter().find(|&&x| (x - 7.0).abs() >= 0.5)
        );
    }

    #[test]
    fn census_bits_by_hand() {
        // A bright centre among dark neighbours sets all 48 bits.
        let mut data = vec![10u8; 49];
        data[24] = 200;
        let c = census(&Gray {
            width: 7,
            height: 7,
            data,
        });
        assert_eq!(c[24].count_ones(), 48);
        assert_eq!(c[0].count_ones(), 0);
    }
}
