//! Any text a user types as a label or a query, through the fixture's tokenizer with the
//! default template and lower-casing.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use siglens_engine::tokenize::{TextOptions, TextTokenizer, TokenizerSettings};

const TOKENIZER: &[u8] = include_bytes!("../../tests/fixtures/models/tiny48/tokenizer.json");

fn tokenizer() -> &'static TextTokenizer {
    static T: OnceLock<TextTokenizer> = OnceLock::new();
    T.get_or_init(|| TextTokenizer::from_json(TOKENIZER, 64, TokenizerSettings::default()).expect("fixture tokenizer"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = TextOptions::default();
    if let Ok(label) = opts.label_prompt(&text) {
        let _ = tokenizer().encode(&[label]);
    }
    let _ = tokenizer().encode(&[opts.finish(&text)]);
});
