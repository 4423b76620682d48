//! Reads our GGUF as it arrives (a download, or chunks out of IndexedDB), turning each
//! tensor into the form the model computes on as soon as its bytes are complete and
//! dropping them. The whole file is never held in memory, so the peak while loading stays
//! near the size of the loaded model rather than file + model.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use candle_core::quantized::{ggml_file, gguf_file, GgmlDType};
use candle_core::Device;

use super::gguf::{declared_tensor_bytes, model_files_from_metadata};
use super::{ComputePolicy, ModelFiles, StoredTensor, WeightMap};
use crate::error::{Error, Result};

/// Padding allowed between tensors (files written by `siglens quantize` align to 32 bytes).
const MAX_GAP: u64 = 1 << 20;

/// The header (metadata with tokenizer.json, tensor table) must fit in this; a real
/// SigLIP 2 header is ~35 MB (the Gemma tokenizer). Beyond it the input is not our GGUF.
const MAX_HEADER_BYTES: usize = 256 << 20;

struct PendingTensor {
    name: String,
    dtype: GgmlDType,
    dims: Vec<usize>,
    /// Absolute offset in the file.
    start: u64,
    len: usize,
}

enum State {
    Header {
        /// Re-parse only when the buffer has doubled since the last failed attempt.
        next_attempt: usize,
    },
    Tensors {
        metadata: HashMap<String, gguf_file::Value>,
        /// In file order; `next` is the one being filled.
        pending: Vec<PendingTensor>,
        next: usize,
    },
}

/// Push bytes in file order with [`GgufStream::push`], then [`GgufStream::finish`].
pub struct GgufStream {
    policy: ComputePolicy,
    state: State,
    /// Bytes not consumed yet; `buf[0]` is at absolute offset `base`.
    buf: Vec<u8>,
    base: u64,
    tensors: HashMap<String, StoredTensor>,
    total_in: u64,
    prepared_bytes: u64,
}

