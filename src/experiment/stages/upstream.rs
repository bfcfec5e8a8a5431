//! The upstream stages: each variant's disparity maps (trained networks, SGM, the controlled
//! variants) and their errors on val.

use super::*;

impl Study<'_> {
    /// The upstream stage of one variant and seed: train (psmnet/sdn), predict disparity for
    /// train and val, evaluate it on val.
    pub fn upstream(&self, u: &UpstreamConfig, seed: u64) -> Result<UpstreamOut> {
        if u.kind == UpstreamKind::Lidar {
            return Ok(UpstreamOut {
                id: hash(&["lidar", &self.data_id]),
                disparity: None,
                spread: None,
            });
        }
        let dir = self
            .dir
            .join("upstream")
            .join(&u.name)
            .join(seed_folder(u.seeded(), seed));
        if let Some(spec) = u.perturbation() {
            return self.controlled(u, seed, &spec, &dir);
        }
        let (settings, train_cfg) = match u.kind {
            UpstreamKind::Sgm => (format!("sgm {:?}", u.max_disparity), None),
            _ => {
                let mut t = u.train_config()?;
                t.seed = seed;
                (toml::to_string(&t)?, Some(t))
            }
        };
        // Given weights (a checkpoint to use, or start weights) are identified by their path
        // and their file's size and time.
        let stamp = |run: &Path| {
            let weights = disparity::psmnet::run::inference_weights(run);
            let meta = std::fs::metadata(&weights).ok();
            let stamp = meta.map(|m| (m.len(), m.modified().ok()));
            format!("{} {stamp:?}", weights.display())
        };
        let given: Vec<String> = [
            &u.checkpoint,
            &train_cfg.as_ref().and_then(|t| t.init.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|run| stamp(run))
        .collect();
        let truth = format!("{:?}", u.gt);
        let key = hash(&[
            "upstream",
            &settings,
            &given.join(" "),
            &truth,
            &self.data_id,
        ]);
        let disparity_dir = dir.join("disparity");
        let ids = self.all_ids();
        let (root, gt, val_ids, device) = (
            self.root.clone(),
            self.training_truth(u),
            self.val_ids.clone(),
            self.device.clone(),
        );
        let train_ids = self.train_ids.clone();
        let what = format!("{} seed {seed}", u.name);
        let work_dir = dir.clone();
        let id = self.stage(&dir, "upstream", &what, &key, |resume| {
            let model: Box<dyn DisparityModel> = match (u.kind, &train_cfg, &u.checkpoint) {
                (UpstreamKind::Sgm, _, _) => {
                    let max = u.max_disparity.unwrap_or(192);
                    Box::new(Sgm(SgmConfig {
                        max_disparity: max,
                        ..SgmConfig::default()
                    }))
                }
                (_, _, Some(run)) => load_trained(run, device.clone())?.0,
                (_, Some(t), None) => {
                    // Model selection never looks at the study's evaluation frames: a network
                    // that keeps its best epoch is validated on frames held out from training.
                    let ids = match t.select {
                        Selection::Last => (&train_ids[..], &val_ids[..]),
                        Selection::BestVal => {
                            train_ids.split_at(train_ids.len().saturating_sub(t.val_frames))
                        }
                    };
                    train_upstream(t, &u.name, &root, &gt, ids, &work_dir, &device, resume)?;
                    load_trained(&work_dir, device.clone())?.0
                }
                _ => unreachable!("validated: psmnet/sdn have a training config"),
            };
            let bar = progress::bar(ids.len() as u64, &format!("{} maps", u.name));
            predict_frames(
                model.as_ref(),
                &settings,
                &root,
                &ids,
                &disparity_dir,
                kitti::npy::MapFormat::Png,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            Ok(())
        })?;
        Ok(UpstreamOut {
            id,
            disparity: Some(dir.join("disparity")),
            spread: None,
        })
    }

    /// The upstream stage of an oracle or perturbed variant: the exact maps of train and val
    /// under its error model (noise seeded by `seed`), σ calibrated on val where it has a target.
    fn controlled(
        &self,
        u: &UpstreamConfig,
        seed: u64,
        spec: &disparity::controlled::PerturbSpec,
        dir: &Path,
    ) -> Result<UpstreamOut> {
        use disparity::controlled::write_perturbed_frames;
        let noise_seed = if u.seeded() { seed } else { 0 };
        let key = hash(&[
            "controlled",
            &format!("{spec:?}"),
            &noise_seed.to_string(),
            &self.data_id,
        ]);
        let maps = dir.join("disparity");
        let record = dir.join(PERTURBATION_FILE);
        let ids = self.all_ids();
        let what = format!("{} seed {seed}", u.name);
        let id = self.stage(dir, "upstream", &what, &key, |_| {
            let bar = progress::bar(ids.len() as u64, &format!("{} maps", u.name));
            let spread = write_perturbed_frames(
                &self.root.dir(Part::Training, FileKind::Disparity),
                &self.root.dir(Part::Training, FileKind::Calib),
                kitti::Baseline::REFERENCE,
                &ids,
                &self.val_ids,
                &maps,
                spec,
                noise_seed,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            let json = serde_json::json!({
                "kind": u.kind, "noise": u.noise, "spread": spread, "target_mae": u.target_mae,
                "blur": spec.blur, "bleed": spec.bleed, "seed": noise_seed,
            });
            kitti::io::write_atomic(&record, serde_json::to_string_pretty(&json)?.as_bytes())?;
            Ok(())
        })?;
        let text = kitti::io::read_text(&record)?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("reading {}", record.display()))?;
        Ok(UpstreamOut {
            id,
            disparity: Some(maps),
            spread: json["spread"].as_f64(),
        })
    }

    /// The disparity and depth errors of one variant's val maps: on all its pixels, and on the
    /// pixels that every map in `common` (the same seed's variants) predicts. Cheap next to
    /// training, so not cached: `metrics.json` beside the maps always matches them.
    pub fn upstream_metrics(
        &self,
        u: &UpstreamConfig,
        maps: &Path,
        common: &[PathBuf],
    ) -> Result<UpstreamMetrics> {
        let calib = self.root.dir(Part::Training, FileKind::Calib);
        let eval = |common: &[PathBuf]| {
            evaluate_frames(
                maps,
                &self.gt_disparity(),
                &calib,
                &self.class_source(),
                kitti::Baseline::REFERENCE,
                &self.val_ids,
                common,
                None,
                &|| {},
            )
        };
        let frames = eval(common)?;
        let m = UpstreamMetrics {
            own: Breakdown::total(&eval(&[])?),
            common: Breakdown::total(&frames),
            frames,
        };
        let json = serde_json::json!({
            "all_pixels": disparity::report::json(&[(u.name.clone(), m.own.clone())]),
            "common_pixels": disparity::report::json(&[(u.name.clone(), m.common.clone())]),
            "common_with": common,
        });
        let path = maps.parent().unwrap_or(maps).join("metrics.json");
        kitti::io::write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
        Ok(m)
    }
}

/// Trains a disparity network (the bar says `label`) into `dir` (config.toml, checkpoints/) on
/// train ids, validating on val ids, resuming when asked.
#[allow(clippy::too_many_arguments)]
fn train_upstream(
    cfg: &disparity::psmnet::training::TrainConfig,
    label: &str,
    root: &KittiRoot,
    gt: &Path,
    (train_ids, val_ids): (&[String], &[String]),
    dir: &Path,
    device: &Device,
    resume: bool,
) -> Result<()> {
    use disparity::psmnet::data::StereoDataset;
    use disparity::psmnet::training::train;
    kitti::io::write_atomic(&dir.join("config.toml"), toml::to_string(cfg)?.as_bytes())?;
    let ds = |ids: &[String]| {
        StereoDataset::new(root.clone(), ids.to_vec(), gt, kitti::Baseline::REFERENCE)
    };
    let steps = train_ids.len().div_ceil(cfg.batch_size.max(1)) as u64;
    let bar = progress::bar(steps * cfg.epochs as u64, label);
    train(
        cfg,
        &ds(train_ids),
        &ds(val_ids),
        dir,
        &device.clone().autodiff(),
        resume,
        &|p| {
            if let disparity::psmnet::training::Progress::Step(e, s, _, _) = p {
                bar.set_position(e as u64 * steps + s as u64 + 1);
            }
        },
    )?;
    bar.finish_and_clear();
    Ok(())
}
