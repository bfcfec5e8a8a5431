//! Training data for the stereo networks: stereo pairs with disparity ground truth read from a
//! KITTI root, random crops, ImageNet normalisation, and batches as tensors.

use crate::error::{DisparityError, Result};
use crate::frames::read_pair;
use crate::model::StereoPair;
use burn::tensor::{Device, Tensor, TensorData};
use kitti::rng::Rng;
use kitti::{Baseline, DisparityMap, KittiRoot, Part};
use std::path::{Path, PathBuf};

/// ImageNet channel means (RGB).
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// One training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The stereo pair.
    pub pair: StereoPair,
    /// Ground-truth disparity of the left image (0 = unknown).
    pub disparity: DisparityMap,
    /// f_u · B of the frame, for the depth loss.
    pub focal_baseline: f32,
    /// Which pixels of the left image lie on a labelled object (row-major; empty unless the
    /// dataset reads instance masks, see [`StereoDataset::with_objects`]).
    pub objects: Vec<bool>,
}

/// The frames of a split with their ground truth in `<gt_dir>/<id>.png`.
#[derive(Debug, Clone)]
pub struct StereoDataset {
    root: KittiRoot,
    ids: Vec<String>,
    gt_dir: PathBuf,
    baseline: Baseline,
    objects: bool,
}

impl StereoDataset {
    /// A dataset over `ids` of `root`'s training part.
    pub fn new(root: KittiRoot, ids: Vec<String>, gt_dir: &Path, baseline: Baseline) -> Self {
        StereoDataset {
            root,
            ids,
            gt_dir: gt_dir.into(),
            baseline,
            objects: false,
        }
    }

    /// The same frames, each example also carrying which pixels lie on a labelled object (from
    /// the synthetic sets' `instance_2/` masks), for a loss that weights them.
    pub fn with_objects(mut self) -> Self {
        self.objects = true;
        self
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there is no frame.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Frame ids.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Checks, from the image headers, that a `[height, width]` crop fits in every frame: a crop
    /// cut to a smaller frame would not be a multiple of 16, which the network cannot take.
    pub fn check_crop(&self, crop: [usize; 2]) -> Result<()> {
        for id in &self.ids {
            let path = self
                .root
                .path(Part::Training, kitti::FileKind::LeftImage, id);
            let (w, h) = kitti::png16::image_size(&path)?;
            if (h as usize) < crop[0] || (w as usize) < crop[1] {
                return Err(DisparityError::Config {
                    path,
                    message: format!(
                        "this {w} x {h} frame is smaller than the training crop = [{}, {}]; choose a crop (multiples of 16) that fits in every training frame",
                        crop[0], crop[1]
                    ),
                });
            }
        }
        Ok(())
    }

    /// Reads example `i`, checking that the ground truth has the images' size.
    pub fn get(&self, i: usize) -> Result<Example> {
        let id = &self.ids[i];
        let pair = read_pair(&self.root, Part::Training, id)?;
        let calib = self.root.calib(Part::Training, id)?;
        let gt_path = self.gt_dir.join(format!("{id}.png"));
        require_file(id, "ground-truth disparity", &gt_path)?;
        let disparity = DisparityMap::read(&gt_path)?;
        self.check_size(id, &gt_path, (disparity.width, disparity.height), &pair)?;
        let objects = if self.objects {
            self.object_pixels(id, &pair)?
        } else {
            Vec::new()
        };
        Ok(Example {
            pair,
            disparity,
            focal_baseline: (calib.fu() * self.baseline.metres(&calib)) as f32,
            objects,
        })
    }

    /// Which pixels of frame `id` lie on a labelled object, from its instance mask.
    fn object_pixels(&self, id: &str, pair: &StereoPair) -> Result<Vec<bool>> {
        let path = self
            .root
            .path(Part::Training, kitti::FileKind::Instance, id);
        require_file(
            id,
            "instance mask (object_weight weights the pixels of labelled objects: the synthetic sets write instance_2/)",
            &path,
        )?;
        let mask = kitti::InstanceMask::read(&path)?;
        self.check_size(id, &path, (mask.width, mask.height), pair)?;
        Ok(mask.data.iter().map(|&v| v > 0).collect())
    }

    /// An error naming `path` and frame `id`'s left image when the map read from `path` is not
    /// `size` = the pair's width × height.
    fn check_size(&self, id: &str, path: &Path, size: (u32, u32), pair: &StereoPair) -> Result<()> {
        if size == (pair.width, pair.height) {
            return Ok(());
        }
        Err(DisparityError::SizeMismatch {
            path: path.to_path_buf(),
            found: format!("{}x{}", size.0, size.1),
            expected: format!("{}x{}", pair.width, pair.height),
            other: self
                .root
                .path(Part::Training, kitti::FileKind::LeftImage, id),
        })
    }
}

/// An error naming the input `what` of frame `id` when `path` is not a file.
fn require_file(id: &str, what: &'static str, path: &Path) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    Err(DisparityError::MissingInput {
        id: id.to_string(),
        what,
        path: path.to_path_buf(),
    })
}

