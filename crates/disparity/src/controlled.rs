//! The controlled upstream variants over a root's frames: the oracle (the exact disparity) and
//! perturbed exact disparity ([`crate::perturb`]), written as KITTI disparity PNGs like any
//! model's predictions, with the spread calibrated to a target depth MAE where asked.

use crate::error::{DisparityError, Result};
use crate::frames::input;
use crate::perturb::{calibrate_spread, CalibrationError, NoiseSpace, Perturbation, PreparedFrame};
use kitti::{Baseline, Calibration, DisparityMap};
use rayon::prelude::*;
use std::path::Path;

/// How large the noise is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// This σ.
    Fixed(f64),
    /// The σ whose overall depth MAE on the calibration frames is this many metres.
    TargetMae(f64),
}

/// An error model for a whole set of frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerturbSpec {
    /// Where the noise lives.
    pub noise: NoiseSpace,
    /// How large it is.
    pub spread: Spread,
    /// Correlation radius of the noise, px.
    pub blur: usize,
    /// Edge-bleeding radius, px.
    pub bleed: usize,
}

impl PerturbSpec {
    /// The oracle: the exact disparity unchanged.
    pub const ORACLE: PerturbSpec = PerturbSpec {
        noise: NoiseSpace::Disparity,
        spread: Spread::Fixed(0.0),
        blur: 0,
        bleed: 0,
    };
}

/// The noise seed of frame `id` of a variant seeded `seed`: the same on every machine.
pub fn frame_seed(seed: u64, id: &str) -> u64 {
    let id_hash = id.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        kitti::rng::mix64(h ^ b as u64)
    });
    kitti::rng::hash(&[seed, id_hash])
}

/// Reads a frame's exact map and f_u·B, prepared for `p`.
fn prepare(
    exact_dir: &Path,
    calib_dir: &Path,
    baseline: Baseline,
    id: &str,
    p: &Perturbation,
    seed: u64,
) -> Result<PreparedFrame> {
    let exact = DisparityMap::read(&input(
        exact_dir.join(format!("{id}.png")),
        id,
        "exact disparity",
    )?)?;
    let c = Calibration::read(&input(
        calib_dir.join(format!("{id}.txt")),
        id,
        "calibration",
    )?)?;
    Ok(PreparedFrame::new(
        exact,
        c.fu() * baseline.metres(&c),
        p,
        frame_seed(seed, id),
    ))
}

/// Writes `<out>/<id>.png` for every id: the exact maps of `exact_dir` under `spec`, noise from
/// `seed`. A target MAE is met on the `calibrate_on` frames (the study's val frames, so that the
/// variants it compares have equal error where the report measures it). Returns σ used.
#[allow(clippy::too_many_arguments)]
pub fn write_perturbed_frames(
    exact_dir: &Path,
    calib_dir: &Path,
    baseline: Baseline,
    ids: &[String],
    calibrate_on: &[String],
    out: &Path,
    spec: &PerturbSpec,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<f64> {
    let mut p = Perturbation {
        noise: spec.noise,
        spread: 0.0,
        blur: spec.blur,
        bleed: spec.bleed,
    };
    p.spread = match spec.spread {
        Spread::Fixed(s) => s,
        Spread::TargetMae(target) => {
            let frames = calibrate_on
                .par_iter()
                .map(|id| prepare(exact_dir, calib_dir, baseline, id, &p, seed))
                .collect::<Result<Vec<_>>>()?;
            calibrate_spread(&frames, spec.noise, target).map_err(|e| DisparityError::Config {
                path: exact_dir.to_path_buf(),
                message: match e {
                    CalibrationError::BelowBleeding { floor } => format!(
                        "target_mae = {target} m: edge bleeding of {} px alone gives a depth MAE of {floor:.3} m on these frames; give a larger target_mae or a smaller bleed",
                        spec.bleed
                    ),
                    CalibrationError::Unreachable { largest } => format!(
                        "target_mae = {target} m: no spread reaches it (at most {largest:.3} m: predicted depths are clipped to the evaluated range); give a smaller target_mae"
                    ),
                },
            })?
        }
    };
    std::fs::create_dir_all(out).map_err(|error| kitti::KittiError::Io {
        path: out.to_path_buf(),
        error,
    })?;
    ids.par_iter()
        .map(|id| {
            let f = prepare(exact_dir, calib_dir, baseline, id, &p, seed)?;
            f.at(p.noise, p.spread)
                .write(&out.join(format!("{id}.png")))?;
            progress();
            Ok(())
        })
        .collect::<Result<Vec<()>>>()?;
    Ok(p.spread)
}
