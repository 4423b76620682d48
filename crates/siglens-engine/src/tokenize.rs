//! Text to token ids the way the SigLIP 2 processor does it: the checkpoint's own
//! `tokenizer.json` (Gemma BPE), its post-processor (special tokens), truncation to the
//! model's text length, then fixed padding to exactly that length with the tokenizer's pad id.
//! Lower-casing and the prompt template happen before tokenization (see [`TextOptions`]).

use std::sync::{Mutex, OnceLock};

use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};

pub const DEFAULT_TEMPLATE: &str = "This is a photo of {}.";

/// How label/query strings become model text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    /// SigLIP 2 was trained on lower-cased text; on by default.
    pub lowercase: bool,
    /// Applied to classification labels only; `{}` is replaced by the label.
    pub template: String,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            lowercase: true,
            template: DEFAULT_TEMPLATE.into(),
        }
    }
}

impl TextOptions {
    /// The text the model sees for a classification label.
    pub fn label_prompt(&self, label: &str) -> Result<String> {
        if label.trim().is_empty() {
            return Err(Error::Text("label is empty".into()));
        }
        if !self.template.contains("{}") {
            return Err(Error::Text(format!(
                "template {:?} has no {{}} placeholder for the label",
                self.template
            )));
        }
        Ok(self.finish(&self.template.replacen("{}", label, 1)))
    }

    /// The text the model sees for a raw text (no template).
    pub fn finish(&self, text: &str) -> String {
        if self.lowercase {
            text.to_lowercase()
        } else {
            text.to_string()
        }
    }
}

/// Token ids and attention mask, `n x len` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    pub len: usize,
    pub ids: Vec<u32>,
    pub attention_mask: Vec<u32>,
}

impl TokenBatch {
    pub fn rows(&self) -> usize {
        self.ids.len() / self.len.max(1)
    }
}

/// The parts of `tokenizer_config.json` that change what the model sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerSettings {
    /// Pads go after the text (right) or before it (left).
    pub pad_left: bool,
    /// `model_input_names` lists `attention_mask`: the processor returns it, so
    /// `model(**inputs)` hands it to the text tower.
    pub returns_attention_mask: bool,
}

impl Default for TokenizerSettings {
    /// What transformers' SigLIP 2 converter wrote for the Hub checkpoints: right padding
    /// and `model_input_names = ["input_ids"]` (no mask, as in big_vision).
    fn default() -> Self {
        Self {
            pad_left: false,
            returns_attention_mask: false,
        }
    }
}

impl TokenizerSettings {
    pub fn from_json(json: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer_config.json: {e}")))?;
        let d = Self::default();
        let pad_left = match v.get("padding_side").and_then(|s| s.as_str()) {
            Some("left") => true,
            Some("right") => false,
            Some(other) => {
                return Err(Error::Tokenizer(format!(
                    "tokenizer_config.json: padding_side {other:?}"
                )))
            }
            None => d.pad_left,
        };
        let returns_attention_mask = match v.get("model_input_names").and_then(|s| s.as_array()) {
            Some(names) => names.iter().any(|n| n.as_str() == Some("attention_mask")),
            None => d.returns_attention_mask,
        };
        Ok(Self {
            pad_left,
            returns_attention_mask,
        })
    }
}

/// The tokenizer, built from its `tokenizer.json` at load or on first use. A Gemma-sized
/// one (256k tokens) took 1.0-1.3 s of the browser's warm start (BENCHMARKS.md), while an
/// engine that starts for images may never tokenize: the browser builds it lazily.
pub struct LazyTokenizer {
    built: OnceLock<TextTokenizer>,
    /// The JSON until the tokenizer is built (kept after a failed build: the error repeats).
    json: Mutex<Option<String>>,
    len: usize,
    settings: TokenizerSettings,
    /// The model's vocabulary: a tokenizer with more tokens does not fit the weights.
    model_vocab: usize,
}

impl LazyTokenizer {
    /// `now`: build (and check) it here, so that a bad tokenizer fails the load.
    pub fn new(
        json: String,
        len: usize,
        settings: TokenizerSettings,
        model_vocab: usize,
        now: bool,
    ) -> Result<Self> {
        let t = Self {
            built: OnceLock::new(),
            json: Mutex::new(Some(json)),
            len,
            settings,
            model_vocab,
        };
        if now {
            t.get()?;
        }
        Ok(t)
    }

