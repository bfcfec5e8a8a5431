//! The residual box encoding of the regression head and its exact inverse, and the two
//! direction bins that resolve the heading's 180° ambiguity.

use crate::anchors::{limit_period, BoxParams};
use std::f64::consts::PI;

/// Encodes a ground-truth box against an anchor: Δx, Δy over the anchor's BEV diagonal, Δz over
/// its height, log ratios of the sizes, and the heading difference.
pub fn encode(gt: &BoxParams, anchor: &BoxParams) -> BoxParams {
    let diag = (anchor[3] * anchor[3] + anchor[4] * anchor[4]).sqrt();
    [
        (gt[0] - anchor[0]) / diag,
        (gt[1] - anchor[1]) / diag,
        (gt[2] - anchor[2]) / anchor[5],
        (gt[3] / anchor[3]).ln(),
        (gt[4] / anchor[4]).ln(),
        (gt[5] / anchor[5]).ln(),
        gt[6] - anchor[6],
    ]
}

/// The box a regression output describes relative to an anchor (the inverse of [`encode`]).
pub fn decode(delta: &BoxParams, anchor: &BoxParams) -> BoxParams {
    let diag = (anchor[3] * anchor[3] + anchor[4] * anchor[4]).sqrt();
    [
        delta[0] * diag + anchor[0],
        delta[1] * diag + anchor[1],
        delta[2] * anchor[5] + anchor[2],
        delta[3].exp() * anchor[3],
        delta[4].exp() * anchor[4],
        delta[5].exp() * anchor[5],
        delta[6] + anchor[6],
    ]
}

/// The direction bin (0 or 1) of a heading: which half-turn it lies in, counted from `offset`.
pub fn direction_bin(heading: f64, offset: f64) -> usize {
    let r = limit_period(heading - offset, 0.0, 2.0 * PI);
    ((r / PI).floor() as usize).min(1)
}

/// A decoded heading moved into the half-turn the direction classifier chose.
pub fn apply_direction(heading: f64, bin: usize, offset: f64) -> f64 {
    limit_period(heading - offset, 0.0, PI) + offset + PI * bin as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_inverts_encode() {
        let anchor = [10.0, -3.0, -1.0, 3.9, 1.6, 1.56, 1.5707964];
        let gt = [11.3, -2.1, -0.7, 4.4, 1.8, 1.4, 0.2];
        let back = decode(&encode(&gt, &anchor), &anchor);
        for (a, b) in back.iter().zip(gt) {
            assert!((a - b).abs() < 1e-5, "{back:?}");
        }
        // A hand-computed encoding: diagonal sqrt(3.9² + 1.6²) = 4.21545.
        let e = encode(&gt, &anchor);
        assert!((e[0] - 1.3 / 4.21545).abs() < 1e-5 && (e[3] - (4.4f32 / 3.9).ln()).abs() < 1e-6);
    }

    #[test]
    fn the_direction_bin_recovers_the_heading() {
        let off = std::f64::consts::FRAC_PI_4;
        for h in [-3.0, -1.0, 0.0, 0.5, 2.0, 3.1] {
            let bin = direction_bin(h, off);
            // The regression only knows the heading up to a half-turn.
            let ambiguous = h + PI;
            let back = apply_direction(ambiguous, bin, off);
            let diff = limit_period(back - h, 0.5, 2.0 * PI);
            assert!(diff.abs() < 1e-9, "{h} -> {back}");
        }
        assert_eq!(direction_bin(0.0, off), 1);
        assert_eq!(direction_bin(1.0, off), 0);
    }
}
