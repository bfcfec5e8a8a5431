//! Checking a detector configuration before any work: every field within what the network, its
//! training and its post-processing can take, each error naming the field (its TOML path), the
//! value and what is allowed. The bounds on sizes keep a typo from becoming an allocation the
//! process cannot survive; each is several times the reference recipe's.

use super::DetectorConfig;
use crate::error::{DetectorError, Result};
use kitti::label::ObjectType;
use std::ops::RangeInclusive;

/// The most cells of a side of the pillar grid (the reference's grid is 432 x 496).
pub const MAX_GRID_SIDE: usize = 2048;
/// The most points a pillar keeps (the reference keeps 32).
pub const MAX_POINTS_PER_PILLAR: usize = 1024;
/// The most channels of any layer (the reference's widest has 256).
pub const MAX_CHANNELS: usize = 1024;
/// The most extra layers of a backbone block (the reference's deepest has 5).
pub const MAX_LAYERS_PER_BLOCK: usize = 64;
/// The largest stride of a backbone block or upsampling (the reference's are at most 4).
pub const MAX_STRIDE: usize = 8;

fn fail<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T> {
    Err(DetectorError::config(field, message))
}

/// A number: finite and `ok`, else the field, the value and what is allowed.
fn number(field: &str, value: f64, ok: bool, allowed: &str) -> Result<()> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        fail(field, format!("{value} given; must be {allowed}"))
    }
}

/// A count within `range`, else the field, the value and the range (`note`: the reference's).
fn count(field: &str, value: usize, range: RangeInclusive<usize>, note: &str) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        fail(
            field,
            format!(
                "{value} given; must be {} to {}{note}",
                range.start(),
                range.end()
            ),
        )
    }
}

/// A KITTI type name as label files spell it.
fn object_type(field: &str, name: &str) -> Result<()> {
    if name.parse::<ObjectType>().is_ok() {
        return Ok(());
    }
    let names: Vec<_> = ObjectType::ALL.iter().map(|t| t.as_str()).collect();
    fail(
        field,
        format!(
            "`{name}` is not a KITTI object type ({}, spelled as in label files)",
            names.join(", ")
        ),
    )
}

impl DetectorConfig {
    /// Checks every setting and that they fit together (grid divisible by the strides, list
    /// lengths agree, thresholds ordered).
    pub fn validate(&self) -> Result<()> {
        self.check_anchors()?;
        self.check_pillars()?;
        self.check_network()?;
        self.check_loss_and_post()?;
        self.check_training()
    }

    fn check_anchors(&self) -> Result<()> {
        for s in self.class_specs()? {
            let (a, at) = (&s.anchor, format!("anchors.{}", s.name));
            for (i, &v) in a.size.iter().enumerate() {
                number(&format!("{at}.size[{i}]"), v, v > 0.0, "a length above 0")?;
            }
            number(&format!("{at}.bottom_z"), a.bottom_z, true, "finite")?;
            if a.rotations.is_empty() {
                return fail(format!("{at}.rotations"), "needs at least one rotation");
            }
            for (i, &r) in a.rotations.iter().enumerate() {
                number(&format!("{at}.rotations[{i}]"), r, true, "finite")?;
            }
            let p = a.positive_iou;
            number(
                &format!("{at}.positive_iou"),
                p,
                p > 0.0 && p <= 1.0,
                "above 0 and at most 1",
            )?;
            number(
                &format!("{at}.negative_iou"),
                a.negative_iou,
                a.negative_iou >= 0.0 && a.negative_iou <= p,
                "0 or more and must not exceed positive_iou",
            )?;
        }
        Ok(())
    }

