//! The order in which a training epoch visits its examples.

use kitti::rng::{hash, Rng};

/// A permutation of `0..n` fixed by `seed` and `epoch` (Fisher–Yates), so that a resumed run
/// sees the same order as an uninterrupted one.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(hash(&[seed, epoch as u64]));
    for i in (1..order.len()).rev() {
        order.swap(i, rng.int(0, i as i64) as usize);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_a_permutation_fixed_by_seed_and_epoch() {
        let a = epoch_order(50, 3, 1);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, 3, 1));
        assert_ne!(a, epoch_order(50, 3, 2));
        assert_ne!(a, epoch_order(50, 4, 1));
    }
}
