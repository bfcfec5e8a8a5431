//! Pillarisation: points in range are grouped into vertical pillars on the x–y grid, each point
//! described by 10 features (x, y, z, r, offsets to its pillar's point mean, offsets to the
//! pillar's centre). Caps on points a pillar and pillars a frame drop data; what they drop is
//! counted so that dense pseudo-LiDAR hitting them is visible.

use crate::config::PillarConfig;
use kitti::velodyne::LidarPoint;
use std::collections::HashMap;

/// Features a point.
pub const POINT_FEATURES: usize = 10;

/// The pillars of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Pillars {
    /// `[pillars × max_points × 10]`, zero for padding slots.
    pub features: Vec<f32>,
    /// Grid cell of each pillar: (ix, iy).
    pub cells: Vec<(usize, usize)>,
    /// Points kept in each pillar.
    pub counts: Vec<usize>,
    /// Points inside the range.
    pub points_in_range: usize,
    /// Points dropped because their pillar was full.
    pub dropped_points: usize,
    /// Non-empty pillars dropped because the frame had too many.
    pub dropped_pillars: usize,
}

impl Pillars {
    /// Pillars kept.
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    /// Whether no pillar was kept.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

/// Groups `points` (in their given order: pillars are kept first come, first served, and so are
/// the points inside a pillar) into at most `max_pillars` pillars.
pub fn pillarise(points: &[LidarPoint], cfg: &PillarConfig, max_pillars: usize) -> Pillars {
    let [x0, y0, z0, x1, y1, z1] = cfg.range;
    let [nx, ny] = cfg.grid();
    let n = cfg.max_points;
    let mut index: HashMap<(usize, usize), usize> = HashMap::new();
    let mut members: Vec<Vec<[f32; 4]>> = Vec::new();
    let mut cells = Vec::new();
    let (mut in_range, mut dropped_points) = (0, 0);
    let mut dropped_cells: std::collections::HashSet<(usize, usize)> = Default::default();
    for p in points {
        let (x, y, z) = (p.x as f64, p.y as f64, p.z as f64);
        if !(x >= x0 && x < x1 && y >= y0 && y < y1 && z >= z0 && z < z1) {
            continue;
        }
        let ix = ((x - x0) / cfg.size[0]) as usize;
        let iy = ((y - y0) / cfg.size[1]) as usize;
        if ix >= nx || iy >= ny {
            continue;
        }
        in_range += 1;
        let slot = match index.get(&(ix, iy)) {
            Some(&s) => s,
            None if cells.len() < max_pillars => {
                index.insert((ix, iy), cells.len());
                cells.push((ix, iy));
                members.push(Vec::with_capacity(n.min(8)));
                cells.len() - 1
            }
            None => {
                dropped_cells.insert((ix, iy));
                dropped_points += 1;
                continue;
            }
        };
        if members[slot].len() < n {
            members[slot].push([p.x, p.y, p.z, p.r]);
        } else {
            dropped_points += 1;
        }
    }
    let zc = ((z0 + z1) / 2.0) as f32;
    let mut features = vec![0.0f32; cells.len() * n * POINT_FEATURES];
    let mut counts = Vec::with_capacity(cells.len());
    for (k, (pts, &(ix, iy))) in members.iter().zip(&cells).enumerate() {
        let m = pts.len() as f32;
        let mean = [0, 1, 2].map(|a| pts.iter().map(|p| p[a]).sum::<f32>() / m);
        let xc = (x0 + (ix as f64 + 0.5) * cfg.size[0]) as f32;
        let yc = (y0 + (iy as f64 + 0.5) * cfg.size[1]) as f32;
        for (j, p) in pts.iter().enumerate() {
            let f = &mut features[(k * n + j) * POINT_FEATURES..][..POINT_FEATURES];
            f[..4].copy_from_slice(p);
            f[4] = p[0] - mean[0];
            f[5] = p[1] - mean[1];
            f[6] = p[2] - mean[2];
            f[7] = p[0] - xc;
            f[8] = p[1] - yc;
            f[9] = p[2] - zc;
        }
        counts.push(pts.len());
    }
    Pillars {
        features,
        cells,
        counts,
        points_in_range: in_range,
        dropped_points,
        dropped_pillars: dropped_cells.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x: f32, y: f32, z: f32) -> LidarPoint {
        LidarPoint { x, y, z, r: 0.5 }
    }

    fn cfg() -> PillarConfig {
        PillarConfig {
            range: [0.0, -4.0, -3.0, 8.0, 4.0, 1.0],
            size: [1.0, 1.0],
            max_points: 2,
            max_pillars_train: 3,
            max_pillars_test: 3,
            camera_fov_only: false,
        }
    }

    #[test]
    fn features_are_the_point_its_offsets_to_the_mean_and_to_the_centre() {
        let p = pillarise(&[pt(2.2, 0.4, -1.0), pt(2.6, 0.8, 0.0)], &cfg(), 3);
        assert_eq!(p.cells, vec![(2, 4)]);
        assert_eq!(p.counts, vec![2]);
        let f = &p.features[..10];
        let want = [2.2, 0.4, -1.0, 0.5, -0.2, -0.2, -0.5, -0.3, -0.1, 0.0];
        for (a, b) in f.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{f:?}");
        }
        // The second point's offsets to the centre (2.5, 0.5, -1).
        assert!((p.features[17] - 0.1).abs() < 1e-6 && (p.features[19] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn caps_drop_points_and_pillars_and_count_them() {
        let points = [
            pt(0.5, 0.5, 0.0),
            pt(0.6, 0.5, 0.0),
            pt(0.7, 0.5, 0.0), // third point of a full pillar
            pt(1.5, 0.5, 0.0),
            pt(2.5, 0.5, 0.0),
            pt(3.5, 0.5, 0.0), // a fourth pillar
            pt(3.6, 0.5, 0.0),
            pt(9.0, 0.5, 0.0), // out of range in x
            pt(1.0, 0.5, 1.0), // z at the (exclusive) top
        ];
        let p = pillarise(&points, &cfg(), 3);
        assert_eq!(p.len(), 3);
        assert_eq!(p.points_in_range, 7);
        assert_eq!(p.dropped_points, 3);
        assert_eq!(p.dropped_pillars, 1);
        // Padding slots stay zero.
        assert!(p.features[(2 * 2 + 1) * 10..(2 * 2 + 2) * 10]
            .iter()
            .all(|&v| v == 0.0));
    }
}
