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
use super::{ComputePolicy, DeferredTensor, MatmulCompute, ModelFiles, StoredTensor, WeightMap};
use crate::error::{Error, Result};
use crate::kernels::PackedI8;

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
    /// Left in the file (see [`GgufStream::defer`]): its bytes are passed over, never held.
    deferred: bool,
}

impl PendingTensor {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.len as u64)
    }
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
    defer: Option<Defer>,
}

/// Which tensors a [`GgufStream`] leaves in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defer {
    /// The text tower's token table, where its rows are whole blocks (so that rows can be
    /// read one by one; see `model::token_rows`).
    TokenTable,
    /// Every tensor of the text tower (an engine that embeds only images).
    TextTower,
}

impl Defer {
    fn applies(self, name: &str, dims: &[usize], dtype: GgmlDType) -> bool {
        match self {
            Self::TokenTable => {
                name == TOKEN_TABLE && dims.len() == 2 && dims[1].is_multiple_of(dtype.block_size())
            }
            Self::TextTower => name.starts_with("text_model."),
        }
    }
}

/// The token table's name in SigLIP checkpoints.
pub const TOKEN_TABLE: &str = "text_model.embeddings.token_embedding.weight";

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
            defer: None,
        }
    }

    /// Leaves `what` in the file: those tensors' bytes are passed over as they arrive (or
    /// not supplied at all, see [`GgufStream::skip`]) and the model files hold a
    /// [`StoredTensor::Deferred`] saying where they are. The browser leaves the 200 MB
    /// token table in its cache this way and reads the rows a text needs.
    pub fn defer(mut self, what: Defer) -> Self {
        self.defer = Some(what);
        self
    }

    /// While the header is not parsed yet: how many bytes it needs at least (exact once
    /// its long strings' lengths are read); `None` once it is parsed. A reader issuing
    /// reads ahead waits for the header before reading what may be deferred.
    pub fn header_bytes_needed(&self) -> Option<u64> {
        match self.state {
            State::Header { next_attempt } => Some(next_attempt as u64),
            State::Tensors { .. } => None,
        }
    }

    /// Byte ranges `[start, end)` of the file, each a run of consecutive deferred tensors,
    /// once the header is parsed (empty before). Bytes inside one may be [`skip`]ped.
    ///
    /// [`skip`]: GgufStream::skip
    pub fn deferred_ranges(&self) -> Vec<(u64, u64)> {
        let State::Tensors { pending, .. } = &self.state else {
            return Vec::new();
        };
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut prev_deferred = false;
        for t in pending {
            match out.last_mut() {
                Some(last) if t.deferred && prev_deferred => last.1 = t.end(),
                _ if t.deferred => out.push((t.start, t.end())),
                _ => {}
            }
            prev_deferred = t.deferred;
        }
        out
    }

    /// The next `n` bytes of the file, not supplied: they must lie inside one of
    /// [`GgufStream::deferred_ranges`], from the current position.
    pub fn skip(&mut self, n: u64) -> Result<()> {
        if self.skippable().is_none_or(|k| k < n) {
            return Err(Error::Weights(format!(
                "{n} bytes skipped at offset {} hold tensors that are needed",
                self.total_in
            )));
        }
        self.total_in += n;
        self.base += n;
        self.advance()
    }

    /// Bytes from the current position that no tensor needs: to the end of the run of
    /// deferred tensors it is in (or just before), or the padding before the next tensor
    /// (kept out of the buffer so that each tensor starts it, aligned); `None` where the
    /// next bytes are needed.
    fn skippable(&self) -> Option<u64> {
        let State::Tensors { pending, next, .. } = &self.state else {
            return None;
        };
        let t = pending.get(*next)?;
        if !self.buf.is_empty() {
            return None;
        }
        if !t.deferred {
            return Some(t.start.saturating_sub(self.base)).filter(|&k| k > 0);
        }
        let run_end = pending[*next..]
            .iter()
            .take_while(|t| t.deferred)
            .last()?
            .end();
        Some(run_end.saturating_sub(self.base))
    }

    pub fn bytes_in(&self) -> u64 {
        self.total_in
    }

    pub fn push(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.total_in += bytes.len() as u64;
        while !bytes.is_empty() {
            if let Some(k) = self.skippable().filter(|&k| k > 0) {
                // A deferred tensor's bytes or padding: passed over, never copied.
                let n = k.min(bytes.len() as u64);
                bytes = &bytes[n as usize..];
                self.base += n;
                self.advance()?;
                continue;
            }
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
            match header_end(&self.buf) {
                HeaderEnd::NeedAtLeast(n) if n > MAX_HEADER_BYTES => {
                    return Err(Error::Weights(format!(
                        "not a siglens GGUF: its header would take {} MiB (at most {} expected)",
                        n >> 20,
                        MAX_HEADER_BYTES >> 20
                    )));
                }
                HeaderEnd::NeedAtLeast(n) => {
                    self.state = State::Header { next_attempt: n };
                    return Ok(());
                }
                HeaderEnd::Complete(_) | HeaderEnd::Unknown => {}
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
            let deferred = self
                .defer
                .is_some_and(|d| d.applies(&name, &dims, info.ggml_dtype));
            pending.push(PendingTensor {
                name,
                dtype: info.ggml_dtype,
                deferred,
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
            let end = t.end();
            if end > self.base + self.buf.len() as u64 {
                break;
            }
            let stored = if t.deferred {
                // Its bytes were passed over, never buffered.
                StoredTensor::Deferred(DeferredTensor {
                    dtype: t.dtype,
                    dims: t.dims.clone(),
                    offset: t.start,
                    len: t.len,
                })
            } else {
                let from = (t.start - self.base) as usize;
                prepare(self.policy, t, &self.buf[from..from + t.len])?
            };
            self.prepared_bytes += stored.size_in_bytes() as u64;
            self.tensors.insert(t.name.clone(), stored);
            consumed_to = end;
            *next += 1;
        }
        // Keep only what the next tensor still needs (skipping alignment padding too).
        let keep_from = match pending.get(*next) {
            // Nothing before or inside a deferred tensor is kept.
            Some(t) if t.deferred => self.base + self.buf.len() as u64,
            Some(t) => t.start.max(consumed_to),
            None => self.base + self.buf.len() as u64,
        };
        let drop = (keep_from.saturating_sub(self.base) as usize).min(self.buf.len());
        if drop > 0 {
            self.buf.drain(..drop);
            self.base += drop as u64;
        }
        match pending.get(*next) {
            Some(t) if t.deferred => {}
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

/// A complete tensor's bytes in the form the model computes on. A linear layer's q8_0 /
/// q4_0 weights are packed for our int8 kernel straight from the stream's bytes where the
/// policy computes them there (the browser): the model build would do the same from a copy
/// (`model::layers::Linear::new`).
fn prepare(policy: ComputePolicy, t: &PendingTensor, raw: &[u8]) -> Result<StoredTensor> {
    let is_linear = t.name.ends_with(".weight") && !t.name.contains("embedding");
    if is_linear && t.dims.len() == 2 && policy.matmul_compute(t.dtype) == MatmulCompute::Int8 {
        if let Some(p) = PackedI8::from_ggml(t.dtype, raw, t.dims[0], t.dims[1]) {
            return Ok(StoredTensor::Packed(Arc::new(p), [t.dims[0], t.dims[1]]));
        }
    }
    let q = ggml_file::qtensor_from_ggml(t.dtype, raw, t.dims.clone(), &Device::Cpu)
        .map_err(|e| Error::Weights(format!("GGUF tensor {}: {e}", t.name)))?;
    Ok(match q.dtype() {
        GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
            StoredTensor::Dense(q.dequantize(&Device::Cpu)?)
        }
        // The token table is looked up, not multiplied: it stays as stored.
        d if policy.keeps_quantized(d) || t.name == TOKEN_TABLE => StoredTensor::Quant(Arc::new(q)),
        _ => StoredTensor::Dense(q.dequantize(&Device::Cpu)?),
    })
}

/// How far a GGUF header reaches, from walking its structure (lengths only, nothing copied).
#[derive(Debug, PartialEq, Eq)]
enum HeaderEnd {
    /// The whole header (to the end of the tensor table) is this many bytes, all present.
    Complete(usize),
    /// Not all there: at least this many bytes are needed.
    NeedAtLeast(usize),
    /// Not a structure this walk knows (another version, a bad value type): parse to see.
    Unknown,
}

/// Where the header ends, so the stream parses it once, as soon as it is complete: the
/// model's bytes after it can then be told apart (and deferred ones skipped) from the
/// start, where retrying at doubling sizes would buffer up to twice the 35 MB header.
fn header_end(buf: &[u8]) -> HeaderEnd {
    struct Walk<'a> {
        buf: &'a [u8],
        at: usize,
    }
    // `Err(Some(n))`: n bytes needed; `Err(None)`: unknown structure.
    type Step<T> = std::result::Result<T, Option<usize>>;
    impl Walk<'_> {
        fn skip(&mut self, n: u64) -> Step<()> {
            let end = usize::try_from(n)
                .ok()
                .and_then(|n| self.at.checked_add(n))
                .ok_or(Some(usize::MAX))?;
            if end > self.buf.len() {
                return Err(Some(end));
            }
            self.at = end;
            Ok(())
        }
        fn bytes<const N: usize>(&mut self) -> Step<[u8; N]> {
            let from = self.at;
            self.skip(N as u64)?;
            Ok(self.buf[from..self.at].try_into().expect("N bytes"))
        }
        fn u32(&mut self) -> Step<u32> {
            Ok(u32::from_le_bytes(self.bytes()?))
        }
        fn u64(&mut self) -> Step<u64> {
            Ok(u64::from_le_bytes(self.bytes()?))
        }
        fn string(&mut self) -> Step<()> {
            let n = self.u64()?;
            self.skip(n)
        }
        fn value(&mut self, ty: u32) -> Step<()> {
            match ty {
                0 | 1 | 7 => self.skip(1),
                2 | 3 => self.skip(2),
                4..=6 => self.skip(4),
                10..=12 => self.skip(8),
                8 => self.string(),
                9 => {
                    let elem = self.u32()?;
                    let n = self.u64()?;
                    let fixed = match elem {
                        0 | 1 | 7 => Some(1),
                        2 | 3 => Some(2),
                        4..=6 => Some(4),
                        10..=12 => Some(8),
                        _ => None,
                    };
                    match fixed {
                        Some(size) => self.skip(n.checked_mul(size).ok_or(Some(usize::MAX))?),
                        None => (0..n).try_for_each(|_| self.value(elem)),
                    }
                }
                _ => Err(None),
            }
        }
    }
    let mut w = Walk { buf, at: 0 };
    let walked = (|| -> Step<usize> {
        let _magic = w.u32()?;
        if !matches!(w.u32()?, 2 | 3) {
            return Err(None);
        }
        let tensors = w.u64()?;
        let kvs = w.u64()?;
        for _ in 0..kvs {
            w.string()?;
            let ty = w.u32()?;
            w.value(ty)?;
        }
        for _ in 0..tensors {
            w.string()?;
            let dims = w.u32()?;
            w.skip(u64::from(dims) * 8 + 4 + 8)?;
        }
        Ok(w.at)
    })();
    match walked {
        Ok(n) => HeaderEnd::Complete(n),
        Err(Some(n)) => HeaderEnd::NeedAtLeast(n),
        Err(None) => HeaderEnd::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_walk_finds_where_a_written_header_ends() {
        use candle_core::quantized::{gguf_file, QTensor};
        use candle_core::Tensor;
        let t = Tensor::zeros((4, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
        let big = "x".repeat(100_000);
        let meta = [
            ("a.string", gguf_file::Value::String(big)),
            ("b.u32", gguf_file::Value::U32(7)),
            (
                "c.array",
                gguf_file::Value::Array(vec![gguf_file::Value::String("y".into()); 3]),
            ),
        ];
        let meta: Vec<(&str, &gguf_file::Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
        let mut file = Cursor::new(Vec::new());
        gguf_file::write(&mut file, &meta, &[("w", &q)]).unwrap();
        let file = file.into_inner();
        let content = gguf_file::Content::read(&mut Cursor::new(&file)).unwrap();
        let HeaderEnd::Complete(end) = header_end(&file) else {
            panic!("{:?}", header_end(&file));
        };
        // The tensor data begins at the next alignment boundary after the header.
        assert!(end as u64 <= content.tensor_data_offset);
        assert!(content.tensor_data_offset - (end as u64) < 32);
        assert_eq!(header_end(&file[..end]), HeaderEnd::Complete(end));
        // Cut inside the long string: its length is known, so the need is exact.
        match header_end(&file[..5000]) {
            HeaderEnd::NeedAtLeast(n) => assert!(n > 100_000 && n <= end, "{n}"),
            other => panic!("{other:?}"),
        }
        for cut in [0, 3, 9, end - 1] {
            assert!(matches!(header_end(&file[..cut]), HeaderEnd::NeedAtLeast(n) if n > cut));
        }
        let mut v1 = file.clone();
        v1[4] = 1;
        assert_eq!(header_end(&v1), HeaderEnd::Unknown);
    }
}
