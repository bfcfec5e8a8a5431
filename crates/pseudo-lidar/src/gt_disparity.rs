//! LiDAR → sparse disparity ground truth for training stereo networks (the pseudo-LiDAR
//! convention, `generate_disp.py`): project into the left image, keep points inside it with
//! velodyne x > 2 m, round to the nearest pixel (a later point overwrites an earlier one),
//! disparity = f_u · B / rect z.

use kitti::{Baseline, Calibration, DisparityMap, LidarPoint};
use nalgebra::Point3;

/// Points closer than this in velodyne x are dropped, metres.
pub const MIN_FORWARD: f64 = 2.0;

/// The disparity map (0 = no point) of a `width` × `height` left image seen by the LiDAR.
pub fn lidar_disparity(
    points: &[LidarPoint],
    calib: &Calibration,
    width: u32,
    height: u32,
    baseline: Baseline,
) -> DisparityMap {
    let fb = calib.fu() * baseline.metres(calib);
    let mut map = DisparityMap::new(width, height);
    for p in points {
        if (p.x as f64) <= MIN_FORWARD {
            continue;
        }
        let q = Point3::new(p.x as f64, p.y as f64, p.z as f64);
        let rect = calib.velo_to_rect(&q);
        let img = calib.rect_to_image(&rect);
        // The reference keeps 0 ≤ u < width − 1 and 0 ≤ v < height − 1 before rounding, and
        // rounds half to even (numpy's rule).
        if !(img.u >= 0.0
            && img.u < width as f64 - 1.0
            && img.v >= 0.0
            && img.v < height as f64 - 1.0)
        {
            continue;
        }
        let (u, v) = (
            img.u.round_ties_even() as u32,
            img.v.round_ties_even() as u32,
        );
        map.set(u, v, (fb / rect.z) as f32);
    }
    map
}
