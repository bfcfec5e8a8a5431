//! Running a model over the frames of a KITTI root, and evaluating a folder of predictions.

use crate::error::{DisparityError, Result};
use crate::metrics::{frame_breakdown, Breakdown};
use crate::model::{DisparityModel, StereoPair};
use crate::objects::{frame_objects, ObjectMap};
use crate::outline::{outline_map, OUTLINE_RADIUS};
use kitti::npy::MapFormat;
use kitti::png16::{check_pair_kinds, read_image};
use kitti::{
    read_labels, read_velodyne, Baseline, Calibration, DisparityMap, FileKind, InstanceMask,
    KittiRoot, Part,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Name of the file that records which model filled a prediction folder.
pub const SETTINGS_FILE: &str = "model.txt";

/// The map file (`<id>.png` or `<id>.npy`) of frame `id` in `dir`, which must exist.
pub(crate) fn map_input(dir: &Path, id: &str, what: &'static str) -> Result<PathBuf> {
    kitti::npy::map_file(dir, id)?.ok_or_else(|| DisparityError::MissingInput {
        id: id.into(),
        what,
        path: dir.join(format!("{id}.png (or .npy)")),
    })
}

pub(crate) fn input(path: PathBuf, id: &str, what: &'static str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(DisparityError::MissingInput {
            id: id.into(),
            what,
            path,
        })
    }
}

/// Reads a frame's stereo pair (image_2, image_3), checking the two sizes agree.
pub fn read_pair(root: &KittiRoot, part: Part, id: &str) -> Result<StereoPair> {
    let lp = input(root.path(part, FileKind::LeftImage, id), id, "left image")?;
    let rp = input(root.path(part, FileKind::RightImage, id), id, "right image")?;
    let (left, right) = (read_image(&lp)?, read_image(&rp)?);
    check_pair_kinds((&lp, &left), (&rp, &right))?;
    let (left, right) = (left.to_rgb8(), right.to_rgb8());
    let ((w, h), (wr, hr)) = (left.dimensions(), right.dimensions());
    if (w, h) != (wr, hr) {
        return Err(DisparityError::SizeMismatch {
            path: rp,
            found: format!("{wr}x{hr}"),
            expected: format!("{w}x{h}"),
            other: lp,
        });
    }
    Ok(StereoPair {
        width: w,
        height: h,
        left: left.into_raw(),
        right: right.into_raw(),
    })
}

/// Predicts disparity for the frames `ids` of `root`'s training part into `<out>/<id>.png` (or
/// `.npy`, as `format` says); frames already predicted are skipped. `settings` (the model and
/// its configuration; with the format when it is not PNG) is written to `<out>/model.txt`, and
/// a folder filled with other settings is refused. Returns (predicted, skipped).
pub fn predict_frames(
    model: &dyn DisparityModel,
    settings: &str,
    root: &KittiRoot,
    ids: &[String],
    out: &Path,
    format: MapFormat,
    progress: &(dyn Fn() + Sync),
) -> Result<(usize, usize)> {
    let settings = match format {
        MapFormat::Png => settings.to_string(),
        MapFormat::Npy => format!("{settings}format = npy\n"),
    };
    let settings = settings.as_str();
    let record = out.join(SETTINGS_FILE);
    if let Some(found) = kitti::io::claim_record(&record, settings)? {
        return Err(DisparityError::DifferentSettings {
            path: record,
            found: found.trim().to_string(),
        });
    }
    let work = |id: &String| -> Result<bool> {
        let dest = out.join(format!("{id}.{}", format.extension()));
        let r = if dest.is_file() {
            Ok(false)
        } else {
            (|| {
                let pair = read_pair(root, Part::Training, id)?;
                let calib = root.calib(Part::Training, id)?;
                model.predict(&pair, &calib).write_as(&dest, format)?;
                Ok(true)
            })()
        };
        progress();
        r
    };
    let done: Vec<bool> = if model.parallel_frames() {
        ids.par_iter().map(work).collect::<Result<_>>()?
    } else {
        ids.iter().map(work).collect::<Result<_>>()?
    };
    let n = done.iter().filter(|d| **d).count();
    Ok((n, done.len() - n))
}

/// Clears the ground truth of every pixel that `pred` does not predict (0, negative or NaN).
fn keep_predicted(gt: &mut DisparityMap, pred: &DisparityMap) {
    for (g, p) in gt.data.iter_mut().zip(&pred.data) {
        if !(*p > 0.0 && p.is_finite()) {
            *g = 0.0;
        }
    }
}

/// Where each frame's per-class pixels come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassSource {
    /// No per-class rows.
    None,
    /// Synthetic instance masks (`<masks>/<id>.png`) with labels (`<labels>/<id>.txt`).
    Instances {
        /// Instance mask folder.
        masks: PathBuf,
        /// Label folder.
        labels: PathBuf,
    },
    /// LiDAR points inside labelled boxes (real KITTI).
    Lidar {
        /// Velodyne folder.
        velodyne: PathBuf,
        /// Label folder.
        labels: PathBuf,
    },
}

