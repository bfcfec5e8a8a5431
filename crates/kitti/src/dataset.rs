//! A handle on a KITTI object root: `training/`, `testing/`, `ImageSets/`, and the path of every
//! file of a frame.

use crate::calib::Calibration;
use crate::error::{KittiError, Result};
use crate::label::{read_labels, Object};
use crate::split::Split;
use crate::velodyne::{read_velodyne, LidarPoint};
use std::path::{Path, PathBuf};

/// The two halves of the object data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// `training/`: frames with labels.
    Training,
    /// `testing/`: frames without labels.
    Testing,
}

impl Part {
    /// The files every frame of this part has in KITTI's release (labels only in training).
    pub fn standard_files(self) -> &'static [FileKind] {
        match self {
            Part::Training => &FileKind::STANDARD,
            Part::Testing => &FileKind::STANDARD_TESTING,
        }
    }

    /// Folder name.
    pub fn dir(self) -> &'static str {
        match self {
            Part::Training => "training",
            Part::Testing => "testing",
        }
    }
}

/// The kinds of per-frame file in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Left colour image, `image_2/*.png`.
    LeftImage,
    /// Right colour image, `image_3/*.png`.
    RightImage,
    /// Calibration, `calib/*.txt`.
    Calib,
    /// Ground-truth labels, `label_2/*.txt`.
    Label,
    /// LiDAR scan, `velodyne/*.bin`.
    Velodyne,
    /// Exact dense disparity of the left image (synthetic data), `disparity_2/*.png`.
    Disparity,
    /// Instance mask of the left image (synthetic data), `instance_2/*.png`.
    Instance,
}

impl FileKind {
    /// The files every KITTI object frame has (labels only in training).
    pub const STANDARD: [FileKind; 5] = [
        FileKind::LeftImage,
        FileKind::RightImage,
        FileKind::Calib,
        FileKind::Label,
        FileKind::Velodyne,
    ];

    /// The files every KITTI object testing frame has.
    pub const STANDARD_TESTING: [FileKind; 4] = [
        FileKind::LeftImage,
        FileKind::RightImage,
        FileKind::Calib,
        FileKind::Velodyne,
    ];

    /// Folder and extension.
    pub fn dir_and_ext(self) -> (&'static str, &'static str) {
        match self {
            FileKind::LeftImage => ("image_2", "png"),
            FileKind::RightImage => ("image_3", "png"),
            FileKind::Calib => ("calib", "txt"),
            FileKind::Label => ("label_2", "txt"),
            FileKind::Velodyne => ("velodyne", "bin"),
            FileKind::Disparity => ("disparity_2", "png"),
            FileKind::Instance => ("instance_2", "png"),
        }
    }

    /// Short name used in messages (the folder name).
    pub fn name(self) -> &'static str {
        self.dir_and_ext().0
    }
}

/// An opened KITTI object root.
#[derive(Debug, Clone)]
pub struct KittiRoot {
    root: PathBuf,
}

