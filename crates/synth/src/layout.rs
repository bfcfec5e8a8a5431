//! Sampling a street scene: road, sidewalks, buildings, clutter, and labelled cars, vans and
//! pedestrians placed without overlaps, at KITTI-like distances and orientations.

use crate::objects::object_parts;
use crate::rig::CAMERA_HEIGHT;
use crate::rng::Rng;
use crate::shapes::Shape;
use crate::texture::{Material, Pattern};
use crate::world::{flat, Ground, World, WorldObject};
use kitti::{Box3D, ObjectType};
use nalgebra::{Point3, Vector3};
use std::f64::consts::{FRAC_PI_2, PI};

/// How many objects of each kind a frame gets and how far they go.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SceneConfig {
    /// Cars (and vans) a frame, inclusive range.
    pub cars: (u32, u32),
    /// Share of vehicles that are vans.
    pub van_share: f64,
    /// Pedestrians a frame, inclusive range.
    pub pedestrians: (u32, u32),
    /// Probability that a frame has no pedestrian at all.
    pub no_pedestrian_chance: f64,
    /// Farthest car centre, metres ahead.
    pub max_car_distance: f64,
    /// Farthest pedestrian, metres ahead.
    pub max_pedestrian_distance: f64,
}

/// The nearest any car or pedestrian is placed, metres ahead of the camera.
pub const NEAREST_OBJECT: f64 = 4.0;

impl Default for SceneConfig {
    fn default() -> Self {
        SceneConfig {
            cars: (3, 12),
            van_share: 0.12,
            pedestrians: (1, 8),
            no_pedestrian_chance: 0.3,
            max_car_distance: 70.0,
            max_pedestrian_distance: 40.0,
        }
    }
}

/// A footprint circle in the road frame used to keep things apart.
struct Footprint {
    x: f64,
    z: f64,
    r: f64,
}

struct Builder {
    parts: Vec<(Shape, Material, Option<usize>)>,
    objects: Vec<WorldObject>,
    taken: Vec<Footprint>,
    yaw: f64,
}

impl Builder {
    fn free(&self, x: f64, z: f64, r: f64) -> bool {
        self.taken
            .iter()
            .all(|f| (f.x - x).hypot(f.z - z) > f.r + r)
    }

    /// Road frame → world (rectified camera) point.
    fn to_world(&self, x: f64, y: f64, z: f64) -> Point3<f64> {
        let (s, c) = self.yaw.sin_cos();
        Point3::new(c * x + s * z, y, -s * x + c * z)
    }

    fn scenery(&mut self, shape: Shape, material: Material) {
        let shape = match shape {
            Shape::Cuboid {
                centre, half, yaw, ..
            } => Shape::cuboid(
                self.to_world(centre.x, centre.y, centre.z),
                half,
                yaw + self.yaw,
            ),
            Shape::Sphere { centre, radius } => Shape::Sphere {
                centre: self.to_world(centre.x, centre.y, centre.z),
                radius,
            },
            Shape::Cylinder {
                axis,
                radius,
                y_top,
                y_bottom,
            } => {
                let p = self.to_world(axis[0], 0.0, axis[1]);
                Shape::Cylinder {
                    axis: [p.x, p.z],
                    radius,
                    y_top,
                    y_bottom,
                }
            }
        };
        self.parts.push((shape, material, None));
    }

    /// Adds a labelled object whose bottom centre is at road-frame (x, z) with road-frame
    /// heading `ry`; the label values are rounded to KITTI's two decimals before the shape is
    /// built, so the written label describes the rendered object exactly.
    fn object(
        &mut self,
        kind: ObjectType,
        dims: (f64, f64, f64),
        x: f64,
        z: f64,
        ry: f64,
        rng: &mut Rng,
    ) {
        let r2 = |v: f64| (v * 100.0).round() / 100.0;
        let p = self.to_world(x, CAMERA_HEIGHT, z);
        let (h, w, l) = dims;
        let b = Box3D {
            location: Point3::new(r2(p.x), r2(p.y), r2(p.z)),
            h: r2(h),
            w: r2(w),
            l: r2(l),
            ry: r2(kitti::wrap_angle(ry + self.yaw)),
        };
        let index = self.objects.len();
        let start = self.parts.len();
        for (shape, material) in object_parts(kind, &b, rng) {
            self.parts.push((shape, material, Some(index)));
        }
        self.objects.push(WorldObject {
            kind,
            box3d: b,
            shapes: start..self.parts.len(),
        });
        self.taken.push(Footprint {
            x,
            z,
            r: 0.5 * l.hypot(w),
        });
    }
}

