//! What the network crates (disparity, detector) share on top of burn: choosing a device
//! ([`device`]), checkpoint files written atomically with the optimiser state so a run resumes
//! exactly ([`checkpoint`]), and the seeded epoch order ([`shuffle`]).

pub mod checkpoint;
pub mod device;
pub mod shuffle;

pub use checkpoint::{load_model, CheckpointFiles};
pub use device::{is_cpu, select, wgpu_available, DeviceChoice};
