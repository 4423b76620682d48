//! The messages between the siglens UI and its engine worker. Both sides depend on this
//! crate, so a change to the protocol is a compile error on the other side, not a silent
//! mismatch.
//!
//! On the wire every message is a JS object `{ msg, buffers }`: `msg` is one of the types
//! below serialised with serde-wasm-bindgen, and `buffers` is an array of `ArrayBuffer`s
//! (image file bytes) passed in postMessage's transfer list, so they are moved, not copied.
// Input-derived data never meets unwrap() here: errors are typed. The few expect()s that
// remain name an invariant the code itself guarantees.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

use serde::{Deserialize, Serialize};

#[cfg(target_arch = "wasm32")]
mod wire;
#[cfg(target_arch = "wasm32")]
pub use wire::{decode, encode, WireError};

pub type RequestId = u32;

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSource {
    /// A single-file GGUF made by `siglens quantize`, at a URL (relative to the page, or
    /// absolute).
    Gguf { url: String },
    /// A Hugging Face repository with a `model.safetensors`, quantized on the device while
    /// it downloads into `dtype` (f32, f16, q8_0, q4_0 or q4k).
    HuggingFace {
        /// `https://huggingface.co`, or a mirror with the same `/{repo}/resolve/{revision}/`
        /// layout.
        endpoint: String,
        repo: String,
        revision: String,
        dtype: String,
    },
}

pub const HF_ENDPOINT: &str = "https://huggingface.co";
pub const HF_DEFAULT_REPO: &str = "google/siglip2-base-patch16-224";

