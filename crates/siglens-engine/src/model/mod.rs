//! The SigLIP model (SiglipModel in `transformers`): two towers and the sigmoid head.
//! One implementation for f32 and quantized weights; see [`crate::weights::ComputePolicy`].

mod cpu_layer;
mod layers;
mod text;
mod token_rows;
mod vision;

pub use layers::l2_normalize;
pub use token_rows::{RowsInFile, TokenRows};

use std::cell::RefCell;

use candle_core::{DType, Device, Tensor};

use crate::config::SiglipConfig;
use crate::error::{Error, Result};
use crate::weights::{ComputePolicy, WeightMap};
use layers::Loader;
use text::TextTower;
use vision::VisionTower;

/// Whether the text tower receives the attention mask.
///
/// In `transformers`, `model(**processor(text=...))` and the zero-shot pipeline pass the
/// mask exactly when the tokenizer returns one, i.e. when `tokenizer_config.json`'s
/// `model_input_names` lists `attention_mask`. The SigLIP 2 Hub checkpoints list only
/// `input_ids` (the converter's choice, matching big_vision, which never masks), so there
/// every pad position is attended to. Other runtimes differ (transformers' newer
/// `Siglip2Tokenizer` and some ONNX exports do pass a mask), and because the text tower
/// pools the **last** position, which is a pad for short texts, the choice changes the
/// vector. `Auto` (the default) does what `transformers` does for the checkpoint at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextMask {
    #[default]
    Auto,
    Always,
    Never,
}

/// Which towers to load. A worker that only embeds images (one of the page's extra image
/// workers) skips the text tower and its large token table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Towers {
    #[default]
    Both,
    VisionOnly,
}

pub struct SiglipModel {
    pub config: SiglipConfig,
    vision: VisionTower,
    text: Option<TextTower>,
    logit_scale: f32,
    logit_bias: f32,
}

impl SiglipModel {
    pub fn load(
        config: &SiglipConfig,
        mut weights: WeightMap,
        towers: Towers,
        policy: ComputePolicy,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        if towers == Towers::VisionOnly {
            weights.drop_prefix("text_model.");
        }
        let ld = Loader {
            weights: RefCell::new(weights),
            policy,
            device,
            dtype,
        };
        let scalar = |name: &str| -> Result<f32> { Ok(ld.f32(name, &[1])?.to_vec1::<f32>()?[0]) };
        Ok(Self {
            vision: VisionTower::load(&ld, &config.vision_config)?,
            text: match towers {
                Towers::Both => Some(TextTower::load(&ld, &config.text_config)?),
                Towers::VisionOnly => None,
            },
            logit_scale: scalar("logit_scale")?,
            logit_bias: scalar("logit_bias")?,
            config: config.clone(),
        })
    }

    /// `(b, 3, s, s)` pixel values (any float type) → f32 image embeddings `(b, d)`, not
    /// normalised.
    pub fn image_features(&self, pixels: &Tensor) -> Result<Tensor> {
        self.vision.forward(pixels)
    }

    /// `(b, len)` ids (+ mask) → text embeddings `(b, d)`, not normalised.
    pub fn text_features(&self, ids: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        match &self.text {
            Some(t) => t.forward(ids, mask),
            None => Err(Error::Unsupported(
                "this engine loaded only the vision tower; texts go to the main engine".into(),
            )),
        }
    }

    /// The token table's rows, where they stay in the file and are read on demand.
    pub fn token_rows(&self) -> Option<&TokenRows> {
        self.text.as_ref()?.token_rows()
    }

    /// Whether the vision tower's encoder runs on the fused CPU layers (`model/cpu_layer`).
    pub fn fused_layers(&self) -> bool {
        self.vision.fused_layers()
    }

    /// `exp(logit_scale)`, multiplied into the cosine similarities.
    pub fn scale(&self) -> f32 {
        self.logit_scale.exp()
    }

    pub fn bias(&self) -> f32 {
        self.logit_bias
    }

    pub fn device(&self) -> &Device {
        self.vision.device()
    }
}
