//! Drawing a chart once onto either output: plotters' bitmap backend (PNG) or its SVG backend,
//! with text set in the embedded DejaVu Sans subset (`fonts/`), so no system font library is
//! needed. Coordinates are pixels from the top left of the chart.

use crate::canvas::{Canvas, Rgb};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::sync::Once;

/// The family name the embedded font is registered under.
const FAMILY: &str = "sans-serif";
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-subset.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded file is a valid TrueType font (checked by the crate's tests).
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Where a text's anchor point sits on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Left edge, vertical centre.
    Left,
    /// Right edge, vertical centre.
    Right,
    /// Centre of the top edge.
    Top,
    /// Centre.
    Centre,
    /// Top left corner.
    TopLeft,
}

impl Anchor {
    fn pos(self) -> Pos {
        match self {
            Anchor::Left => Pos::new(HPos::Left, VPos::Center),
            Anchor::Right => Pos::new(HPos::Right, VPos::Center),
            Anchor::Top => Pos::new(HPos::Center, VPos::Top),
            Anchor::Centre => Pos::new(HPos::Center, VPos::Center),
            Anchor::TopLeft => Pos::new(HPos::Left, VPos::Top),
        }
    }
}

/// Drawing primitives on one chart's area of a backend.
pub struct Pen<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
}

fn colour(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

impl<'a, DB: DrawingBackend> Pen<'a, DB> {
    /// A pen on `area` (filled white).
    pub fn new(area: &'a DrawingArea<DB, plotters::coord::Shift>) -> Self {
        register_font();
        let _ = area.fill(&WHITE);
        Pen { area }
    }

    /// The area's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.area.dim_in_pixel()
    }

    /// A straight line `thickness` pixels wide.
    pub fn line(&self, a: (f64, f64), b: (f64, f64), c: Rgb, thickness: u32) {
        let p = |q: (f64, f64)| (q.0.round() as i32, q.1.round() as i32);
        let style = ShapeStyle::from(colour(c)).stroke_width(thickness);
        let _ = self.area.draw(&PathElement::new(vec![p(a), p(b)], style));
    }

    /// A filled rectangle with corners (x0, y0) and (x1, y1), both included.
    pub fn rect(&self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        let _ = self.area.draw(&Rectangle::new(
            [(x0 as i32, y0 as i32), (x1 as i32, y1 as i32)],
            colour(c).filled(),
        ));
    }

    fn style(size: u32, c: Rgb) -> TextStyle<'static> {
        let mut style = TextStyle::from((FAMILY, size as f64).into_font());
        style.color = colour(c).to_backend_color();
        style
    }

    /// Text of `size` px at (x, y), placed by `anchor`.
    pub fn text(&self, x: f64, y: f64, text: &str, size: u32, c: Rgb, anchor: Anchor) {
        let style = Self::style(size, c).pos(anchor.pos());
        let _ = self
            .area
            .draw_text(text, &style, (x.round() as i32, y.round() as i32));
    }

    /// Text read bottom to top, centred on (x, y).
    pub fn text_vertical(&self, x: f64, y: f64, text: &str, size: u32, c: Rgb) {
        let style = Self::style(size, c)
            .transform(FontTransform::Rotate270)
            .pos(Anchor::Centre.pos());
        let _ = self
            .area
            .draw_text(text, &style, (x.round() as i32, y.round() as i32));
    }

    /// The width in pixels of `text` at `size`.
    pub fn text_width(&self, text: &str, size: u32) -> u32 {
        self.area
            .estimate_text_size(text, &Self::style(size, [0; 3]))
            .map(|(w, _)| w)
            .unwrap_or(text.len() as u32 * size / 2)
    }
}

/// Draws the text marks (`Mark::Label`: a title on its box) of a picture into its raster in
/// the embedded font, where the SVG draws them as text.
pub fn draw_labels(rgb: &mut [u8], size: (u32, u32), marks: &[kitti::svg::Mark]) {
    register_font();
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    let pen = Pen { area: &root };
    for m in marks {
        if let kitti::svg::Mark::Label {
            x,
            y,
            text,
            size,
            colour,
            background,
        } = m
        {
            if let Some(b) = background {
                let w = pen.text_width(text, *size) as f64;
                pen.rect(
                    *x as i64,
                    *y as i64,
                    (x + w + 16.0) as i64,
                    (y + *size as f64 + 14.0) as i64,
                    *b,
                );
            }
            pen.text(x + 8.0, y + 7.0, text, *size, *colour, Anchor::TopLeft);
        }
    }
    let _ = root.present();
}

/// Something drawable onto a pen's area.
pub trait Draw {
    /// Draws itself onto `pen`'s whole area.
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<DB>);
}

/// Draws `items` in a grid of `columns`, each `cell` = (width, height) pixels, as a picture.
pub fn grid_png<T: Draw>(items: &[T], columns: usize, cell: (u32, u32)) -> Canvas {
    let (w, h) = grid_size(items.len(), columns, cell);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_grid(&root, items, columns, cell);
        let _ = root.present();
    }
    Canvas::from_rgb(w, h, rgb)
}

/// The same grid as an SVG document.
pub fn grid_svg<T: Draw>(items: &[T], columns: usize, cell: (u32, u32)) -> String {
    let (w, h) = grid_size(items.len(), columns, cell);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_grid(&root, items, columns, cell);
        let _ = root.present();
    }
    svg
}

fn grid_size(n: usize, columns: usize, (w, h): (u32, u32)) -> (u32, u32) {
    let columns = columns.clamp(1, n.max(1));
    let rows = n.div_ceil(columns).max(1);
    (w * columns as u32, h * rows as u32)
}

fn draw_grid<DB: DrawingBackend, T: Draw>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    items: &[T],
    columns: usize,
    (w, h): (u32, u32),
) {
    let _ = root.fill(&WHITE);
    let columns = columns.clamp(1, items.len().max(1));
    for (i, item) in items.iter().enumerate() {
        let (x, y) = (
            (i % columns) as i32 * w as i32,
            (i / columns) as i32 * h as i32,
        );
        let cell = root.clone().shrink((x, y), (w, h));
        item.draw(&Pen::new(&cell));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_parses_and_sets_text() {
        assert!(ab_glyph_parses(FONT));
        struct Word;
        impl Draw for Word {
            fn draw<DB: DrawingBackend>(&self, pen: &Pen<DB>) {
                pen.text(10.0, 20.0, "BEV Hard ΔAP ±σ", 16, [0; 3], Anchor::Left);
                assert!(pen.text_width("BEV Hard", 16) > 40);
            }
        }
        let c = grid_png(&[Word], 1, (200, 40));
        let inked = (0..200)
            .filter(|&x| (0..40).any(|y| c.pixel(x, y) != [255; 3]))
            .count();
        assert!(inked > 60, "{inked} columns inked");
        let svg = grid_svg(&[Word], 1, (200, 40));
        assert!(
            svg.contains("<svg") && svg.contains("BEV Hard ΔAP ±σ"),
            "{svg}"
        );
    }

    fn ab_glyph_parses(bytes: &'static [u8]) -> bool {
        plotters::style::register_font("test-family", FontStyle::Normal, bytes).is_ok()
    }
}