impl KittiRoot {
    /// Opens a root: it must be a folder holding `training/` or `testing/`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(KittiError::malformed(&root, None, "not a folder"));
        }
        if !root.join("training").is_dir() && !root.join("testing").is_dir() {
            return Err(KittiError::malformed(
                &root,
                None,
                "not a KITTI object root: neither training/ nor testing/ inside",
            ));
        }
        Ok(KittiRoot { root })
    }

    /// A handle for a root that is about to be written (nothing is checked).
    pub fn create(root: impl Into<PathBuf>) -> Self {
        KittiRoot { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one kind of file.
    pub fn dir(&self, part: Part, kind: FileKind) -> PathBuf {
        self.root.join(part.dir()).join(kind.dir_and_ext().0)
    }

    /// The path of one frame's file.
    pub fn path(&self, part: Part, kind: FileKind, id: &str) -> PathBuf {
        let (dir, ext) = kind.dir_and_ext();
        self.root
            .join(part.dir())
            .join(dir)
            .join(format!("{id}.{ext}"))
    }

    /// The path of a split file, `ImageSets/<name>.txt`.
    pub fn split_path(&self, name: &str) -> PathBuf {
        self.root.join("ImageSets").join(format!("{name}.txt"))
    }

    /// Reads the split `ImageSets/<name>.txt`; `name` is a bare name such as `val`, and a path
    /// given instead is refused with the name to use.
    pub fn split(&self, name: &str) -> Result<Split> {
        if name.is_empty() || name.contains(['/', '\\']) || name.ends_with(".txt") {
            let stem = Path::new(name).file_stem().and_then(|s| s.to_str());
            let hint = match stem {
                Some(s) if !s.is_empty() => format!(" (for the file {name}, say `{s}`)"),
                _ => String::new(),
            };
            return Err(KittiError::malformed(
                self.root.join("ImageSets"),
                None,
                format!(
                    "split `{name}` is not a split name: give the name of one of this root's \
                     split files ImageSets/<name>.txt, e.g. `val`{hint}"
                ),
            ));
        }
        Split::read(&self.split_path(name))
    }

    /// Reads a split that must list at least one frame (to train on or to evaluate).
    pub fn frames_of(&self, name: &str) -> Result<Split> {
        self.split(name)?.non_empty()
    }

    /// Ids of the frames that have a file of `kind`, sorted; empty when the folder is absent.
    pub fn list_frames(&self, part: Part, kind: FileKind) -> Result<Vec<String>> {
        let dir = self.dir(part, kind);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let ext = kind.dir_and_ext().1;
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| KittiError::io(&dir, e))? {
            let path = entry.map_err(|e| KittiError::io(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) == Some(ext) {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    if !stem.starts_with('.') {
                        ids.push(stem.to_string());
                    }
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Checks that every frame of `split` has a file of each of `kinds`; the first one missing is
    /// an error naming the split file, its line, the id and the path looked for.
    pub fn check_split(&self, part: Part, split: &Split, kinds: &[FileKind]) -> Result<()> {
        for (id, &line) in split.ids.iter().zip(&split.lines) {
            for &kind in kinds {
                let expected = self.path(part, kind, id);
                if !expected.is_file() {
                    return Err(KittiError::MissingFrameFile {
                        split: split.path.clone(),
                        line,
                        id: id.clone(),
                        kind: kind.name(),
                        expected,
                    });
                }
            }
        }
        Ok(())
    }

    /// Reads one frame's calibration.
    pub fn calib(&self, part: Part, id: &str) -> Result<Calibration> {
        Calibration::read(&self.path(part, FileKind::Calib, id))
    }
    /// Reads one frame's labels.
    pub fn labels(&self, part: Part, id: &str) -> Result<Vec<Object>> {
        read_labels(&self.path(part, FileKind::Label, id))
    }
    /// Reads one frame's LiDAR scan.
    pub fn velodyne(&self, part: Part, id: &str) -> Result<Vec<LidarPoint>> {
        read_velodyne(&self.path(part, FileKind::Velodyne, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::write_split;

    #[test]
    fn paths_follow_the_layout_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("training/calib")).unwrap();
        let root = KittiRoot::open(dir.path()).unwrap();
        assert!(root
            .path(Part::Training, FileKind::Velodyne, "000007")
            .ends_with("training/velodyne/000007.bin"));
        std::fs::write(root.path(Part::Training, FileKind::Calib, "000001"), "").unwrap();
        std::fs::write(root.path(Part::Training, FileKind::Calib, "000000"), "").unwrap();
        assert_eq!(
            root.list_frames(Part::Training, FileKind::Calib).unwrap(),
            vec!["000000", "000001"]
        );
        write_split(&root.split_path("val"), &["000000".into(), "000002".into()]).unwrap();
        let split = root.split("val").unwrap();
        let e = root
            .check_split(Part::Training, &split, &[FileKind::Calib])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("val.txt:2") && e.contains("000002") && e.contains("calib/000002.txt"),
            "{e}"
        );
        // A path where a split name belongs names the name to give.
        for given in ["ImageSets/val.txt", "val.txt", "", "a\\val"] {
            let e = root.split(given).unwrap_err().to_string();
            assert!(
                e.contains(&format!("split `{given}` is not a split name")),
                "{e}"
            );
        }
        let e = root.split("r/ImageSets/val.txt").unwrap_err().to_string();
        assert!(e.contains("say `val`") && e.contains("ImageSets"), "{e}");
    }

    #[test]
    fn open_rejects_a_folder_that_is_not_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let e = KittiRoot::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a KITTI object root"), "{e}");
    }
}
