//! Our single-file model format: GGUF whose metadata also carries `config.json`,
//! `preprocessor_config.json` and `tokenizer.json`, so one file is a whole model.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType};
use candle_core::Device;

use super::storage::quantize_for_storage;
use super::{ModelFiles, StorageDType, StoredTensor, WeightMap};
use crate::error::{Error, Result};

pub const GGUF_ARCH: &str = "siglip";
const KEY_ARCH: &str = "general.architecture";
const KEY_VERSION: &str = "siglens.format_version";
const KEY_CONFIG: &str = "siglens.config_json";
const KEY_PREPROCESSOR: &str = "siglens.preprocessor_config_json";
const KEY_TOKENIZER: &str = "siglens.tokenizer_json";
const KEY_TOKENIZER_CONFIG: &str = "siglens.tokenizer_config_json";
const KEY_DTYPE: &str = "siglens.storage_dtype";
const FORMAT_VERSION: u32 = 1;

/// Writes `files` as one GGUF with weights stored as `dtype`.
pub fn write_gguf<W: Write + Seek>(
    w: &mut W,
    files: &ModelFiles,
    dtype: StorageDType,
) -> Result<()> {
    let tensors = quantize_for_storage(&files.weights, dtype)?;
    let meta = metadata(
        &files.config_json,
        files.preprocessor_json.as_deref(),
        &files.tokenizer_json,
        files.tokenizer_config_json.as_deref(),
        dtype,
    );
    let meta_refs: Vec<(&str, &gguf_file::Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &candle_core::quantized::QTensor)> =
        tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(w, &meta_refs, &tensor_refs)
        .map_err(|e| Error::Weights(format!("writing GGUF: {e}")))?;
    Ok(())
}

/// The metadata of our GGUF: the model's JSON files and the storage dtype.
pub(super) fn metadata(
    config_json: &str,
    preprocessor_json: Option<&str>,
    tokenizer_json: &str,
    tokenizer_config_json: Option<&str>,
    dtype: StorageDType,
) -> Vec<(&'static str, gguf_file::Value)> {
    let s = |v: &str| gguf_file::Value::String(v.to_string());
    let mut meta = vec![
        (KEY_ARCH, s(GGUF_ARCH)),
        (KEY_VERSION, gguf_file::Value::U32(FORMAT_VERSION)),
        (KEY_DTYPE, s(dtype.name())),
        (KEY_CONFIG, s(config_json)),
        (KEY_TOKENIZER, s(tokenizer_json)),
    ];
    if let Some(p) = preprocessor_json {
        meta.push((KEY_PREPROCESSOR, s(p)));
    }
    if let Some(p) = tokenizer_config_json {
        meta.push((KEY_TOKENIZER_CONFIG, s(p)));
    }
    meta
}

/// No SigLIP tensor comes near this (so400m's token table in f32 is 1.2 GB). A header that
/// declares more is damaged or hostile and is refused before anything is allocated.
const MAX_TENSOR_BYTES: u64 = 4 << 30;

/// The bytes a tensor's header entry declares, checked for overflow, whole blocks and
/// [`MAX_TENSOR_BYTES`] (found by fuzzing: a mutated shape asked for petabytes).
pub(crate) fn declared_tensor_bytes(name: &str, info: &gguf_file::TensorInfo) -> Result<usize> {
    let dims = info.shape.dims();
    let too_big = || {
        Error::Weights(format!(
            "GGUF tensor {name}: shape {dims:?} is larger than any SigLIP model's (a damaged or \
             foreign file)"
        ))
    };
    let elems = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(too_big)?;
    let bs = info.ggml_dtype.block_size();
    if !elems.is_multiple_of(bs) {
        return Err(Error::Weights(format!(
            "GGUF tensor {name}: {elems} elements do not fill {bs}-element blocks"
        )));
    }
    (elems / bs)
        .checked_mul(info.ggml_dtype.type_size())
        .filter(|&l| l as u64 <= MAX_TENSOR_BYTES)
        .ok_or_else(too_big)
}

/// Reads a GGUF written by [`write_gguf`]. f32 tensors become dense; f16 and quantized
/// tensors stay as stored (the model decides what to dequantize, once, at load).
pub fn read_gguf<R: Read + Seek>(r: &mut R) -> Result<ModelFiles> {
    let content = gguf_file::Content::read(r)
        .map_err(|e| Error::Weights(format!("not a valid GGUF file: {e}")))?;
    check_architecture(&content.metadata)?;
    let file_len = r
        .seek(std::io::SeekFrom::End(0))
        .map_err(|e| Error::Weights(format!("GGUF file: {e}")))?;
    let mut tensors = HashMap::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        // Checked before candle allocates what the header says.
        let len = declared_tensor_bytes(name, info)? as u64;
        let end = content
            .tensor_data_offset
            .checked_add(info.offset)
            .and_then(|s| s.checked_add(len));
        if end.is_none_or(|e| e > file_len) {
            return Err(Error::Weights(format!(
                "GGUF file is truncated: tensor {name} ends past the file's {file_len} bytes"
            )));
        }
        let q = content
            .tensor(r, name, &Device::Cpu)
            .map_err(|e| Error::Weights(format!("GGUF tensor {name}: {e}")))?;
        let t = match q.dtype() {
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
                StoredTensor::Dense(q.dequantize(&Device::Cpu)?)
            }
            _ => StoredTensor::Quant(Arc::new(q)),
        };
        tensors.insert(name.clone(), t);
    }
    model_files_from_metadata(&content.metadata, WeightMap::new(tensors))
}

fn metadata_text(meta: &HashMap<String, gguf_file::Value>, key: &str) -> Result<Option<String>> {
    match meta.get(key) {
        None => Ok(None),
        Some(v) => v
            .to_string()
            .map(|s| Some(s.clone()))
            .map_err(|_| Error::Weights(format!("GGUF metadata {key} is not a string"))),
    }
}

fn check_architecture(meta: &HashMap<String, gguf_file::Value>) -> Result<()> {
    match metadata_text(meta, KEY_ARCH)? {
        Some(a) if a == GGUF_ARCH => Ok(()),
        other => Err(Error::Weights(format!(
            "GGUF architecture is {other:?}, expected \"{GGUF_ARCH}\" (make one with `siglens quantize`)"
        ))),
    }
}

/// The JSON files our GGUF carries in its metadata, with the weights read from it.
pub(super) fn model_files_from_metadata(
    meta: &HashMap<String, gguf_file::Value>,
    weights: WeightMap,
) -> Result<ModelFiles> {
    check_architecture(meta)?;
    let text = |key: &str| metadata_text(meta, key);
    let config_json =
        text(KEY_CONFIG)?.ok_or_else(|| Error::Weights(format!("GGUF lacks {KEY_CONFIG}")))?;
    let tokenizer_json = text(KEY_TOKENIZER)?
        .ok_or_else(|| Error::Weights(format!("GGUF lacks {KEY_TOKENIZER}")))?;
    Ok(ModelFiles {
        config_json,
        preprocessor_json: text(KEY_PREPROCESSOR)?,
        tokenizer_json,
        tokenizer_config_json: text(KEY_TOKENIZER_CONFIG)?,
        weights,
    })
}
