//! KITTI 3D object evaluation, exact to the official devkit (`evaluate_object_3d_offline`):
//! classes Car, Pedestrian, Cyclist; Easy/Moderate/Hard or camera-depth bins; 2D, BEV, 3D and
//! AOS; AP|R11 and AP|R40; several IoU threshold sets at once.
//!
//! The library works on labels in memory ([`evaluate`] over [`FrameLabels`]); [`load`] reads
//! them from KITTI label and result folders; [`report`] prints tables and JSON; [`bootstrap`]
//! gives paired bootstrap intervals of AP changes.

pub mod ap;
pub mod bootstrap;
pub mod classes;
mod clean;
pub mod evaluate;
pub mod frame;
pub mod load;
mod matching;
pub mod report;

pub use classes::{Class, Difficulty, Filter, IouSet, Metric};
pub use evaluate::{evaluate, Curve, EvalConfig, EvalResult};
pub use frame::FrameLabels;
pub use load::{load_frames, EvalError};