/// A `height` × `width` window of an example at (top, left).
pub fn crop(e: &Example, top: usize, left: usize, height: usize, width: usize) -> Example {
    let w = e.pair.width as usize;
    // The window's rows of a row-major map of `channels` values a pixel (an empty map, such as
    // absent object pixels, stays empty).
    fn window<T: Copy>(
        data: &[T],
        channels: usize,
        w: usize,
        rows: [usize; 2],
        cols: [usize; 2],
    ) -> Vec<T> {
        if data.is_empty() {
            return Vec::new();
        }
        let [top, height] = rows;
        let [left, width] = cols;
        (top..top + height)
            .flat_map(|v| {
                data[(v * w + left) * channels..(v * w + left + width) * channels]
                    .iter()
                    .copied()
            })
            .collect()
    }
    let (rows, cols) = ([top, height], [left, width]);
    Example {
        pair: StereoPair {
            width: width as u32,
            height: height as u32,
            left: window(&e.pair.left, 3, w, rows, cols),
            right: window(&e.pair.right, 3, w, rows, cols),
        },
        disparity: DisparityMap {
            width: width as u32,
            height: height as u32,
            data: window(&e.disparity.data, 1, w, rows, cols),
        },
        focal_baseline: e.focal_baseline,
        objects: window(&e.objects, 1, w, rows, cols),
    }
}

/// A random `height` × `width` crop (the whole example when it is smaller).
pub fn random_crop(e: &Example, height: usize, width: usize, rng: &mut Rng) -> Example {
    let (h, w) = (e.pair.height as usize, e.pair.width as usize);
    let (ch, cw) = (height.min(h), width.min(w));
    let top = rng.int(0, (h - ch) as i64) as usize;
    let left = rng.int(0, (w - cw) as i64) as usize;
    crop(e, top, left, ch, cw)
}

