//! Object label files (`label_2/NNNNNN.txt`): 15 fields a line for ground truth, a 16th (score) in
//! result files.

use crate::box3d::{Box2D, Box3D};
use crate::error::{KittiError, Result};
use crate::io::{fmt_value, read_text, write_atomic};
use nalgebra::Point3;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The object classes of the KITTI object benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    /// Passenger car.
    Car,
    /// Van (a neighbour class of Car in evaluation).
    Van,
    /// Truck.
    Truck,
    /// Standing or walking pedestrian.
    Pedestrian,
    /// Sitting person (a neighbour class of Pedestrian in evaluation).
    PersonSitting,
    /// Cyclist.
    Cyclist,
    /// Tram.
    Tram,
    /// Anything else worth labelling.
    Misc,
    /// A region with unlabelled objects; detections there are not penalised in 2D.
    DontCare,
}

impl ObjectType {
    /// Every type, in KITTI's order.
    pub const ALL: [ObjectType; 9] = [
        ObjectType::Car,
        ObjectType::Van,
        ObjectType::Truck,
        ObjectType::Pedestrian,
        ObjectType::PersonSitting,
        ObjectType::Cyclist,
        ObjectType::Tram,
        ObjectType::Misc,
        ObjectType::DontCare,
    ];

    /// The spelling used in label files.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Car => "Car",
            ObjectType::Van => "Van",
            ObjectType::Truck => "Truck",
            ObjectType::Pedestrian => "Pedestrian",
            ObjectType::PersonSitting => "Person_sitting",
            ObjectType::Cyclist => "Cyclist",
            ObjectType::Tram => "Tram",
            ObjectType::Misc => "Misc",
            ObjectType::DontCare => "DontCare",
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectType {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ObjectType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown object type `{s}`"))
    }
}

/// One line of a label or result file.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Object class.
    pub kind: ObjectType,
    /// Share of the object outside the image, 0..1 (−1 in DontCare and many result files).
    pub truncated: f64,
    /// 0 fully visible, 1 partly occluded, 2 largely occluded, 3 unknown (−1 for DontCare).
    pub occluded: i32,
    /// Observation angle in [−π, π].
    pub alpha: f64,
    /// 2D box in the left image, pixels.
    pub bbox: Box2D,
    /// 3D box in the rectified camera frame.
    pub box3d: Box3D,
    /// Detection confidence; present only in result files.
    pub score: Option<f64>,
}

const FIELD_NAMES: [&str; 16] = [
    "type",
    "truncated",
    "occluded",
    "alpha",
    "bbox_left",
    "bbox_top",
    "bbox_right",
    "bbox_bottom",
    "height",
    "width",
    "length",
    "x",
    "y",
    "z",
    "rotation_y",
    "score",
];

impl Object {
    /// A DontCare region covering `bbox`, with KITTI's placeholder values.
    pub fn dont_care(bbox: Box2D) -> Self {
        Object {
            kind: ObjectType::DontCare,
            truncated: -1.0,
            occluded: -1,
            alpha: -10.0,
            bbox,
            box3d: Box3D {
                location: Point3::new(-1000.0, -1000.0, -1000.0),
                h: -1.0,
                w: -1.0,
                l: -1.0,
                ry: -10.0,
            },
            score: None,
        }
    }

