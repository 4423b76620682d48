//! The engine's front door: a loaded model with its tokenizer and image processor, and the
//! operations the CLI and the worker expose (embed, classify, similarity). Bad inputs are
//! per-item errors; the rest of a batch goes on.

use candle_core::{Device, Tensor};

use crate::config::{PreprocessConfig, SiglipConfig};
use crate::device::ComputeDType;
use crate::error::{Error, Result};
use crate::model::{l2_normalize, RowsInFile, SiglipModel, TextMask, TokenRows, Towers};
use crate::preprocess::{preprocess_bytes, DecodeLimits, PixelValues};
use crate::scores;
use crate::tokenize::{LazyTokenizer, TextOptions, TextTokenizer, TokenBatch, TokenizerSettings};
use crate::weights::{ComputePolicy, ModelFiles};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub policy: ComputePolicy,
    pub device: Device,
    /// f32 everywhere by default; bf16/f16 only on a GPU (see [`ComputeDType::on`]).
    pub compute_dtype: ComputeDType,
    pub text_mask: TextMask,
    pub limits: DecodeLimits,
    /// Images per forward pass (bounds memory; larger batches use the cores better, and a
    /// GPU needs large ones to stay busy). Texts go in batches of at least 64.
    pub batch_size: usize,
    pub towers: Towers,
    /// Build the tokenizer on first use rather than at load ([`LazyTokenizer`]); a bad
    /// `tokenizer.json` then fails the first text, not the load.
    pub lazy_tokenizer: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            policy: ComputePolicy::default(),
            device: Device::Cpu,
            compute_dtype: ComputeDType::F32,
            text_mask: TextMask::default(),
            limits: DecodeLimits::default(),
            batch_size: 8,
            towers: Towers::Both,
            lazy_tokenizer: false,
        }
    }
}

/// One label's score for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

/// Images x texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Similarity {
    pub logits: Vec<Vec<f32>>,
    pub probs: Vec<Vec<f32>>,
}

pub struct Siglip {
    pub config: SiglipConfig,
    pub preprocess: PreprocessConfig,
    tokenizer: LazyTokenizer,
    pub model: SiglipModel,
    pub options: LoadOptions,
    /// Bytes the weights occupy as stored (file / cache size, before any dequantization).
    pub stored_bytes: usize,
    /// On CUDA, the page-locked staging buffer of full image batches, made at first use
    /// and kept (pinning ~150 MB costs more than a batch's compute).
    #[cfg(feature = "cuda")]
    pinned: std::sync::Mutex<Option<crate::cuda_ops::PinnedUpload>>,
}

/// Batches' embeddings, in order. On a CPU each batch is read back as it comes; on a GPU
/// they stay on the device and are read back once at the end: a GPU computes
/// asynchronously, and reading a batch back would wait for it, idling the GPU while the
/// host prepares the next one.
struct Gathered {
    out: Vec<Vec<f32>>,
    on_device: Vec<Tensor>,
}

impl Gathered {
    fn with_capacity(n: usize) -> Self {
        Self {
            out: Vec::with_capacity(n),
            on_device: Vec::new(),
        }
    }