/// A change made to each predicted map before it is scored.
pub type MapTransform = dyn Fn(&DisparityMap) -> DisparityMap + Sync;

/// Evaluates the predictions `<pred>/<id>.png` against ground truth `<gt>/<id>.png` over `ids`,
/// frame by frame: one breakdown per id, in order ([`Breakdown::total`] gives the whole set's;
/// a bootstrap over frames resamples them). Depth uses f_u from `<calib>/<id>.txt` and
/// `baseline`. With `common` prediction folders, only the ground-truth pixels that every one of
/// them (and `pred`) predicts are counted, so that models of different density are compared on
/// the same pixels. With `prepare`, every prediction (and every `common` map) is passed through
/// it first (e.g. the pseudo-LiDAR stage's depth-edge filter, so that the errors are those of
/// the pixels that become points).
#[allow(clippy::too_many_arguments)]
pub fn evaluate_frames(
    pred: &Path,
    gt: &Path,
    calib: &Path,
    classes: &ClassSource,
    baseline: Baseline,
    ids: &[String],
    common: &[PathBuf],
    prepare: Option<&MapTransform>,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Breakdown>> {
    let read_prediction = |path: &Path| -> Result<DisparityMap> {
        let m = DisparityMap::read_any(path)?;
        Ok(match prepare {
            Some(f) => f(&m),
            None => m,
        })
    };
    ids.par_iter()
        .map(|id| {
            let r = (|| {
                let txt = |dir: &Path| dir.join(format!("{id}.txt"));
                let gt_path = map_input(gt, id, "ground-truth disparity")?;
                let pred_path = map_input(pred, id, "predicted disparity")?;
                let mut g = DisparityMap::read_any(&gt_path)?;
                let p = read_prediction(&pred_path)?;
                let size = (g.width, g.height);
                let same_size = |path: PathBuf, m: &DisparityMap| {
                    if size == (m.width, m.height) {
                        return Ok(());
                    }
                    Err(DisparityError::SizeMismatch {
                        path,
                        found: format!("{}x{}", m.width, m.height),
                        expected: format!("{}x{}", size.0, size.1),
                        other: gt_path.clone(),
                    })
                };
                same_size(pred_path.clone(), &p)?;
                // `pred` itself, usually one of `common`, is already read (and prepared).
                for dir in common.iter().filter(|d| d.as_path() != pred) {
                    let path = map_input(dir, id, "predicted disparity")?;
                    let other = read_prediction(&path)?;
                    same_size(path, &other)?;
                    keep_predicted(&mut g, &other);
                }
                if !common.is_empty() {
                    keep_predicted(&mut g, &p);
                }
                let c = Calibration::read(&input(txt(calib), id, "calibration")?)?;
                // The objects' pixels, with the instance mask where they come from one (dense
                // pixels: their outlines are known too).
                let (object_map, mask): (Option<ObjectMap>, Option<InstanceMask>) = match classes {
                    ClassSource::None => (None, None),
                    ClassSource::Instances { masks, labels } => {
                        let mask_path =
                            input(masks.join(format!("{id}.png")), id, "instance mask")?;
                        let m = InstanceMask::read(&mask_path)?;
                        if (m.width, m.height) != size {
                            return Err(DisparityError::SizeMismatch {
                                path: mask_path,
                                found: format!("{}x{}", m.width, m.height),
                                expected: format!("{}x{}", size.0, size.1),
                                other: gt_path.clone(),
                            });
                        }
                        let objects = ObjectMap::from_instances(
                            &m,
                            &read_labels(&input(txt(labels), id, "label")?)?,
                        );
                        (Some(objects), Some(m))
                    }
                    ClassSource::Lidar { velodyne, labels } => {
                        let pts = read_velodyne(&input(
                            velodyne.join(format!("{id}.bin")),
                            id,
                            "velodyne",
                        )?)?;
                        let l = read_labels(&input(txt(labels), id, "label")?)?;
                        let objects = ObjectMap::from_lidar(&pts, &l, &c, g.width, g.height);
                        (Some(objects), None)
                    }
                };
                let fb = c.fu() * baseline.metres(&c);
                let classes = object_map.as_ref().map(ObjectMap::class_map);
                let outlines = mask
                    .zip(classes.as_ref())
                    .map(|(m, c)| outline_map(&m, c, OUTLINE_RADIUS));
                let mut b = frame_breakdown(&p, &g, fb, classes.as_ref(), outlines.as_ref());
                if let Some(objects) = &object_map {
                    b.objects = frame_objects(&p, &g, fb, objects);
                }
                Ok(b)
            })();
            progress();
            r
        })
        .collect()
}
