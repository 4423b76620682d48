//! The JSON files a model brings: config.json, preprocessor_config.json,
//! tokenizer_config.json.
#![no_main]
use libfuzzer_sys::fuzz_target;
use siglens_engine::config::{PreprocessConfig, SiglipConfig};
use siglens_engine::tokenize::TokenizerSettings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = SiglipConfig::from_json(text);
    let _ = PreprocessConfig::from_json(text, 224);
    let _ = TokenizerSettings::from_json(text);
});
