//! Dropping depth edges ("flying pixels") before conversion. A dense stereo network draws the
//! step from an object to its background as a ramp a few pixels wide, and every pixel of that
//! ramp becomes a point strung out between the two: a halo of points behind and in front of
//! each object that no LiDAR sees. Semi-global matching's left-right check already leaves most
//! of those pixels out; this filter does the same for any map, by one rule: a pixel is dropped
//! when the valid values of the window around it span more than a given share.
//!
//! The rule reads the same on disparity and on depth maps: depth is f·B / disparity, so the
//! ratio of a window's largest to its smallest value is the same in both. It is not part of the
//! paper's pipeline (Wang et al.'s `project_disp_to_points` keeps every pixel), so nothing
//! applies it unless a setting names it.

use kitti::DisparityMap;

/// The largest window half-size accepted, pixels.
pub const MAX_RADIUS: u32 = 16;

/// Which pixels count as a depth edge.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeFilter {
    /// Half-size of the square window around each pixel: it spans (2·radius + 1)² pixels.
    pub radius: u32,
    /// A valid pixel is dropped when its window's largest valid value exceeds the smallest by
    /// more than this share: max > (1 + ratio) · min.
    pub ratio: f64,
}

impl EdgeFilter {
    /// What is wrong with these settings, if anything (a message naming the field, the value
    /// and what is allowed).
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(1..=MAX_RADIUS).contains(&self.radius) {
            return Err(format!(
                "radius = {}: the window's half-size must be 1 to {MAX_RADIUS} pixels",
                self.radius
            ));
        }
        if !(self.ratio.is_finite() && self.ratio > 0.0) {
            return Err(format!(
                "ratio = {}: the largest-to-smallest share must be a number above 0 (e.g. 0.15)",
                self.ratio
            ));
        }
        Ok(())
    }

    /// The map with its depth-edge pixels set to 0 (invalid). Invalid pixels (zero, negative or
    /// not finite) stay invalid and do not count in any window.
    pub fn apply(&self, map: &DisparityMap) -> DisparityMap {
        let (w, h) = (map.width as usize, map.height as usize);
        let r = self.radius as usize;
        let valid = |v: f32| v.is_finite() && v > 0.0;
        // Invalid pixels as neutral values: +∞ for the smallest, 0 for the largest.
        let lows: Vec<f32> = map
            .data
            .iter()
            .map(|&v| if valid(v) { v } else { f32::INFINITY })
            .collect();
        let highs: Vec<f32> = map
            .data
            .iter()
            .map(|&v| if valid(v) { v } else { 0.0 })
            .collect();
        // Separable window: the extremes along each row's window (shifted slices, one offset at
        // a time), then along each column's (whole rows at a time).
        let mut row_min = lows.clone();
        let mut row_max = highs.clone();
        for y in 0..h {
            let span = y * w..(y + 1) * w;
            let (lo_row, hi_row) = (&lows[span.clone()], &highs[span.clone()]);
            let (mins, maxs) = (&mut row_min[span.clone()], &mut row_max[span]);
            for d in 1..=r.min(w.saturating_sub(1)) {
                for x in 0..w - d {
                    // Pixel x sees x + d, and pixel x + d sees x.
                    mins[x] = mins[x].min(lo_row[x + d]);
                    maxs[x] = maxs[x].max(hi_row[x + d]);
                    mins[x + d] = mins[x + d].min(lo_row[x]);
                    maxs[x + d] = maxs[x + d].max(hi_row[x]);
                }
            }
        }
        let limit = 1.0 + self.ratio;
        let mut out = map.clone();
        let (mut min, mut max) = (vec![0.0f32; w], vec![0.0f32; w]);
        for y in 0..h {
            min.fill(f32::INFINITY);
            max.fill(0.0);
            for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                let span = yy * w..(yy + 1) * w;
                for ((m, n), (&a, &b)) in min
                    .iter_mut()
                    .zip(max.iter_mut())
                    .zip(row_min[span.clone()].iter().zip(&row_max[span]))
                {
                    *m = m.min(a);
                    *n = n.max(b);
                }
            }
            for (x, v) in out.data[y * w..(y + 1) * w].iter_mut().enumerate() {
                if valid(*v) && max[x] as f64 > limit * min[x] as f64 {
                    *v = 0.0;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(radius: u32, ratio: f64) -> EdgeFilter {
        EdgeFilter { radius, ratio }
    }

    fn map_of(w: u32, h: u32, f: impl Fn(u32, u32) -> f32) -> DisparityMap {
        let mut m = DisparityMap::new(w, h);
        for y in 0..h {
            for x in 0..w {
                m.set(x, y, f(x, y));
            }
        }
        m
    }

    #[test]
    fn a_step_loses_the_pixels_within_the_radius_of_it() {
        // An object at disparity 20 (left half) in front of a background at 10.
        let m = map_of(40, 9, |x, _| if x < 20 { 20.0 } else { 10.0 });
        let out = filter(2, 0.15).apply(&m);
        for y in 0..9 {
            for x in 0..40 {
                // Windows of columns 18..=21 reach across the step.
                let dropped = (18..=21).contains(&x);
                assert_eq!(out.get(x, y) == 0.0, dropped, "({x}, {y})");
                if !dropped {
                    assert_eq!(out.get(x, y), m.get(x, y));
                }
            }
        }
    }

    #[test]
    fn a_smooth_ramp_and_a_small_step_are_kept() {
        // The ground seen down the rows: 2 % more disparity per row, 8.2 % over a 5-row window.
        let ramp = map_of(12, 30, |_, y| 5.0 * 1.02f32.powi(y as i32));
        assert_eq!(filter(2, 0.15).apply(&ramp), ramp);
        // A 10 % step is no edge at a 15 % share, one at 5 %.
        let step = map_of(12, 5, |x, _| if x < 6 { 11.0 } else { 10.0 });
        assert_eq!(filter(2, 0.15).apply(&step), step);
        assert_ne!(filter(2, 0.05).apply(&step), step);
    }

    #[test]
    fn invalid_pixels_stay_invalid_and_do_not_count() {
        // Holes (0, NaN, negative) next to valid pixels of one depth: nothing is dropped.
        let m = map_of(10, 10, |x, y| match (x + y) % 4 {
            0 => 0.0,
            1 => f32::NAN,
            2 => -3.0,
            _ => 12.0,
        });
        let out = filter(3, 0.1).apply(&m);
        for (a, b) in out.data.iter().zip(&m.data) {
            if b.is_finite() && *b > 0.0 {
                assert_eq!(a, b);
            } else {
                assert!(!(a.is_finite() && *a > 0.0), "{a} from {b}");
            }
        }
    }

    #[test]
    fn agrees_with_a_window_by_window_count() {
        // Pseudo-random blocks of depth with holes; the rule applied directly, window by window.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let blocks: Vec<f32> = (0..64)
            .map(|_| match next() % 5 {
                0 => 0.0,
                k => 4.0 + k as f32 * 3.0 + (next() % 100) as f32 / 200.0,
            })
            .collect();
        let (w, h) = (37u32, 23u32);
        let m = map_of(w, h, |x, y| {
            blocks[((y / 3) * 8 + (x / 5) % 8) as usize % 64]
        });
        for f in [filter(1, 0.1), filter(2, 0.3), filter(4, 0.05)] {
            let out = f.apply(&m);
            let r = f.radius as i64;
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let v = m.get(x as u32, y as u32);
                    let mut vals = vec![];
                    for yy in (y - r).max(0)..=(y + r).min(h as i64 - 1) {
                        for xx in (x - r).max(0)..=(x + r).min(w as i64 - 1) {
                            let n = m.get(xx as u32, yy as u32);
                            if n > 0.0 {
                                vals.push(n as f64);
                            }
                        }
                    }
                    let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
                    let hi = vals.iter().cloned().fold(0.0, f64::max);
                    let want = if v > 0.0 && hi > (1.0 + f.ratio) * lo {
                        0.0
                    } else {
                        v
                    };
                    assert_eq!(out.get(x as u32, y as u32), want, "{f:?} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn bad_settings_are_named() {
        for (f, what) in [
            (filter(0, 0.1), "radius = 0"),
            (filter(17, 0.1), "radius = 17"),
            (filter(2, 0.0), "ratio = 0"),
            (filter(2, -1.0), "ratio = -1"),
            (filter(2, f64::NAN), "ratio = NaN"),
            (filter(2, f64::INFINITY), "ratio = inf"),
        ] {
            let e = f.check().unwrap_err();
            assert!(e.contains(what), "{e}");
        }
        assert!(filter(2, 0.15).check().is_ok());
    }
}
