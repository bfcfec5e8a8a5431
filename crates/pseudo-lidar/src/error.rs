//! Errors of the pseudo-LiDAR stage.

use std::path::PathBuf;

/// What can go wrong converting, sparsifying or deriving ground truth.
#[derive(Debug, thiserror::Error)]
pub enum PseudoLidarError {
    /// Reading or writing KITTI files failed.
    #[error(transparent)]
    Kitti(#[from] kitti::KittiError),
    /// A map does not fit its left image, or a folder holds other settings.
    #[error("{path}: {message}")]
    Mismatch {
        /// The map file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// A frame lacks an input file.
    #[error("frame {id}: no {what} file {path}")]
    MissingInput {
        /// Frame id.
        id: String,
        /// Which input.
        what: &'static str,
        /// Path looked for.
        path: PathBuf,
    },
    /// The output folder holds clouds made with other settings.
    #[error("{path}: this folder holds clouds made with other settings; choose a new output folder or delete it")]
    DifferentSettings {
        /// The settings file found.
        path: PathBuf,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, PseudoLidarError>;
