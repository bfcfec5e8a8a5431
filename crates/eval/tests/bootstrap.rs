//! The paired bootstrap: an AP under a resample equals the evaluation of the frame list with the
//! frames repeated; the interval of small cases matches the exact bootstrap distribution, found
//! by enumerating every resample; the interval narrows as frames are added.

use eval::bootstrap::{
    paired_difference, stratified_mean, ApResampler, ApSpec, Arm, BlockDifference, RatioOfSums,
    Resampled, Settings,
};
use eval::{evaluate, Class, Difficulty, EvalConfig, Filter, FrameLabels, IouSet, Metric};
use kitti::{Box2D, Box3D, Object, ObjectType};
use nalgebra::Point3;

/// A small deterministic generator for the test's own randomness.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn car(x: f64, z: f64, ry: f64, top: f64, height: f64, score: Option<f64>) -> Object {
    Object {
        kind: ObjectType::Car,
        truncated: 0.0,
        occluded: 0,
        alpha: ry,
        bbox: Box2D {
            left: 300.0 + 20.0 * x,
            top,
            right: 380.0 + 20.0 * x,
            bottom: top + height,
        },
        box3d: Box3D {
            location: Point3::new(x, 1.6, z),
            h: 1.5,
            w: 1.6,
            l: 3.9,
            ry,
        },
        score,
    }
}

/// Frames with a few cars each, detected with position noise, random scores, misses and false
/// positives, so that APs lie well inside (0, 100).
fn frames(n: usize, seed: u64) -> Vec<FrameLabels> {
    let mut g = Lcg(seed);
    (0..n)
        .map(|_| {
            let mut f = FrameLabels::default();
            for k in 0..1 + (g.uniform() * 4.0) as usize {
                let (x, z) = (-12.0 + 6.0 * k as f64, 8.0 + 40.0 * g.uniform());
                let ry = g.uniform() * 3.0 - 1.5;
                let (top, h) = (150.0, 30.0 + 40.0 * g.uniform());
                f.gt.push(car(x, z, ry, top, h, None));
                if g.uniform() < 0.8 {
                    let dx = (g.uniform() - 0.5) * 1.6;
                    let dz = (g.uniform() - 0.5) * 1.6;
                    f.det
                        .push(car(x + dx, z + dz, ry, top, h, Some(g.uniform())));
                }
            }
            if g.uniform() < 0.5 {
                f.det
                    .push(car(20.0, 30.0, 0.0, 150.0, 40.0, Some(g.uniform())));
            }
            f
        })
        .collect()
}

fn spec(metric: Metric, r40: bool) -> ApSpec {
    ApSpec {
        class: Class::Car,
        metric,
        filter: Filter::Difficulty(Difficulty::Moderate),
        threshold: IouSet::Loose.threshold(Class::Car, metric),
        r40,
    }
}

fn evaluated(frames: &[FrameLabels], s: &ApSpec) -> f64 {
    let cfg = EvalConfig {
        classes: vec![Class::Car],
        iou_sets: vec![IouSet::Loose],
        ..EvalConfig::default()
    };
    evaluate(frames, &cfg).get(&s.key()).unwrap().unwrap()
}

#[test]
fn an_ap_under_a_resample_is_the_evaluation_of_the_repeated_frames() {
    let fs = frames(30, 7);
    let mut g = Lcg(99);
    for metric in [Metric::Box2D, Metric::Bev, Metric::Box3D, Metric::Aos] {
        for r40 in [false, true] {
            let s = spec(metric, r40);
            assert_eq!(ApSpec::parse(&s.key()), Some(s), "{}", s.key());
            let ap = ApResampler::new(&fs, s, 1.0).unwrap();
            assert_eq!(ap.value(&vec![1; fs.len()]), Some(evaluated(&fs, &s)));
            for _ in 0..5 {
                let weights: Vec<u32> = (0..fs.len()).map(|_| (g.uniform() * 3.0) as u32).collect();
                let repeated: Vec<FrameLabels> = fs
                    .iter()
                    .zip(&weights)
                    .flat_map(|(f, &w)| std::iter::repeat_n(f.clone(), w as usize))
                    .collect();
                let got = ap.value(&weights).unwrap();
                let want = evaluated(&repeated, &s);
                assert!(
                    (got - want).abs() < 1e-9,
                    "{} {weights:?}: {got} vs {want}",
                    s.key()
                );
            }
        }
    }
    // The APs are not degenerate.
    let bev = evaluated(&fs, &spec(Metric::Bev, true));
    assert!(bev > 10.0 && bev < 95.0, "{bev}");
    // No ground truth in the resample: undefined.
    let ap = ApResampler::new(&fs, spec(Metric::Bev, true), 1.0).unwrap();
    assert_eq!(ap.value(&vec![0; fs.len()]), None);
}

