//! Outline pixels: the background just around each labelled car and pedestrian. A network
//! that smears an object's disparity over its surroundings ("foreground fattening") places
//! these pixels at the object's depth, which widens the object's points in the cloud a detector
//! fits its box to — an error the object's own pixels do not show. Only where an object's
//! pixels are known densely (synthetic instance masks), not from LiDAR samples.

use crate::metrics::{ClassMap, CLASSES};
use kitti::InstanceMask;

/// How far around an object its outline reaches, pixels (Chebyshev distance).
pub const OUTLINE_RADIUS: usize = 4;

/// Per pixel: for a pixel that shows no labelled object of any class (instance id 0) but lies
/// within `radius` pixels of a pixel of a class in [`CLASSES`], that class's index + 1 (the
/// first such class of [`CLASSES`] where two meet); 0 elsewhere. `classes` is the mask's
/// [`ClassMap`] ([`crate::objects::ObjectMap::class_map`]).
pub fn outline_map(mask: &InstanceMask, classes: &ClassMap, radius: usize) -> ClassMap {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let mut out = vec![0u8; w * h];
    for c in (1..=CLASSES.len() as u8).rev() {
        let near = dilate(
            &classes.iter().map(|&k| k == c).collect::<Vec<_>>(),
            w,
            h,
            radius,
        );
        for (i, o) in out.iter_mut().enumerate() {
            if near[i] && mask.data[i] == 0 {
                *o = c;
            }
        }
    }
    out
}

/// A square dilation of a row-major mask by `r` pixels: rows, then columns.
fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let along = |get: &dyn Fn(usize) -> bool, n: usize| -> Vec<bool> {
        // Running count of set pixels in the window [i − r, i + r].
        let prefix: Vec<usize> = std::iter::once(0)
            .chain((0..n).scan(0, |s, i| {
                *s += get(i) as usize;
                Some(*s)
            }))
            .collect();
        (0..n)
            .map(|i| prefix[(i + r + 1).min(n)] > prefix[i.saturating_sub(r)])
            .collect()
    };
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let line = along(&|x| mask[y * w + x], w);
        rows[y * w..(y + 1) * w].copy_from_slice(&line);
    }
    let mut out = vec![false; w * h];
    for x in 0..w {
        for (y, v) in along(&|y| rows[y * w + x], h).into_iter().enumerate() {
            out[y * w + x] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_is_the_background_within_the_radius() {
        // 9 × 3: a car (instance 1) at column 2, a van (instance 2, not a class) at column 5
        // and a pedestrian (instance 3) at column 8, all rows.
        let (w, h) = (9u32, 3u32);
        let ids = [0, 0, 1, 0, 0, 2, 0, 0, 3];
        let mask = InstanceMask {
            width: w,
            height: h,
            data: (0..h).flat_map(|_| ids).collect(),
        };
        let class_of = [0u8, 0, 1, 0, 0, 0, 0, 0, 2];
        let classes: ClassMap = (0..h).flat_map(|_| class_of).collect();
        let out = outline_map(&mask, &classes, 1);
        // Columns 1 and 3 border the car, 7 the pedestrian; the van's column is an object, so
        // never outline; column 0 is two pixels away.
        let want = [0u8, 1, 0, 1, 0, 0, 0, 2, 0];
        for y in 0..h as usize {
            assert_eq!(&out[y * 9..(y + 1) * 9], &want, "row {y}");
        }
        // With a radius of 4 the car's outline (columns 0-6) and the pedestrian's (4-8)
        // overlap at columns 4-6: the car, first of CLASSES, wins there (5 is the van's).
        let out = outline_map(&mask, &classes, 4);
        assert_eq!(&out[..9], &[1, 1, 0, 1, 1, 0, 1, 2, 0]);
    }

    #[test]
    fn dilation_reaches_the_corners_of_its_square() {
        let mut m = vec![false; 25];
        m[12] = true; // centre of 5 × 5
        let d = dilate(&m, 5, 5, 1);
        let set: Vec<usize> = (0..25).filter(|&i| d[i]).collect();
        assert_eq!(set, vec![6, 7, 8, 11, 12, 13, 16, 17, 18]);
    }
}