    /// Parses one line; `path` and `line_no` (1-based) go into errors.
    pub fn parse(line: &str, path: &Path, line_no: usize) -> Result<Self> {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() != 15 && tokens.len() != 16 {
            return Err(KittiError::WrongCount {
                path: path.into(),
                line: line_no,
                what: "label".into(),
                expected: "15 (ground truth) or 16 (with score)".into(),
                found: tokens.len(),
            });
        }
        let kind = tokens[0]
            .parse::<ObjectType>()
            .map_err(|m| KittiError::malformed(path, Some(line_no), m))?;
        let num = |i: usize| -> Result<f64> {
            tokens[i]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| KittiError::NotANumber {
                    path: path.into(),
                    line: line_no,
                    field: FIELD_NAMES[i].into(),
                    token: tokens[i].into(),
                })
        };
        let occluded = num(2)?;
        if occluded.fract() != 0.0 {
            return Err(KittiError::malformed(
                path,
                Some(line_no),
                format!("field `occluded` must be an integer, found `{}`", tokens[2]),
            ));
        }
        // KITTI's levels (0 visible to 3 unknown) and truncation share (0 to 1), or -1 where a
        // line has none (DontCare regions, many detectors' result lines); anything else would
        // move an object between difficulties, or out of all of them, without a word.
        if !(-1.0..=3.0).contains(&occluded) {
            return Err(KittiError::malformed(
                path,
                Some(line_no),
                format!(
                    "field `occluded` = {}: must be 0, 1, 2 or 3 (or -1 for none)",
                    tokens[2]
                ),
            ));
        }
        let truncated = num(1)?;
        if truncated != -1.0 && !(0.0..=1.0).contains(&truncated) {
            return Err(KittiError::malformed(
                path,
                Some(line_no),
                format!(
                    "field `truncated` = {}: must be a share from 0 to 1 (or -1 for none)",
                    tokens[1]
                ),
            ));
        }
        // Box sizes of real objects are lengths; only DontCare regions carry KITTI's -1.
        if kind != ObjectType::DontCare {
            for (i, field) in FIELD_NAMES.iter().enumerate().take(11).skip(8) {
                let v = num(i)?;
                if v < 0.0 {
                    return Err(KittiError::malformed(
                        path,
                        Some(line_no),
                        format!(
                            "field `{field}` = {v}: a box size must be 0 or more (negative \
                             sizes are for DontCare lines only)"
                        ),
                    ));
                }
            }
        }
        // A 2D box runs left to right and top to bottom; an inverted one would silently drop
        // out of every difficulty (its height is negative) or never match.
        for (lo, hi) in [(4, 6), (5, 7)] {
            let (a, b) = (num(lo)?, num(hi)?);
            if b < a {
                return Err(KittiError::malformed(
                    path,
                    Some(line_no),
                    format!(
                        "field `{}` = {b} is below `{}` = {a}: a 2D box needs left <= right \
                         and top <= bottom",
                        FIELD_NAMES[hi], FIELD_NAMES[lo]
                    ),
                ));
            }
        }
        Ok(Object {
            kind,
            truncated,
            occluded: occluded as i32,
            alpha: num(3)?,
            bbox: Box2D {
                left: num(4)?,
                top: num(5)?,
                right: num(6)?,
                bottom: num(7)?,
            },
            box3d: Box3D {
                h: num(8)?,
                w: num(9)?,
                l: num(10)?,
                location: Point3::new(num(11)?, num(12)?, num(13)?),
                ry: num(14)?,
            },
            score: if tokens.len() == 16 {
                Some(num(15)?)
            } else {
                None
            },
        })
    }

    /// The line as KITTI writes it (two decimals where exact, full precision otherwise).
    pub fn to_line(&self) -> String {
        let b = &self.box3d;
        let mut fields = vec![
            self.kind.as_str().to_string(),
            fmt_value(self.truncated),
            self.occluded.to_string(),
        ];
        fields.extend(
            [
                self.alpha,
                self.bbox.left,
                self.bbox.top,
                self.bbox.right,
                self.bbox.bottom,
                b.h,
                b.w,
                b.l,
                b.location.x,
                b.location.y,
                b.location.z,
                b.ry,
            ]
            .map(fmt_value),
        );
        if let Some(s) = self.score {
            fields.push(fmt_value(s));
        }
        fields.join(" ")
    }
}

/// Parses a whole label or result file (blank lines skipped).
pub fn parse_labels(text: &str, path: &Path) -> Result<Vec<Object>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Object::parse(l, path, i + 1))
        .collect()
}

/// Reads a label or result file.
pub fn read_labels(path: &Path) -> Result<Vec<Object>> {
    parse_labels(&read_text(path)?, path)
}

