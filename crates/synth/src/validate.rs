//! Checking a synthetic set's settings before any frame is made: every field within what the
//! generator can make, each error naming the field (its TOML path), the value and what is
//! allowed. Counts are capped so that a typo cannot become a generation that never ends.

use crate::dataset::{SynthConfig, SynthError};
use crate::layout::NEAREST_OBJECT;

/// The most frames a set may have (KITTI's training split has 7481; a full-size frame takes
/// a few MB of disk).
pub const MAX_FRAMES: usize = 100_000;
/// The most cars, or pedestrians, a frame may ask for (each is placed with up to 20 tries, each
/// checked against everything placed before).
pub const MAX_OBJECTS: u32 = 64;
/// The most LiDAR beams (the HDL-64E that KITTI used has 64).
pub const MAX_BEAMS: u32 = 512;
/// The finest azimuth step, degrees (the HDL-64E's is about 0.08–0.35).
pub const MIN_AZIMUTH_STEP_DEG: f64 = 0.01;
/// The largest image scale relative to KITTI's 1242 x 375.
pub const MAX_SCALE: f64 = 4.0;

fn bad(field: &str, why: String) -> Result<(), SynthError> {
    Err(SynthError::Config {
        field: field.into(),
        why,
    })
}

/// A number: finite and `ok`, else the field, the value and what is allowed.
fn number(field: &str, value: f64, ok: bool, allowed: &str) -> Result<(), SynthError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        bad(field, format!("= {value}: must be {allowed}"))
    }
}

impl SynthConfig {
    /// Checks every value, naming the field at fault.
    pub fn validate(&self) -> Result<(), SynthError> {
        if !(1..=MAX_FRAMES).contains(&self.frames) {
            return bad(
                "frames",
                format!("= {}: must be 1 to {MAX_FRAMES}", self.frames),
            );
        }
        let share = |v: f64| (0.0..=1.0).contains(&v);
        number(
            "scale",
            self.scale,
            self.scale > 0.0 && self.scale <= MAX_SCALE,
            &format!("in (0, {MAX_SCALE}]"),
        )?;
        number(
            "train_share",
            self.train_share,
            share(self.train_share),
            "in [0, 1]",
        )?;
        let s = &self.scene;
        for (field, (lo, hi)) in [("scene.cars", s.cars), ("scene.pedestrians", s.pedestrians)] {
            if lo > hi || hi > MAX_OBJECTS {
                return bad(
                    field,
                    format!("= [{lo}, {hi}]: must be [min, max] with min <= max <= {MAX_OBJECTS}"),
                );
            }
        }
        number(
            "scene.van_share",
            s.van_share,
            share(s.van_share),
            "in [0, 1]",
        )?;
        number(
            "scene.no_pedestrian_chance",
            s.no_pedestrian_chance,
            share(s.no_pedestrian_chance),
            "in [0, 1]",
        )?;
        for (field, d) in [
            ("scene.max_car_distance", s.max_car_distance),
            ("scene.max_pedestrian_distance", s.max_pedestrian_distance),
        ] {
            number(
                field,
                d,
                d > NEAREST_OBJECT,
                &format!("metres beyond {NEAREST_OBJECT} (the nearest any object is placed)"),
            )?;
        }
        let l = &self.lidar;
        if !(1..=MAX_BEAMS).contains(&l.beams) {
            return bad(
                "lidar.beams",
                format!("= {}: must be 1 to {MAX_BEAMS}", l.beams),
            );
        }
        number(
            "lidar.azimuth_step_deg",
            l.azimuth_step_deg,
            (MIN_AZIMUTH_STEP_DEG..=360.0).contains(&l.azimuth_step_deg),
            &format!("{MIN_AZIMUTH_STEP_DEG} to 360 degrees"),
        )?;
        let elevation = |v: f64| (-90.0..=90.0).contains(&v);
        number(
            "lidar.top_deg",
            l.top_deg,
            elevation(l.top_deg),
            "-90 to 90 degrees",
        )?;
        number(
            "lidar.bottom_deg",
            l.bottom_deg,
            elevation(l.bottom_deg) && l.bottom_deg < l.top_deg,
            "-90 to 90 degrees, below lidar.top_deg",
        )?;
        number(
            "lidar.max_range",
            l.max_range,
            l.max_range > 0.0,
            "metres above 0",
        )?;
        number(
            "lidar.range_noise",
            l.range_noise,
            l.range_noise >= 0.0,
            "a standard deviation in metres, 0 or more",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of the default settings with one edit; it must name `field` and `value`.
    fn refused(edit: impl Fn(&mut SynthConfig), field: &str, value: &str) {
        let mut c = SynthConfig::default();
        edit(&mut c);
        let err = c.validate().expect_err(field).to_string();
        assert!(err.contains(field) && err.contains(value), "{err}");
    }

    #[test]
    fn every_field_is_checked_by_name() {
        SynthConfig::default().validate().unwrap();
        refused(|c| c.frames = 0, "frames", "= 0");
        refused(|c| c.frames = 100_000_000_000, "frames", "1 to 100000");
        refused(|c| c.scale = f64::NAN, "scale", "NaN");
        refused(|c| c.train_share = 1.5, "train_share", "1.5");
        refused(|c| c.scene.cars = (12, 3), "scene.cars", "[12, 3]");
        refused(|c| c.scene.cars = (3, 100_000_000), "scene.cars", "<= 64");
        refused(|c| c.scene.pedestrians = (1, 65), "scene.pedestrians", "65");
        refused(|c| c.scene.van_share = 1.5, "scene.van_share", "1.5");
        refused(
            |c| c.scene.no_pedestrian_chance = f64::NAN,
            "scene.no_pedestrian_chance",
            "NaN",
        );
        refused(
            |c| c.scene.max_car_distance = -5.0,
            "scene.max_car_distance",
            "beyond 4",
        );
        refused(|c| c.lidar.beams = 0, "lidar.beams", "= 0");
        refused(|c| c.lidar.beams = 100_000_000, "lidar.beams", "1 to 512");
        refused(
            |c| c.lidar.azimuth_step_deg = 1e-7,
            "lidar.azimuth_step_deg",
            "0.01 to 360",
        );
        refused(
            |c| c.lidar.top_deg = -30.0,
            "lidar.bottom_deg",
            "below lidar.top_deg",
        );
        refused(
            |c| c.lidar.max_range = f64::INFINITY,
            "lidar.max_range",
            "inf",
        );
        refused(|c| c.lidar.range_noise = -1.0, "lidar.range_noise", "-1");
    }
}
