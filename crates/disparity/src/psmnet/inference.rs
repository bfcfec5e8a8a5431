//! Running a trained PSMNet on full frames: normalise, pad to a multiple of 16 (top and right,
//! as the reference), predict, crop back; and the memory it will need.

use super::data::normalise;
use super::model::PsmNetConfig;
use crate::model::{DisparityModel, StereoPair};
use crate::network::StereoNet;
use burn::tensor::{Device, Tensor, TensorData};
use kitti::{Calibration, DisparityMap};

/// Inputs are padded to a multiple of this.
pub const PAD_MULTIPLE: usize = 16;

/// `n` rounded up to a multiple of [`PAD_MULTIPLE`].
pub fn padded(n: usize) -> usize {
    n.div_ceil(PAD_MULTIPLE) * PAD_MULTIPLE
}

/// Estimated peak memory in bytes of one inference at `height` × `width`: the 3-D activations
/// at the cost volume's resolution (cost volume and about 16 aggregation-width volumes alive at
/// once), three full-resolution disparity volumes (upsampled scores, softmax, product), and the
/// weights.
/// Calibrated on the reference's 4.5 GB at 384 × 1248 with the default configuration.
pub fn estimate_memory_bytes(
    cfg: &PsmNetConfig,
    height: usize,
    width: usize,
    params: usize,
) -> u64 {
    let (h, w) = (padded(height) as u64, padded(width) as u64);
    let d = cfg.max_disparity as u64;
    let s = cfg.cost_volume_scale as u64;
    let voxels = (d / s) * (h / s) * (w / s);
    let volume = voxels * (2 * cfg.feature_channels as u64 + 16 * cfg.aggregation_channels as u64);
    let full = 3 * d * h * w;
    4 * (volume + full + params as u64)
}

/// A trained network as a [`DisparityModel`].
#[derive(Debug)]
pub struct NetPredictor<N: StereoNet> {
    /// The network (in inference mode: call `valid()` on a training copy).
    pub model: N,
    /// Where it runs.
    pub device: Device,
    /// Its name in reports.
    pub name: String,
    /// Baseline turning depth into disparity for networks that regress depth.
    pub baseline: kitti::Baseline,
}

/// Pads normalised CHW images to `[1, 3, hp, wp]` with zeros above and to the right.
fn padded_tensor(rgb: &[u8], w: usize, h: usize, device: &Device) -> Tensor<4> {
    let (hp, wp) = (padded(h), padded(w));
    let img = normalise(rgb, w, h);
    let top = hp - h;
    let mut out = vec![0f32; 3 * hp * wp];
    for c in 0..3 {
        for v in 0..h {
            let src = &img[c * h * w + v * w..c * h * w + (v + 1) * w];
            let dst = c * hp * wp + (v + top) * wp;
            out[dst..dst + w].copy_from_slice(src);
        }
    }
    Tensor::<4>::from_data(TensorData::new(out, [1, 3, hp, wp]), device)
}

/// Predicts the disparity of a pair at its own size; `focal_baseline` is the frame's f_u·B.
pub fn predict_pair<N: StereoNet>(
    model: &N,
    pair: &StereoPair,
    focal_baseline: f32,
    device: &Device,
) -> DisparityMap {
    let (w, h) = (pair.width as usize, pair.height as usize);
    let left = padded_tensor(&pair.left, w, h, device);
    let right = padded_tensor(&pair.right, w, h, device);
    let out = model.disparity(left, right, focal_baseline);
    let [_, hp, _] = out.dims();
    let top = hp - h;
    let data = out
        .narrow(1, top, h)
        .narrow(2, 0, w)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    DisparityMap {
        width: w as u32,
        height: h as u32,
        data,
    }
}

impl<N: StereoNet> DisparityModel for NetPredictor<N> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn predict(&self, pair: &StereoPair, calib: &Calibration) -> DisparityMap {
        predict_pair(
            &self.model,
            pair,
            (calib.fu() * self.baseline.metres(calib)) as f32,
            &self.device,
        )
    }
    fn parallel_frames(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_estimate_matches_the_reference_figure() {
        let gb = estimate_memory_bytes(&PsmNetConfig::default(), 375, 1242, 5_224_768) as f64 / 1e9;
        assert!((4.0..5.0).contains(&gb), "{gb} GB");
        assert_eq!((padded(375), padded(1242)), (384, 1248));
    }

    #[test]
    fn predictions_come_back_at_the_input_size() {
        let cfg = PsmNetConfig::tiny();
        let device = Device::flex();
        let model = cfg.init(&device);
        let pair = StereoPair {
            width: 37,
            height: 21,
            left: vec![90; 37 * 21 * 3],
            right: vec![90; 37 * 21 * 3],
        };
        let d = predict_pair(&model, &pair, 100.0, &device);
        assert_eq!((d.width, d.height, d.data.len()), (37, 21, 37 * 21));
        assert!(d.data.iter().all(|v| v.is_finite()));
    }
}
