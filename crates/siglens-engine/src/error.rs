//! One error type for the engine; every message names what went wrong in words a user can act on.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot identify image file: {0}")]
    UnknownImageFormat(String),
    #[error("cannot decode image: {0}")]
    ImageDecode(String),
    #[error("image too large: {0}")]
    ImageTooLarge(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    #[error("invalid text input: {0}")]
    Text(String),
    #[error("invalid model weights: {0}")]
    Weights(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
