//! Small file helpers shared by every reader and writer: atomic writes and path-tagged reads.

use crate::error::{KittiError, Result};
use std::io::Write;
use std::path::Path;

/// Reads a whole file as UTF-8 text, naming the file on failure.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| KittiError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        KittiError::malformed(
            path,
            None,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// Claims an output folder by the record file `path` that says what made its files: writes
/// `text` there when there is none yet (the folder is created), and returns the record found
/// when it says something else, so that the caller refuses the folder rather than mixing its
/// files with another run's; `None` when the folder is (now) this record's.
pub fn claim_record(path: &Path, text: &str) -> Result<Option<String>> {
    if path.is_file() {
        let found = read_text(path)?;
        return Ok((found != text).then_some(found));
    }
    write_atomic(path, text.as_bytes())?;
    Ok(None)
}

/// Refuses a file where an output folder belongs (it would fail later with "File exists").
pub fn refuse_file_as_folder(folder: &Path) -> Result<()> {
    if folder.exists() && !folder.is_dir() {
        return Err(KittiError::malformed(
            folder,
            None,
            "a file where the output folder belongs; choose a new or empty folder",
        ));
    }
    Ok(())
}

/// Refuses an output folder that holds files but not the record file `record` a command keeps
/// of what made them (see [`claim_record`]): files another tool or run wrote, such as a root's
/// ground truth given as the output by mistake, which the command would skip as done (and then
/// score as its own) or overwrite. A missing or empty folder passes.
pub fn refuse_unrecorded(folder: &Path, record: &str) -> Result<()> {
    refuse_file_as_folder(folder)?;
    if folder.join(record).is_file() || !folder.is_dir() {
        return Ok(());
    }
    let entries = std::fs::read_dir(folder).map_err(|e| KittiError::io(folder, e))?;
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry.map_err(|e| KittiError::io(folder, e))?.file_name());
    }
    names.sort();
    match names.first() {
        None => Ok(()),
        Some(first) => Err(KittiError::malformed(
            folder,
            None,
            format!(
                "holds {} file(s) ({} among them) but no {record}, the record this command \
                 keeps of what made its outputs: they are another tool's or run's, which it \
                 would take as its own or overwrite; choose a new or empty output folder",
                names.len(),
                first.to_string_lossy()
            ),
        )),
    }
}

/// Writes `bytes` to `path` atomically (see [`replace_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Like [`write_atomic`], but the content is produced by `fill` writing into the temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    replace_atomic(path, |tmp| {
        let mut file = std::fs::File::create(tmp)?;
        fill(&mut file)?;
        file.flush()
    })
}

/// The one atomic write every writer uses: `produce` writes the new content at the temporary
/// path it is given (a hidden file in `path`'s folder, which is created), which is then flushed
/// to disk (fsync), renamed over `path`, and the folder's entry flushed too. An interrupted or
/// failed write never leaves a partial file at `path`, and a failed one leaves no temporary
/// file behind.
pub fn replace_atomic(
    path: &Path,
    produce: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| KittiError::io(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| KittiError::malformed(path, None, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        produce(&tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the folder's entry (not on every platform
        // can a folder be opened for that; a failure to sync it is not an error).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(KittiError::io(path, e));
    }
    Ok(())
}

/// Formats a value the way KITTI files do (two decimals) when that loses nothing,
/// and with the shortest exact representation otherwise, so files read back bit for bit.
pub fn fmt_value(v: f64) -> String {
    let short = format!("{v:.2}");
    if short.parse::<f64>().ok() == Some(v) {
        short
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_claims_its_folder_and_reports_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/model.txt");
        assert_eq!(claim_record(&path, "model = sgm\n").unwrap(), None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "model = sgm\n");
        assert_eq!(claim_record(&path, "model = sgm\n").unwrap(), None);
        assert_eq!(
            claim_record(&path, "model = psmnet\n").unwrap().as_deref(),
            Some("model = sgm\n")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "model = sgm\n");
    }

    #[test]
    fn a_folder_of_unrecorded_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("disparity_2");
        // Missing, then empty: free.
        refuse_unrecorded(&out, "model.txt").unwrap();
        std::fs::create_dir(&out).unwrap();
        refuse_unrecorded(&out, "model.txt").unwrap();
        // Another tool's files: named.
        std::fs::write(out.join("000001.png"), b"x").unwrap();
        std::fs::write(out.join("000000.png"), b"x").unwrap();
        let e = refuse_unrecorded(&out, "model.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("disparity_2")
                && e.contains("2 file(s) (000000.png among them)")
                && e.contains("no model.txt"),
            "{e}"
        );
        // With the record, the folder is the command's.
        std::fs::write(out.join("model.txt"), b"model = sgm\n").unwrap();
        refuse_unrecorded(&out, "model.txt").unwrap();
        // A file where the folder belongs is named as such.
        let file = dir.path().join("maps.png");
        std::fs::write(&file, b"x").unwrap();
        let e = refuse_unrecorded(&file, "model.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("maps.png: a file where the output folder belongs"),
            "{e}"
        );
    }

    #[test]
    fn fmt_value_is_kitti_like_and_exact() {
        assert_eq!(fmt_value(1.5), "1.50");
        assert_eq!(fmt_value(-0.0), "-0.00");
        assert_eq!(fmt_value(0.123456), "0.123456");
        for v in [0.1 + 0.2, 1e-9, 123.456789, -3.0] {
            assert_eq!(fmt_value(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A writer that fails half way keeps the old content and leaves no temporary file.
        let err = replace_atomic(&p, |tmp| {
            std::fs::write(tmp, b"thr")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("a.txt") && err.to_string().contains("disk full"));
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
