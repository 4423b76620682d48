//! Storage dtypes (what goes in the file / cache) and the compute policy (what the
//! matmuls run on). Quantized storage must not force slow compute: see [`ComputePolicy`].

use std::str::FromStr;

use candle_core::quantized::{ggml_file, GgmlDType, QTensor};
use candle_core::Tensor;

use super::{q8_0_runs, StoredTensor, WeightMap};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDType {
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4K,
}

impl FromStr for StorageDType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "f32" => Self::F32,
            "f16" => Self::F16,
            "q8_0" | "q8" => Self::Q8_0,
            "q4_0" => Self::Q4_0,
            "q4k" | "q4_k" => Self::Q4K,
            other => {
                return Err(Error::Unsupported(format!(
                    "storage dtype {other:?} (choose f32, f16, q8_0, q4_0 or q4k)"
                )))
            }
        })
    }
}

impl StorageDType {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
            Self::Q4K => "q4k",
        }
    }

    fn ggml(self) -> GgmlDType {
        match self {
            Self::F32 => GgmlDType::F32,
            Self::F16 => GgmlDType::F16,
            Self::Q8_0 => GgmlDType::Q8_0,
            Self::Q4_0 => GgmlDType::Q4_0,
            Self::Q4K => GgmlDType::Q4K,
        }
    }
}

/// Tensors kept in f32 whatever the storage dtype: tiny, and precision-sensitive.
fn keep_f32(name: &str, dims: &[usize]) -> bool {
    dims.len() < 2
        || name.contains("position_embedding")
        || name.contains("probe")
        || name.contains("norm")
        || name.contains("logit_")
}

/// The storage shape: the patch-embedding conv kernel is stored as the (out, in) matrix it is.
fn storage_shape(name: &str, dims: &[usize]) -> Vec<usize> {
    if name.ends_with("patch_embedding.weight") && dims.len() == 4 {
        vec![dims[0], dims[1] * dims[2] * dims[3]]
    } else {
        dims.to_vec()
    }
}

/// The dtype a tensor is stored in: the target when its rows fit the block size, else the
/// next finer format that fits (q4k needs rows divisible by 256, q4_0/q8_0 by 32).
fn pick(target: GgmlDType, row: usize) -> GgmlDType {
    let chain: &[GgmlDType] = match target {
        GgmlDType::Q4K => &[
            GgmlDType::Q4K,
            GgmlDType::Q4_0,
            GgmlDType::Q8_0,
            GgmlDType::F16,
        ],
        GgmlDType::Q4_0 => &[GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::F16],
        GgmlDType::Q8_0 => &[GgmlDType::Q8_0, GgmlDType::F16],
        other => return other,
    };
    *chain
        .iter()
        .find(|d| row.is_multiple_of(d.block_size()))
        .unwrap_or(&GgmlDType::F16)
}

/// The shape and dtype tensor `name` is stored with for `dtype` (deterministic from the
/// name and shape, so a streaming writer knows every size before it sees the data).
pub(crate) fn storage_plan(
    name: &str,
    dims: &[usize],
    dtype: StorageDType,
) -> (Vec<usize>, GgmlDType) {
    let dims = storage_shape(name, dims);
    let ggml = if keep_f32(name, &dims) {
        GgmlDType::F32
    } else {
        pick(dtype.ggml(), dims[dims.len() - 1])
    };
    (dims, ggml)
}

/// Tensor `name` (f32, in its storage shape) as its stored bytes in `ggml`: q8_0 linears in
/// runs sharing a scale (`q8_0_runs`), all else as Candle quantizes it. Both writers, the
/// whole-file one below and the streaming `convert_stream`, quantize through here.
pub(crate) fn stored_bytes(name: &str, f: &Tensor, ggml: GgmlDType) -> Result<Vec<u8>> {
    if ggml == GgmlDType::Q8_0 && q8_0_runs::shares_scales(name) {
        let row = f.dims().last().copied().unwrap_or(0);
        return Ok(q8_0_runs::quantize(&f.flatten_all()?.to_vec1()?, row));
    }
    Ok(QTensor::quantize(f, ggml)?.data()?.into_owned())
}

/// Converts every tensor to its storage form for `dtype`, ready to write.
pub fn quantize_for_storage(
    weights: &WeightMap,
    dtype: StorageDType,
) -> Result<Vec<(String, QTensor)>> {
    let mut names: Vec<&String> = weights.names().collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let t = weights.get(name)?;
        let (dims, ggml) = storage_plan(name, t.dims(), dtype);
        let q = match t {
            StoredTensor::Quant(q) if q.dtype() == ggml => QTensor::new(
                candle_core::quantized::QStorage::from_data(
                    q.data()?,
                    &candle_core::Device::Cpu,
                    ggml,
                )?,
                dims,
            )?,
            _ => {
                let f: Tensor = t.to_f32(&candle_core::Device::Cpu)?.reshape(dims.clone())?;
                let bytes = stored_bytes(name, &f, ggml)?;
                ggml_file::qtensor_from_ggml(ggml, &bytes, dims, &candle_core::Device::Cpu)?
            }
        };
        out.push((name.clone(), q));
    }
    Ok(out)
}

