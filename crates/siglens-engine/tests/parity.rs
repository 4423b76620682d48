//! The engine against Hugging Face transformers on the same weights (fixtures from
//! tools/make_fixtures.py). Thresholds are the project's parity contract; every measured
//! figure is printed (`cargo test -p siglens-engine --test parity -- --nocapture`).
// Native only: reads fixtures from disk (the browser versions are the wasm_* tests).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use siglens_engine::preprocess::PixelValues;
use siglens_engine::{ComputePolicy, LoadOptions, TextMask, TextOptions};

fn f32_opts() -> LoadOptions {
    LoadOptions {
        policy: ComputePolicy::all_f32(),
        ..Default::default()
    }
}

#[test]
fn token_ids_match_exactly() {
    for name in MODELS {
        let r = Reference::load(name);
        let m = load(name, f32_opts());
        // Prompts: our template + lower-casing must produce the very strings transformers saw.
        let labels = r.strs("labels");
        let opts = TextOptions::default();
        let prompts: Vec<String> = labels
            .iter()
            .map(|l| opts.label_prompt(l).unwrap())
            .collect();
        assert_eq!(prompts, r.strs("prompts"), "{name}: template/lower-casing");
        let b = m.tokenize(&prompts).unwrap();
        assert_eq!(
            b.ids.chunks(64).map(<[u32]>::to_vec).collect::<Vec<_>>(),
            r.mat_u32("prompt_input_ids"),
            "{name}"
        );
        // Raw texts: empty, unicode, RTL, emoji, control characters, over-long (truncation keeps eos).
        let raw = m.tokenize(&r.strs("raw_texts")).unwrap();
        assert_eq!(
            raw.ids.chunks(64).map(<[u32]>::to_vec).collect::<Vec<_>>(),
            r.mat_u32("raw_input_ids"),
            "{name}"
        );
        assert_eq!(
            raw.attention_mask
                .chunks(64)
                .map(<[u32]>::to_vec)
                .collect::<Vec<_>>(),
            r.mat_u32("raw_attention_mask"),
            "{name}"
        );
        // Lower-casing off: the cased prompts.
        let cased = TextOptions {
            lowercase: false,
            ..Default::default()
        };
        let p: Vec<String> = labels
            .iter()
            .map(|l| cased.label_prompt(l).unwrap())
            .collect();
        assert_eq!(p, r.strs("cased_prompts"));
        let b = m.tokenize(&p).unwrap();
        assert_eq!(
            b.ids.chunks(64).map(<[u32]>::to_vec).collect::<Vec<_>>(),
            r.mat_u32("cased_input_ids"),
            "{name}"
        );
        assert_eq!(m.tokenizer().unwrap().pad_id(), 0);
        assert_eq!(
            m.uses_attention_mask(),
            r.json["text_model_got_attention_mask"].as_bool().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn pixel_values_match_pil_processor() {
    for name in MODELS {
        let r = Reference::load(name);
        let m = load(name, f32_opts());
        let (mut worst_max, mut worst_mean) = (0f32, 0f32);
        let mut failures = Vec::new();
        for (i, img) in r.strs("images").iter().enumerate() {
            let px = m
                .preprocess_image(&std::fs::read(r.image_path(i)).unwrap())
                .unwrap_or_else(|e| panic!("{img}: {e}"));
            let want = r.pixels_of(i);
            assert_eq!(px.data.len(), want.len());
            let diffs: Vec<f32> = px
                .data
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .collect();
            let max = diffs.iter().cloned().fold(0.0, f32::max);
            let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
            eprintln!("[{name}] pixels {img:28} max {max:.5} mean {mean:.6}");
            if max > 0.02 || mean > 0.002 {
                failures.push(format!("{name} {img}: max {max} mean {mean}"));
            }
            worst_max = worst_max.max(max);
            worst_mean = worst_mean.max(mean);
        }
        eprintln!("[{name}] pixels worst max {worst_max:.5} worst mean {worst_mean:.6}");
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

fn ref_pixels(r: &Reference) -> Vec<PixelValues> {
    let s = r.image_size();
    (0..r.strs("images").len())
        .map(|i| PixelValues {
            height: s,
            width: s,
            data: r.pixels_of(i).to_vec(),
        })
        .collect()
}

#[test]
fn embeddings_and_probabilities_match_from_reference_inputs() {
    for name in MODELS {
        let r = Reference::load(name);
        let m = load(name, f32_opts());
        let img = m.embed_pixels(&ref_pixels(&r)).unwrap();
        let img_cos = min_cosine(&img, &r.mat_f32("image_embeds"));
        // The processor path: token ids (and the mask iff the tokenizer returns one).
        let ids: Vec<u32> = r.mat_u32("prompt_input_ids").concat();
        let batch = siglens_engine::tokenize::TokenBatch {
            len: 64,
            attention_mask: ids.iter().map(|&i| u32::from(i != 0)).collect(),
            ids,
        };
        let txt = m.embed_tokens(&batch).unwrap();
        let txt_cos = min_cosine(&txt, &r.mat_f32("text_embeds"));
        let sim = m.similarity(&img, &txt);
        let dp = max_abs_diff(&sim.probs, &r.mat_f32("probs"));
        let dl = max_abs_diff(&sim.logits, &r.mat_f32("logits_per_image"));
        eprintln!("[{name}] f32 image cos min {img_cos:.7} text cos min {txt_cos:.7} probs max|d| {dp:.2e} logits max|d| {dl:.2e}");
        assert!(img_cos >= 0.99999, "{name}: image cosine {img_cos}");
        assert!(txt_cos >= 0.99999, "{name}: text cosine {txt_cos}");
        assert!(dp <= 1e-4, "{name}: probs {dp}");
        assert!(
            (m.model.scale().ln() - r.json["logit_scale"].as_f64().unwrap() as f32).abs() < 1e-6
        );
    }
}

#[test]
fn attention_mask_option_reproduces_both_transformers_paths() {
    for name in MODELS {
        let r = Reference::load(name);
        let raw = r.strs("raw_texts");
        let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
        let keep_case = TextOptions {
            lowercase: false,
            ..Default::default()
        };
        for (mask, key) in [
            (TextMask::Always, "raw_text_embeds_masked"),
            (TextMask::Never, "raw_text_embeds_unmasked"),
        ] {
            let m = load(
                name,
                LoadOptions {
                    text_mask: mask,
                    ..f32_opts()
                },
            );
            let e = m.embed_texts(&raw, &keep_case).unwrap();
            let c = min_cosine(&e, &r.mat_f32(key));
            eprintln!("[{name}] {mask:?} raw text cos min {c:.7}");
            assert!(c >= 0.99999, "{name} {mask:?}: {c}");
        }
        // And the two really differ, so a wrong choice cannot pass.
        let a = r.mat_f32("raw_text_embeds_masked");
        let b = r.mat_f32("raw_text_embeds_unmasked");
        assert!(
            min_cosine(&a, &b) < 0.999,
            "{name}: mask makes no difference; fixture is too weak"
        );
    }
}

#[test]
fn end_to_end_from_image_files() {
    for name in MODELS {
        let r = Reference::load(name);
        let m = load(name, f32_opts());
        let files: Vec<Vec<u8>> = (0..r.strs("images").len())
            .map(|i| std::fs::read(r.image_path(i)).unwrap())
            .collect();
        let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let embs: Vec<Vec<f32>> = m
            .embed_images(&refs)
            .into_iter()
            .map(|e| e.unwrap())
            .collect();
        let want = r.mat_f32("image_embeds");
        for (i, n) in r.strs("images").iter().enumerate() {
            let c = cosine(&embs[i], &want[i]);
            eprintln!("[{name}] e2e {n:28} cos {c:.7}");
            // JPEG pixels differ by a level here and there (zune-jpeg vs libjpeg-turbo
            // chroma upsampling / IDCT rounding); the bar still holds.
            assert!(c >= 0.9999, "{name} {n}: {c}");
        }
        let labels = r.strs("labels");
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let txt = m.embed_labels(&labels, &TextOptions::default()).unwrap();
        let dp = max_abs_diff(&m.similarity(&embs, &txt).probs, &r.mat_f32("probs"));
        eprintln!("[{name}] e2e probs max|d| {dp:.2e}");
    }
}

#[test]
fn classification_matches_zero_shot_pipeline() {
    for name in MODELS {
        let r = Reference::load(name);
        let m = load(name, f32_opts());
        let p = &r.json["pipeline"];
        let labels: Vec<String> = p["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().into())
            .collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let opts = TextOptions {
            template: p["hypothesis_template"].as_str().unwrap().into(),
            ..Default::default()
        };
        let txt = m.embed_labels(&labels, &opts).unwrap();
        for (i, expected) in p["results"].as_array().unwrap().iter().enumerate() {
            let img = m
                .embed_images(&[&std::fs::read(r.image_path(i)).unwrap()])
                .remove(0)
                .unwrap();
            let got = m.rank_labels(&img, &labels, &txt);
            for (g, e) in got.iter().zip(expected.as_array().unwrap()) {
                assert_eq!(
                    g.label,
                    e["label"].as_str().unwrap(),
                    "{name} image {i}: order"
                );
                let d = (g.score - e["score"].as_f64().unwrap() as f32).abs();
                assert!(d <= 1e-3, "{name} image {i} {}: {d}", g.label);
            }
        }
    }
}

/// transformers' default image backend when torchvision is installed differs from PIL by
/// rounding (float resize, no u8 between passes); the same bars hold against it.
#[test]
fn torchvision_backend_is_within_the_same_bars() {
    for name in MODELS {
        let r = Reference::load(name);
        let m = load(name, f32_opts());
        let raw = std::fs::read(
            fixtures()
                .join("reference")
                .join(format!("{name}.pixels_torchvision.f32")),
        )
        .unwrap();
        let tv: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let want = r.mat_f32("torchvision_image_embeds");
        let plane = 3 * r.image_size() * r.image_size();
        let (mut worst_max, mut worst_mean, mut worst_cos) = (0f32, 0f32, 1f32);
        for (i, img) in r.strs("images").iter().enumerate() {
            let bytes = std::fs::read(r.image_path(i)).unwrap();
            let px = m.preprocess_image(&bytes).unwrap();
            let d: Vec<f32> = px
                .data
                .iter()
                .zip(&tv[i * plane..(i + 1) * plane])
                .map(|(a, b)| (a - b).abs())
                .collect();
            let max = d.iter().cloned().fold(0.0, f32::max);
            let mean = d.iter().sum::<f32>() / d.len() as f32;
            let c = cosine(&m.embed_images(&[&bytes]).remove(0).unwrap(), &want[i]);
            eprintln!(
                "[{name}] torchvision {img:28} pixels max {max:.5} mean {mean:.6} e2e cos {c:.7}"
            );
            worst_max = worst_max.max(max);
            worst_mean = worst_mean.max(mean);
            worst_cos = worst_cos.min(c);
        }
        eprintln!("[{name}] torchvision worst: pixels max {worst_max:.5} mean {worst_mean:.6} e2e cos {worst_cos:.7}");
        assert!(
            worst_max <= 0.02 && worst_mean <= 0.002 && worst_cos >= 0.9999,
            "{name}: {worst_max} {worst_mean} {worst_cos}"
        );
    }
}

/// An image-only worker's engine (`Towers::VisionOnly`) embeds images exactly as the full
/// one, refuses texts with a clear error, and holds no text weights.
#[test]
fn vision_only_engine_embeds_images_identically() {
    for name in MODELS {
        let full = load(name, f32_opts());
        let vision = load(
            name,
            LoadOptions {
                towers: siglens_engine::Towers::VisionOnly,
                ..f32_opts()
            },
        );
        let bytes = std::fs::read(fixtures().join("images/chelsea.png")).unwrap();
        let a = full.embed_images(&[bytes.as_slice()]);
        let b = vision.embed_images(&[bytes.as_slice()]);
        assert_eq!(a[0].as_ref().unwrap(), b[0].as_ref().unwrap(), "{name}");
        let err = vision.embed_texts(&["cat"], &TextOptions::default());
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("only the vision tower"), "{name}: {msg}");
    }
}