/// Samples the world of one frame.
pub fn sample_world(cfg: &SceneConfig, rng: &mut Rng) -> World {
    let lanes_left = rng.int(1, 3) as f64;
    let lanes_right = rng.int(0, 1) as f64;
    let lane = rng.uniform(3.0, 3.7);
    let road = (
        -lane / 2.0 - lane * lanes_left,
        lane / 2.0 + lane * lanes_right,
    );
    let sidewalk = rng.uniform(2.0, 4.0);
    let verge = rng.uniform(0.5, 7.0);
    let asphalt = rng.uniform(0.22, 0.38);
    let ground = Ground {
        y: CAMERA_HEIGHT,
        yaw: rng.uniform(-0.12, 0.12),
        road,
        sidewalk,
        road_material: Material {
            colour: [asphalt, asphalt, asphalt * 1.05],
            pattern: Pattern::Road {
                lane,
                offset: lane / 2.0,
            },
            reflectance: 0.25,
        },
        sidewalk_material: Material {
            colour: [0.62, 0.6, 0.56],
            pattern: Pattern::Slabs {
                size: rng.uniform(0.4, 1.0),
            },
            reflectance: 0.35,
        },
        verge_material: Material {
            colour: if rng.chance(0.5) {
                [0.25, 0.42, 0.15]
            } else {
                [0.45, 0.4, 0.3]
            },
            pattern: Pattern::Noise {
                scale: 0.3,
                contrast: 0.45,
            },
            reflectance: 0.45,
        },
    };
    let mut b = Builder {
        parts: Vec::new(),
        objects: Vec::new(),
        taken: Vec::new(),
        yaw: ground.yaw,
    };
    buildings(&mut b, road, sidewalk + verge, rng);
    clutter(&mut b, road, sidewalk, verge, rng);
    vehicles(&mut b, cfg, road, lane, lanes_right, rng);
    pedestrians(&mut b, cfg, road, sidewalk, rng);
    let elevation = rng.uniform(0.5, 1.1);
    let azimuth = rng.uniform(-PI, PI);
    let sun = Vector3::new(
        elevation.cos() * azimuth.sin(),
        -elevation.sin(),
        elevation.cos() * azimuth.cos(),
    );
    World::new(ground, b.parts, b.objects, sun, rng.next_u64())
}

fn buildings(b: &mut Builder, road: (f64, f64), setback: f64, rng: &mut Rng) {
    for side in [-1.0, 1.0] {
        let edge = if side < 0.0 { road.0 } else { road.1 };
        let mut z = -30.0;
        while z < 140.0 {
            let len = rng.uniform(8.0, 28.0);
            if rng.chance(0.85) {
                let face = edge + side * (setback + rng.uniform(0.0, 3.0));
                let depth = rng.uniform(8.0, 16.0);
                let height = rng.uniform(5.0, 22.0);
                let pattern = match rng.int(0, 3) {
                    0 => Pattern::Flat,
                    1 => Pattern::Bricks {
                        size: rng.uniform(0.25, 0.4),
                    },
                    2 => Pattern::Windows {
                        spacing: rng.uniform(1.8, 3.2),
                    },
                    _ => Pattern::Noise {
                        scale: rng.uniform(0.1, 1.0),
                        contrast: rng.uniform(0.1, 0.4),
                    },
                };
                let tone = rng.uniform(0.35, 0.85);
                let colour = [
                    tone * rng.uniform(0.85, 1.15),
                    tone * rng.uniform(0.8, 1.0),
                    tone * rng.uniform(0.7, 1.0),
                ];
                b.scenery(
                    Shape::cuboid(
                        Point3::new(
                            face + side * depth / 2.0,
                            CAMERA_HEIGHT - height / 2.0,
                            z + len / 2.0,
                        ),
                        Vector3::new(depth / 2.0, height / 2.0, len / 2.0),
                        0.0,
                    ),
                    Material {
                        colour: colour.map(|c: f64| c.min(1.0)),
                        pattern,
                        reflectance: rng.uniform(0.2, 0.6),
                    },
                );
            }
            z += len + rng.uniform(0.0, 6.0);
        }
    }
}

