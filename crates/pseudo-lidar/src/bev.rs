//! Bird's-eye views of several clouds of one frame side by side (e.g. real LiDAR and
//! pseudo-LiDAR), each with the ground-truth boxes, titled.

use kitti::bev::BevCanvas;
use kitti::inspect::frame_bev;
use kitti::svg::{Mark, Picture};
use kitti::{Calibration, LidarPoint, Object};

/// Pictures of `clouds` (title, points) with the labelled boxes, left to right, each titled.
pub fn compare_bev(
    calib: &Calibration,
    labels: &[Object],
    clouds: &[(&str, &[LidarPoint])],
    image_width: u32,
) -> Picture {
    let pictures: Vec<BevCanvas> = clouds
        .iter()
        .map(|(_, pts)| frame_bev(calib, labels, pts, image_width))
        .collect();
    let mut picture = BevCanvas::side_by_side(&pictures);
    let mut x = 0.0;
    let mut titles = Vec::new();
    for ((title, pts), p) in clouds.iter().zip(&pictures) {
        titles.push(Mark::Label {
            x,
            y: 0.0,
            text: format!("{title} ({} points)", pts.len()),
            size: TITLE_SIZE,
            colour: [255; 3],
            background: Some([0; 3]),
        });
        x += p.size().0 as f64 + 4.0;
    }
    plot::pen::draw_labels(&mut picture.rgb, (picture.width, picture.height), &titles);
    picture.marks.extend(titles);
    picture
}

/// Size of the pictures' titles, px.
const TITLE_SIZE: u32 = 16;
