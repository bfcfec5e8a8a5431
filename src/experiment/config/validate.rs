//! Checks a study's config completely before any work starts: every field, the files it names
//! (training and detector configs, checkpoints and their architecture) and the data it needs.

use super::*;
use anyhow::{bail, Context, Result};

impl UpstreamConfig {
    /// Checks the perturbation fields: given for perturbed variants only, complete and in range.
    fn validate_perturbation(&self, synthetic: bool) -> Result<()> {
        let name = &self.name;
        let given = self.noise.is_some()
            || self.spread.is_some()
            || self.target_mae.is_some()
            || self.blur.is_some()
            || self.bleed.is_some();
        if self.kind != UpstreamKind::Perturbed {
            if given {
                bail!("upstream.{name}: noise, spread, target_mae, blur and bleed apply to perturbed variants only");
            }
        } else {
            if self.noise.is_none() {
                bail!("upstream.{name}.noise: a perturbed variant names its noise, \"disparity\" or \"depth\"");
            }
            match (self.spread, self.target_mae) {
                (Some(_), Some(_)) | (None, None) => bail!(
                    "upstream.{name}: give exactly one of `spread` (the noise's σ) and `target_mae` (the depth MAE on val it is calibrated to)"
                ),
                (Some(s), None) if !(s.is_finite() && (0.0..=MAX_SPREAD).contains(&s)) => bail!(
                    "upstream.{name}.spread: {s} is not between 0 and {MAX_SPREAD}"
                ),
                (None, Some(m)) if !(m.is_finite() && m > 0.0) => bail!(
                    "upstream.{name}.target_mae: {m} is not a positive number of metres"
                ),
                _ => {}
            }
            for (field, r) in [("blur", self.blur), ("bleed", self.bleed)] {
                if r.is_some_and(|r| r > MAX_RADIUS) {
                    bail!(
                        "upstream.{name}.{field}: {} px is more than the largest radius, {MAX_RADIUS} px",
                        r.unwrap_or(0)
                    );
                }
            }
        }
        if matches!(self.kind, UpstreamKind::Oracle | UpstreamKind::Perturbed) && !synthetic {
            bail!(
                "upstream.{name}: kind = \"{}\" needs the exact disparity of every pixel, which only synthetic data has (data.synthetic); real data has none",
                if self.kind == UpstreamKind::Oracle { "oracle" } else { "perturbed" }
            );
        }
        Ok(())
    }
}

impl ExperimentConfig {
    /// The frame ids of the train and val splits, known before any work: a synthetic set's
    /// from its settings, a KITTI root's from its split files. Errors name the field.
    fn split_frames(&self) -> Result<[Vec<String>; 2]> {
        let mut frames = [Vec::new(), Vec::new()];
        let fields = [
            ("data.train_split", &self.data.train_split),
            ("data.val_split", &self.data.val_split),
        ];
        for (ids, (field, split)) in frames.iter_mut().zip(fields) {
            *ids = match (&self.data.synthetic, &self.data.root) {
                (Some(s), _) => s.split_ids(split).with_context(|| {
                    format!(
                        "{field}: `{split}` is not a split of a synthetic set ({})",
                        synth::dataset::SPLITS.join(", ")
                    )
                })?,
                (None, Some(root)) => {
                    let root = kitti::KittiRoot::open(root).context("data.root")?;
                    root.split(split).context(field)?.ids
                }
                (None, None) => bail!("data: give exactly one of `root` and `synthetic`"),
            };
            if ids.is_empty() {
                bail!("{field}: the split `{split}` has no frames (a synthetic set's train_share decides how its frames divide into train and val)");
            }
        }
        Ok(frames)
    }

    /// The val split must share no frame with the train split: the study trains its upstream
    /// networks and detectors on the one and reports their errors and APs on the other.
    fn check_splits_disjoint(&self, train_ids: &[String], val_ids: &[String]) -> Result<()> {
        let (train, val) = (&self.data.train_split, &self.data.val_split);
        let shared = kitti::split::shared_ids(train_ids, val_ids);
        if let Some(first) = shared.first() {
            bail!(
                "data.val_split: `{val}` shares {} of its {} frames with data.train_split `{train}` (the first: {first}); the study would report errors and APs on frames its models were trained on: give splits with no frame in common (a synthetic set's are train and val), or set data.allow_shared_frames for a test",
                shared.len(),
                val_ids.len(),
            );
        }
        Ok(())
    }

