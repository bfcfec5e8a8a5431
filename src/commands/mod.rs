//! One module per subcommand; each parses its arguments and calls the stage crates.

pub mod bench;
pub mod detect;
pub mod disparity;
pub mod eval;
pub mod inspect;
pub mod pseudo_lidar;
pub mod synth;
