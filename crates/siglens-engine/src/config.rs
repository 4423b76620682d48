//! Hugging Face `config.json` (SiglipModel) and `preprocessor_config.json`, with SigLIP 2
//! base defaults for any key a checkpoint leaves out.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn d_vocab() -> usize {
    256_000 // Gemma tokenizer (SigLIP 2); SigLIP 1 used 32k/250k and always states it.
}
fn d_hidden() -> usize {
    768
}
fn d_intermediate() -> usize {
    3072
}
fn d_layers() -> usize {
    12
}
fn d_heads() -> usize {
    12
}
fn d_max_pos() -> usize {
    64
}
fn d_act() -> Activation {
    Activation::GeluPytorchTanh
}
fn d_eps() -> f64 {
    1e-6
}
fn d_channels() -> usize {
    3
}
fn d_image() -> usize {
    224
}
fn d_patch() -> usize {
    16
}
fn d_true() -> bool {
    true
}
fn d_model_type() -> String {
    "siglip".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    #[serde(rename = "gelu_pytorch_tanh", alias = "gelu_new", alias = "gelu_fast")]
    GeluPytorchTanh,
    #[serde(rename = "gelu")]
    GeluErf,
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    #[serde(rename = "relu")]
    Relu,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    #[serde(default = "d_vocab")]
    pub vocab_size: usize,
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    #[serde(default = "d_intermediate")]
    pub intermediate_size: usize,
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    /// Also the fixed token length every text is padded to.
    #[serde(default = "d_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default = "d_act")]
    pub hidden_act: Activation,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    /// Output size of the text head; `transformers` uses `hidden_size` when absent.
    #[serde(default)]
    pub projection_size: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    #[serde(default = "d_intermediate")]
    pub intermediate_size: usize,
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "d_channels")]
    pub num_channels: usize,
    #[serde(default = "d_image")]
    pub image_size: usize,
    #[serde(default = "d_patch")]
    pub patch_size: usize,
    #[serde(default = "d_act")]
    pub hidden_act: Activation,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "d_true")]
    pub vision_use_head: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiglipConfig {
    #[serde(default = "d_model_type")]
    pub model_type: String,
    #[serde(default = "empty_object")]
    pub text_config: TextConfig,
    #[serde(default = "empty_object")]
    pub vision_config: VisionConfig,
}

fn empty_object<T: for<'de> Deserialize<'de>>() -> T {
    serde_json::from_str("{}").expect("every field has a default")
}

