//! Box geometry: 2D image boxes, 3D label boxes in the rectified camera frame, 3D boxes in the
//! velodyne frame, and the conversions between them.

use crate::calib::Calibration;
use nalgebra::{Point3, Vector3};
use std::f64::consts::PI;

/// Nearest depth in front of the camera that a projected box is clipped at, metres.
const NEAR_PLANE: f64 = 0.1;

/// An axis-aligned image box in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Box2D {
    /// Left column.
    pub left: f64,
    /// Top row.
    pub top: f64,
    /// Right column.
    pub right: f64,
    /// Bottom row.
    pub bottom: f64,
}

impl Box2D {
    /// Width in pixels (never negative).
    pub fn width(&self) -> f64 {
        (self.right - self.left).max(0.0)
    }
    /// Height in pixels, bottom − top (never negative), as the KITTI difficulty rules use it.
    pub fn height(&self) -> f64 {
        (self.bottom - self.top).max(0.0)
    }
    /// Area in square pixels.
    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }
    /// Area of the overlap with `other`.
    pub fn intersection(&self, other: &Box2D) -> f64 {
        let w = self.right.min(other.right) - self.left.max(other.left);
        let h = self.bottom.min(other.bottom) - self.top.max(other.top);
        w.max(0.0) * h.max(0.0)
    }
    /// Intersection over union (plain box IoU, no +1 pixel convention).
    pub fn iou(&self, other: &Box2D) -> f64 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
    /// The box clipped to an image of `width` × `height` pixels (columns 0..=width−1), or `None`
    /// when nothing of it is inside.
    pub fn clipped(&self, width: u32, height: u32) -> Option<Box2D> {
        let b = Box2D {
            left: self.left.max(0.0),
            top: self.top.max(0.0),
            right: self.right.min(width as f64 - 1.0),
            bottom: self.bottom.min(height as f64 - 1.0),
        };
        (b.right > b.left && b.bottom > b.top).then_some(b)
    }
}

/// A 3D box as a KITTI label stores it: bottom-centre location in the rectified camera frame
/// (camera y points down), height, width, length and the rotation about the camera y axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Box3D {
    /// Bottom centre (x, y, z), metres.
    pub location: Point3<f64>,
    /// Height (along camera −y).
    pub h: f64,
    /// Width.
    pub w: f64,
    /// Length (along the heading).
    pub l: f64,
    /// Rotation about camera y, radians; 0 means the length axis points along camera +x.
    pub ry: f64,
}

impl Box3D {
    /// The 8 corners in the rectified camera frame: the 4 bottom ones (y = location.y) then the
    /// 4 top ones, in the KITTI devkit's order.
    pub fn corners(&self) -> [Point3<f64>; 8] {
        let (s, c) = self.ry.sin_cos();
        let (l2, w2) = (self.l / 2.0, self.w / 2.0);
        let xs = [l2, l2, -l2, -l2, l2, l2, -l2, -l2];
        let ys = [0.0, 0.0, 0.0, 0.0, -self.h, -self.h, -self.h, -self.h];
        let zs = [w2, -w2, -w2, w2, w2, -w2, -w2, w2];
        std::array::from_fn(|i| {
            Point3::new(
                self.location.x + c * xs[i] + s * zs[i],
                self.location.y + ys[i],
                self.location.z - s * xs[i] + c * zs[i],
            )
        })
    }

    /// The same box in the velodyne frame: geometric centre, heading = −(ry + π/2).
    pub fn to_velo(&self, calib: &Calibration) -> VeloBox {
        let centre = calib.rect_to_velo(&(self.location - Vector3::new(0.0, self.h / 2.0, 0.0)));
        VeloBox {
            centre,
            l: self.l,
            w: self.w,
            h: self.h,
            heading: wrap_angle(-(self.ry + PI / 2.0)),
        }
    }

    /// Observation angle alpha = ry − atan2(x, z), wrapped to [−π, π].
    pub fn alpha(&self) -> f64 {
        alpha_from(self.ry, &self.location)
    }

