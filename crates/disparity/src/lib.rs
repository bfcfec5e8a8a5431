//! Disparity estimation for the upstream model u: the [`DisparityModel`] interface, semi-global
//! matching ([`sgm`]) as a model that needs no training, and the disparity and depth metrics
//! ([`metrics`]) every model is judged by, overall, by distance and on each object class; the
//! learned models (PSMNet with disparity or depth loss, SDN, in [`psmnet`] and [`sdn`]); and
//! upstream errors made to order on synthetic data ([`perturb`], [`controlled`]).

pub mod controlled;
pub mod error;
pub mod frames;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod network;
pub mod objects;
pub mod ops;
pub mod outline;
pub mod perturb;
pub mod psmnet;
pub mod report;
pub mod sdn;
pub mod sgm;

pub use error::{DisparityError, Result};
pub use metrics::{frame_breakdown, Breakdown, Metrics, Sums};
pub use model::{DisparityModel, Sgm, StereoPair};
pub use sgm::{sgm, Gray, SgmConfig};
