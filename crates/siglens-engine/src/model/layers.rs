//! Building blocks shared by both towers: linear (dense f32 or quantized), layer norm,
//! multi-head attention, MLP, encoder.

use std::cell::RefCell;
use std::sync::Arc;

use candle_core::quantized::QMatMul;
use candle_core::{DType, Device, Module, Tensor, D};

use crate::config::Activation;
use crate::error::{Error, Result};
use crate::kernels::{InputPrecision, PackedI8};
use crate::weights::{ComputePolicy, MatmulCompute, StoredTensor, WeightMap};

use super::cpu_layer::CpuLayer;

/// Everything a layer needs to find and place its weights. Weights are moved out of the
/// map as layers take them, so each stored tensor is freed once its compute form exists.
pub struct Loader<'a> {
    pub weights: RefCell<WeightMap>,
    pub policy: ComputePolicy,
    pub device: &'a Device,
    /// Dense weights and activations are computed in this type (f32, or bf16/f16 on a GPU).
    pub dtype: DType,
}

impl Loader<'_> {
    pub fn take(&self, name: &str) -> Result<StoredTensor> {
        self.weights.borrow_mut().take(name)
    }

    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.take(name)?.f32_shaped(name, shape, self.device)
    }

    /// A dense tensor in the compute dtype, on the device.
    pub fn dense(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        Ok(self.f32(name, shape)?.to_dtype(self.dtype)?)
    }

    /// Quantized matmuls are measured and kept on the CPU only (`ComputePolicy`); a GPU
    /// gets every matrix dense in the compute dtype.
    pub fn matmul_compute(&self, q: candle_core::quantized::GgmlDType) -> MatmulCompute {
        if self.device.is_cpu() && self.dtype == DType::F32 {
            self.policy.matmul_compute(q)
        } else {
            MatmulCompute::F32
        }
    }

    /// A linear layer `out x in` named `{prefix}.weight` / `{prefix}.bias`.
    pub fn linear(&self, prefix: &str, in_dim: usize, out_dim: usize) -> Result<Linear> {
        let w = self.take(&format!("{prefix}.weight"))?;
        let bias = Some(self.dense(&format!("{prefix}.bias"), &[out_dim])?);
        Linear::new(w, &format!("{prefix}.weight"), in_dim, out_dim, bias, self)
    }

    pub fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.dense(&format!("{prefix}.weight"), &[dim])?,
            bias: self.dense(&format!("{prefix}.bias"), &[dim])?,
            eps: eps as f32,
        })
    }
}

/// `y = x W^T + b`, on f32 weights stored transposed (`in x out`, contiguous: the faster
/// layout for Candle's gemm), on a Candle quantized matrix, or on our packed int8 kernel,
/// as `ComputePolicy::matmul_compute` decides for the stored dtype.
#[derive(Debug, Clone)]
pub struct Linear {
    kind: LinearKind,
    bias: Option<Tensor>,
}

#[derive(Debug, Clone)]
enum LinearKind {
    DenseT(Tensor),
    Quant(QMatMul),
    /// Replaces the stored blocks (which are dropped): ~1.1 bytes a weight.
    Int8(Arc<PackedI8>),
}

impl Linear {
    pub fn new(
        w: StoredTensor,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        bias: Option<Tensor>,
        ld: &Loader,
    ) -> Result<Self> {
        let n: usize = w.dims().iter().product();
        if n != in_dim * out_dim {
            return Err(Error::Weights(format!(
                "{name} has shape {:?}, expected [{out_dim}, {in_dim}]",
                w.dims()
            )));
        }
        let kind = match &w {
            StoredTensor::Quant(q) if q.shape().dims() == [out_dim, in_dim] => {
                match ld.matmul_compute(q.dtype()) {
                    MatmulCompute::Candle => LinearKind::Quant(QMatMul::from_arc(q.clone())?),
                    // (The policy says Int8 only for dtypes the kernel packs exactly.)
                    MatmulCompute::Int8 => {
                        match PackedI8::from_ggml(q.dtype(), &q.data()?, out_dim, in_dim) {
                            Some(p) => LinearKind::Int8(Arc::new(p)),
                            None => Self::dense_t(&w, in_dim, out_dim, ld)?,
                        }
                    }
                    MatmulCompute::F32 => Self::dense_t(&w, in_dim, out_dim, ld)?,
                }
            }
            // Packed while streaming (`GgufStream`), for the int8 kernel this build runs.
            StoredTensor::Packed(p, dims)
                if *dims == [out_dim, in_dim] && ld.device.is_cpu() && ld.dtype == DType::F32 =>
            {
                LinearKind::Int8(p.clone())
            }
            _ => Self::dense_t(&w, in_dim, out_dim, ld)?,
        };
        Ok(Self { kind, bias })
    }

