//! KITTI calibration files (`calib/NNNNNN.txt`): parsed by key, with the projections between the
//! velodyne frame, the rectified camera frame and the image of the left colour camera (P2).

use crate::error::{KittiError, Result};
use crate::io::{read_text, write_atomic};
use nalgebra::{Matrix3, Matrix3x4, Matrix4, Point3, Vector3};
use std::collections::HashMap;
use std::path::Path;

/// A point projected into an image: pixel coordinates and its depth (the homogeneous divisor,
/// equal to the rectified camera z when the projection matrix has no z offset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImagePoint {
    /// Column coordinate in pixels (pixel i is centred on u = i).
    pub u: f64,
    /// Row coordinate in pixels.
    pub v: f64,
    /// Depth in metres; only points with positive depth are in front of the camera.
    pub depth: f64,
}

/// Which stereo baseline turns disparity into depth (depth = f_u · B / disparity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// A fixed value in metres (the reference pseudo-LiDAR code uses 0.54).
    Fixed(f64),
    /// Each frame's own, (P2[0,3] − P3[0,3]) / f_u.
    Calibration,
}

impl Baseline {
    /// The reference's fixed 0.54 m.
    pub const REFERENCE: Baseline = Baseline::Fixed(0.54);

    /// The baseline in metres for a frame.
    pub fn metres(&self, calib: &Calibration) -> f64 {
        match self {
            Baseline::Fixed(b) => *b,
            Baseline::Calibration => calib.baseline(),
        }
    }

    /// Parses `calib` (or `calibration`) or a number of metres between 0.01 and 10.
    pub fn parse(s: &str) -> Option<Baseline> {
        if s.eq_ignore_ascii_case("calib") || s.eq_ignore_ascii_case("calibration") {
            return Some(Baseline::Calibration);
        }
        s.parse::<f64>()
            .ok()
            .filter(|b| (0.01..=10.0).contains(b))
            .map(Baseline::Fixed)
    }
}

/// The calibration of one KITTI frame. Matrices are stored as read; the velodyne ↔ rectified camera
/// transforms are derived once at construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    p: [Matrix3x4<f64>; 4],
    r0_rect: Matrix3<f64>,
    tr_velo_to_cam: Matrix3x4<f64>,
    tr_imu_to_velo: Option<Matrix3x4<f64>>,
    velo_to_rect: Matrix4<f64>,
    rect_to_velo: Matrix4<f64>,
}

/// How far Tr_velo_to_cam's rotation part may be from orthonormal (KITTI's files, printed to
/// seven digits, are within 1e-6).
pub(crate) const RIGID_TOLERANCE: f64 = 1e-3;

/// The largest entry of |M·Mᵀ − I|: 0 for a rotation (or a mirror).
pub(crate) fn orthonormality_error(m: &Matrix3<f64>) -> f64 {
    (m * m.transpose() - Matrix3::identity()).abs().max()
}

/// Keys a calibration file must have, with the alternative spellings used by other KITTI sets.
const KEYS: [(&str, &[&str]); 7] = [
    ("P0", &[]),
    ("P1", &[]),
    ("P2", &[]),
    ("P3", &[]),
    ("R0_rect", &["R_rect"]),
    ("Tr_velo_to_cam", &["Tr_velo_cam"]),
    ("Tr_imu_to_velo", &["Tr_imu_velo"]),
];

