//! The `--device` argument shared by the network subcommands.

use anyhow::{Context, Result};
use burn_support::device::{select, DeviceChoice};

/// The device `--device` asks for: cpu, wgpu or cuda; without it, wgpu when this build has it
/// and an adapter exists, else the CPU.
pub fn from_arg(arg: Option<&str>) -> Result<burn::tensor::Device> {
    let choice = match arg {
        Some(s) => Some(
            DeviceChoice::parse(s)
                .with_context(|| format!("--device: `{s}` is not cpu, wgpu or cuda"))?,
        ),
        None => None,
    };
    select(choice).map_err(|e| anyhow::anyhow!("--device: {e}"))
}
