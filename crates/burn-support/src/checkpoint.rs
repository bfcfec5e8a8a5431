//! Checkpoints of a training run. One finished epoch's checkpoint (weights, optimiser state,
//! the best weights so far and the run's JSON state) is one atomic unit: the epoch's files are
//! written under new names first, then the state file, written last and atomically, names the
//! files it covers ([`CheckpointSet`]); only then are files that no state names removed. A kill
//! at any point leaves either the previous checkpoint or the new one, whole. The state also
//! records each file's CRC-32, checked whenever a file is loaded, so a file damaged or replaced
//! since is an error naming it rather than other weights.

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use kitti::io::replace_atomic;
use kitti::KittiError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The key of the state file under which it names the files of its checkpoint.
const SET_KEY: &str = "checkpoint_files";

/// The files of one checkpoint, relative to the checkpoint folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointSet {
    /// The epoch's weights.
    pub model: String,
    /// The epoch's optimiser state (none for imported weights, which no training wrote).
    #[serde(default)]
    pub optimizer: Option<String>,
    /// The best weights so far (the weights file of that epoch), if a validation chose one.
    pub best: Option<String>,
    /// Each file's CRC-32 as written (`crc32:` and 8 hex digits); runs written before checksums
    /// were recorded have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

impl CheckpointSet {
    /// The files of runs written before checkpoints were sets (`last.bpk`, `last-optim.bpk`,
    /// `best.bpk`), as the shipped pretrained model's.
    fn legacy(dir: &Path) -> Self {
        CheckpointSet {
            model: "last.bpk".into(),
            optimizer: Some("last-optim.bpk".into()),
            best: dir.join("best.bpk").is_file().then(|| "best.bpk".into()),
            checksums: BTreeMap::new(),
        }
    }

