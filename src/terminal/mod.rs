//! What the subcommands and the experiment driver share at the terminal: progress bars and the
//! `--device` argument.

pub mod device;
pub mod progress;
