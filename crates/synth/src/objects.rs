//! Shapes of the labelled objects (cars, vans, pedestrians), built inside their label box.
//! Every part keeps a small margin from the box faces, as annotators' boxes do.

use crate::rng::Rng;
use crate::shapes::Shape;
use crate::texture::{Material, Pattern};
use kitti::{Box3D, ObjectType};
use nalgebra::{Point3, Vector3};

/// Gap between an object's surface and its label box, metres.
pub const MARGIN: f64 = 0.03;

/// Places parts in a box's local frame: `a` along the length (+ = front), `b` up from the
/// bottom, `c` along the width.
struct Local<'a>(&'a Box3D);

impl Local<'_> {
    fn point(&self, a: f64, b: f64, c: f64) -> Point3<f64> {
        let (s, co) = self.0.ry.sin_cos();
        self.0.location + Vector3::new(co * a + s * c, -b, -s * a + co * c)
    }
    /// A cuboid spanning a0..a1, b0..b1, c0..c1 in local coordinates.
    fn cuboid(&self, a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> Shape {
        Shape::cuboid(
            self.point((a.0 + a.1) / 2.0, (b.0 + b.1) / 2.0, (c.0 + c.1) / 2.0),
            Vector3::new((a.1 - a.0) / 2.0, (b.1 - b.0) / 2.0, (c.1 - c.0) / 2.0),
            self.0.ry,
        )
    }
    /// A vertical cylinder at (a, c) spanning heights b0..b1.
    fn cylinder(&self, a: f64, c: f64, radius: f64, b: (f64, f64)) -> Shape {
        let p = self.point(a, 0.0, c);
        Shape::Cylinder {
            axis: [p.x, p.z],
            radius,
            y_top: self.0.location.y - b.1,
            y_bottom: self.0.location.y - b.0,
        }
    }
}

fn paint(rng: &mut Rng) -> Material {
    let palette = [
        [0.8, 0.1, 0.1],
        [0.9, 0.9, 0.9],
        [0.1, 0.1, 0.12],
        [0.2, 0.3, 0.7],
        [0.55, 0.55, 0.58],
        [0.2, 0.5, 0.25],
        [0.85, 0.75, 0.2],
        [0.45, 0.25, 0.1],
    ];
    let base = palette[rng.int(0, palette.len() as i64 - 1) as usize];
    let k = rng.uniform(0.75, 1.15);
    Material {
        colour: base.map(|c| (c * k).min(1.0)),
        pattern: if rng.chance(0.5) {
            Pattern::Flat
        } else {
            Pattern::Noise {
                scale: 0.4,
                contrast: 0.12,
            }
        },
        reflectance: rng.uniform(0.3, 0.8),
    }
}

fn material(colour: [f64; 3], scale: f64, contrast: f64, reflectance: f64) -> Material {
    Material {
        colour,
        pattern: Pattern::Noise { scale, contrast },
        reflectance,
    }
}

