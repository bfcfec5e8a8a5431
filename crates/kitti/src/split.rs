//! Split files (`ImageSets/{train,val,test}.txt`): one frame id a line.

use crate::error::{KittiError, Result};
use crate::io::{read_text, write_atomic};
use std::path::{Path, PathBuf};

/// The frame ids of a split, with the file and line each came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// File the split was read from.
    pub path: PathBuf,
    /// Frame ids in file order.
    pub ids: Vec<String>,
    /// 1-based line number of each id.
    pub lines: Vec<usize>,
}

impl Split {
    /// Parses split text: each non-blank line must be a frame id made of digits.
    pub fn parse(text: &str, path: &Path) -> Result<Split> {
        let mut split = Split {
            path: path.into(),
            ids: Vec::new(),
            lines: Vec::new(),
        };
        let mut first_line = std::collections::HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let id = raw.trim();
            if id.is_empty() {
                continue;
            }
            if !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(KittiError::malformed(
                    path,
                    Some(i + 1),
                    format!("`{id}` is not a frame id (digits only, e.g. 000123)"),
                ));
            }
            if let Some(first) = first_line.insert(id.to_string(), i + 1) {
                return Err(KittiError::malformed(
                    path,
                    Some(i + 1),
                    format!(
                        "`{id}` is listed twice (first on line {first}); every frame may appear once"
                    ),
                ));
            }
            split.ids.push(id.to_string());
            split.lines.push(i + 1);
        }
        Ok(split)
    }

    /// The split, or an error naming its file when it lists no frame (nothing to train on or
    /// to evaluate).
    pub fn non_empty(self) -> Result<Split> {
        if self.ids.is_empty() {
            return Err(KittiError::malformed(
                &self.path,
                None,
                "lists no frame ids; a split to train on or evaluate needs at least one",
            ));
        }
        Ok(self)
    }

    /// Reads a split file.
    pub fn read(path: &Path) -> Result<Split> {
        Split::parse(&read_text(path)?, path)
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the split lists no frame.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// This split as held-out frames of a model trained on `train`: an error naming this file,
    /// the line of the first frame `train` lists too and how many it shares, as validation on
    /// training frames says nothing about frames the model has not seen.
    pub fn held_out_from(self, train: &Split) -> Result<Split> {
        let shared = shared_ids(&train.ids, &self.ids);
        let Some(&first) = shared.first() else {
            return Ok(self);
        };
        let line = self
            .ids
            .iter()
            .position(|id| id == first)
            .map(|i| self.lines[i]);
        Err(KittiError::malformed(
            &self.path,
            line,
            format!(
                "frame {first} is also in the training split {} ({} of this split's {} frames \
                 are): held-out frames must not be trained on; give splits with no frame in \
                 common",
                train.path.display(),
                shared.len(),
                self.ids.len()
            ),
        ))
    }
}

/// The ids of `held_out` that `train` lists too, in `held_out`'s order.
pub fn shared_ids<'a>(train: &[String], held_out: &'a [String]) -> Vec<&'a String> {
    let train: std::collections::HashSet<&String> = train.iter().collect();
    held_out.iter().filter(|id| train.contains(id)).collect()
}

/// Writes ids one a line, atomically.
pub fn write_split(path: &Path, ids: &[String]) -> Result<()> {
    let mut text = ids.join("\n");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// The six-digit id KITTI uses for frame `index`.
pub fn frame_id(index: usize) -> String {
    format!("{index:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_frames_must_not_be_in_the_training_split() {
        let train = Split::parse("000000\n000001\n000002\n", Path::new("sets/train.txt")).unwrap();
        let val = Split::parse("000004\n\n000002\n000001\n", Path::new("sets/val.txt")).unwrap();
        let err = val.held_out_from(&train).unwrap_err().to_string();
        assert!(
            err.starts_with("sets/val.txt:3: frame 000002 is also in the training split sets/train.txt (2 of this split's 3 frames are)"),
            "{err}"
        );
        let test = Split::parse("000003\n000004\n", Path::new("sets/test.txt")).unwrap();
        assert_eq!(test.clone().held_out_from(&train).unwrap(), test);
    }

    #[test]
    fn a_frame_listed_twice_or_an_empty_split_is_refused() {
        let p = Path::new("ImageSets/val.txt");
        let err = Split::parse("000001\n000002\n000001\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("val.txt:3") && err.contains("first on line 1"),
            "{err}"
        );
        let empty = Split::parse("\n\n", p).unwrap();
        let err = empty.non_empty().unwrap_err().to_string();
        assert!(
            err.contains("val.txt") && err.contains("no frame ids"),
            "{err}"
        );
    }

    #[test]
    fn round_trip_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.txt");
        write_split(&p, &[frame_id(0), frame_id(17)]).unwrap();
        let s = Split::read(&p).unwrap();
        assert_eq!(s.ids, vec!["000000", "000017"]);
        let s = Split::parse("000001\n\n000002\n", &p).unwrap();
        assert_eq!(s.lines, vec![1, 3]);
    }

    #[test]
    fn non_digit_id_names_line() {
        let e = Split::parse("000001\n00x002\n", Path::new("ImageSets/val.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ImageSets/val.txt:2") && e.contains("00x002"),
            "{e}"
        );
    }
}
