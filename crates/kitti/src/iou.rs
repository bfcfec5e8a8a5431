//! Exact overlaps of rotated boxes by convex polygon clipping in f64: bird's-eye-view IoU of
//! label boxes (camera x–z plane) and of velodyne boxes (x–y plane), and 3D IoU.

use crate::box3d::{Box3D, VeloBox};

/// A 2D point.
pub type Pt = [f64; 2];

/// Signed area of a polygon (positive when counter-clockwise).
pub fn signed_area(poly: &[Pt]) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

fn cross(o: Pt, a: Pt, b: Pt) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Area of the intersection of two convex polygons given counter-clockwise
/// (Sutherland–Hodgman clipping of `a` by each edge of `b`). Points on an edge count as
/// inside, so a polygon clipped by itself comes back unchanged and IoU with itself is exactly 1.
pub fn convex_intersection_area(a: &[Pt], b: &[Pt]) -> f64 {
    let mut out: Vec<Pt> = a.to_vec();
    let mut input: Vec<Pt> = Vec::with_capacity(8);
    for i in 0..b.len() {
        if out.is_empty() {
            return 0.0;
        }
        let (e0, e1) = (b[i], b[(i + 1) % b.len()]);
        std::mem::swap(&mut input, &mut out);
        out.clear();
        for j in 0..input.len() {
            let p = input[j];
            let q = input[(j + 1) % input.len()];
            let (cp, cq) = (cross(e0, e1, p), cross(e0, e1, q));
            if cp >= 0.0 {
                out.push(p);
            }
            if (cp >= 0.0) != (cq >= 0.0) {
                let t = cp / (cp - cq);
                out.push([p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t]);
            }
        }
    }
    if out.len() < 3 {
        0.0
    } else {
        signed_area(&out).max(0.0)
    }
}

fn ccw(mut p: [Pt; 4]) -> [Pt; 4] {
    if signed_area(&p) < 0.0 {
        p.reverse();
    }
    p
}

/// The footprint of a label box in the camera x–z plane, counter-clockwise.
pub fn footprint(b: &Box3D) -> [Pt; 4] {
    let c = b.corners();
    ccw([0, 1, 2, 3].map(|i| [c[i].x, c[i].z]))
}

/// A footprint with its area and bounding radius, ready for overlap tests.
struct Footprint {
    corners: [Pt; 4],
    area: f64,
    centre: Pt,
    radius: f64,
}

impl Footprint {
    fn new(corners: [Pt; 4]) -> Self {
        let centre = [
            (corners[0][0] + corners[1][0] + corners[2][0] + corners[3][0]) / 4.0,
            (corners[0][1] + corners[1][1] + corners[2][1] + corners[3][1]) / 4.0,
        ];
        let radius = corners
            .iter()
            .map(|c| (c[0] - centre[0]).hypot(c[1] - centre[1]))
            .fold(0.0, f64::max);
        // The polygon's own area (not l·w), so that intersection and union use the same
        // arithmetic and a box against itself gives exactly 1.
        Footprint {
            area: signed_area(&corners),
            corners,
            centre,
            radius,
        }
    }

    fn overlap(&self, other: &Footprint) -> f64 {
        let d = (self.centre[0] - other.centre[0]).hypot(self.centre[1] - other.centre[1]);
        if d > self.radius + other.radius {
            return 0.0;
        }
        convex_intersection_area(&self.corners, &other.corners)
    }
}