    /// The set with the checksum of each of its files: the one already recorded (a previous
    /// checkpoint's best weights keep the checksum they were written with), else the file's
    /// as it is now in `dir`.
    fn with_checksums(mut self, dir: &Path) -> Result<Self, KittiError> {
        let names: Vec<String> = self.names().map(String::from).collect();
        let mut checksums = BTreeMap::new();
        for name in names {
            let sum = match self.checksums.remove(&name) {
                Some(recorded) => recorded,
                None => checksum(&dir.join(&name))?,
            };
            checksums.insert(name, sum);
        }
        self.checksums = checksums;
        Ok(self)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        [
            Some(self.model.as_str()),
            self.optimizer.as_deref(),
            self.best.as_deref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// The checkpoint files of a run under `<out>/checkpoints`.
#[derive(Debug, Clone)]
pub struct CheckpointFiles {
    /// `<out>/checkpoints`.
    pub dir: PathBuf,
}

/// A run folder's resolved settings, beside its `checkpoints/`.
pub const RUN_CONFIG: &str = "config.toml";

/// Checks that `run` is a run folder (its [`RUN_CONFIG`] is there), naming what it lacks and the
/// commands that write one (`made_by`).
pub fn require_run_folder(run: &Path, made_by: &str) -> Result<(), KittiError> {
    if run.join(RUN_CONFIG).is_file() {
        return Ok(());
    }
    let lacks = if run.is_dir() {
        "no config.toml"
    } else {
        "no such folder"
    };
    Err(KittiError::malformed(
        run,
        None,
        format!(
            "not a run folder: {lacks} (a folder that {made_by} wrote holds its config.toml and \
             checkpoints/)"
        ),
    ))
}

impl CheckpointFiles {
    /// The files of a run in `out`.
    pub fn new(out: &Path) -> Self {
        CheckpointFiles {
            dir: out.join("checkpoints"),
        }
    }
    /// Refuses a fresh training (not `resume`) in a run folder whose checkpoints hold a run
    /// already: the new run would rewrite its config at once while the old epochs' weights stay
    /// until its first epoch is saved, so a stop in between left weights under another config.
    pub fn check_fresh_start(&self, resume: bool) -> Result<(), KittiError> {
        if resume || !self.state().is_file() {
            return Ok(());
        }
        Err(KittiError::malformed(
            self.state(),
            None,
            "this folder holds a training run already: continue it with --resume, or give \
             another --out (or remove the folder to train it again from the start)",
        ))
    }
    /// The files the state names (the legacy names when it names none or cannot be read: an
    /// unreadable state is reported by whoever loads it).
    pub fn set(&self) -> CheckpointSet {
        let named = std::fs::read_to_string(self.state())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get(SET_KEY).cloned())
            .and_then(|v| serde_json::from_value(v).ok());
        named.unwrap_or_else(|| CheckpointSet::legacy(&self.dir))
    }
    /// Latest model weights.
    pub fn model(&self) -> PathBuf {
        self.dir.join(self.set().model)
    }
    /// Latest optimiser state; a run of imported weights has none, so it cannot be resumed.
    pub fn optimizer(&self) -> Result<PathBuf, KittiError> {
        match self.set().optimizer {
            Some(name) => Ok(self.dir.join(name)),
            None => Err(KittiError::malformed(
                self.state(),
                None,
                "holds imported weights without optimiser state: a training cannot resume it \
                 (start one from it with init = this run instead)",
            )),
        }
    }
    /// Training state (JSON), written last: it names the files of its checkpoint.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// Best model weights, if a validation chose any.
    pub fn best(&self) -> Option<PathBuf> {
        self.set().best.map(|b| self.dir.join(b))
    }
    /// The weights to predict with: the best if a validation chose one, else the latest.
    pub fn for_inference(&self) -> PathBuf {
        let set = self.set();
        self.dir.join(set.best.unwrap_or(set.model))
    }

    /// Saves a finished epoch (0-based) as one unit: its weights and optimiser state under
    /// the epoch's own names, then `state` (with the names of the files it covers: the best
    /// weights are this epoch's when `best`, else the previous checkpoint's best), then removes
    /// the files no longer named.
    pub fn save_epoch<N: Module, S: serde::Serialize>(
        &self,
        epoch: usize,
        model: &N,
        optim: &ModuleOptimizer,
        best: bool,
        state: &S,
    ) -> Result<(), KittiError> {
        self.save_epoch_steps(epoch, model, optim, best, state, usize::MAX)
    }

    /// [`Self::save_epoch`] stopped after its first `steps` steps (weights, optimiser, state,
    /// clean-up), as a kill would stop it.
    fn save_epoch_steps<N: Module, S: serde::Serialize>(
        &self,
        epoch: usize,
        model: &N,
        optim: &ModuleOptimizer,
        best: bool,
        state: &S,
        steps: usize,
    ) -> Result<(), KittiError> {
        let previous = self.state().is_file().then(|| self.set());
        let optim_name = format!("optim-{epoch:04}.bpk");
        let mut set = CheckpointSet {
            model: format!("model-{epoch:04}.bpk"),
            optimizer: Some(optim_name.clone()),
            best: if best {
                Some(format!("model-{epoch:04}.bpk"))
            } else {
                previous.as_ref().and_then(|p| p.best.clone())
            },
            checksums: BTreeMap::new(),
        };
        // A best file carried over keeps the checksum it was written with.
        if let (false, Some(p)) = (best, &previous) {
            if let Some((name, sum)) = p.best.as_ref().and_then(|b| p.checksums.get_key_value(b)) {
                set.checksums.insert(name.clone(), sum.clone());
            }
        }
        let writes: [&dyn Fn() -> Result<(), KittiError>; 3] = [
            &|| save_model(model, &self.dir.join(&set.model)),
            &|| save_optimizer(optim, &self.dir.join(&optim_name)),
            &|| self.write_state(state, &set),
        ];
        for write in writes.iter().take(steps) {
            write()?;
        }
        if steps > writes.len() {
            self.remove_unnamed(&set)?;
        }
        Ok(())
    }

    /// Saves imported weights as a run's only checkpoint (`model-imported.bpk`, no optimiser
    /// state, never "best"): the weights first, then `state`, which names them.
    pub fn save_imported<N: Module, S: serde::Serialize>(
        &self,
        model: &N,
        state: &S,
    ) -> Result<(), KittiError> {
        let set = CheckpointSet {
            model: "model-imported.bpk".into(),
            optimizer: None,
            best: None,
            checksums: BTreeMap::new(),
        };
        save_model(model, &self.dir.join(&set.model))?;
        self.write_state(state, &set)?;
        self.remove_unnamed(&set)
    }

    /// Writes `state` atomically with the names and checksums of the files of `set`, which
    /// must be written already.
    fn write_state<S: serde::Serialize>(
        &self,
        state: &S,
        set: &CheckpointSet,
    ) -> Result<(), KittiError> {
        let set = set.clone().with_checksums(&self.dir)?;
        let text = self.state_text(state, &set)?;
        kitti::io::write_atomic(&self.state(), text.as_bytes())
    }

    /// `state` as JSON with the names of the checkpoint files it covers.
    fn state_text<S: serde::Serialize>(
        &self,
        state: &S,
        set: &CheckpointSet,
    ) -> Result<String, KittiError> {
        let mut json = serde_json::to_value(state).map_err(|e| record_error(&self.state(), e))?;
        let Some(fields) = json.as_object_mut() else {
            return Err(record_error(
                &self.state(),
                "a run's state must be a JSON object",
            ));
        };
        let named = serde_json::to_value(set).map_err(|e| record_error(&self.state(), e))?;
        fields.insert(SET_KEY.into(), named);
        serde_json::to_string_pretty(&json).map_err(|e| record_error(&self.state(), e))
    }

    /// Removes checkpoint files and temporary files that `set` does not name.
    fn remove_unnamed(&self, set: &CheckpointSet) -> Result<(), KittiError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| KittiError::io(&self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| KittiError::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let ours = name.ends_with(".bpk") || name.starts_with('.') && name.contains(".tmp");
            if ours && !set.names().any(|n| n == name) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| KittiError::io(&path, e))?;
            }
        }
        Ok(())
    }
}