impl Calibration {
    /// Builds a calibration from its matrices. Fails (naming `source`) when a focal length or the
    /// stereo baseline between cameras 2 and 3 is not above 0, or R0_rect is singular.
    pub fn new(
        p: [Matrix3x4<f64>; 4],
        r0_rect: Matrix3<f64>,
        tr_velo_to_cam: Matrix3x4<f64>,
        tr_imu_to_velo: Option<Matrix3x4<f64>>,
        source: &Path,
    ) -> Result<Self> {
        for (i, m) in p.iter().enumerate() {
            for (name, v) in [
                ("f_u (1st value)", m[(0, 0)]),
                ("f_v (6th value)", m[(1, 1)]),
            ] {
                if v <= 0.0 {
                    return Err(KittiError::malformed(
                        source,
                        None,
                        format!("P{i}: focal length {name} = {v}: must be above 0"),
                    ));
                }
            }
        }
        // Every stage here is stereo: P3 must be the right camera, to the right of P2, or depth
        // from disparity (with `calib` baselines) and LiDAR-derived disparity come out 0 or negative.
        let baseline = (p[2][(0, 3)] - p[3][(0, 3)]) / p[2][(0, 0)];
        if baseline <= 0.0 {
            return Err(KittiError::malformed(
                source,
                None,
                format!(
                    "P3: the stereo baseline (P2[0,3] − P3[0,3]) / f_u = {baseline} m: must be \
                     above 0 (P3 is the right camera's projection, P2 the left's; KITTI's is \
                     about 0.54 m)"
                ),
            ));
        }
        // Points go back from the camera to the LiDAR by the rigid inverse [Rᵀ | −Rᵀt], as the
        // reference's `inverse_rigid_trans`: a rotation part that is not a rotation would put
        // every pseudo-LiDAR point in the wrong place without a word.
        let rot = tr_velo_to_cam.fixed_view::<3, 3>(0, 0).into_owned();
        let (off, det) = (orthonormality_error(&rot), rot.determinant());
        if off > RIGID_TOLERANCE || det <= 0.0 {
            return Err(KittiError::malformed(
                source,
                None,
                format!(
                    "Tr_velo_to_cam: its first three columns are not a rotation (largest \
                     |R·Rᵀ − I| entry {off:.3e}, allowed {RIGID_TOLERANCE:.0e}; determinant \
                     {det:.3e}, must be about 1): the LiDAR-to-camera transform must be rigid"
                ),
            ));
        }
        let r0_inv = r0_rect
            .try_inverse()
            .ok_or_else(|| KittiError::malformed(source, None, "R0_rect is singular"))?;
        Ok(Self::from_parts(
            p,
            r0_rect,
            r0_inv,
            tr_velo_to_cam,
            tr_imu_to_velo,
        ))
    }

    /// Assembles a calibration given R0_rect's inverse, deriving the velodyne transforms.
    fn from_parts(
        p: [Matrix3x4<f64>; 4],
        r0_rect: Matrix3<f64>,
        r0_inv: Matrix3<f64>,
        tr_velo_to_cam: Matrix3x4<f64>,
        tr_imu_to_velo: Option<Matrix3x4<f64>>,
    ) -> Self {
        let mut r0_h = Matrix4::identity();
        r0_h.fixed_view_mut::<3, 3>(0, 0).copy_from(&r0_rect);
        let velo_to_rect = r0_h * to_homogeneous(&tr_velo_to_cam);
        // Rigid inverse of Tr_velo_to_cam: [Rᵀ | −Rᵀt].
        let rot_t = tr_velo_to_cam.fixed_view::<3, 3>(0, 0).transpose();
        let t = tr_velo_to_cam.column(3).into_owned();
        let mut cam_to_velo = Matrix4::identity();
        cam_to_velo.fixed_view_mut::<3, 3>(0, 0).copy_from(&rot_t);
        cam_to_velo
            .fixed_view_mut::<3, 1>(0, 3)
            .copy_from(&(-rot_t * t));
        let mut r0_inv_h = Matrix4::identity();
        r0_inv_h.fixed_view_mut::<3, 3>(0, 0).copy_from(&r0_inv);
        Calibration {
            p,
            r0_rect,
            tr_velo_to_cam,
            tr_imu_to_velo,
            velo_to_rect,
            rect_to_velo: cam_to_velo * r0_inv_h,
        }
    }