    pub fn settings(&self) -> &TokenizerSettings {
        &self.settings
    }

    /// The built tokenizer (building it on the first call).
    pub fn get(&self) -> Result<&TextTokenizer> {
        if let Some(t) = self.built.get() {
            return Ok(t);
        }
        let mut json = self.json.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.built.get() {
            return Ok(t); // built by another thread while this one waited
        }
        let source = json
            .as_deref()
            .ok_or_else(|| Error::Tokenizer("tokenizer.json is gone".into()))?;
        let t = TextTokenizer::from_json(source.as_bytes(), self.len, self.settings.clone())?;
        if t.vocab_size() > self.model_vocab {
            return Err(Error::Tokenizer(format!(
                "tokenizer has {} tokens but the model's vocabulary is {}",
                t.vocab_size(),
                self.model_vocab
            )));
        }
        *json = None;
        Ok(self.built.get_or_init(|| t))
    }
}

pub struct TextTokenizer {
    tokenizer: Tokenizer,
    pad_id: u32,
    len: usize,
    pub settings: TokenizerSettings,
}

impl TextTokenizer {
    /// `len` is the model's `max_position_embeddings` (64 for SigLIP 2).
    pub fn from_json(json: &[u8], len: usize, settings: TokenizerSettings) -> Result<Self> {
        let mut tokenizer = Tokenizer::from_bytes(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json: {e}")))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("<pad>"))
            .ok_or_else(|| Error::Tokenizer("tokenizer.json defines no <pad> token".into()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: len,
                ..Default::default()
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        // We pad ourselves, to exactly `len`, whatever the file says.
        tokenizer.with_padding(None);
        Ok(Self {
            tokenizer,
            pad_id,
            len,
            settings,
        })
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// Tokenizes final texts (already templated and lower-cased).
    pub fn encode(&self, texts: &[String]) -> Result<TokenBatch> {
        let mut ids = Vec::with_capacity(texts.len() * self.len);
        let mut attention_mask = Vec::with_capacity(texts.len() * self.len);
        for text in texts {
            let enc = self.tokenizer.encode(text.as_str(), true).map_err(|e| {
                Error::Tokenizer(format!(
                    "cannot tokenize {:?}: {e}",
                    truncate_for_message(text)
                ))
            })?;
            let n = enc.get_ids().len().min(self.len);
            let pads = self.len - n;
            if self.settings.pad_left {
                ids.extend(std::iter::repeat_n(self.pad_id, pads));
                attention_mask.extend(std::iter::repeat_n(0, pads));
            }
            ids.extend_from_slice(&enc.get_ids()[..n]);
            attention_mask.extend(std::iter::repeat_n(1, n));
            if !self.settings.pad_left {
                ids.extend(std::iter::repeat_n(self.pad_id, pads));
                attention_mask.extend(std::iter::repeat_n(0, pads));
            }
        }
        Ok(TokenBatch {
            len: self.len,
            ids,
            attention_mask,
        })
    }
}

fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_config_decides_padding_side_and_mask() {
        let s = TokenizerSettings::from_json(
            r#"{"padding_side":"left","model_input_names":["input_ids","attention_mask"]}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            TokenizerSettings {
                pad_left: true,
                returns_attention_mask: true
            }
        );
        let s = TokenizerSettings::from_json(r#"{"model_input_names":["input_ids"]}"#).unwrap();
        assert_eq!(s, TokenizerSettings::default());
        assert!(TokenizerSettings::from_json(r#"{"padding_side":"middle"}"#).is_err());
    }

    #[test]
    fn template_and_lowercase() {
        let o = TextOptions::default();
        assert_eq!(o.label_prompt("Cat").unwrap(), "this is a photo of cat.");
        let o = TextOptions {
            lowercase: false,
            ..Default::default()
        };
        assert_eq!(o.label_prompt("Cat").unwrap(), "This is a photo of Cat.");
        assert!(o
            .label_prompt("  ")
            .unwrap_err()
            .to_string()
            .contains("label is empty"));
        let o = TextOptions {
            template: "no slot".into(),
            ..Default::default()
        };
        assert!(o.label_prompt("cat").is_err());
    }
}
