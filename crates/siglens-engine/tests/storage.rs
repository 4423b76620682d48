//! Storage formats: our GGUF (with the config, preprocessor and tokenizer inside), the
//! storage dtypes, and f16/bf16 safetensors, each measured against the f32 model.
// Native only: reads fixtures from disk (the browser versions are the wasm_* tests).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashMap;
use std::io::Cursor;

use candle_core::{DType, Tensor};
use common::*;
use siglens_engine::preprocess::PixelValues;
use siglens_engine::weights::{
    load_model_path, read_gguf, write_gguf, Defer, GgufStream, ModelJson, SafetensorsToGguf,
};
use siglens_engine::{ComputePolicy, LoadOptions, Siglip, StorageDType, TextOptions, Towers};

fn opts(policy: ComputePolicy) -> LoadOptions {
    LoadOptions {
        policy,
        ..Default::default()
    }
}

/// Image embeddings from the reference pixels and label embeddings.
fn embed(m: &Siglip, r: &Reference) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let labels = r.strs("labels");
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    (
        embed_images_only(m, r),
        m.embed_labels(&labels, &TextOptions::default()).unwrap(),
    )
}

/// Image embeddings from the reference pixels.
fn embed_images_only(m: &Siglip, r: &Reference) -> Vec<Vec<f32>> {
    let s = r.image_size();
    let px: Vec<PixelValues> = (0..r.strs("images").len())
        .map(|i| PixelValues {
            height: s,
            width: s,
            data: r.pixels_of(i).to_vec(),
        })
        .collect();
    m.embed_pixels(&px).unwrap()
}

/// The model from a whole GGUF held in memory (the reference the streamed loads meet).
fn load_whole(bytes: &[u8], policy: ComputePolicy) -> Siglip {
    Siglip::load(read_gguf(&mut Cursor::new(bytes)).unwrap(), opts(policy)).unwrap()
}

fn gguf_bytes(name: &str, dtype: StorageDType) -> Vec<u8> {
    let files = load_model_path(&model_dir(name)).unwrap();
    let mut buf = Cursor::new(Vec::new());
    write_gguf(&mut buf, &files, dtype).unwrap();
    buf.into_inner()
}

#[test]
fn gguf_f32_roundtrip_is_lossless_and_self_contained() {
    for name in MODELS {
        let r = Reference::load(name);
        let dir_model = load(name, opts(ComputePolicy::all_f32()));
        let bytes = gguf_bytes(name, StorageDType::F32);
        let files = read_gguf(&mut Cursor::new(&bytes)).unwrap();
        assert!(files.preprocessor_json.is_some() && files.tokenizer_config_json.is_some());
        let g = Siglip::load(files, opts(ComputePolicy::all_f32())).unwrap();
        assert_eq!(g.uses_attention_mask(), dir_model.uses_attention_mask());
        assert_eq!(g.preprocess, dir_model.preprocess);
        let (a, b) = (embed(&dir_model, &r), embed(&g, &r));
        assert_eq!(
            a, b,
            "{name}: f32 GGUF must reproduce the safetensors model exactly"
        );
    }
}

