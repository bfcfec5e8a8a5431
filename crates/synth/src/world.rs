//! A generated world: a ground plane with a road, and a list of primitives (buildings, clutter,
//! labelled objects) with materials, searchable by ray through a BVH.

use crate::bvh::Bvh;
use crate::shapes::{Ray, Shape};
use crate::texture::{Material, Pattern};
use kitti::{Box3D, ObjectType};
use nalgebra::{Point3, Vector3};
use std::ops::Range;

/// Ground hits farther than this from the ray origin count as no hit (the horizon), metres.
pub const MAX_GROUND_DISTANCE: f64 = 150.0;

/// The road and ground in the road frame (the world turned by −`yaw` about the camera).
#[derive(Debug, Clone, PartialEq)]
pub struct Ground {
    /// Height of the ground plane (world y, pointing down).
    pub y: f64,
    /// Rotation of the road frame about y relative to the world.
    pub yaw: f64,
    /// Road extent in road-frame x: (left, right).
    pub road: (f64, f64),
    /// Sidewalk width on each side.
    pub sidewalk: f64,
    /// Asphalt with lane markings.
    pub road_material: Material,
    /// Sidewalk paving.
    pub sidewalk_material: Material,
    /// Verge (grass, gravel).
    pub verge_material: Material,
}

impl Ground {
    /// Road-frame x of a world point.
    pub fn road_x(&self, p: &Point3<f64>) -> f64 {
        let (s, c) = self.yaw.sin_cos();
        c * p.x - s * p.z
    }

    /// The material of the ground at world point `p`.
    pub fn material_at(&self, p: &Point3<f64>) -> &Material {
        let x = self.road_x(p);
        if x >= self.road.0 && x <= self.road.1 {
            &self.road_material
        } else if x >= self.road.0 - self.sidewalk && x <= self.road.1 + self.sidewalk {
            &self.sidewalk_material
        } else {
            &self.verge_material
        }
    }
}

/// A labelled object of the world and the primitives it is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldObject {
    /// Its class.
    pub kind: ObjectType,
    /// Its label box (the shape lies inside it).
    pub box3d: Box3D,
    /// Indices of its primitives in [`World::shapes`].
    pub shapes: Range<usize>,
}

/// What a ray hit.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Ray parameter.
    pub t: f64,
    /// Hit point.
    pub point: Point3<f64>,
    /// Unit normal facing the ray.
    pub normal: Vector3<f64>,
    /// Surface material.
    pub material: Material,
    /// Index of the labelled object hit, if any.
    pub object: Option<usize>,
}

/// The whole world of one frame.
#[derive(Debug, Clone)]
pub struct World {
    /// Ground plane and road.
    pub ground: Ground,
    /// All primitives.
    pub shapes: Vec<Shape>,
    /// Material of each primitive.
    pub materials: Vec<Material>,
    /// Owning object of each primitive (`None` for scenery).
    pub owners: Vec<Option<usize>>,
    /// Labelled objects.
    pub objects: Vec<WorldObject>,
    /// Unit vector towards the sun.
    pub sun: Vector3<f64>,
    /// Seed for textures.
    pub texture_seed: u64,
    bvh: Bvh,
}

impl World {
    /// Assembles a world and builds its search structure.
    pub fn new(
        ground: Ground,
        parts: Vec<(Shape, Material, Option<usize>)>,
        objects: Vec<WorldObject>,
        sun: Vector3<f64>,
        texture_seed: u64,
    ) -> World {
        let shapes: Vec<Shape> = parts.iter().map(|p| p.0).collect();
        let bvh = Bvh::build(&shapes);
        World {
            ground,
            materials: parts.iter().map(|p| p.1).collect(),
            owners: parts.iter().map(|p| p.2).collect(),
            shapes,
            objects,
            sun,
            texture_seed,
            bvh,
        }
    }

    /// The nearest surface along `ray` (ground within [`MAX_GROUND_DISTANCE`] included).
    pub fn trace(&self, ray: &Ray) -> Option<Hit> {
        let mut best: Option<Hit> = None;
        let mut limit = f64::INFINITY;
        if ray.dir.y > 1e-12 {
            let t = (self.ground.y - ray.origin.y) / ray.dir.y;
            if t > 1e-9 && t * ray.dir.norm() < MAX_GROUND_DISTANCE {
                let point = ray.origin + ray.dir * t;
                limit = t;
                best = Some(Hit {
                    t,
                    point,
                    normal: Vector3::new(0.0, -1.0, 0.0),
                    material: *self.ground.material_at(&point),
                    object: None,
                });
            }
        }
        if let Some((i, h)) = self.bvh.intersect(&self.shapes, ray, 1e-9, limit, |_| true) {
            let normal = if h.normal.dot(&ray.dir) > 0.0 {
                -h.normal
            } else {
                h.normal
            };
            best = Some(Hit {
                t: h.t,
                point: ray.origin + ray.dir * h.t,
                normal,
                material: self.materials[i],
                object: self.owners[i],
            });
        }
        best
    }

    /// The nearest hit on object `index` alone, ignoring everything else.
    pub fn trace_object(&self, ray: &Ray, index: usize) -> Option<f64> {
        self.objects[index]
            .shapes
            .clone()
            .filter_map(|i| self.shapes[i].intersect(ray, 1e-9, f64::INFINITY))
            .map(|h| h.t)
            .min_by(f64::total_cmp)
    }
}

/// A plain material.
pub fn flat(colour: [f64; 3], reflectance: f64) -> Material {
    Material {
        colour,
        pattern: Pattern::Flat,
        reflectance,
    }
}
