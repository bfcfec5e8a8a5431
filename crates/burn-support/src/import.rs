//! Weights of a reference network read from a PyTorch checkpoint (burn-store's reader: the zip
//! format of PyTorch ≥ 1.6 and the legacy pickle format) and put into one of our networks
//! through an explicit table: each reference tensor name, the parameter of ours it fills, and
//! how its values are laid out. Anything the table and the file disagree on (a tensor missing
//! from the file, one the table does not know, a wrong shape, a parameter of ours no entry
//! fills) is one error listing all of them.

use burn::store::pytorch_reader::{DType, PytorchReader};
use burn::store::{bridge, ModuleSnapshot};
use burn::tensor::TensorData;
use kitti::KittiError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The keys under which checkpoints keep the network's weights, tried in this order (PSMNet's
/// `state_dict`, OpenPCDet's `model_state`); a file with none of them is a bare state dict.
const STATE_KEYS: [&str; 4] = ["state_dict", "model_state", "model_state_dict", "model"];

/// The prefix `nn.DataParallel` puts before every name.
const DATA_PARALLEL: &str = "module.";

/// Buffers that count training progress and hold no weights: batch norm's
/// `num_batches_tracked` and OpenPCDet's `global_step`.
fn is_bookkeeping(name: &str) -> bool {
    name.ends_with("num_batches_tracked") || name == "global_step"
}

/// A tensor of a reference checkpoint, as f32 in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceTensor {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// The values.
    pub values: Vec<f32>,
}

/// The network weights of a reference checkpoint, by their names in the reference code
/// (without the state-dict key and DataParallel prefix).
#[derive(Debug, Clone)]
pub struct ReferenceWeights {
    /// The checkpoint file.
    pub file: PathBuf,
    /// Tensors by name.
    pub tensors: BTreeMap<String, ReferenceTensor>,
    /// The key they were found under (`state_dict`, `model_state`, …), if any.
    pub state_key: Option<String>,
    /// Whether the names carried DataParallel's `module.` prefix.
    pub data_parallel: bool,
    /// Bookkeeping buffers left out (`num_batches_tracked`, `global_step`).
    pub dropped: usize,
}

