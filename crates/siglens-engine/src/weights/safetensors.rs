//! Hugging Face `model.safetensors`: f32, f16 and bf16 are read and kept as f32.

use std::collections::HashMap;

use candle_core::{DType, Device};

use super::{StoredTensor, WeightMap};
use crate::error::{Error, Result};

fn to_map(tensors: HashMap<String, candle_core::Tensor>) -> Result<WeightMap> {
    let mut out = HashMap::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = match t.dtype() {
            DType::F32 => t,
            DType::F16 | DType::BF16 | DType::F64 => t.to_dtype(DType::F32)?,
            other => {
                return Err(Error::Weights(format!(
                    "tensor {name} has unsupported dtype {other:?}"
                )))
            }
        };
        out.insert(name, StoredTensor::Dense(t));
    }
    Ok(WeightMap::new(out))
}

/// Parses a whole safetensors file held in memory.
pub fn load_safetensors_bytes(bytes: &[u8]) -> Result<WeightMap> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| Error::Weights(format!("model.safetensors: {e}")))?;
    to_map(tensors)
}

/// Memory-maps a safetensors file so the raw file is not held next to the f32 copy.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_safetensors_file(path: &std::path::Path) -> Result<WeightMap> {
    // SAFETY: the file is opened read-only and not modified while mapped.
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }
        .map_err(|e| Error::Weights(format!("{}: {e}", path.display())))?;
    let mut tensors = HashMap::new();
    for (name, _) in st.tensors() {
        let t = st
            .load(&name, &Device::Cpu)
            .map_err(|e| Error::Weights(format!("{}: tensor {name}: {e}", path.display())))?;
        tensors.insert(name, t);
    }
    to_map(tensors)
}

#[cfg(target_arch = "wasm32")]
pub fn load_safetensors_file(_path: &std::path::Path) -> Result<WeightMap> {
    Err(Error::Unsupported(
        "files are read by the worker, not the engine, on the web".into(),
    ))
}
