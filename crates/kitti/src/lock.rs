//! One writer at a time in an output folder: a study (`ftf experiment`) or a training run
//! (`ftf disparity train`, `ftf detect train`) holds an exclusive lock on `<folder>/.lock` while
//! it works, so that a second one into the same folder (another terminal, a script started
//! twice) stops at once instead of overwriting or mixing the files the first is writing. The
//! operating system drops the lock when the process ends, however it ends, so a killed run
//! leaves nothing stale behind.

use crate::error::{KittiError, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

/// The held lock of a folder; dropping it releases the folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

/// Takes the folder `dir` (created if needed) for this process, or fails naming the folder,
/// the process that has it (its id, which the lock file holds) and what to do `instead`.
pub fn acquire(dir: &Path, instead: &str) -> Result<FolderLock> {
    crate::io::refuse_file_as_folder(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| KittiError::io(dir, e))?;
    let path = dir.join(".lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| KittiError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = match pid.trim() {
                "" => "another process".to_string(),
                pid => format!("another process (id {pid})"),
            };
            let message = format!(
                "{holder} is writing this folder (it holds {}); wait for it to finish, or {instead}",
                path.display()
            );
            return Err(KittiError::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::WouldBlock, message),
            ));
        }
        Err(TryLockError::Error(e)) => return Err(KittiError::io(&path, e)),
    }
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| KittiError::io(&path, e))?;
    Ok(FolderLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_where_the_folder_belongs_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run");
        std::fs::write(&file, "").unwrap();
        let err = acquire(&file, "").err().unwrap().to_string();
        assert!(
            err.ends_with(
                "run: a file where the output folder belongs; choose a new or empty folder"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_second_writer_of_the_same_folder_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = acquire(&run, "give this study another `name`").expect("the folder is free");
        let err = acquire(&run, "give this study another `name`")
            .expect_err("the folder is taken")
            .to_string();
        let expected = format!(
            "{}: another process (id {}) is writing this folder (it holds {}); wait for it to \
             finish, or give this study another `name`",
            run.display(),
            std::process::id(),
            run.join(".lock").display()
        );
        assert_eq!(err, expected);
        drop(first);
        acquire(&run, "").expect("free again once the first run ends");
    }
}