/// Reads the network weights of a PyTorch checkpoint.
pub fn read_checkpoint(path: &Path) -> Result<ReferenceWeights, KittiError> {
    let bad = |message: String| KittiError::malformed(path, None, message);
    if path.is_dir() {
        return Err(bad(
            "a folder: give the checkpoint file (a .tar or .pth)".into()
        ));
    }
    if !path.is_file() {
        return Err(KittiError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let reader = PytorchReader::new(path).map_err(|e| {
        bad(format!(
            "not a PyTorch checkpoint (zip or legacy format): {e}"
        ))
    })?;
    let all = reader.into_tensors();
    let state_key = STATE_KEYS
        .iter()
        .find(|k| all.keys().any(|n| n.starts_with(&format!("{k}."))))
        .map(|k| k.to_string());
    let prefix = state_key
        .as_ref()
        .map(|k| format!("{k}."))
        .unwrap_or_default();
    let chosen: Vec<_> = all
        .into_iter()
        .filter_map(|(name, t)| name.strip_prefix(&prefix).map(|n| (n.to_string(), t)))
        .collect();
    let data_parallel =
        !chosen.is_empty() && chosen.iter().all(|(n, _)| n.starts_with(DATA_PARALLEL));
    let mut tensors = BTreeMap::new();
    let mut dropped = 0;
    for (name, tensor) in chosen {
        let name = match data_parallel {
            true => name[DATA_PARALLEL.len()..].to_string(),
            false => name,
        };
        if is_bookkeeping(&name) {
            dropped += 1;
            continue;
        }
        let bytes = tensor
            .read()
            .map_err(|e| bad(format!("tensor {name}: {e}")))?;
        let values = to_f32(tensor.dtype(), &bytes).ok_or_else(|| {
            bad(format!(
                "tensor {name}: element type {:?}, expected a float type (f32, f64, f16, bf16)",
                tensor.dtype()
            ))
        })?;
        let shape = tensor.shape().to_vec();
        tensors.insert(name, ReferenceTensor { shape, values });
    }
    if tensors.is_empty() {
        return Err(bad("holds no weight tensors".into()));
    }
    Ok(ReferenceWeights {
        file: path.to_path_buf(),
        tensors,
        state_key,
        data_parallel,
        dropped,
    })
}

/// Native-endian bytes of a float tensor as f32 (None for integer and boolean tensors).
fn to_f32(dtype: DType, bytes: &[u8]) -> Option<Vec<f32>> {
    let words = |n: usize| bytes.chunks_exact(n);
    Some(match dtype {
        DType::F32 => words(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        DType::F64 => words(8)
            .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        DType::F16 => words(2)
            .map(|b| half_to_f32(u16::from_ne_bytes([b[0], b[1]])))
            .collect(),
        DType::BF16 => words(2)
            .map(|b| f32::from_bits((u16::from_ne_bytes([b[0], b[1]]) as u32) << 16))
            .collect(),
        _ => return None,
    })
}

/// IEEE 754 half precision to single.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let shift = f.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((f << shift) & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// How a reference tensor's values become one of our parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The same shape and element order (convolutions, transposed convolutions, biases, batch
    /// norm vectors).
    Same,
    /// A PyTorch `nn.Linear` weight `[out, in]` as burn's `Linear` weight `[in, out]`.
    LinearTranspose,
    /// A 1×1 convolution weight `[out, in, 1, 1]` as a burn `Linear` weight `[in, out]`.
    PointwiseConv,
    /// A 1×1 transposed convolution weight `[in, out, 1, 1]` as a burn `Linear` `[in, out]`.
    PointwiseDeconv,
}

impl Layout {
    /// The shape a reference tensor must have to fill a parameter of shape `ours`.
    pub fn reference_shape(self, ours: &[usize]) -> Vec<usize> {
        match (self, ours) {
            (Layout::Same, _) => ours.to_vec(),
            (Layout::LinearTranspose, [i, o]) => vec![*o, *i],
            (Layout::PointwiseConv, [i, o]) => vec![*o, *i, 1, 1],
            (Layout::PointwiseDeconv, [i, o]) => vec![*i, *o, 1, 1],
            _ => ours.to_vec(),
        }
    }

    /// The reference values in our element order (the shape already checked).
    fn convert(self, t: &ReferenceTensor) -> Vec<f32> {
        match self {
            Layout::Same | Layout::PointwiseDeconv => t.values.clone(),
            Layout::LinearTranspose | Layout::PointwiseConv => {
                let (o, i) = (t.shape[0], t.shape[1]);
                let mut out = vec![0.0; o * i];
                for r in 0..o {
                    for c in 0..i {
                        out[c * o + r] = t.values[r * i + c];
                    }
                }
                out
            }
        }
    }
}

/// One row of a network's import table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The tensor's name in the reference code's state dict.
    pub reference: String,
    /// The parameter of ours it fills (burn's module path).
    pub ours: String,
    /// How its values are laid out.
    pub layout: Layout,
}

/// A network's import table: which reference tensor fills which of our parameters.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The rows, in the reference's order.
    pub entries: Vec<Entry>,
}

impl Table {
    /// One tensor.
    pub fn tensor(
        &mut self,
        reference: impl Into<String>,
        ours: impl Into<String>,
        layout: Layout,
    ) {
        self.entries.push(Entry {
            reference: reference.into(),
            ours: ours.into(),
            layout,
        });
    }

    /// A convolution's (or transposed convolution's) weight: `<reference>.weight` →
    /// `<ours>.weight`, same layout.
    pub fn conv(&mut self, reference: &str, ours: &str) {
        self.tensor(
            format!("{reference}.weight"),
            format!("{ours}.weight"),
            Layout::Same,
        );
    }