    fn push(&mut self, e: Tensor) -> Result<()> {
        if e.device().is_cpu() {
            self.out.extend(e.to_vec2::<f32>()?);
        } else {
            self.on_device.push(e);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Vec<f32>>> {
        if !self.on_device.is_empty() {
            self.out
                .extend(Tensor::cat(&self.on_device, 0)?.to_vec2::<f32>()?);
        }
        Ok(self.out)
    }
}

impl Siglip {
    pub fn load(files: ModelFiles, options: LoadOptions) -> Result<Self> {
        let config = SiglipConfig::from_json(&files.config_json)?;
        let image_size = config.vision_config.image_size;
        let preprocess = match &files.preprocessor_json {
            Some(j) => PreprocessConfig::from_json(j, image_size)?,
            None => PreprocessConfig::siglip2(image_size),
        };
        let settings = match &files.tokenizer_config_json {
            Some(j) => TokenizerSettings::from_json(j)?,
            None => TokenizerSettings::default(),
        };
        let tokenizer = LazyTokenizer::new(
            files.tokenizer_json,
            config.text_config.max_position_embeddings,
            settings,
            config.text_config.vocab_size,
            !options.lazy_tokenizer,
        )?;
        let stored_bytes = files.weights.size_in_bytes();
        let dtype = options.compute_dtype.on(&options.device)?;
        let model = SiglipModel::load(
            &config,
            files.weights,
            options.towers,
            options.policy,
            &options.device,
            dtype,
        )?;
        Ok(Self {
            config,
            preprocess,
            tokenizer,
            model,
            options,
            stored_bytes,
            #[cfg(feature = "cuda")]
            pinned: std::sync::Mutex::new(None),
        })
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_path(path: &std::path::Path, options: LoadOptions) -> Result<Self> {
        Self::load(crate::weights::load_model_path(path)?, options)
    }

    /// The tokenizer (built now if it was left for first use).
    pub fn tokenizer(&self) -> Result<&TextTokenizer> {
        self.tokenizer.get()
    }

    pub fn embedding_dim(&self) -> usize {
        self.config.embedding_dim()
    }

    /// Decode + preprocess one encoded image file.
    pub fn preprocess_image(&self, bytes: &[u8]) -> Result<PixelValues> {
        preprocess_bytes(bytes, &self.preprocess, &self.options.limits)
    }

    /// L2-normalised embeddings of preprocessed images, batched.
    pub fn embed_pixels(&self, pixels: &[PixelValues]) -> Result<Vec<Vec<f32>>> {
        let s = self.config.vision_config.image_size;
        let batch = self.options.batch_size.max(1);
        let dev = self.model.device();
        if let Some(p) = pixels
            .iter()
            .find(|p| (p.height, p.width) != (s, s) || p.data.len() != 3 * s * s)
        {
            return Err(Error::Unsupported(format!(
                "pixel values are {}x{}, model expects {s}x{s}",
                p.width, p.height
            )));
        }
        let mut out = Gathered::with_capacity(pixels.len());
        // Batches not staged through the pinned buffer (CUDA's full batches are) share one
        // host buffer on a GPU, faulted in once per call, not once per batch (150 MB for a
        // batch of 256 at 224 px); the CPU takes it by value.
        let mut data = Vec::new();
        for chunk in pixels.chunks(batch) {
            let shape = (chunk.len(), 3, s, s);
            #[cfg(feature = "cuda")]
            if dev.is_cuda() && chunk.len() == batch {
                let t = self.upload_pinned(chunk, shape)?;
                out.push(l2_normalize(&self.model.image_features(&t)?)?)?;
                continue;
            }
            data.clear();
            for p in chunk {
                data.extend_from_slice(&p.data);
            }
            let t = if dev.is_cpu() {
                Tensor::from_vec(std::mem::take(&mut data), shape, dev)?
            } else {
                Tensor::from_slice(&data, shape, dev)?
            };
            out.push(l2_normalize(&self.model.image_features(&t)?)?)?;
        }
        out.finish()
    }

    /// A full batch through the pinned staging buffer (made on first use).
    #[cfg(feature = "cuda")]
    fn upload_pinned(
        &self,
        chunk: &[PixelValues],
        shape: (usize, usize, usize, usize),
    ) -> Result<Tensor> {
        let dev = self.model.device();
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let mut guard = self
            .pinned
            .lock()
            .map_err(|_| Error::Unsupported("pinned buffer poisoned by a panic".into()))?;
        if guard.as_ref().is_none_or(|p| p.len() != n) {
            *guard = None; // free the old one first
            *guard = crate::cuda_ops::PinnedUpload::new(dev, n)?;
        }
        let pinned = guard
            .as_mut()
            .ok_or_else(|| Error::Unsupported("pinned upload off CUDA".into()))?;
        Ok(pinned.upload(dev, shape, |buf| {
            for (dst, p) in buf.chunks_exact_mut(shape.1 * shape.2 * shape.3).zip(chunk) {
                dst.copy_from_slice(&p.data);
            }
        })?)
    }

    /// Embeds encoded image files; each gets its own result, a bad file never stops the rest.
    pub fn embed_images(&self, files: &[&[u8]]) -> Vec<Result<Vec<f32>>> {
        let mut results: Vec<Option<Result<Vec<f32>>>> = Vec::with_capacity(files.len());
        let mut ok_idx = Vec::new();
        let mut ok_px = Vec::new();
        for (i, f) in files.iter().enumerate() {
            match self.preprocess_image(f) {
                Ok(p) => {
                    ok_idx.push(i);
                    ok_px.push(p);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        match self.embed_pixels(&ok_px) {
            Ok(embs) => {
                for (i, e) in ok_idx.into_iter().zip(embs) {
                    results[i] = Some(Ok(e));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for i in ok_idx {
                    results[i] = Some(Err(Error::Unsupported(format!("inference failed: {msg}"))));
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every slot filled"))
            .collect()
    }

    /// Whether the text tower gets the attention mask (see [`TextMask`]).
    pub fn uses_attention_mask(&self) -> bool {
        match self.options.text_mask {
            TextMask::Auto => self.tokenizer.settings().returns_attention_mask,
            TextMask::Always => true,
            TextMask::Never => false,
        }
    }

    /// Token ids for final texts (no further lower-casing or templating).
    pub fn tokenize(&self, texts: &[String]) -> Result<TokenBatch> {
        self.tokenizer()?.encode(texts)
    }

    /// Where the token table's rows are, when the model was loaded with the table left in
    /// the file ([`crate::weights::Defer`]); `None` when it is in memory.
    pub fn token_rows_in_file(&self) -> Option<RowsInFile> {
        self.model.token_rows().map(TokenRows::in_file)
    }

    /// The ids in `batch` whose rows must be read from the file (and handed over with
    /// [`Siglip::supply_token_rows`]) before [`Siglip::embed_tokens`]; empty when the
    /// table is in memory.
    pub fn missing_token_rows(&self, batch: &TokenBatch) -> Vec<u32> {
        self.model
            .token_rows()
            .map(|r| r.missing(&batch.ids))
            .unwrap_or_default()
    }

    /// Rows read from the file (bytes as stored), by id.
    pub fn supply_token_rows(&self, rows: Vec<(u32, Vec<u8>)>) -> Result<()> {
        match self.model.token_rows() {
            Some(r) => r.supply(rows),
            None => Ok(()),
        }
    }

    /// L2-normalised embeddings of already-tokenized texts.
    pub fn embed_tokens(&self, batch: &TokenBatch) -> Result<Vec<Vec<f32>>> {
        let (n, len) = (batch.rows(), batch.len);
        if n == 0 {
            return Ok(Vec::new());
        }
        let dev = self.model.device();
        let ids = Tensor::from_slice(&batch.ids, (n, len), dev)?;
        let mask = if self.uses_attention_mask() {
            Some(Tensor::from_slice(&batch.attention_mask, (n, len), dev)?)
        } else {
            None
        };
        let mut out = Gathered::with_capacity(n);
        // Text rows are cheap; 64 at a time (or the image batch size, when larger, so a GPU
        // stays busy) bounds the attention buffers.
        let step = self.options.batch_size.max(64);
        for start in (0..n).step_by(step) {
            let rows = (n - start).min(step);
            let i = ids.narrow(0, start, rows)?;
            let m = mask
                .as_ref()
                .map(|m| m.narrow(0, start, rows))
                .transpose()?;
            out.push(l2_normalize(&self.model.text_features(&i, m.as_ref())?)?)?;
        }
        out.finish()
    }

    /// Token ids of raw texts (lower-cased per `opts`, no template).
    pub fn text_tokens(&self, texts: &[&str], opts: &TextOptions) -> Result<TokenBatch> {
        let finals: Vec<String> = texts.iter().map(|t| opts.finish(t)).collect();
        self.tokenize(&finals)
    }

    /// Token ids of classification labels through the prompt template.
    pub fn label_tokens(&self, labels: &[&str], opts: &TextOptions) -> Result<TokenBatch> {
        if labels.is_empty() {
            return Err(Error::Text("no labels given".into()));
        }
        let prompts = labels
            .iter()
            .map(|l| opts.label_prompt(l))
            .collect::<Result<Vec<_>>>()?;
        self.tokenize(&prompts)
    }

    /// Embeds raw texts (lower-cased per `opts`, no template).
    pub fn embed_texts(&self, texts: &[&str], opts: &TextOptions) -> Result<Vec<Vec<f32>>> {
        self.embed_tokens(&self.text_tokens(texts, opts)?)
    }

    /// Embeds classification labels through the prompt template.
    pub fn embed_labels(&self, labels: &[&str], opts: &TextOptions) -> Result<Vec<Vec<f32>>> {
        self.embed_tokens(&self.label_tokens(labels, opts)?)
    }

    /// Logits and sigmoid probabilities, rows = images, columns = texts.
    pub fn similarity(&self, images: &[Vec<f32>], texts: &[Vec<f32>]) -> Similarity {
        let logits = scores::logits(images, texts, self.model.scale(), self.model.bias());
        let probs = scores::probs(&logits);
        Similarity { logits, probs }
    }

    /// Sigmoid score of every label for one image embedding, sorted high to low.
    pub fn rank_labels(
        &self,
        image: &[f32],
        labels: &[&str],
        label_embs: &[Vec<f32>],
    ) -> Vec<LabelScore> {
        let p = self
            .similarity(&[image.to_vec()], label_embs)
            .probs
            .remove(0);
        let mut v: Vec<LabelScore> = labels
            .iter()
            .zip(p)
            .map(|(l, s)| LabelScore {
                label: l.to_string(),
                score: s,
            })
            .collect();
        v.sort_by(|a, b| b.score.total_cmp(&a.score));
        v
    }
}
