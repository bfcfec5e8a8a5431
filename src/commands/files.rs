//! The files and folders commands read and write: checks made before the work (report files,
//! input folders, output folders claimed by a record) and the writers of reports.

use std::path::{Path, PathBuf};

/// Checks, before a command's work, the files it writes after it: `--json` and a picture
/// (drawn as PNG, and beside it as `<stem>.svg`). Neither may be a folder, and the picture's
/// name must end in `.png`: another name would hold a PNG under a misleading extension, and
/// `x.svg` would be overwritten by its own SVG.
pub fn check_report_files(
    json: Option<&Path>,
    (flag, picture): (&str, Option<&Path>),
) -> anyhow::Result<()> {
    for (flag, path) in [("--json", json), (flag, picture)] {
        if let Some(p) = path.filter(|p| p.is_dir()) {
            anyhow::bail!("{flag} {}: a folder; give a file name", p.display());
        }
    }
    if let Some(p) = picture {
        let png = p.extension().and_then(|e| e.to_str());
        if !png.is_some_and(|e| e.eq_ignore_ascii_case("png")) {
            anyhow::bail!(
                "{flag} {}: the picture is written as PNG (and its drawing as SVG beside it); \
                 give a name ending in .png",
                p.display()
            );
        }
    }
    Ok(())
}

/// Checks that `dir`, given as `flag`, is a folder: a mistyped one would otherwise read as
/// frames without files (or, where missing files are allowed, as frames without content).
pub fn require_folder(flag: &str, dir: &Path, holding: &str) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{flag} {}: {}; give the folder of {holding}",
            dir.display(),
            if dir.exists() {
                "not a folder"
            } else {
                "no such folder"
            }
        );
    }
    Ok(())
}

/// Writes a command's metrics as pretty JSON and says where.
pub fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    kitti::io::write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())?;
    println!("JSON: {}", path.display());
    Ok(())
}

/// Draws `figure` into `png` (and `<stem>.svg` beside it) and says where; `what` names it.
pub fn write_figure(png: &Path, figure: &plot::Figure, what: &str) -> anyhow::Result<()> {
    figure.write(png)?;
    println!(
        "{what}: {} (and {})",
        png.display(),
        png.with_extension("svg").display()
    );
    Ok(())
}

/// `p` made absolute where it can be, so that a record names the same folder from anywhere.
pub fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Claims `out` for a command's outputs by its record `name` holding `text`: a folder of other
/// files without the record (a root's own labels or maps given as `--out`), or one recorded for
/// other settings (`other` says what it then holds), is refused before anything is written.
pub fn claim_output(out: &Path, name: &str, text: &str, other: &str) -> anyhow::Result<()> {
    kitti::io::refuse_unrecorded(out, name)?;
    let path = out.join(name);
    if let Some(found) = kitti::io::claim_record(&path, text)? {
        anyhow::bail!(
            "{}: this folder holds {other} ({}), not of these ({}); choose a new --out or \
             delete it",
            path.display(),
            settings(&found),
            settings(text)
        );
    }
    Ok(())
}

/// A record's settings on one line, its comments left out.
fn settings(record: &str) -> String {
    let lines: Vec<&str> = record.lines().filter(|l| !l.starts_with('#')).collect();
    lines.join("; ")
}
