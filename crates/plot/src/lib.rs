//! The project's figures: line charts and grouped bar charts with error bars ([`chart`],
//! [`bars`]), laid out in grids ([`figure`]) and drawn with plotters ([`pen`]) once per output,
//! a PNG and an SVG of the same drawing, text in an embedded DejaVu Sans subset; [`canvas`] is the
//! RGB picture a PNG is written from. [`pen::draw_labels`] sets the titles of raster pictures
//! (bird's-eye views) in the same font.

pub mod bars;
pub mod canvas;
pub mod chart;
pub mod figure;
pub mod pen;

pub use bars::{BarChart, BarSeries};
pub use canvas::{Canvas, Rgb};
pub use chart::{LineChart, Series, PALETTE};
pub use figure::{Chart, Figure};