    fn dense_t(w: &StoredTensor, in_dim: usize, out_dim: usize, ld: &Loader) -> Result<LinearKind> {
        Ok(LinearKind::DenseT(
            w.to_f32(ld.device)?
                .to_dtype(ld.dtype)?
                .reshape((out_dim, in_dim))?
                .t()?
                .contiguous()?,
        ))
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, None, None)
    }

    /// The packed matrix and bias where this linear runs on the int8 kernel
    /// (`model/cpu_layer` takes them).
    pub fn int8_parts(&self) -> Option<(&Arc<PackedI8>, Option<&Tensor>)> {
        match &self.kind {
            LinearKind::Int8(p) => Some((p, self.bias.as_ref())),
            _ => None,
        }
    }

    /// `act(x W^T + b) + residual`. On CUDA the bias, the tanh GELU and the residual are one
    /// in-place pass over the matmul's output (`cuda_ops::bias_epilogue`); elsewhere they
    /// are Candle ops in that order, so the CPU and wasm results do not change.
    pub fn forward_with(
        &self,
        x: &Tensor,
        act: Option<Activation>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let in_dim = dims[dims.len() - 1];
        let rows = x.elem_count() / in_dim;
        let x2 = x.reshape((rows, in_dim))?;
        let y = match &self.kind {
            LinearKind::DenseT(wt) => x2.matmul(wt)?,
            LinearKind::Quant(q) => q.forward(&x2)?,
            LinearKind::Int8(p) => {
                let xv = x2.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                Tensor::from_vec(p.matmul(&xv, rows), (rows, p.out_dim()), x2.device())?
            }
        };
        let mut out_dims = dims;
        *out_dims.last_mut().expect("rank >= 1") = y.dim(1)?;
        #[cfg(feature = "cuda")]
        if let (Some(b), true) = (&self.bias, y.device().is_cuda()) {
            if matches!(act, None | Some(Activation::GeluPytorchTanh)) {
                let res = residual.map(|r| r.reshape(y.shape())).transpose()?;
                let gelu = act.is_some();
                crate::cuda_ops::bias_epilogue(&y, b, gelu, res.as_ref())?;
                return Ok(y.reshape(out_dims)?);
            }
        }
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let y = match act {
            Some(a) => activate(a, &y)?,
            None => y,
        };
        let y = y.reshape(out_dims)?;
        Ok(match residual {
            Some(r) => (r + y)?,
            None => y,
        })
    }

    /// One linear computing several on the same input, outputs side by side (the fused
    /// q/k/v projection on a GPU: one large GEMM instead of three). `None` unless every
    /// part is dense with a bias.
    pub fn concat_outputs(parts: &[&Linear]) -> Result<Option<Linear>> {
        let mut ws = Vec::new();
        let mut bs = Vec::new();
        for p in parts {
            match (&p.kind, &p.bias) {
                (LinearKind::DenseT(w), Some(b)) => {
                    ws.push(w.clone());
                    bs.push(b.clone());
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(Linear {
            kind: LinearKind::DenseT(Tensor::cat(&ws, 1)?),
            bias: Some(Tensor::cat(&bs, 0)?),
        }))
    }
}

#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// `(weight, bias, eps)`.
    pub fn parts(&self) -> (&Tensor, &Tensor, f32) {
        (&self.weight, &self.bias, self.eps)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(
            &x.contiguous()?,
            &self.weight,
            &self.bias,
            self.eps,
        )?)
    }
}

fn activate(act: Activation, x: &Tensor) -> Result<Tensor> {
    Ok(match act {
        Activation::GeluPytorchTanh => crate::kernels::gelu::gelu_tanh_tensor(x)?,
        Activation::GeluErf => x.gelu_erf()?,
        Activation::QuickGelu => (x * candle_nn::ops::sigmoid(&(x * 1.702)?)?)?,
        Activation::Relu => x.relu()?,
    })
}

#[derive(Debug, Clone)]
pub struct Mlp {
    pub(super) fc1: Linear,
    pub(super) fc2: Linear,
    pub(super) act: Activation,
}

