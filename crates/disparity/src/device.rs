//! Choosing where networks run: burn's CPU backend (flex), a GPU through wgpu (Vulkan, Metal,
//! DX12; on a CPU-only Linux machine Mesa's lavapipe provides a software adapter), or CUDA.
//! GPU backends are cargo features (`wgpu`, `cuda`) so that CPU-only builds stay lean.

use burn::tensor::Device;

/// A device the user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// burn's flex CPU backend.
    Cpu,
    /// The default wgpu adapter.
    Wgpu,
    /// The first CUDA device.
    Cuda,
}

impl DeviceChoice {
    /// Parses `cpu`, `wgpu` or `cuda`.
    pub fn parse(s: &str) -> Option<DeviceChoice> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Some(DeviceChoice::Cpu),
            "wgpu" | "gpu" => Some(DeviceChoice::Wgpu),
            "cuda" => Some(DeviceChoice::Cuda),
            _ => None,
        }
    }
}

/// Whether a wgpu adapter can be had (always false in builds without the `wgpu` feature).
pub fn wgpu_available() -> bool {
    #[cfg(feature = "wgpu")]
    {
        !Device::enumerate(burn::tensor::DeviceType::Wgpu).is_empty()
    }
    #[cfg(not(feature = "wgpu"))]
    {
        false
    }
}

/// The device for a choice; without one, wgpu when an adapter exists, else the CPU. Asking for
/// a backend this build lacks, or a wgpu device on a machine without an adapter, is an error
/// that says what to do.
pub fn select(choice: Option<DeviceChoice>) -> Result<Device, String> {
    match choice {
        Some(DeviceChoice::Cpu) => Ok(Device::flex()),
        None => Ok(if wgpu_available() {
            wgpu_device()
        } else {
            Device::flex()
        }),
        Some(DeviceChoice::Wgpu) => {
            if !cfg!(feature = "wgpu") {
                Err("this build has no wgpu backend: rebuild with `--features wgpu`".into())
            } else if !wgpu_available() {
                Err("no wgpu adapter found (on Linux without a GPU, `apt-get install mesa-vulkan-drivers` provides a software one)".into())
            } else {
                Ok(wgpu_device())
            }
        }
        Some(DeviceChoice::Cuda) => cuda_device(),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Device {
    Device::flex()
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device, String> {
    Err("this build has no CUDA backend: rebuild with `--features cuda`".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psmnet::PsmNetConfig;
    use burn::module::Module;
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn choices_parse_and_the_cpu_is_always_there() {
        assert_eq!(DeviceChoice::parse("WGPU"), Some(DeviceChoice::Wgpu));
        assert_eq!(DeviceChoice::parse("tpu"), None);
        assert!(select(Some(DeviceChoice::Cpu)).is_ok());
        if !cfg!(feature = "cuda") {
            assert!(select(Some(DeviceChoice::Cuda))
                .unwrap_err()
                .contains("--features cuda"));
        }
    }

    /// The tiny network gives the same disparities on wgpu as on the CPU (skipped, with a
    /// message, where no wgpu adapter exists or the build lacks the feature).
    #[test]
    fn a_forward_pass_on_wgpu_matches_the_cpu() {
        if !wgpu_available() {
            eprintln!("skipped: no wgpu adapter in this build or on this machine");
            return;
        }
        let cpu = Device::flex();
        let gpu = select(Some(DeviceChoice::Wgpu)).unwrap();
        let model = PsmNetConfig::tiny().init(&cpu).valid();
        let left = Tensor::<4>::random([1, 3, 32, 64], Distribution::Default, &cpu);
        let right = Tensor::<4>::random([1, 3, 32, 64], Distribution::Default, &cpu);
        let on_cpu = model
            .forward(left.clone(), right.clone(), false)
            .pop()
            .unwrap();
        let model_gpu = model.to_device(&gpu);
        let on_gpu = model_gpu
            .forward(left.to_device(&gpu), right.to_device(&gpu), false)
            .pop()
            .unwrap();
        let (a, b) = (
            on_cpu.into_data().try_to_vec::<f32>().unwrap(),
            on_gpu.into_data().try_to_vec::<f32>().unwrap(),
        );
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-2, "largest CPU/wgpu difference {worst} px");
    }
}
