//! Running the stage over folders of frames: in parallel, resumable, with the resolved settings
//! written next to the outputs.

use crate::config::{Baseline, ConvertConfig, SparsifyConfig};
use crate::convert::Converter;
use crate::error::{PseudoLidarError, Result};
use crate::gt_disparity::lidar_disparity;
use crate::sparsify::sparsify;
use kitti::png16::image_size;
use kitti::{write_velodyne, Calibration, DisparityMap, FileKind, KittiRoot, Part};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Name of the settings file written into an output folder.
pub const SETTINGS_FILE: &str = "pseudo-lidar.toml";

/// What the input maps hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Disparity PNGs (value / 256 pixels).
    Disparity,
    /// Depth PNGs (value / 256 metres).
    Depth,
}

/// The settings of one conversion run (written to `SETTINGS_FILE`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertSettings {
    /// What the maps hold.
    pub input: InputKind,
    /// Conversion settings.
    pub convert: ConvertConfig,
    /// Sparsification, if asked for.
    pub sparsify: Option<SparsifyConfig>,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Frames processed now.
    pub done: usize,
    /// Frames already complete and skipped.
    pub skipped: usize,
    /// Dense points written (over the frames processed now).
    pub dense_points: usize,
    /// Sparse points written.
    pub sparse_points: usize,
}

/// Paths of one frame's outputs: `<out>/dense/<id>.bin` and, when sparsifying, `<out>/sparse/<id>.bin`.
pub fn output_paths(out: &Path, id: &str, sparse: bool) -> Vec<PathBuf> {
    let mut v = vec![out.join("dense").join(format!("{id}.bin"))];
    if sparse {
        v.push(out.join("sparse").join(format!("{id}.bin")));
    }
    v
}

/// Writes `settings` into `out`, or checks that the ones already there are the same.
fn claim_folder(out: &Path, text: &str) -> Result<()> {
    let path = out.join(SETTINGS_FILE);
    match kitti::io::claim_record(&path, text)? {
        Some(_) => Err(PseudoLidarError::DifferentSettings { path }),
        None => Ok(()),
    }
}

/// Converts the maps `<maps>/<id>.png` with calibrations `<calib>/<id>.txt` into clouds under
/// `out`, for every id; frames whose outputs exist are skipped. `progress` is called per frame.
pub fn convert_frames(
    maps: &Path,
    calib: &Path,
    out: &Path,
    ids: &[String],
    settings: &ConvertSettings,
    progress: &(dyn Fn() + Sync),
) -> Result<Summary> {
    let text = toml::to_string(settings).map_err(|e| PseudoLidarError::Mismatch {
        path: out.join(SETTINGS_FILE),
        message: e.to_string(),
    })?;
    claim_folder(out, &text)?;
    let results: Vec<Option<(usize, usize)>> = ids
        .par_iter()
        .map(|id| {
            let outputs = output_paths(out, id, settings.sparsify.is_some());
            let r = if outputs.iter().all(|p| p.is_file()) {
                Ok(None)
            } else {
                convert_one(maps, calib, id, settings, &outputs).map(Some)
            };
            progress();
            r
        })
        .collect::<Result<_>>()?;
    let mut s = Summary::default();
    for r in results {
        match r {
            None => s.skipped += 1,
            Some((d, sp)) => {
                s.done += 1;
                s.dense_points += d;
                s.sparse_points += sp;
            }
        }
    }
    Ok(s)
}

fn input(dir: &Path, id: &str, ext: &str, what: &'static str) -> Result<PathBuf> {
    let path = dir.join(format!("{id}.{ext}"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(PseudoLidarError::MissingInput {
            id: id.into(),
            what,
            path,
        })
    }
}

fn convert_one(
    maps: &Path,
    calib_dir: &Path,
    id: &str,
    settings: &ConvertSettings,
    outputs: &[PathBuf],
) -> Result<(usize, usize)> {
    let map_path =
        kitti::npy::map_file(maps, id)?.ok_or_else(|| PseudoLidarError::MissingInput {
            id: id.into(),
            what: "disparity/depth map",
            path: maps.join(format!("{id}.png (or .npy)")),
        })?;
    let calib = Calibration::read(&input(calib_dir, id, "txt", "calibration")?)?;
    let map = DisparityMap::read_any(&map_path)?;
    let conv = Converter::new(&calib, settings.convert);
    calib.check_image_size(map.width, map.height, &map_path)?;
    // The left image beside the calibration folder (a KITTI part), when there is one, gives the
    // size the map must have.
    if let Some(part) = calib_dir.parent() {
        let image = part.join("image_2").join(format!("{id}.png"));
        if image.is_file() {
            let (w, h) = image_size(&image)?;
            if (w, h) != (map.width, map.height) {
                return Err(PseudoLidarError::Mismatch {
                    path: map_path,
                    message: format!(
                        "this {}x{} map is not the size of its left image {} ({w}x{h})",
                        map.width,
                        map.height,
                        image.display()
                    ),
                });
            }
        }
    }
    let dense = match settings.input {
        InputKind::Disparity => conv.disparity_cloud(&map),
        InputKind::Depth => conv.depth_cloud(&map),
    };
    let mut sparse_len = 0;
    if let Some(cfg) = &settings.sparsify {
        let sparse = sparsify(&dense, cfg);
        sparse_len = sparse.len();
        write_velodyne(&outputs[1], &sparse)?;
    }
    // The dense cloud goes last: a frame whose dense cloud exists is complete.
    write_velodyne(&outputs[0], &dense)?;
    Ok((dense.len(), sparse_len))
}

/// Writes LiDAR-derived disparity maps `<out>/<id>.png` for the frames `ids` of a root's
/// training part; existing maps are kept. Returns (written, skipped).
pub fn gt_disparity_frames(
    root: &KittiRoot,
    ids: &[String],
    out: &Path,
    baseline: Baseline,
    progress: &(dyn Fn() + Sync),
) -> Result<(usize, usize)> {
    let results: Vec<bool> = ids
        .par_iter()
        .map(|id| {
            let dest = out.join(format!("{id}.png"));
            let r = if dest.is_file() {
                Ok(false)
            } else {
                (|| {
                    let (w, h) = image_size(&input(
                        &root.dir(Part::Training, FileKind::LeftImage),
                        id,
                        "png",
                        "left image",
                    )?)?;
                    let calib = Calibration::read(&input(
                        &root.dir(Part::Training, FileKind::Calib),
                        id,
                        "txt",
                        "calibration",
                    )?)?;
                    let points = kitti::read_velodyne(&input(
                        &root.dir(Part::Training, FileKind::Velodyne),
                        id,
                        "bin",
                        "velodyne",
                    )?)?;
                    lidar_disparity(&points, &calib, w, h, baseline).write(&dest)?;
                    Ok(true)
                })()
            };
            progress();
            r
        })
        .collect::<Result<_>>()?;
    let written = results.iter().filter(|&&w| w).count();
    Ok((written, results.len() - written))
}
