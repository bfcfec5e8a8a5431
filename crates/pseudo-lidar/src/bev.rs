//! Bird's-eye views of several clouds of one frame side by side (e.g. real LiDAR and
//! pseudo-LiDAR), each with the ground-truth boxes, titled.

use kitti::bev::BevCanvas;
use kitti::inspect::frame_bev;
use kitti::{Calibration, LidarPoint, Object};

/// Pictures of `clouds` (title, points) with the labelled boxes, left to right, each titled;
/// returns (width, height, RGB).
pub fn compare_bev(
    calib: &Calibration,
    labels: &[Object],
    clouds: &[(&str, &[LidarPoint])],
    image_width: u32,
) -> (u32, u32, Vec<u8>) {
    let pictures: Vec<BevCanvas> = clouds
        .iter()
        .map(|(_, pts)| frame_bev(calib, labels, pts, image_width))
        .collect();
    let (w, h, rgb) = BevCanvas::side_by_side(&pictures);
    let mut canvas = plot::Canvas::from_rgb(w, h, rgb);
    let mut x = 0i64;
    for ((title, pts), p) in clouds.iter().zip(&pictures) {
        let label = format!("{title} ({} points)", pts.len());
        canvas.fill_rect(
            x,
            0,
            x + plot::Canvas::text_width(&label, 2) as i64 + 16,
            30,
            [0, 0, 0],
        );
        canvas.text(x + 8, 8, &label, [255, 255, 255], 2);
        x += p.size().0 as i64 + 4;
    }
    canvas.into_rgb()
}