#[test]
fn storage_dtypes_stay_close_to_f32() {
    // (dtype, compute on the quantized matrices natively?, min cosine)
    let cases = [
        (StorageDType::F16, ComputePolicy::all_f32(), 0.9999),
        (StorageDType::Q8_0, ComputePolicy::all_f32(), 0.999),
        // Our int8 kernel (the browser's math; natively the default with AVX-512 VNNI): the
        // same q8_0 contract as dequantized f32.
        (
            StorageDType::Q8_0,
            ComputePolicy {
                int8_kernel: true,
                ..ComputePolicy::all_f32()
            },
            0.999,
        ),
        // Candle's q8_0 matmul also quantizes the activations; not the default policy.
        (
            StorageDType::Q8_0,
            ComputePolicy {
                quantized_q8_0: true,
                ..ComputePolicy::all_f32()
            },
            0.998,
        ),
        // 4-bit on 32..64-wide random matrices is coarse; these bars only catch breakage.
        // Base-architecture figures are in BENCHMARKS.md.
        (StorageDType::Q4_0, ComputePolicy::all_f32(), 0.8),
        (StorageDType::Q4K, ComputePolicy::for_this_platform(), 0.8),
    ];
    for name in MODELS {
        let r = Reference::load(name);
        let f32_model = load(name, opts(ComputePolicy::all_f32()));
        let (fi, ft) = embed(&f32_model, &r);
        let f32_size = gguf_bytes(name, StorageDType::F32).len();
        for (dtype, policy, min) in cases {
            let bytes = gguf_bytes(name, dtype);
            let m = load_whole(&bytes, policy);
            let (qi, qt) = embed(&m, &r);
            let (ci, ct) = (min_cosine(&qi, &fi), min_cosine(&qt, &ft));
            let dp = max_abs_diff(
                &m.similarity(&qi, &qt).probs,
                &f32_model.similarity(&fi, &ft).probs,
            );
            eprintln!(
                "[{name}] {:5} quantized-compute={:5} int8-kernel={:5} bytes {:8} ({:.2}x of f32) image cos min {ci:.6} text cos min {ct:.6} probs max|d| {dp:.4}",
                dtype.name(),
                policy.quantized_q8_0 || policy.quantized_q4k,
                policy.int8_kernel,
                bytes.len(),
                bytes.len() as f64 / f32_size as f64
            );
            assert!(
                ci >= min && ct >= min,
                "{name} {dtype:?}: image {ci} text {ct} < {min}"
            );
            if dtype != StorageDType::F16 {
                assert!(
                    bytes.len() < f32_size / 2,
                    "{name} {dtype:?}: {} bytes is not smaller",
                    bytes.len()
                );
            }
        }
    }
}

/// The fused CPU encoder layer (`model/cpu_layer`: q/k/v as one matrix, epilogues, its own
/// attention and layer norm) computes what the Candle tensor ops compute on the same int8
/// weights: the same kernel, only f32 summation orders differ. Its text tower also computes
/// only the pooled position in the last layer. (With 14-bit MLP inputs: the 7-bit ones are
/// the fused layers' alone, `ComputePolicy::coarse_mlp_input`.)
#[test]
fn fused_cpu_layers_equal_the_tensor_ops() {
    for name in MODELS {
        let r = Reference::load(name);
        let bytes = gguf_bytes(name, StorageDType::Q8_0);
        let int8 = ComputePolicy {
            int8_kernel: true,
            coarse_mlp_input: false,
            ..ComputePolicy::all_f32()
        };
        let fused = load_whole(&bytes, int8);
        let tensors = load_whole(
            &bytes,
            ComputePolicy {
                fused_layers: false,
                ..int8
            },
        );
        assert!(fused.model.fused_layers() && !tensors.model.fused_layers());
        let (fi, ft) = embed(&fused, &r);
        let (ti, tt) = embed(&tensors, &r);
        let (ci, ct) = (min_cosine(&fi, &ti), min_cosine(&ft, &tt));
        let worst = fi
            .iter()
            .chain(&ft)
            .flatten()
            .zip(ti.iter().chain(&tt).flatten())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        eprintln!(
            "[{name}] fused vs tensor ops: image cos {ci:.7} text cos {ct:.7} max|d| {worst:.2e}"
        );
        assert!(ci > 0.99999 && ct > 0.99999, "{name}: {ci} {ct}");
        // With and without the mask, each through both paths.
        let labels = r.strs("labels");
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let texts = |fused_layers: bool, text_mask: siglens_engine::TextMask| {
            let o = LoadOptions {
                text_mask,
                ..opts(ComputePolicy {
                    fused_layers,
                    ..int8
                })
            };
            Siglip::load(read_gguf(&mut Cursor::new(&bytes)).unwrap(), o)
                .unwrap()
                .embed_labels(&labels, &TextOptions::default())
                .unwrap()
        };
        use siglens_engine::TextMask::{Always, Never};
        let (fa, fnm) = (texts(true, Always), texts(true, Never));
        let (ca, cm) = (
            min_cosine(&fa, &texts(false, Always)),
            min_cosine(&fnm, &texts(false, Never)),
        );
        assert!(
            ca > 0.99999 && cm > 0.99999,
            "{name} mask / none: {ca} {cm}"
        );
        assert!(
            min_cosine(&fa, &fnm) < 0.9999,
            "{name}: the mask changed nothing"
        );
    }
}