    fn check_pillars(&self) -> Result<()> {
        let p = &self.pillars;
        let r = p.range;
        if r.iter().any(|v| !v.is_finite()) || r[3] <= r[0] || r[4] <= r[1] || r[5] <= r[2] {
            return fail(
                "pillars.range",
                format!(
                    "{r:?} given; must be finite [x_min, y_min, z_min, x_max, y_max, z_max] with \
                     each max above its min"
                ),
            );
        }
        for (i, &v) in p.size.iter().enumerate() {
            number(
                &format!("pillars.size[{i}]"),
                v,
                v > 0.0,
                "a length above 0",
            )?;
        }
        let [nx, ny] = p.grid();
        if nx == 0 || ny == 0 || nx > MAX_GRID_SIDE || ny > MAX_GRID_SIDE {
            return fail(
                "pillars.size",
                format!(
                    "{:?} over the range gives a {nx} x {ny} pillar grid; each side must be 1 \
                     to {MAX_GRID_SIDE} pillars (the reference's grid is 432 x 496)",
                    p.size
                ),
            );
        }
        count(
            "pillars.max_points",
            p.max_points,
            1..=MAX_POINTS_PER_PILLAR,
            " (the reference's 32)",
        )?;
        count(
            "pillars.max_pillars_train",
            p.max_pillars_train,
            1..=usize::MAX,
            "",
        )?;
        count(
            "pillars.max_pillars_test",
            p.max_pillars_test,
            1..=usize::MAX,
            "",
        )
    }

    fn check_network(&self) -> Result<()> {
        let n = &self.network;
        let k = n.layer_nums.len();
        if k == 0
            || [
                n.layer_strides.len(),
                n.filters.len(),
                n.upsample_strides.len(),
                n.upsample_filters.len(),
            ]
            .iter()
            .any(|&l| l != k)
        {
            return fail(
                "network",
                "layer_nums, layer_strides, filters, upsample_strides and upsample_filters need \
                 the same, non-zero length",
            );
        }
        count(
            "network.pillar_channels",
            n.pillar_channels,
            1..=MAX_CHANNELS,
            " (the reference's 64)",
        )?;
        for (list, values, range, note) in [
            (
                "layer_nums",
                &n.layer_nums,
                0..=MAX_LAYERS_PER_BLOCK,
                " (the reference's 3, 5, 5)",
            ),
            (
                "layer_strides",
                &n.layer_strides,
                1..=MAX_STRIDE,
                " (the reference's 2, 2, 2)",
            ),
            (
                "filters",
                &n.filters,
                1..=MAX_CHANNELS,
                " (the reference's 64, 128, 256)",
            ),
            (
                "upsample_strides",
                &n.upsample_strides,
                1..=MAX_STRIDE,
                " (the reference's 1, 2, 4)",
            ),
            (
                "upsample_filters",
                &n.upsample_filters,
                1..=MAX_CHANNELS,
                " (the reference's 128 each)",
            ),
        ] {
            for (i, &v) in values.iter().enumerate() {
                count(&format!("network.{list}[{i}]"), v, range.clone(), note)?;
            }
        }
        let mut stride = 1;
        for (i, (&s, &u)) in n.layer_strides.iter().zip(&n.upsample_strides).enumerate() {
            stride *= s;
            if stride % u != 0 || stride / u != n.output_stride() {
                return fail(
                    "network.upsample_strides",
                    format!(
                        "block {i} (stride {stride}) upsampled by {u} does not reach the common \
                         output stride"
                    ),
                );
            }
        }
        let [nx, ny] = self.pillars.grid();
        if nx % stride != 0 || ny % stride != 0 {
            return fail(
                "pillars",
                format!(
                    "the {nx} x {ny} pillar grid must be divisible by the backbone's total \
                     stride {stride}"
                ),
            );
        }
        let m = n.batch_norm_momentum;
        number(
            "network.batch_norm_momentum",
            m,
            m > 0.0 && m <= 1.0,
            "above 0 and at most 1",
        )
    }

