//! An encoder layer on plain f32 buffers, for the CPU when every linear runs on our int8
//! kernel (q8_0 / q4_0 in wasm, and natively on AVX-512 VNNI): q/k/v on one quantization
//! of their input (instead of three), bias / GELU / residual in the matmul's
//! epilogue, attention on `kernels::attention`, and natively every step over the threads.
//! As Candle ops the same layer spent ~45% of a native forward outside the matmuls, mostly
//! in serial element-wise passes and tensor copies.

use std::borrow::Cow;
use std::sync::Arc;

use super::layers::{EncoderLayer, LayerNorm, Linear};
use crate::config::Activation;
use crate::error::{Error, Result};
use crate::kernels::attention::{attention, Heads};
use crate::kernels::layer_norm::layer_norm_rows;
use crate::kernels::{Epilogue, InputPrecision, PackedI8};

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn new(ln: &LayerNorm) -> Result<Self> {
        let (w, b, eps) = ln.parts();
        Ok(Self {
            weight: w.to_vec1()?,
            bias: b.to_vec1()?,
            eps,
        })
    }

    fn forward(&self, x: &[f32]) -> Vec<f32> {
        layer_norm_rows(x, &self.weight, &self.bias, self.eps)
    }
}

/// A matrix on the int8 kernel and its bias.
struct Int8Linear {
    w: Arc<PackedI8>,
    bias: Vec<f32>,
}

impl Int8Linear {
    fn new(l: &Linear) -> Result<Option<Self>> {
        Ok(match l.int8_parts() {
            Some((w, Some(b))) => Some(Self {
                w: w.clone(),
                bias: b.to_vec1()?,
            }),
            _ => None,
        })
    }

    fn epilogue<'a>(&'a self, gelu: bool, residual: Option<&'a [f32]>) -> Epilogue<'a> {
        Epilogue {
            bias: Some(&self.bias),
            gelu,
            residual,
        }
    }

    fn forward(&self, x: &[f32], rows: usize, gelu: bool, residual: Option<&[f32]>) -> Vec<f32> {
        self.forward_at(x, rows, gelu, residual, InputPrecision::Fine)
    }

    fn forward_at(
        &self,
        x: &[f32],
        rows: usize,
        gelu: bool,
        residual: Option<&[f32]>,
        precision: InputPrecision,
    ) -> Vec<f32> {
        self.w
            .matmul_at(x, rows, &self.epilogue(gelu, residual), precision)
    }
}

pub struct CpuLayer {
    ln1: Norm,
    q: Int8Linear,
    k: Int8Linear,
    v: Int8Linear,
    out: Int8Linear,
    ln2: Norm,
    fc1: Int8Linear,
    fc2: Int8Linear,
    /// How `fc1` quantizes its (layer-normed) input.
    mlp_input: InputPrecision,
    heads: usize,
    head_dim: usize,
}

impl CpuLayer {
    /// Whether `l` can run here: every linear on the int8 kernel with a bias, q/k/v packed
    /// alike, the tanh GELU, and a head size the attention kernel tiles.
    pub fn applies(l: &EncoderLayer) -> bool {
        let a = &l.attn;
        fn int8(p: &Linear) -> Option<&PackedI8> {
            p.int8_parts().and_then(|(w, b)| b.map(|_| &**w))
        }
        let (Some(q), Some(k), Some(v)) = (int8(&a.q), int8(&a.k), int8(&a.v)) else {
            return false;
        };
        l.mlp.act == Activation::GeluPytorchTanh
            && a.head_dim.is_multiple_of(16)
            && a.heads * a.head_dim == q.out_dim()
            && PackedI8::can_share_input(&[q, k, v])
            && [&a.out, &l.mlp.fc1, &l.mlp.fc2]
                .iter()
                .all(|p| int8(p).is_some())
    }

    /// The layer on plain buffers (the same packed matrices); `l` must be one that
    /// [`Self::applies`] to; `mlp_input`: how `fc1` quantizes its input.
    pub fn from_layer(l: EncoderLayer, mlp_input: InputPrecision) -> Result<Self> {
        let EncoderLayer {
            ln1,
            attn,
            ln2,
            mlp,
        } = l;
        let lin = |p: &Linear| {
            Int8Linear::new(p)?
                .ok_or_else(|| Error::Weights("a linear left the int8 kernel".into()))
        };
        Ok(Self {
            ln1: Norm::new(&ln1)?,
            q: lin(&attn.q)?,
            k: lin(&attn.k)?,
            v: lin(&attn.v)?,
            out: lin(&attn.out)?,
            ln2: Norm::new(&ln2)?,
            fc1: lin(&mlp.fc1)?,
            fc2: lin(&mlp.fc2)?,
            mlp_input,
            heads: attn.heads,
            head_dim: attn.head_dim,
        })
    }

    /// `x`: `batch * seq` rows of `hidden`; `mask`: additive, `batch x seq`. With
    /// `last_only`, only each sequence's last position is computed past the attention's keys
    /// and values (what the text tower pools): `batch` rows come out, else `batch * seq`.
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        seq: usize,
        mask: Option<&[f32]>,
        last_only: bool,
    ) -> Result<Vec<f32>> {
        let hidden = self.heads * self.head_dim;
        if x.len() != batch * seq * hidden {
            return Err(Error::Unsupported(format!(
                "encoder input of {} values is not {batch} x {seq} x {hidden}",
                x.len()
            )));
        }
        let rows = batch * seq;
        let parts = [&self.q, &self.k, &self.v].map(|l| (&*l.w, l.epilogue(false, None)));
        let qkv = PackedI8::matmul_shared(&parts, &self.ln1.forward(x), rows);
        let heads = Heads {
            batch,
            seq,
            heads: self.heads,
            head_dim: self.head_dim,
            scale: (self.head_dim as f32).powf(-0.5),
            last_query_only: last_only,
        };
        let o = attention(&qkv[0], &qkv[1], &qkv[2], &heads, mask);
        let rows = batch * heads.queries();
        let residual: Cow<[f32]> = if last_only {
            Cow::Owned(
                x.chunks_exact(seq * hidden)
                    .flat_map(|s| &s[(seq - 1) * hidden..])
                    .copied()
                    .collect(),
            )
        } else {
            Cow::Borrowed(x)
        };
        let x = self.out.forward(&o, rows, false, Some(&residual));
        let h = self
            .fc1
            .forward_at(&self.ln2.forward(&x), rows, true, None, self.mlp_input);
        Ok(self.fc2.forward(&h, rows, false, Some(&x)))
    }
}
