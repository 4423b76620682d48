//! Hugging Face `model.safetensors` in, our GGUF out, while the bytes stream in: each
//! tensor is converted to its storage dtype (quantized) as soon as its bytes are complete
//! and dropped. The GGUF header can be written before any tensor data because every
//! stored size follows from the safetensors header and [`storage_plan`]. So the browser
//! quantizes a 1.5 GB f32 checkpoint without ever holding it.

use std::collections::HashMap;

use candle_core::quantized::{gguf_file, GgmlDType};
use candle_core::{DType, Device, Tensor};

use super::gguf::metadata;
use super::storage::{storage_plan, stored_bytes};
use super::StorageDType;
use crate::error::{Error, Result};

/// A safetensors header beyond this is not a SigLIP checkpoint (base: ~60 kB).
const MAX_HEADER_BYTES: u64 = 100 << 20;
const ALIGN: usize = 32;

struct Planned {
    name: String,
    src_dtype: DType,
    /// Absolute byte range in the safetensors file.
    begin: u64,
    end: u64,
    out_dims: Vec<usize>,
    /// Elements per storage row (the last of `out_dims`; scalars are refused when planning).
    row: usize,
    ggml: GgmlDType,
}

enum State {
    Header,
    Tensors { plan: Vec<Planned>, next: usize },
}

/// The JSON files that go into the GGUF's metadata.
pub struct ModelJson<'a> {
    pub config_json: &'a str,
    pub preprocessor_json: Option<&'a str>,
    pub tokenizer_json: &'a str,
    pub tokenizer_config_json: Option<&'a str>,
}

