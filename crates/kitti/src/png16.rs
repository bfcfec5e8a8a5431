//! 16-bit grayscale PNG maps: disparity maps (KITTI stereo convention: value / 256 pixels,
//! 0 = invalid) and the synthetic instance masks (label line number, 0 = none).

use crate::error::{KittiError, Result};
use crate::io::write_atomic_with;
use image::{DynamicImage, ImageEncoder};
use std::path::Path;

/// Reads a 16-bit single-channel PNG as (width, height, row-major values).
/// Any other pixel format is an error that names the file and the format found.
pub fn read_gray16(path: &Path) -> Result<(u32, u32, Vec<u16>)> {
    let img = image::ImageReader::open(path)
        .map_err(|e| KittiError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| KittiError::io(path, e))?
        .decode()
        .map_err(|e| KittiError::malformed(path, None, format!("cannot decode PNG: {e}")))?;
    match img {
        DynamicImage::ImageLuma16(buf) => Ok((buf.width(), buf.height(), buf.into_raw())),
        other => Err(KittiError::malformed(
            path,
            None,
            format!("expected a 16-bit grayscale PNG, found {:?}", other.color()),
        )),
    }
}

/// Writes values as a 16-bit grayscale PNG, atomically.
pub fn write_gray16(path: &Path, width: u32, height: u32, values: &[u16]) -> Result<()> {
    if values.len() != width as usize * height as usize {
        return Err(KittiError::malformed(
            path,
            None,
            format!("{} values for a {width}x{height} image", values.len()),
        ));
    }
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    write_atomic_with(path, |file| {
        image::codecs::png::PngEncoder::new(std::io::BufWriter::new(file))
            .write_image(&bytes, width, height, image::ExtendedColorType::L16)
            .map_err(std::io::Error::other)
    })
}

/// A dense disparity map in pixels; 0 marks an invalid pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct DisparityMap {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Row-major disparities.
    pub data: Vec<f32>,
}

impl DisparityMap {
    /// A map of zeros (all invalid).
    pub fn new(width: u32, height: u32) -> Self {
        DisparityMap {
            width,
            height,
            data: vec![0.0; width as usize * height as usize],
        }
    }
    /// Disparity at column `u`, row `v` (0 = invalid).
    pub fn get(&self, u: u32, v: u32) -> f32 {
        self.data[v as usize * self.width as usize + u as usize]
    }
    /// Sets the disparity at column `u`, row `v`.
    pub fn set(&mut self, u: u32, v: u32, d: f32) {
        self.data[v as usize * self.width as usize + u as usize] = d;
    }

    /// Reads a KITTI disparity PNG (uint16, disparity = value / 256).
    pub fn read(path: &Path) -> Result<Self> {
        let (width, height, raw) = read_gray16(path)?;
        Ok(DisparityMap {
            width,
            height,
            data: raw.into_iter().map(|v| v as f32 / 256.0).collect(),
        })
    }

    /// Writes a KITTI disparity PNG: value = round(256·d), saturating at 65535 (255.996 px);
    /// zero, negative and non-finite disparities are written as 0 (invalid).
    pub fn write(&self, path: &Path) -> Result<()> {
        let raw: Vec<u16> = self
            .data
            .iter()
            .map(|&d| {
                if d.is_finite() && d > 0.0 {
                    (d as f64 * 256.0).round().min(65535.0) as u16
                } else {
                    0
                }
            })
            .collect();
        write_gray16(path, self.width, self.height, &raw)
    }
}

/// Per-pixel instance ids of the left image (synthetic data only): value k > 0 ties the pixel to
/// line k (1-based) of the frame's label file; 0 is background.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceMask {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Row-major ids.
    pub data: Vec<u16>,
}

impl InstanceMask {
    /// Id at column `u`, row `v`.
    pub fn get(&self, u: u32, v: u32) -> u16 {
        self.data[v as usize * self.width as usize + u as usize]
    }
    /// Reads a mask PNG.
    pub fn read(path: &Path) -> Result<Self> {
        let (width, height, data) = read_gray16(path)?;
        Ok(InstanceMask {
            width,
            height,
            data,
        })
    }
    /// Writes a mask PNG atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_gray16(path, self.width, self.height, &self.data)
    }
}

