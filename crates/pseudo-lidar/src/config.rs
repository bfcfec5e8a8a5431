//! Settings of the conversion and the sparsification, with the reference defaults.

pub use crate::edges::EdgeFilter;
pub use kitti::Baseline;

/// Disparity/depth → cloud settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvertConfig {
    /// Baseline for depth = f_u · B / disparity.
    #[serde(with = "baseline_serde")]
    pub baseline: Baseline,
    /// Round disparities to 1/256 px first, as the reference does (a no-op for PNG input).
    pub quantize: bool,
    /// Keep points with velodyne x at least this, metres.
    pub min_x: f64,
    /// Keep points with velodyne z below this, metres.
    pub max_height: f64,
    /// The "close" variant: keep only points with velodyne x below this, metres.
    pub close: Option<f64>,
    /// Drop depth-edge pixels before converting ([`EdgeFilter`]; not the paper's pipeline,
    /// which keeps every pixel).
    pub edges: Option<EdgeFilter>,
}

/// Baselines in settings files: a number of metres, or the string "calibration".
mod baseline_serde {
    use super::Baseline;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Metres(f64),
        Name(String),
    }

    pub fn serialize<S: Serializer>(b: &Baseline, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Baseline::Fixed(m) => Repr::Metres(*m),
            Baseline::Calibration => Repr::Name("calibration".into()),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Baseline, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Metres(m) => Ok(Baseline::Fixed(m)),
            Repr::Name(n) => Baseline::parse(&n).ok_or_else(|| {
                serde::de::Error::custom(format!("baseline `{n}`: use metres or \"calibration\""))
            }),
        }
    }
}

impl Default for ConvertConfig {
    fn default() -> Self {
        ConvertConfig {
            baseline: Baseline::Fixed(0.54),
            quantize: true,
            min_x: 0.0,
            max_height: 1.0,
            close: None,
            edges: None,
        }
    }
}

/// LiDAR-like angular grid settings (Pseudo-LiDAR++'s `pto_ang_map`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparsifyConfig {
    /// Elevation rows (beams).
    pub rows: usize,
    /// Azimuth columns over the 90° field of view.
    pub cols: usize,
    /// Crop before binning, velodyne frame, [min, max) each: x.
    pub x: (f64, f64),
    /// Crop: y.
    pub y: (f64, f64),
    /// Crop: z.
    pub z: (f64, f64),
    /// Elevation of the top of the first row, degrees.
    pub top_deg: f64,
    /// Vertical extent of all rows, degrees (row height = this / rows; 0.4° for 64 rows).
    pub vertical_fov_deg: f64,
    /// Horizontal extent, degrees, centred on the x axis.
    pub horizontal_fov_deg: f64,
}

impl Default for SparsifyConfig {
    fn default() -> Self {
        SparsifyConfig {
            rows: 64,
            cols: 512,
            x: (0.0, 120.0),
            y: (-50.0, 50.0),
            z: (-2.5, 1.5),
            top_deg: 2.0,
            vertical_fov_deg: 25.6,
            horizontal_fov_deg: 90.0,
        }
    }
}

impl SparsifyConfig {
    /// Parses a grid size like `64x512`; the error says what is wrong with `spec`.
    pub fn with_grid(spec: &str) -> Result<Self, String> {
        let parsed = spec.split_once(['x', 'X']).and_then(|(r, c)| {
            Some((
                r.trim().parse::<usize>().ok()?,
                c.trim().parse::<usize>().ok()?,
            ))
        });
        let Some((rows, cols)) = parsed.filter(|&(r, c)| r > 0 && c > 0) else {
            return Err(format!("`{spec}` is not ROWSxCOLS, e.g. 64x512"));
        };
        let (max_rows, max_cols) = MAX_GRID;
        if rows > max_rows || cols > max_cols {
            return Err(format!(
                "`{spec}` is larger than {max_rows}x{max_cols} (the reference's grid is 64x512)"
            ));
        }
        Ok(SparsifyConfig {
            rows,
            cols,
            ..Default::default()
        })
    }
}

/// The most rows and columns of a sparsifying grid: each cell keeps one point, and the grid is
/// held in memory whole.
pub const MAX_GRID: (usize, usize) = (1024, 16384);