impl Mlp {
    pub fn load(
        ld: &Loader,
        prefix: &str,
        hidden: usize,
        inter: usize,
        act: Activation,
    ) -> Result<Self> {
        Ok(Self {
            fc1: ld.linear(&format!("{prefix}.fc1"), hidden, inter)?,
            fc2: ld.linear(&format!("{prefix}.fc2"), inter, hidden)?,
            act,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_residual(x, None)
    }

    /// `fc2(act(fc1(x))) + residual`, the activation and residual fused where the device can.
    pub fn forward_residual(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let h = self.fc1.forward_with(x, Some(self.act), None)?;
        self.fc2.forward_with(&h, None, residual)
    }
}

/// Multi-head attention with q/k/v/out projections.
#[derive(Debug, Clone)]
pub struct Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    /// On a GPU, q/k/v as one projection for self-attention (`forward_self_residual`).
    qkv: Option<Linear>,
    pub heads: usize,
    pub head_dim: usize,
}

impl Attention {
    pub fn load(ld: &Loader, prefix: &str, hidden: usize, heads: usize) -> Result<Self> {
        let q = ld.linear(&format!("{prefix}.q_proj"), hidden, hidden)?;
        let k = ld.linear(&format!("{prefix}.k_proj"), hidden, hidden)?;
        let v = ld.linear(&format!("{prefix}.v_proj"), hidden, hidden)?;
        let qkv = if ld.device.is_cuda() {
            Linear::concat_outputs(&[&q, &k, &v])?
        } else {
            None
        };
        Ok(Self {
            q,
            k,
            v,
            out: ld.linear(&format!("{prefix}.out_proj"), hidden, hidden)?,
            qkv,
            heads,
            head_dim: hidden / heads,
        })
    }

    /// Attention whose queries come from another input (the vision head's probe).
    pub fn cross(
        q: Linear,
        k: Linear,
        v: Linear,
        out: Linear,
        hidden: usize,
        heads: usize,
    ) -> Self {
        Self {
            q,
            k,
            v,
            out,
            qkv: None,
            heads,
            head_dim: hidden / heads,
        }
    }

    fn scale(&self) -> f64 {
        (self.head_dim as f64).powf(-0.5)
    }

    /// `x + out(attention(x, x))`, the residual added in the out projection's epilogue. On a
    /// GPU q/k/v come from one projection (`qkv`), read in place by `attention`.
    pub fn forward_self_residual(
        &self,
        x: &Tensor,
        residual: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let o = match &self.qkv {
            Some(qkv) => {
                let hidden = x.dim(2)?;
                let y = qkv.forward(x)?;
                self.attention(
                    &y.narrow(2, 0, hidden)?,
                    &y.narrow(2, hidden, hidden)?,
                    &y.narrow(2, 2 * hidden, hidden)?,
                    mask,
                )?
            }
            None => self.attention(
                &self.q.forward(x)?,
                &self.k.forward(x)?,
                &self.v.forward(x)?,
                mask,
            )?,
        };
        self.out.forward_with(&o, None, Some(residual))
    }

    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        Ok(x.reshape((b, s, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?)
    }

    /// `xq` attends to `xkv`. `mask` is additive, broadcastable to `(b, heads, sq, skv)`.
    pub fn forward(&self, xq: &Tensor, xkv: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let o = self.attention(
            &self.q.forward(xq)?,
            &self.k.forward(xkv)?,
            &self.v.forward(xkv)?,
            mask,
        )?;
        self.out.forward(&o)
    }

    /// Attention over projected `(b, s, hidden)` q/k/v, heads merged back: the fused CUDA
    /// kernel where it applies (no mask; `cuda_ops::attention` says which inputs), else
    /// `attend`.
    fn attention(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        #[cfg(feature = "cuda")]
        if mask.is_none() {
            if let Some(o) = crate::cuda_ops::attention(q, k, v, self.heads, self.scale() as f32)? {
                return Ok(o);
            }
        }
        self.attend(q, k, v, mask)
    }

    /// Attention over projected `(b, s, hidden)` q/k/v, heads merged back, composed from
    /// Candle ops (any device and dtype, with a mask).
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, sq, hidden) = q.dims3()?;
        // Scaling q rather than the scores touches b*s*d values instead of b*h*s*s (3x fewer
        // for base at 224 px, and the scores are the largest tensor on a GPU); for the usual
        // power-of-two head sizes 1/sqrt(d) is a power of two, so the result is bit-identical.
        let q = (self.split_heads(q)? * self.scale())?;
        let k = self.split_heads(k)?;
        let v = self.split_heads(v)?;
        let mut w = q.matmul(&k.t()?)?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = crate::kernels::softmax::softmax_last_dim(&w)?;
        Ok(w.matmul(&v)?.transpose(1, 2)?.reshape((b, sq, hidden))?)
    }
}

