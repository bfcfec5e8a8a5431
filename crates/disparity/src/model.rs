//! The interface every disparity model offers, and the classical one behind it.

use crate::sgm::{sgm, Gray, SgmConfig};
use kitti::{Calibration, DisparityMap};

/// A rectified stereo pair as 8-bit RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct StereoPair {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Left image (image_2), row-major RGB.
    pub left: Vec<u8>,
    /// Right image (image_3), row-major RGB.
    pub right: Vec<u8>,
}

/// A model that predicts the disparity of the left image of a rectified pair.
pub trait DisparityModel: Sync {
    /// Short name used in folders and reports.
    fn name(&self) -> String;
    /// The disparity map (0 = no prediction) of `pair`, whose frame has calibration `calib`.
    fn predict(&self, pair: &StereoPair, calib: &Calibration) -> DisparityMap;
    /// Whether several frames may be predicted at once (networks already use every core, and
    /// their memory adds up, so they say no).
    fn parallel_frames(&self) -> bool {
        true
    }
}

/// Semi-global matching as a [`DisparityModel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgm(pub SgmConfig);

impl DisparityModel for Sgm {
    fn name(&self) -> String {
        "sgm".into()
    }
    fn predict(&self, pair: &StereoPair, _calib: &Calibration) -> DisparityMap {
        let (w, h) = (pair.width as usize, pair.height as usize);
        sgm(
            &Gray::from_rgb(w, h, &pair.left),
            &Gray::from_rgb(w, h, &pair.right),
            &self.0,
        )
    }
}