/// Saves an 8-bit RGB image atomically as PNG.
pub fn write_rgb_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    let png =
        encode_rgb_png(width, height, rgb).map_err(|m| KittiError::malformed(path, None, m))?;
    crate::io::write_atomic(path, &png)
}

/// An 8-bit RGB picture encoded as PNG bytes (the file `write_rgb_png` writes); an error says
/// how the byte count disagrees with the size.
pub fn encode_rgb_png(width: u32, height: u32, rgb: &[u8]) -> std::result::Result<Vec<u8>, String> {
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(format!(
            "{} bytes for a {width}x{height} RGB image",
            rgb.len()
        ));
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Reads only the size of an image file, naming the file when it is not a readable image.
pub fn image_size(path: &Path) -> Result<(u32, u32)> {
    image::image_dimensions(path)
        .map_err(|e| KittiError::malformed(path, None, format!("cannot read image: {e}")))
}

/// An image decoded whole, so that a truncated or corrupt file fails (its header alone may be
/// intact).
pub fn read_image(path: &Path) -> Result<image::DynamicImage> {
    image::open(path)
        .map_err(|e| KittiError::malformed(path, None, format!("cannot read image: {e}")))
}

/// Checks that the two images of a stereo pair are of one kind, both colour or both grayscale:
/// KITTI's grayscale `image_1` beside its colour `image_2` would be matched as two views that do
/// not look alike.
pub fn check_pair_kinds(
    (left, left_image): (&Path, &image::DynamicImage),
    (right, right_image): (&Path, &image::DynamicImage),
) -> Result<()> {
    let colour = |img: &image::DynamicImage| img.color().has_color();
    if colour(left_image) == colour(right_image) {
        return Ok(());
    }
    let kind = |img| if colour(img) { "colour" } else { "grayscale" };
    Err(KittiError::malformed(
        right,
        None,
        format!(
            "a {} image beside the {} left image {}: a stereo pair is two images of one kind \
             (KITTI's colour pair is image_2 / image_3, its grayscale pair image_0 / image_1)",
            kind(right_image),
            kind(left_image),
            left.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disparity_round_trip_quantises_to_1_256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.png");
        let mut d = DisparityMap::new(3, 2);
        d.data = vec![0.0, 1.0 / 256.0, 10.3, 255.99, -4.0, f32::NAN];
        d.write(&path).unwrap();
        let (_, _, raw) = read_gray16(&path).unwrap();
        assert_eq!(raw, vec![0, 1, 2637, 65533, 0, 0]);
        let back = DisparityMap::read(&path).unwrap();
        assert_eq!((back.width, back.height), (3, 2));
        for (a, b) in d.data.iter().zip(&back.data) {
            if a.is_finite() && *a > 0.0 {
                assert!((a - b).abs() <= 0.5 / 256.0 + 1e-6);
            } else {
                assert_eq!(*b, 0.0);
            }
        }
    }

    #[test]
    fn an_rgb_png_is_rejected_with_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000009.png");
        write_rgb_png(&path, 2, 2, &[0; 12]).unwrap();
        let e = DisparityMap::read(&path).unwrap_err().to_string();
        assert!(
            e.contains("000009.png") && e.contains("16-bit grayscale") && e.contains("Rgb8"),
            "{e}"
        );
        std::fs::write(&path, b"not a png").unwrap();
        let e = DisparityMap::read(&path).unwrap_err().to_string();
        assert!(e.contains("000009.png"), "{e}");
    }

    #[test]
    fn instance_mask_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.png");
        let m = InstanceMask {
            width: 2,
            height: 2,
            data: vec![0, 1, 2, 300],
        };
        m.write(&path).unwrap();
        assert_eq!(InstanceMask::read(&path).unwrap(), m);
    }
}
