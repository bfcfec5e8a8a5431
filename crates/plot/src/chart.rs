//! Line charts with axes, ticks, labels and a legend.

use crate::canvas::{Canvas, Rgb};
use crate::pen::{grid_png, grid_svg, Anchor, Draw, Pen};
use plotters::prelude::DrawingBackend;

/// Colours for series, in order.
pub const PALETTE: [Rgb; 8] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
];

/// One curve of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Line colour.
    pub colour: Rgb,
    /// Points in data coordinates, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label left of the y axis.
    pub y_label: String,
    /// Data range shown on x.
    pub x_range: (f64, f64),
    /// Data range shown on y.
    pub y_range: (f64, f64),
    /// The curves.
    pub series: Vec<Series>,
}

const MARGIN_LEFT: u32 = 70;
const MARGIN_RIGHT: u32 = 20;
const MARGIN_TOP: u32 = 36;
const MARGIN_BOTTOM: u32 = 56;
pub(crate) const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

/// "Nice" tick positions covering [lo, hi], about `n` of them.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || n == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    format!("{v:.decimals$}")
}

/// The plot area of a `width` × `height` chart, in pixels: (left, top, right, bottom).
pub(crate) fn plot_area(width: u32, height: u32) -> (f64, f64, f64, f64) {
    (
        MARGIN_LEFT as f64,
        MARGIN_TOP as f64,
        (width - MARGIN_RIGHT) as f64,
        (height - MARGIN_BOTTOM) as f64,
    )
}

/// Text sizes, px.
pub(crate) const LABEL: u32 = 13;
const TITLE: u32 = 16;

/// Draws the title, the y axis with its grid, ticks and label, the x axis line and, when given,
/// the x label; returns the data → pixel map of y.
pub(crate) fn draw_frame<DB: DrawingBackend>(
    pen: &Pen<DB>,
    title: &str,
    x_label: &str,
    y_label: &str,
    y_range: (f64, f64),
) -> impl Fn(f64) -> f64 {
    let (width, height) = pen.size();
    let (x0, y0, x1, y1) = plot_area(width, height);
    let sy = move |y: f64| y1 - (y - y_range.0) / (y_range.1 - y_range.0) * (y1 - y0);
    let yt = ticks(y_range.0, y_range.1, 5);
    let step = if yt.len() > 1 { yt[1] - yt[0] } else { 1.0 };
    for &t in &yt {
        pen.line((x0, sy(t)), (x1, sy(t)), GRID, 1);
        pen.text(
            x0 - 6.0,
            sy(t),
            &tick_label(t, step),
            LABEL,
            INK,
            Anchor::Right,
        );
    }
    pen.line((x0, y0), (x0, y1), INK, 1);
    pen.line((x0, y1), (x1, y1), INK, 1);
    pen.text(
        (x0 + x1) / 2.0,
        height as f64 - 24.0,
        x_label,
        LABEL,
        INK,
        Anchor::Top,
    );
    pen.text_vertical(16.0, (y0 + y1) / 2.0, y_label, LABEL, INK);
    pen.text(width as f64 / 2.0, 8.0, title, TITLE, INK, Anchor::Top);
    sy
}

/// Draws a legend (colour swatch and name per entry) in the top right of the plot area.
pub(crate) fn draw_legend<'a, DB: DrawingBackend>(
    pen: &Pen<DB>,
    entries: impl IntoIterator<Item = (&'a str, Rgb)>,
) {
    let entries: Vec<(&str, Rgb)> = entries.into_iter().collect();
    let (width, height) = pen.size();
    let (_, y0, x1, _) = plot_area(width, height);
    let line = LABEL as i64 + 4;
    let lw = entries
        .iter()
        .map(|e| pen.text_width(e.0, LABEL))
        .max()
        .unwrap_or(0) as i64
        + 28;
    let (lx, mut ly) = (x1 as i64 - lw - 6, y0 as i64 + 6);
    if !entries.is_empty() {
        pen.rect(
            lx - 4,
            ly - 4,
            lx + lw,
            ly + line * entries.len() as i64,
            [250; 3],
        );
    }
    for (name, colour) in entries {
        pen.rect(lx, ly + line / 2 - 2, lx + 16, ly + line / 2 + 1, colour);
        pen.text(
            lx as f64 + 22.0,
            (ly + line / 2) as f64,
            name,
            LABEL,
            INK,
            Anchor::Left,
        );
        ly += line;
    }
}

impl Draw for LineChart {
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<DB>) {
        let (width, height) = pen.size();
        let (x0, _, x1, y1) = plot_area(width, height);
        let sx = |x: f64| x0 + (x - self.x_range.0) / (self.x_range.1 - self.x_range.0) * (x1 - x0);
        let xt = ticks(self.x_range.0, self.x_range.1, 5);
        let step = if xt.len() > 1 { xt[1] - xt[0] } else { 1.0 };
        for &t in &xt {
            pen.line((sx(t), MARGIN_TOP as f64), (sx(t), y1), GRID, 1);
            pen.text(
                sx(t),
                y1 + 6.0,
                &tick_label(t, step),
                LABEL,
                INK,
                Anchor::Top,
            );
        }
        let sy = draw_frame(pen, &self.title, &self.x_label, &self.y_label, self.y_range);
        for s in &self.series {
            for w in s.points.windows(2) {
                pen.line(
                    (sx(w[0].0), sy(w[0].1)),
                    (sx(w[1].0), sy(w[1].1)),
                    s.colour,
                    2,
                );
            }
            if s.points.len() == 1 {
                let (x, y) = (sx(s.points[0].0), sy(s.points[0].1));
                pen.rect(
                    x as i64 - 2,
                    y as i64 - 2,
                    x as i64 + 2,
                    y as i64 + 2,
                    s.colour,
                );
            }
        }
        draw_legend(pen, self.series.iter().map(|s| (s.name.as_str(), s.colour)));
    }
}

impl LineChart {
    /// Renders the chart into a `width` × `height` picture.
    pub fn render(&self, width: u32, height: u32) -> Canvas {
        grid_png(std::slice::from_ref(self), 1, (width, height))
    }

    /// The chart as an SVG document of `width` × `height`.
    pub fn render_svg(&self, width: u32, height: u32) -> String {
        grid_svg(std::slice::from_ref(self), 1, (width, height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(0.0, 80.0, 4), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
    }

    #[test]
    fn a_series_is_drawn_where_its_data_is() {
        let chart = LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            series: vec![Series {
                name: "s".into(),
                colour: [200, 0, 0],
                points: vec![(0.0, 0.5), (1.0, 0.5)],
            }],
        };
        let c = chart.render(400, 300);
        // y = 0.5 maps halfway between the top margin (36) and the x axis (300 − 56 = 244).
        let row = (36.0 + 244.0) / 2.0;
        assert_eq!(c.pixel(150, row as u32), [200, 0, 0]);
        assert_eq!(c.pixel(150, row as u32 + 20), [255, 255, 255]);
    }
}
