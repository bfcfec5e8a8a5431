//! Ray casting the stereo pair: colour images from cameras 2 and 3, and for the left image the
//! exact depth, disparity and the object seen at each pixel.

use crate::rig::Rig;
use crate::rng::hash;
use crate::shapes::Ray;
use crate::texture::{shade, sky};
use crate::world::World;
use rayon::prelude::*;

/// Standard deviation of the per-pixel sensor noise, in 8-bit levels.
pub const SENSOR_NOISE: f64 = 1.5;

/// One rendered camera image.
#[derive(Debug, Clone)]
pub struct CameraImage {
    /// 8-bit RGB, row-major.
    pub rgb: Vec<u8>,
    /// Depth (rectified z) of the surface at each pixel, 0 where the ray sees the sky.
    pub depth: Vec<f32>,
    /// Index of the labelled object seen at each pixel, if any.
    pub object: Vec<Option<u16>>,
}

/// Renders the view of camera `camera` (2 = left, 3 = right). Rows are rendered in parallel
/// on the current rayon pool; `noise_seed` makes the sensor noise differ between cameras.
pub fn render_camera(world: &World, rig: &Rig, camera: usize, noise_seed: u64) -> CameraImage {
    let (w, h) = (rig.width as usize, rig.height as usize);
    let origin = rig.camera_centre(camera);
    let rows: Vec<CameraImage> = (0..h)
        .into_par_iter()
        .map(|v| {
            let mut row = CameraImage::with_capacity(w);
            for u in 0..w {
                let ray = Ray {
                    origin,
                    dir: rig.pixel_dir(u as f64, v as f64),
                };
                let (colour, z, obj) = match world.trace(&ray) {
                    Some(hit) => {
                        let albedo =
                            hit.material
                                .albedo(&hit.point, &hit.normal, world.texture_seed);
                        (
                            shade(albedo, &hit.normal, &world.sun),
                            hit.t as f32,
                            hit.object.map(|i| i as u16),
                        )
                    }
                    None => (sky(&ray.dir, world.texture_seed), 0.0, None),
                };
                let bits = hash(&[noise_seed, (v * w + u) as u64]);
                for (ch, c) in colour.iter().enumerate() {
                    // 21 random bits a channel from one hash.
                    let n = ((bits >> (21 * ch)) & 0x1F_FFFF) as f64 / (1u64 << 21) as f64;
                    // Uniform noise with the stated standard deviation: width √12·σ.
                    let value = c.sqrt() * 255.0 + (n - 0.5) * SENSOR_NOISE * 12f64.sqrt();
                    row.rgb.push(value.round().clamp(0.0, 255.0) as u8);
                }
                row.depth.push(z);
                row.object.push(obj);
            }
            row
        })
        .collect();
    let mut out = CameraImage::with_capacity(w * h);
    for row in rows {
        out.rgb.extend(row.rgb);
        out.depth.extend(row.depth);
        out.object.extend(row.object);
    }
    out
}

impl CameraImage {
    fn with_capacity(pixels: usize) -> Self {
        CameraImage {
            rgb: Vec::with_capacity(pixels * 3),
            depth: Vec::with_capacity(pixels),
            object: Vec::with_capacity(pixels),
        }
    }
}

/// Number of pixels of the left image whose ray meets object `index` at all (ignoring
/// everything in front of it), counted over the pixel rectangle `[u0, u1] × [v0, v1]`.
pub fn silhouette_pixels(
    world: &World,
    rig: &Rig,
    index: usize,
    cols: (u32, u32),
    rows: (u32, u32),
) -> usize {
    let origin = rig.camera_centre(2);
    let mut n = 0;
    for v in rows.0..=rows.1 {
        for u in cols.0..=cols.1 {
            let ray = Ray {
                origin,
                dir: rig.pixel_dir(u as f64, v as f64),
            };
            n += world.trace_object(&ray, index).is_some() as usize;
        }
    }
    n
}
