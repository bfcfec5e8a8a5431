//! Errors of the disparity stage.

use std::path::PathBuf;

/// What can go wrong predicting or evaluating disparity.
#[derive(Debug, thiserror::Error)]
pub enum DisparityError {
    /// Reading or writing KITTI files failed.
    #[error(transparent)]
    Kitti(#[from] kitti::KittiError),
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
    /// Two inputs of a frame disagree in size.
    #[error("{path}: {found} does not match {expected} of {other}")]
    SizeMismatch {
        /// The file at fault.
        path: PathBuf,
        /// Its size.
        found: String,
        /// The size it should have.
        expected: String,
        /// The file the size comes from.
        other: PathBuf,
    },
    /// A settings file (or run folder) holds a value that is not allowed.
    #[error("{path}: {message}")]
    Config {
        /// The file at fault.
        path: PathBuf,
        /// The field, its value and what is allowed.
        message: String,
    },
    /// The output folder holds predictions of another model or settings.
    #[error("{path}: this folder holds predictions made with other settings ({found}); choose a new folder or delete it")]
    DifferentSettings {
        /// The settings file found.
        path: PathBuf,
        /// What it says.
        found: String,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, DisparityError>;
