//! Disparity or depth maps → pseudo-LiDAR points in the velodyne frame (Wang et al.'s
//! `project_disp_to_points`): depth = f_u·B / disparity, back-projection through the left
//! camera, rectified → velodyne, then the x and height filters.

use crate::config::ConvertConfig;
use kitti::{Calibration, DisparityMap, LidarPoint};

/// A frame's converter: calibration and settings folded into per-pixel arithmetic.
#[derive(Debug, Clone)]
pub struct Converter {
    cfg: ConvertConfig,
    fb: f64,
    cu: f64,
    cv: f64,
    fu: f64,
    fv: f64,
    bx: f64,
    by: f64,
    /// Rows of the rectified → velodyne transform, [R | t] row-major.
    m: [f64; 12],
}

impl Converter {
    /// A converter for one frame's calibration.
    pub fn new(calib: &Calibration, cfg: ConvertConfig) -> Self {
        let baseline = cfg.baseline.metres(calib);
        let r = calib.rect_to_velo_matrix();
        Converter {
            cfg,
            fb: calib.fu() * baseline,
            cu: calib.cu(),
            cv: calib.cv(),
            fu: calib.fu(),
            fv: calib.fv(),
            bx: calib.bx(),
            by: calib.by(),
            m: std::array::from_fn(|i| r[(i / 4, i % 4)]),
        }
    }

    /// f_u · B, the disparity of a point at 1 m.
    pub fn focal_baseline(&self) -> f64 {
        self.fb
    }

    /// Depth in metres of a disparity, after the optional 1/256 quantisation; `None` for
    /// disparities that are zero, negative or not finite (masked, as invalid pixels are).
    pub fn depth_of(&self, disparity: f32) -> Option<f64> {
        let mut d = disparity as f64;
        if !d.is_finite() || d <= 0.0 {
            return None;
        }
        if self.cfg.quantize {
            d = (d * 256.0).floor() / 256.0;
            if d <= 0.0 {
                return None;
            }
        }
        Some(self.fb / d)
    }

    /// The velodyne point of pixel (u, v) at `depth`, if it passes the filters (x ≥ min_x,
    /// z < max_height, x < close); reflectance 1.
    pub fn point(&self, u: f64, v: f64, depth: f64) -> Option<LidarPoint> {
        let x = (u - self.cu) * depth / self.fu + self.bx;
        let y = (v - self.cv) * depth / self.fv + self.by;
        self.keep(self.to_velo(x, y, depth))
    }

    fn to_velo(&self, x: f64, y: f64, z: f64) -> [f64; 3] {
        let m = &self.m;
        [
            m[0] * x + m[1] * y + m[2] * z + m[3],
            m[4] * x + m[5] * y + m[6] * z + m[7],
            m[8] * x + m[9] * y + m[10] * z + m[11],
        ]
    }

    fn keep(&self, p: [f64; 3]) -> Option<LidarPoint> {
        let pass = p[0] >= self.cfg.min_x
            && p[2] < self.cfg.max_height
            && self.cfg.close.is_none_or(|c| p[0] < c);
        pass.then_some(LidarPoint {
            x: p[0] as f32,
            y: p[1] as f32,
            z: p[2] as f32,
            r: 1.0,
        })
    }