    /// Checks everything that can be checked without doing the work: names, paths, configs,
    /// checkpoints (their architecture included).
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() || self.name.contains(['/', '\\']) {
            bail!("name: must be a plain folder name");
        }
        for dir in [&self.runs_dir, &self.run_dir()] {
            kitti::io::refuse_file_as_folder(dir).context("runs_dir")?;
        }
        unique_seeds("seeds", &self.seeds)?;
        if let Some(seeds) = &self.downstream_seeds {
            unique_seeds("downstream_seeds", seeds)?;
        }
        match (&self.data.root, &self.data.synthetic) {
            (Some(_), Some(_)) | (None, None) => {
                bail!("data: give exactly one of `root` and `synthetic`")
            }
            (Some(root), None) if !root.join("ImageSets").is_dir() => {
                bail!("data.root: {} has no ImageSets/ folder", root.display())
            }
            (None, Some(s)) => s.validate().context("data.synthetic")?,
            _ => {}
        }
        let [train_ids, val_ids] = self.split_frames()?;
        if !self.data.allow_shared_frames {
            self.check_splits_disjoint(&train_ids, &val_ids)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for u in &self.upstream {
            if !names.insert(u.name.as_str()) || u.name.contains(['/', '\\']) || u.name.is_empty() {
                bail!(
                    "upstream.{}: names must be unique plain folder names",
                    u.name
                );
            }
            u.validate_perturbation(self.data.synthetic.is_some())?;
            match (u.kind, u.max_disparity) {
                (UpstreamKind::Sgm, Some(d)) => disparity::sgm::check_max_disparity(d)
                    .map_err(|e| anyhow::anyhow!("upstream.{}.max_disparity: {e}", u.name))?,
                (UpstreamKind::Sgm, None) => {}
                (_, Some(_)) => bail!(
                    "upstream.{}.max_disparity: applies to sgm only (a network's range is its training config's model.max_disparity)",
                    u.name
                ),
                _ => {}
            }
            if matches!(u.kind, UpstreamKind::Psmnet | UpstreamKind::Sdn) {
                let cfg = u.train_config()?;
                cfg.validate()
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("upstream.{}", u.name))?;
                // The training crop must fit the frames (a crop cut to a smaller frame is not a
                // multiple of 16 and fails inside the network, after data and SGM have run).
                if let (Some(s), None) = (&self.data.synthetic, &u.checkpoint) {
                    let rig = synth::Rig::kitti_like(s.scale);
                    let [h, w] = cfg.crop;
                    if h > rig.height as usize || w > rig.width as usize {
                        bail!(
                            "upstream.{}: crop = [{h}, {w}] is larger than the synthetic frames ({} x {} at data.synthetic.scale = {}); the crop must fit in every training frame",
                            u.name,
                            rig.width,
                            rig.height,
                            s.scale
                        );
                    }
                }
                if let Some(run) = &u.checkpoint {
                    disparity::psmnet::run::check_run(&cfg, run)
                        .with_context(|| format!("upstream.{}.checkpoint", u.name))?;
                } else {
                    disparity::psmnet::run::start_weights(&cfg)
                        .with_context(|| format!("upstream.{}.init", u.name))?;
                }
                if cfg.select == Selection::BestVal && u.checkpoint.is_none() {
                    let n = train_ids.len();
                    if cfg.val_frames == 0 || cfg.val_frames >= n {
                        bail!(
                            "upstream.{}: select = \"best_val\" holds val_frames = {} out of the {n} training frames; it must be between 1 and {}",
                            u.name,
                            cfg.val_frames,
                            n - 1
                        );
                    }
                }
                if u.gt == TrainingTruth::Dense && self.data.synthetic.is_none() {
                    bail!(
                        "upstream.{}.gt = \"dense\": only synthetic data has dense exact disparity; use \"lidar\"",
                        u.name
                    );
                }
            } else if u.train.is_some()
                || u.loss.is_some()
                || u.checkpoint.is_some()
                || u.init.is_some()
                || u.gt != TrainingTruth::default()
            {
                bail!(
                    "upstream.{}: train, loss, checkpoint, init and gt apply to psmnet and sdn only",
                    u.name
                );
            }
        }
        if !names.contains(self.baseline.as_str()) {
            bail!(
                "baseline: `{}` is not one of the upstream variants ({})",
                self.baseline,
                names.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        if self
            .upstream
            .iter()
            .any(|u| u.name == self.baseline && u.kind == UpstreamKind::Lidar)
        {
            bail!(
                "baseline: `{}` is the real LiDAR, which has no upstream error to improve on; name a disparity variant (sgm, psmnet or sdn)",
                self.baseline
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for d in &self.downstream {
            if !names.insert(d.name.as_str()) || d.name.contains(['/', '\\']) || d.name.is_empty() {
                bail!(
                    "downstream.{}: names must be unique plain folder names",
                    d.name
                );
            }
            d.eval_class()?;
            d.detector_config()?;
        }
        if self.upstream.is_empty() || self.downstream.is_empty() || self.points.clouds.is_empty() {
            bail!("upstream, downstream and points.clouds must not be empty");
        }
        if let Some(dup) = first_repeat(&self.points.clouds) {
            bail!(
                "points.clouds: `{}` is listed twice (every cloud once)",
                dup.name()
            );
        }
        if let Some(e) = &self.points.edges {
            e.check().map_err(|m| anyhow::anyhow!("points.edges.{m}"))?;
        }
        self.validate_eval()
    }

    /// The `[eval]` table: IoU sets, the primary AP (a key the evaluation produces), ranges and
    /// the bootstrap.
    fn validate_eval(&self) -> Result<()> {
        let sets = self.iou_sets()?;
        if let Some(dup) = first_repeat(&sets) {
            bail!("eval.iou_sets: `{dup}` is listed twice");
        }
        match eval::IouSet::parse(&self.eval.primary_iou) {
            None => bail!(
                "eval.primary_iou: `{}` is not official, loose or strict",
                self.eval.primary_iou
            ),
            Some(p) if !sets.contains(&p) => bail!(
                "eval.primary_iou: `{}` is not one of eval.iou_sets ({}), so the evaluation would not compute the primary AP",
                self.eval.primary_iou,
                self.eval.iou_sets.join(", ")
            ),
            _ => {}
        }
        for (i, &(lo, hi)) in self.eval.ranges.iter().enumerate() {
            if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi) {
                bail!("eval.ranges: [{lo}, {hi}] is not a bin 0 <= lo < hi in metres");
            }
            if self.eval.ranges[..i].contains(&(lo, hi)) {
                bail!("eval.ranges: [{lo}, {hi}] is listed twice (its APs would repeat)");
            }
        }
        let filters: Vec<String> = ["easy", "moderate", "hard"]
            .iter()
            .map(|d| d.to_string())
            .chain(
                self.eval
                    .ranges
                    .iter()
                    .map(|&(lo, hi)| eval::Filter::Range(lo, hi).key()),
            )
            .collect();
        let parts: Vec<&str> = self.eval.primary.split('/').collect();
        if parts.len() != 3
            || !["2d", "bev", "3d"].contains(&parts[0])
            || !filters.iter().any(|f| f == parts[1])
            || !["R11", "R40"].contains(&parts[2])
        {
            bail!(
                "eval.primary: `{}` is not an AP the evaluation produces: metric (2d, bev, 3d) / filter ({}) / R11 or R40, e.g. 3d/moderate/R40",
                self.eval.primary,
                filters.join(", ")
            );
        }
        if self.eval.resamples < MIN_RESAMPLES {
            bail!(
                "eval.resamples: {} is too few for a 95 % interval; give at least {MIN_RESAMPLES}",
                self.eval.resamples
            );
        }
        if self.eval.resamples > MAX_RESAMPLES {
            bail!(
                "eval.resamples: {} is more than the intervals can afford; give at most \
                 {MAX_RESAMPLES} (each 1000 take about 2 s of the main job's report)",
                self.eval.resamples
            );
        }
        Ok(())
    }
}

/// Seeds must be given and listed once each.
fn unique_seeds(field: &str, seeds: &[u64]) -> Result<()> {
    if seeds.is_empty() {
        bail!("{field}: give at least one seed");
    }
    if let Some(dup) = first_repeat(seeds) {
        bail!("{field}: seed {dup} is listed twice (every seed must be unique)");
    }
    Ok(())
}

/// The first item that an earlier one equals.
fn first_repeat<T: Ord>(items: &[T]) -> Option<&T> {
    let mut seen = std::collections::BTreeSet::new();
    items.iter().find(|x| !seen.insert(*x))
}