fn record_error(path: &Path, e: impl std::fmt::Display) -> KittiError {
    KittiError::malformed(path, None, format!("checkpoint: {e}"))
}

/// A file's CRC-32 as a checkpoint's state records it (`crc32:` and 8 hex digits).
pub fn checksum(path: &Path) -> Result<String, KittiError> {
    let bytes = std::fs::read(path).map_err(|e| KittiError::io(path, e))?;
    Ok(crc32_text(&bytes))
}

/// The CRC-32 of `bytes` as a state records it.
fn crc32_text(bytes: &[u8]) -> String {
    format!("crc32:{:08x}", crc32fast::hash(bytes))
}

/// Reads a checkpoint file once and checks it against the checksum the state beside it
/// recorded, if any (files outside a run's checkpoint folder, and runs written before checksums
/// were recorded, have none); the record is then built from these very bytes, so what was
/// checked is what is loaded.
fn read_verified(path: &Path) -> Result<Bytes, KittiError> {
    let bytes = std::fs::read(path).map_err(|e| KittiError::io(path, e))?;
    if let Some((files, recorded)) = recorded_checksum(path) {
        let found = crc32_text(&bytes);
        if found != recorded {
            return Err(record_error(
                path,
                format!(
                    "the file's checksum is {found}, not the {recorded} that {} recorded when \
                     it was written: it was damaged or replaced since",
                    files.state().display()
                ),
            ));
        }
    }
    Ok(Bytes::from_bytes_vec(bytes))
}

/// The checksum that the run state beside `path` recorded for it, with that run's files.
fn recorded_checksum(path: &Path) -> Option<(CheckpointFiles, String)> {
    let (dir, name) = (path.parent()?, path.file_name()?.to_str()?);
    let files = CheckpointFiles {
        dir: dir.to_path_buf(),
    };
    if !files.state().is_file() {
        return None;
    }
    let recorded = files.set().checksums.get(name).cloned()?;
    Some((files, recorded))
}