    /// Reads and parses a calibration file.
    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(&read_text(path)?, path)
    }

    /// Parses calibration text; `path` is used in error messages. Keys are looked up by name,
    /// blank lines and unknown keys are ignored, `Tr_imu_to_velo` is optional.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut rows: HashMap<&str, (usize, Vec<f64>)> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let (key, rest) = line.split_once(':').ok_or_else(|| {
                KittiError::malformed(path, Some(line_no), "expected `KEY: values`")
            })?;
            let key = key.trim();
            let values = rest
                .split_whitespace()
                .map(|tok| {
                    tok.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| KittiError::NotANumber {
                            path: path.into(),
                            line: line_no,
                            field: key.to_string(),
                            token: tok.to_string(),
                        })
                })
                .collect::<Result<Vec<f64>>>()?;
            if rows.insert(key, (line_no, values)).is_some() {
                return Err(KittiError::malformed(
                    path,
                    Some(line_no),
                    format!("key `{key}` appears twice"),
                ));
            }
        }
        let lookup = |key: &'static str, aliases: &[&str], n: usize| -> Result<Option<Vec<f64>>> {
            let found = std::iter::once(key)
                .chain(aliases.iter().copied())
                .find_map(|k| rows.get(k));
            match found {
                None => Ok(None),
                Some((line, v)) if v.len() != n => Err(KittiError::WrongCount {
                    path: path.into(),
                    line: *line,
                    what: key.to_string(),
                    expected: n.to_string(),
                    found: v.len(),
                }),
                Some((_, v)) => Ok(Some(v.clone())),
            }
        };
        let require = |idx: usize, n: usize| -> Result<Vec<f64>> {
            let (key, aliases) = KEYS[idx];
            lookup(key, aliases, n)?.ok_or(KittiError::MissingKey {
                path: path.into(),
                key,
            })
        };
        let m34 = |v: Vec<f64>| Matrix3x4::from_row_slice(&v);
        let p = [
            m34(require(0, 12)?),
            m34(require(1, 12)?),
            m34(require(2, 12)?),
            m34(require(3, 12)?),
        ];
        let r0 = Matrix3::from_row_slice(&require(4, 9)?);
        let tr = m34(require(5, 12)?);
        let imu = lookup(KEYS[6].0, KEYS[6].1, 12)?.map(m34);
        Self::new(p, r0, tr, imu, path)
    }

    /// The file text in KITTI's layout (values in exact shortest scientific notation).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |key: &str, values: Vec<f64>| {
            out.push_str(key);
            out.push(':');
            for v in values {
                out.push(' ');
                out.push_str(&fmt_sci(v));
            }
            out.push('\n');
        };
        let rows34 = |m: &Matrix3x4<f64>| m.transpose().iter().copied().collect::<Vec<_>>();
        for (i, p) in self.p.iter().enumerate() {
            line(&format!("P{i}"), rows34(p));
        }
        line(
            "R0_rect",
            self.r0_rect.transpose().iter().copied().collect(),
        );
        line("Tr_velo_to_cam", rows34(&self.tr_velo_to_cam));
        if let Some(imu) = &self.tr_imu_to_velo {
            line("Tr_imu_to_velo", rows34(imu));
        }
        out
    }

    /// Writes the calibration atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_text().as_bytes())
    }

    /// Projection matrix of camera `i` (0..=3); P2 is the left colour camera, P3 the right.
    pub fn p(&self, i: usize) -> &Matrix3x4<f64> {
        &self.p[i]
    }
    /// Rectifying rotation R0_rect.
    pub fn r0_rect(&self) -> &Matrix3<f64> {
        &self.r0_rect
    }
    /// Velodyne → (unrectified) camera 0 transform.
    pub fn tr_velo_to_cam(&self) -> &Matrix3x4<f64> {
        &self.tr_velo_to_cam
    }
    /// IMU → velodyne transform, when the file has one.
    pub fn tr_imu_to_velo(&self) -> Option<&Matrix3x4<f64>> {
        self.tr_imu_to_velo.as_ref()
    }
    /// Homogeneous velodyne → rectified camera transform, R0_rect · Tr_velo_to_cam.
    pub fn velo_to_rect_matrix(&self) -> &Matrix4<f64> {
        &self.velo_to_rect
    }
    /// Homogeneous rectified camera → velodyne transform (the exact inverse of the above).
    pub fn rect_to_velo_matrix(&self) -> &Matrix4<f64> {
        &self.rect_to_velo
    }

    /// Focal length in x of the left colour camera, P2[0,0].
    pub fn fu(&self) -> f64 {
        self.p[2][(0, 0)]
    }
    /// Focal length in y, P2[1,1].
    pub fn fv(&self) -> f64 {
        self.p[2][(1, 1)]
    }
    /// Principal point column, P2[0,2].
    pub fn cu(&self) -> f64 {
        self.p[2][(0, 2)]
    }
    /// Principal point row, P2[1,2].
    pub fn cv(&self) -> f64 {
        self.p[2][(1, 2)]
    }

    /// Checks that a `width` × `height` left image, or a map of one, at `path` can belong to
    /// this calibration: its principal point must lie in the central part of it (30–70 % of
    /// the width, 20–80 % of the height), as it does for KITTI (49 %, 46 %). An image or map at
    /// another resolution than its calibration (resized, or a stub) fails, naming the file.
    pub fn check_image_size(&self, width: u32, height: u32, path: &Path) -> Result<()> {
        let (fx, fy) = (self.cu() / width as f64, self.cv() / height as f64);
        if (0.3..=0.7).contains(&fx) && (0.2..=0.8).contains(&fy) {
            return Ok(());
        }
        Err(KittiError::malformed(
            path,
            None,
            format!(
                "a {width}x{height} image does not fit its calibration: the principal point ({:.1}, {:.1}) sits at {:.0}%, {:.0}% of it (expected near the centre; was it resized without its calibration?)",
                self.cu(),
                self.cv(),
                100.0 * fx,
                100.0 * fy
            ),
        ))
    }
    /// Offset of camera 2 from the rectified reference in x: P2[0,3] / (−f_u).
    pub fn bx(&self) -> f64 {
        self.p[2][(0, 3)] / -self.fu()
    }
    /// Offset of camera 2 in y: P2[1,3] / (−f_v).
    pub fn by(&self) -> f64 {
        self.p[2][(1, 3)] / -self.fv()
    }
    /// Stereo baseline between cameras 2 and 3 in metres: (P2[0,3] − P3[0,3]) / f_u.
    pub fn baseline(&self) -> f64 {
        (self.p[2][(0, 3)] - self.p[3][(0, 3)]) / self.fu()
    }

    /// Velodyne point → rectified camera frame.
    pub fn velo_to_rect(&self, p: &Point3<f64>) -> Point3<f64> {
        self.velo_to_rect.transform_point(p)
    }
    /// Rectified camera point → velodyne frame.
    pub fn rect_to_velo(&self, p: &Point3<f64>) -> Point3<f64> {
        self.rect_to_velo.transform_point(p)
    }
    /// Rectified camera point → left colour image (P2).
    pub fn rect_to_image(&self, p: &Point3<f64>) -> ImagePoint {
        project(&self.p[2], p)
    }
    /// Rectified camera point → the image of camera `i`.
    pub fn rect_to_image_of(&self, camera: usize, p: &Point3<f64>) -> ImagePoint {
        project(&self.p[camera], p)
    }
    /// Velodyne point → left colour image.
    pub fn velo_to_image(&self, p: &Point3<f64>) -> ImagePoint {
        self.rect_to_image(&self.velo_to_rect(p))
    }
    /// Pixel (u, v) of the left colour image seen at depth z → rectified camera point.
    pub fn image_to_rect(&self, u: f64, v: f64, depth: f64) -> Point3<f64> {
        Point3::new(
            (u - self.cu()) * depth / self.fu() + self.bx(),
            (v - self.cv()) * depth / self.fv() + self.by(),
            depth,
        )
    }
    /// Pixel (u, v) with depth z → velodyne point.
    pub fn image_to_velo(&self, u: f64, v: f64, depth: f64) -> Point3<f64> {
        self.rect_to_velo(&self.image_to_rect(u, v, depth))
    }

    /// An ideal rectified KITTI-like rig with focal length `f` and principal point (cu, cv):
    /// identity R0_rect, cameras 0/1 at rectified x = 0 and 0.54 m, cameras 2/3 (colour) at
    /// −0.06 and 0.48 m, the velodyne (x forward, y left, z up) 0.27 m behind and 0.08 m above
    /// camera 0. Handy for tests and hand-made data; real frames carry their own calibration.
    pub fn ideal(f: f64, cu: f64, cv: f64) -> Calibration {
        let p = |cam_x: f64| {
            Matrix3x4::new(f, 0.0, cu, -f * cam_x, 0.0, f, cv, 0.0, 0.0, 0.0, 1.0, 0.0)
        };
        let tr = Matrix3x4::new(
            0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0, -0.08, 1.0, 0.0, 0.0, -0.27,
        );
        let identity = Matrix3::identity();
        Self::from_parts(
            [p(0.0), p(0.54), p(-0.06), p(0.48)],
            identity,
            identity,
            tr,
            None,
        )
    }

    /// The same calibration for images resized by `scale`: the first two rows of every
    /// projection matrix are multiplied by it (focal lengths, principal points, offsets).
    pub fn scaled(&self, scale: f64) -> Calibration {
        let mut out = self.clone();
        for p in &mut out.p {
            for r in 0..2 {
                for c in 0..4 {
                    p[(r, c)] *= scale;
                }
            }
        }
        out
    }
}