#[test]
fn half_precision_safetensors_load_as_f32() {
    let r = Reference::load("tiny48");
    let f32_model = load("tiny48", opts(ComputePolicy::all_f32()));
    let (fi, ft) = embed(&f32_model, &r);
    let st = candle_core::safetensors::load(
        model_dir("tiny48").join("model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    for dtype in [DType::F16, DType::BF16] {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "config.json",
            "preprocessor_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ] {
            std::fs::copy(model_dir("tiny48").join(f), dir.path().join(f)).unwrap();
        }
        let half: HashMap<String, Tensor> = st
            .iter()
            .map(|(k, v)| (k.clone(), v.to_dtype(dtype).unwrap()))
            .collect();
        candle_core::safetensors::save(&half, dir.path().join("model.safetensors")).unwrap();
        let m = Siglip::load_path(dir.path(), opts(ComputePolicy::all_f32())).unwrap();
        let (hi, ht) = embed(&m, &r);
        let (ci, ct) = (min_cosine(&hi, &fi), min_cosine(&ht, &ft));
        eprintln!("[tiny48] safetensors {dtype:?}: image cos min {ci:.6} text cos min {ct:.6}");
        assert!(ci >= 0.999 && ct >= 0.999, "{dtype:?}: {ci} {ct}");
    }
}

#[test]
fn broken_model_files_give_clear_errors() {
    let bytes = gguf_bytes("tiny48", StorageDType::Q8_0);
    let truncated = &bytes[..bytes.len() / 2];
    let e = read_gguf(&mut Cursor::new(truncated))
        .err()
        .expect("truncated GGUF must fail");
    assert!(e.to_string().contains("GGUF"), "{e}");
    let e = read_gguf(&mut Cursor::new(b"not a gguf file at all".to_vec()))
        .err()
        .unwrap();
    assert!(e.to_string().contains("not a valid GGUF"), "{e}");
    let e = siglens_engine::weights::load_safetensors_bytes(
        b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage",
    )
    .err();
    assert!(e.is_some());
    let missing = Siglip::load_path(
        std::path::Path::new("/nonexistent/model"),
        LoadOptions::default(),
    )
    .err()
    .unwrap();
    assert!(
        missing.to_string().contains("/nonexistent/model"),
        "{missing}"
    );
}

/// Feeds `bytes` to a [`GgufStream`] in chunks whose sizes cycle through `sizes`.
fn stream_in(
    bytes: &[u8],
    sizes: &[usize],
    policy: ComputePolicy,
) -> siglens_engine::Result<siglens_engine::ModelFiles> {
    let mut s = GgufStream::new(policy);
    let (mut at, mut k) = (0, 0);
    while at < bytes.len() {
        let n = sizes[k % sizes.len()].min(bytes.len() - at);
        s.push(&bytes[at..at + n])?;
        at += n;
        k += 1;
    }
    assert_eq!(s.bytes_in(), bytes.len() as u64);
    s.finish()
}

