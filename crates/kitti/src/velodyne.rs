//! Velodyne scans (`velodyne/NNNNNN.bin`): little-endian f32 records (x, y, z, reflectance).

use crate::error::{KittiError, Result};
use crate::io::write_atomic_with;
use std::io::{BufWriter, Write};
use std::path::Path;

/// One LiDAR return in the velodyne frame (x forward, y left, z up) with its reflectance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LidarPoint {
    /// Forward, metres.
    pub x: f32,
    /// Left, metres.
    pub y: f32,
    /// Up, metres.
    pub z: f32,
    /// Reflectance, 0..1.
    pub r: f32,
}

/// Bytes a record takes on disk.
pub const RECORD_BYTES: usize = 16;

/// Decodes a `.bin` buffer; `path` is named when its length is not a whole number of records.
pub fn parse_velodyne(bytes: &[u8], path: &Path) -> Result<Vec<LidarPoint>> {
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(KittiError::malformed(
            path,
            None,
            format!(
                "truncated velodyne file: {} bytes is not a multiple of {RECORD_BYTES} (x, y, z, reflectance as f32); {} trailing bytes",
                bytes.len(),
                bytes.len() % RECORD_BYTES
            ),
        ));
    }
    let f = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let points: Vec<LidarPoint> = bytes
        .chunks_exact(RECORD_BYTES)
        .map(|r| LidarPoint {
            x: f(&r[0..4]),
            y: f(&r[4..8]),
            z: f(&r[8..12]),
            r: f(&r[12..16]),
        })
        .collect();
    if let Some(i) = points
        .iter()
        .position(|p| !(p.x.is_finite() && p.y.is_finite() && p.z.is_finite() && p.r.is_finite()))
    {
        return Err(KittiError::malformed(
            path,
            None,
            format!("point {i} (byte offset {}) is not finite", i * RECORD_BYTES),
        ));
    }
    Ok(points)
}

/// Reads a velodyne `.bin` file.
pub fn read_velodyne(path: &Path) -> Result<Vec<LidarPoint>> {
    let bytes = std::fs::read(path).map_err(|e| KittiError::io(path, e))?;
    parse_velodyne(&bytes, path)
}

/// Writes points as a velodyne `.bin`, atomically.
pub fn write_velodyne(path: &Path, points: &[LidarPoint]) -> Result<()> {
    write_atomic_with(path, |file| {
        let mut w = BufWriter::new(file);
        for p in points {
            for v in [p.x, p.y, p.z, p.r] {
                w.write_all(&v.to_le_bytes())?;
            }
        }
        w.flush()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_byte_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000.bin");
        let pts = vec![
            LidarPoint {
                x: 1.5,
                y: -2.25,
                z: 0.125,
                r: 0.5,
            },
            LidarPoint {
                x: 60.0,
                y: 3.0,
                z: -1.7,
                r: 0.0,
            },
        ];
        write_velodyne(&path, &pts).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[0..4], &1.5f32.to_le_bytes());
        assert_eq!(&bytes[20..24], &3.0f32.to_le_bytes());
        assert_eq!(read_velodyne(&path).unwrap(), pts);
    }

    #[test]
    fn truncated_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000003.bin");
        std::fs::write(&path, [0u8; 37]).unwrap();
        let e = read_velodyne(&path).unwrap_err().to_string();
        assert!(
            e.contains("000003.bin") && e.contains("truncated") && e.contains("37 bytes"),
            "{e}"
        );
    }

    #[test]
    fn nan_point_is_an_error() {
        let mut bytes = vec![0u8; 32];
        bytes[20..24].copy_from_slice(&f32::NAN.to_le_bytes());
        let e = parse_velodyne(&bytes, Path::new("v.bin"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("v.bin") && e.contains("point 1"), "{e}");
    }
}