/// The parts (shape, material) of an object of `kind` filling `b`.
pub fn object_parts(kind: ObjectType, b: &Box3D, rng: &mut Rng) -> Vec<(Shape, Material)> {
    let loc = Local(b);
    let (la, wc) = (b.l / 2.0 - MARGIN, b.w / 2.0 - MARGIN);
    let top = b.h - MARGIN;
    let glass = material([0.12, 0.14, 0.18], 0.3, 0.5, 0.1);
    let tyre = material([0.06, 0.06, 0.06], 0.1, 0.3, 0.15);
    let mut parts = Vec::new();
    let wheels = |parts: &mut Vec<(Shape, Material)>| {
        let r = 0.31;
        for a in [la - 0.45 - r, -la + 0.45 + r] {
            for c in [wc - 0.11, -wc + 0.11] {
                parts.push((
                    loc.cuboid((a - r, a + r), (0.02, 2.0 * r), (c - 0.11, c + 0.11)),
                    tyre,
                ));
            }
        }
    };
    match kind {
        ObjectType::Car => {
            let body = paint(rng);
            let waist = 0.6 * b.h;
            parts.push((loc.cuboid((-la, la), (0.3, waist), (-wc, wc)), body));
            parts.push((
                loc.cuboid(
                    (-0.36 * b.l, 0.16 * b.l),
                    (waist, top - 0.05),
                    (-wc + 0.1, wc - 0.1),
                ),
                glass,
            ));
            parts.push((
                loc.cuboid(
                    (-0.34 * b.l, 0.12 * b.l),
                    (top - 0.05, top),
                    (-wc + 0.12, wc - 0.12),
                ),
                body,
            ));
            wheels(&mut parts);
        }
        ObjectType::Van | ObjectType::Truck => {
            let body = paint(rng);
            parts.push((loc.cuboid((-la, la - 0.9), (0.3, top), (-wc, wc)), body));
            parts.push((
                loc.cuboid((la - 0.9, la), (0.3, 0.5 * b.h), (-wc, wc)),
                body,
            ));
            parts.push((
                loc.cuboid(
                    (la - 1.0, la - 0.88),
                    (0.55 * b.h, 0.85 * b.h),
                    (-wc + 0.1, wc - 0.1),
                ),
                glass,
            ));
            wheels(&mut parts);
        }
        _ => {
            let shirt = material(
                [
                    rng.uniform(0.1, 0.9),
                    rng.uniform(0.1, 0.9),
                    rng.uniform(0.1, 0.9),
                ],
                0.15,
                0.25,
                0.5,
            );
            let trousers = material(
                [
                    rng.uniform(0.05, 0.4),
                    rng.uniform(0.05, 0.4),
                    rng.uniform(0.1, 0.5),
                ],
                0.1,
                0.2,
                0.4,
            );
            let skin = material([0.8, 0.6, 0.45], 0.05, 0.1, 0.5);
            let leg_r = 0.075;
            let stride = (la - leg_r) * rng.uniform(0.2, 1.0);
            let hip = 0.48 * b.h;
            parts.push((loc.cylinder(stride, 0.1, leg_r, (0.0, hip)), trousers));
            parts.push((loc.cylinder(-stride, -0.1, leg_r, (0.0, hip)), trousers));
            let chest = (wc - 0.1).clamp(0.1, 0.2);
            parts.push((
                loc.cuboid((-0.12, 0.12), (hip, 0.82 * b.h), (-chest, chest)),
                shirt,
            ));
            let swing = (la - 0.05) * rng.uniform(0.0, 0.8);
            for (c, a) in [(wc - 0.05, swing), (-wc + 0.05, -swing)] {
                parts.push((
                    loc.cuboid(
                        (a - 0.05, a + 0.05),
                        (0.5 * b.h, 0.8 * b.h),
                        (c - 0.05, c + 0.05),
                    ),
                    shirt,
                ));
            }
            let head_r = 0.1;
            parts.push((
                Shape::Sphere {
                    centre: loc.point(0.0, top - head_r, 0.0),
                    radius: head_r,
                },
                skin,
            ));
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_lies_inside_the_label_box() {
        let mut rng = Rng::new(5);
        for (kind, h, w, l) in [
            (ObjectType::Car, 1.5, 1.6, 3.9),
            (ObjectType::Van, 2.1, 1.9, 5.0),
            (ObjectType::Pedestrian, 1.75, 0.6, 0.8),
        ] {
            let b = Box3D {
                location: Point3::new(3.0, 1.65, 15.0),
                h,
                w,
                l,
                ry: 0.7,
            };
            let calib_free_contains = |p: &Point3<f64>| {
                let d = p - b.location;
                let (s, c) = b.ry.sin_cos();
                let a = c * d.x - s * d.z;
                let cc = s * d.x + c * d.z;
                a.abs() <= l / 2.0 + 1e-9
                    && cc.abs() <= w / 2.0 + 1e-9
                    && -d.y >= -1e-9
                    && -d.y <= h + 1e-9
            };
            for (shape, _) in object_parts(kind, &b, &mut rng) {
                let bb = shape.aabb();
                // Sample the shape's surface densely by its own bounds and keep points on it.
                for i in 0..=10 {
                    for j in 0..=10 {
                        for k in 0..=10 {
                            let p = Point3::new(
                                bb.min.x + (bb.max.x - bb.min.x) * i as f64 / 10.0,
                                bb.min.y + (bb.max.y - bb.min.y) * j as f64 / 10.0,
                                bb.min.z + (bb.max.z - bb.min.z) * k as f64 / 10.0,
                            );
                            if inside(&shape, &p) {
                                assert!(calib_free_contains(&p), "{kind}: {p} outside its box");
                            }
                        }
                    }
                }
            }
        }
    }

    fn inside(s: &Shape, p: &Point3<f64>) -> bool {
        match *s {
            Shape::Cuboid {
                centre, half, yaw, ..
            } => {
                let d = p - centre;
                let (sn, c) = yaw.sin_cos();
                (c * d.x - sn * d.z).abs() <= half.x + 1e-9
                    && d.y.abs() <= half.y + 1e-9
                    && (sn * d.x + c * d.z).abs() <= half.z + 1e-9
            }
            Shape::Sphere { centre, radius } => (p - centre).norm() <= radius,
            Shape::Cylinder {
                axis,
                radius,
                y_top,
                y_bottom,
            } => (p.x - axis[0]).hypot(p.z - axis[1]) <= radius && p.y >= y_top && p.y <= y_bottom,
        }
    }
}