fn clutter(b: &mut Builder, road: (f64, f64), sidewalk: f64, verge: f64, rng: &mut Rng) {
    let count = rng.int(6, 20);
    for _ in 0..count {
        let side = if rng.chance(0.5) { -1.0 } else { 1.0 };
        let edge = if side < 0.0 { road.0 } else { road.1 };
        let x = edge + side * rng.uniform(sidewalk - 0.6, sidewalk + verge.max(0.7) - 0.3);
        let z = rng.uniform(2.0, 90.0);
        match rng.int(0, 2) {
            0 => {
                if !b.free(x, z, 0.2) {
                    continue;
                }
                let height = rng.uniform(3.0, 7.0);
                b.scenery(
                    Shape::Cylinder {
                        axis: [x, z],
                        radius: rng.uniform(0.05, 0.12),
                        y_top: CAMERA_HEIGHT - height,
                        y_bottom: CAMERA_HEIGHT,
                    },
                    flat([0.4, 0.42, 0.45], 0.6),
                );
                b.taken.push(Footprint { x, z, r: 0.2 });
            }
            1 => {
                let crown = rng.uniform(1.0, 2.2);
                if !b.free(x, z, 0.4) {
                    continue;
                }
                let trunk = rng.uniform(2.0, 3.5);
                b.scenery(
                    Shape::Cylinder {
                        axis: [x, z],
                        radius: 0.15,
                        y_top: CAMERA_HEIGHT - trunk - crown,
                        y_bottom: CAMERA_HEIGHT,
                    },
                    Material {
                        colour: [0.35, 0.25, 0.15],
                        pattern: Pattern::Noise {
                            scale: 0.05,
                            contrast: 0.3,
                        },
                        reflectance: 0.4,
                    },
                );
                b.scenery(
                    Shape::Sphere {
                        centre: Point3::new(x, CAMERA_HEIGHT - trunk - crown, z),
                        radius: crown,
                    },
                    Material {
                        colour: [0.15, rng.uniform(0.3, 0.5), 0.1],
                        pattern: Pattern::Noise {
                            scale: 0.12,
                            contrast: 0.5,
                        },
                        reflectance: 0.5,
                    },
                );
                b.taken.push(Footprint { x, z, r: 0.4 });
            }
            _ => {
                let half = Vector3::new(
                    rng.uniform(0.25, 0.6),
                    rng.uniform(0.3, 0.6),
                    rng.uniform(0.25, 0.6),
                );
                if !b.free(x, z, half.x.hypot(half.z) + 0.1) {
                    continue;
                }
                b.scenery(
                    Shape::cuboid(
                        Point3::new(x, CAMERA_HEIGHT - half.y, z),
                        half,
                        rng.uniform(-PI, PI),
                    ),
                    Material {
                        colour: [
                            rng.uniform(0.1, 0.8),
                            rng.uniform(0.1, 0.8),
                            rng.uniform(0.1, 0.8),
                        ],
                        pattern: Pattern::Noise {
                            scale: 0.2,
                            contrast: 0.2,
                        },
                        reflectance: 0.5,
                    },
                );
                b.taken.push(Footprint {
                    x,
                    z,
                    r: half.x.hypot(half.z),
                });
            }
        }
    }
}

/// Whether road-frame (x, z) is comfortably inside the camera's horizontal field of view.
fn in_view(x: f64, z: f64) -> bool {
    z > 3.0 && x.abs() < 0.95 * z
}

