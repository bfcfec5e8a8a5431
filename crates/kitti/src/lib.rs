//! KITTI object data on disk and the geometry around it.
//!
//! Calibration ([`Calibration`]), labels ([`Object`]), velodyne scans ([`LidarPoint`]), disparity
//! PNGs ([`DisparityMap`]), split files ([`Split`]), a root handle ([`KittiRoot`]), 3D boxes
//! ([`Box3D`], [`VeloBox`]) and bird's-eye-view plots ([`bev`]). Every reader returns a
//! [`KittiError`] naming the file (and line) on bad input; every writer is atomic.

pub mod bev;
pub mod box3d;
pub mod calib;
pub mod dataset;
pub mod error;
pub mod inspect;
pub mod io;
pub mod iou;
pub mod label;
pub mod lock;
pub mod npy;
pub mod png16;
pub mod rng;
pub mod split;
pub mod svg;
pub mod velodyne;

pub use box3d::{alpha_from, wrap_angle, Box2D, Box3D, VeloBox};
pub use calib::{Baseline, Calibration, ImagePoint};
pub use dataset::{FileKind, KittiRoot, Part};
pub use error::{KittiError, Result};
pub use label::{parse_labels, read_labels, write_labels, Object, ObjectType};
pub use png16::{DisparityMap, InstanceMask};
pub use split::{frame_id, write_split, Split};
pub use velodyne::{read_velodyne, write_velodyne, LidarPoint};
