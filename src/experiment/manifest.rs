//! Stage caching. A stage's key hashes its settings and the outputs it reads; a finished stage
//! leaves `manifest.json` with that key and a fresh output id. A re-run with the same key skips
//! the stage; a stage interrupted with the same key is resumed (its `started.json` says so);
//! anything else starts the stage afresh. Later stages key on earlier stages' output ids, so
//! redoing a stage redoes everything that read it.

use anyhow::{Context, Result};
use std::path::Path;

/// Bump when a stage's outputs change meaning: every stage is then redone.
pub const VERSION: u32 = 1;

/// What a finished stage leaves behind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Stage name.
    pub stage: String,
    /// Hash of its settings and inputs.
    pub key: String,
    /// Changes every time the stage is (re)done; later stages key on it.
    pub output_id: String,
    /// [`VERSION`] at the time.
    pub version: u32,
    /// Seconds the last attempt at the stage took (a resumed stage counts its last part only).
    #[serde(default)]
    pub seconds: f64,
}

/// FNV-1a, 64 bits, as 16 hex digits: stable across runs and platforms.
pub fn hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// How a stage went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished before with the same key: nothing done.
    Cached,
    /// Interrupted before with the same key: continued.
    Resumed,
    /// Done from the start.
    Done,
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn write<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    kitti::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Runs stage `stage` in `dir` unless it already finished with `key`; `work` gets whether it
/// continues an interrupted attempt. With `force` the stage is redone from the start.
pub fn run_stage(
    dir: &Path,
    stage: &str,
    key: &str,
    force: bool,
    work: impl FnOnce(bool) -> Result<()>,
) -> Result<(Manifest, Outcome)> {
    let manifest_path = dir.join("manifest.json");
    let started_path = dir.join("started.json");
    if !force {
        if let Some(m) = read::<Manifest>(&manifest_path) {
            if m.key == key && m.version == VERSION {
                return Ok((m, Outcome::Cached));
            }
        }
    }
    let resume = !force && read::<String>(&started_path).as_deref() == Some(key);
    if !resume && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let _ = std::fs::remove_file(&manifest_path);
    write(&started_path, &key.to_string())?;
    let start = std::time::Instant::now();
    work(resume).with_context(|| format!("stage {stage} in {}", dir.display()))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let m = Manifest {
        stage: stage.to_string(),
        key: key.to_string(),
        output_id: hash(&[key, &nanos.to_string()]),
        version: VERSION,
        seconds: start.elapsed().as_secs_f64(),
    };
    write(&manifest_path, &m)?;
    let _ = std::fs::remove_file(&started_path);
    Ok((
        m,
        if resume {
            Outcome::Resumed
        } else {
            Outcome::Done
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn stages_are_cached_resumed_or_redone_by_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("stage");
        let calls = Cell::new(Vec::new());
        let log = |resume: bool| {
            let mut v = calls.take();
            v.push(resume);
            calls.set(v);
            Ok(())
        };
        let (first, o) = run_stage(&dir, "s", "k1", false, log).unwrap();
        assert_eq!(o, Outcome::Done);
        let (again, o) = run_stage(&dir, "s", "k1", false, log).unwrap();
        assert_eq!((o, &again), (Outcome::Cached, &first));
        // An interrupted attempt (started, no manifest) with the same key is resumed …
        std::fs::remove_file(dir.join("manifest.json")).unwrap();
        write(&dir.join("started.json"), &"k1".to_string()).unwrap();
        std::fs::write(dir.join("partial"), b"x").unwrap();
        let (_, o) = run_stage(&dir, "s", "k1", false, log).unwrap();
        assert_eq!(o, Outcome::Resumed);
        assert!(dir.join("partial").exists());
        // … while another key, or force, starts afresh with a new output id.
        let (other, o) = run_stage(&dir, "s", "k2", false, log).unwrap();
        assert_eq!(o, Outcome::Done);
        assert!(!dir.join("partial").exists());
        let (forced, o) = run_stage(&dir, "s", "k2", true, log).unwrap();
        assert_eq!(o, Outcome::Done);
        assert_ne!(forced.output_id, other.output_id);
        assert_eq!(calls.take(), vec![false, true, false, false]);
        assert_ne!(hash(&["a", "bc"]), hash(&["ab", "c"]));
    }
}