    /// A weight with a bias: `<reference>.{weight,bias}` → `<ours>.{weight,bias}`, the weight
    /// laid out as `layout`.
    pub fn weight_and_bias(&mut self, reference: &str, ours: &str, layout: Layout) {
        self.tensor(
            format!("{reference}.weight"),
            format!("{ours}.weight"),
            layout,
        );
        self.tensor(
            format!("{reference}.bias"),
            format!("{ours}.bias"),
            Layout::Same,
        );
    }

    /// A batch norm: PyTorch's weight, bias and running statistics → burn's gamma, beta,
    /// running_mean, running_var.
    pub fn batch_norm(&mut self, reference: &str, ours: &str) {
        for (r, o) in [
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "running_mean"),
            ("running_var", "running_var"),
        ] {
            self.tensor(
                format!("{reference}.{r}"),
                format!("{ours}.{o}"),
                Layout::Same,
            );
        }
    }

    /// The reference names, each once.
    pub fn reference_names(&self) -> BTreeSet<&str> {
        self.entries.iter().map(|e| e.reference.as_str()).collect()
    }
}

/// The names and shapes of a module's parameters and running statistics.
pub fn parameter_shapes<M: ModuleSnapshot>(module: &M) -> BTreeMap<String, Vec<usize>> {
    module
        .collect(None, None, true)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect()
}

/// What an imported run's state records about its source.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImportedFrom {
    /// The checkpoint file.
    pub file: String,
    /// The key its weights were under (`state_dict`, …), if any.
    pub state_key: Option<String>,
    /// Whether the names carried DataParallel's `module.` prefix.
    pub data_parallel: bool,
    /// Tensors imported.
    pub tensors: usize,
    /// Bookkeeping buffers left out (`num_batches_tracked`).
    pub dropped: usize,
}

impl ImportedFrom {
    /// The record of `weights`.
    pub fn of(weights: &ReferenceWeights) -> Self {
        ImportedFrom {
            file: weights.file.display().to_string(),
            state_key: weights.state_key.clone(),
            data_parallel: weights.data_parallel,
            tensors: weights.tensors.len(),
            dropped: weights.dropped,
        }
    }
}

/// The state file of an imported run.
#[derive(serde::Serialize)]
struct ImportState<'a> {
    imported_from: &'a ImportedFrom,
}

/// Refuses an `out` that already holds a run (its `config.toml` or `checkpoints/`): an import
/// replaces a folder's checkpoints, which would throw a training's away.
pub fn check_new_run_folder(out: &Path) -> Result<(), KittiError> {
    for existing in [out.join("config.toml"), out.join("checkpoints")] {
        if existing.exists() {
            return Err(KittiError::malformed(
                &existing,
                None,
                "already there: an import writes a new run folder (give another --out)",
            ));
        }
    }
    Ok(())
}

/// Saves `model`, imported from `weights`, as the only checkpoint of the run folder `out`
/// (whose config the caller writes); returns what the state records.
pub fn save_imported_run<N: burn::module::Module>(
    out: &Path,
    model: &N,
    weights: &ReferenceWeights,
) -> Result<ImportedFrom, KittiError> {
    let record = ImportedFrom::of(weights);
    crate::CheckpointFiles::new(out).save_imported(
        model,
        &ImportState {
            imported_from: &record,
        },
    )?;
    Ok(record)
}

/// How many entries of each kind of problem an error lists before it says "and N more".
const LISTED: usize = 12;

fn listing(title: &str, items: &[String]) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let mut text = format!("{} {title}:", items.len());
    for item in items.iter().take(LISTED) {
        text.push_str(&format!("\n  {item}"));
    }
    if items.len() > LISTED {
        text.push_str(&format!("\n  … and {} more", items.len() - LISTED));
    }
    Some(text)
}