#[test]
fn streamed_gguf_loads_the_same_model_as_the_whole_file() {
    for name in MODELS {
        let r = Reference::load(name);
        for dtype in [StorageDType::F32, StorageDType::Q8_0, StorageDType::Q4K] {
            let bytes = gguf_bytes(name, dtype);
            let policy = ComputePolicy::for_this_platform();
            let whole = load_whole(&bytes, policy);
            let want = embed(&whole, &r);
            // Odd chunk sizes put tensor and header boundaries mid-chunk.
            for sizes in [vec![1 << 20], vec![7, 4093, 65537, 333], vec![bytes.len()]] {
                let files = stream_in(&bytes, &sizes, policy).unwrap();
                assert!(files.preprocessor_json.is_some());
                // Where q8_0 computes on the int8 kernel, linears arrive packed for it.
                let int8 = policy.matmul_compute(candle_core::quantized::GgmlDType::Q8_0)
                    == siglens_engine::weights::MatmulCompute::Int8;
                let packed = files
                    .weights
                    .dtype_summary()
                    .iter()
                    .any(|(k, ..)| k == "int8 (packed)");
                // (Q4K's rows of 48 or 64 fall back to q8_0: packed too; f32 never.)
                assert_eq!(
                    packed,
                    int8 && dtype != StorageDType::F32,
                    "{name} {dtype:?}"
                );
                let got = embed(&Siglip::load(files, opts(policy)).unwrap(), &r);
                assert_eq!(got, want, "{name} {dtype:?} chunks {sizes:?}");
            }
        }
    }
}

#[test]
fn streamed_gguf_rejects_truncated_and_foreign_input() {
    let bytes = gguf_bytes("tiny48", StorageDType::Q8_0);
    let policy = ComputePolicy::for_this_platform();
    for cut in [0, 3, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = stream_in(&bytes[..cut], &[4096], policy)
            .err()
            .expect("truncated must fail");
        let msg = e.to_string();
        assert!(
            msg.contains("truncated") || msg.contains("not a valid GGUF"),
            "cut at {cut}: {msg}"
        );
    }
    let e = stream_in(b"<!doctype html><html>not found</html>", &[4096], policy)
        .err()
        .unwrap();
    assert!(e.to_string().contains("bad magic"), "{e}");
}

/// Feeds `bytes` in `chunk`-byte pieces the way the browser reads its cache with `defer`:
/// a piece that lies wholly inside a deferred range (known once the header is parsed) is
/// skipped, not read. Returns the files and how many bytes were skipped.
fn stream_deferring(
    bytes: &[u8],
    chunk: usize,
    defer: Defer,
) -> siglens_engine::Result<(siglens_engine::ModelFiles, u64)> {
    let mut s = GgufStream::new(ComputePolicy::for_this_platform()).defer(defer);
    let mut skipped = 0;
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        let (a, b) = ((i * chunk) as u64, (i * chunk + piece.len()) as u64);
        if s.deferred_ranges().iter().any(|&(x, y)| x <= a && b <= y) {
            s.skip(b - a)?;
            skipped += b - a;
        } else {
            s.push(piece)?;
        }
    }
    assert_eq!(s.bytes_in(), bytes.len() as u64);
    Ok((s.finish()?, skipped))
}

/// Embeds `labels` the way the worker does with the token table left in the file: the
/// rows the batch needs are read out of `file` and handed over first.
fn embed_labels_reading_rows(m: &Siglip, labels: &[String], file: &[u8]) -> Vec<Vec<f32>> {
    let opts = TextOptions::default();
    let prompts: Vec<String> = labels
        .iter()
        .map(|l| opts.label_prompt(l).unwrap())
        .collect();
    let batch = m.tokenize(&prompts).unwrap();
    let at = m
        .token_rows_in_file()
        .expect("the table is left in the file");
    let missing = m.missing_token_rows(&batch);
    assert!(!missing.is_empty() && missing.windows(2).all(|w| w[0] < w[1]));
    let rows = missing
        .into_iter()
        .map(|id| {
            let (a, b) = at.range(id);
            (id, file[a as usize..b as usize].to_vec())
        })
        .collect();
    m.supply_token_rows(rows).unwrap();
    assert!(m.missing_token_rows(&batch).is_empty());
    m.embed_tokens(&batch).unwrap()
}