pub struct SafetensorsToGguf {
    meta: Vec<(&'static str, gguf_file::Value)>,
    dtype: StorageDType,
    state: State,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]` in the safetensors input.
    base: u64,
    total_in: u64,
    /// GGUF bytes emitted so far (for alignment padding across pushes).
    out_pos: u64,
}

/// Input bytes converted at a time (whole rows).
const ROWS_CHUNK_BYTES: u64 = 4 << 20;

impl Planned {
    /// Source bytes of one storage row (rows never share a quantization block).
    fn row_bytes_in(&self) -> u64 {
        self.row as u64 * self.src_dtype.size_in_bytes() as u64
    }
}

fn ggml_code(d: GgmlDType) -> u32 {
    match d {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q4K => 12,
        GgmlDType::BF16 => 30,
        // storage_plan only picks the types above.
        other => unreachable!("storage dtype {other:?}"),
    }
}

fn stored_len(dims: &[usize], d: GgmlDType) -> usize {
    dims.iter().product::<usize>() / d.block_size() * d.type_size()
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(ALIGN) * ALIGN, 0);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::Weights(format!("model.safetensors: {msg}"))
}

impl SafetensorsToGguf {
    pub fn new(json: ModelJson, dtype: StorageDType) -> Self {
        Self {
            meta: metadata(
                json.config_json,
                json.preprocessor_json,
                json.tokenizer_json,
                json.tokenizer_config_json,
                dtype,
            ),
            dtype,
            state: State::Header,
            buf: Vec::new(),
            base: 0,
            total_in: 0,
            out_pos: 0,
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.total_in
    }

    /// Takes the next safetensors bytes; returns the GGUF bytes that are now ready.
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<Vec<u8>> {
        self.total_in += bytes.len() as u64;
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let take = self.bytes_wanted().min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            self.advance(&mut out)?;
        }
        Ok(out)
    }

    /// How many more bytes complete the current unit (header or tensor); at least 1.
    fn bytes_wanted(&self) -> usize {
        let have = self.base + self.buf.len() as u64;
        let until = match &self.state {
            State::Header if self.buf.len() < 8 => 8,
            State::Header => {
                8 + u64::from_le_bytes(self.buf[..8].try_into().expect("8 bytes"))
                    .min(MAX_HEADER_BYTES)
            }
            // Whole rows, up to ~4 MiB at a time: a tensor is never held whole.
            State::Tensors { plan, next } => match plan.get(*next) {
                Some(t) => {
                    let from = self.base.max(t.begin);
                    let row = t.row_bytes_in();
                    let rows = (ROWS_CHUNK_BYTES / row).max(1);
                    t.end.min(from + rows * row)
                }
                None => u64::MAX,
            },
        };
        until.saturating_sub(have).clamp(1, usize::MAX as u64) as usize
    }

    fn advance(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if let State::Header = self.state {
            if self.buf.len() < 8 {
                return Ok(());
            }
            let n = u64::from_le_bytes(self.buf[..8].try_into().expect("8 bytes"));
            if n > MAX_HEADER_BYTES {
                return Err(bad(format!(
                    "header of {n} bytes is not plausible (not a safetensors file?)"
                )));
            }
            if (self.buf.len() as u64) < 8 + n {
                return Ok(());
            }
            let plan = self.plan(&self.buf[8..8 + n as usize], 8 + n)?;
            self.write_header(&plan, out);
            self.out_pos = out.len() as u64;
            self.buf.drain(..8 + n as usize);
            self.base = 8 + n;
            self.state = State::Tensors { plan, next: 0 };
        }
        let State::Tensors { plan, next } = &mut self.state else {
            return Ok(());
        };
        while let Some(t) = plan.get(*next) {
            // Bytes between tensors (none in files written by safetensors) are skipped.
            if self.base < t.begin {
                let skip = ((t.begin - self.base) as usize).min(self.buf.len());
                self.buf.drain(..skip);
                self.base += skip as u64;
                if self.base < t.begin {
                    break;
                }
            }
            let row = t.row_bytes_in();
            let avail = (self.buf.len() as u64).min(t.end - self.base);
            let rows = avail / row;
            if rows > 0 {
                let n = (rows * row) as usize;
                let before = out.len();
                convert_rows(t, &self.buf[..n], rows as usize, out)?;
                self.out_pos += (out.len() - before) as u64;
                self.buf.drain(..n);
                self.base += n as u64;
            }
            if self.base < t.end {
                break;
            }
            // Tensor complete: pad to the alignment the header's offsets assume.
            let padding = (ALIGN - (self.out_pos as usize) % ALIGN) % ALIGN;
            out.resize(out.len() + padding, 0);
            self.out_pos += padding as u64;
            *next += 1;
        }
        Ok(())
    }

    fn plan(&self, header: &[u8], data_start: u64) -> Result<Vec<Planned>> {
        #[derive(serde::Deserialize)]
        struct Entry {
            dtype: String,
            shape: Vec<usize>,
            data_offsets: [u64; 2],
        }
        let raw: HashMap<String, serde_json::Value> = serde_json::from_slice(header)
            .map_err(|e| bad(format!("header is not valid JSON: {e}")))?;
        let mut plan = Vec::with_capacity(raw.len());
        for (name, v) in raw {
            if name == "__metadata__" {
                continue;
            }
            let e: Entry =
                serde_json::from_value(v).map_err(|e| bad(format!("tensor {name}: {e}")))?;
            let (src_dtype, size) = match e.dtype.as_str() {
                "F32" => (DType::F32, 4),
                "F16" => (DType::F16, 2),
                "BF16" => (DType::BF16, 2),
                other => return Err(bad(format!("tensor {name} has unsupported dtype {other}"))),
            };
            let elems = e
                .shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| bad(format!("tensor {name}: shape overflows")))?;
            let [a, b] = e.data_offsets;
            if b < a || (elems as u64).checked_mul(size) != Some(b - a) {
                return Err(bad(format!(
                    "tensor {name}: {} bytes for shape {:?} {}",
                    b.saturating_sub(a),
                    e.shape,
                    e.dtype
                )));
            }
            let (out_dims, ggml) = storage_plan(&name, &e.shape, self.dtype);
            let Some(&row) = out_dims.last() else {
                return Err(bad(format!("tensor {name} is a scalar")));
            };
            plan.push(Planned {
                name,
                src_dtype,
                begin: data_start + a,
                end: data_start + b,
                out_dims,
                row,
                ggml,
            });
        }
        plan.sort_by_key(|t| t.begin);
        for w in plan.windows(2) {
            if w[0].end > w[1].begin {
                return Err(bad(format!(
                    "tensors {} and {} overlap",
                    w[0].name, w[1].name
                )));
            }
        }
        Ok(plan)
    }

    /// The GGUF header (same layout as Candle's writer: version 2, 32-byte alignment),
    /// with offsets for the tensors in input order.
    fn write_header(&self, plan: &[Planned], out: &mut Vec<u8>) {
        out.extend_from_slice(&0x4655_4747u32.to_le_bytes());
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(plan.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.meta.len() as u64).to_le_bytes());
        for (k, v) in &self.meta {
            put_str(out, k);
            match v {
                gguf_file::Value::U32(x) => {
                    out.extend_from_slice(&4u32.to_le_bytes());
                    out.extend_from_slice(&x.to_le_bytes());
                }
                gguf_file::Value::String(s) => {
                    out.extend_from_slice(&8u32.to_le_bytes());
                    put_str(out, s);
                }
                other => unreachable!("metadata() only makes u32 and strings, not {other:?}"),
            }
        }
        let mut offset = 0usize;
        for t in plan {
            put_str(out, &t.name);
            out.extend_from_slice(&(t.out_dims.len() as u32).to_le_bytes());
            for &d in t.out_dims.iter().rev() {
                out.extend_from_slice(&(d as u64).to_le_bytes());
            }
            out.extend_from_slice(&ggml_code(t.ggml).to_le_bytes());
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            offset += stored_len(&t.out_dims, t.ggml).div_ceil(ALIGN) * ALIGN;
        }
        pad(out);
    }

    /// All input pushed: errors if it ended early.
    pub fn finish(self) -> Result<()> {
        match &self.state {
            State::Header => Err(bad(format!(
                "file ended after {} bytes, inside the header",
                self.total_in
            ))),
            State::Tensors { plan, next } => match plan.get(*next) {
                Some(t) => Err(bad(format!(
                    "file is truncated: {} bytes received, tensor {} needs bytes up to {}",
                    self.total_in, t.name, t.end
                ))),
                None => Ok(()),
            },
        }
    }
}

/// `rows` whole storage rows of a tensor in its storage dtype, appended to `out`. Rows never
/// share a quantization block (`storage_plan` picks a block size that divides the row), so
/// converting rows in pieces gives the same bytes as converting the tensor at once.
fn convert_rows(t: &Planned, raw: &[u8], rows: usize, out: &mut Vec<u8>) -> Result<()> {
    let same = matches!(
        (t.src_dtype, t.ggml),
        (DType::F32, GgmlDType::F32) | (DType::F16, GgmlDType::F16)
    );
    if same {
        // Little-endian in both formats: the bytes are already right.
        out.extend_from_slice(raw);
        return Ok(());
    }
    let row = t.row;
    let f = Tensor::from_raw_buffer(raw, t.src_dtype, &[rows, row], &Device::Cpu)?
        .to_dtype(DType::F32)?;
    match t.ggml {
        GgmlDType::F32 => {
            for v in f.flatten_all()?.to_vec1::<f32>()? {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        g => {
            let bytes = stored_bytes(&t.name, &f, g)
                .map_err(|e| bad(format!("quantizing {}: {e}", t.name)))?;
            out.extend_from_slice(&bytes);
        }
    }
    Ok(())
}
