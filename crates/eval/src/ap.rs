//! From true-positive scores to precision/recall curves and average precision.

/// Recall positions sampled by the devkit (0, 1/40, ..., 1).
pub const SAMPLE_POINTS: usize = 41;

/// Score thresholds at which precision is sampled: walking the true-positive scores from the
/// highest, keep a score when its recall is closer to the next 1/40 step than the following
/// score's recall would be, or when it is the last (the devkit's `getThresholds`).
pub fn thresholds(mut scores: Vec<f64>, n_gt: usize) -> Vec<f64> {
    scores.sort_by(|a, b| b.total_cmp(a));
    let n = n_gt as f64;
    let mut out = Vec::new();
    let mut current = 0.0;
    for i in 0..scores.len() {
        let l_recall = (i + 1) as f64 / n;
        let r_recall = if i + 1 < scores.len() {
            (i + 2) as f64 / n
        } else {
            l_recall
        };
        if r_recall - current < current - l_recall && i + 1 < scores.len() {
            continue;
        }
        out.push(scores[i]);
        current += 1.0 / (SAMPLE_POINTS as f64 - 1.0);
    }
    out
}

/// Makes a curve monotone the devkit's way: each value becomes the maximum of itself and
/// everything after it.
pub fn running_max_from_right(values: &mut [f64]) {
    let mut m = 0.0f64;
    for v in values.iter_mut().rev() {
        m = m.max(*v);
        *v = m;
    }
}

/// AP|R11: the mean of the precision at recall 0, 0.1, ..., 1 (samples 0, 4, ..., 40), in percent.
pub fn ap_r11(precision: &[f64]) -> f64 {
    (0..SAMPLE_POINTS)
        .step_by(4)
        .map(|i| precision.get(i).copied().unwrap_or(0.0))
        .sum::<f64>()
        / 11.0
        * 100.0
}

/// AP|R40: the mean of the precision at recall 1/40, ..., 1 (samples 1..=40), in percent.
pub fn ap_r40(precision: &[f64]) -> f64 {
    (1..SAMPLE_POINTS)
        .map(|i| precision.get(i).copied().unwrap_or(0.0))
        .sum::<f64>()
        / 40.0
        * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_keep_one_score_per_recall_step() {
        // 4 ground truths, 4 TPs: recall steps of 1/4 are coarser than 1/40, so every score is kept.
        assert_eq!(
            thresholds(vec![0.2, 0.9, 0.5, 0.7], 4),
            vec![0.9, 0.7, 0.5, 0.2]
        );
        // 80 ground truths, 80 TPs: recall moves 1/80 a score, so about every other one is kept.
        let scores: Vec<f64> = (0..80).map(|i| 1.0 - i as f64 / 100.0).collect();
        let t = thresholds(scores, 80);
        assert_eq!(t.len(), 41);
        assert_eq!(t[0], 1.0);
        assert_eq!(*t.last().unwrap(), 1.0 - 79.0 / 100.0);
    }

    #[test]
    fn ap_by_hand() {
        let mut p = vec![0.0; SAMPLE_POINTS];
        p[..21].iter_mut().for_each(|v| *v = 1.0); // precision 1 up to recall 0.5
        assert!((ap_r11(&p) - 600.0 / 11.0).abs() < 1e-12); // samples 0,4,...,20: 6 of 11
        assert!((ap_r40(&p) - 50.0).abs() < 1e-12); // samples 1..=20: 20 of 40
        let mut q = vec![0.2, 0.5, 0.1, 0.4];
        running_max_from_right(&mut q);
        assert_eq!(q, vec![0.5, 0.5, 0.4, 0.4]);
    }
}