    fn check_loss_and_post(&self) -> Result<()> {
        let (l, p) = (&self.loss, &self.post);
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        for (field, value, ok, allowed) in [
            (
                "loss.focal_alpha",
                l.focal_alpha,
                unit(l.focal_alpha),
                "between 0 and 1",
            ),
            (
                "loss.focal_gamma",
                l.focal_gamma,
                l.focal_gamma >= 0.0,
                "0 or more",
            ),
            ("loss.box_beta", l.box_beta, l.box_beta > 0.0, "above 0"),
            (
                "loss.class_weight",
                l.class_weight,
                l.class_weight >= 0.0,
                "0 or more",
            ),
            (
                "loss.box_weight",
                l.box_weight,
                l.box_weight >= 0.0,
                "0 or more",
            ),
            (
                "loss.direction_weight",
                l.direction_weight,
                l.direction_weight >= 0.0,
                "0 or more",
            ),
            ("loss.direction_offset", l.direction_offset, true, "finite"),
            (
                "post.score_threshold",
                p.score_threshold,
                unit(p.score_threshold),
                "between 0 and 1 (scores are probabilities)",
            ),
            (
                "post.nms_iou",
                p.nms_iou,
                unit(p.nms_iou),
                "between 0 and 1",
            ),
        ] {
            number(field, value, ok, allowed)?;
        }
        count("post.nms_pre", p.nms_pre, 1..=usize::MAX, "")?;
        count("post.max_boxes", p.max_boxes, 1..=usize::MAX, "")
    }

