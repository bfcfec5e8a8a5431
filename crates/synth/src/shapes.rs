//! Geometric primitives the world is built from, with ray intersection and bounds.
//! Coordinates are the rectified camera frame: x right, y down, z forward.

use nalgebra::{Point3, Vector3};

/// A ray `origin + t·dir` (dir need not be unit length; `t` is in units of `dir`).
#[derive(Debug, Clone, Copy)]
pub struct Ray {
    /// Start point.
    pub origin: Point3<f64>,
    /// Direction.
    pub dir: Vector3<f64>,
}

/// Where a ray meets a shape.
#[derive(Debug, Clone, Copy)]
pub struct ShapeHit {
    /// Ray parameter of the hit.
    pub t: f64,
    /// Surface normal at the hit (unit length, not yet turned towards the ray).
    pub normal: Vector3<f64>,
}

/// An axis-aligned bounding box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    /// Minimum corner.
    pub min: Point3<f64>,
    /// Maximum corner.
    pub max: Point3<f64>,
}

impl Aabb {
    /// The empty box (union identity).
    pub fn empty() -> Self {
        Aabb {
            min: Point3::new(f64::INFINITY, f64::INFINITY, f64::INFINITY),
            max: Point3::new(f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY),
        }
    }
    /// Smallest box holding both.
    pub fn union(&self, o: &Aabb) -> Aabb {
        Aabb {
            min: self.min.inf(&o.min),
            max: self.max.sup(&o.max),
        }
    }
    /// Centre point.
    pub fn centre(&self) -> Point3<f64> {
        nalgebra::center(&self.min, &self.max)
    }
    /// Entry parameter of the ray into the box if it enters before `t_max`.
    pub fn hit(&self, ray: &Ray, inv_dir: &Vector3<f64>, t_max: f64) -> Option<f64> {
        let mut t0: f64 = 0.0;
        let mut t1 = t_max;
        for a in 0..3 {
            let ta = (self.min[a] - ray.origin[a]) * inv_dir[a];
            let tb = (self.max[a] - ray.origin[a]) * inv_dir[a];
            let (lo, hi) = if ta < tb { (ta, tb) } else { (tb, ta) };
            // NaN (0·∞ when the origin lies on a slab plane) leaves the bound unchanged.
            if lo > t0 {
                t0 = lo;
            }
            if hi < t1 {
                t1 = hi;
            }
            if t0 > t1 {
                return None;
            }
        }
        Some(t0)
    }
}

/// A primitive solid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A box rotated by `yaw` about the vertical axis, with local axes
    /// x' = (cos yaw, 0, −sin yaw), y' = y, z' = (sin yaw, 0, cos yaw) (the KITTI label convention).
    Cuboid {
        /// Centre.
        centre: Point3<f64>,
        /// Half sizes along the local axes.
        half: Vector3<f64>,
        /// Rotation about y.
        yaw: f64,
        /// (sin yaw, cos yaw), cached: use [`Shape::cuboid`] to build one.
        sin_cos: (f64, f64),
    },
    /// A sphere.
    Sphere {
        /// Centre.
        centre: Point3<f64>,
        /// Radius.
        radius: f64,
    },
    /// A vertical cylinder spanning y in [y_top, y_bottom] (y points down).
    Cylinder {
        /// Axis position (x, z).
        axis: [f64; 2],
        /// Radius.
        radius: f64,
        /// Upper end (smaller y).
        y_top: f64,
        /// Lower end.
        y_bottom: f64,
    },
}

impl Shape {
    /// A cuboid with centre, half sizes along its local axes, and rotation about y.
    pub fn cuboid(centre: Point3<f64>, half: Vector3<f64>, yaw: f64) -> Shape {
        Shape::Cuboid {
            centre,
            half,
            yaw,
            sin_cos: yaw.sin_cos(),
        }
    }

    /// Bounding box.
    pub fn aabb(&self) -> Aabb {
        match *self {
            Shape::Cuboid {
                centre,
                half,
                sin_cos: (s, c),
                ..
            } => {
                let ex = (c * half.x).abs() + (s * half.z).abs();
                let ez = (s * half.x).abs() + (c * half.z).abs();
                let e = Vector3::new(ex, half.y, ez);
                Aabb {
                    min: centre - e,
                    max: centre + e,
                }
            }
            Shape::Sphere { centre, radius } => {
                let e = Vector3::repeat(radius);
                Aabb {
                    min: centre - e,
                    max: centre + e,
                }
            }
            Shape::Cylinder {
                axis,
                radius,
                y_top,
                y_bottom,
            } => Aabb {
                min: Point3::new(axis[0] - radius, y_top, axis[1] - radius),
                max: Point3::new(axis[0] + radius, y_bottom, axis[1] + radius),
            },
        }
    }

