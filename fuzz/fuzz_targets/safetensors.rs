//! safetensors bytes: loaded whole (CLI) and converted to GGUF while streaming (browser,
//! Hugging Face source), with the tiny fixture's JSON files.
#![no_main]
use libfuzzer_sys::fuzz_target;
use siglens_engine::weights::{load_safetensors_bytes, ModelJson, SafetensorsToGguf, StorageDType};

const CONFIG: &str = include_str!("../../tests/fixtures/models/tiny48/config.json");
const TOKENIZER: &str = include_str!("../../tests/fixtures/models/tiny48/tokenizer.json");

fuzz_target!(|data: &[u8]| {
    let _ = load_safetensors_bytes(data);
    let json = ModelJson {
        config_json: CONFIG,
        preprocessor_json: None,
        tokenizer_json: TOKENIZER,
        tokenizer_config_json: None,
    };
    let mut conv = SafetensorsToGguf::new(json, StorageDType::Q8_0);
    let split = data.len() / 2;
    if conv.push(&data[..split]).is_ok() && conv.push(&data[split..]).is_ok() {
        let _ = conv.finish();
    }
});
