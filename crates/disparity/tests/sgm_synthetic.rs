//! Semi-global matching on synthetic stereo pairs against their exact disparity.

use disparity::metrics::frame_breakdown;
use disparity::objects::ObjectMap;
use disparity::{sgm, Breakdown, Gray, SgmConfig};
use kitti::DisparityMap;
use synth::{generate_frame, SynthConfig};

/// Pixels whose 5 × 5 neighbourhood in the left image varies (standard deviation over
/// `min_std` grey levels): where a local matcher has something to match.
fn textured(img: &Gray, min_std: f64) -> Vec<bool> {
    let (w, h) = (img.width, img.height);
    (0..h)
        .flat_map(|v| (0..w).map(move |u| (u, v)))
        .map(|(u, v)| {
            let (mut s, mut s2, mut n) = (0.0, 0.0, 0.0);
            for y in v.saturating_sub(2)..=(v + 2).min(h - 1) {
                for x in u.saturating_sub(2)..=(u + 2).min(w - 1) {
                    let g = img.data[y * w + x] as f64;
                    s += g;
                    s2 += g * g;
                    n += 1.0;
                }
            }
            (s2 / n - (s / n).powi(2)).max(0.0).sqrt() > min_std
        })
        .collect()
}

#[test]
fn sgm_matches_textured_synthetic_pixels() {
    let cfg = SynthConfig {
        scale: 0.5,
        ..Default::default()
    }
    .frame_config();
    let (mut all, mut tex) = (Breakdown::default(), Breakdown::default());
    for i in 0..2 {
        let f = generate_frame(&cfg, 5, i);
        let (w, h) = (f.rig.width as usize, f.rig.height as usize);
        let left = Gray::from_rgb(w, h, &f.left.rgb);
        let right = Gray::from_rgb(w, h, &f.right.rgb);
        let pred = sgm(
            &left,
            &right,
            &SgmConfig {
                max_disparity: 96,
                ..Default::default()
            },
        );
        let fb = f.rig.calib.fu() * f.rig.calib.baseline();
        let classes = ObjectMap::from_instances(&f.mask, &f.labels).class_map();
        all.add(&frame_breakdown(
            &pred,
            &f.disparity,
            fb,
            Some(&classes),
            None,
        ));
        let mask = textured(&left, 4.0);
        let gt_tex = DisparityMap {
            width: f.disparity.width,
            height: f.disparity.height,
            data: f
                .disparity
                .data
                .iter()
                .zip(&mask)
                .map(|(d, t)| if *t { *d } else { 0.0 })
                .collect(),
        };
        tex.add(&frame_breakdown(&pred, &gt_tex, fb, Some(&classes), None));
    }
    let (a, t) = (all.all.metrics(), tex.all.metrics());
    eprintln!(
        "SGM: all pixels D1 {:.1}% EPE {:.2} px density {:.0}%; textured ({:.0}% of pixels) D1 {:.1}% EPE {:.2} px density {:.0}%; depth MAE {:.2} m",
        100.0 * a.d1,
        a.epe,
        100.0 * a.density,
        100.0 * tex.all.gt_pixels as f64 / all.all.gt_pixels as f64,
        100.0 * t.d1,
        t.epe,
        100.0 * t.density,
        a.mae
    );
    // The target is D1 < 25 %; this matcher reaches about 2 %, so a regression past 10 % fails.
    assert!(t.d1 < 0.10, "D1 on textured pixels {:.1}%", 100.0 * t.d1);
    assert!(t.density > 0.5, "density {:.0}%", 100.0 * t.density);
}