/// Writes a network's weights to `path` atomically (fsynced), batch-norm running statistics
/// included with their latest update: burn keeps that update pending (per thread) until a
/// sync, and a record written without one is one update stale, so a resumed run would predict
/// with other statistics than an uninterrupted one. `valid()` syncs them.
pub fn save_model<N: Module>(model: &N, path: &Path) -> Result<(), KittiError> {
    let _ = model.valid();
    replace_atomic(path, |p| {
        model
            .clone()
            .save_file(p)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Loads a network's weights from a checkpoint file; weights of another architecture, or a
/// file whose checksum is not the one its run's state recorded, are an error naming the file.
/// Any lazy initial draws of the fresh model happen under the lock of [`crate::seeded_init`],
/// so loading never disturbs a seeded initialisation running at the same time.
pub fn load_model<N: Module>(model: N, path: &Path) -> Result<N, KittiError> {
    let record =
        ModuleRecord::from_bytes(read_verified(path)?).map_err(|e| record_error(path, e))?;
    let _guard = crate::INIT.lock().unwrap_or_else(|e| e.into_inner());
    model
        .try_load_record(record)
        .map_err(|e| record_error(path, e))
}

/// Writes an optimiser's state to `path` atomically (fsynced).
pub fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<(), KittiError> {
    replace_atomic(path, |p| {
        optim
            .to_record()
            .save(p)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Restores an optimiser's state from `path`.
pub fn load_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer, KittiError> {
    let record =
        OptimizerRecord::from_bytes(read_verified(path)?).map_err(|e| record_error(path, e))?;
    Ok(optim.load_record(record))
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
    fn a_run_folder_is_one_with_its_config() {
        let tmp = tempfile::tempdir().unwrap();
        let made_by = "`ftf x train`";
        let e = require_run_folder(tmp.path(), made_by)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a run folder: no config.toml") && e.contains(made_by),
            "{e}"
        );
        let missing = tmp.path().join("nowhere");
        let e = require_run_folder(&missing, made_by)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nowhere: not a run folder: no such folder"),
            "{e}"
        );
        std::fs::write(tmp.path().join(RUN_CONFIG), "").unwrap();
        require_run_folder(tmp.path(), made_by).unwrap();
    }

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

    #[test]
    fn a_checkpoint_file_damaged_since_it_was_written_is_refused_by_name() {
        use burn::optim::AdamConfig;
        use serde_json::json;
        let device = Device::flex();
        let a: Linear = LinearConfig::new(3, 2).init(&device);
        let optim: ModuleOptimizer = AdamConfig::new().init();
        let dir = tempfile::tempdir().unwrap();
        let files = CheckpointFiles::new(dir.path());
        files
            .save_epoch(0, &a, &optim, false, &json!({"epochs_done": 1}))
            .unwrap();
        // The state records each file's CRC-32, computed here independently of the code.
        let state: serde_json::Value = load_state(&files.state()).unwrap();
        for name in ["model-0000.bpk", "optim-0000.bpk"] {
            let bytes = std::fs::read(files.dir.join(name)).unwrap();
            let expected = format!("crc32:{:08x}", crc32fast::hash(&bytes));
            assert_eq!(state[SET_KEY]["checksums"][name], expected.as_str());
        }
        let fresh = || LinearConfig::new(3, 2).init(&device);
        assert_eq!(
            weights(&load_model(fresh(), &files.model()).unwrap()),
            weights(&a)
        );
        // One bit flipped in the last weight stored: the file still parses, with other weights.
        let mut bytes = std::fs::read(files.model()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(files.model(), &bytes).unwrap();
        let err = load_model(fresh(), &files.model()).unwrap_err().to_string();
        assert!(
            err.contains("model-0000.bpk") && err.contains("damaged or replaced"),
            "{err}"
        );
        let mut bytes = std::fs::read(files.optimizer().unwrap()).unwrap();
        let end = bytes.len() - 1;
        bytes[end] ^= 0x01;
        std::fs::write(files.optimizer().unwrap(), &bytes).unwrap();
        let Err(err) = load_optimizer(AdamConfig::new().init(), &files.optimizer().unwrap()) else {
            panic!("a damaged optimiser state loaded");
        };
        let err = err.to_string();
        assert!(err.contains("optim-0000.bpk"), "{err}");
        // A run written before checksums were recorded still loads.
        let mut state = state;
        state[SET_KEY].as_object_mut().unwrap().remove("checksums");
        std::fs::write(files.state(), state.to_string()).unwrap();
        save_model(&a, &files.model()).unwrap();
        assert_eq!(
            weights(&load_model(fresh(), &files.model()).unwrap()),
            weights(&a)
        );
        // An earlier epoch's best weights keep the checksum they were written with, so damage
        // between two saves is still found.
        let dir = tempfile::tempdir().unwrap();
        let files = CheckpointFiles::new(dir.path());
        files
            .save_epoch(0, &a, &optim, true, &json!({"epochs_done": 1}))
            .unwrap();
        let best = files.best().unwrap();
        let mut bytes = std::fs::read(&best).unwrap();
        let end = bytes.len() - 1;
        bytes[end] ^= 0x40;
        std::fs::write(&best, &bytes).unwrap();
        files
            .save_epoch(1, &a, &optim, false, &json!({"epochs_done": 2}))
            .unwrap();
        assert_eq!(files.best(), Some(best.clone()));
        let err = load_model(fresh(), &best).unwrap_err().to_string();
        assert!(
            err.contains("model-0000.bpk") && err.contains("damaged or replaced"),
            "{err}"
        );
    }

    fn weights(l: &Linear) -> Vec<f32> {
        l.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn an_epoch_checkpoint_is_one_unit_wherever_a_kill_stops_its_save() {
        use burn::optim::AdamConfig;
        use serde_json::json;
        let device = Device::flex();
        let (a, b): (Linear, Linear) = (
            LinearConfig::new(3, 2).init(&device),
            LinearConfig::new(3, 2).init(&device),
        );
        assert_ne!(weights(&a), weights(&b));
        let optim: ModuleOptimizer = AdamConfig::new().init();
        // Killed after 0, 1, 2 or 3 of the four steps (weights, optimiser, state, clean-up),
        // or not at all.
        for steps in 0..=4 {
            let dir = tempfile::tempdir().unwrap();
            let files = CheckpointFiles::new(dir.path());
            files
                .save_epoch(0, &a, &optim, true, &json!({"epochs_done": 1}))
                .unwrap();
            files
                .save_epoch_steps(1, &b, &optim, false, &json!({"epochs_done": 2}), steps)
                .unwrap();
            // What a resume reads: the state and the files it names, from the same epoch.
            let state: serde_json::Value = load_state(&files.state()).unwrap();
            let (done, want) = if steps >= 3 { (2, &b) } else { (1, &a) };
            assert_eq!(state["epochs_done"], done, "killed after {steps} steps");
            let fresh = || LinearConfig::new(3, 2).init(&device);
            let model = load_model(fresh(), &files.model()).unwrap();
            assert_eq!(weights(&model), weights(want), "killed after {steps} steps");
            load_optimizer(AdamConfig::new().init(), &files.optimizer().unwrap()).unwrap();
            // The best weights stay epoch 0's.
            let best = files.best().unwrap();
            assert_eq!(weights(&load_model(fresh(), &best).unwrap()), weights(&a));
            assert_eq!(files.for_inference(), best);
            // A temporary file of a write killed half way, then the next complete save: only
            // the files its state names remain.
            std::fs::write(files.dir.join(".model-0002.bpk.tmp99"), b"half").unwrap();
            files
                .save_epoch(2, &b, &optim, false, &json!({"epochs_done": 3}))
                .unwrap();
            let mut names: Vec<String> = std::fs::read_dir(&files.dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            names.sort();
            assert_eq!(
                names,
                [
                    "model-0000.bpk",
                    "model-0002.bpk",
                    "optim-0002.bpk",
                    "state.json"
                ],
                "killed after {steps} steps"
            );
        }
    }
}
