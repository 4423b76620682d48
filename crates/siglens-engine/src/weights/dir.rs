//! Native loading from a path: a Hugging Face style directory or a `.gguf` file.

use std::fs;
use std::path::Path;

use super::{load_safetensors_file, read_gguf, ModelFiles};
use crate::error::{Error, Result};

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `path` is a directory with `config.json`, `model.safetensors`, `tokenizer.json` (and
/// optionally `preprocessor_config.json`), or a `.gguf` made by `siglens quantize`.
pub fn load_model_path(path: &Path) -> Result<ModelFiles> {
    if path.is_dir() {
        let weights = path.join("model.safetensors");
        if !weights.exists() {
            return Err(Error::Weights(format!(
                "{} has no model.safetensors",
                path.display()
            )));
        }
        let pre = path.join("preprocessor_config.json");
        let tok_cfg = path.join("tokenizer_config.json");
        Ok(ModelFiles {
            config_json: read_text(&path.join("config.json"))?,
            preprocessor_json: if pre.exists() {
                Some(read_text(&pre)?)
            } else {
                None
            },
            tokenizer_json: read_text(&path.join("tokenizer.json"))?,
            tokenizer_config_json: if tok_cfg.exists() {
                Some(read_text(&tok_cfg)?)
            } else {
                None
            },
            weights: load_safetensors_file(&weights)?,
        })
    } else {
        let f = fs::File::open(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut r = std::io::BufReader::new(f);
        read_gguf(&mut r).map_err(|e| Error::Weights(format!("{}: {e}", path.display())))
    }
}
