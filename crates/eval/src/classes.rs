//! What is evaluated: classes, metrics, difficulties or distance bins, and IoU threshold sets.

use kitti::ObjectType;
use std::fmt;

/// An evaluated class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Cars (Vans are neighbours: neither TP nor FP).
    Car,
    /// Pedestrians (Person_sitting are neighbours).
    Pedestrian,
    /// Cyclists.
    Cyclist,
}

impl Class {
    /// All three, in KITTI's order.
    pub const ALL: [Class; 3] = [Class::Car, Class::Pedestrian, Class::Cyclist];

    /// The label type of this class.
    pub fn object_type(self) -> ObjectType {
        match self {
            Class::Car => ObjectType::Car,
            Class::Pedestrian => ObjectType::Pedestrian,
            Class::Cyclist => ObjectType::Cyclist,
        }
    }

    /// The neighbouring type whose ground truth is neither a TP nor an FN for this class.
    pub fn neighbour(self) -> Option<ObjectType> {
        match self {
            Class::Car => Some(ObjectType::Van),
            Class::Pedestrian => Some(ObjectType::PersonSitting),
            Class::Cyclist => None,
        }
    }

    /// Name as in label files.
    pub fn name(self) -> &'static str {
        self.object_type().as_str()
    }

    /// Parses "car", "Car", "pedestrian", "ped", "cyclist".
    pub fn parse(s: &str) -> Option<Class> {
        match s.to_ascii_lowercase().as_str() {
            "car" => Some(Class::Car),
            "pedestrian" | "ped" => Some(Class::Pedestrian),
            "cyclist" | "cyc" => Some(Class::Cyclist),
            _ => None,
        }
    }
}

/// The overlap measure being scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// 2D boxes in the left image.
    Box2D,
    /// Rotated boxes in the bird's-eye view.
    Bev,
    /// 3D boxes.
    Box3D,
    /// Average orientation similarity, on the 2D matching.
    Aos,
}

impl Metric {
    /// All four.
    pub const ALL: [Metric; 4] = [Metric::Box2D, Metric::Bev, Metric::Box3D, Metric::Aos];

    /// Key used in JSON ("2d", "bev", "3d", "aos").
    pub fn key(self) -> &'static str {
        match self {
            Metric::Box2D => "2d",
            Metric::Bev => "bev",
            Metric::Box3D => "3d",
            Metric::Aos => "aos",
        }
    }

    /// Label used in tables ("2D AP", "BEV AP", "3D AP", "AOS").
    pub fn label(self) -> &'static str {
        match self {
            Metric::Box2D => "2D AP",
            Metric::Bev => "BEV AP",
            Metric::Box3D => "3D AP",
            Metric::Aos => "AOS",
        }
    }

    /// The metric whose overlaps and threshold this one uses (AOS rides on the 2D matching).
    pub fn overlap_metric(self) -> Metric {
        match self {
            Metric::Aos => Metric::Box2D,
            m => m,
        }
    }
}

/// KITTI's difficulty levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Difficulty {
    /// Height > 40 px, fully visible, truncation ≤ 0.15.
    Easy,
    /// Height > 25 px, at most partly occluded, truncation ≤ 0.3.
    Moderate,
    /// Height > 25 px, at most largely occluded, truncation ≤ 0.5.
    Hard,
}

impl Difficulty {
    /// All three.
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Moderate, Difficulty::Hard];
    /// Minimum 2D box height in pixels (ground truth must exceed it; detections reach it).
    pub fn min_height(self) -> f64 {
        [40.0, 25.0, 25.0][self as usize]
    }
    /// Maximum occlusion level.
    pub fn max_occlusion(self) -> i32 {
        [0, 1, 2][self as usize]
    }
    /// Maximum truncation.
    pub fn max_truncation(self) -> f64 {
        [0.15, 0.3, 0.5][self as usize]
    }
    /// Lower-case name.
    pub fn key(self) -> &'static str {
        ["easy", "moderate", "hard"][self as usize]
    }
    /// Capitalised name.
    pub fn label(self) -> &'static str {
        ["Easy", "Moderate", "Hard"][self as usize]
    }
}

/// Which ground truth and detections count: a KITTI difficulty, or a camera-depth bin
/// (lo, hi] without difficulty rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Filter {
    /// KITTI difficulty rules.
    Difficulty(Difficulty),
    /// Objects with camera z in (lo, hi] metres.
    Range(f64, f64),
}

impl Filter {
    /// Key used in JSON ("moderate", "range_0-20").
    pub fn key(&self) -> String {
        match self {
            Filter::Difficulty(d) => d.key().to_string(),
            Filter::Range(lo, hi) => format!("range_{}-{}", fmt_num(*lo), fmt_num(*hi)),
        }
    }
    /// Label used in tables ("Moderate", "0-20m").
    pub fn label(&self) -> String {
        match self {
            Filter::Difficulty(d) => d.label().to_string(),
            Filter::Range(lo, hi) => format!("{}-{}m", fmt_num(*lo), fmt_num(*hi)),
        }
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// A set of IoU thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IouSet {
    /// KITTI's official thresholds: car 0.7, pedestrian and cyclist 0.5, for every metric.
    Official,
    /// The loose set: BEV/3D car 0.5, pedestrian and cyclist 0.25; 2D as official.
    Loose,
    /// The strict set: car 0.9, pedestrian and cyclist 0.7, for every metric.
    Strict,
}

impl IouSet {
    /// Name ("official", "loose", "strict").
    pub fn name(self) -> &'static str {
        match self {
            IouSet::Official => "official",
            IouSet::Loose => "loose",
            IouSet::Strict => "strict",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<IouSet> {
        [IouSet::Official, IouSet::Loose, IouSet::Strict]
            .into_iter()
            .find(|i| i.name() == s.trim().to_ascii_lowercase())
    }

    /// The minimum overlap (strictly exceeded) for `class` under `metric`.
    pub fn threshold(self, class: Class, metric: Metric) -> f64 {
        let car = class == Class::Car;
        match (self, metric.overlap_metric()) {
            (IouSet::Official, _) | (IouSet::Loose, Metric::Box2D) => {
                if car {
                    0.7
                } else {
                    0.5
                }
            }
            (IouSet::Loose, _) => {
                if car {
                    0.5
                } else {
                    0.25
                }
            }
            (IouSet::Strict, _) => {
                if car {
                    0.9
                } else {
                    0.7
                }
            }
        }
    }
}

impl fmt::Display for IouSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
