//! SDN, the stereo depth network of Pseudo-LiDAR++ (You et al. 2020): PSMNet's trunk, but the
//! disparity cost volume is resampled into a depth cost volume before aggregation, and the
//! network regresses depth directly (trained with a depth loss).

use crate::loss::{masked_smooth_l1, weighted_over_outputs, MIN_DISPARITY};
use crate::ops::{concat_cost_volume, sample_axis2, upsampled_expectation};
use crate::psmnet::feature::FeatureExtractor;
use crate::psmnet::hourglass::Aggregation;
use crate::psmnet::PsmNetConfig;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

/// SDN settings: the trunk, and the depth bins.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SdnConfig {
    /// Feature extractor and aggregation (its `max_disparity` bounds the disparity cost volume).
    pub trunk: PsmNetConfig,
    /// Spacing of the depth bins of the 1/4-resolution volume, metres (bins at step, 2·step, …).
    pub depth_step: f64,
    /// Largest depth, metres: the quarter volume has max_depth / depth_step bins, the output
    /// max_depth bins at 1, 2, …, max_depth m.
    pub max_depth: usize,
}

impl Default for SdnConfig {
    /// Pseudo-LiDAR++'s: depth bins 2, 4, …, 80 m, output bins 1 … 80 m, PSMNet's trunk.
    fn default() -> Self {
        SdnConfig {
            trunk: PsmNetConfig::default(),
            depth_step: 2.0,
            max_depth: 80,
        }
    }
}

impl SdnConfig {
    /// Builds the network.
    pub fn init(&self, device: &Device) -> SdnNet {
        SdnNet {
            feature: FeatureExtractor::new(&self.trunk, device),
            aggregation: Aggregation::new(&self.trunk, device),
            max_disparity: self.trunk.max_disparity,
            depth_step: self.depth_step,
            max_depth: self.max_depth,
            align_corners: self.trunk.align_corners,
        }
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct SdnNet {
    feature: FeatureExtractor,
    aggregation: Aggregation,
    max_disparity: usize,
    depth_step: f64,
    max_depth: usize,
    align_corners: bool,
}

impl SdnNet {
    /// Largest depth, metres.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Depths of the quarter-resolution bins, metres.
    pub fn quarter_depths(&self) -> Vec<f64> {
        let n = (self.max_depth as f64 / self.depth_step).round() as usize;
        (1..=n).map(|k| k as f64 * self.depth_step).collect()
    }

    /// Depth maps `[B, H, W]` in metres of normalised image batches; `focal_baseline` holds
    /// f_u·B of each sample (at full resolution), which places the depth bins in the disparity
    /// volume: bin z samples disparity f_u·B / (4·z) at 1/4 resolution.
    pub fn forward(
        &self,
        left: Tensor<4>,
        right: Tensor<4>,
        focal_baseline: &[f32],
        all_outputs: bool,
    ) -> Vec<Tensor<3>> {
        let [_, _, h, w] = left.dims();
        let fl = self.feature.forward(left);
        let fr = self.feature.forward(right);
        let cost = concat_cost_volume(fl, fr, self.max_disparity / 4);
        let positions: Vec<Vec<f32>> = focal_baseline
            .iter()
            .map(|&fb| {
                self.quarter_depths()
                    .iter()
                    .map(|z| (fb as f64 / (4.0 * z)) as f32)
                    .collect()
            })
            .collect();
        let depth_cost = sample_axis2(cost, &positions);
        let depths: Vec<f32> = (1..=self.max_depth).map(|z| z as f32).collect();
        self.aggregation
            .forward(depth_cost, all_outputs)
            .into_iter()
            .map(|s| upsampled_expectation(s, [self.max_depth, h, w], &depths, self.align_corners))
            .collect()
    }
}

/// SDN's loss: smooth-L1 between predicted depth and f_u·B / disparity of the ground truth, on
/// pixels whose true depth lies in [1, max_depth] m, weighted 0.5 / 0.7 / 1.0 over three outputs.
pub fn sdn_loss(
    preds: &[Tensor<3>],
    gt_disparity: Tensor<3>,
    focal_baseline: &[f32],
    max_depth: f64,
) -> Tensor<1> {
    let [b, _, _] = gt_disparity.dims();
    let device = gt_disparity.device();
    let fb = Tensor::<1>::from_data(TensorData::new(focal_baseline.to_vec(), [b]), &device)
        .reshape([b, 1, 1]);
    let valid = gt_disparity.clone().greater_elem(0.0);
    let gt_depth = fb / gt_disparity.clamp_min(MIN_DISPARITY);
    let mask = valid
        .bool_and(gt_depth.clone().greater_equal_elem(1.0))
        .bool_and(gt_depth.clone().lower_equal_elem(max_depth));
    weighted_over_outputs(preds, |p| {
        masked_smooth_l1(p - gt_depth.clone(), mask.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psmnet::trainable_params;

    #[test]
    fn sdn_shares_psmnet_parameters_and_regresses_depth_in_range() {
        let device = Device::flex();
        let full = SdnConfig::default().init(&device);
        // The depth volume needs no parameters of its own: the trunk's count.
        assert_eq!(trainable_params(&full), 5_224_768);
        let cfg = SdnConfig {
            trunk: PsmNetConfig::tiny(),
            depth_step: 2.0,
            max_depth: 80,
        };
        let net = cfg.init(&device);
        assert_eq!(net.quarter_depths().len(), 40);
        let img = Tensor::<4>::zeros([2, 3, 32, 64], &device);
        let out = net.forward(img.clone(), img, &[100.0, 120.0], true);
        assert_eq!(out.len(), 3);
        for d in out {
            assert_eq!(d.dims(), [2, 32, 64]);
            let v = d.into_data().try_to_vec::<f32>().unwrap();
            assert!(v.iter().all(|z| z.is_finite() && (1.0..=80.0).contains(z)));
        }
    }

    #[test]
    fn the_depth_loss_ignores_pixels_beyond_the_range() {
        let device = Device::flex();
        // f·B = 100: disparity 10 is 10 m (kept), 1 is 100 m (beyond 80 m, ignored), 0 unknown.
        let gt =
            Tensor::<3>::from_data(TensorData::new(vec![10.0f32, 1.0, 0.0], [1, 1, 3]), &device);
        let pred =
            Tensor::<3>::from_data(TensorData::new(vec![12.0f32, 5.0, 7.0], [1, 1, 3]), &device);
        let loss: f32 = sdn_loss(&[pred], gt, &[100.0], 80.0).into_scalar();
        // Only the first pixel counts: |12 − 10| = 2 → smooth-L1 1.5.
        assert!((loss - 1.5).abs() < 1e-6, "{loss}");
    }
}