/// Which quantized weights the linear layers compute on directly; all others are
/// dequantized to f32 once at load. Measured (BENCHMARKS.md, `examples/bench.rs`): natively
/// Candle's q8_0 and q4k matmuls beat f32 (~4.8 ms vs ~12 ms on a 197x768x3072 linear, 2
/// threads) while q4_0 is ~5x slower; in wasm every Candle quantized matmul is 2-4x slower
/// than f32 at SigLIP's shapes (shared/TOOLCHAIN.md), so the web never uses them.
/// Candle's q8_0 matmul is nonetheless off by default: it also quantizes the activations to
/// 8 bits, which costs fidelity (text cosine 0.9983 on the deep32 fixture, under the 0.999
/// q8_0 contract); the CLI's `--fast-q8` opts in. q4k is a size choice already, and its
/// quantized matmul matches its dequantized fidelity, so it stays quantized.
///
/// `int8_kernel`: q8_0 and q4_0 matrices (that Candle does not keep) compute on our own
/// int8 kernel (`kernels::PackedI8`: the stored int8 blocks and scales kept exact, 16-bit
/// activations per row). On where it beats Candle's f32 matmul (`kernels::int8_is_faster`):
/// in wasm (~2-3x, BENCHMARKS.md "Browser kernels", and ~1/4 of the f32 bytes) and on x86-64
/// CPUs with AVX-512 VNNI (~1.4-1.6x for the whole base vision tower); elsewhere natively
/// Candle's f32 is as fast as our AVX2 / scalar versions, so q8_0 stays dequantized.
///
/// `fused_layers`: where every linear of an encoder layer is on the int8 kernel (CPU, f32),
/// the layer runs on plain buffers with its steps fused and threaded (`model/cpu_layer`)
/// instead of as Candle tensor ops; off only to measure or check one against the other.
///
/// `coarse_mlp_input`: in those fused layers, the vision tower's MLP input (`fc1`'s) is
/// quantized to 7 bits on each row without outliers (`kernels::InputPrecision::Coarse`;
/// one dot per 16 multiply-adds where the relaxed-SIMD kernel runs, BENCHMARKS.md "7-bit MLP
/// inputs"); off, 14 bits like every other input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComputePolicy {
    pub quantized_q4k: bool,
    pub quantized_q8_0: bool,
    pub quantized_q4_0: bool,
    pub int8_kernel: bool,
    pub fused_layers: bool,
    pub coarse_mlp_input: bool,
}

/// What a linear layer computes on, for a weight stored in some dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulCompute {
    /// Dequantized to f32 at load (Candle's f32 matmul).
    F32,
    /// Candle's `QMatMul` on the stored blocks.
    Candle,
    /// `kernels::PackedI8` (q8_0 / q4_0 only).
    Int8,
}

impl ComputePolicy {
    pub fn for_this_platform() -> Self {
        let native = !cfg!(target_arch = "wasm32");
        Self {
            quantized_q4k: native,
            quantized_q8_0: false,
            quantized_q4_0: false,
            int8_kernel: crate::kernels::int8_is_faster(),
            fused_layers: true,
            coarse_mlp_input: true,
        }
    }

    /// Everything dequantized to f32 (reference numerics).
    pub fn all_f32() -> Self {
        Self {
            quantized_q4k: false,
            quantized_q8_0: false,
            quantized_q4_0: false,
            int8_kernel: false,
            fused_layers: true,
            coarse_mlp_input: true,
        }
    }

    pub fn matmul_compute(&self, dtype: GgmlDType) -> MatmulCompute {
        let (candle, int8) = match dtype {
            GgmlDType::Q4K => (self.quantized_q4k, false),
            GgmlDType::Q8_0 => (self.quantized_q8_0, self.int8_kernel),
            GgmlDType::Q4_0 => (self.quantized_q4_0, self.int8_kernel),
            _ => (false, false),
        };
        if candle {
            MatmulCompute::Candle
        } else if int8 {
            MatmulCompute::Int8
        } else {
            MatmulCompute::F32
        }
    }

    /// Whether a matrix stored in `dtype` is kept as stored at load (not dequantized).
    pub fn keeps_quantized(&self, dtype: GgmlDType) -> bool {
        self.matmul_compute(dtype) != MatmulCompute::F32
    }
}

impl Default for ComputePolicy {
    fn default() -> Self {
        Self::for_this_platform()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_fallback_follows_block_sizes() {
        assert_eq!(pick(GgmlDType::Q4K, 768), GgmlDType::Q4K);
        assert_eq!(pick(GgmlDType::Q4K, 64), GgmlDType::Q4_0);
        assert_eq!(pick(GgmlDType::Q8_0, 48), GgmlDType::F16);
        assert_eq!(pick(GgmlDType::F16, 7), GgmlDType::F16);
        assert!("q9".parse::<StorageDType>().is_err());
        assert_eq!("Q8_0".parse::<StorageDType>().unwrap(), StorageDType::Q8_0);
    }
}