/// Puts the reference weights into `module` through `table`; `network` names the reference
/// network in errors. Every tensor of the file must fill a parameter, every parameter (and
/// running statistic) of ours must be filled, each with its shape.
pub fn apply_table<M: ModuleSnapshot>(
    mut module: M,
    weights: &ReferenceWeights,
    table: &Table,
    network: &str,
) -> Result<M, KittiError> {
    let ours = parameter_shapes(&module);
    let mut missing = Vec::new();
    let mut wrong_shape = Vec::new();
    let mut unfilled: BTreeSet<&str> = ours.keys().map(String::as_str).collect();
    let mut tensors = Vec::new();
    for e in &table.entries {
        let Some(shape) = ours.get(&e.ours) else {
            missing.push(format!(
                "{} (the table names {}, which this network lacks)",
                e.reference, e.ours
            ));
            continue;
        };
        unfilled.remove(e.ours.as_str());
        let Some(t) = weights.tensors.get(&e.reference) else {
            missing.push(format!(
                "{} {:?}",
                e.reference,
                e.layout.reference_shape(shape)
            ));
            continue;
        };
        let expected = e.layout.reference_shape(shape);
        if t.shape != expected {
            wrong_shape.push(format!(
                "{}: {:?} in the file, {:?} expected",
                e.reference, t.shape, expected
            ));
            continue;
        }
        tensors.push(bridge::from_data(
            TensorData::new(e.layout.convert(t), shape.clone()),
            e.ours.clone(),
            None,
        ));
    }
    let known = table.reference_names();
    let unexpected: Vec<String> = weights
        .tensors
        .iter()
        .filter(|(n, _)| !known.contains(n.as_str()))
        .map(|(n, t)| format!("{n} {:?}", t.shape))
        .collect();
    let unfilled: Vec<String> = unfilled.into_iter().map(String::from).collect();
    let problems: Vec<String> = [
        listing("tensors missing from the file", &missing),
        listing(
            "unexpected tensors (not in the reference network)",
            &unexpected,
        ),
        listing("tensors of the wrong shape", &wrong_shape),
        listing("parameters of ours that no tensor fills", &unfilled),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !problems.is_empty() {
        return Err(KittiError::malformed(
            &weights.file,
            None,
            format!(
                "does not hold the {network} this import expects (check the architecture settings):\n{}",
                problems.join("\n")
            ),
        ));
    }
    let result = module.apply(tensors, None, None, true);
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        return Err(KittiError::malformed(
            &weights.file,
            None,
            format!("the weights could not be applied to the {network}: {result}"),
        ));
    }
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts_exactly() {
        for (bits, value) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x0001, 5.960_464_5e-8),
            (0x7bff, 65504.0),
            (0x0000, 0.0),
        ] {
            assert_eq!(half_to_f32(bits), value, "{bits:#06x}");
        }
        assert!(half_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn a_folder_or_a_missing_file_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let e = read_checkpoint(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("a folder: give the checkpoint file"), "{e}");
        let missing = tmp.path().join("finetune_300.tar");
        let e = read_checkpoint(&missing).err().unwrap().to_string();
        assert!(
            e.contains("finetune_300.tar") && e.contains("no such file"),
            "{e}"
        );
    }

    #[test]
    fn linear_weights_are_transposed() {
        let t = ReferenceTensor {
            shape: vec![2, 3],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        // [out 2, in 3] → [in 3, out 2]: row c of ours is column c of theirs.
        assert_eq!(
            Layout::LinearTranspose.convert(&t),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        assert_eq!(
            Layout::PointwiseConv.reference_shape(&[3, 2]),
            vec![2, 3, 1, 1]
        );
        assert_eq!(
            Layout::PointwiseDeconv.reference_shape(&[3, 2]),
            vec![3, 2, 1, 1]
        );
    }
}
