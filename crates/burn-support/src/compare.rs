//! Comparing two runs' numbers (weights, network outputs) element by element.

/// The largest absolute difference between `a` and `b`, element by element: infinite when their
/// lengths differ or any difference is not a number (a NaN on one side must not pass for a
/// match, as it would under `f32::max`, which drops NaN).
pub fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).fold(0.0, |worst, (x, y)| {
        let d = (x - y).abs();
        if d.is_nan() {
            f32::INFINITY
        } else {
            worst.max(d)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::largest_difference;

    #[test]
    fn a_nan_or_a_length_mismatch_is_never_a_match() {
        assert_eq!(largest_difference(&[1.0, 2.0, 3.0], &[1.0, 2.5, 2.0]), 1.0);
        assert_eq!(largest_difference(&[], &[]), 0.0);
        assert_eq!(
            largest_difference(&[1.0, f32::NAN], &[1.0, 1.0]),
            f32::INFINITY
        );
        assert_eq!(largest_difference(&[f32::NAN], &[f32::NAN]), f32::INFINITY);
        assert_eq!(largest_difference(&[1.0], &[1.0, 1.0]), f32::INFINITY);
    }
}
