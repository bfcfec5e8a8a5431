//! The downstream 3D detectors v (cars) and w (pedestrians): PointPillars in burn, trained from
//! scratch on real LiDAR or on any pseudo-LiDAR cloud.
//!
//! Data flows [`data`] (frames) → [`augment`] → [`pillars`] → [`model`] (pillar net, scatter,
//! backbone, anchor head) → [`loss`] against [`targets`] built on [`anchors`] with the
//! [`coder`]; at inference → [`postprocess`] (decode, [`nms`]) → KITTI result files
//! ([`inference`]). [`training`] is the loop; [`config`] holds every setting.

pub mod anchors;
pub mod augment;
pub mod coder;
pub mod config;
pub mod data;
pub mod error;
pub mod import;
pub mod inference;
pub mod loss;
pub mod model;
pub mod nms;
pub mod pillars;
pub mod postprocess;
pub mod targets;
pub mod training;

pub use config::DetectorConfig;
pub use error::{DetectorError, Result};
pub use inference::Detector;
