//! Procedural solid textures and shading. A surface's colour depends only on the 3D point and
//! its normal (never on the viewer), so both cameras see the same colour at the same point.

use crate::rng::{hash, mix64, unit};
use nalgebra::{Point3, Vector3};

/// A linear RGB colour in 0..1.
pub type Colour = [f64; 3];

/// How a material's colour varies over its surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// Uniform colour: a low-texture region, hard for stereo matching.
    Flat,
    /// Value noise of feature size `scale` metres and relative `contrast`.
    Noise {
        /// Feature size in metres.
        scale: f64,
        /// Relative brightness variation.
        contrast: f64,
    },
    /// Bricks: a repetitive pattern, a classic trap for stereo matching.
    Bricks {
        /// Brick length in metres (height is a third of it).
        size: f64,
    },
    /// A facade with a regular grid of dark windows.
    Windows {
        /// Window spacing in metres.
        spacing: f64,
    },
    /// Paving slabs of `size` metres with joints and grain (a repetitive ground texture).
    Slabs {
        /// Slab edge length in metres.
        size: f64,
    },
    /// Asphalt with dashed lane markings every `lane` metres in x.
    Road {
        /// Lane width in metres.
        lane: f64,
        /// x position of a lane boundary.
        offset: f64,
    },
}

/// Surface appearance: base colour, pattern and LiDAR reflectance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    /// Base colour.
    pub colour: Colour,
    /// Colour variation.
    pub pattern: Pattern,
    /// LiDAR reflectance, 0..1.
    pub reflectance: f64,
}

