//! SigLIP text tower: token + position embeddings, encoder (bidirectional, optionally
//! masked), final layer norm, the **last** position as the pooled output, then the head.

use candle_core::quantized::QTensor;
use candle_core::{DType, Tensor};
use std::sync::Arc;

use super::layers::{Encoder, EncoderSpec, LayerNorm, Linear, Loader};
use super::token_rows::TokenRows;
use crate::config::TextConfig;
use crate::error::{Error, Result};
use crate::kernels::InputPrecision;
use crate::weights::StoredTensor;

/// The token table is the largest tensor (256000 x 768 for base); when it is stored
/// quantized it stays quantized and only the looked-up rows are dequantized. In the browser
/// it stays in the cache and only the rows texts use are read (`Rows`).
enum TokenTable {
    Dense(Tensor),
    Quant(Arc<QTensor>),
    Rows(TokenRows),
}

pub struct TextTower {
    cfg: TextConfig,
    tokens: TokenTable,
    position: Tensor,
    encoder: Encoder,
    final_ln: LayerNorm,
    head: Linear,
}

impl TextTower {
    pub fn load(ld: &Loader, cfg: &TextConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let p = "text_model";
        let name = format!("{p}.embeddings.token_embedding.weight");
        let tokens = match ld.take(&name)? {
            StoredTensor::Quant(q)
                if ld.device.is_cpu() && q.shape().dims() == [cfg.vocab_size, h] =>
            {
                TokenTable::Quant(q)
            }
            StoredTensor::Deferred(d) if ld.device.is_cpu() => {
                TokenTable::Rows(TokenRows::new(&d, cfg.vocab_size, h)?)
            }
            t => TokenTable::Dense(
                t.f32_shaped(&name, &[cfg.vocab_size, h], ld.device)?
                    .to_dtype(ld.dtype)?,
            ),
        };
        let spec = EncoderSpec {
            hidden: h,
            inter: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            layers: cfg.num_hidden_layers,
            eps: cfg.layer_norm_eps,
            act: cfg.hidden_act,
            mlp_input: InputPrecision::Fine,
        };
        Ok(Self {
            tokens,
            position: ld.dense(
                &format!("{p}.embeddings.position_embedding.weight"),
                &[cfg.max_position_embeddings, h],
            )?,
            encoder: Encoder::load(ld, &format!("{p}.encoder"), &spec)?,
            final_ln: ld.layer_norm(&format!("{p}.final_layer_norm"), h, cfg.layer_norm_eps)?,
            head: ld.linear(&format!("{p}.head"), h, cfg.projection_size())?,
            cfg: cfg.clone(),
        })
    }

    /// The token table's rows when they are read from the file on demand.
    pub fn token_rows(&self) -> Option<&TokenRows> {
        match &self.tokens {
            TokenTable::Rows(r) => Some(r),
            _ => None,
        }
    }

    /// `ids`: `(b, s)` u32; `mask`: optional `(b, s)` 1/0 attention mask. Returns `(b, proj)`.
    pub fn forward(&self, ids: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        if s > self.cfg.max_position_embeddings {
            return Err(Error::Text(format!(
                "{s} tokens, the model takes at most {}",
                self.cfg.max_position_embeddings
            )));
        }
        let max_id = ids.max_all()?.to_scalar::<u32>()? as usize;
        if max_id >= self.cfg.vocab_size {
            return Err(Error::Tokenizer(format!(
                "token id {max_id} is outside the model's vocabulary of {} (tokenizer and weights do not match)",
                self.cfg.vocab_size
            )));
        }
        let x =
            match &self.tokens {
                TokenTable::Dense(t) => {
                    t.embedding(&ids.flatten_all()?)?
                        .reshape((b, s, self.cfg.hidden_size))?
                }
                TokenTable::Quant(q) => q.embedding(ids)?,
                TokenTable::Rows(r) => r
                    .lookup(&ids.flatten_all()?.to_vec1::<u32>()?)?
                    .reshape((b, s, self.cfg.hidden_size))?,
            };
        let x = x.broadcast_add(&self.position.narrow(0, 0, s)?)?;
        // transformers' _prepare_4d_attention_mask: 0 where attended, dtype min where not.
        let additive = match mask {
            Some(m) => {
                let inv = (1.0 - m.to_dtype(DType::F32)?)?;
                // In bf16/f16 this rounds to -inf, which softmax handles: the last
                // position is always attended, so no row is all -inf.
                let m = (inv * f64::from(f32::MIN))?.to_dtype(x.dtype())?;
                Some(m.reshape((b, 1, 1, s))?)
            }
            None => None,
        };
        // Only the last position is pooled, so the last layer computes only it.
        let x = self.encoder.forward(&x, additive.as_ref(), true)?;
        let x = self.final_ln.forward(&x)?;
        let last = x.narrow(1, x.dim(1)? - 1, 1)?.squeeze(1)?;
        Ok(self.head.forward(&last)?.to_dtype(DType::F32)?)
    }
}
