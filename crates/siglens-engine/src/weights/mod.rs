//! Where weights come from and how they are kept: Hugging Face safetensors (f32/f16/bf16)
//! or our single-file GGUF, held dense (f32) or quantized, by tensor name.

mod convert_stream;
mod gguf;
mod gguf_stream;
pub(crate) mod q8_0_runs;
mod safetensors;
mod storage;

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{ggml_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

pub use self::convert_stream::{ModelJson, SafetensorsToGguf};
pub use self::gguf::{read_gguf, write_gguf, GGUF_ARCH};
pub use self::gguf_stream::{Defer, GgufStream, TOKEN_TABLE};
pub use self::safetensors::{load_safetensors_bytes, load_safetensors_file};
pub use self::storage::{quantize_for_storage, ComputePolicy, MatmulCompute, StorageDType};

use crate::error::{Error, Result};
use crate::kernels::PackedI8;

/// One named tensor as stored.
#[derive(Debug, Clone)]
pub enum StoredTensor {
    Dense(Tensor),
    Quant(Arc<QTensor>),
    /// A linear layer's weights packed for our int8 kernel as they streamed in (`out x
    /// in`), so the model build does not pack them again.
    Packed(Arc<PackedI8>, [usize; 2]),
    /// Not read into memory: its bytes stay where the file is (the browser's cache), and
    /// whoever needs parts of it reads them there (the token table's rows, see
    /// [`GgufStream::defer`]).
    Deferred(DeferredTensor),
}

/// Where a tensor that was not read lies in its GGUF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredTensor {
    pub dtype: GgmlDType,
    pub dims: Vec<usize>,
    /// Absolute byte offset in the file.
    pub offset: u64,
    pub len: usize,
}

impl StoredTensor {
    pub fn dims(&self) -> &[usize] {
        match self {
            Self::Dense(t) => t.dims(),
            Self::Quant(q) => q.shape().dims(),
            Self::Packed(_, dims) => dims,
            Self::Deferred(d) => &d.dims,
        }
    }

    /// f32 copy (dequantizing if needed).
    pub fn to_f32(&self, device: &Device) -> Result<Tensor> {
        Ok(match self {
            Self::Dense(t) => t.to_dtype(DType::F32)?.to_device(device)?,
            Self::Quant(q) => q.dequantize(device)?,
            Self::Packed(p, dims) => Tensor::from_vec(p.dequantize(), dims.to_vec(), device)?,
            Self::Deferred(_) => {
                return Err(Error::Weights(
                    "a tensor left in the file was used as a whole (not read into memory)".into(),
                ))
            }
        })
    }

    /// f32 copy reshaped to `shape`, which must have the same number of elements.
    pub fn f32_shaped(&self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        let dims = self.dims();
        let n: usize = dims.iter().product();
        if n != shape.iter().product::<usize>() {
            return Err(Error::Weights(format!(
                "tensor {name} has shape {dims:?}, expected {shape:?}"
            )));
        }
        Ok(self.to_f32(device)?.reshape(shape)?)
    }

    /// A matrix cut into `parts` equal blocks of rows (nn.MultiheadAttention's q/k/v kept
    /// as one `in_proj_weight`), each in its stored form: quantized blocks stay quantized,
    /// so each part can take the int8 kernel like any linear.
    pub fn split_rows(&self, name: &str, parts: usize) -> Result<Vec<StoredTensor>> {
        let dims = self.dims().to_vec();
        if dims.len() != 2 || parts == 0 || !dims[0].is_multiple_of(parts) {
            return Err(Error::Weights(format!(
                "tensor {name} of shape {dims:?} does not split into {parts} row blocks"
            )));
        }
        let rows = dims[0] / parts;
        match self {
            Self::Quant(q) => {
                let dt = q.dtype();
                let row_bytes = dims[1] / dt.block_size() * dt.type_size();
                let data = q.data()?;
                (0..parts)
                    .map(|i| {
                        let raw = &data[i * rows * row_bytes..][..rows * row_bytes];
                        let t = ggml_file::qtensor_from_ggml(
                            dt,
                            raw,
                            vec![rows, dims[1]],
                            &Device::Cpu,
                        )
                        .map_err(|e| Error::Weights(format!("tensor {name}: {e}")))?;
                        Ok(Self::Quant(Arc::new(t)))
                    })
                    .collect()
            }
            _ => {
                let t = self.to_f32(&Device::Cpu)?;
                (0..parts)
                    .map(|i| Ok(Self::Dense(t.narrow(0, i * rows, rows)?.contiguous()?)))
                    .collect()
            }
        }
    }

