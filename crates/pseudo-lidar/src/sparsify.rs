//! Sparsifying a dense cloud to a LiDAR-like angular grid (Pseudo-LiDAR++'s `pto_ang_map`):
//! crop, bin by azimuth and elevation, keep one point a cell.

use crate::config::SparsifyConfig;
use kitti::LidarPoint;

/// The (row, column) cell of a point inside the crop, or `None` outside it. Bins follow the
/// reference exactly: φ = hfov/2 − asin(y/r), θ = top − asin(z/d), indices truncated toward
/// zero and clamped to the grid (so points beyond the field of view land in the edge cells).
pub fn cell(p: &LidarPoint, cfg: &SparsifyConfig) -> Option<(usize, usize)> {
    let (x, y, z) = (p.x as f64, p.y as f64, p.z as f64);
    let inside =
        x >= cfg.x.0 && x < cfg.x.1 && y >= cfg.y.0 && y < cfg.y.1 && z >= cfg.z.0 && z < cfg.z.1;
    if !inside {
        return None;
    }
    let r = (x * x + y * y).sqrt().max(1e-6);
    let d = (x * x + y * y + z * z).sqrt().max(1e-6);
    let dphi = cfg.horizontal_fov_deg.to_radians() / cfg.cols as f64;
    let dtheta = cfg.vertical_fov_deg.to_radians() / cfg.rows as f64;
    let phi = (cfg.horizontal_fov_deg / 2.0).to_radians() - (y / r).clamp(-1.0, 1.0).asin();
    let theta = cfg.top_deg.to_radians() - (z / d).clamp(-1.0, 1.0).asin();
    let clamp = |v: f64, n: usize| ((v as i64).max(0) as usize).min(n - 1);
    Some((clamp(theta / dtheta, cfg.rows), clamp(phi / dphi, cfg.cols)))
}

/// Keeps one point a cell: the last one in input order (the reference's rule). The result is
/// in row-major cell order.
pub fn sparsify(points: &[LidarPoint], cfg: &SparsifyConfig) -> Vec<LidarPoint> {
    let mut grid: Vec<Option<LidarPoint>> = vec![None; cfg.rows * cfg.cols];
    for p in points {
        if let Some((r, c)) = cell(p, cfg) {
            grid[r * cfg.cols + c] = Some(*p);
        }
    }
    grid.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32, z: f32) -> LidarPoint {
        LidarPoint { x, y, z, r: 0.5 }
    }

    #[test]
    fn cells_by_hand() {
        let cfg = SparsifyConfig::default();
        // Straight ahead at sensor height: φ = 45° → column 45 / (90/512) = 256; θ = 2° → row 5.
        assert_eq!(cell(&p(10.0, 0.0, 0.0), &cfg), Some((5, 256)));
        // 30° to the left (y > 0): φ = 15° → column 85.33 → 85.
        let a = 30f32.to_radians();
        assert_eq!(
            cell(&p(10.0 * a.cos(), 10.0 * a.sin(), 0.0), &cfg)
                .unwrap()
                .1,
            85
        );
        // Beyond the 45° edge: clamped into column 0; far below: the last row.
        assert_eq!(cell(&p(5.0, 20.0, 0.0), &cfg).unwrap().1, 0);
        assert_eq!(cell(&p(1.0, 0.0, -2.4), &cfg).unwrap().0, 63);
        // Outside the crop.
        assert_eq!(cell(&p(-1.0, 0.0, 0.0), &cfg), None);
        assert_eq!(cell(&p(10.0, 0.0, 1.5), &cfg), None);
    }

    #[test]
    fn the_last_point_of_a_cell_wins() {
        let cfg = SparsifyConfig::default();
        let pts = [p(10.0, 0.0, 0.0), p(10.01, 0.0, 0.0), p(20.0, 5.0, -1.0)];
        let out = sparsify(&pts, &cfg);
        assert_eq!(out.len(), 2);
        assert!(out.contains(&pts[1]) && !out.contains(&pts[0]));
    }
}