impl TextConfig {
    pub fn projection_size(&self) -> usize {
        self.projection_size.unwrap_or(self.hidden_size)
    }
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

impl VisionConfig {
    pub fn num_patches(&self) -> usize {
        (self.image_size / self.patch_size).pow(2)
    }
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

impl SiglipConfig {
    pub fn from_json(json: &str) -> Result<Self> {
        let cfg: Self =
            serde_json::from_str(json).map_err(|e| Error::Config(format!("config.json: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn embedding_dim(&self) -> usize {
        self.vision_config.hidden_size
    }

    fn validate(&self) -> Result<()> {
        match self.model_type.as_str() {
            "siglip" => {}
            "siglip2" => {
                return Err(Error::Unsupported(
                    "model_type \"siglip2\" is the NaFlex (variable resolution) variant; \
                     siglens runs the fixed-resolution SigLIP 2 checkpoints (model_type \"siglip\")"
                        .into(),
                ))
            }
            other => {
                return Err(Error::Config(format!(
                    "model_type is \"{other}\", expected \"siglip\" (a SiglipModel checkpoint)"
                )))
            }
        }
        let t = &self.text_config;
        let v = &self.vision_config;
        let checks = [
            (
                t.hidden_size == 0 || t.num_attention_heads == 0,
                "text hidden_size/heads must be > 0",
            ),
            (
                !t.hidden_size.is_multiple_of(t.num_attention_heads.max(1)),
                "text hidden_size must be divisible by num_attention_heads",
            ),
            (
                v.hidden_size == 0 || v.num_attention_heads == 0,
                "vision hidden_size/heads must be > 0",
            ),
            (
                !v.hidden_size.is_multiple_of(v.num_attention_heads.max(1)),
                "vision hidden_size must be divisible by num_attention_heads",
            ),
            (
                v.patch_size == 0 || v.image_size < v.patch_size,
                "vision patch_size must be in 1..=image_size",
            ),
            (
                v.image_size > 4096,
                "vision image_size above 4096 is not supported",
            ),
            (
                t.max_position_embeddings == 0 || t.max_position_embeddings > 4096,
                "text max_position_embeddings must be in 1..=4096",
            ),
            (t.vocab_size == 0, "text vocab_size must be > 0"),
            (
                t.projection_size() != v.hidden_size,
                "text projection_size must equal vision hidden_size",
            ),
            (
                v.num_channels != 3,
                "only 3-channel (RGB) vision models are supported",
            ),
        ];
        for (bad, msg) in checks {
            if bad {
                return Err(Error::Config(msg.into()));
            }
        }
        Ok(())
    }
}

/// PIL resampling filters, numbered as `PIL.Image.Resampling` (the `resample` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResampleFilter {
    Nearest,
    Lanczos,
    Bilinear,
    Bicubic,
    Box,
    Hamming,
}

impl ResampleFilter {
    pub fn from_pil(code: i64) -> Result<Self> {
        Ok(match code {
            0 => Self::Nearest,
            1 => Self::Lanczos,
            2 => Self::Bilinear,
            3 => Self::Bicubic,
            4 => Self::Box,
            5 => Self::Hamming,
            other => {
                return Err(Error::Config(format!(
                    "unknown PIL resample filter {other}"
                )))
            }
        })
    }
    pub fn pil_code(self) -> i64 {
        match self {
            Self::Nearest => 0,
            Self::Lanczos => 1,
            Self::Bilinear => 2,
            Self::Bicubic => 3,
            Self::Box => 4,
            Self::Hamming => 5,
        }
    }
}

/// What `SiglipImageProcessor` does to an image, from `preprocessor_config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessConfig {
    pub do_resize: bool,
    pub height: usize,
    pub width: usize,
    pub resample: ResampleFilter,
    pub do_rescale: bool,
    pub rescale_factor: f64,
    pub do_normalize: bool,
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

#[derive(Deserialize)]
struct RawPreprocess {
    do_resize: Option<bool>,
    size: Option<RawSize>,
    resample: Option<i64>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f64>,
    do_normalize: Option<bool>,
    image_mean: Option<MeanStd>,
    image_std: Option<MeanStd>,
}

#[derive(Deserialize)]
struct RawSize {
    height: Option<usize>,
    width: Option<usize>,
    shortest_edge: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MeanStd {
    One(f64),
    Three([f64; 3]),
}

impl MeanStd {
    fn get(self) -> [f64; 3] {
        match self {
            Self::One(v) => [v; 3],
            Self::Three(v) => v,
        }
    }
}

impl PreprocessConfig {
    /// SigLIP 2 defaults at the given square size.
    pub fn siglip2(image_size: usize) -> Self {
        Self {
            do_resize: true,
            height: image_size,
            width: image_size,
            resample: ResampleFilter::Bilinear,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            mean: [0.5; 3],
            std: [0.5; 3],
        }
    }

    /// Parses `preprocessor_config.json`; `image_size` (from the model config) fills a missing size.
    pub fn from_json(json: &str, image_size: usize) -> Result<Self> {
        let raw: RawPreprocess = serde_json::from_str(json)
            .map_err(|e| Error::Config(format!("preprocessor_config.json: {e}")))?;
        let d = Self::siglip2(image_size);
        let (height, width) = match raw.size {
            None => (d.height, d.width),
            Some(RawSize {
                height: Some(h),
                width: Some(w),
                ..
            }) => (h, w),
            Some(RawSize {
                shortest_edge: Some(s),
                ..
            }) => (s, s),
            Some(_) => {
                return Err(Error::Config(
                    "preprocessor size needs height and width".into(),
                ))
            }
        };
        let cfg = Self {
            do_resize: raw.do_resize.unwrap_or(d.do_resize),
            height,
            width,
            resample: raw
                .resample
                .map(ResampleFilter::from_pil)
                .transpose()?
                .unwrap_or(d.resample),
            do_rescale: raw.do_rescale.unwrap_or(d.do_rescale),
            rescale_factor: raw.rescale_factor.unwrap_or(d.rescale_factor),
            do_normalize: raw.do_normalize.unwrap_or(d.do_normalize),
            mean: raw.image_mean.map(MeanStd::get).unwrap_or(d.mean),
            std: raw.image_std.map(MeanStd::get).unwrap_or(d.std),
        };
        if cfg.height != image_size || cfg.width != image_size {
            return Err(Error::Config(format!(
                "preprocessor size {}x{} does not match the model's image_size {image_size}",
                cfg.width, cfg.height
            )));
        }
        if cfg.std.contains(&0.0) {
            return Err(Error::Config("image_std must not contain 0".into()));
        }
        Ok(cfg)
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({
            "do_resize": self.do_resize,
            "size": {"height": self.height, "width": self.width},
            "resample": self.resample.pil_code(),
            "do_rescale": self.do_rescale,
            "rescale_factor": self.rescale_factor,
            "do_normalize": self.do_normalize,
            "image_mean": self.mean,
            "image_std": self.std,
            "image_processor_type": "SiglipImageProcessor",
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gets_siglip2_base_defaults() {
        let c = SiglipConfig::from_json("{}").unwrap();
        assert_eq!(c.text_config.vocab_size, 256_000);
        assert_eq!(c.text_config.max_position_embeddings, 64);
        assert_eq!(c.vision_config.image_size, 224);
        assert_eq!(c.vision_config.patch_size, 16);
        assert_eq!(c.vision_config.num_patches(), 196);
        assert_eq!(c.embedding_dim(), 768);
        assert_eq!(c.text_config.hidden_act, Activation::GeluPytorchTanh);
    }

    #[test]
    fn naflex_and_other_models_are_refused_clearly() {
        let e = SiglipConfig::from_json(r#"{"model_type":"siglip2"}"#).unwrap_err();
        assert!(e.to_string().contains("NaFlex"), "{e}");
        let e = SiglipConfig::from_json(r#"{"model_type":"clip"}"#).unwrap_err();
        assert!(e.to_string().contains("expected \"siglip\""), "{e}");
        let e = SiglipConfig::from_json("not json").unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
    }

    #[test]
    fn preprocessor_reads_resample_and_defaults() {
        let p = PreprocessConfig::from_json(r#"{"resample": 3, "image_mean": 0.5}"#, 32).unwrap();
        assert_eq!(p.resample, ResampleFilter::Bicubic);
        assert_eq!((p.height, p.width), (32, 32));
        assert_eq!(p.mean, [0.5; 3]);
        let p = PreprocessConfig::from_json("{}", 224).unwrap();
        assert_eq!(p.resample, ResampleFilter::Bilinear);
        assert!(PreprocessConfig::from_json(r#"{"size":{"height":10,"width":10}}"#, 224).is_err());
        let round = PreprocessConfig::from_json(&p.to_json(), 224).unwrap();
        assert_eq!(round, p);
    }
}
