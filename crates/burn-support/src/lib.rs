//! What the network crates (disparity, detector) share on top of burn: choosing a device
//! ([`device`]), checkpoint files written atomically with the optimiser state so a run resumes
//! exactly ([`checkpoint`]), the seeded epoch order ([`shuffle`]), reference networks'
//! weights read from PyTorch checkpoints through an explicit table ([`import`]), and the
//! element-wise comparison of two runs' numbers ([`compare`]).

pub mod checkpoint;
pub mod compare;
pub mod device;
pub mod import;
pub mod shuffle;

pub use checkpoint::{load_model, CheckpointFiles};
pub use compare::largest_difference;
pub use device::{is_cpu, select, wgpu_available, DeviceChoice};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use std::sync::Mutex;

/// Serialises every draw of initial weights: burn's random generator is global to the process
/// and parameters draw from it lazily, on first use, so two models initialised at once (two
/// trainings in one process, as in parallel tests) would take numbers from each other's stream.
pub(crate) static INIT: Mutex<()> = Mutex::new(());

/// Forces the lazy initialisation of every float parameter.
struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Builds a module with `init` and draws all its initial weights right after seeding
/// `device`'s generator with `seed`, with no other initialisation in between: the same seed
/// gives the same weights whatever else the process runs.
pub fn seeded_init<M: Module>(
    device: &burn::tensor::Device,
    seed: u64,
    init: impl FnOnce() -> M,
) -> M {
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let module = init();
    module.visit(&mut Materialise);
    module
}
