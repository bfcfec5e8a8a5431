//! Progress bars shared by the subcommands.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::LazyLock;

/// Every bar of the process, drawn together so that stages running side by side each keep a
/// line on stderr.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// A bar for `len` items of work described by `what`; hidden when stderr is not a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = BARS.add(ProgressBar::new(len));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Prints `text` on stdout above the bars (also when they are hidden).
pub fn line(text: &str) {
    BARS.suspend(|| println!("{text}"));
}

/// Says when `--resume` finds no run to continue in `out` (a new or mistyped folder): the
/// training then starts from its first epoch.
pub fn resume_notice(out: &std::path::Path, resume: bool) {
    let state = burn_support::CheckpointFiles::new(out).state();
    if resume && !state.is_file() {
        println!(
            "{}: no run to continue (no {}): training from the first epoch",
            out.display(),
            state.display()
        );
    }
}

/// The closing line of a training command: epochs done, and which epoch's weights predict.
pub fn training_done(out: &std::path::Path, epochs: usize, best: Option<usize>) {
    let weights = match best {
        Some(e) => format!("epoch {e}'s weights (the best on validation) predict"),
        None => "the last epoch's weights predict".to_string(),
    };
    println!(
        "{}: {epochs} epochs done; {weights}; checkpoints in {}",
        out.display(),
        out.join("checkpoints").display()
    );
}
