//! Bird's-eye-view pictures of a velodyne-frame cloud with boxes drawn on top, written as PNG
//! with an SVG beside (the boxes as vectors, [`crate::svg`]). x (forward) points up the
//! picture, y (left) to the left.

use crate::box3d::VeloBox;
use crate::error::Result;
use crate::svg::{Mark, Picture};
use crate::velodyne::LidarPoint;
use std::path::Path;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// The region of the x–y plane a picture covers and its resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BevView {
    /// Forward range shown, metres.
    pub x: (f64, f64),
    /// Lateral range shown, metres.
    pub y: (f64, f64),
    /// Pixels per metre.
    pub px_per_m: f64,
}

impl Default for BevView {
    /// The PointPillars detection range, 0..70 m ahead and ±40 m to the sides, 10 px/m.
    fn default() -> Self {
        BevView {
            x: (0.0, 70.0),
            y: (-40.0, 40.0),
            px_per_m: 10.0,
        }
    }
}

/// A picture being drawn.
#[derive(Debug, Clone)]
pub struct BevCanvas {
    view: BevView,
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    marks: Vec<Mark>,
}

impl BevCanvas {
    /// A dark canvas with a 10 m grid.
    pub fn new(view: BevView) -> Self {
        let width = ((view.y.1 - view.y.0) * view.px_per_m).ceil().max(1.0) as u32;
        let height = ((view.x.1 - view.x.0) * view.px_per_m).ceil().max(1.0) as u32;
        let mut c = BevCanvas {
            view,
            width,
            height,
            rgb: vec![16; width as usize * height as usize * 3],
            marks: Vec::new(),
        };
        let grid = [48, 48, 48];
        let mut x = (view.x.0 / 10.0).ceil() * 10.0;
        while x <= view.x.1 {
            c.line([x, view.y.0], [x, view.y.1], grid);
            x += 10.0;
        }
        let mut y = (view.y.0 / 10.0).ceil() * 10.0;
        while y <= view.y.1 {
            c.line([view.x.0, y], [view.x.1, y], grid);
            y += 10.0;
        }
        c
    }

    /// Picture size in pixels (width, height).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The colour at pixel (col, row).
    pub fn pixel(&self, col: u32, row: u32) -> Rgb {
        let i = (row as usize * self.width as usize + col as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Pixel coordinates (col, row) of a ground-plane point.
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (self.view.y.1 - y) * self.view.px_per_m,
            (self.view.x.1 - x) * self.view.px_per_m,
        )
    }

    fn put(&mut self, col: i64, row: i64, colour: Rgb) {
        if col >= 0 && row >= 0 && (col as u32) < self.width && (row as u32) < self.height {
            let i = (row as usize * self.width as usize + col as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&colour);
        }
    }

    /// Draws each point as one pixel, coloured by height (blue low → yellow high, −2.5..1 m).
    pub fn points(&mut self, points: &[LidarPoint]) {
        for p in points {
            let t = ((p.z as f64 + 2.5) / 3.5).clamp(0.0, 1.0);
            let colour = [
                (60.0 + 195.0 * t) as u8,
                (120.0 + 110.0 * t) as u8,
                (255.0 * (1.0 - t)) as u8,
            ];
            self.points_coloured(std::slice::from_ref(p), colour);
        }
    }

    /// Draws points in one colour.
    pub fn points_coloured(&mut self, points: &[LidarPoint], colour: Rgb) {
        for p in points {
            let (c, r) = self.to_pixel(p.x as f64, p.y as f64);
            self.put(c.floor() as i64, r.floor() as i64, colour);
        }
    }

    /// Draws a line between two ground-plane points.
    pub fn line(&mut self, a: [f64; 2], b: [f64; 2], colour: Rgb) {
        let (c0, r0) = self.to_pixel(a[0], a[1]);
        let (c1, r1) = self.to_pixel(b[0], b[1]);
        let steps = (c1 - c0).abs().max((r1 - r0).abs()).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            self.put(
                (c0 + (c1 - c0) * t).floor() as i64,
                (r0 + (r1 - r0) * t).floor() as i64,
                colour,
            );
        }
    }

    /// Draws a box's footprint and a tick from its centre towards its heading (also kept as
    /// vector marks for the SVG).
    pub fn velo_box(&mut self, b: &VeloBox, colour: Rgb) {
        let c = b.bev_corners();
        let front = [(c[0][0] + c[3][0]) / 2.0, (c[0][1] + c[3][1]) / 2.0];
        let segments = (0..4)
            .map(|i| (c[i], c[(i + 1) % 4]))
            .chain([([b.centre.x, b.centre.y], front)]);
        for (from, to) in segments {
            self.line(from, to, colour);
            self.marks.push(Mark::Line {
                from: self.to_pixel(from[0], from[1]),
                to: self.to_pixel(to[0], to[1]),
                colour,
            });
        }
    }

    /// The picture with its marks.
    pub fn picture(&self) -> Picture {
        Picture {
            width: self.width,
            height: self.height,
            rgb: self.rgb.clone(),
            marks: self.marks.clone(),
        }
    }

    /// Places pictures side by side (tops aligned) with a 4-pixel gap.
    pub fn side_by_side(pictures: &[BevCanvas]) -> Picture {
        let pictures: Vec<Picture> = pictures.iter().map(BevCanvas::picture).collect();
        Picture::side_by_side(&pictures, 4)
    }

    /// Writes the picture as a PNG and an SVG beside it, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.picture().write(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    #[test]
    fn forward_is_up_and_left_is_left() {
        let c = BevCanvas::new(BevView::default());
        assert_eq!(c.size(), (800, 700));
        assert_eq!(c.to_pixel(70.0, 40.0), (0.0, 0.0));
        assert_eq!(c.to_pixel(0.0, 0.0), (400.0, 700.0));
    }

    #[test]
    fn a_box_outline_lands_on_its_corners() {
        let mut c = BevCanvas::new(BevView::default());
        let b = VeloBox {
            centre: Point3::new(20.05, 5.05, -1.0),
            l: 4.0,
            w: 2.0,
            h: 1.5,
            heading: 0.0,
        };
        c.velo_box(&b, [0, 255, 0]);
        // Corner (22.05, 6.05) -> col (40 - 6.05)*10 = 339.5, row (70 - 22.05)*10 = 479.5.
        assert_eq!(c.pixel(339, 479), [0, 255, 0]);
        assert_eq!(c.pixel(360, 500), [16, 16, 16]);
    }
}