/// The exact bootstrap distribution of a statistic: every equally likely outcome's value.
fn check_against_exact(exact: &mut [f64], interval: (f64, f64)) {
    exact.sort_by(f64::total_cmp);
    let n = exact.len() as f64;
    let below = |x: f64| exact.iter().filter(|&&v| v < x - 1e-12).count() as f64 / n;
    let at_most = |x: f64| exact.iter().filter(|&&v| v <= x + 1e-12).count() as f64 / n;
    // The interval's ends sit at the 2.5 % and 97.5 % points of the exact distribution, up to
    // the Monte Carlo error of the resamples.
    let tol = 0.012;
    assert!(
        below(interval.0) <= 0.025 + tol && at_most(interval.0) >= 0.025 - tol,
        "lo {interval:?}"
    );
    assert!(
        below(interval.1) <= 0.975 + tol && at_most(interval.1) >= 0.975 - tol,
        "hi {interval:?}"
    );
}

#[test]
fn the_interval_of_a_small_case_matches_the_enumerated_bootstrap() {
    // Five frames, two arms with per-frame (error sum, pixel count): the statistic is the
    // pooled mean error, the change arm A minus arm B.
    let a = RatioOfSums {
        numer: vec![3.0, 10.0, 2.0, 8.0, 1.0],
        denom: vec![2.0, 4.0, 1.0, 5.0, 2.0],
    };
    let b = RatioOfSums {
        numer: vec![2.0, 12.0, 1.0, 9.0, 3.0],
        denom: vec![2.0, 4.0, 1.0, 5.0, 2.0],
    };
    let n: usize = 5;
    let mut exact = Vec::new();
    for code in 0..n.pow(n as u32) {
        let mut w = vec![0u32; n];
        let mut c = code;
        for _ in 0..n {
            w[c % n] += 1;
            c /= n;
        }
        let mean = |s: &RatioOfSums| {
            let num: f64 = (0..n).map(|i| s.numer[i] * w[i] as f64).sum();
            let den: f64 = (0..n).map(|i| s.denom[i] * w[i] as f64).sum();
            num / den
        };
        exact.push(mean(&a) - mean(&b));
    }
    let arm_a: Arm = vec![vec![&a as &dyn Resampled]];
    let arm_b: Arm = vec![vec![&b as &dyn Resampled]];
    let settings = Settings {
        resamples: 20_000,
        seed: 3,
        confidence: 0.95,
    };
    let i = paired_difference(n, &arm_a, &arm_b, &settings).unwrap();
    let full = 24.0 / 14.0 - 27.0 / 14.0;
    assert!((i.estimate - full).abs() < 1e-12);
    assert_eq!((i.resamples, i.undefined), (20_000, 0));
    check_against_exact(&mut exact, (i.lo, i.hi));
    // The same seed gives the same interval.
    assert_eq!(paired_difference(n, &arm_a, &arm_b, &settings), Some(i));
}

#[test]
fn seeds_are_resampled_within_arms_hierarchically() {
    // Three frames; arm A has two upstream seeds with one detector each, arm B one upstream seed
    // with two detectors. Exact: every frame draw (27) × A's group draws (4) × B's instance
    // draws within its one group (4), equally likely.
    let stat = |v: [f64; 3]| RatioOfSums {
        numer: v.to_vec(),
        denom: vec![1.0; 3],
    };
    let (a0, a1) = (stat([1.0, 5.0, 2.0]), stat([4.0, 3.0, 6.0]));
    let (b0, b1) = (stat([2.0, 2.0, 1.0]), stat([0.0, 7.0, 3.0]));
    let a_stats = [&a0, &a1];
    let b_stats = [&b0, &b1];
    let mut exact = Vec::new();
    for code in 0..27 {
        let w = {
            let mut w = [0u32; 3];
            let mut c = code;
            for _ in 0..3 {
                w[c % 3] += 1;
                c /= 3;
            }
            w
        };
        for ga in [[0, 0], [0, 1], [1, 0], [1, 1]] {
            for ib in [[0, 0], [0, 1], [1, 0], [1, 1]] {
                let ma = ga
                    .iter()
                    .map(|&g| a_stats[g].value(&w).unwrap())
                    .sum::<f64>()
                    / 2.0;
                let mb = ib
                    .iter()
                    .map(|&i| b_stats[i].value(&w).unwrap())
                    .sum::<f64>()
                    / 2.0;
                exact.push(ma - mb);
            }
        }
    }
    let arm_a: Arm = vec![vec![&a0 as &dyn Resampled], vec![&a1]];
    let arm_b: Arm = vec![vec![&b0 as &dyn Resampled, &b1]];
    let settings = Settings {
        resamples: 20_000,
        seed: 11,
        confidence: 0.95,
    };
    let i = paired_difference(3, &arm_a, &arm_b, &settings).unwrap();
    check_against_exact(&mut exact, (i.lo, i.hi));
}

