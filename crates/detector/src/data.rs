//! Frames for the detector: a point cloud (real LiDAR or pseudo-LiDAR `.bin`), the frame's
//! calibration and image size, and its labels turned into velodyne boxes of the model's classes.

use crate::anchors::BoxParams;
use crate::config::ClassSpec;
use crate::error::{DetectorError, Result};
use crate::postprocess::box_params;
use crate::targets::GtBox;
use kitti::calib::Calibration;
use kitti::label::{read_labels, Object, ObjectType};
use kitti::velodyne::{read_velodyne, LidarPoint};
use std::path::{Path, PathBuf};

/// Where a set of frames lives: points from any stage, labels, calibration and images (for the
/// image size) from a KITTI part.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameSource {
    /// Folder of `<id>.bin` point clouds.
    pub points: PathBuf,
    /// Folder of `<id>.txt` labels (None to predict without them).
    pub labels: Option<PathBuf>,
    /// Folder of `<id>.txt` calibrations.
    pub calib: PathBuf,
    /// Folder of `<id>.png` left images.
    pub images: PathBuf,
}

/// One loaded frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Frame id.
    pub id: String,
    /// Its points (in the camera's field of view when the config asks for it).
    pub points: Vec<LidarPoint>,
    /// Its boxes of the model's classes, velodyne frame.
    pub gt: Vec<GtBox>,
    /// Every label line (for evaluation), empty without labels.
    pub labels: Vec<Object>,
    /// Calibration.
    pub calib: Calibration,
    /// Image width and height.
    pub image_size: (u32, u32),
}

impl FrameSource {
    /// A source whose calibration and images sit next to the label folder, as in a KITTI part
    /// (`<part>/label_2` → `<part>/calib`, `<part>/image_2`).
    pub fn beside_labels(points: &Path, labels: &Path) -> Self {
        let part = labels.parent().unwrap_or(Path::new("."));
        FrameSource {
            points: points.to_path_buf(),
            labels: Some(labels.to_path_buf()),
            calib: part.join("calib"),
            images: part.join("image_2"),
        }
    }

    fn file(&self, dir: &Path, id: &str, ext: &str, what: &'static str) -> Result<PathBuf> {
        let path = dir.join(format!("{id}.{ext}"));
        if path.is_file() {
            Ok(path)
        } else {
            Err(DetectorError::MissingInput {
                id: id.to_string(),
                what,
                path,
            })
        }
    }

    /// Checks that every frame has all its files, before any work starts.
    pub fn check(&self, ids: &[String]) -> Result<()> {
        for id in ids {
            self.file(&self.points, id, "bin", "point cloud")?;
            self.file(&self.calib, id, "txt", "calibration")?;
            self.file(&self.images, id, "png", "left image")?;
            if let Some(labels) = &self.labels {
                self.file(labels, id, "txt", "label")?;
            }
        }
        Ok(())
    }

