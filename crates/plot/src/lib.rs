//! Small dependency-free raster charts for the project's PNG reports: a canvas with lines,
//! rectangles and a built-in 5 × 7 bitmap font, line charts, grouped bar charts with error bars,
//! and grids of charts. Callers save
//! the RGB bytes (e.g. with `kitti::png16::write_rgb_png`).

pub mod bars;
pub mod canvas;
pub mod chart;
pub mod font;

pub use bars::{BarChart, BarSeries};
pub use canvas::{Canvas, Rgb};
pub use chart::{LineChart, Series, PALETTE};
