//! What the subcommands and the experiment driver share at the terminal: progress bars, the
//! `--device` argument and the worker thread a command runs on.

pub mod device;
pub mod progress;
pub mod workers;