/// RGB bytes → normalised CHW floats.
pub fn normalise(rgb: &[u8], width: usize, height: usize) -> Vec<f32> {
    let n = width * height;
    let mut out = vec![0f32; 3 * n];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * n + i] = (px[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    out
}

/// A batch on a device: left and right images `[B, 3, H, W]`, disparity `[B, H, W]`, f_u·B `[B]`.
pub struct Batch {
    /// Normalised left images.
    pub left: Tensor<4>,
    /// Normalised right images.
    pub right: Tensor<4>,
    /// Ground-truth disparity.
    pub disparity: Tensor<3>,
    /// f_u · B per example.
    pub focal_baseline: Tensor<1>,
    /// The same values on the host.
    pub focal_baseline_values: Vec<f32>,
    /// Per-pixel loss weights `[B, H, W]` (None: every pixel alike).
    pub pixel_weights: Option<Tensor<3>>,
}

/// Stacks examples of equal size into a batch.
pub fn batch(examples: &[Example], device: &Device) -> Batch {
    weighted_batch(examples, 1.0, device)
}

/// Stacks examples of equal size into a batch whose loss weights the pixels of labelled objects
/// `object_weight` times the others (when the examples carry their objects and the weight is
/// not 1).
pub fn weighted_batch(examples: &[Example], object_weight: f64, device: &Device) -> Batch {
    let b = examples.len();
    let (h, w) = (
        examples[0].pair.height as usize,
        examples[0].pair.width as usize,
    );
    let images = |pick: fn(&StereoPair) -> &Vec<u8>| {
        let data: Vec<f32> = examples
            .iter()
            .flat_map(|e| normalise(pick(&e.pair), w, h))
            .collect();
        Tensor::<4>::from_data(TensorData::new(data, [b, 3, h, w]), device)
    };
    let disparity: Vec<f32> = examples
        .iter()
        .flat_map(|e| e.disparity.data.iter().copied())
        .collect();
    let fb: Vec<f32> = examples.iter().map(|e| e.focal_baseline).collect();
    let weighted = object_weight != 1.0 && examples.iter().all(|e| !e.objects.is_empty());
    let pixel_weights = weighted.then(|| {
        let weight = object_weight as f32;
        let data: Vec<f32> = examples
            .iter()
            .flat_map(|e| e.objects.iter().map(move |&o| if o { weight } else { 1.0 }))
            .collect();
        Tensor::<3>::from_data(TensorData::new(data, [b, h, w]), device)
    });
    Batch {
        left: images(|p| &p.left),
        right: images(|p| &p.right),
        disparity: Tensor::<3>::from_data(TensorData::new(disparity, [b, h, w]), device),
        focal_baseline: Tensor::<1>::from_data(TensorData::new(fb.clone(), [b]), device),
        focal_baseline_values: fb,
        pixel_weights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Example {
        let (w, h) = (4usize, 3usize);
        Example {
            pair: StereoPair {
                width: w as u32,
                height: h as u32,
                left: (0..w * h * 3).map(|i| i as u8).collect(),
                right: vec![255; w * h * 3],
            },
            disparity: DisparityMap {
                width: w as u32,
                height: h as u32,
                data: (0..w * h).map(|i| i as f32).collect(),
            },
            focal_baseline: 400.0,
            objects: (0..w * h).map(|i| i % 5 == 0).collect(),
        }
    }

    #[test]
    fn crops_take_the_same_window_of_images_and_disparity() {
        let c = crop(&example(), 1, 2, 2, 2);
        assert_eq!(c.disparity.data, vec![6.0, 7.0, 10.0, 11.0]);
        // Pixel (row 1, col 2) of the left image starts at byte (1·4 + 2)·3 = 18.
        assert_eq!(&c.pair.left[..3], &[18, 19, 20]);
        let mut rng = Rng::new(1);
        let r = random_crop(&example(), 10, 10, &mut rng);
        assert_eq!(r, example());
        // The object pixels come with the window: pixels 6, 7, 10, 11 (every fifth is one).
        assert_eq!(c.objects, vec![false, false, true, false]);
    }

    #[test]
    fn object_pixels_weigh_as_configured_and_only_when_known() {
        let device = Device::flex();
        let e = example();
        let weights = |b: Batch| {
            b.pixel_weights
                .map(|w| w.into_data().try_to_vec::<f32>().unwrap())
        };
        let expected: Vec<f32> = (0..12)
            .map(|i| if i % 5 == 0 { 8.0 } else { 1.0 })
            .collect();
        assert_eq!(
            weights(weighted_batch(std::slice::from_ref(&e), 8.0, &device)),
            Some(expected)
        );
        assert_eq!(
            weights(weighted_batch(std::slice::from_ref(&e), 1.0, &device)),
            None
        );
        let unknown = Example {
            objects: Vec::new(),
            ..e
        };
        assert_eq!(weights(weighted_batch(&[unknown], 8.0, &device)), None);
    }

    #[test]
    fn normalisation_and_batch_layout() {
        let n = normalise(&[255, 0, 128], 1, 1);
        assert!(
            (n[0] - (1.0 - MEAN[0]) / STD[0]).abs() < 1e-6
                && (n[1] + MEAN[1] / STD[1]).abs() < 1e-6
        );
        let b = batch(&[example(), example()], &Device::flex());
        assert_eq!(b.left.dims(), [2, 3, 3, 4]);
        assert_eq!(b.disparity.dims(), [2, 3, 4]);
        assert_eq!(
            b.focal_baseline.into_data().try_to_vec::<f32>().unwrap(),
            vec![400.0, 400.0]
        );
    }
}
