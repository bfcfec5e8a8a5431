//! A synthetic street world rendered into the KITTI object layout, deterministically from a seed.
//!
//! Each frame is a street scene (road, sidewalks, buildings, clutter, cars, vans, pedestrians)
//! ray cast from a KITTI-like stereo rig ([`rig`]) and scanned by a simulated 64-beam LiDAR
//! ([`lidar`]). Besides KITTI's own files, a frame carries the exact dense disparity of the left
//! image and an instance mask tying each left pixel to its label line.

pub mod bvh;
pub mod dataset;
pub mod frame;
pub mod layout;
pub mod lidar;
pub mod objects;
pub mod render;
pub mod rig;
/// Deterministic random numbers (shared with the other stages through `kitti`).
pub use kitti::rng;
pub mod shapes;
pub mod texture;
pub mod validate;
pub mod world;

pub use dataset::{generate_root, write_frame, SynthConfig, SynthError};
pub use frame::{generate_frame, Frame, FrameConfig};
pub use rig::Rig;
