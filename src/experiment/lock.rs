//! One study at a time in a run folder: `ftf experiment` holds an exclusive lock on
//! `<run>/.lock` while it works, so that a second run of the same study (another terminal, a
//! script started twice) stops at once instead of deleting the stage outputs the first is
//! writing. The operating system drops the lock when the process ends, however it ends, so a
//! killed run leaves nothing stale behind.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

/// The held lock of a run folder; dropping it releases the folder.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the run folder `dir` (which must exist) for this process, or fails naming the
/// folder when another process holds it.
pub fn acquire(dir: &Path) -> Result<RunLock> {
    let path = dir.join(".lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "{}: another `ftf experiment` is running in this run folder (it holds {}); wait \
             for it to finish, or give this study another `name`",
            dir.display(),
            path.display()
        ),
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_in_the_same_folder_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).expect("the folder is free");
        let err = acquire(dir.path())
            .expect_err("the folder is taken")
            .to_string();
        assert!(err.contains("another `ftf experiment` is running"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        drop(first);
        acquire(dir.path()).expect("free again once the first run ends");
    }
}
