//! An RGB raster with lines and rectangles: the picture a PNG is written from.

/// An RGB colour.
pub type Rgb = [u8; 3];

/// An 8-bit RGB picture being drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Self {
        Canvas {
            width,
            height,
            rgb: background.repeat(width as usize * height as usize),
        }
    }
    /// Wraps existing row-major RGB bytes (`width × height × 3` of them; others are padded
    /// or cut to that size).
    pub fn from_rgb(width: u32, height: u32, mut rgb: Vec<u8>) -> Self {
        rgb.resize(width as usize * height as usize * 3, 255);
        Canvas { width, height, rgb }
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// The raw row-major RGB bytes.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }
    /// Consumes the canvas into (width, height, RGB bytes).
    pub fn into_rgb(self) -> (u32, u32, Vec<u8>) {
        (self.width, self.height, self.rgb)
    }
    /// The colour at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
    /// Sets a pixel; coordinates outside the canvas are ignored.
    pub fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }
    /// Fills the rectangle [x0, x1) × [y0, y1).
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0.min(y1)..y0.max(y1) {
            for x in x0.min(x1)..x0.max(x1) {
                self.put(x, y, c);
            }
        }
    }
    /// A line `thickness` pixels wide between two points.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), c: Rgb, thickness: u32) {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        let r = thickness as i64 / 2;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let x = (a.0 + (b.0 - a.0) * t).round() as i64;
            let y = (a.1 + (b.1 - a.1) * t).round() as i64;
            for dy in -r..=(thickness as i64 - 1 - r) {
                for dx in -r..=(thickness as i64 - 1 - r) {
                    self.put(x + dx, y + dy, c);
                }
            }
        }
    }
    /// Copies `other` with its top-left corner at (x, y).
    pub fn paste(&mut self, other: &Canvas, x: i64, y: i64) {
        for yy in 0..other.height {
            for xx in 0..other.width {
                self.put(x + xx as i64, y + yy as i64, other.pixel(xx, yy));
            }
        }
    }
    /// Arranges pictures in a grid with `columns` columns on a white background.
    pub fn grid(pictures: &[Canvas], columns: usize) -> Canvas {
        let columns = columns.max(1);
        let cw = pictures.iter().map(|p| p.width).max().unwrap_or(1);
        let ch = pictures.iter().map(|p| p.height).max().unwrap_or(1);
        let rows = pictures.len().div_ceil(columns).max(1);
        let mut out = Canvas::new(
            cw * columns.min(pictures.len().max(1)) as u32,
            ch * rows as u32,
            [255; 3],
        );
        for (i, p) in pictures.iter().enumerate() {
            out.paste(
                p,
                ((i % columns) as u32 * cw) as i64,
                ((i / columns) as u32 * ch) as i64,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_pictures_side_by_side() {
        let a = Canvas::new(4, 3, [1, 1, 1]);
        let b = Canvas::new(4, 3, [2, 2, 2]);
        let g = Canvas::grid(&[a, b], 2);
        assert_eq!((g.width(), g.height()), (8, 3));
        assert_eq!(g.pixel(5, 1), [2, 2, 2]);
    }
}
