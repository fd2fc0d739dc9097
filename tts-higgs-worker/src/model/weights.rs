//! Weight loading with a strict inventory: every tensor the model asks for must exist with the
//! shape the config implies, and every tensor in the checkpoint must be asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

use super::ModelError;
use super::backbone::Backbone;
use super::config::HiggsConfig;

/// Where a named tensor comes from, and what shape it has there.
pub trait TensorSource: Send + Sync {
    fn shape_of(&self, name: &str) -> Option<Vec<usize>>;
    fn load(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor>;
    fn names(&self) -> Vec<String>;
}

/// A shape-only checkpoint (names and shapes, no data): `load` gives a broadcast zero of the right
/// shape that allocates one element, so even the 3B model "loads" in no memory.
pub struct ShapeOnly(pub BTreeMap<String, Vec<usize>>);

impl TensorSource for ShapeOnly {
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.0.get(name).cloned()
    }
    fn load(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let shape = self
            .0
            .get(name)
            .ok_or_else(|| candle_core::Error::CannotFindTensor {
                path: name.to_owned(),
            })?;
        Tensor::zeros(1, dtype, dev)?.broadcast_as(shape.as_slice())
    }
    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

struct Mmaped(candle_core::safetensors::MmapedSafetensors);

impl TensorSource for Mmaped {
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.0.get(name).ok().map(|v| v.shape().to_vec())
    }
    fn load(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.load(name, dev)?.to_dtype(dtype)
    }
    fn names(&self) -> Vec<String> {
        self.0.tensors().into_iter().map(|(n, _)| n).collect()
    }
}

/// A VarBuilder backend that checks each request against the source and records it, so missing,
/// mis-shaped and unused tensors are all reported by name.
struct Inventory<S> {
    source: S,
    used: Mutex<BTreeSet<String>>,
    problem: Mutex<Option<ModelError>>,
}

impl<S: TensorSource> Inventory<S> {
    fn note(&self, err: ModelError) {
        if let Ok(mut p) = self.problem.lock() {
            p.get_or_insert(err);
        }
    }
}

impl<S: TensorSource> SimpleBackend for Inventory<S> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let Some(found) = self.source.shape_of(name) else {
            self.note(ModelError::MissingTensor(name.to_owned()));
            return Err(candle_core::Error::CannotFindTensor {
                path: name.to_owned(),
            });
        };
        if found != s.dims() {
            self.note(ModelError::TensorShape {
                name: name.to_owned(),
                expected: s.dims().to_vec(),
                found: found.clone(),
            });
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: found.into(),
            });
        }
        if let Ok(mut used) = self.used.lock() {
            used.insert(name.to_owned());
        }
        self.source.load(name, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        if let Ok(mut used) = self.used.lock() {
            used.insert(name.to_owned());
        }
        self.source.load(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.source.shape_of(name).is_some()
    }
}

/// Builds the backbone from `source`, failing on a missing, mis-shaped or unused tensor.
pub fn build_backbone<S: TensorSource + 'static>(
    cfg: &HiggsConfig,
    source: S,
    dtype: DType,
    device: &Device,
) -> Result<Backbone, ModelError> {
    let inventory = std::sync::Arc::new(Inventory {
        source,
        used: Mutex::new(BTreeSet::new()),
        problem: Mutex::new(None),
    });
    let backend: Box<dyn SimpleBackend> = Box::new(SharedInventory(inventory.clone()));
    let vb = VarBuilder::from_backend(backend, dtype, device.clone());
    let built = Backbone::load(cfg, vb);
    let problem = inventory.problem.lock().ok().and_then(|mut p| p.take());
    let backbone = match (built, problem) {
        (_, Some(problem)) => return Err(problem),
        (Err(e), None) => return Err(e.into()),
        (Ok(b), None) => b,
    };
    let used = inventory.used.lock().map(|u| u.clone()).unwrap_or_default();
    let unused: Vec<String> = inventory
        .source
        .names()
        .into_iter()
        .filter(|n| !used.contains(n))
        .collect();
    if !unused.is_empty() {
        return Err(ModelError::UnexpectedTensors(unused));
    }
    Ok(backbone)
}

struct SharedInventory<S>(std::sync::Arc<Inventory<S>>);

impl<S: TensorSource> SimpleBackend for SharedInventory<S> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.0.get(s, name, h, dtype, dev)
    }
    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.get_unchecked(name, dtype, dev)
    }
    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains_tensor(name)
    }
}

/// The safetensors files of `model_dir`: `model.safetensors`, or the shards that
/// `model.safetensors.index.json` lists.
pub fn safetensors_files(model_dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let index = model_dir.join("model.safetensors.index.json");
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|source| ModelError::Io {
            path: index.clone(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Config {
                path: index.clone(),
                source,
            })?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ModelError::BadIndex {
                path: index.clone(),
                reason: "no `weight_map` object".to_owned(),
            })?;
        let mut files = BTreeSet::new();
        for (tensor, file) in map {
            let file = file.as_str().ok_or_else(|| ModelError::BadIndex {
                path: index.clone(),
                reason: format!("the file of `{tensor}` is not a string"),
            })?;
            files.insert(model_dir.join(file));
        }
        for f in &files {
            if !f.is_file() {
                return Err(ModelError::Io {
                    path: f.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "shard listed in the index is missing",
                    ),
                });
            }
        }
        return Ok(files.into_iter().collect());
    }
    let single = model_dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    Err(ModelError::NoWeights(model_dir.to_owned()))
}

/// Memory-maps the checkpoint's safetensors files and builds the backbone from them.
pub fn load_backbone(
    cfg: &HiggsConfig,
    model_dir: &Path,
    dtype: DType,
    device: &Device,
) -> Result<Backbone, ModelError> {
    let files = safetensors_files(model_dir)?;
    // SAFETY: the files are memory-mapped read-only; like every mmap-based loader we rely on
    // nobody truncating them while the model is alive.
    let mmaped =
        unsafe { candle_core::safetensors::MmapedSafetensors::multi(&files) }.map_err(|e| {
            ModelError::Io {
                path: model_dir.to_owned(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
    build_backbone(cfg, Mmaped(mmaped), dtype, device)
}
