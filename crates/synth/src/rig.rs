//! The sensor rig: a KITTI-like stereo pair and a 64-beam LiDAR, and the calibration file that
//! describes them. The world is expressed in the rectified camera frame (x right, y down,
//! z forward) with the ground plane at y = camera height.

use kitti::Calibration;
use nalgebra::{Matrix3, Matrix3x4, Point3, Rotation3, Vector3};
use std::path::Path;

/// Full-size KITTI image width.
pub const FULL_WIDTH: u32 = 1242;
/// Full-size KITTI image height.
pub const FULL_HEIGHT: u32 = 375;
/// Focal length of KITTI's colour cameras at full size, pixels.
pub const FULL_FOCAL: f64 = 721.5377;
/// Principal point at full size.
pub const FULL_CENTRE: (f64, f64) = (609.5593, 172.854);
/// Stereo baseline between cameras 2 and 3, metres (the value the reference code assumes).
pub const BASELINE: f64 = 0.54;
/// x of camera 2 (left colour) in the rectified frame.
pub const CAMERA2_X: f64 = -0.06;
/// Camera height above the ground, metres.
pub const CAMERA_HEIGHT: f64 = 1.65;
/// LiDAR height above the ground, metres.
pub const LIDAR_HEIGHT: f64 = 1.73;
/// LiDAR position behind the camera, metres.
pub const LIDAR_BACK: f64 = 0.27;

/// Cameras and LiDAR of one synthetic frame.
#[derive(Debug, Clone)]
pub struct Rig {
    /// The frame's calibration (what `calib/NNNNNN.txt` holds).
    pub calib: Calibration,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl Rig {
    /// A KITTI-like rig with images and intrinsics scaled by `scale` (1 = 1242 × 375).
    pub fn kitti_like(scale: f64) -> Rig {
        let width = ((FULL_WIDTH as f64 * scale).round() as u32).max(8);
        let height = ((FULL_HEIGHT as f64 * scale).round() as u32).max(8);
        let f = FULL_FOCAL * scale;
        let (cu, cv) = (FULL_CENTRE.0 * scale, FULL_CENTRE.1 * scale);
        // A camera at rectified x = c has P[0,3] = −f·c.
        let p = |cam_x: f64| {
            Matrix3x4::new(f, 0.0, cu, -f * cam_x, 0.0, f, cv, 0.0, 0.0, 0.0, 1.0, 0.0)
        };
        // A small rectifying rotation, as real rigs have; the world is the rectified frame, so
        // Tr_velo_to_cam absorbs its inverse.
        let r0: Matrix3<f64> = *Rotation3::from_euler_angles(0.004, -0.006, 0.01).matrix();
        let velo_to_rect_rot = Matrix3::new(0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0);
        let velo_origin_rect = Vector3::new(0.0, CAMERA_HEIGHT - LIDAR_HEIGHT, -LIDAR_BACK);
        let r0_inv = r0.transpose();
        let mut tr = Matrix3x4::zeros();
        tr.fixed_view_mut::<3, 3>(0, 0)
            .copy_from(&(r0_inv * velo_to_rect_rot));
        tr.fixed_view_mut::<3, 1>(0, 3)
            .copy_from(&(r0_inv * velo_origin_rect));
        let imu = Matrix3x4::new(
            1.0, 0.0, 0.0, -0.8086759, 0.0, 1.0, 0.0, 0.3195559, 0.0, 0.0, 1.0, -0.7997231,
        );
        let calib = Calibration::new(
            [p(0.0), p(BASELINE), p(CAMERA2_X), p(CAMERA2_X + BASELINE)],
            r0,
            tr,
            Some(imu),
            Path::new("<synthetic rig>"),
        )
        .expect("the synthetic rectification is a rotation");
        Rig {
            calib,
            width,
            height,
        }
    }

    /// Optical centre of camera 2 (left, `image_2`) or 3 (right, `image_3`) in the world frame.
    pub fn camera_centre(&self, camera: usize) -> Point3<f64> {
        let p = self.calib.p(camera);
        Point3::new(-p[(0, 3)] / p[(0, 0)], -p[(1, 3)] / p[(1, 1)], 0.0)
    }

    /// Direction of the ray through pixel coordinate (u, v), scaled so that its z is 1 (the ray
    /// parameter is then the depth).
    pub fn pixel_dir(&self, u: f64, v: f64) -> Vector3<f64> {
        let c = &self.calib;
        Vector3::new((u - c.cu()) / c.fu(), (v - c.cv()) / c.fv(), 1.0)
    }

    /// LiDAR origin in the world frame.
    pub fn lidar_origin(&self) -> Point3<f64> {
        self.calib.velo_to_rect(&Point3::origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rig_matches_kitti_geometry() {
        let rig = Rig::kitti_like(1.0);
        assert_eq!((rig.width, rig.height), (1242, 375));
        assert!((rig.calib.baseline() - BASELINE).abs() < 1e-12);
        assert!((rig.calib.bx() - CAMERA2_X).abs() < 1e-12);
        // The LiDAR sits 1.73 m above the ground: ground is y = 1.65 in the world.
        let o = rig.lidar_origin();
        assert!(
            (o.y - (CAMERA_HEIGHT - LIDAR_HEIGHT)).abs() < 1e-12
                && (o.z + LIDAR_BACK).abs() < 1e-12
        );
        // Velodyne z is up: a point 1 m above the LiDAR is 1 m higher in the world.
        let up = rig.calib.velo_to_rect(&Point3::new(0.0, 0.0, 1.0));
        assert!((up - o - Vector3::new(0.0, -1.0, 0.0)).norm() < 1e-12);
        let small = Rig::kitti_like(0.25);
        assert_eq!((small.width, small.height), (311, 94));
        assert!((small.calib.fu() - FULL_FOCAL / 4.0).abs() < 1e-12);
        assert!((small.camera_centre(3).x - (CAMERA2_X + BASELINE)).abs() < 1e-12);
    }
}
