//! Reading ground truth and result folders for the frames of a split.

use crate::frame::FrameLabels;
use kitti::{read_labels, KittiError, Split};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Errors of loading an evaluation's inputs.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A label or result file is missing or malformed.
    #[error(transparent)]
    Kitti(#[from] KittiError),
    /// A split frame has no result file.
    #[error("{split}:{line}: frame {id} has no result file {path} (pass --missing-as-empty to count it as no detections)")]
    MissingResult {
        /// Split file.
        split: PathBuf,
        /// Line of the id.
        line: usize,
        /// Frame id.
        id: String,
        /// Path looked for.
        path: PathBuf,
    },
    /// A split frame has no ground-truth label file.
    #[error("{split}:{line}: frame {id} has no ground-truth file {path}")]
    MissingLabel {
        /// Split file.
        split: PathBuf,
        /// Line of the id.
        line: usize,
        /// Frame id.
        id: String,
        /// Path looked for.
        path: PathBuf,
    },
    /// A result line without a score.
    #[error("{path}:{line}: result line has 15 fields; detections need a 16th, the score")]
    NoScore {
        /// Result file.
        path: PathBuf,
        /// Line number.
        line: usize,
    },
}

/// Reads `<gt_dir>/<id>.txt` and `<results_dir>/<id>.txt` for every frame of `split`, in parallel.
/// A frame without a result file is an error unless `missing_as_empty`.
pub fn load_frames(
    gt_dir: &Path,
    results_dir: &Path,
    split: &Split,
    missing_as_empty: bool,
) -> Result<Vec<FrameLabels>, EvalError> {
    split
        .ids
        .par_iter()
        .zip(split.lines.par_iter())
        .map(|(id, &line)| {
            let gt_path = gt_dir.join(format!("{id}.txt"));
            if !gt_path.is_file() {
                return Err(EvalError::MissingLabel {
                    split: split.path.clone(),
                    line,
                    id: id.clone(),
                    path: gt_path,
                });
            }
            let gt = read_labels(&gt_path)?;
            let det_path = results_dir.join(format!("{id}.txt"));
            let det = if det_path.is_file() {
                read_results(&det_path)?
            } else if missing_as_empty {
                Vec::new()
            } else {
                return Err(EvalError::MissingResult {
                    split: split.path.clone(),
                    line,
                    id: id.clone(),
                    path: det_path,
                });
            };
            Ok(FrameLabels { gt, det })
        })
        .collect()
}

/// Reads a result file; every line must carry a score.
pub fn read_results(path: &Path) -> Result<Vec<kitti::Object>, EvalError> {
    let text = kitti::io::read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let o = kitti::Object::parse(line, path, i + 1)?;
        if o.score.is_none() {
            return Err(EvalError::NoScore {
                path: path.into(),
                line: i + 1,
            });
        }
        out.push(o);
    }
    Ok(out)
}
