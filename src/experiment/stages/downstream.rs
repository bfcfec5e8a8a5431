//! The downstream stages: point clouds from each variant's maps, the detectors trained on them,
//! and their evaluation.

use super::*;

impl Study<'_> {
    /// The points stage: one cloud kind of one upstream output.
    pub fn points(
        &self,
        u: &UpstreamConfig,
        seed: u64,
        up: &UpstreamOut,
        cloud: Cloud,
    ) -> Result<PointsOut> {
        use pseudo_lidar::frames::{convert_frames, ConvertSettings, InputKind};
        use pseudo_lidar::{ConvertConfig, SparsifyConfig};
        let velodyne = self.root.dir(Part::Training, FileKind::Velodyne);
        let dir = self
            .dir
            .join("points")
            .join(&u.name)
            .join(seed_folder(u.seeded(), seed))
            .join(cloud.name());
        let mut key = hash(&["points", cloud.name(), &up.id]);
        if let Some(e) = &self.cfg.points.edges {
            // Only when set, so that folders made before the setting existed stay cached.
            key = hash(&[&key, "edges", &toml::to_string(e)?]);
        }
        let ids = self.all_ids();
        let what = format!("{} seed {seed} {}", u.name, cloud.name());
        match (&up.disparity, cloud) {
            // The real LiDAR is already a sparse cloud.
            (None, Cloud::Dense | Cloud::Sparse) => Ok(PointsOut {
                id: up.id.clone(),
                dir: velodyne,
            }),
            (None, Cloud::Close) => {
                let out = dir.clone();
                let id = self.stage(&dir, "points", &what, &key, move |_| {
                    for id in &ids {
                        let mut p = kitti::read_velodyne(&velodyne.join(format!("{id}.bin")))?;
                        p.retain(|p| (p.x as f64) < CLOSE_RANGE);
                        kitti::write_velodyne(&out.join(format!("{id}.bin")), &p)?;
                    }
                    Ok(())
                })?;
                Ok(PointsOut { id, dir })
            }
            (Some(maps), _) => {
                let settings = ConvertSettings {
                    input: InputKind::Disparity,
                    convert: ConvertConfig {
                        close: (cloud == Cloud::Close).then_some(CLOSE_RANGE),
                        edges: self.cfg.points.edges,
                        ..ConvertConfig::default()
                    },
                    sparsify: (cloud != Cloud::Dense).then(SparsifyConfig::default),
                };
                let (maps, calib, out) = (
                    maps.clone(),
                    self.root.dir(Part::Training, FileKind::Calib),
                    dir.clone(),
                );
                let id = self.stage(&dir, "points", &what, &key, move |_| {
                    let bar = progress::bar(ids.len() as u64, "points");
                    convert_frames(&maps, &calib, &out, &ids, &settings, &|| bar.inc(1))?;
                    bar.finish_and_clear();
                    Ok(())
                })?;
                // convert_frames writes dense/ and, when sparsifying, sparse/ beside it.
                let sub = if cloud == Cloud::Dense {
                    "dense"
                } else {
                    "sparse"
                };
                Ok(PointsOut {
                    id,
                    dir: dir.join(sub),
                })
            }
        }
    }

    /// The downstream stage: a detector trained from scratch on one cloud (of upstream seed
    /// `seed`), predicting val.
    pub fn downstream(&self, k: &DetectorKey<'_>, points: &PointsOut) -> Result<(String, PathBuf)> {
        use detector::inference::{predict_folder, Detector};
        use detector::training::{train, SplitFrames};
        let (d, variant) = (k.detector, k.variant);
        let mut cfg = d.detector_config()?;
        cfg.train.seed = k.detector_seed.seed;
        let dir = self.dir.join(k.folder("downstream"));
        let settings = toml::to_string(&cfg)?;
        let mut inputs = vec!["downstream", &settings, &points.id];
        if k.cloud == Cloud::Close {
            inputs.push(&self.close_labels_id);
        }
        let key = hash(&inputs);
        let source = self.frame_source(points, k.cloud);
        let data = SplitFrames {
            source: source.clone(),
            ids: self.train_ids.clone(),
        };
        let val_ids = self.val_ids.clone();
        let device = self.device.clone();
        let results = dir.join("results");
        let work_dir = dir.clone();
        let id = self.stage(&dir, "downstream", &k.what(), &key, |resume| {
            let steps = data.ids.len().div_ceil(cfg.train.batch_size) as u64;
            let label = format!("{}/{variant}", d.name);
            let bar = progress::bar(steps * cfg.train.epochs as u64, &label);
            train(
                &cfg,
                &data,
                None,
                &work_dir,
                &device.clone().autodiff(),
                resume,
                &|p| {
                    if let detector::training::Progress::Step(e, s, n, _) = p {
                        bar.set_position((e * n + s + 1) as u64);
                    }
                    ControlFlow::Continue(())
                },
            )?;
            bar.finish_and_clear();
            let detector = Detector::load(&work_dir, device.clone())?;
            std::fs::create_dir_all(&results)?;
            predict_folder(&detector, &source, &val_ids, &results, &|| {})?;
            Ok(())
        })?;
        Ok((id, dir.join("results")))
    }

    /// The points and labels a detector on `cloud` reads: `points`' clouds, the cloud's labels.
    pub fn frame_source(&self, points: &PointsOut, cloud: Cloud) -> detector::data::FrameSource {
        detector::data::FrameSource {
            points: points.dir.clone(),
            labels: Some(self.labels(cloud)),
            calib: self.root.dir(Part::Training, FileKind::Calib),
            images: self.root.dir(Part::Training, FileKind::LeftImage),
        }
    }

    /// The evaluation of one detector's val predictions: its flat APs and the frames they were
    /// computed from.
    pub fn evaluate(
        &self,
        k: &DetectorKey<'_>,
        results: &Path,
        input_id: &str,
    ) -> Result<DetectorEval> {
        let split = self.root.split(&self.cfg.data.val_split)?;
        let frames = eval::load_frames(&self.labels(k.cloud), results, &split, false)?;
        let dir = self.eval_dir(k);
        self.evaluate_in(&dir, &k.what(), k, frames, input_id)
    }

    /// Where the evaluation of a detector goes.
    pub fn eval_dir(&self, k: &DetectorKey<'_>) -> PathBuf {
        self.dir.join(k.folder("eval"))
    }

    /// Evaluates one detector's predictions, read with their labels as `frames`, into
    /// `dir/ap.json` as the stage `what` (the detector trained on clouds of upstream seed `seed`).
    pub fn evaluate_in(
        &self,
        dir: &Path,
        what: &str,
        k: &DetectorKey<'_>,
        frames: Vec<eval::FrameLabels>,
        input_id: &str,
    ) -> Result<DetectorEval> {
        let key = hash(&["eval", &toml::to_string(&self.cfg.eval)?, input_id]);
        let json_path = dir.join("ap.json");
        let cfg = eval::EvalConfig {
            classes: vec![k.detector.eval_class()?],
            iou_sets: self.cfg.iou_sets()?,
            difficulties: true,
            ranges: self.cfg.eval.ranges.clone(),
            height_scale: self.height_scale(),
        };
        let out = json_path.clone();
        self.stage(dir, "eval", what, &key, |_| {
            let r = eval::evaluate(&frames, &cfg);
            let text = serde_json::to_string_pretty(&eval::report::json(&r))?;
            kitti::io::write_atomic(&out, text.as_bytes())?;
            Ok(())
        })?;
        let text = std::fs::read_to_string(&json_path)
            .with_context(|| format!("reading {}", json_path.display()))?;
        Ok(DetectorEval {
            upstream_seed: k.seed,
            detector_seed: k.detector_seed.seed,
            aps: serde_json::from_str(&text)?,
            frames,
        })
    }
}
