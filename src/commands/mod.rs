//! One module per subcommand; each parses its arguments and calls the stage crates.

pub mod bench;
pub mod detect;
pub mod disparity;
pub mod eval;
pub mod inspect;
pub mod pseudo_lidar;
pub mod synth;

/// The depth-edge filter's options (`ftf pseudo-lidar`, `ftf disparity eval`).
#[derive(clap::Args)]
pub struct EdgeArgs {
    /// Drop depth edges ("flying pixels") first: a pixel whose window's largest value exceeds
    /// its smallest by more than this share, e.g. 0.15 (not the paper's pipeline).
    #[arg(long, allow_negative_numbers = true)]
    edge_ratio: Option<f64>,
    /// The window of --edge-ratio: (2·R + 1)² pixels around each pixel.
    #[arg(
        long,
        default_value_t = 2,
        requires = "edge_ratio",
        allow_negative_numbers = true
    )]
    edge_radius: u32,
}

impl EdgeArgs {
    /// The filter asked for, checked (an error names the option and its value).
    pub fn filter(&self) -> anyhow::Result<Option<::pseudo_lidar::EdgeFilter>> {
        let Some(ratio) = self.edge_ratio else {
            return Ok(None);
        };
        let f = ::pseudo_lidar::EdgeFilter {
            radius: self.edge_radius,
            ratio,
        };
        f.check().map_err(|m| anyhow::anyhow!("--edge-{m}"))?;
        Ok(Some(f))
    }
}

/// Checks, before a command's work, the files it writes after it: `--json` and a picture
/// (drawn as PNG, and beside it as `<stem>.svg`). Neither may be a folder, and the picture's
/// name must end in `.png`: another name would hold a PNG under a misleading extension, and
/// `x.svg` would be overwritten by its own SVG.
pub fn check_report_files(
    json: Option<&std::path::Path>,
    (flag, picture): (&str, Option<&std::path::Path>),
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
pub fn require_folder(flag: &str, dir: &std::path::Path, holding: &str) -> anyhow::Result<()> {
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
pub fn write_json(path: &std::path::Path, value: &serde_json::Value) -> anyhow::Result<()> {
    kitti::io::write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())?;
    println!("JSON: {}", path.display());
    Ok(())
}

/// Draws `figure` into `png` (and `<stem>.svg` beside it) and says where; `what` names it.
pub fn write_figure(
    png: &std::path::Path,
    figure: &plot::Figure,
    what: &str,
) -> anyhow::Result<()> {
    figure.write(png)?;
    println!(
        "{what}: {} (and {})",
        png.display(),
        png.with_extension("svg").display()
    );
    Ok(())
}

/// Where an import reads and writes (`ftf disparity import`, `ftf detect import`).
#[derive(clap::Args)]
pub struct ImportPaths {
    /// The PyTorch checkpoint.
    #[arg(long)]
    from: std::path::PathBuf,
    /// The run folder to write (config.toml, checkpoints/).
    #[arg(long)]
    out: std::path::PathBuf,
}

/// Runs an import (given the checkpoint and the run folder) and says what it read and how long
/// it took.
fn timed_import(
    paths: &ImportPaths,
    import: impl FnOnce(
        &std::path::Path,
        &std::path::Path,
    ) -> anyhow::Result<burn_support::import::ImportedFrom>,
) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let record = import(&paths.from, &paths.out)?;
    println!(
        "imported {} tensors from {} ({} bookkeeping buffers left out) into {} in {:.2} s",
        record.tensors,
        paths.from.display(),
        record.dropped,
        paths.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `p` made absolute where it can be, so that a record names the same folder from anywhere.
pub fn absolute(p: &std::path::Path) -> std::path::PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Claims `out` for a command's outputs by its record `name` holding `text`: a folder of other
/// files without the record (a root's own labels or maps given as `--out`), or one recorded for
/// other settings (`other` says what it then holds), is refused before anything is written.
pub fn claim_output(
    out: &std::path::Path,
    name: &str,
    text: &str,
    other: &str,
) -> anyhow::Result<()> {
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
