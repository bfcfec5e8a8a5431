//! Helpers shared by the end-to-end tests of the `ftf` binary.

use std::process::{Command, Output};

/// Runs `ftf` with `args` and waits for it.
pub fn ftf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftf"))
        .args(args)
        .output()
        .expect("ftf runs")
}

/// Its stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
