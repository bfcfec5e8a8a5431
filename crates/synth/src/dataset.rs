//! Writing a synthetic set as a KITTI object root, frames in parallel, resumable.

use crate::frame::{generate_frame, Frame, FrameConfig};
use crate::layout::SceneConfig;
use crate::lidar::LidarConfig;
use kitti::png16::write_rgb_png;
use kitti::{
    frame_id, write_labels, write_split, write_velodyne, FileKind, KittiError, KittiRoot,
    LidarPoint, ObjectType, Part,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// File name of the resolved configuration written into the root.
pub const CONFIG_FILE: &str = "synth.toml";

/// Everything that defines a synthetic set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Number of frames.
    pub frames: usize,
    /// Seed; the same seed and settings give the same files.
    pub seed: u64,
    /// Image scale relative to KITTI's 1242 × 375.
    pub scale: f64,
    /// Share of frames in `ImageSets/train.txt` (the first ones); the rest form `val.txt`.
    pub train_share: f64,
    /// Scene contents.
    pub scene: SceneConfig,
    /// LiDAR model.
    pub lidar: LidarConfig,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            frames: 20,
            seed: 0,
            scale: 1.0,
            train_share: 0.5,
            scene: SceneConfig::default(),
            lidar: LidarConfig::default(),
        }
    }
}

/// The splits a synthetic set is written with: `train` (its first frames, `train_share` of
/// them), `val` (the rest) and `trainval` (all).
pub const SPLITS: [&str; 3] = ["train", "val", "trainval"];

impl SynthConfig {
    /// Frames in the `train` split (the first ones); the rest form `val`.
    pub fn train_frames(&self) -> usize {
        (self.frames as f64 * self.train_share).round() as usize
    }

    /// The frame ids of one of the set's splits ([`SPLITS`]), or None for another name.
    pub fn split_ids(&self, split: &str) -> Option<Vec<String>> {
        let ids = (0..self.frames).map(frame_id);
        let train = self.train_frames();
        match split {
            "train" => Some(ids.take(train).collect()),
            "val" => Some(ids.skip(train).collect()),
            "trainval" => Some(ids.collect()),
            _ => None,
        }
    }

    /// The per-frame part of the settings.
    pub fn frame_config(&self) -> FrameConfig {
        FrameConfig {
            scale: self.scale,
            scene: self.scene,
            lidar: self.lidar,
        }
    }
}

/// Errors of generating a synthetic set.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Reading or writing KITTI files failed.
    #[error(transparent)]
    Kitti(#[from] KittiError),
    /// A setting is out of range.
    #[error("synthetic config: field `{field}` {why}")]
    Config {
        /// The field at fault (its TOML path).
        field: String,
        /// What is wrong.
        why: String,
    },
    /// The output folder already holds a set made with other settings.
    #[error("{path}: this folder holds a synthetic set made with other settings; choose a new output folder or delete it")]
    DifferentSet {
        /// The config file found.
        path: PathBuf,
    },
    /// The existing config file is unreadable.
    #[error("{path}: {message}")]
    BadConfigFile {
        /// The config file.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
}

/// What a generation run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Frames generated now.
    pub generated: usize,
    /// Frames already complete on disk and skipped.
    pub skipped: usize,
    /// Label lines written, by type (over the generated frames).
    pub objects: Vec<(ObjectType, usize)>,
    /// LiDAR points written (over the generated frames).
    pub lidar_points: usize,
}

/// The files a finished synthetic frame has; the label file is written last.
const FRAME_FILES: [FileKind; 7] = [
    FileKind::LeftImage,
    FileKind::RightImage,
    FileKind::Calib,
    FileKind::Velodyne,
    FileKind::Disparity,
    FileKind::Instance,
    FileKind::Label,
];

/// Writes one generated frame into `root` under `id`; the label file goes last, so a frame
/// whose label exists is complete.
pub fn write_frame(root: &KittiRoot, id: &str, frame: &Frame) -> kitti::Result<()> {
    let path = |kind| root.path(Part::Training, kind, id);
    let (w, h) = (frame.rig.width, frame.rig.height);
    write_rgb_png(&path(FileKind::LeftImage), w, h, &frame.left.rgb)?;
    write_rgb_png(&path(FileKind::RightImage), w, h, &frame.right.rgb)?;
    frame.rig.calib.write(&path(FileKind::Calib))?;
    let points: Vec<LidarPoint> = frame.lidar.iter().map(|r| r.point).collect();
    write_velodyne(&path(FileKind::Velodyne), &points)?;
    frame.disparity.write(&path(FileKind::Disparity))?;
    frame.mask.write(&path(FileKind::Instance))?;
    write_labels(&path(FileKind::Label), &frame.labels)
}

/// The settings a synthetic set in `root` was made with (its [`CONFIG_FILE`]), or `None` when
/// `root` is not one.
pub fn recorded_config(root: &Path) -> Result<Option<SynthConfig>, SynthError> {
    let path = root.join(CONFIG_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = kitti::io::read_text(&path)?;
    let cfg = toml::from_str(&text).map_err(|e| SynthError::BadConfigFile {
        path,
        message: e.to_string(),
    })?;
    Ok(Some(cfg))
}

/// Generates (or completes) a synthetic set in `out`: frames in parallel, each written
/// atomically; frames already complete are skipped, so an interrupted run resumes. `progress`
/// is called once per finished frame.
pub fn generate_root(
    cfg: &SynthConfig,
    out: &Path,
    progress: &(dyn Fn() + Sync),
) -> Result<Summary, SynthError> {
    cfg.validate()?;
    let root = KittiRoot::create(out);
    let config_path = out.join(CONFIG_FILE);
    let text = toml::to_string(cfg).expect("the config serialises");
    match recorded_config(out)? {
        Some(old) if old != *cfg => return Err(SynthError::DifferentSet { path: config_path }),
        Some(_) => {}
        None => kitti::io::write_atomic(&config_path, text.as_bytes())?,
    }
    let frame_cfg = cfg.frame_config();
    let skipped = AtomicUsize::new(0);
    let results: Vec<Option<(Vec<ObjectType>, usize)>> = (0..cfg.frames)
        .into_par_iter()
        .map(|i| {
            let id = frame_id(i);
            let done = FRAME_FILES
                .iter()
                .all(|&k| root.path(Part::Training, k, &id).is_file());
            let result = if done {
                skipped.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            } else {
                let frame = generate_frame(&frame_cfg, cfg.seed, i as u64);
                write_frame(&root, &id, &frame).map(|()| {
                    Some((
                        frame.labels.iter().map(|o| o.kind).collect(),
                        frame.lidar.len(),
                    ))
                })
            };
            progress();
            result
        })
        .collect::<kitti::Result<_>>()?;
    for split in SPLITS {
        let ids = cfg.split_ids(split).unwrap_or_default();
        write_split(&root.split_path(split), &ids)?;
    }
    let mut summary = Summary {
        skipped: skipped.into_inner(),
        ..Summary::default()
    };
    for (kinds, points) in results.into_iter().flatten() {
        summary.generated += 1;
        summary.lidar_points += points;
        for k in kinds {
            match summary.objects.iter_mut().find(|(t, _)| *t == k) {
                Some((_, n)) => *n += 1,
                None => summary.objects.push((k, 1)),
            }
        }
    }
    summary.objects.sort();
    Ok(summary)
}