    /// Converts a map whose values are depths (`depth = true`, metres) or disparities (pixels),
    /// in row-major pixel order; invalid values (and depth edges, when the settings drop them)
    /// are skipped.
    fn cloud(&self, map: &DisparityMap, depth: bool) -> Vec<LidarPoint> {
        let filtered;
        let map = match &self.cfg.edges {
            Some(f) => {
                filtered = f.apply(map);
                &filtered
            }
            None => map,
        };
        let w = map.width as usize;
        let col: Vec<f64> = (0..w).map(|u| (u as f64 - self.cu) / self.fu).collect();
        let mut out = Vec::with_capacity(map.data.len() / 2);
        for (v, row) in map.data.chunks_exact(w.max(1)).enumerate() {
            let ry = (v as f64 - self.cv) / self.fv;
            for (u, &value) in row.iter().enumerate() {
                let z = if depth {
                    let z = value as f64;
                    if !(z.is_finite() && z > 0.0) {
                        continue;
                    }
                    z
                } else {
                    match self.depth_of(value) {
                        Some(z) => z,
                        None => continue,
                    }
                };
                if let Some(p) = self.keep(self.to_velo(col[u] * z + self.bx, ry * z + self.by, z))
                {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The pseudo-LiDAR cloud of a disparity map.
    pub fn disparity_cloud(&self, map: &DisparityMap) -> Vec<LidarPoint> {
        self.cloud(map, false)
    }

    /// The pseudo-LiDAR cloud of a depth map (metres; KITTI depth PNGs share the disparity
    /// encoding, value / 256, 0 = invalid, so [`DisparityMap::read`] reads them).
    pub fn depth_cloud(&self, map: &DisparityMap) -> Vec<LidarPoint> {
        self.cloud(map, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f = 700, principal point (600, 180), camera 2 at x = −0.06, identity rectification,
    /// velodyne 0.27 m behind and 0.08 m above the camera.
    fn calib() -> Calibration {
        Calibration::ideal(700.0, 600.0, 180.0)
    }

    fn exact() -> ConvertConfig {
        ConvertConfig {
            quantize: false,
            ..Default::default()
        }
    }

    #[test]
    fn pixels_to_points_by_hand() {
        let c = Converter::new(&calib(), exact());
        // f·B = 378: disparity 18.9 is 20 m. The principal point looks along camera 2's axis,
        // x_rect = −0.06; velodyne x = z + 0.27, y = −x_rect, z = −y_rect − 0.08.
        assert!((c.depth_of(18.9).unwrap() - 20.0).abs() < 1e-5);
        let p = c.point(600.0, 180.0, 20.0).unwrap();
        assert!(
            (p.x - 20.27).abs() < 1e-5 && (p.y - 0.06).abs() < 1e-6 && (p.z + 0.08).abs() < 1e-6
        );
        assert_eq!(p.r, 1.0);
        // (250, 330) at 10 m: x_rect = −350·10/700 − 0.06 = −5.06, y_rect = 150·10/700.
        let p = c.point(250.0, 330.0, 10.0).unwrap();
        assert!(
            (p.x - 10.27).abs() < 1e-5
                && (p.y - 5.06).abs() < 1e-5
                && (p.z + (15.0 / 7.0 + 0.08) as f32).abs() < 1e-5
        );
        // The top row at 20 m is 5 m above the sensor: above the 1 m height limit.
        assert!(c.point(600.0, 0.0, 20.0).is_none());
        // The close variant drops x ≥ 20.
        let close = Converter::new(
            &calib(),
            ConvertConfig {
                close: Some(20.0),
                ..exact()
            },
        );
        assert!(
            close.point(600.0, 180.0, 20.0).is_none() && close.point(600.0, 180.0, 19.0).is_some()
        );
    }

    #[test]
    fn depth_edges_are_dropped_alike_from_disparity_and_depth_maps() {
        // A block at 10 m (disparity 37.8) in front of a wall at 30 m (12.6), its sides drawn as
        // a network draws them: a 3-pixel ramp of disparity between the two.
        let fb = 378.0f32;
        let d = |x: u32, y: u32| {
            let inside = |x: i64| (500..700).contains(&x) && (150..250).contains(&(y as i64));
            let near = (-1..=1).filter(|dx| inside(x as i64 + dx)).count() as f32;
            fb / 30.0 + near / 3.0 * (fb / 10.0 - fb / 30.0)
        };
        let (mut disp, mut depth) = (DisparityMap::new(1200, 360), DisparityMap::new(1200, 360));
        for y in 0..360 {
            for x in 0..1200 {
                disp.set(x, y, d(x, y));
                depth.set(x, y, fb / d(x, y));
            }
        }
        let strung = |c: &[LidarPoint]| c.iter().filter(|p| p.x > 11.0 && p.x < 29.0).count();
        let all = Converter::new(&calib(), exact()).disparity_cloud(&disp);
        assert!(strung(&all) > 100, "{}", strung(&all));
        let c = Converter::new(
            &calib(),
            ConvertConfig {
                edges: Some(crate::EdgeFilter {
                    radius: 2,
                    ratio: 0.15,
                }),
                ..exact()
            },
        );
        let kept = c.disparity_cloud(&disp);
        assert_eq!(strung(&kept), 0);
        assert!(
            kept.len() > all.len() * 9 / 10,
            "{} of {}",
            kept.len(),
            all.len()
        );
        let from_depth = c.depth_cloud(&depth);
        assert_eq!(from_depth.len(), kept.len());
        assert_eq!(strung(&from_depth), 0);
    }

    #[test]
    fn quantisation_and_invalid_disparities() {
        let c = Converter::new(&calib(), ConvertConfig::default());
        // 18.9 px floors to 4838/256 px.
        assert_eq!(c.depth_of(18.9), Some(378.0 / (4838.0 / 256.0)));
        for bad in [0.0, -3.0, f32::NAN, f32::INFINITY, 0.001] {
            assert_eq!(c.depth_of(bad), None, "{bad}");
        }
        let mut map = DisparityMap::new(1200, 360);
        map.set(600, 180, 18.9);
        map.set(601, 180, f32::NAN);
        map.set(602, 180, -1.0);
        assert_eq!(c.disparity_cloud(&map).len(), 1);
        // A depth map of the same pixel at 20 m gives the same point as disparity 18.9 unquantised.
        let mut depth = DisparityMap::new(1200, 360);
        depth.set(600, 180, 20.0);
        assert_eq!(
            c.depth_cloud(&depth),
            Converter::new(&calib(), exact()).disparity_cloud(&map)
        );
    }
}
