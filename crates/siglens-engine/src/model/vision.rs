//! SigLIP vision tower: patch embedding (a strided conv, computed as a matmul over
//! flattened patches), learned position embedding, encoder, post-layernorm and the
//! attention-pooling head (one learned probe attends to all patches).

use candle_core::{DType, Device, Tensor};

use super::layers::{Attention, Encoder, EncoderSpec, LayerNorm, Linear, Loader, Mlp};
use crate::config::VisionConfig;
use crate::error::{Error, Result};
use crate::kernels::int8::MLP_INPUT_CREST;
use crate::kernels::InputPrecision;
use crate::weights::StoredTensor;

pub struct VisionTower {
    cfg: VisionConfig,
    patch: Linear,
    position: Tensor,
    encoder: Encoder,
    post_ln: LayerNorm,
    probe: Tensor,
    head_attn: Attention,
    head_ln: LayerNorm,
    head_mlp: Mlp,
}

impl VisionTower {
    pub fn load(ld: &Loader, cfg: &VisionConfig) -> Result<Self> {
        if !cfg.vision_use_head {
            return Err(Error::Unsupported(
                "vision_use_head = false (no pooled image embedding)".into(),
            ));
        }
        let h = cfg.hidden_size;
        let p = "vision_model";
        let patch_in = cfg.num_channels * cfg.patch_size * cfg.patch_size;
        let w = ld.take(&format!("{p}.embeddings.patch_embedding.weight"))?;
        let bias = ld.dense(&format!("{p}.embeddings.patch_embedding.bias"), &[h])?;
        let patch = Linear::new(w, "patch_embedding.weight", patch_in, h, Some(bias), ld)?;
        let spec = EncoderSpec {
            hidden: h,
            inter: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            layers: cfg.num_hidden_layers,
            eps: cfg.layer_norm_eps,
            act: cfg.hidden_act,
            // 7 bits cost the fixtures' image embeddings ~4e-5 of cosine; the text tower's
            // failed the 0.999 bar (BENCHMARKS.md, "7-bit MLP inputs").
            mlp_input: if ld.policy.coarse_mlp_input {
                InputPrecision::Coarse {
                    crest: MLP_INPUT_CREST,
                }
            } else {
                InputPrecision::Fine
            },
        };
        // nn.MultiheadAttention keeps q/k/v as one (3h, h) matrix; split it, each part in
        // its stored form (k and v then take the int8 kernel over all patches like any linear).
        let hp = format!("{p}.head.attention");
        let in_name = format!("{hp}.in_proj_weight");
        let in_w = ld.take(&in_name)?.split_rows(&in_name, 3)?;
        let in_b = ld.dense(&format!("{hp}.in_proj_bias"), &[3 * h])?;
        let part = |i: usize, w: StoredTensor| -> Result<Linear> {
            let b = in_b.narrow(0, i * h, h)?.contiguous()?;
            Linear::new(w, &in_name, h, h, Some(b), ld)
        };
        let [wq, wk, wv] = <[StoredTensor; 3]>::try_from(in_w).expect("split_rows gives three");
        let head_attn = Attention::cross(
            part(0, wq)?,
            part(1, wk)?,
            part(2, wv)?,
            ld.linear(&format!("{hp}.out_proj"), h, h)?,
            h,
            cfg.num_attention_heads,
        );
        Ok(Self {
            patch,
            position: ld.dense(
                &format!("{p}.embeddings.position_embedding.weight"),
                &[cfg.num_patches(), h],
            )?,
            encoder: Encoder::load(ld, &format!("{p}.encoder"), &spec)?,
            post_ln: ld.layer_norm(&format!("{p}.post_layernorm"), h, cfg.layer_norm_eps)?,
            probe: ld.dense(&format!("{p}.head.probe"), &[1, 1, h])?,
            head_attn,
            head_ln: ld.layer_norm(&format!("{p}.head.layernorm"), h, cfg.layer_norm_eps)?,
            head_mlp: Mlp::load(
                ld,
                &format!("{p}.head.mlp"),
                h,
                cfg.intermediate_size,
                cfg.hidden_act,
            )?,
            cfg: cfg.clone(),
        })
    }

    /// `pixels`: `(b, 3, size, size)` → pooled image features `(b, hidden)` (not normalised).
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (b, c, hh, ww) = pixels.dims4()?;
        let (s, p) = (self.cfg.image_size, self.cfg.patch_size);
        if (c, hh, ww) != (self.cfg.num_channels, s, s) {
            return Err(Error::Unsupported(format!(
                "pixel values {c}x{hh}x{ww}, model expects 3x{s}x{s}"
            )));
        }
        let g = s / p;
        // (b, c, g, p, g, p) -> (b, g, g, c, p, p): each row is one patch in conv-kernel order.
        let patches = pixels
            .to_dtype(self.position.dtype())?
            .narrow(2, 0, g * p)?
            .narrow(3, 0, g * p)?
            .reshape((b, c, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b, g * g, c * p * p))?;
        let x = self
            .patch
            .forward(&patches)?
            .broadcast_add(&self.position)?;
        let x = self.encoder.forward(&x, None, false)?;
        let x = self.post_ln.forward(&x)?;
        let probe = self
            .probe
            .broadcast_as((b, 1, self.cfg.hidden_size))?
            .contiguous()?;
        let h = self.head_attn.forward(&probe, &x, None)?;
        let h = (&h + self.head_mlp.forward(&self.head_ln.forward(&h)?)?)?;
        Ok(h.squeeze(1)?.to_dtype(DType::F32)?)
    }

    pub fn fused_layers(&self) -> bool {
        self.encoder.is_fused()
    }

    pub fn device(&self) -> &Device {
        self.position.device()
    }
}
