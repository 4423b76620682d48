//! The engine inside headless Chromium (wasm32 + simd128) against Hugging Face transformers
//! on the tiny48 fixture: the same bars as the native `parity` test.
//! Run: `cargo test -p siglens-engine --target wasm32-unknown-unknown --test wasm_parity --release`.
#![cfg(target_arch = "wasm32")]

use candle_core::quantized::GgmlDType;
use serde_json::Value;
use siglens_engine::preprocess::PixelValues;
use siglens_engine::scores::cosine;
use siglens_engine::weights::{load_safetensors_bytes, read_gguf, write_gguf, MatmulCompute};
use siglens_engine::{ComputePolicy, LoadOptions, ModelFiles, Siglip, StorageDType};
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

fn fixture_files() -> ModelFiles {
    ModelFiles {
        config_json: CONFIG.to_string(),
        preprocessor_json: Some(PREPROCESSOR.to_string()),
        tokenizer_json: TOKENIZER.to_string(),
        tokenizer_config_json: Some(TOKENIZER_CONFIG.to_string()),
        weights: load_safetensors_bytes(WEIGHTS).expect("fixture weights parse"),
    }
}

fn load_model() -> Siglip {
    load_with(fixture_files(), ComputePolicy::all_f32())
}

fn load_with(files: ModelFiles, policy: ComputePolicy) -> Siglip {
    Siglip::load(
        files,
        LoadOptions {
            policy,
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

/// q8_0 storage in the browser computes on our int8 kernel (the default web policy): the
/// same bar as the native q8_0 storage test (cosine >= 0.999 against the f32 model), and
/// it must be a different path from dequantizing to f32 (else this tests nothing).
#[wasm_bindgen_test]
fn q8_0_through_the_int8_kernel_stays_close_to_f32() {
    let policy = ComputePolicy::for_this_platform();
    assert_eq!(policy.matmul_compute(GgmlDType::Q8_0), MatmulCompute::Int8);
    let mut gguf = std::io::Cursor::new(Vec::new());
    write_gguf(&mut gguf, &fixture_files(), StorageDType::Q8_0).unwrap();
    let q8 = || read_gguf(&mut std::io::Cursor::new(gguf.get_ref())).unwrap();
    let int8 = load_with(q8(), policy);
    let deq = load_with(q8(), ComputePolicy::all_f32());
    let f32_model = load_model();

    let r = reference();
    let px = ref_pixels(&r);
    let batch = f32_model.tokenize(&strs(&r["prompts"])).unwrap();
    let embed = |m: &Siglip| {
        (
            m.embed_pixels(&px).unwrap(),
            m.embed_tokens(&batch).unwrap(),
        )
    };
    let (fi, ft) = embed(&f32_model);
    let (di, dt) = embed(&deq);
    let (qi, qt) = embed(&int8);
    let (ci, ct) = (min_cosine(&qi, &fi), min_cosine(&qt, &ft));
    let (cdi, cdt) = (min_cosine(&di, &fi), min_cosine(&dt, &ft));
    let (ki, kt) = (min_cosine(&qi, &di), min_cosine(&qt, &dt));
    console_log!(
        "[tiny48 wasm q8_0] int8 kernel vs f32: image cos min {ci:.7} text {ct:.7}; \
         dequantized q8_0 vs f32: image {cdi:.7} text {cdt:.7}; int8 vs dequantized: image {ki:.7} text {kt:.7}"
    );
    assert!(
        ci >= 0.999 && ct >= 0.999,
        "int8 kernel: image {ci} text {ct}"
    );
    assert!(qi != di, "q8_0 did not go through the int8 kernel");
}