#[test]
fn the_token_table_left_in_the_file_gives_the_same_embeddings_row_by_row() {
    for name in MODELS {
        let r = Reference::load(name);
        let labels = r.strs("labels");
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        // Q4K: rows of 48 or 64 are not whole 256-element blocks, so storage falls back to
        // another dtype for the table; its rows are still whole blocks of that one.
        for dtype in [StorageDType::Q8_0, StorageDType::F16, StorageDType::Q4K] {
            let bytes = gguf_bytes(name, dtype);
            let policy = ComputePolicy::for_this_platform();
            let whole = load_whole(&bytes, policy);
            let want = embed(&whole, &r);
            for chunk in [512, 4096] {
                let (files, skipped) = stream_deferring(&bytes, chunk, Defer::TokenTable).unwrap();
                let m = Siglip::load(files, opts(policy)).unwrap();
                assert!(skipped > 0, "{name} {dtype:?} {chunk}: nothing was skipped");
                let e = m
                    .embed_labels(&refs, &TextOptions::default())
                    .expect_err("rows were not read");
                assert!(e.to_string().contains("was not read"), "{e}");
                assert_eq!(
                    embed_images_only(&m, &r),
                    want.0,
                    "{name} {dtype:?}: images"
                );
                let texts = embed_labels_reading_rows(&m, &labels, &bytes);
                assert_eq!(texts, want.1, "{name} {dtype:?} {chunk}: texts");
            }
        }
    }
}

#[test]
fn an_image_engine_skips_the_whole_text_tower() {
    let r = Reference::load("tiny48");
    let bytes = gguf_bytes("tiny48", StorageDType::Q8_0);
    let policy = ComputePolicy::for_this_platform();
    let whole = load_whole(&bytes, policy);
    let (table, _) = stream_deferring(&bytes, 512, Defer::TokenTable).unwrap();
    let (files, skipped) = stream_deferring(&bytes, 512, Defer::TextTower).unwrap();
    let text_bytes: usize = table
        .weights
        .iter()
        .filter(|(n, _)| n.starts_with("text_model."))
        .map(|(_, t)| t.size_in_bytes())
        .sum();
    assert!(
        skipped > text_bytes as u64 / 2,
        "{skipped} bytes skipped of a text tower of {text_bytes} (+ its table)"
    );
    let vision_only = LoadOptions {
        towers: Towers::VisionOnly,
        ..opts(policy)
    };
    let m = Siglip::load(files, vision_only).unwrap();
    assert_eq!(embed_images_only(&m, &r), embed(&whole, &r).0);
}

#[test]
fn skipping_bytes_that_are_needed_is_an_error() {
    let bytes = gguf_bytes("tiny48", StorageDType::Q8_0);
    let mut s = GgufStream::new(ComputePolicy::for_this_platform()).defer(Defer::TokenTable);
    assert!(s.skip(10).is_err(), "before the header");
    s.push(&bytes[..bytes.len() / 2]).unwrap();
    let ranges = s.deferred_ranges();
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    // Past the table: those bytes hold other tensors.
    let at = s.bytes_in();
    let e = s.skip(bytes.len() as u64 - at).unwrap_err();
    assert!(e.to_string().contains("needed"), "{e}");
}

/// Streams `model.safetensors` through [`SafetensorsToGguf`] in chunks cycling `sizes`.
fn convert_streaming(
    name: &str,
    dtype: StorageDType,
    sizes: &[usize],
) -> siglens_engine::Result<Vec<u8>> {
    let dir = model_dir(name);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let (config, pre, tok, tok_cfg) = (
        read("config.json").unwrap(),
        read("preprocessor_config.json"),
        read("tokenizer.json").unwrap(),
        read("tokenizer_config.json"),
    );
    let mut conv = SafetensorsToGguf::new(
        ModelJson {
            config_json: &config,
            preprocessor_json: pre.as_deref(),
            tokenizer_json: &tok,
            tokenizer_config_json: tok_cfg.as_deref(),
        },
        dtype,
    );
    let st = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = &st[..st.len() - sizes.iter().copied().filter(|&s| s == 0).count()];
    let mut out = Vec::new();
    let (mut at, mut k) = (0, 0);
    let sizes: Vec<usize> = sizes.iter().copied().filter(|&s| s > 0).collect();
    while at < st.len() {
        let n = sizes[k % sizes.len()].min(st.len() - at);
        out.extend(conv.push(&st[at..at + n])?);
        at += n;
        k += 1;
    }
    conv.finish()?;
    Ok(out)
}