    /// Refuses to train `classes` on frames `ids` whose labels hold no object of one of them:
    /// its head would learn that class is nowhere (and the detector would find none). Reads
    /// the label files only.
    pub fn check_classes_present(&self, ids: &[String], classes: &[ClassSpec]) -> Result<()> {
        let Some(dir) = &self.labels else {
            return Ok(());
        };
        let mut counts = vec![0usize; classes.len()];
        for id in ids {
            for o in read_labels(&self.file(dir, id, "txt", "label")?)? {
                if let Some(c) = classes.iter().position(|c| c.kind == o.kind) {
                    counts[c] += 1;
                }
            }
        }
        match classes.iter().zip(&counts).find(|(_, &n)| n == 0) {
            Some((c, _)) => Err(DetectorError::NoObjects {
                class: c.name.clone(),
                frames: ids.len(),
                labels: dir.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Loads frame `id` with the boxes of `classes`; `fov_only` keeps the points that project
    /// into the image.
    pub fn load(&self, id: &str, classes: &[ClassSpec], fov_only: bool) -> Result<Frame> {
        let path = self.file(&self.points, id, "bin", "point cloud")?;
        let mut points = read_velodyne(&path)?;
        if points.is_empty() {
            return Err(DetectorError::EmptyCloud { path });
        }
        let calib = Calibration::read(&self.file(&self.calib, id, "txt", "calibration")?)?;
        let image = self.file(&self.images, id, "png", "left image")?;
        let image_size = kitti::png16::image_size(&image)?;
        // Only the size is read (it bounds the camera's field of view): an image of another
        // frame or a stub would silently change which points count.
        calib.check_image_size(image_size.0, image_size.1, &image)?;
        if fov_only {
            points.retain(|p| in_view(p, &calib, image_size));
        }
        let labels = match &self.labels {
            Some(dir) => read_labels(&self.file(dir, id, "txt", "label")?)?,
            None => Vec::new(),
        };
        let gt = gt_boxes(&labels, classes, &calib);
        Ok(Frame {
            id: id.to_string(),
            points,
            gt,
            labels,
            calib,
            image_size,
        })
    }
}

/// Whether a point projects into the image, in front of the camera.
pub fn in_view(p: &LidarPoint, calib: &Calibration, (w, h): (u32, u32)) -> bool {
    let q = calib.velo_to_image(&nalgebra::Point3::new(p.x as f64, p.y as f64, p.z as f64));
    q.depth > 0.0 && q.u >= 0.0 && q.u < w as f64 && q.v >= 0.0 && q.v < h as f64
}

/// The labelled boxes of the model's classes as velodyne boxes.
pub fn gt_boxes(labels: &[Object], classes: &[ClassSpec], calib: &Calibration) -> Vec<GtBox> {
    labels
        .iter()
        .filter_map(|o| {
            let class = classes.iter().position(|c| c.kind == o.kind)?;
            Some(GtBox {
                class,
                params: box_params(&o.box3d.to_velo(calib)),
            })
        })
        .collect()
}

/// Every labelled object that is not one of `classes` (nor a DontCare region) as a velodyne
/// box: what pasted training objects must not collide with.
pub fn other_boxes(
    labels: &[Object],
    classes: &[ClassSpec],
    calib: &Calibration,
) -> Vec<BoxParams> {
    labels
        .iter()
        .filter(|o| o.kind != ObjectType::DontCare && classes.iter().all(|c| c.kind != o.kind))
        .map(|o| box_params(&o.box3d.to_velo(calib)))
        .collect()
}

/// Whether a training box is kept: at least one of its eight corners lies inside the point
/// range, bounds included (OpenPCDet's `mask_boxes_outside_range_numpy`, one corner).
pub fn box_in_range(b: &BoxParams, range: &[f64; 6]) -> bool {
    crate::postprocess::velo_box(b).corners().iter().any(|p| {
        let p = [p.x, p.y, p.z];
        (0..3).all(|i| p[i] >= range[i] && p[i] <= range[i + 3])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::FRAC_PI_2;

    #[test]
    fn a_training_box_is_kept_while_one_corner_is_in_range() {
        let range = [0.0, -39.68, -3.0, 69.12, 39.68, 1.0];
        // Centre 1 m beyond x_max, but the rear corners (x = 70.12 − 1.95) lie inside.
        let edge = [70.12, 0.0, -1.0, 3.9, 1.6, 1.56, 0.0];
        assert!(box_in_range(&edge, &range));
        // Entirely beyond x_max; and inside in x, y but entirely above z_max.
        assert!(!box_in_range(
            &[72.5, 0.0, -1.0, 3.9, 1.6, 1.56, 0.0],
            &range
        ));
        assert!(!box_in_range(
            &[20.0, 0.0, 2.0, 3.9, 1.6, 1.56, 0.0],
            &range
        ));
        // A box straddling the y edge, turned by 90 degrees: its corners reach y = 39.68 − 0.1.
        assert!(box_in_range(
            &[20.0, 41.53, -1.0, 3.9, 1.6, 1.56, FRAC_PI_2],
            &range
        ));
        assert!(!box_in_range(
            &[20.0, 41.73, -1.0, 3.9, 1.6, 1.56, FRAC_PI_2],
            &range
        ));
    }
}