    /// The nearest hit with parameter in (t_min, t_max), if any.
    pub fn intersect(&self, ray: &Ray, t_min: f64, t_max: f64) -> Option<ShapeHit> {
        match *self {
            Shape::Cuboid {
                centre,
                half,
                sin_cos: (s, c),
                ..
            } => {
                let axes = [
                    Vector3::new(c, 0.0, -s),
                    Vector3::new(0.0, 1.0, 0.0),
                    Vector3::new(s, 0.0, c),
                ];
                let d = ray.origin - centre;
                let mut t0 = t_min;
                let mut t1 = t_max;
                let mut normal = axes[0];
                for (a, axis) in axes.iter().enumerate() {
                    let o = axis.dot(&d);
                    let dir = axis.dot(&ray.dir);
                    if dir.abs() < 1e-15 {
                        if o.abs() > half[a] {
                            return None;
                        }
                        continue;
                    }
                    let ta = (-half[a] - o) / dir;
                    let tb = (half[a] - o) / dir;
                    let (lo, hi) = if ta < tb { (ta, tb) } else { (tb, ta) };
                    if lo > t0 {
                        t0 = lo;
                        normal = if dir > 0.0 { -*axis } else { *axis };
                    }
                    t1 = t1.min(hi);
                    if t0 > t1 {
                        return None;
                    }
                }
                // A ray starting inside the box (t0 == t_min) does not count as a hit.
                (t0 > t_min).then_some(ShapeHit { t: t0, normal })
            }
            Shape::Sphere { centre, radius } => {
                let oc = ray.origin - centre;
                let a = ray.dir.norm_squared();
                let b = oc.dot(&ray.dir);
                let cc = oc.norm_squared() - radius * radius;
                let disc = b * b - a * cc;
                if disc < 0.0 {
                    return None;
                }
                let t = (-b - disc.sqrt()) / a;
                (t > t_min && t < t_max).then(|| ShapeHit {
                    t,
                    normal: (ray.origin + ray.dir * t - centre) / radius,
                })
            }
            Shape::Cylinder {
                axis,
                radius,
                y_top,
                y_bottom,
            } => {
                let mut best: Option<ShapeHit> = None;
                let ox = ray.origin.x - axis[0];
                let oz = ray.origin.z - axis[1];
                let a = ray.dir.x * ray.dir.x + ray.dir.z * ray.dir.z;
                if a > 1e-18 {
                    let b = ox * ray.dir.x + oz * ray.dir.z;
                    let cc = ox * ox + oz * oz - radius * radius;
                    let disc = b * b - a * cc;
                    if disc >= 0.0 {
                        let t = (-b - disc.sqrt()) / a;
                        let y = ray.origin.y + ray.dir.y * t;
                        if t > t_min && t < t_max && y >= y_top && y <= y_bottom {
                            let n = Vector3::new(ox + ray.dir.x * t, 0.0, oz + ray.dir.z * t);
                            best = Some(ShapeHit {
                                t,
                                normal: n / radius,
                            });
                        }
                    }
                }
                if ray.dir.y.abs() > 1e-15 {
                    for (cap_y, ny) in [(y_top, -1.0), (y_bottom, 1.0)] {
                        let t = (cap_y - ray.origin.y) / ray.dir.y;
                        let limit = best.map_or(t_max, |h| h.t);
                        if t > t_min && t < limit {
                            let x = ox + ray.dir.x * t;
                            let z = oz + ray.dir.z * t;
                            if x * x + z * z <= radius * radius {
                                best = Some(ShapeHit {
                                    t,
                                    normal: Vector3::new(0.0, ny, 0.0),
                                });
                            }
                        }
                    }
                }
                best
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ray(o: [f64; 3], d: [f64; 3]) -> Ray {
        Ray {
            origin: Point3::new(o[0], o[1], o[2]),
            dir: Vector3::new(d[0], d[1], d[2]),
        }
    }

    #[test]
    fn rotated_cuboid_hit_by_hand() {
        // A 2 x 2 x 2 cube turned 45° about y, centred 10 m ahead: its front edge is at
        // z = 10 − √2.
        let cube = Shape::cuboid(
            Point3::new(0.0, 0.0, 10.0),
            Vector3::new(1.0, 1.0, 1.0),
            std::f64::consts::FRAC_PI_4,
        );
        let h = cube
            .intersect(&ray([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]), 0.0, 100.0)
            .unwrap();
        assert!((h.t - (10.0 - 2f64.sqrt())).abs() < 1e-12);
        let h = cube
            .intersect(&ray([0.5, 0.0, 0.0], [0.0, 0.0, 2.0]), 0.0, 100.0)
            .unwrap();
        // Off-axis by 0.5: the face x' + z' plane is met at z = 10 − √2 + 0.5, t in units of dir.
        assert!((h.t * 2.0 - (10.0 - 2f64.sqrt() + 0.5)).abs() < 1e-12);
        assert!((h.normal - Vector3::new(1.0, 0.0, -1.0) / 2f64.sqrt()).norm() < 1e-12);
        assert!(cube
            .intersect(&ray([3.0, 0.0, 0.0], [0.0, 0.0, 1.0]), 0.0, 100.0)
            .is_none());
        let bb = cube.aabb();
        assert!((bb.max.x - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn sphere_and_cylinder_by_hand() {
        let s = Shape::Sphere {
            centre: Point3::new(0.0, 0.0, 5.0),
            radius: 1.0,
        };
        let h = s
            .intersect(&ray([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]), 0.0, 9.0)
            .unwrap();
        assert!((h.t - 4.0).abs() < 1e-12 && (h.normal.z + 1.0).abs() < 1e-12);
        let c = Shape::Cylinder {
            axis: [0.0, 5.0],
            radius: 0.5,
            y_top: -2.0,
            y_bottom: 1.0,
        };
        let h = c
            .intersect(&ray([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]), 0.0, 9.0)
            .unwrap();
        assert!((h.t - 4.5).abs() < 1e-12);
        // Looking straight down onto the top cap.
        let h = c
            .intersect(&ray([0.1, -5.0, 5.0], [0.0, 1.0, 0.0]), 0.0, 9.0)
            .unwrap();
        assert!((h.t - 3.0).abs() < 1e-12 && h.normal.y == -1.0);
        // Passing below the cylinder.
        assert!(c
            .intersect(&ray([0.0, 1.5, 0.0], [0.0, 0.0, 1.0]), 0.0, 9.0)
            .is_none());
    }
}
