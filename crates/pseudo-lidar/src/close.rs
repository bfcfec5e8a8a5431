//! The paper's "close" variants: clouds cut at velodyne x < [`CLOSE_RANGE`] m, and the label set
//! they are trained and evaluated with (the paper's `label_2_close`, whose construction was not
//! published). Our rule: an object whose 3D box centre lies farther than the cut (camera z >
//! range) becomes `DontCare` over its 2D box, so it is neither a positive in training nor a
//! missed object in evaluation; nearer objects and existing `DontCare` regions stay as they are.

use crate::error::Result;
use kitti::{read_labels, write_labels, Object, ObjectType};
use std::path::Path;

/// The close variants' cut, metres (velodyne x for points, camera z for labels).
pub const CLOSE_RANGE: f64 = 20.0;

/// Name of the close label folder beside a part's `label_2`.
pub const CLOSE_LABELS: &str = "label_2_close";

/// One frame's close labels: objects centred beyond `range` m (camera z) become `DontCare`.
pub fn close_labels(objects: &[Object], range: f64) -> Vec<Object> {
    objects
        .iter()
        .map(|o| {
            if o.kind != ObjectType::DontCare && o.box3d.location.z > range {
                Object::dont_care(o.bbox)
            } else {
                o.clone()
            }
        })
        .collect()
}

/// Writes the close labels of frames `ids` from `labels/<id>.txt` into `out/<id>.txt`.
pub fn write_close_labels(labels: &Path, out: &Path, ids: &[String], range: f64) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| kitti::KittiError::io(out, e))?;
    for id in ids {
        let objects = read_labels(&labels.join(format!("{id}.txt")))?;
        write_labels(
            &out.join(format!("{id}.txt")),
            &close_labels(&objects, range),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kitti::{parse_labels, Box2D};

    #[test]
    fn objects_beyond_the_cut_become_dont_care_regions() {
        let text = "Car 0.00 0 -1.58 587.0 173.3 614.1 200.1 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n\
                    Pedestrian 0.00 0 0.21 700.0 150.0 730.0 230.0 1.80 0.60 0.80 2.10 1.65 12.00 0.30\n\
                    Car 0.00 1 1.00 100.0 160.0 200.0 220.0 1.50 1.60 3.90 -8.00 1.70 20.00 1.20\n\
                    DontCare -1 -1 -10 503.9 169.7 590.6 190.1 -1 -1 -1 -1000 -1000 -1000 -10\n";
        let objects = parse_labels(text, Path::new("000000.txt")).unwrap();
        let close = close_labels(&objects, CLOSE_RANGE);
        assert_eq!(close.len(), 4);
        // The car at 46.7 m is a DontCare region over its own 2D box.
        assert_eq!(close[0].kind, ObjectType::DontCare);
        assert_eq!(
            close[0].bbox,
            Box2D {
                left: 587.0,
                top: 173.3,
                right: 614.1,
                bottom: 200.1
            }
        );
        // At 12 m and at exactly 20 m objects stay; DontCare regions stay.
        assert_eq!(close[1], objects[1]);
        assert_eq!(close[2], objects[2]);
        assert_eq!(close[3], objects[3]);
    }
}
