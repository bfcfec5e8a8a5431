//! Raster pictures (bird's-eye views) written as PNG with an SVG beside: the SVG embeds the
//! raster (a cloud of tens of thousands of points is a picture, not a drawing) and draws the
//! marks on top as vectors — box outlines as lines, titles as text a reader can select.

use crate::error::{KittiError, Result};
use std::fmt::Write;
use std::path::Path;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// A vector mark on a picture, in pixel coordinates from its top left.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// A straight line one pixel wide.
    Line {
        /// Start (col, row).
        from: (f64, f64),
        /// End (col, row).
        to: (f64, f64),
        /// Colour.
        colour: Rgb,
    },
    /// A line of text with its top-left corner at (x, y), on a filled box when `background`.
    Label {
        /// Left edge.
        x: f64,
        /// Top edge.
        y: f64,
        /// The text.
        text: String,
        /// Font size, px.
        size: u32,
        /// Text colour.
        colour: Rgb,
        /// Box behind the text.
        background: Option<Rgb>,
    },
}

impl Mark {
    fn shifted(&self, dx: f64) -> Mark {
        match self.clone() {
            Mark::Line { from, to, colour } => Mark::Line {
                from: (from.0 + dx, from.1),
                to: (to.0 + dx, to.1),
                colour,
            },
            Mark::Label {
                x,
                y,
                text,
                size,
                colour,
                background,
            } => Mark::Label {
                x: x + dx,
                y,
                text,
                size,
                colour,
                background,
            },
        }
    }
}

/// A raster picture with vector marks.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Row-major RGB bytes (marks already drawn in, for the PNG).
    pub rgb: Vec<u8>,
    /// The marks, drawn again as vectors in the SVG.
    pub marks: Vec<Mark>,
}

impl Picture {
    /// Places pictures side by side (tops aligned) with a `gap`-pixel white gap.
    pub fn side_by_side(pictures: &[Picture], gap: u32) -> Picture {
        let width = pictures
            .iter()
            .map(|p| p.width + gap)
            .sum::<u32>()
            .saturating_sub(gap);
        let height = pictures.iter().map(|p| p.height).max().unwrap_or(0);
        let mut rgb = vec![255u8; width as usize * height as usize * 3];
        let mut marks = Vec::new();
        let mut x0 = 0usize;
        for p in pictures {
            for row in 0..p.height as usize {
                let src = &p.rgb[row * p.width as usize * 3..(row + 1) * p.width as usize * 3];
                let dst = (row * width as usize + x0) * 3;
                rgb[dst..dst + src.len()].copy_from_slice(src);
            }
            marks.extend(p.marks.iter().map(|m| m.shifted(x0 as f64)));
            x0 += (p.width + gap) as usize;
        }
        Picture {
            width,
            height,
            rgb,
            marks,
        }
    }

    /// The SVG document: the raster as an embedded PNG, the marks on top.
    pub fn svg(&self) -> Result<String> {
        Ok(self.svg_around(&self.png("(picture)".as_ref())?))
    }

    /// The raster as PNG bytes; `path` names the picture in errors.
    fn png(&self, path: &Path) -> Result<Vec<u8>> {
        crate::png16::encode_rgb_png(self.width, self.height, &self.rgb)
            .map_err(|m| KittiError::malformed(path, None, m))
    }

    /// The SVG document around the PNG bytes `png` of the raster.
    fn svg_around(&self, png: &[u8]) -> String {
        let (w, h) = (self.width, self.height);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n<image width=\"{w}\" height=\"{h}\" href=\"data:image/png;base64,{}\"/>\n",
            base64(png)
        );
        let hex = |c: Rgb| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
        for m in &self.marks {
            let _ = match m {
                Mark::Line { from, to, colour } => writeln!(
                    s,
                    "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"1\"/>",
                    from.0 + 0.5, from.1 + 0.5, to.0 + 0.5, to.1 + 0.5, hex(*colour)
                ),
                Mark::Label { x, y, text, size, colour, background } => {
                    if let Some(b) = background {
                        // Wide enough for the text at about 0.6 em a character.
                        let bw = text.chars().count() as f64 * *size as f64 * 0.6 + 16.0;
                        let _ = writeln!(
                            s,
                            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                            *size as f64 + 14.0,
                            hex(*b)
                        );
                    }
                    writeln!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"{size}\" fill=\"{}\">{}</text>",
                        x + 8.0,
                        y + 7.0 + *size as f64,
                        hex(*colour),
                        escape(text)
                    )
                }
            };
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes the picture to `png` and, beside it, `<stem>.svg` (both atomically).
    /// The raster is encoded once, for the file and for the SVG.
    pub fn write(&self, png: &Path) -> Result<()> {
        let bytes = self.png(png)?;
        crate::io::write_atomic(png, &bytes)?;
        crate::io::write_atomic(
            &png.with_extension("svg"),
            self.svg_around(&bytes).as_bytes(),
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn pictures_side_by_side_keep_their_marks_in_place_in_the_svg() {
        let one = |c: u8| Picture {
            width: 10,
            height: 6,
            rgb: vec![c; 180],
            marks: vec![Mark::Line {
                from: (1.0, 1.0),
                to: (8.0, 1.0),
                colour: [0, 255, 0],
            }],
        };
        let mut both = Picture::side_by_side(&[one(10), one(20)], 4);
        assert_eq!((both.width, both.height), (24, 6));
        assert_eq!(
            both.rgb[(14 * 3) as usize],
            20,
            "second picture starts after the gap"
        );
        assert_eq!(
            both.marks[1],
            Mark::Line {
                from: (15.0, 1.0),
                to: (22.0, 1.0),
                colour: [0, 255, 0]
            }
        );
        both.marks.push(Mark::Label {
            x: 0.0,
            y: 0.0,
            text: "LiDAR <real> (120 points)".into(),
            size: 14,
            colour: [255; 3],
            background: Some([0; 3]),
        });
        let svg = both.svg().unwrap();
        assert!(
            svg.contains("data:image/png;base64,iVBORw0KGgo"),
            "an embedded PNG"
        );
        assert!(svg.contains("x1=\"15.5\"") && svg.contains("stroke=\"#00ff00\""));
        assert!(svg.contains("LiDAR &lt;real&gt; (120 points)</text>"));
    }
}
