//! NumPy `.npy` arrays (npyz): how the paper's own tools exchange disparity and depth maps
//! (float32, no 1/256 quantisation), and the reference fixtures of the import tests.

use crate::error::{KittiError, Result};
use npyz::WriterBuilder;
use std::path::Path;

/// An array read from a `.npy` file: its shape (outermost first) and values in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array<T> {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<T>,
}

fn read<T: npyz::Deserialize>(path: &Path, what: &str) -> Result<Array<T>> {
    let bytes = std::fs::read(path).map_err(|e| KittiError::io(path, e))?;
    let bad = |m: String| KittiError::malformed(path, None, m);
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad(
            "a Fortran-order array: expected C order (numpy's default)".into(),
        ));
    }
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    let dtype = npy.dtype().descr();
    let values = npy
        .into_vec::<T>()
        .map_err(|e| bad(format!("element type {dtype}, expected {what} ({e})")))?;
    Ok(Array { shape, values })
}

/// Reads a float32 array (`<f4`; any other element type is an error naming it).
pub fn read_f32(path: &Path) -> Result<Array<f32>> {
    read(path, "float32 (<f4)")
}

/// Reads an int32 array (`<i4`).
pub fn read_i32(path: &Path) -> Result<Array<i32>> {
    read(path, "int32 (<i4)")
}

/// Writes a float32 array of `shape` atomically.
pub fn write_f32(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    assert_eq!(
        shape.iter().product::<usize>(),
        values.len(),
        "shape and values disagree"
    );
    let mut bytes = Vec::with_capacity(128 + 4 * values.len());
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let io = |e: std::io::Error| KittiError::io(path, e);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut bytes)
        .begin_nd()
        .map_err(io)?;
    writer.extend(values.iter().copied()).map_err(io)?;
    writer.finish().map_err(io)?;
    crate::io::write_atomic(path, &bytes)
}

/// The formats of disparity (and depth) map files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapFormat {
    /// KITTI's 16-bit PNG, disparity = value / 256 (0 = invalid).
    #[default]
    Png,
    /// NumPy float32 `[height, width]`, no quantisation (≤ 0 = invalid).
    Npy,
}

impl MapFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            MapFormat::Png => "png",
            MapFormat::Npy => "npy",
        }
    }

    /// The format of a file, by its extension (anything but `.npy` is PNG).
    pub fn of(path: &Path) -> MapFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("npy") => MapFormat::Npy,
            _ => MapFormat::Png,
        }
    }
}

/// The map file of frame `id` in `dir`: `<id>.png` or `<id>.npy` (None when neither exists;
/// both at once is an error, since which one is meant cannot be told).
pub fn map_file(dir: &Path, id: &str) -> Result<Option<std::path::PathBuf>> {
    let [png, npy] =
        [MapFormat::Png, MapFormat::Npy].map(|f| dir.join(format!("{id}.{}", f.extension())));
    match (png.is_file(), npy.is_file()) {
        (true, true) => Err(KittiError::malformed(
            &npy,
            None,
            format!(
                "{} is there too: keep one map per frame in a folder",
                png.display()
            ),
        )),
        (true, false) => Ok(Some(png)),
        (false, true) => Ok(Some(npy)),
        (false, false) => Ok(None),
    }
}

impl crate::DisparityMap {
    /// Reads a float32 `.npy` map of shape `[height, width]` (a leading axis of 1 is allowed);
    /// values ≤ 0 are invalid (0), a non-finite value is an error naming its pixel.
    pub fn read_npy(path: &Path) -> Result<Self> {
        let a = read_f32(path)?;
        let (height, width) = match a.shape[..] {
            [h, w] | [1, h, w] => (h, w),
            _ => {
                return Err(KittiError::malformed(
                    path,
                    None,
                    format!("shape {:?}: a map must be [height, width]", a.shape),
                ))
            }
        };
        if let Some(i) = a.values.iter().position(|v| !v.is_finite()) {
            return Err(KittiError::malformed(
                path,
                None,
                format!(
                    "value {} at row {}, column {}: maps hold finite numbers (≤ 0 for invalid)",
                    a.values[i],
                    i / width.max(1),
                    i % width.max(1)
                ),
            ));
        }
        let too_large = |n: usize| {
            u32::try_from(n).map_err(|_| {
                KittiError::malformed(path, None, format!("{n} pixels across: too large"))
            })
        };
        Ok(crate::DisparityMap {
            width: too_large(width)?,
            height: too_large(height)?,
            data: a.values.into_iter().map(|v| v.max(0.0)).collect(),
        })
    }

