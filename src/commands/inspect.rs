//! `ftf inspect`: check a KITTI-format root and draw a bird's-eye view of one frame.

use anyhow::{bail, Context, Result};
use clap::Args;
use kitti::inspect::{inspect_root, write_frame_bev, Report};
use kitti::{FileKind, KittiRoot, Part};
use std::path::PathBuf;

/// Problems printed before the rest are summarised by a count.
const SHOWN_PROBLEMS: usize = 20;

/// Arguments of `ftf inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The KITTI object root (holding training/, testing/, ImageSets/).
    root: PathBuf,
    /// Frame to draw in the bird's-eye view (default: the first training frame).
    #[arg(long)]
    frame: Option<String>,
    /// Folder for the picture and report.json.
    #[arg(long, default_value = "inspect")]
    out: PathBuf,
    /// Check at most this many frames of each part (default: all).
    #[arg(long)]
    max_frames: Option<usize>,
}

/// Runs `ftf inspect`.
pub fn run(a: InspectArgs) -> Result<()> {
    let root = KittiRoot::open(&a.root)?;
    if a.max_frames == Some(0) {
        bail!("--max-frames 0 would check no frame: give at least 1, or leave it out to check all");
    }
    kitti::io::refuse_file_as_folder(&a.out).context("--out")?;
    let drawn = frame_to_draw(&root, a.frame.as_deref())?;
    let total: usize = [Part::Training, Part::Testing]
        .iter()
        .map(|&p| {
            root.list_frames(p, FileKind::Calib)
                .map(|v| v.len())
                .unwrap_or(0)
        })
        .sum();
    let bar = crate::terminal::progress::bar(total as u64, "inspect");
    let report = inspect_root(&root, a.max_frames, &|| bar.inc(1))?;
    bar.finish_and_clear();
    print_report(&a.root, &report);
    let json = report_json(&report);
    let json_path = a.out.join("report.json");
    kitti::io::write_atomic(&json_path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    println!("  report: {}", json_path.display());
    if let Some((part, id)) = drawn {
        let png = a.out.join(format!("bev_{id}.png"));
        write_frame_bev(&root, part, &id, &png)?;
        println!(
            "  bird's-eye view of {} frame {id}: {}",
            part.dir(),
            png.display()
        );
    }
    if !report.problems.is_empty() {
        bail!(
            "{} problem(s) found in {}",
            report.problems.len(),
            a.root.display()
        );
    }
    Ok(())
}

/// The part and id of the frame to draw: `--frame` (its scan must be in training/ or
/// testing/), else the first training frame with a scan, if any.
fn frame_to_draw(root: &KittiRoot, frame: Option<&str>) -> Result<Option<(Part, String)>> {
    let Some(id) = frame else {
        let first = root.list_frames(Part::Training, FileKind::Velodyne)?;
        return Ok(first.into_iter().next().map(|id| (Part::Training, id)));
    };
    let parts = [Part::Training, Part::Testing];
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        for part in parts {
            if root.path(part, FileKind::Velodyne, id).is_file() {
                return Ok(Some((part, id.to_string())));
            }
        }
    }
    bail!(
        "--frame `{id}`: no such frame: give the id of a frame with a LiDAR scan ({} or {})",
        root.path(Part::Training, FileKind::Velodyne, "NNNNNN")
            .display(),
        root.path(Part::Testing, FileKind::Velodyne, "NNNNNN")
            .display()
    )
}

fn print_report(root: &std::path::Path, r: &Report) {
    println!("KITTI root {}", root.display());
    for part in [Part::Training, Part::Testing] {
        let counts: Vec<String> = r
            .counts
            .iter()
            .filter(|(p, _, _)| *p == part)
            .map(|(_, k, n)| format!("{} {n}", k.name()))
            .collect();
        if !counts.is_empty() {
            println!("  {}: {}", part.dir(), counts.join(", "));
        }
    }
    let splits: Vec<String> = r.splits.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!(
        "  splits: {}",
        if splits.is_empty() {
            "none".into()
        } else {
            splits.join(", ")
        }
    );
    println!("  frames checked: {}", r.frames_checked);
    println!(
        "  problems: {}",
        if r.problems.is_empty() {
            "none".to_string()
        } else {
            r.problems.len().to_string()
        }
    );
    for p in r.problems.iter().take(SHOWN_PROBLEMS) {
        println!("    {p}");
    }
    if r.problems.len() > SHOWN_PROBLEMS {
        println!("    ... and {} more", r.problems.len() - SHOWN_PROBLEMS);
    }
    println!(
        "  calibration warnings: {}",
        if r.warnings.is_empty() {
            "none".to_string()
        } else {
            r.warnings.len().to_string()
        }
    );
    for w in r.warnings.iter().take(SHOWN_PROBLEMS) {
        println!("    {w}");
    }
    println!("  label/LiDAR alignment: share of the LiDAR points near a box that lie inside it (1 = all),");
    println!(
        "  and their median distance to the box surface (near 0 when boxes sit on the points):"
    );
    if r.alignment.is_empty() {
        println!("    no labelled box with enough points nearby");
    }
    for c in &r.alignment {
        println!(
            "    {:<14} {:>6} boxes  inside share {:.3}  surface gap {:.3} m  boxes under half inside: {:.1}%",
            c.kind.as_str(),
            c.boxes,
            c.mean_share,
            c.mean_gap,
            100.0 * c.poorly_aligned
        );
    }
}

fn report_json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "counts": r.counts.iter().map(|(p, k, n)| serde_json::json!({"part": p.dir(), "kind": k.name(), "files": n})).collect::<Vec<_>>(),
        "splits": r.splits.iter().map(|(s, n)| serde_json::json!({"split": s, "frames": n})).collect::<Vec<_>>(),
        "frames_checked": r.frames_checked,
        "problems": r.problems,
        "warnings": r.warnings,
        "alignment": r.alignment.iter().map(|c| serde_json::json!({
            "class": c.kind.as_str(), "boxes": c.boxes, "mean_share": c.mean_share,
            "mean_surface_gap_m": c.mean_gap, "poorly_aligned": c.poorly_aligned
        })).collect::<Vec<_>>(),
    })
}