    /// The box's extent in the left image: min/max of its projected corners, after clipping the
    /// box at a near plane in front of the camera. Not clipped to the image; `None` when the box
    /// lies entirely behind the near plane.
    pub fn image_extent(&self, calib: &Calibration) -> Option<Box2D> {
        const EDGES: [(usize, usize); 12] = [
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 0),
            (4, 5),
            (5, 6),
            (6, 7),
            (7, 4),
            (0, 4),
            (1, 5),
            (2, 6),
            (3, 7),
        ];
        let corners = self.corners();
        let mut pts: Vec<Point3<f64>> = corners
            .iter()
            .filter(|p| p.z >= NEAR_PLANE)
            .copied()
            .collect();
        for (a, b) in EDGES {
            let (pa, pb) = (corners[a], corners[b]);
            if (pa.z - NEAR_PLANE) * (pb.z - NEAR_PLANE) < 0.0 {
                let t = (NEAR_PLANE - pa.z) / (pb.z - pa.z);
                pts.push(pa + (pb - pa) * t);
            }
        }
        if pts.is_empty() {
            return None;
        }
        let mut b = Box2D {
            left: f64::INFINITY,
            top: f64::INFINITY,
            right: f64::NEG_INFINITY,
            bottom: f64::NEG_INFINITY,
        };
        for p in &pts {
            let img = calib.rect_to_image(p);
            b.left = b.left.min(img.u);
            b.right = b.right.max(img.u);
            b.top = b.top.min(img.v);
            b.bottom = b.bottom.max(img.v);
        }
        Some(b)
    }

    /// The 2D box of the projected 3D box clipped to a `width` × `height` image, as a predicted
    /// box's 2D box is made; `None` when it falls outside the image.
    pub fn image_box(&self, calib: &Calibration, width: u32, height: u32) -> Option<Box2D> {
        self.image_extent(calib)?.clipped(width, height)
    }
}

/// A 3D box in the velodyne frame (x forward, y left, z up): geometric centre, size and the
/// heading of its length axis about z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VeloBox {
    /// Geometric centre.
    pub centre: Point3<f64>,
    /// Length, along the heading.
    pub l: f64,
    /// Width.
    pub w: f64,
    /// Height, along z.
    pub h: f64,
    /// Heading about z, radians.
    pub heading: f64,
}

impl VeloBox {
    /// The camera label box: location = velo→rect(centre) lowered to the bottom, ry = −heading − π/2.
    pub fn to_camera(&self, calib: &Calibration) -> Box3D {
        let c = calib.velo_to_rect(&self.centre);
        Box3D {
            location: c + Vector3::new(0.0, self.h / 2.0, 0.0),
            h: self.h,
            w: self.w,
            l: self.l,
            ry: wrap_angle(-self.heading - PI / 2.0),
        }
    }

    /// The 4 corners of the footprint in the x–y plane, counter-clockwise.
    pub fn bev_corners(&self) -> [[f64; 2]; 4] {
        let (s, c) = self.heading.sin_cos();
        let (l2, w2) = (self.l / 2.0, self.w / 2.0);
        [(l2, w2), (-l2, w2), (-l2, -w2), (l2, -w2)].map(|(dl, dw)| {
            [
                self.centre.x + c * dl - s * dw,
                self.centre.y + s * dl + c * dw,
            ]
        })
    }

    /// The 8 corners in the velodyne frame: bottom footprint then top footprint.
    pub fn corners(&self) -> [Point3<f64>; 8] {
        let bev = self.bev_corners();
        let (z0, z1) = (self.centre.z - self.h / 2.0, self.centre.z + self.h / 2.0);
        std::array::from_fn(|i| {
            Point3::new(bev[i % 4][0], bev[i % 4][1], if i < 4 { z0 } else { z1 })
        })
    }

    /// Distance from `p` to the box's surface: to the nearest face for a point inside, to the
    /// box for a point outside.
    pub fn surface_distance(&self, p: &Point3<f64>) -> f64 {
        let d = p - self.centre;
        let (s, c) = self.heading.sin_cos();
        let local = [c * d.x + s * d.y, -s * d.x + c * d.y, d.z];
        let half = [self.l / 2.0, self.w / 2.0, self.h / 2.0];
        let excess: Vec<f64> = (0..3).map(|i| local[i].abs() - half[i]).collect();
        if excess.iter().all(|&e| e <= 0.0) {
            -excess.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        } else {
            excess
                .iter()
                .map(|e| e.max(0.0).powi(2))
                .sum::<f64>()
                .sqrt()
        }
    }

    /// Whether `p` lies inside the box grown by `margin` metres on every side.
    pub fn contains(&self, p: &Point3<f64>, margin: f64) -> bool {
        let d = p - self.centre;
        let (s, c) = self.heading.sin_cos();
        let along = c * d.x + s * d.y;
        let across = -s * d.x + c * d.y;
        along.abs() <= self.l / 2.0 + margin
            && across.abs() <= self.w / 2.0 + margin
            && d.z.abs() <= self.h / 2.0 + margin
    }
}

/// Wraps an angle to [−π, π].
pub fn wrap_angle(a: f64) -> f64 {
    let mut x = (a + PI).rem_euclid(2.0 * PI) - PI;
    if x < -PI {
        x += 2.0 * PI;
    }
    x
}