/// KITTI's number style, `7.215377000000e+02`: twelve decimals when that is exact, sixteen
/// (always exact for an f64) otherwise.
fn fmt_sci(v: f64) -> String {
    let v = if v == 0.0 { 0.0 } else { v };
    let mut s = format!("{v:.12e}");
    if s.parse::<f64>().ok() != Some(v) {
        s = format!("{v:.16e}");
    }
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

fn to_homogeneous(m: &Matrix3x4<f64>) -> Matrix4<f64> {
    let mut h = Matrix4::identity();
    h.fixed_view_mut::<3, 4>(0, 0).copy_from(m);
    h
}

fn project(p: &Matrix3x4<f64>, x: &Point3<f64>) -> ImagePoint {
    let h = p * Vector3::new(x.x, x.y, x.z).push(1.0);
    ImagePoint {
        u: h.x / h.z,
        v: h.y / h.z,
        depth: h.z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calibration of KITTI training frame 000000, verbatim.
    pub(crate) const KITTI_000000: &str = "P0: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 0.000000000000e+00 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.797842000000e+02 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P2: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 4.575831000000e+01 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 -3.454157000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 4.981016000000e-03
P3: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.341081000000e+02 0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 2.330660000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 3.201153000000e-03
R0_rect: 9.999128000000e-01 1.009263000000e-02 -8.511932000000e-03 -1.012729000000e-02 9.999406000000e-01 -4.037671000000e-03 8.470675000000e-03 4.123522000000e-03 9.999556000000e-01
Tr_velo_to_cam: 6.927964000000e-03 -9.999722000000e-01 -2.757829000000e-03 -2.457729000000e-02 -1.162982000000e-03 2.749836000000e-03 -9.999955000000e-01 -6.127237000000e-02 9.999753000000e-01 6.931141000000e-03 -1.143899000000e-03 -3.321029000000e-01
Tr_imu_to_velo: 9.999976000000e-01 7.553071000000e-04 -2.035826000000e-03 -8.086759000000e-01 -7.854027000000e-04 9.998898000000e-01 -1.482298000000e-02 3.195559000000e-01 2.024406000000e-03 1.482454000000e-02 9.998881000000e-01 -7.997231000000e-01

";

    fn kitti() -> Calibration {
        Calibration::parse(KITTI_000000, Path::new("000000.txt")).unwrap()
    }

    #[test]
    fn derived_intrinsics_match_the_file() {
        let c = kitti();
        assert_eq!(c.fu(), 707.0493);
        assert_eq!(c.cv(), 180.5066);
        assert!((c.bx() - (-45.75831 / 707.0493)).abs() < 1e-12);
        // (45.75831 + 334.1081) / 707.0493 = 0.53726...
        assert!((c.baseline() - 0.537_259).abs() < 1e-5, "{}", c.baseline());
    }

    #[test]
    fn text_round_trip_is_exact() {
        let c = kitti();
        let text = c.to_text();
        // KITTI's own values print exactly as KITTI prints them.
        let first_lines: Vec<&str> = text.lines().take(4).collect();
        let original: Vec<&str> = KITTI_000000.lines().take(4).collect();
        assert_eq!(first_lines, original);
        assert_eq!(Calibration::parse(&text, Path::new("x")).unwrap(), c);
        // Values that need more digits still come back bit for bit.
        let odd = c.scaled(1.0 / 3.0);
        assert_eq!(
            Calibration::parse(&odd.to_text(), Path::new("x")).unwrap(),
            odd
        );
        assert_eq!(fmt_sci(-0.0), "0.000000000000e+00");
        assert_eq!(fmt_sci(1e-300), "1.000000000000e-300");
    }

    #[test]
    fn a_right_camera_that_is_not_to_the_right_is_refused_naming_the_baseline() {
        let p2 = "P2: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 4.575831000000e+01";
        let p3 = "P3: 7.070493000000e+02 0.000000000000e+00 6.040814000000e+02 -3.341081000000e+02";
        // P3 a copy of P2 (baseline 0) and the two swapped (baseline −0.537 m).
        let same = KITTI_000000.replacen(p3, &p2.replacen("P2", "P3", 1), 1);
        let swapped = KITTI_000000
            .replacen(p2, "@", 1)
            .replacen(p3, &p3.replacen("P3", "P2", 1), 1)
            .replacen("@", &p2.replacen("P2", "P3", 1), 1);
        for (text, value) in [(same, "= 0 m"), (swapped, "= -0.537")] {
            let err = Calibration::parse(&text, Path::new("calib/000007.txt"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("calib/000007.txt")
                    && err.contains("stereo baseline")
                    && err.contains(value)
                    && err.contains("above 0"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_lidar_transform_that_is_not_rigid_is_refused() {
        let tr = "Tr_velo_to_cam: 6.927964000000e-03 -9.999722000000e-01 -2.757829000000e-03 -2.457729000000e-02 -1.162982000000e-03 2.749836000000e-03 -9.999955000000e-01 -6.127237000000e-02 9.999753000000e-01 6.931141000000e-03 -1.143899000000e-03 -3.321029000000e-01";
        // All zeros (a placeholder), scaled by 2, and a mirror (first row negated).
        let zeros = "Tr_velo_to_cam: 0 0 0 0 0 0 0 0 0 0 0 0".to_string();
        let values: Vec<f64> = tr[16..]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        let join = |f: &dyn Fn(usize, f64) -> f64| {
            let v: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| f(i, v).to_string())
                .collect();
            format!("Tr_velo_to_cam: {}", v.join(" "))
        };
        let scaled = join(&|_, v| 2.0 * v);
        let mirrored = join(&|i, v| if i < 3 { -v } else { v });
        for (bad, what) in [
            (zeros, "determinant 0"),
            (scaled, "3.000e0"),
            (mirrored, "determinant -1"),
        ] {
            let err = Calibration::parse(
                &KITTI_000000.replacen(tr, &bad, 1),
                Path::new("calib/000003.txt"),
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("calib/000003.txt")
                    && err.contains("not a rotation")
                    && err.contains(what),
                "{err}"
            );
        }
        // Rounding to KITTI's seven digits passes.
        assert!(Calibration::parse(KITTI_000000, Path::new("c")).is_ok());
    }

    #[test]
    fn an_image_at_another_resolution_than_its_calibration_is_refused() {
        let c = kitti();
        assert!(c.check_image_size(1242, 375, Path::new("d.png")).is_ok());
        for (w, h) in [(621, 188), (1, 1)] {
            let e = c
                .check_image_size(w, h, Path::new("disp/000004.png"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("disp/000004.png") && e.contains(&format!("{w}x{h}")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_zero_or_negative_focal_length_is_refused_naming_the_matrix() {
        let zero = KITTI_000000.replacen("P2: 7.070493000000e+02", "P2: 0.0", 1);
        let err = Calibration::parse(&zero, Path::new("000000.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("000000.txt")
                && err.contains("P2: focal length f_u")
                && err.contains("= 0"),
            "{err}"
        );
        let negative = KITTI_000000.replacen(
            "0.000000000000e+00 7.070493000000e+02 1.805066000000e+02 -3.454157000000e-01",
            "0.000000000000e+00 -7.070493000000e+02 1.805066000000e+02 -3.454157000000e-01",
            1,
        );
        let err = Calibration::parse(&negative, Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("P2: focal length f_v"), "{err}");
    }

    #[test]
    fn key_order_does_not_matter_and_aliases_work() {
        let mut lines: Vec<&str> = KITTI_000000.lines().filter(|l| !l.is_empty()).collect();
        lines.reverse();
        let text = lines.join("\n").replace("R0_rect", "R_rect");
        let c = Calibration::parse(&text, Path::new("x")).unwrap();
        assert_eq!(c, kitti());
    }

    #[test]
    fn velo_image_velo_round_trip() {
        let c = kitti();
        for p in [
            Point3::new(10.0, 1.0, -0.5),
            Point3::new(45.3, -7.2, 0.8),
            Point3::new(5.0, 2.0, -1.6),
        ] {
            let img = c.velo_to_image(&p);
            // Back-projection uses the rect z; P2 has a small z offset so depth differs slightly.
            let rect_z = c.velo_to_rect(&p).z;
            let back = c.image_to_velo(img.u, img.v, rect_z);
            // P2[2,3] = 0.005 m shifts the homogeneous divisor; the reference back-projection
            // ignores it, which costs a few millimetres here.
            assert!((back - p).norm() < 1e-2, "{p} -> {back}");
            // Tr_velo_to_cam is printed with 7 digits, so its rotation is orthonormal only to
            // ~1e-7 and the rigid inverse returns the point to a few micrometres.
            let rect = c.velo_to_rect(&p);
            assert!((c.rect_to_velo(&rect) - p).norm() < 1e-5);
        }
    }

    #[test]
    fn velo_image_velo_is_exact_without_a_depth_offset() {
        let text = KITTI_000000
            .replace("4.981016000000e-03", "0")
            .replace("-3.454157000000e-01", "0");
        let c = Calibration::parse(&text, Path::new("x")).unwrap();
        for p in [Point3::new(10.0, 1.0, -0.5), Point3::new(45.3, -7.2, 0.8)] {
            let img = c.velo_to_image(&p);
            assert!((img.depth - c.velo_to_rect(&p).z).abs() < 1e-12);
            let back = c.image_to_velo(img.u, img.v, img.depth);
            assert!((back - p).norm() < 1e-5, "{p} -> {back}");
        }
    }

    #[test]
    fn hand_computed_projection() {
        let c = kitti();
        // A rect point straight ahead at 10 m: u = (fu*0 + cu*10 + 45.75831)/(10 + 0.004981016).
        let img = c.rect_to_image(&Point3::new(0.0, 0.0, 10.0));
        let w = 10.0 + 4.981016e-3;
        assert!((img.u - (604.0814 * 10.0 + 45.75831) / w).abs() < 1e-9);
        assert!((img.v - (180.5066 * 10.0 - 0.3454157) / w).abs() < 1e-9);
        assert!((img.depth - w).abs() < 1e-12);
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let p = Path::new("calib/000007.txt");
        let missing = KITTI_000000.replace("P3:", "Q3:");
        let e = Calibration::parse(&missing, p).unwrap_err().to_string();
        assert!(
            e.contains("calib/000007.txt") && e.contains("missing") && e.contains("P3"),
            "{e}"
        );

        let short = KITTI_000000.replace(
            "1.805066000000e+02 -3.454157000000e-01",
            "-3.454157000000e-01",
        );
        let e = Calibration::parse(&short, p).unwrap_err().to_string();
        assert!(
            e.contains("000007.txt:3") && e.contains("P2") && e.contains("found 11"),
            "{e}"
        );

        let nan = KITTI_000000.replace("9.999128000000e-01", "abc");
        let e = Calibration::parse(&nan, p).unwrap_err().to_string();
        assert!(
            e.contains(":5") && e.contains("`abc`") && e.contains("R0_rect"),
            "{e}"
        );

        let e = Calibration::parse("P0 1 2 3", p).unwrap_err().to_string();
        assert!(e.contains("000007.txt:1"), "{e}");
    }

    #[test]
    fn the_ideal_rig_matches_its_description_and_the_general_constructor() {
        let c = Calibration::ideal(700.0, 600.0, 180.0);
        assert_eq!((c.bx(), c.baseline()), (-0.06, 0.54));
        let o = c.velo_to_rect(&Point3::origin());
        assert_eq!((o.x, o.y, o.z), (0.0, -0.08, -0.27));
        let general = Calibration::new(
            [0, 1, 2, 3].map(|i| *c.p(i)),
            *c.r0_rect(),
            *c.tr_velo_to_cam(),
            None,
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(general, c);
    }

    #[test]
    fn scaled_halves_intrinsics_keeps_baseline() {
        let c = kitti().scaled(0.5);
        assert_eq!(c.fu(), 707.0493 * 0.5);
        assert!((c.baseline() - kitti().baseline()).abs() < 1e-12);
    }
}
