//! A simulated 64-beam spinning LiDAR (HDL-64E-like): beams from +2° down to −24.8°, a full
//! turn in configurable azimuth steps, Gaussian range noise and material reflectance.

use crate::rig::Rig;
use crate::rng::{hash, mix64, unit, Rng};
use crate::shapes::Ray;
use crate::world::World;
use kitti::LidarPoint;
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

/// LiDAR settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LidarConfig {
    /// Number of beams.
    pub beams: u32,
    /// Elevation of the top beam, degrees.
    pub top_deg: f64,
    /// Elevation of the bottom beam, degrees.
    pub bottom_deg: f64,
    /// Azimuth step, degrees (the HDL-64E spins at about 0.08–0.35°).
    pub azimuth_step_deg: f64,
    /// Maximum range, metres.
    pub max_range: f64,
    /// Standard deviation of the range noise, metres.
    pub range_noise: f64,
}

impl Default for LidarConfig {
    fn default() -> Self {
        LidarConfig {
            beams: 64,
            top_deg: 2.0,
            bottom_deg: -24.8,
            azimuth_step_deg: 0.18,
            max_range: 120.0,
            range_noise: 0.01,
        }
    }
}

/// One return with the labelled object it came from (for checks; the `.bin` has no such field).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Return {
    /// The point as written to `velodyne/`.
    pub point: LidarPoint,
    /// Index of the labelled object hit, if any.
    pub object: Option<u16>,
}

/// Scans the world from the rig's LiDAR. Beams are processed in parallel on the current rayon
/// pool; the noise of each ray is a pure function of `seed` and the ray, so results do not
/// depend on thread order.
pub fn scan(world: &World, rig: &Rig, cfg: &LidarConfig, seed: u64) -> Vec<Return> {
    let origin = rig.lidar_origin();
    let to_world = rig
        .calib
        .velo_to_rect_matrix()
        .fixed_view::<3, 3>(0, 0)
        .into_owned();
    let columns = (360.0 / cfg.azimuth_step_deg).round().max(1.0) as u32;
    let beams: Vec<Vec<Return>> = (0..cfg.beams)
        .into_par_iter()
        .map(|beam| {
            let t = if cfg.beams > 1 {
                beam as f64 / (cfg.beams - 1) as f64
            } else {
                0.0
            };
            let elevation = (cfg.top_deg + (cfg.bottom_deg - cfg.top_deg) * t).to_radians();
            let mut out = Vec::new();
            for col in 0..columns {
                // Azimuth measured from +x (forward) towards +y (left), sweeping a full turn.
                let azimuth = (180.0 - col as f64 * 360.0 / columns as f64).to_radians();
                let dir_velo = Vector3::new(
                    elevation.cos() * azimuth.cos(),
                    elevation.cos() * azimuth.sin(),
                    elevation.sin(),
                );
                let ray = Ray {
                    origin,
                    dir: to_world * dir_velo,
                };
                let Some(hit) = world.trace(&ray) else {
                    continue;
                };
                if hit.t > cfg.max_range {
                    continue;
                }
                let mut rng = Rng::new(mix64(hash(&[seed, beam as u64, col as u64])));
                let range = hit.t + cfg.range_noise * rng.normal();
                let p = Point3::origin() + dir_velo * range;
                let incidence = hit.normal.dot(&ray.dir).abs();
                let r = hit.material.reflectance * (0.6 + 0.4 * incidence)
                    + 0.02 * (unit(rng.next_u64()) - 0.5);
                out.push(Return {
                    point: LidarPoint {
                        x: p.x as f32,
                        y: p.y as f32,
                        z: p.z as f32,
                        r: r.clamp(0.0, 1.0) as f32,
                    },
                    object: hit.object.map(|i| i as u16),
                });
            }
            out
        })
        .collect();
    beams.into_iter().flatten().collect()
}
