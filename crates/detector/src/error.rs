//! Errors of the detection stage.

use std::path::PathBuf;

/// What can go wrong training or running a detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// Reading or writing KITTI files failed (the message names the file).
    #[error(transparent)]
    Kitti(#[from] kitti::KittiError),
    /// A point file holds no points at all: usually a pipeline stage that failed.
    #[error("{path}: the point cloud is empty (0 points); was it written by a stage that failed?")]
    EmptyCloud {
        /// The point file.
        path: PathBuf,
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
    /// A class to train has no labelled object in the training frames.
    #[error(
        "{labels}: no {class} in the {frames} training frames' labels: its head would learn \
         that there is none; train the classes the frames hold, or on frames with a {class}"
    )]
    NoObjects {
        /// The class's name.
        class: String,
        /// How many training frames were read.
        frames: usize,
        /// The label folder.
        labels: PathBuf,
    },
    /// The configuration is inconsistent.
    #[error("detector config: {field}: {message}")]
    Config {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl DetectorError {
    /// A configuration error about `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        DetectorError::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, DetectorError>;
