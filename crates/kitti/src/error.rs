//! The one error type of the crate: every variant names the file (and line) it is about.

use std::path::PathBuf;

/// Anything that can go wrong reading or writing KITTI-format data.
#[derive(Debug, thiserror::Error)]
pub enum KittiError {
    /// The file could not be opened, read or written.
    /// (The I/O error is part of the message, not a separate `source`: a reporter that prints
    /// the chain would otherwise say it twice.)
    #[error("{path}: {error}")]
    Io {
        /// File the operation was about.
        path: PathBuf,
        /// Underlying I/O error.
        error: std::io::Error,
    },
    /// A calibration file lacks a required key.
    #[error("{path}: missing calibration key `{key}`")]
    MissingKey {
        /// Calibration file.
        path: PathBuf,
        /// The key that is absent.
        key: &'static str,
    },
    /// A line has the wrong number of values (calibration matrix or label fields).
    #[error("{path}:{line}: `{what}` needs {expected} values, found {found}")]
    WrongCount {
        /// File with the bad line.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the line holds (a calibration key, "label").
        what: String,
        /// Expected number of values (or a description such as "15 or 16").
        expected: String,
        /// Number found.
        found: usize,
    },
    /// A token that should be a number is not one.
    #[error("{path}:{line}: field `{field}` is not a number: `{token}`")]
    NotANumber {
        /// File with the bad token.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Field name.
        field: String,
        /// The offending text.
        token: String,
    },
    /// Any other malformed content, with a line number when it has one.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        /// File with the problem.
        path: PathBuf,
        /// 1-based line number, if the problem sits on one line.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A frame listed in a split file has no file of a required kind.
    #[error("{split}:{line}: frame {id} has no {kind} file (expected {expected})")]
    MissingFrameFile {
        /// Split file listing the frame.
        split: PathBuf,
        /// 1-based line number of the id in the split file.
        line: usize,
        /// The frame id.
        id: String,
        /// Which kind of file is missing (calib, velodyne, ...).
        kind: &'static str,
        /// Path that was looked for.
        expected: PathBuf,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, KittiError>;

impl KittiError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KittiError::Io {
            path: path.into(),
            error: source,
        }
    }

    /// A malformed-content error, optionally on a line.
    pub fn malformed(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        KittiError::Malformed {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