#[derive(Debug, Clone)]
pub struct EncoderLayer {
    pub(super) ln1: LayerNorm,
    pub(super) attn: Attention,
    pub(super) ln2: LayerNorm,
    pub(super) mlp: Mlp,
}

#[derive(Debug, Clone)]
pub struct EncoderSpec {
    pub hidden: usize,
    pub inter: usize,
    pub heads: usize,
    pub layers: usize,
    pub eps: f64,
    pub act: Activation,
    /// How the fused layers quantize the MLP's input (`fc1`'s).
    pub mlp_input: InputPrecision,
}

/// Pre-norm transformer encoder (`{prefix}.layers.{i}`).
pub struct Encoder {
    layers: Layers,
}

/// Candle tensor ops (any device and dtype), or plain buffers where every linear runs on
/// the int8 kernel (`CpuLayer`: fused, threaded).
enum Layers {
    Tensors(Vec<EncoderLayer>),
    Cpu(Vec<CpuLayer>),
}

impl Encoder {
    pub fn load(ld: &Loader, prefix: &str, s: &EncoderSpec) -> Result<Self> {
        let layers: Vec<EncoderLayer> = (0..s.layers)
            .map(|i| {
                let p = format!("{prefix}.layers.{i}");
                Ok(EncoderLayer {
                    ln1: ld.layer_norm(&format!("{p}.layer_norm1"), s.hidden, s.eps)?,
                    attn: Attention::load(ld, &format!("{p}.self_attn"), s.hidden, s.heads)?,
                    ln2: ld.layer_norm(&format!("{p}.layer_norm2"), s.hidden, s.eps)?,
                    mlp: Mlp::load(ld, &format!("{p}.mlp"), s.hidden, s.inter, s.act)?,
                })
            })
            .collect::<Result<_>>()?;
        let cpu = ld.device.is_cpu() && ld.dtype == DType::F32 && ld.policy.fused_layers;
        let layers = if cpu && layers.iter().all(CpuLayer::applies) {
            // Each layer moves its packed matrices over (shared, not copied).
            Layers::Cpu(
                layers
                    .into_iter()
                    .map(|l| CpuLayer::from_layer(l, s.mlp_input))
                    .collect::<Result<_>>()?,
            )
        } else {
            Layers::Tensors(layers)
        };
        Ok(Self { layers })
    }

    /// Whether the layers run on plain buffers (`CpuLayer`).
    pub fn is_fused(&self) -> bool {
        matches!(self.layers, Layers::Cpu(_))
    }

    /// `x`: `(b, s, hidden)`. With `last_only`, the last layer computes only each
    /// sequence's last position past its keys and values (all the text tower pools; the
    /// same numbers for it): `(b, 1, hidden)` comes out.
    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>, last_only: bool) -> Result<Tensor> {
        let (b, s, hidden) = x.dims3()?;
        match &self.layers {
            Layers::Cpu(layers) => {
                let mask = match mask {
                    Some(m) => Some(m.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?),
                    None => None,
                };
                if mask.as_ref().is_some_and(|m| m.len() != b * s) {
                    return Err(Error::Unsupported("mask is not batch x seq".into()));
                }
                let mut v = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                for (i, l) in layers.iter().enumerate() {
                    let last = last_only && i + 1 == layers.len();
                    v = l.forward(&v, b, s, mask.as_deref(), last)?;
                }
                let sq = if last_only && !layers.is_empty() {
                    1
                } else {
                    s
                };
                Ok(Tensor::from_vec(v, (b, sq, hidden), x.device())?)
            }
            Layers::Tensors(layers) => {
                let mut x = x.clone();
                for (i, l) in layers.iter().enumerate() {
                    let h = l.ln1.forward(&x)?;
                    if last_only && i + 1 == layers.len() {
                        let hq = h.narrow(1, s - 1, 1)?.contiguous()?;
                        let r = x.narrow(1, s - 1, 1)?.contiguous()?;
                        x = (r + l.attn.forward(&hq, &h, mask)?)?;
                    } else {
                        x = l.attn.forward_self_residual(&h, &x, mask)?;
                    }
                    let h = l.ln2.forward(&x)?;
                    x = l.mlp.forward_residual(&h, Some(&x))?;
                }
                Ok(x)
            }
        }
    }
}

/// Row-wise L2 normalisation.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let n = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
    Ok(x.broadcast_div(&n)?)
}
