//! The engine inside headless Chromium (wasm32 + simd128) against Hugging Face transformers
//! on the tiny48 fixture: the same bars as the native `parity` test.
//! Run: `cargo test -p siglens-engine --target wasm32-unknown-unknown --test wasm_parity --release`.
#![cfg(target_arch = "wasm32")]

use serde_json::Value;
use siglens_engine::preprocess::PixelValues;
use siglens_engine::scores::cosine;
use siglens_engine::weights::load_safetensors_bytes;
use siglens_engine::{ComputePolicy, LoadOptions, ModelFiles, Siglip};
use wasm_bindgen_test::*;

#[path = "common/compare.rs"]
mod compare;
use compare::{max_abs_diff, min_cosine};

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! fixture {
    ($path:literal) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/", $path)
    };
}

const CONFIG: &str = include_str!(fixture!("models/tiny48/config.json"));
const PREPROCESSOR: &str = include_str!(fixture!("models/tiny48/preprocessor_config.json"));
const TOKENIZER: &str = include_str!(fixture!("models/tiny48/tokenizer.json"));
const TOKENIZER_CONFIG: &str = include_str!(fixture!("models/tiny48/tokenizer_config.json"));
const WEIGHTS: &[u8] = include_bytes!(fixture!("models/tiny48/model.safetensors"));
const REFERENCE: &str = include_str!(fixture!("reference/tiny48.json"));
const PIXELS: &[u8] = include_bytes!(fixture!("reference/tiny48.pixels.f32"));
const CHELSEA: &[u8] = include_bytes!(fixture!("images/chelsea.png"));

fn load_model() -> Siglip {
    let files = ModelFiles {
        config_json: CONFIG.to_string(),
        preprocessor_json: Some(PREPROCESSOR.to_string()),
        tokenizer_json: TOKENIZER.to_string(),
        tokenizer_config_json: Some(TOKENIZER_CONFIG.to_string()),
        weights: load_safetensors_bytes(WEIGHTS).expect("fixture weights parse"),
    };
    Siglip::load(
        files,
        LoadOptions {
            policy: ComputePolicy::all_f32(),
            ..Default::default()
        },
    )
    .expect("fixture model loads")
}

fn reference() -> Value {
    serde_json::from_str(REFERENCE).expect("reference json parses")
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn mat_f32(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

/// Reference pixel values, one `PixelValues` per image (shape from "pixel_shape").
fn ref_pixels(r: &Value) -> Vec<PixelValues> {
    let shape: Vec<usize> = r["pixel_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    assert_eq!(PIXELS.len(), n * c * h * w * 4, "pixel file size");
    let data: Vec<f32> = PIXELS
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    data.chunks_exact(c * h * w)
        .map(|d| PixelValues {
            height: h,
            width: w,
            data: d.to_vec(),
        })
        .collect()
}

#[wasm_bindgen_test]
fn embeddings_and_probabilities_match_reference() {
    let r = reference();
    let m = load_model();

    let img = m.embed_pixels(&ref_pixels(&r)).unwrap();
    let img_cos = min_cosine(&img, &mat_f32(&r["image_embeds"]));

    let prompts = strs(&r["prompts"]);
    let batch = m.tokenize(&prompts).unwrap();
    let txt = m.embed_tokens(&batch).unwrap();
    let txt_cos = min_cosine(&txt, &mat_f32(&r["text_embeds"]));

    let sim = m.similarity(&img, &txt);
    let dp = max_abs_diff(&sim.probs, &mat_f32(&r["probs"]));

    console_log!(
        "[tiny48 wasm] image cos min {img_cos:.7} text cos min {txt_cos:.7} probs max|d| {dp:.2e}"
    );
    assert!(img_cos >= 0.99999, "image cosine {img_cos}");
    assert!(txt_cos >= 0.99999, "text cosine {txt_cos}");
    assert!(dp <= 1e-4, "probs max abs diff {dp}");
}

#[wasm_bindgen_test]
fn end_to_end_from_png() {
    let r = reference();
    let m = load_model();
    let i = strs(&r["images"])
        .iter()
        .position(|n| n == "chelsea.png")
        .expect("chelsea.png in reference images");
    let emb = m.embed_images(&[CHELSEA]).remove(0).unwrap();
    let c = cosine(&emb, &mat_f32(&r["image_embeds"])[i]);
    console_log!("[tiny48 wasm] e2e chelsea.png cos {c:.7}");
    assert!(c >= 0.9999, "chelsea.png cosine {c}");
}