#[test]
fn the_interval_narrows_as_frames_are_added() {
    // A fixed per-frame signal: arm A is one AP point better on every frame's detections (its
    // scores rank true positives higher), frames drawn from the same generator.
    let width = |n: usize| {
        let fs = frames(n, 5);
        let worse: Vec<FrameLabels> = fs
            .iter()
            .map(|f| {
                let mut f = f.clone();
                for d in &mut f.det {
                    d.score = d.score.map(|s| 1.0 - s);
                }
                f
            })
            .collect();
        let s = spec(Metric::Bev, true);
        let a = ApResampler::new(&fs, s, 1.0).unwrap();
        let b = ApResampler::new(&worse, s, 1.0).unwrap();
        let i = paired_difference(
            n,
            &vec![vec![&a as &dyn Resampled]],
            &vec![vec![&b as &dyn Resampled]],
            &Settings::default(),
        )
        .unwrap();
        assert!(i.lo <= i.estimate && i.estimate <= i.hi, "{i:?}");
        i.hi - i.lo
    };
    let (small, large) = (width(25), width(400));
    // The width shrinks about as 1/√n: 16 times the frames, about a quarter of the width.
    let ratio = small / large;
    assert!(
        ratio > 2.5 && ratio < 6.5,
        "{small} vs {large}: ratio {ratio}"
    );
}

#[test]
fn a_difference_between_two_frame_sets_resamples_each_set_within_itself() {
    // Three training frames and four val frames, one detector: the statistic is the pooled mean
    // on the first set minus the pooled mean on the second. Exact: every draw of three from the
    // first set (27) with every draw of four from the second (256), equally likely.
    let first = RatioOfSums {
        numer: vec![9.0, 4.0, 7.0],
        denom: vec![3.0, 2.0, 2.0],
    };
    let second = RatioOfSums {
        numer: vec![1.0, 6.0, 2.0, 3.0],
        denom: vec![1.0, 3.0, 2.0, 2.0],
    };
    let draws = |n: usize| -> Vec<Vec<u32>> {
        (0..n.pow(n as u32))
            .map(|code| {
                let (mut w, mut c) = (vec![0u32; n], code);
                for _ in 0..n {
                    w[c % n] += 1;
                    c /= n;
                }
                w
            })
            .collect()
    };
    let mut exact = Vec::new();
    for w1 in draws(3) {
        for w2 in draws(4) {
            exact.push(first.value(&w1).unwrap() - second.value(&w2).unwrap());
        }
    }
    let gap = BlockDifference { first, second };
    let arm: Arm = vec![vec![&gap as &dyn Resampled]];
    let settings = Settings {
        resamples: 20_000,
        seed: 5,
        confidence: 0.95,
    };
    let i = stratified_mean(&[3, 4], &arm, &settings).unwrap();
    assert!(
        (i.estimate - (20.0 / 7.0 - 12.0 / 8.0)).abs() < 1e-12,
        "{i:?}"
    );
    check_against_exact(&mut exact, (i.lo, i.hi));
    // One stratum and no second arm: the ordinary bootstrap of a mean, as paired_difference
    // against an arm that is always zero.
    let zero = RatioOfSums {
        numer: vec![0.0; 7],
        denom: vec![1.0; 7],
    };
    let zero_arm: Arm = vec![vec![&zero as &dyn Resampled]];
    assert_eq!(
        stratified_mean(&[7], &arm, &settings),
        paired_difference(7, &arm, &zero_arm, &settings)
    );
}
