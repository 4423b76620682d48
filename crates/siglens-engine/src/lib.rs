//! siglens-engine: SigLIP 2 (fixed resolution, `SiglipModel`) inference in Candle,
//! numerically matched to Hugging Face `transformers`. Platform-neutral: builds natively
//! and for `wasm32-unknown-unknown` (+simd128) with no web dependencies.
//!
//! Modules, one job each: [`config`] (config files), [`device`] (CPU / GPU and compute
//! dtype), [`preprocess`] (bytes → pixel values),
//! [`tokenize`] (text → token ids), [`model`] (the network), [`weights`] (safetensors /
//! GGUF, storage dtypes), [`scores`] (sigmoid scoring), [`pipeline`] (the API on top).
// Input-derived data never meets unwrap() here: errors are typed. The few expect()s that
// remain name an invariant the code itself guarantees.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bench;
pub mod config;
#[cfg(feature = "cuda")]
mod cuda_ops;
pub mod device;
pub mod error;
pub mod export;
pub mod kernels;
pub mod model;
pub mod pipeline;
pub mod preprocess;
pub mod scores;
pub mod tokenize;
pub mod weights;

pub use candle_core::Device;
pub use device::{ComputeDType, DeviceSpec};
pub use error::{Error, Result};
pub use model::{RowsInFile, TextMask, Towers};
pub use pipeline::{LabelScore, LoadOptions, Siglip, Similarity};
pub use tokenize::{TextOptions, DEFAULT_TEMPLATE};
pub use weights::{ComputePolicy, ModelFiles, StorageDType};