/// Writes objects one a line, atomically (an empty list writes an empty file).
pub fn write_labels(path: &Path, objects: &[Object]) -> Result<()> {
    let mut text = String::new();
    for o in objects {
        text.push_str(&o.to_line());
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GT: &str =
        "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01
Car 0.88 3 -0.69 0.00 192.37 402.31 374.00 1.60 1.57 3.23 -2.70 1.74 3.68 -1.29
DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10
Person_sitting 0.00 1 1.50 10 20 30 40 1.2 0.6 0.8 3.0 1.6 12.5 1.0
";

    #[test]
    fn parses_fields_by_position() {
        let objs = parse_labels(GT, Path::new("x")).unwrap();
        assert_eq!(objs.len(), 4);
        let p = &objs[0];
        assert_eq!(p.kind, ObjectType::Pedestrian);
        assert_eq!(p.bbox.right, 810.73);
        assert_eq!((p.box3d.h, p.box3d.w, p.box3d.l), (1.89, 0.48, 1.20));
        assert_eq!(p.box3d.location, Point3::new(1.84, 1.47, 8.41));
        assert_eq!(p.box3d.ry, 0.01);
        assert_eq!(p.score, None);
        assert_eq!(objs[1].occluded, 3);
        assert_eq!(objs[2].kind, ObjectType::DontCare);
        assert_eq!(objs[3].kind, ObjectType::PersonSitting);
    }

    #[test]
    fn ground_truth_and_result_lines_round_trip() {
        let mut objs = parse_labels(GT, Path::new("x")).unwrap();
        objs[1].score = Some(0.8731);
        objs[0].box3d.ry = 0.123_456_789;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.txt");
        write_labels(&path, &objs).unwrap();
        let back = read_labels(&path).unwrap();
        assert_eq!(objs, back);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("Pedestrian 0.00 0 -0.20 712.40"), "{text}");
        assert!(text.lines().nth(1).unwrap().ends_with(" 0.8731"));
        assert_eq!(
            Object::parse(&objs[1].to_line(), &path, 1).unwrap(),
            objs[1]
        );
    }

    #[test]
    fn every_type_round_trips_by_name() {
        for t in ObjectType::ALL {
            assert_eq!(t.as_str().parse::<ObjectType>().unwrap(), t);
        }
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let p = Path::new("label_2/000042.txt");
        let e = parse_labels("Car 0 0 0 1 2 3\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("000042.txt:1") && e.contains("found 7"), "{e}");
        let bad = GT.replace("1.60 1.57", "1.60 x1.57");
        let e = parse_labels(&bad, p).unwrap_err().to_string();
        assert!(
            e.contains("000042.txt:2") && e.contains("width") && e.contains("x1.57"),
            "{e}"
        );
        let e = parse_labels(&GT.replace("Car", "Bus"), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2") && e.contains("`Bus`"), "{e}");
        let e = parse_labels(&GT.replace("0.88 3", "0.88 1.5"), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2") && e.contains("occluded"), "{e}");
        // A negative size on a real object (DontCare lines keep KITTI's -1).
        let e = parse_labels(&GT.replace("1.60 1.57", "-1.60 1.57"), p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("000042.txt:2") && e.contains("`height` = -1.6"),
            "{e}"
        );
        // Occlusion levels and truncation shares outside KITTI's, -1 allowed for none.
        let line =
            "Car 0.00 0 -1.59 149.61 43.32 171.73 68.22 1.64 1.46 4.25 0.53 1.65 14.04 -1.55";
        for (bad, what) in [
            ("Car 0.00 5 ", "`occluded` = 5"),
            ("Car 0.00 -2 ", "`occluded` = -2"),
            ("Car 1.50 0 ", "`truncated` = 1.50"),
            ("Car -0.5 0 ", "`truncated` = -0.5"),
        ] {
            let e = Object::parse(&line.replacen("Car 0.00 0 ", bad, 1), p, 4)
                .unwrap_err()
                .to_string();
            assert!(e.contains("000042.txt:4") && e.contains(what), "{e}");
        }
        assert!(Object::parse(&line.replacen("Car 0.00 0 ", "Car -1 -1 ", 1), p, 4).is_ok());
        assert!(Object::parse(&line.replacen("Car 0.00 0 ", "Car 1 3 ", 1), p, 4).is_ok());
        // An inverted 2D box, either way round, on any line.
        let line =
            "Car 0.00 0 -1.59 149.61 43.32 171.73 68.22 1.64 1.46 4.25 0.53 1.65 14.04 -1.55";
        assert!(Object::parse(line, p, 3).is_ok());
        let e = Object::parse(&line.replace("149.61", "180.50"), p, 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("000042.txt:3")
                && e.contains("`bbox_right` = 171.73")
                && e.contains("180.5"),
            "{e}"
        );
        let e = Object::parse(&line.replace("68.22", "40.00"), p, 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`bbox_bottom` = 40") && e.contains("`bbox_top`"),
            "{e}"
        );
        let dc = "DontCare -1 -1 -10 5.00 40.00 3.00 50.00 -1 -1 -1 -1000 -1000 -1000 -10";
        assert!(Object::parse(dc, p, 1)
            .unwrap_err()
            .to_string()
            .contains("bbox_right"));
    }
}
