//! Checkpoints of a training run: the latest weights, the optimiser state, the best weights and a
//! JSON state, each written through a temporary file and a rename so that an interrupted save
//! leaves the previous checkpoint intact.

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use kitti::KittiError;
use std::path::{Path, PathBuf};

/// The checkpoint files of a run under `<out>/checkpoints`.
#[derive(Debug, Clone)]
pub struct CheckpointFiles {
    /// `<out>/checkpoints`.
    pub dir: PathBuf,
}

impl CheckpointFiles {
    /// The files of a run in `out`.
    pub fn new(out: &Path) -> Self {
        CheckpointFiles {
            dir: out.join("checkpoints"),
        }
    }
    /// Latest model weights.
    pub fn model(&self) -> PathBuf {
        self.dir.join("last.bpk")
    }
    /// Latest optimiser state.
    pub fn optimizer(&self) -> PathBuf {
        self.dir.join("last-optim.bpk")
    }
    /// Training state (JSON).
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// Best model weights.
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.bpk")
    }
    /// The weights to predict with: the best if a validation chose one, else the latest.
    pub fn for_inference(&self) -> PathBuf {
        if self.best().is_file() {
            self.best()
        } else {
            self.model()
        }
    }
}

fn record_error(path: &Path, e: impl std::fmt::Display) -> KittiError {
    KittiError::malformed(path, None, format!("checkpoint: {e}"))
}

/// Saves through a temporary file and a rename.
fn save_atomic(
    path: &Path,
    save: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), KittiError> {
    let tmp = path.with_extension("tmp");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| KittiError::io(dir, e))?;
    }
    save(&tmp).map_err(|e| record_error(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| KittiError::io(path, e))
}

/// Writes a network's weights to `path` atomically.
pub fn save_model<N: Module>(model: &N, path: &Path) -> Result<(), KittiError> {
    save_atomic(path, |p| {
        model.clone().save_file(p).map_err(|e| e.to_string())
    })
}

/// Loads a network's weights from a checkpoint file; weights of another architecture are an
/// error naming the file. Any lazy initial draws of the fresh model happen under the lock of
/// [`crate::seeded_init`], so loading never disturbs a seeded initialisation running at the
/// same time.
pub fn load_model<N: Module>(model: N, path: &Path) -> Result<N, KittiError> {
    let record = ModuleRecord::load(path).map_err(|e| record_error(path, e))?;
    let _guard = crate::INIT.lock().unwrap_or_else(|e| e.into_inner());
    model
        .try_load_record(record)
        .map_err(|e| record_error(path, e))
}

/// Writes an optimiser's state to `path` atomically.
pub fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<(), KittiError> {
    save_atomic(path, |p| {
        optim.to_record().save(p).map_err(|e| e.to_string())
    })
}

/// Restores an optimiser's state from `path`.
pub fn load_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer, KittiError> {
    let record = OptimizerRecord::load(path).map_err(|e| record_error(path, e))?;
    Ok(optim.load_record(record))
}

/// Writes a run's state as pretty JSON, atomically.
pub fn save_state<S: serde::Serialize>(state: &S, path: &Path) -> Result<(), KittiError> {
    let json = serde_json::to_string_pretty(state).map_err(|e| record_error(path, e))?;
    kitti::io::write_atomic(path, json.as_bytes())
}

/// Reads a run's JSON state.
pub fn load_state<S: serde::de::DeserializeOwned>(path: &Path) -> Result<S, KittiError> {
    let text = kitti::io::read_text(path)?;
    serde_json::from_str(&text).map_err(|e| record_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    #[test]
    fn weights_round_trip_and_another_architecture_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = CheckpointFiles::new(dir.path());
        let device = Device::flex();
        let a: Linear = LinearConfig::new(3, 2).init(&device);
        save_model(&a, &files.model()).unwrap();
        assert!(!files.model().with_extension("tmp").exists());
        let b = load_model(LinearConfig::new(3, 2).init(&device), &files.model()).unwrap();
        assert_eq!(
            a.weight.val().into_data().try_to_vec::<f32>().unwrap(),
            b.weight.val().into_data().try_to_vec::<f32>().unwrap()
        );
        let err = load_model(LinearConfig::new(4, 2).init(&device), &files.model()).unwrap_err();
        assert!(err.to_string().contains("last.bpk"), "{err}");
        assert_eq!(files.for_inference(), files.model());
    }
}