impl ModelSource {
    /// The IndexedDB cache key: source, revision and storage dtype in one string. A GGUF's
    /// dtype is fixed by the file, so its URL identifies it.
    pub fn cache_key(&self) -> String {
        match self {
            Self::Gguf { url } => format!("gguf:{url}"),
            Self::HuggingFace {
                endpoint,
                repo,
                revision,
                dtype,
            } => {
                let host = if endpoint == HF_ENDPOINT {
                    String::new()
                } else {
                    format!("{endpoint}/")
                };
                format!("hf:{host}{repo}@{revision}:{dtype}")
            }
        }
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`.
    pub fn hf_file_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
        format!(
            "{}/{}/resolve/{}/{file}",
            endpoint.trim_end_matches('/'),
            repo.trim_matches('/'),
            revision
        )
    }
}

/// Text handling shared by the text requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSettings {
    /// `{}` is replaced by the label; `None` embeds the texts as given.
    pub template: Option<String>,
    /// SigLIP 2 was trained on lower-cased text.
    pub lowercase: bool,
}

impl Default for TextSettings {
    fn default() -> Self {
        Self {
            template: Some("This is a photo of {}.".into()),
            lowercase: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Loads (from the cache, else the network) and makes it the current model.
    LoadModel {
        source: ModelSource,
        /// The page's URL: relative model URLs resolve against it (the engine runs in a blob
        /// worker, which has no base URL of its own). The cache key stays the URL as given.
        #[serde(default)]
        base: Option<String>,
        /// Load only the vision tower: one of the page's extra image workers.
        #[serde(default)]
        vision_only: bool,
        /// Read the model from the cache or fail: never download, never discard a damaged
        /// entry (an extra image worker; the main engine owns downloading and repair).
        #[serde(default)]
        cache_only: bool,
    },
    /// One image per transferred buffer, `names[i]` naming `buffers[i]`. Each image's
    /// result is reported as it finishes ([`Progress::Image`]); a bad image fails alone.
    EmbedImages {
        names: Vec<String>,
    },
    EmbedTexts {
        texts: Vec<String>,
        settings: TextSettings,
    },
    /// Sigmoid scores of each image embedding against each label (with the template).
    Classify {
        image_embeddings: Vec<Vec<f32>>,
        labels: Vec<String>,
        settings: TextSettings,
    },
    /// Logits and sigmoid probabilities, rows = images, columns = texts.
    Similarity {
        image_embeddings: Vec<Vec<f32>>,
        text_embeddings: Vec<Vec<f32>>,
    },
    /// Cosine similarity of each query with each item (rows = queries): similar images.
    Cosine {
        queries: Vec<Vec<f32>>,
        items: Vec<Vec<f32>>,
    },
    /// K-means over the embeddings; `k: None` uses the suggested k (best silhouette).
    Cluster {
        embeddings: Vec<Vec<f32>>,
        k: Option<usize>,
    },
    /// A 2-D UMAP layout of the embeddings (one point each, in order).
    Map {
        embeddings: Vec<Vec<f32>>,
    },
    /// Embeddings as a file (made in the worker, saved by the page: nothing is uploaded).
    /// `names` are the images' file names or the texts themselves, one per embedding.
    Export {
        format: ExportFormat,
        kind: ExportKind,
        names: Vec<String>,
        embeddings: Vec<Vec<f32>>,
    },
    /// Stops a running request at its next item; it then fails with [`ErrorKind::Cancelled`].
    Cancel {
        target: RequestId,
    },
    /// Times the loaded model on random inputs (the speed test; `cargo xtask bench`).
    Bench {
        image_batches: Vec<usize>,
        texts: usize,
        warmup: usize,
        runs: usize,
    },
    ListCache,
    DeleteCache {
        key: String,
    },
}

/// What the exported embeddings are of: decides the file name and the JSON keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// `{"images": [{"image", "embedding"}]}`, file `siglens-image-embeddings.*`.
    Images,
    /// `{"texts": [{"text", "embedding"}]}`, file `siglens-text-embeddings.*`.
    Texts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// The shape of the CLI's `embed --json` (its images or texts part).
    Json,
    /// `name,d0,d1,...`.
    Csv,
    /// NumPy float32 `(n, d)`, rows in the order given.
    Npy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: RequestId,
    pub request: Request,
}

/// What the worker posts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The worker's wasm is running and accepts requests.
    Ready {
        engine_version: String,
    },
    Progress {
        id: RequestId,
        progress: Progress,
    },
    Done {
        id: RequestId,
        output: Output,
    },
    Failed {
        id: RequestId,
        error: WorkerError,
    },
    /// The worker panicked; it cannot be used any more. The UI starts a fresh one.
    Panicked {
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading the model out of IndexedDB.
    ReadCache,
    Download,
    /// Downloading safetensors and quantizing them as they arrive.
    Quantize,
    /// Writing to IndexedDB (happens while downloading).
    Store,
    /// Building the model from the weights.
    Load,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Progress {
    Phase {
        phase: Phase,
    },
    Bytes {
        phase: Phase,
        url: String,
        loaded: u64,
        total: Option<u64>,
        bytes_per_sec: f64,
    },
    /// Something the user should know that did not stop the request (e.g. the model could
    /// not be cached and lives in memory only).
    Notice {
        message: String,
    },
    Image {
        index: usize,
        result: ItemResult,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ItemResult {
    Ok { embedding: Vec<f32> },
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub key: String,
    pub source: ModelSource,
    pub embed_dim: usize,
    pub image_size: usize,
    /// Bytes of the file (as stored in the cache).
    pub file_bytes: u64,
    pub from_cache: bool,
    /// Request to ready.
    pub load_ms: f64,
    /// Network requests made for this load (0 on a warm start).
    pub network_requests: u32,
    /// The weights as held for compute (after any dequantization at load).
    pub model_bytes: u64,
    /// WebAssembly memory after loading; it never shrinks, so this is the peak so far.
    pub wasm_memory_bytes: u64,
    pub uses_attention_mask: bool,
    /// Where the load time went (profile evidence for the warm-start target).
    #[serde(default)]
    pub phases: LoadPhases,
    /// Bytes of the cached file a warm start did not read: the token table's rows (or an
    /// image worker's whole text tower) stay in the cache and are read as texts need them.
    #[serde(default)]
    pub left_in_cache_bytes: u64,
}

/// Milliseconds per loading phase: reading stored chunks (or downloading), checking their
/// hashes, parsing and preparing tensors as they stream, and building the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadPhases {
    pub read_ms: f64,
    pub verify_ms: f64,
    pub parse_ms: f64,
    pub build_ms: f64,
    /// The part of `read_ms` spent waiting for the browser to hand over stored chunks (the
    /// rest is copying them: into WebCrypto's hash and into wasm memory).
    #[serde(default)]
    pub read_wait_ms: f64,
}

/// `n` items per timed call: median and fastest call in seconds, items per second at the
/// median (the engine's `bench::Timing`, on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchTiming {
    pub n: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedModel {
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
    /// Milliseconds since the epoch.
    pub stored_at: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Output {
    Loaded {
        info: ModelInfo,
    },
    Images {
        results: Vec<ItemResult>,
    },
    Texts {
        embeddings: Vec<Vec<f32>>,
    },
    Scores {
        labels: Vec<String>,
        /// rows = images, columns = labels.
        probs: Vec<Vec<f32>>,
    },
    Similarity {
        logits: Vec<Vec<f32>>,
        probs: Vec<Vec<f32>>,
    },
    Cache {
        models: Vec<CachedModel>,
        /// From `navigator.storage.estimate()`, when the browser tells.
        usage: Option<f64>,
        quota: Option<f64>,
    },
    Cosine {
        values: Vec<Vec<f32>>,
    },
    Clusters {
        k: usize,
        /// Cluster of each embedding, numbered by first appearance.
        labels: Vec<usize>,
        suggested_k: usize,
        /// `(k, mean silhouette)` for every k tried.
        silhouette_by_k: Vec<(usize, f64)>,
    },
    Map {
        coords: Vec<[f32; 2]>,
    },
    Bench {
        images: Vec<BenchTiming>,
        texts: Option<BenchTiming>,
        runs: usize,
        wasm_memory_bytes: u64,
    },
    File {
        filename: String,
        mime: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    Deleted,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// HTTP error status, CORS or a dropped connection that could not be resumed.
    Network,
    /// The bytes are not a usable model (wrong format, truncated, wrong length).
    BadModel,
    /// No model loaded yet.
    NoModel,
    BadInput,
    Storage,
    Cancelled,
    Protocol,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerError {
    pub kind: ErrorKind,
    /// For people: says what failed and, where it helps, what to do.
    pub message: String,
}

impl WorkerError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_names_the_source() {
        let s = ModelSource::Gguf {
            url: "models/a-q8_0.gguf".into(),
        };
        assert_eq!(s.cache_key(), "gguf:models/a-q8_0.gguf");
        let hf = |endpoint: &str| ModelSource::HuggingFace {
            endpoint: endpoint.into(),
            repo: HF_DEFAULT_REPO.into(),
            revision: "main".into(),
            dtype: "q8_0".into(),
        };
        assert_eq!(
            hf(HF_ENDPOINT).cache_key(),
            "hf:google/siglip2-base-patch16-224@main:q8_0"
        );
        assert_ne!(hf("http://mirror").cache_key(), hf(HF_ENDPOINT).cache_key());
        assert_eq!(
            ModelSource::hf_file_url("https://huggingface.co/", "a/b", "main", "config.json"),
            "https://huggingface.co/a/b/resolve/main/config.json"
        );
    }

    #[test]
    fn messages_roundtrip_through_serde() {
        let e = Event::Progress {
            id: 7,
            progress: Progress::Image {
                index: 2,
                result: ItemResult::Error {
                    message: "cannot identify image file: x.txt".into(),
                },
            },
        };
        let j = serde_json::to_string(&e).unwrap();
        assert!(j.contains("\"type\":\"progress\"") && j.contains("\"status\":\"error\""));
        assert_eq!(serde_json::from_str::<Event>(&j).unwrap(), e);
    }
}