impl GgufStream {
    /// `policy` decides, per tensor, what stays quantized: the rest is dequantized to f32 as
    /// it arrives, exactly as [`crate::Siglip::load`] would do later.
    pub fn new(policy: ComputePolicy) -> Self {
        Self {
            policy,
            state: State::Header {
                next_attempt: 1 << 16,
            },
            buf: Vec::new(),
            base: 0,
            tensors: HashMap::new(),
            total_in: 0,
            prepared_bytes: 0,
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.total_in
    }

    pub fn push(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.total_in += bytes.len() as u64;
        while !bytes.is_empty() {
            // Buffer at most up to the end of the tensor being filled, so the buffer never
            // grows past the largest tensor (no doubling of a 200 MB token table).
            let take = self.bytes_wanted().unwrap_or(bytes.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            self.advance()?;
        }
        Ok(())
    }

    /// Bytes still missing for the tensor being filled (`None`: no limit).
    fn bytes_wanted(&self) -> Option<usize> {
        let State::Tensors { pending, next, .. } = &self.state else {
            return None;
        };
        let t = pending.get(*next)?;
        let have = self.base + self.buf.len() as u64;
        Some(
            t.start
                .saturating_add(t.len as u64)
                .saturating_sub(have)
                .max(1) as usize,
        )
    }

    fn advance(&mut self) -> Result<()> {
        if let State::Header { next_attempt } = self.state {
            if self.buf.len() < next_attempt {
                return Ok(());
            }
            if !self.try_header(false)? {
                if self.buf.len() > MAX_HEADER_BYTES {
                    return Err(Error::Weights(format!(
                        "not a siglens GGUF: no complete header in the first {} MiB",
                        MAX_HEADER_BYTES >> 20
                    )));
                }
                self.state = State::Header {
                    next_attempt: self.buf.len() * 2,
                };
                return Ok(());
            }
        }
        self.drain_tensors()
    }

    /// Bytes of the tensors converted so far, in the form the model will hold them.
    pub fn prepared_bytes(&self) -> u64 {
        self.prepared_bytes
    }

    /// Parses the header from the buffer. `Ok(false)`: not enough bytes yet (or, at the
    /// end of the input, an error).
    fn try_header(&mut self, at_end: bool) -> Result<bool> {
        // Quick reject of wrong files without waiting for more bytes.
        if self.buf.len() >= 4 && &self.buf[..4] != b"GGUF" {
            return Err(Error::Weights(
                "not a GGUF file (bad magic); expected a model made by `siglens quantize`".into(),
            ));
        }
        let content = match gguf_file::Content::read(&mut Cursor::new(&self.buf[..])) {
            Ok(c) => c,
            Err(e) if at_end => {
                return Err(Error::Weights(format!("not a valid GGUF file: {e}")));
            }
            Err(_) => return Ok(false),
        };
        let mut pending = Vec::with_capacity(content.tensor_infos.len());
        for (name, info) in content.tensor_infos {
            let dims = info.shape.dims().to_vec();
            let len = declared_tensor_bytes(&name, &info)?;
            let start = content
                .tensor_data_offset
                .checked_add(info.offset)
                .ok_or_else(|| Error::Weights(format!("GGUF tensor {name}: bad offset")))?;
            pending.push(PendingTensor {
                name,
                dtype: info.ggml_dtype,
                dims,
                start,
                len,
            });
        }
        pending.sort_by_key(|t| t.start);
        for w in pending.windows(2) {
            if w[0].start.saturating_add(w[0].len as u64) > w[1].start {
                return Err(Error::Weights(format!(
                    "GGUF tensors {} and {} overlap",
                    w[0].name, w[1].name
                )));
            }
        }
        // Tensors follow each other with alignment padding only: a far-away offset would
        // make the stream buffer the gap (found by fuzzing: 71 TB).
        let mut prev_end = content.tensor_data_offset;
        for t in &pending {
            if t.start.saturating_sub(prev_end) > MAX_GAP {
                return Err(Error::Weights(format!(
                    "GGUF tensor {} starts {} bytes after the data before it (a damaged or \
                     foreign file)",
                    t.name,
                    t.start.saturating_sub(prev_end)
                )));
            }
            prev_end = t.start.saturating_add(t.len as u64);
        }
        self.state = State::Tensors {
            metadata: content.metadata,
            pending,
            next: 0,
        };
        Ok(true)
    }

    /// Converts every tensor whose bytes are complete and frees the bytes before it.
    fn drain_tensors(&mut self) -> Result<()> {
        let State::Tensors { pending, next, .. } = &mut self.state else {
            return Ok(());
        };
        let mut consumed_to = self.base;
        while let Some(t) = pending.get(*next) {
            let end = t.start.saturating_add(t.len as u64);
            if end > self.base + self.buf.len() as u64 {
                break;
            }
            let from = (t.start - self.base) as usize;
            let raw = &self.buf[from..from + t.len];
            let q = ggml_file::qtensor_from_ggml(t.dtype, raw, t.dims.clone(), &Device::Cpu)
                .map_err(|e| Error::Weights(format!("GGUF tensor {}: {e}", t.name)))?;
            let stored = match q.dtype() {
                GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
                    StoredTensor::Dense(q.dequantize(&Device::Cpu)?)
                }
                // The token table is looked up, not multiplied: it stays as stored.
                d if self.policy.keeps_quantized(d)
                    || t.name.ends_with("token_embedding.weight") =>
                {
                    StoredTensor::Quant(Arc::new(q))
                }
                _ => StoredTensor::Dense(q.dequantize(&Device::Cpu)?),
            };
            self.prepared_bytes += stored.size_in_bytes() as u64;
            self.tensors.insert(t.name.clone(), stored);
            consumed_to = end;
            *next += 1;
        }
        // Keep only what the next tensor still needs (skipping alignment padding too).
        let keep_from = match pending.get(*next) {
            Some(t) => t.start.max(consumed_to),
            None => self.base + self.buf.len() as u64,
        };
        let drop = (keep_from.saturating_sub(self.base) as usize).min(self.buf.len());
        if drop > 0 {
            self.buf.drain(..drop);
            self.base += drop as u64;
        }
        match pending.get(*next) {
            Some(t) => {
                // Exactly the next tensor's bytes: one allocation, no doubling.
                let need = (t.start.saturating_add(t.len as u64) - self.base) as usize;
                if self.buf.capacity() > 2 * need + (1 << 20) {
                    self.buf.shrink_to(need);
                }
                // An error, not an abort, where memory runs out (wasm32 has 4 GiB at most).
                self.buf
                    .try_reserve_exact(need.saturating_sub(self.buf.len()))
                    .map_err(|_| {
                        Error::Weights(format!(
                            "out of memory: GGUF tensor {} needs {} MB",
                            t.name,
                            need >> 20
                        ))
                    })?;
            }
            None => self.buf = Vec::new(),
        }
        Ok(())
    }

    /// All bytes pushed: the model files, or an error if the input ended early.
    pub fn finish(mut self) -> Result<ModelFiles> {
        if let State::Header { .. } = self.state {
            if !self.try_header(true)? {
                unreachable!("try_header(at_end) either parses or errors");
            }
            self.drain_tensors()?;
        }
        let State::Tensors {
            metadata,
            pending,
            next,
        } = self.state
        else {
            unreachable!("header parsed above");
        };
        if let Some(t) = pending.get(next) {
            return Err(Error::Weights(format!(
                "GGUF file is truncated: {} bytes received, tensor {} needs bytes up to {}",
                self.total_in,
                t.name,
                t.start.saturating_add(t.len as u64)
            )));
        }
        model_files_from_metadata(&metadata, WeightMap::new(self.tensors))
    }
}
