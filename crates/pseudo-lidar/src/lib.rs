//! The bridge between the disparity network and the detectors: disparity (or depth) maps →
//! pseudo-LiDAR clouds in the velodyne frame ([`Converter`]), sparsification to a LiDAR-like
//! 64 × 512 grid ([`sparsify`]), an optional depth-edge filter
//! ([`EdgeFilter`]), and LiDAR → sparse disparity ground truth
//! ([`lidar_disparity`]), and the close variants' label set ([`close`]). No neural-network code
//! here.

pub mod bev;
pub mod close;
pub mod config;
pub mod convert;
pub mod edges;
pub mod error;
pub mod frames;
pub mod gt_disparity;
pub mod sparsify;

pub use config::{Baseline, ConvertConfig, EdgeFilter, SparsifyConfig};
pub use convert::Converter;
pub use error::{PseudoLidarError, Result};
pub use gt_disparity::lidar_disparity;
pub use sparsify::sparsify;