    pub fn size_in_bytes(&self) -> usize {
        match self {
            Self::Dense(t) => t.elem_count() * t.dtype().size_in_bytes(),
            Self::Quant(q) => q.storage_size_in_bytes(),
            Self::Packed(p, _) => p.size_in_bytes(),
            Self::Deferred(_) => 0,
        }
    }
}

/// All tensors of a checkpoint, by their `transformers` names.
#[derive(Debug, Default, Clone)]
pub struct WeightMap {
    tensors: HashMap<String, StoredTensor>,
}

impl WeightMap {
    pub fn new(tensors: HashMap<String, StoredTensor>) -> Self {
        Self { tensors }
    }

    pub fn get(&self, name: &str) -> Result<&StoredTensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::Weights(format!("tensor {name} is missing")))
    }

    /// Moves a tensor out, so that a model being built frees each stored tensor as soon as
    /// its compute form exists (loading never holds two full copies of the weights).
    pub fn take(&mut self, name: &str) -> Result<StoredTensor> {
        self.tensors
            .remove(name)
            .ok_or_else(|| Error::Weights(format!("tensor {name} is missing")))
    }

    pub fn insert(&mut self, name: String, t: StoredTensor) {
        self.tensors.insert(name, t);
    }

    /// A dense f32 tensor with the expected shape.
    pub fn f32(&self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        self.get(name)?.f32_shaped(name, shape, device)
    }

    /// Drops every tensor whose name starts with `prefix` (a tower this engine will not run).
    pub fn drop_prefix(&mut self, prefix: &str) {
        self.tensors.retain(|name, _| !name.starts_with(prefix));
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &StoredTensor)> {
        self.tensors.iter()
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    pub fn size_in_bytes(&self) -> usize {
        self.tensors.values().map(StoredTensor::size_in_bytes).sum()
    }

    /// Storage dtype histogram, e.g. for `siglens info`.
    pub fn dtype_summary(&self) -> Vec<(String, usize, usize)> {
        let mut m: HashMap<String, (usize, usize)> = HashMap::new();
        for t in self.tensors.values() {
            let k = match t {
                StoredTensor::Dense(t) => format!("{:?}", t.dtype()).to_lowercase(),
                StoredTensor::Quant(q) => format!("{:?}", q.dtype()).to_lowercase(),
                StoredTensor::Packed(..) => "int8 (packed)".into(),
                StoredTensor::Deferred(d) => format!("{:?} (in the file)", d.dtype).to_lowercase(),
            };
            let e = m.entry(k).or_default();
            e.0 += 1;
            e.1 += t.size_in_bytes();
        }
        let mut v: Vec<_> = m.into_iter().map(|(k, (n, b))| (k, n, b)).collect();
        v.sort();
        v
    }
}

/// Everything one model needs, whatever file(s) it came from.
pub struct ModelFiles {
    pub config_json: String,
    /// Absent in some checkpoints; SigLIP 2 defaults apply then.
    pub preprocessor_json: Option<String>,
    pub tokenizer_json: String,
    /// `tokenizer_config.json`: padding side and whether an attention mask is produced.
    pub tokenizer_config_json: Option<String>,
    pub weights: WeightMap,
}

#[cfg(not(target_arch = "wasm32"))]
mod dir;
#[cfg(not(target_arch = "wasm32"))]
pub use dir::load_model_path;
