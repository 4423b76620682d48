//! The bad-input corpus (tests/fixtures/bad-inputs, made by tools/make_bad_inputs.py):
//! every image kind gets the outcome `expected.json` states, through the same path the CLI
//! and the worker use (`Siglip::embed_images`), and one bad file never stops the batch.
//! Texts: empty, whitespace-only, very long, many, duplicate, RTL, CJK, emoji, control
//! characters and NUL each give a clear error or an embedding.
// Native only: reads fixtures from disk (the browser versions are the wasm_* tests).
#![cfg(not(target_arch = "wasm32"))]
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use serde_json::Value;
use siglens_engine::preprocess::{decode_rgb8, DecodeLimits};
use siglens_engine::tokenize::TextOptions;
use siglens_engine::{LoadOptions, Siglip};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn model() -> Siglip {
    Siglip::load_path(&fixtures().join("models/tiny48"), LoadOptions::default())
        .expect("tiny48 loads")
}

fn corpus() -> Vec<(String, Vec<u8>, Value)> {
    let dir = fixtures().join("bad-inputs");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
    )
    .expect("valid JSON");
    let cases = expected.as_object().expect("an object of cases");
    assert!(cases.len() >= 25, "the corpus has {} kinds", cases.len());
    cases
        .iter()
        .map(|(name, want)| {
            let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.clone(), bytes, want.clone())
        })
        .collect()
}

#[test]
fn every_image_kind_gets_its_stated_outcome_and_the_batch_goes_on() {
    let m = model();
    let corpus = corpus();
    let files: Vec<&[u8]> = corpus.iter().map(|(_, b, _)| b.as_slice()).collect();
    let results = m.embed_images(&files);
    assert_eq!(results.len(), corpus.len(), "one result per file, in order");
    let mut failures = Vec::new();
    for ((name, bytes, want), got) in corpus.iter().zip(&results) {
        match (want.get("error").and_then(Value::as_str), got) {
            (None, Ok(e)) => {
                let norm: f32 = e.iter().map(|v| v * v).sum::<f32>().sqrt();
                if (norm - 1.0).abs() > 1e-4 || e.iter().any(|v| !v.is_finite()) {
                    failures.push(format!("{name}: embedding not unit length ({norm})"));
                }
                if let Some(size) = want.get("size").and_then(Value::as_array) {
                    let img = decode_rgb8(bytes, &DecodeLimits::default()).expect("decodes");
                    let wh = [img.width() as u64, img.height() as u64];
                    let want_wh: Vec<u64> = size.iter().filter_map(Value::as_u64).collect();
                    if want_wh != wh {
                        failures.push(format!("{name}: decoded {wh:?}, expected {want_wh:?}"));
                    }
                }
            }
            (Some(msg), Err(e)) => {
                let text = e.to_string();
                if !text.contains(msg) || text.contains('\n') {
                    failures.push(format!(
                        "{name}: error {text:?} should contain {msg:?} on one line"
                    ));
                }
            }
            (None, Err(e)) => failures.push(format!("{name}: expected an embedding, got {e}")),
            (Some(msg), Ok(_)) => failures.push(format!(
                "{name}: expected an error with {msg:?}, got an embedding"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_bomb_is_refused_from_its_header_before_any_pixel_buffer() {
    let bytes = std::fs::read(fixtures().join("bad-inputs/bomb-30000x30000.png")).expect("bomb");
    assert!(bytes.len() < 1024, "the bomb is a tiny file");
    let err = decode_rgb8(&bytes, &DecodeLimits::default())
        .expect_err("refused")
        .to_string();
    assert!(err.contains("30000x30000 declared"), "{err}");
}

#[test]
fn texts_get_an_embedding_or_a_clear_error() {
    let m = model();
    let opts = TextOptions::default();
    for bad in ["", "   ", "\t\n"] {
        let err = m
            .embed_labels(&[bad, "cat"], &opts)
            .expect_err("empty label refused")
            .to_string();
        assert!(err.contains("label is empty"), "{bad:?}: {err}");
    }
    let long = "a very long label ".repeat(600); // ~10 kB: cut to the model's 64 tokens
    let odd = [
        long.as_str(),
        "שלום עולם",
        "مرحبا بالعالم",
        "一只猫的照片",
        "🐱🐶🚀",
        "tab\tbell\u{7}escape\u{1b}",
        "nul\0inside",
    ];
    let embs = m
        .embed_labels(&odd, &opts)
        .expect("odd but valid labels embed");
    assert_eq!(embs.len(), odd.len());
    for (t, e) in odd.iter().zip(&embs) {
        let norm: f32 = e.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{t:?}: norm {norm}");
    }
    // The long label is cut, not refused: equal to its own first 64 tokens' worth.
    let longer = "a very long label ".repeat(900);
    let pair = m
        .embed_labels(&[long.as_str(), longer.as_str()], &opts)
        .expect("embeds");
    assert_eq!(pair[0], pair[1], "both are cut to the same 64 tokens");

    let dup = m
        .embed_labels(&["cat", "cat"], &opts)
        .expect("duplicates embed");
    assert_eq!(dup[0], dup[1], "duplicate labels score the same");

    let many: Vec<String> = (0..500).map(|i| format!("label number {i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let embs = m.embed_labels(&refs, &opts).expect("500 labels embed");
    assert_eq!(embs.len(), 500);
    assert_ne!(embs[0], embs[499]);
}
