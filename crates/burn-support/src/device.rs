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

/// For GPU tests: whether to skip `test` for want of a wgpu adapter. When skipping it says
/// `SKIPPED` on the terminal itself (past the test harness's output capture), so a skipped GPU
/// test is never read as one that passed on a GPU.
pub fn skip_without_wgpu(test: &str) -> bool {
    if wgpu_available() {
        return false;
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: no wgpu adapter in this build or on this machine (build with --features wgpu; Mesa's lavapipe provides one on a CPU)"
    );
    true
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

/// Whether `device` is burn's CPU backend (whose memory is the machine's RAM).
pub fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
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

    #[test]
    fn choices_parse_and_the_cpu_is_always_there() {
        assert_eq!(DeviceChoice::parse("WGPU"), Some(DeviceChoice::Wgpu));
        assert_eq!(DeviceChoice::parse("tpu"), None);
        let cpu = select(Some(DeviceChoice::Cpu)).unwrap();
        assert!(is_cpu(&cpu));
        if !cfg!(feature = "cuda") {
            assert!(select(Some(DeviceChoice::Cuda))
                .unwrap_err()
                .contains("--features cuda"));
        }
    }
}
