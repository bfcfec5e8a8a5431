//! A figure: charts in a grid, drawn once per output and written as a PNG with an SVG of the
//! same drawing beside it.

use crate::bars::BarChart;
use crate::canvas::Canvas;
use crate::chart::LineChart;
use crate::pen::{grid_png, grid_svg, Draw, Pen};
use plotters::prelude::DrawingBackend;
use std::path::Path;

/// One chart of a figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// A line chart.
    Line(LineChart),
    /// A grouped bar chart.
    Bar(BarChart),
}

impl Draw for Chart {
    fn draw<DB: DrawingBackend>(&self, pen: &Pen<DB>) {
        match self {
            Chart::Line(c) => c.draw(pen),
            Chart::Bar(c) => c.draw(pen),
        }
    }
}

/// Charts in a grid of `columns`, each `cell` = (width, height) pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The charts, row by row.
    pub charts: Vec<Chart>,
    /// Charts per row.
    pub columns: usize,
    /// Size of each chart, px.
    pub cell: (u32, u32),
}

impl Figure {
    /// The figure as a picture.
    pub fn png(&self) -> Canvas {
        grid_png(&self.charts, self.columns, self.cell)
    }

    /// The figure as an SVG document.
    pub fn svg(&self) -> String {
        grid_svg(&self.charts, self.columns, self.cell)
    }

    /// Writes the figure to `png` and, beside it, the same drawing as `<stem>.svg` (both
    /// atomically).
    pub fn write(&self, png: &Path) -> kitti::Result<()> {
        let (w, h, rgb) = self.png().into_rgb();
        kitti::png16::write_rgb_png(png, w, h, &rgb)?;
        kitti::io::write_atomic(&png.with_extension("svg"), self.svg().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Series;

    #[test]
    fn a_figure_is_written_as_png_and_svg_with_its_labels_readable() {
        let line = |title: &str| {
            Chart::Line(LineChart {
                title: title.into(),
                x_label: "recall".into(),
                y_label: "precision".into(),
                x_range: (0.0, 1.0),
                y_range: (0.0, 1.0),
                series: vec![Series {
                    name: "BEV Hard R40 61.23".into(),
                    colour: [200, 0, 0],
                    points: vec![(0.0, 1.0), (1.0, 0.2)],
                }],
            })
        };
        let fig = Figure {
            charts: vec![
                line("Car BEV@0.70"),
                line("Car 3D@0.70"),
                line("Pedestrian"),
            ],
            columns: 2,
            cell: (300, 200),
        };
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("pr.png");
        fig.write(&png).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("pr.svg")).unwrap();
        assert!(
            svg.starts_with("<svg")
                && svg.contains("width=\"600\"")
                && svg.contains("height=\"400\"")
        );
        // Every label is there in full, as text a reader (and a search) finds.
        for label in [
            "Car BEV@0.70",
            "BEV Hard R40 61.23",
            "recall",
            "precision",
            "Pedestrian",
        ] {
            assert!(svg.contains(label), "{label}");
        }
        let picture = fig.png();
        assert_eq!((picture.width(), picture.height()), (600, 400));
        // The third chart sits in the second row; the fourth cell is empty (white).
        assert!((0..300).any(|x| picture.pixel(x, 300) != [255; 3]));
        assert!((300..600).all(|x| (200..400).all(|y| picture.pixel(x, y) == [255; 3])));
    }
}