    /// Writes the map as float32 `.npy` `[height, width]`, invalid pixels as 0.
    pub fn write_npy(&self, path: &Path) -> Result<()> {
        let data: Vec<f32> = self
            .data
            .iter()
            .map(|&d| if d.is_finite() && d > 0.0 { d } else { 0.0 })
            .collect();
        write_f32(path, &[self.height as usize, self.width as usize], &data)
    }

    /// Reads a map in the format its extension names (`.npy`, else 16-bit PNG).
    pub fn read_any(path: &Path) -> Result<Self> {
        match MapFormat::of(path) {
            MapFormat::Npy => Self::read_npy(path),
            MapFormat::Png => Self::read(path),
        }
    }

    /// Writes the map in `format`.
    pub fn write_as(&self, path: &Path, format: MapFormat) -> Result<()> {
        match format {
            MapFormat::Npy => self.write_npy(path),
            MapFormat::Png => self.write(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_arrays_round_trip_and_other_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let values = [0.5f32, -1.25, 3.0e-7, 1024.0, f32::MAX, 0.0];
        write_f32(&path, &[2, 3], &values).unwrap();
        let a = read_f32(&path).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, values);
        // The header numpy writes for the same array: magic, version 1.0, '<f4', C order.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header = String::from_utf8_lossy(&bytes[10..]);
        assert!(
            header.contains("'descr': '<f4'") && header.contains("'shape': (2, 3"),
            "{header}"
        );
        let err = read_i32(&path).unwrap_err().to_string();
        assert!(
            err.contains("a.npy") && err.contains("<f4") && err.contains("int32"),
            "{err}"
        );
        // A 2 x 3 float array is a 3-wide, 2-high map; a 3-D one is not.
        let map = crate::DisparityMap::read_any(&path).unwrap();
        assert_eq!((map.width, map.height), (3, 2));
        assert_eq!(map.data[..4], [0.5, 0.0, 3.0e-7, 1024.0]);
        write_f32(&path, &[2, 1, 3], &values).unwrap();
        let err = crate::DisparityMap::read_npy(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.npy") && err.contains("[2, 1, 3]"), "{err}");
        write_f32(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, f32::NAN, 6.0]).unwrap();
        let err = crate::DisparityMap::read_npy(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("NaN at row 1, column 1"), "{err}");
        std::fs::write(&path, b"not numpy").unwrap();
        let err = read_f32(&path).unwrap_err().to_string();
        assert!(err.contains("not a .npy file"), "{err}");
    }

    #[test]
    fn maps_keep_their_exact_values_in_npy_and_a_folder_holds_one_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut map = crate::DisparityMap::new(4, 2);
        map.set(1, 0, 12.345_678);
        map.set(3, 1, 0.001);
        map.set(2, 1, -3.0);
        let npy = dir.path().join("000001.npy");
        map.write_as(&npy, MapFormat::Npy).unwrap();
        let back = crate::DisparityMap::read_any(&npy).unwrap();
        assert_eq!(back.get(1, 0), 12.345_678, "no 1/256 quantisation");
        assert_eq!(back.get(3, 1), 0.001);
        assert_eq!(back.get(2, 1), 0.0, "negative is invalid");
        assert_eq!(map_file(dir.path(), "000001").unwrap(), Some(npy.clone()));
        assert_eq!(map_file(dir.path(), "000002").unwrap(), None);
        map.write_as(&dir.path().join("000001.png"), MapFormat::Png)
            .unwrap();
        let err = map_file(dir.path(), "000001").unwrap_err().to_string();
        assert!(
            err.contains("000001.png") && err.contains("000001.npy"),
            "{err}"
        );
    }
}