/// Observation angle of an object with rotation `ry` at rectified-camera `location`.
pub fn alpha_from(ry: f64, location: &Point3<f64>) -> f64 {
    wrap_angle(ry - location.x.atan2(location.z))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple_calib() -> Calibration {
        Calibration::ideal(700.0, 600.0, 180.0)
    }

    fn car() -> Box3D {
        Box3D {
            location: Point3::new(2.0, 1.65, 20.0),
            h: 1.5,
            w: 1.6,
            l: 3.9,
            ry: 0.3,
        }
    }

    #[test]
    fn corners_span_the_dimensions() {
        let b = Box3D { ry: 0.0, ..car() };
        let c = b.corners();
        let xs: Vec<f64> = c.iter().map(|p| p.x).collect();
        let max = xs.iter().cloned().fold(f64::MIN, f64::max);
        let min = xs.iter().cloned().fold(f64::MAX, f64::min);
        assert!((max - min - 3.9).abs() < 1e-12);
        assert!(c[..4].iter().all(|p| p.y == 1.65));
        assert!(c[4..].iter().all(|p| (p.y - 0.15).abs() < 1e-12));
    }

    #[test]
    fn camera_velo_box_round_trip_and_corners_agree() {
        let calib = simple_calib();
        let b = car();
        let v = b.to_velo(&calib);
        // The geometric centre is 0.75 m above the bottom, camera y 0.9, which is 0.98 m below
        // the velodyne (0.08 m above the camera).
        assert!((v.centre.z + 0.98).abs() < 1e-12);
        assert!((v.centre.x - 20.27).abs() < 1e-12 && (v.centre.y + 2.0).abs() < 1e-12);
        let back = v.to_camera(&calib);
        assert!((back.location - b.location).norm() < 1e-12 && (back.ry - b.ry).abs() < 1e-12);
        // Each camera corner, moved to the velodyne frame, is one of the velodyne box's corners.
        let vc = v.corners();
        for p in b.corners() {
            let q = calib.rect_to_velo(&p);
            assert!(vc.iter().any(|c| (c - q).norm() < 1e-9), "{q} not a corner");
            assert!(v.contains(&q, 1e-9));
        }
        assert!(!v.contains(&Point3::new(v.centre.x, v.centre.y, v.centre.z + 0.8), 0.0));
        // Surface distance: the centre is h/2 = 0.75 from the top and bottom, 0.8 from the sides.
        assert!((v.surface_distance(&v.centre) - 0.75).abs() < 1e-12);
        let above = Point3::new(v.centre.x, v.centre.y, v.centre.z + 0.75 + 0.3);
        assert!((v.surface_distance(&above) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn alpha_is_ry_minus_viewing_angle() {
        let b = Box3D {
            location: Point3::new(10.0, 1.0, 10.0),
            ry: 0.0,
            ..car()
        };
        assert!((b.alpha() + PI / 4.0).abs() < 1e-12);
        assert!(
            (alpha_from(3.0, &Point3::new(-10.0, 0.0, 10.0)) - (3.0 + PI / 4.0 - 2.0 * PI)).abs()
                < 1e-12
        );
        assert!(
            (wrap_angle(3.0 * PI) - PI).abs() < 1e-12 || (wrap_angle(3.0 * PI) + PI).abs() < 1e-12
        );
    }

    #[test]
    fn image_box_of_a_frontal_box_by_hand() {
        let calib = simple_calib();
        // ry = π/2 turns the length axis along camera −z; the nearest face sits at z = 20 − 1.95.
        let b = Box3D {
            location: Point3::new(0.0, 1.65, 20.0),
            ry: PI / 2.0,
            ..car()
        };
        let e = b.image_extent(&calib).unwrap();
        let zn = 20.0 - 1.95;
        // Camera 2 sits at x = −0.06: u = f (x + 0.06)/z + cu; widest at the near face, x = ±0.8.
        assert!((e.left - (700.0 * (-0.8 + 0.06) / zn + 600.0)).abs() < 1e-9);
        assert!((e.right - (700.0 * (0.8 + 0.06) / zn + 600.0)).abs() < 1e-9);
        assert!((e.bottom - (700.0 * 1.65 / zn + 180.0)).abs() < 1e-9);
        assert!((e.top - (700.0 * 0.15 / (20.0 + 1.95) + 180.0)).abs() < 1e-9);
    }

    #[test]
    fn image_box_clips_to_image_and_near_plane() {
        let calib = simple_calib();
        let straddling = Box3D {
            location: Point3::new(-3.0, 1.65, 1.0),
            ry: PI / 2.0,
            ..car()
        };
        let e = straddling.image_extent(&calib).unwrap();
        assert!(
            e.left < -1000.0,
            "near-plane points project far left: {e:?}"
        );
        let clipped = straddling.image_box(&calib, 1242, 375).unwrap();
        assert_eq!(clipped.left, 0.0);
        assert!(clipped.right <= 1241.0 && clipped.bottom == 374.0);
        let behind = Box3D {
            location: Point3::new(0.0, 1.65, -10.0),
            ..car()
        };
        assert!(behind.image_extent(&calib).is_none());
    }

    #[test]
    fn box2d_iou_by_hand() {
        let a = Box2D {
            left: 0.0,
            top: 0.0,
            right: 10.0,
            bottom: 10.0,
        };
        let b = Box2D {
            left: 5.0,
            top: 0.0,
            right: 15.0,
            bottom: 10.0,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(a.height(), 10.0);
    }
}
