//! PSMNet in burn: `model` (network and configuration), `feature` (2-D feature extractor with
//! spatial pyramid pooling), `hourglass` (3-D aggregation), `layers` (conv + batch-norm blocks),
//! `import` (the reference code's PyTorch checkpoints), `refine` (an optional 1/2-resolution
//! refinement stage).

pub mod data;
pub mod feature;
pub mod hourglass;
pub mod import;
pub mod inference;
pub mod layers;
pub mod model;
pub mod refine;
pub mod run;
pub mod training;

pub use model::{LevelSpacing, PsmNet, PsmNetConfig};
pub use refine::{RefineConfig, RefinedPsmNet};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Counts trainable parameters: every float parameter except batch-norm running statistics
/// (which burn's `num_params` includes but PyTorch's `parameters()` does not).
struct TrainableCounter {
    path: Vec<String>,
    count: usize,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let running = self
            .path
            .last()
            .is_some_and(|n| n == "running_mean" || n == "running_var");
        if !running {
            self.count += param.lazy_shape().num_elements();
        }
    }
}

/// The number of trainable parameters of a module (PyTorch's convention).
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut counter = TrainableCounter {
        path: Vec::new(),
        count: 0,
    };
    module.visit(&mut counter);
    counter.count
}

/// A deterministic textured image `[1, 3, 32, 64]` for the network tests.
#[cfg(test)]
pub(crate) fn test_image(device: &burn::tensor::Device) -> Tensor<4> {
    let data: Vec<f32> = (0..3 * 32 * 64)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    Tensor::from_data(burn::tensor::TensorData::new(data, [1, 3, 32, 64]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn the_reference_configuration_has_the_reference_parameter_count() {
        let model = PsmNetConfig::default().init(&Device::flex());
        assert_eq!(trainable_params(&model), 5_224_768);
        // burn also counts the running mean and variance of the 5,600 batch-norm channels.
        assert_eq!(model.num_params(), 5_224_768 + 2 * 5_600);
    }

    #[test]
    fn a_tiny_network_maps_a_pair_to_disparities_in_range() {
        let cfg = PsmNetConfig::tiny();
        let device = Device::flex();
        let model = cfg.init(&device);
        let left = Tensor::<4>::ones([1, 3, 32, 48], &device);
        let right = Tensor::<4>::ones([1, 3, 32, 48], &device);
        let out = model.forward(left, right, true);
        assert_eq!(out.len(), 3);
        for d in out {
            assert_eq!(d.dims(), [1, 32, 48]);
            let v = d.into_data().try_to_vec::<f32>().expect("f32 data");
            // Soft-argmin over disparities 0..32 stays within [0, 31].
            assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0 && *x <= 31.0));
        }
    }

    #[test]
    fn geometric_levels_run_from_one_pixel_to_the_range_in_equal_ratios() {
        let levels = model::geometric_levels(32, 64);
        assert_eq!(levels.len(), 32);
        assert!((levels[0] - 1.0).abs() < 1e-6, "{}", levels[0]);
        assert!((levels[31] - 63.0).abs() < 1e-3, "{}", levels[31]);
        let ratio = 63f32.powf(1.0 / 31.0);
        for pair in levels.windows(2) {
            assert!((pair[1] / pair[0] - ratio).abs() < 1e-4, "{pair:?}");
        }
        // At half KITTI size (f_u·B ≈ 195 px·m) a car at 30 m (6.5 px) and a background at
        // 50 m (3.9 px) lie 1.3 uniform levels apart (2 px each) and 3.8 geometric ones.
        let apart = |a: f32, b: f32| (a / b).ln() / ratio.ln();
        assert!((apart(6.5, 3.9) - 3.8).abs() < 0.05, "{}", apart(6.5, 3.9));
    }

    #[test]
    fn a_geometric_network_keeps_the_parameters_and_regresses_within_its_levels() {
        let device = Device::flex();
        let uniform = PsmNetConfig {
            cost_volume_scale: 2,
            ..PsmNetConfig::tiny()
        };
        let geometric = PsmNetConfig {
            levels: LevelSpacing::Geometric,
            ..uniform.clone()
        };
        assert_eq!(
            trainable_params(&uniform.init(&device)),
            trainable_params(&geometric.init(&device))
        );
        let left = test_image(&device);
        let right = left.clone().slice([0..1, 0..3, 0..32, 3..64]);
        let right = Tensor::cat(vec![right, Tensor::zeros([1, 3, 32, 3], &device)], 3);
        for d in geometric.init(&device).forward(left, right, true) {
            assert_eq!(d.dims(), [1, 32, 64]);
            let v = d.into_data().try_to_vec::<f32>().expect("f32 data");
            // The levels span 1 to 31 pixels: a soft-argmin over them stays inside.
            let bad: Vec<_> = v
                .iter()
                .filter(|x| !(x.is_finite() && **x >= 1.0 - 1e-4 && **x <= 31.0 + 1e-3))
                .collect();
            assert!(bad.is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn a_half_resolution_cost_volume_keeps_the_parameters_and_doubles_the_feature_resolution() {
        use super::feature::FeatureExtractor;
        let device = Device::flex();
        let quarter = PsmNetConfig::tiny();
        let half = PsmNetConfig {
            cost_volume_scale: 2,
            ..quarter.clone()
        };
        // Only a stride changes: the same parameters, so the same weights files fit both.
        assert_eq!(
            trainable_params(&quarter.init(&device)),
            trainable_params(&half.init(&device))
        );
        let image = Tensor::<4>::ones([1, 3, 32, 48], &device);
        for (cfg, dims) in [(&quarter, [1, 8, 8, 12]), (&half, [1, 8, 16, 24])] {
            let features = FeatureExtractor::new(cfg, &device).forward(image.clone());
            assert_eq!(features.dims(), dims);
        }
        let out = half.init(&device).forward(image.clone(), image, true);
        for d in out {
            assert_eq!(d.dims(), [1, 32, 48]);
            let v = d.into_data().try_to_vec::<f32>().expect("f32 data");
            // Soft-argmin stays within [0, 31], up to the rounding of a saturated softmax.
            let bad: Vec<_> = v
                .iter()
                .filter(|x| !(x.is_finite() && **x >= 0.0 && **x <= 31.0 + 1e-4))
                .collect();
            assert!(bad.is_empty(), "{bad:?}");
        }
    }
}
