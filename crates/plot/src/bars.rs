//! Grouped bar charts with error bars (e.g. the change in AP per difficulty, one bar per model).

use crate::canvas::{Canvas, Rgb};
use crate::chart::{draw_frame, draw_legend, plot_area, INK, LABEL};
use crate::pen::{grid_png, grid_svg, Anchor, Draw, Pen};
use plotters::prelude::DrawingBackend;

/// One set of bars, one per group.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// Legend entry.
    pub name: String,
    /// Bar colour.
    pub colour: Rgb,
    /// (value, interval) per group; the error bar spans the interval (lo, hi) where given.
    pub values: Vec<(f64, Option<(f64, f64)>)>,
}

/// A grouped bar chart; the y range always includes zero.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title above the plot.
    pub title: String,
    /// Label left of the y axis.
    pub y_label: String,
    /// Group names under the x axis.
    pub groups: Vec<String>,
    /// The bars.
    pub series: Vec<BarSeries>,
}

impl BarChart {
    /// The y range shown: every bar and error bar and zero, with a margin.
    pub fn y_range(&self) -> (f64, f64) {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for s in &self.series {
            for &(v, interval) in &s.values {
                if v.is_finite() {
                    let (a, b) = interval
                        .filter(|(a, b)| a.is_finite() && b.is_finite())
                        .unwrap_or((v, v));
                    lo = lo.min(v.min(a));
                    hi = hi.max(v.max(b));
                }
            }
        }
        let pad = ((hi - lo) * 0.1).max(0.5);
        (lo - if lo < 0.0 { pad } else { 0.0 }, hi + pad)
    }

    /// Renders the chart into a `width` × `height` picture.
    pub fn render(&self, width: u32, height: u32) -> Canvas {
        grid_png(std::slice::from_ref(self), 1, (width, height))
    }

    /// The chart as an SVG document of `width` × `height`.
    pub fn render_svg(&self, width: u32, height: u32) -> String {
        grid_svg(std::slice::from_ref(self), 1, (width, height))
    }
}

impl Draw for BarChart {
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<DB>) {
        let (width, height) = pen.size();
        let sy = draw_frame(pen, &self.title, "", &self.y_label, self.y_range());
        let (x0, _, x1, y1) = plot_area(width, height);
        let groups = self.groups.len().max(1) as f64;
        let slot = (x1 - x0) / groups;
        let bar = slot * 0.8 / self.series.len().max(1) as f64;
        pen.line((x0, sy(0.0)), (x1, sy(0.0)), INK, 1);
        for (g, name) in self.groups.iter().enumerate() {
            let left = x0 + slot * g as f64 + slot * 0.1;
            pen.text(left + slot * 0.4, y1 + 6.0, name, LABEL, INK, Anchor::Top);
            for (k, s) in self.series.iter().enumerate() {
                let Some(&(v, interval)) = s.values.get(g).filter(|(v, _)| v.is_finite()) else {
                    continue;
                };
                let (a, b) = (left + bar * k as f64, left + bar * (k + 1) as f64 - 1.0);
                let (top, bottom) = (sy(v.max(0.0)), sy(v.min(0.0)));
                pen.rect(
                    a as i64,
                    top as i64,
                    b as i64,
                    bottom.max(top + 1.0) as i64,
                    s.colour,
                );
                if let Some((lo, hi)) = interval.filter(|(l, h)| l.is_finite() && h.is_finite()) {
                    let mid = (a + b) / 2.0;
                    pen.line((mid, sy(lo)), (mid, sy(hi)), INK, 1);
                    for y in [lo, hi] {
                        pen.line((mid - 3.0, sy(y)), (mid + 3.0, sy(y)), INK, 1);
                    }
                }
            }
        }
        draw_legend(pen, self.series.iter().map(|s| (s.name.as_str(), s.colour)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_rise_and_fall_from_zero_where_their_values_are() {
        let chart = BarChart {
            title: "t".into(),
            y_label: "dAP".into(),
            groups: vec!["a".into(), "b".into()],
            series: vec![BarSeries {
                name: "s".into(),
                colour: [0, 0, 200],
                values: vec![(4.0, None), (-4.0, Some((-5.0, -3.0)))],
            }],
        };
        assert_eq!(chart.y_range(), (-5.9, 4.9));
        let c = chart.render(400, 300);
        let (x0, y0, x1, y1) = plot_area(400, 300);
        let sy = |v: f64| y1 - (v + 5.9) / 10.8 * (y1 - y0);
        // Group a: a bar from 0 up to 4, a quarter of the way across.
        let xa = (x0 + (x1 - x0) * 0.3) as u32;
        assert_eq!(c.pixel(xa, sy(2.0) as u32), [0, 0, 200]);
        assert_ne!(c.pixel(xa, sy(-1.3) as u32), [0, 0, 200]);
        // Group b: a bar from 0 down to −4.
        let xb = (x0 + (x1 - x0) * 0.7) as u32;
        assert_eq!(c.pixel(xb, sy(-2.0) as u32), [0, 0, 200]);
        assert_ne!(c.pixel(xb, sy(2.0) as u32), [0, 0, 200]);
    }
}
