//! Helpers shared by the detector's integration tests.

use detector::data::FrameSource;
use detector::training::SplitFrames;
use detector::DetectorConfig;
use std::path::Path;
use synth::SynthConfig;

/// A synthetic set (half KITTI resolution) and its train and val splits.
pub fn synthetic(dir: &Path, frames: usize) -> (SplitFrames, SplitFrames) {
    let cfg = SynthConfig {
        frames,
        seed: 5,
        scale: 0.5,
        train_share: 0.7,
        ..SynthConfig::default()
    };
    synth::generate_root(&cfg, dir, &|| {}).unwrap();
    let part = dir.join("training");
    let source = FrameSource::beside_labels(&part.join("velodyne"), &part.join("label_2"));
    let split = |name: &str| SplitFrames {
        source: source.clone(),
        ids: kitti::split::Split::read(&dir.join("ImageSets").join(name))
            .unwrap()
            .ids,
    };
    (split("train.txt"), split("val.txt"))
}

pub fn tiny_config() -> DetectorConfig {
    DetectorConfig::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/pointpillars-tiny.toml"
    )))
    .unwrap()
}