fn ratio(inter: f64, a: f64, b: f64) -> f64 {
    let union = a + b - inter;
    if union > 0.0 {
        (inter / union).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Vertical overlap of two label boxes, each spanning camera y in [y − h, y].
fn vertical_overlap(a: &Box3D, b: &Box3D) -> f64 {
    let top = (a.location.y - a.h).max(b.location.y - b.h);
    let bottom = a.location.y.min(b.location.y);
    (bottom - top).max(0.0)
}

/// Both overlaps of two label boxes with one polygon clip: (BEV IoU in the camera x–z plane,
/// 3D IoU = footprint intersection × vertical overlap over the union volume).
pub fn bev_and_3d_iou(a: &Box3D, b: &Box3D) -> (f64, f64) {
    let (fa, fb) = (Footprint::new(footprint(a)), Footprint::new(footprint(b)));
    let area = fa.overlap(&fb);
    let bev = ratio(area, fa.area, fb.area);
    let iou3 = ratio(area * vertical_overlap(a, b), fa.area * a.h, fb.area * b.h);
    (bev, iou3)
}

/// Bird's-eye-view IoU of two label boxes: rotated rectangles in the camera x–z plane.
pub fn bev_iou(a: &Box3D, b: &Box3D) -> f64 {
    bev_and_3d_iou(a, b).0
}

/// 3D IoU of two label boxes.
pub fn iou_3d(a: &Box3D, b: &Box3D) -> f64 {
    bev_and_3d_iou(a, b).1
}

/// Bird's-eye-view IoU of two velodyne-frame boxes (x–y plane), as rotated NMS needs.
pub fn velo_bev_iou(a: &VeloBox, b: &VeloBox) -> f64 {
    let (fa, fb) = (
        Footprint::new(ccw(a.bev_corners())),
        Footprint::new(ccw(b.bev_corners())),
    );
    ratio(fa.overlap(&fb), fa.area, fb.area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

    fn b(x: f64, z: f64, l: f64, w: f64, ry: f64) -> Box3D {
        Box3D {
            location: Point3::new(x, 1.6, z),
            h: 1.5,
            w,
            l,
            ry,
        }
    }

    #[test]
    fn a_box_against_itself_is_exactly_one() {
        for ry in [0.0, 0.3, FRAC_PI_4, 1.234, -2.9] {
            let a = b(3.1, 27.3, 3.9, 1.6, ry);
            assert_eq!(bev_iou(&a, &a), 1.0);
            assert_eq!(iou_3d(&a, &a), 1.0);
        }
    }

    #[test]
    fn square_against_its_45_degree_turn_is_a_regular_octagon() {
        // Side 2: the octagon has inradius 1 and area 8·tan(π/8) = 8(√2 − 1).
        let a = b(0.0, 10.0, 2.0, 2.0, 0.0);
        let c = b(0.0, 10.0, 2.0, 2.0, FRAC_PI_4);
        let oct = 8.0 * (2f64.sqrt() - 1.0);
        assert!((bev_iou(&a, &c) - oct / (8.0 - oct)).abs() < 1e-12);
    }

    #[test]
    fn crossed_rectangles_and_shifted_boxes() {
        // 4 x 2 against itself turned 90°: a 2 x 2 overlap, IoU 4 / (8 + 8 − 4) = 1/3.
        let a = b(0.0, 10.0, 4.0, 2.0, 0.0);
        let c = b(0.0, 10.0, 4.0, 2.0, FRAC_PI_2);
        assert!((bev_iou(&a, &c) - 1.0 / 3.0).abs() < 1e-12);
        // Shifted 1 m along the length: overlap 3 x 2 = 6, IoU 6 / 10.
        let d = b(1.0, 10.0, 4.0, 2.0, 0.0);
        assert!((bev_iou(&a, &d) - 0.6).abs() < 1e-12);
        // Disjoint.
        assert_eq!(bev_iou(&a, &b(10.0, 10.0, 4.0, 2.0, 0.0)), 0.0);
    }

    #[test]
    fn three_d_uses_the_vertical_overlap() {
        let a = b(0.0, 10.0, 4.0, 2.0, 0.0);
        let mut c = a;
        c.location.y -= 0.5; // raised by 0.5 m: vertical overlap 1.0 of 1.5
        let inter = 8.0 * 1.0;
        assert!((iou_3d(&a, &c) - inter / (12.0 + 12.0 - inter)).abs() < 1e-12);
        assert_eq!(bev_iou(&a, &c), 1.0);
        c.location.y -= 2.0;
        assert_eq!(iou_3d(&a, &c), 0.0);
        let (bev, three) = bev_and_3d_iou(&a, &b(1.0, 10.0, 4.0, 2.0, 0.0));
        assert!((bev - 0.6).abs() < 1e-12 && (three - 0.6).abs() < 1e-12);
    }

    #[test]
    fn velodyne_boxes_agree_with_camera_boxes() {
        let a = VeloBox {
            centre: Point3::new(10.0, 0.0, -1.0),
            l: 4.0,
            w: 2.0,
            h: 1.5,
            heading: 0.2,
        };
        let c = VeloBox {
            heading: 0.2 + FRAC_PI_2,
            ..a
        };
        assert!((velo_bev_iou(&a, &c) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(velo_bev_iou(&a, &a), 1.0);
    }
}