fn vehicles(
    b: &mut Builder,
    cfg: &SceneConfig,
    road: (f64, f64),
    lane: f64,
    lanes_right: f64,
    rng: &mut Rng,
) {
    let target = rng.int(cfg.cars.0 as i64, cfg.cars.1 as i64);
    let mut placed = 0;
    for _ in 0..target * 20 {
        if placed >= target {
            break;
        }
        let van = rng.chance(cfg.van_share);
        let (kind, dims) = if van {
            (
                ObjectType::Van,
                (
                    rng.uniform(1.9, 2.4),
                    rng.uniform(1.8, 2.05),
                    rng.uniform(4.4, 5.4),
                ),
            )
        } else {
            (
                ObjectType::Car,
                (
                    rng.normal_clamped(1.52, 0.08, 1.35, 1.75),
                    rng.normal_clamped(1.63, 0.08, 1.45, 1.85),
                    rng.normal_clamped(3.9, 0.3, 3.2, 4.7),
                ),
            )
        };
        let z = NEAREST_OBJECT + (cfg.max_car_distance - NEAREST_OBJECT) * rng.f64().powf(1.3);
        let (x, ry) = match rng.int(0, 9) {
            // Driving in a lane: ours and lanes to the right go away, lanes to the left come.
            0..=3 => {
                let k = rng.int(
                    -((-road.0 - lane / 2.0) / lane).round() as i64,
                    lanes_right as i64,
                ) as f64;
                let dir = if k >= 0.0 { -FRAC_PI_2 } else { FRAC_PI_2 };
                (
                    k * lane + rng.normal_clamped(0.0, 0.2, -0.4, 0.4),
                    dir + rng.normal_clamped(0.0, 0.04, -0.1, 0.1),
                )
            }
            // Parked along either kerb, either way round.
            4..=8 => {
                let right = rng.chance(0.5);
                let x = if right {
                    road.1 - dims.1 / 2.0 - 0.25
                } else {
                    road.0 + dims.1 / 2.0 + 0.25
                };
                let dir = if rng.chance(0.7) {
                    -FRAC_PI_2
                } else {
                    FRAC_PI_2
                };
                (x, dir + rng.normal_clamped(0.0, 0.05, -0.15, 0.15))
            }
            // Turning or crossing: any orientation on the road.
            _ => (
                rng.uniform(road.0 + 2.5, road.1 - 2.5),
                rng.uniform(-PI, PI),
            ),
        };
        let r = 0.5 * dims.2.hypot(dims.1) + 0.3;
        if in_view(x, z) && b.free(x, z, r) {
            b.object(kind, dims, x, z, ry, rng);
            placed += 1;
        }
    }
}

fn pedestrians(b: &mut Builder, cfg: &SceneConfig, road: (f64, f64), sidewalk: f64, rng: &mut Rng) {
    if rng.chance(cfg.no_pedestrian_chance) {
        return;
    }
    let target = rng.int(cfg.pedestrians.0 as i64, cfg.pedestrians.1 as i64);
    let mut placed = 0;
    for _ in 0..target * 20 {
        if placed >= target {
            break;
        }
        let dims = (
            rng.normal_clamped(1.75, 0.09, 1.5, 1.98),
            rng.normal_clamped(0.62, 0.06, 0.5, 0.75),
            rng.normal_clamped(0.82, 0.1, 0.6, 1.05),
        );
        let z =
            NEAREST_OBJECT + (cfg.max_pedestrian_distance - NEAREST_OBJECT) * rng.f64().powf(1.2);
        let x = if rng.chance(0.85) {
            let right = rng.chance(0.5);
            let off = rng.uniform(0.5, sidewalk - 0.5);
            if right {
                road.1 + off
            } else {
                road.0 - off
            }
        } else {
            rng.uniform(road.0 + 0.5, road.1 - 0.5)
        };
        let ry = if rng.chance(0.6) {
            (if rng.chance(0.5) {
                FRAC_PI_2
            } else {
                -FRAC_PI_2
            }) + rng.normal_clamped(0.0, 0.3, -1.0, 1.0)
        } else {
            rng.uniform(-PI, PI)
        };
        if in_view(x, z) && b.free(x, z, 0.5 * dims.2.hypot(dims.1) + 0.2) {
            b.object(ObjectType::Pedestrian, dims, x, z, ry, rng);
            placed += 1;
        }
    }
}
