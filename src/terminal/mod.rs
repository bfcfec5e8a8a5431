//! What the subcommands and the experiment driver share at the terminal: progress bars, the
//! `--device` argument, the worker thread a command runs on and how freed memory is kept.

pub mod device;
pub mod memory;
pub mod progress;
pub mod workers;