#[test]
fn safetensors_quantized_while_streaming_equals_siglens_quantize() {
    for name in MODELS {
        let r = Reference::load(name);
        for dtype in [
            StorageDType::F32,
            StorageDType::F16,
            StorageDType::Q8_0,
            StorageDType::Q4K,
        ] {
            let whole = gguf_bytes(name, dtype);
            let policy = ComputePolicy::for_this_platform();
            let want = embed(
                &Siglip::load(read_gguf(&mut Cursor::new(&whole)).unwrap(), opts(policy)).unwrap(),
                &r,
            );
            for sizes in [vec![1 << 20], vec![3, 8191, 100_003, 5]] {
                let streamed = convert_streaming(name, dtype, &sizes).unwrap();
                // Same layout as Candle's writer (tensor order aside), so the same size.
                assert_eq!(streamed.len(), whole.len(), "{name} {dtype:?}");
                // Read back both by Candle's reader and by our streaming reader.
                let a = Siglip::load(
                    read_gguf(&mut Cursor::new(&streamed)).unwrap(),
                    opts(policy),
                )
                .unwrap();
                assert_eq!(embed(&a, &r), want, "{name} {dtype:?} {sizes:?}");
                let b = Siglip::load(stream_in(&streamed, &sizes, policy).unwrap(), opts(policy))
                    .unwrap();
                assert_eq!(
                    embed(&b, &r),
                    want,
                    "{name} {dtype:?} {sizes:?} (streamed read)"
                );
            }
        }
    }
}

#[test]
fn truncated_or_foreign_safetensors_stream_fails_clearly() {
    // A trailing 0 in `sizes` drops that many bytes from the end of the file.
    let e = convert_streaming("tiny48", StorageDType::Q8_0, &[4096, 0]).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let mut conv = SafetensorsToGguf::new(
        ModelJson {
            config_json: "{}",
            preprocessor_json: None,
            tokenizer_json: "{}",
            tokenizer_config_json: None,
        },
        StorageDType::Q8_0,
    );
    let e = conv
        .push(b"<!doctype html><html>404 not found</html>")
        .unwrap_err();
    assert!(e.to_string().contains("not a safetensors file"), "{e}");
}

#[test]
fn a_lazy_tokenizer_gives_the_same_embeddings_and_reports_a_bad_file_at_first_use() {
    let r = Reference::load("tiny48");
    let lazy = LoadOptions {
        lazy_tokenizer: true,
        ..Default::default()
    };
    let files = || load_model_path(&model_dir("tiny48")).unwrap();
    let eager_model = Siglip::load(files(), LoadOptions::default()).unwrap();
    let lazy_model = Siglip::load(files(), lazy.clone()).unwrap();
    assert_eq!(embed(&lazy_model, &r), embed(&eager_model, &r));
    let mut bad = files();
    bad.tokenizer_json = "{ not a tokenizer".into();
    let e = Siglip::load(bad, LoadOptions::default())
        .err()
        .expect("eager: the load fails");
    assert!(e.to_string().contains("tokenizer.json"), "{e}");
    let mut bad = files();
    bad.tokenizer_json = "{ not a tokenizer".into();
    let m = Siglip::load(bad, lazy).expect("lazy: the load succeeds");
    assert_eq!(embed_images_only(&m, &r), embed(&eager_model, &r).0);
    let e = m
        .embed_labels(&["cat"], &TextOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("tokenizer.json"), "{e}");
}