    fn check_training(&self) -> Result<()> {
        let t = &self.train;
        if t.batch_size == 0 || t.epochs == 0 {
            return fail("train", "batch_size and epochs must be positive");
        }
        for (field, value, ok, allowed) in [
            (
                "train.learning_rate",
                t.learning_rate,
                t.learning_rate > 0.0,
                "a finite number above 0",
            ),
            (
                "train.weight_decay",
                t.weight_decay,
                t.weight_decay >= 0.0,
                "a finite number, 0 or more",
            ),
            (
                "train.div_factor",
                t.div_factor,
                t.div_factor > 0.0,
                "a finite number above 0",
            ),
            (
                "train.pct_start",
                t.pct_start,
                (0.0..=1.0).contains(&t.pct_start),
                "between 0 and 1",
            ),
            (
                "train.grad_norm_clip",
                t.grad_norm_clip,
                t.grad_norm_clip >= 0.0,
                "a finite number, 0 or more",
            ),
        ] {
            number(field, value, ok, allowed)?;
        }
        let a = &self.augment;
        for name in a.sample_objects.keys() {
            object_type(&format!("augment.sample_objects.{name}"), name)?;
        }
        number(
            "augment.rotation",
            a.rotation,
            (0.0..=std::f64::consts::PI).contains(&a.rotation),
            "between 0 and pi radians",
        )?;
        let [lo, hi] = a.scaling;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return fail(
                "augment.scaling",
                format!("[{lo}, {hi}] given; must be [min, max] with 0 < min <= max"),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of the default config with one edit; it must name `field` and `value`.
    fn refused(edit: impl Fn(&mut DetectorConfig), field: &str, value: &str) {
        let mut c = DetectorConfig::default();
        edit(&mut c);
        let err = c.validate().expect_err(field).to_string();
        assert!(err.contains(field) && err.contains(value), "{err}");
    }

    #[test]
    fn zero_pillar_limits_and_non_finite_rates_are_refused_by_field() {
        refused(
            |c| c.pillars.max_points = 0,
            "pillars.max_points",
            "0 given",
        );
        refused(
            |c| c.pillars.max_pillars_train = 0,
            "pillars.max_pillars_train",
            "0 given",
        );
        refused(
            |c| c.train.learning_rate = f64::NAN,
            "train.learning_rate",
            "NaN given",
        );
        refused(|c| c.train.pct_start = 1.5, "train.pct_start", "1.5 given");
        refused(
            |c| c.network.batch_norm_momentum = 0.0,
            "network.batch_norm_momentum",
            "0 given",
        );
    }

    #[test]
    fn sizes_the_process_cannot_allocate_are_refused_before_any_work() {
        refused(
            |c| c.pillars.size = [1e-4, 1e-4],
            "pillars.size",
            "691200 x 793600",
        );
        refused(
            |c| c.pillars.max_points = 100_000_000_000,
            "pillars.max_points",
            "1 to 1024",
        );
        refused(
            |c| c.network.filters[2] = 100_000_000,
            "network.filters[2]",
            "100000000 given",
        );
        refused(
            |c| c.network.pillar_channels = 0,
            "network.pillar_channels",
            "0 given",
        );
        refused(
            |c| c.network.layer_nums[0] = 1_000_000,
            "network.layer_nums[0]",
            "0 to 64",
        );
        refused(
            |c| c.network.layer_strides[0] = 0,
            "network.layer_strides[0]",
            "0 given",
        );
        // The bounds leave the reference recipe and its CPU variants several times their size.
        let mut c = DetectorConfig::default();
        c.pillars.size = [0.04, 0.04];
        c.pillars.range = [0.0, -40.96, -3.0, 81.92, 40.96, 1.0];
        c.pillars.max_points = 128;
        c.network.filters = vec![256, 512, 1024];
        c.validate().unwrap();
        assert_eq!(c.pillars.grid(), [MAX_GRID_SIDE, MAX_GRID_SIDE]);
    }

    #[test]
    fn numbers_that_would_give_silently_wrong_boxes_are_refused() {
        refused(
            |c| c.pillars.size = [f64::NAN, 0.16],
            "pillars.size[0]",
            "NaN",
        );
        refused(
            |c| c.pillars.range[4] = f64::INFINITY,
            "pillars.range",
            "inf",
        );
        refused(|c| c.post.nms_iou = f64::NAN, "post.nms_iou", "NaN given");
        refused(
            |c| c.post.score_threshold = 2.0,
            "post.score_threshold",
            "2 given",
        );
        refused(|c| c.post.max_boxes = 0, "post.max_boxes", "0 given");
        refused(|c| c.loss.box_beta = 0.0, "loss.box_beta", "above 0");
        refused(|c| c.loss.focal_alpha = -0.5, "loss.focal_alpha", "-0.5");
        refused(
            |c| c.anchors.get_mut("Car").unwrap().size[1] = f64::NAN,
            "anchors.Car.size[1]",
            "NaN",
        );
        refused(
            |c| c.anchors.get_mut("Car").unwrap().negative_iou = 0.7,
            "anchors.Car.negative_iou",
            "positive_iou",
        );
        refused(
            |c| c.anchors.get_mut("Car").unwrap().rotations.clear(),
            "anchors.Car.rotations",
            "at least one",
        );
        refused(
            |c| c.augment.scaling = [1.2, 0.5],
            "augment.scaling",
            "[1.2, 0.5]",
        );
        refused(|c| c.augment.rotation = -1.0, "augment.rotation", "-1");
        // A class the sampler would never find, as lower case would be.
        refused(
            |c| {
                c.augment.sample_objects.insert("car".into(), 15);
            },
            "augment.sample_objects.car",
            "Car, Van",
        );
    }

    #[test]
    fn inconsistent_settings_name_the_field() {
        let mut c = DetectorConfig {
            classes: vec!["Truck".into(), "Tram".into()],
            ..DetectorConfig::default()
        };
        let err = |c: &DetectorConfig| c.validate().unwrap_err().to_string();
        assert!(err(&c).contains("anchors.Truck"));
        c.classes = vec!["Lorry".into()];
        assert!(err(&c).contains("not a KITTI object type"));
        c.classes = vec!["Car".into()];
        c.pillars.size = [0.5, 0.5];
        assert!(err(&c).contains("divisible"));
    }

    #[test]
    fn a_class_twice_or_dont_care_is_refused() {
        refused(
            |c| c.classes = vec!["Car".into(), "Pedestrian".into(), "Car".into()],
            "classes",
            "`Car` is listed twice",
        );
        refused(
            |c| c.classes = vec!["DontCare".into()],
            "classes",
            "not a class to detect",
        );
    }
}