/// Smooth 3D value noise in [0, 1] with a seed.
pub fn value_noise(p: &Point3<f64>, seed: u64) -> f64 {
    let (fx, fy, fz) = (p.x.floor(), p.y.floor(), p.z.floor());
    let (tx, ty, tz) = (p.x - fx, p.y - fy, p.z - fz);
    let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
    let (sx, sy, sz) = (smooth(tx), smooth(ty), smooth(tz));
    let (ix, iy, iz) = (fx as i64, fy as i64, fz as i64);
    let corner = |dx: i64, dy: i64, dz: i64| {
        let key = seed
            ^ ((ix + dx) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ ((iy + dy) as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ ((iz + dz) as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
        unit(mix64(key))
    };
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    let x00 = lerp(corner(0, 0, 0), corner(1, 0, 0), sx);
    let x10 = lerp(corner(0, 1, 0), corner(1, 1, 0), sx);
    let x01 = lerp(corner(0, 0, 1), corner(1, 0, 1), sx);
    let x11 = lerp(corner(0, 1, 1), corner(1, 1, 1), sx);
    lerp(lerp(x00, x10, sy), lerp(x01, x11, sy), sz)
}

/// Three octaves of value noise (feature sizes 1, 1/2.7 and 1/7.3), in [0, 1].
fn fractal(p: &Point3<f64>, seed: u64) -> f64 {
    0.5 * value_noise(p, seed)
        + 0.3 * value_noise(&(p * 2.7), seed ^ 0x55)
        + 0.2 * value_noise(&(p * 7.3), seed ^ 0xAA)
}

impl Material {
    /// The surface colour (albedo) at `p` with outward normal `n`.
    pub fn albedo(&self, p: &Point3<f64>, n: &Vector3<f64>, seed: u64) -> Colour {
        let scale = |c: Colour, k: f64| [c[0] * k, c[1] * k, c[2] * k];
        match self.pattern {
            Pattern::Flat => self.colour,
            Pattern::Noise { scale: s, contrast } => {
                let v = fractal(&(p / s), seed);
                scale(self.colour, 1.0 + contrast * (2.0 * v - 1.0))
            }
            Pattern::Bricks { size } => {
                // Coordinates along the wall: whichever horizontal axis the normal is not.
                let along = if n.x.abs() > n.z.abs() { p.z } else { p.x };
                let h = size / 3.0;
                let row = (p.y / h).floor();
                let shifted = along / size + 0.5 * row.rem_euclid(2.0);
                let mortar = (shifted.fract() < 0.06) || ((p.y / h).fract() < 0.12);
                let grain = 0.85 + 0.3 * fractal(&(p * 8.0), seed);
                let tone = 0.85 + 0.3 * unit(hash(&[seed, shifted.floor() as u64, row as u64]));
                if mortar {
                    [0.75, 0.74, 0.7]
                } else {
                    scale(self.colour, grain * tone)
                }
            }
            Pattern::Windows { spacing } => {
                let along = if n.x.abs() > n.z.abs() { p.z } else { p.x };
                let (u, v) = (
                    (along / spacing).rem_euclid(1.0),
                    (p.y / spacing).rem_euclid(1.0),
                );
                let grain = 0.9 + 0.2 * fractal(&(p * 3.0), seed);
                if (0.25..0.75).contains(&u) && (0.2..0.7).contains(&v) {
                    let glint = 0.08 + 0.12 * value_noise(&(p * 0.7), seed ^ 9);
                    [glint, glint * 1.1, glint * 1.3]
                } else {
                    scale(self.colour, grain)
                }
            }
            Pattern::Slabs { size } => {
                let (u, w) = ((p.x / size).rem_euclid(1.0), (p.z / size).rem_euclid(1.0));
                if u < 0.04 || w < 0.04 {
                    scale(self.colour, 0.6)
                } else {
                    let tone = 0.9
                        + 0.2
                            * unit(hash(&[
                                seed,
                                (p.x / size).floor() as u64,
                                (p.z / size).floor() as u64,
                            ]));
                    scale(self.colour, tone * (0.75 + 0.5 * fractal(&(p * 6.0), seed)))
                }
            }
            Pattern::Road { lane, offset } => {
                let base = 0.7 + 0.6 * fractal(&(p * 4.0), seed);
                let lx = (p.x - offset).rem_euclid(lane);
                let dash = (p.z / 3.0).rem_euclid(3.0) < 1.0;
                if (lx < 0.07 || lx > lane - 0.07) && dash {
                    [0.85, 0.85, 0.8]
                } else {
                    scale(self.colour, base)
                }
            }
        }
    }
}

/// Lambertian shading with a sun direction `sun` (unit, pointing towards the sun) and ambient light.
pub fn shade(albedo: Colour, normal: &Vector3<f64>, sun: &Vector3<f64>) -> Colour {
    let light = 0.4 + 0.75 * normal.dot(sun).max(0.0);
    albedo.map(|c| (c * light).clamp(0.0, 1.0))
}

/// The sky seen along direction `dir`: a gradient with soft clouds (at infinity, so it has the
/// same colour in both cameras and zero disparity).
pub fn sky(dir: &Vector3<f64>, seed: u64) -> Colour {
    let d = dir.normalize();
    let up = (-d.y).clamp(0.0, 1.0);
    let base = [0.62 - 0.3 * up, 0.75 - 0.2 * up, 0.92 - 0.05 * up];
    let cloud = value_noise(&Point3::new(d.x * 6.0, d.y * 14.0, 0.0), seed);
    let c = ((cloud - 0.55) * 2.5).clamp(0.0, 0.6);
    [
        base[0] + (0.95 - base[0]) * c,
        base[1] + (0.95 - base[1]) * c,
        base[2] + (0.97 - base[2]) * c,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_continuous_bounded_and_seeded() {
        let p = Point3::new(1.3, 2.7, -4.1);
        let q = Point3::new(1.3 + 1e-6, 2.7, -4.1);
        assert!((value_noise(&p, 1) - value_noise(&q, 1)).abs() < 1e-4);
        assert_ne!(value_noise(&p, 1), value_noise(&p, 2));
        for i in 0..1000 {
            let v = value_noise(&Point3::new(i as f64 * 0.37, i as f64 * 0.11, 0.5), 4);
            assert!((0.0..=1.0).contains(&v));
        }
    }
}
