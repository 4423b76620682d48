//! `siglens bench`: how fast the loaded model embeds, for comparing devices, dtypes and
//! batch sizes with other runtimes (tools/bench-gpu.sh). It times the model only: pixel
//! values (random, already preprocessed) and token ids are made before the clock starts;
//! each timed run includes the upload to the device and reading the embeddings back.

use std::time::Instant;

use anyhow::Result;
use serde_json::{json, Value};
use siglens_engine::preprocess::PixelValues;
use siglens_engine::Siglip;

pub struct BenchSpec {
    pub images: usize,
    pub texts: usize,
    pub warmup: usize,
    pub runs: usize,
}

/// Deterministic pixels in [-1, 1) (the normalised range); a small LCG, no dependency.
fn random_pixels(n: usize, size: usize) -> Vec<PixelValues> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| PixelValues {
            height: size,
            width: size,
            data: (0..3 * size * size)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect(),
        })
        .collect()
}

/// Median and minimum seconds of `runs` calls after `warmup` untimed ones.
fn time<F: FnMut() -> Result<()>>(warmup: usize, runs: usize, mut f: F) -> Result<(f64, f64)> {
    for _ in 0..warmup {
        f()?;
    }
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    Ok((secs[secs.len() / 2], secs[0]))
}

/// `{n, median_s, min_s, per_s}` for `f` embedding `n` items per call.
fn measured<F: FnMut() -> Result<()>>(spec: &BenchSpec, n: usize, f: F) -> Result<Value> {
    let (median, min) = time(spec.warmup, spec.runs, f)?;
    Ok(json!({
        "n": n,
        "median_s": median,
        "min_s": min,
        "per_s": n as f64 / median,
    }))
}

pub fn run(m: &Siglip, spec: &BenchSpec) -> Result<Value> {
    let mut out = json!({
        "device": format!("{:?}", m.options.device.location()),
        "compute_dtype": format!("{:?}", m.options.compute_dtype).to_lowercase(),
        "batch_size": m.options.batch_size,
        "warmup": spec.warmup,
        "runs": spec.runs,
    });
    if spec.images > 0 {
        let px = random_pixels(spec.images, m.config.vision_config.image_size);
        out["images"] = measured(spec, spec.images, || {
            m.embed_pixels(&px)?;
            Ok(())
        })?;
    }
    if spec.texts > 0 {
        let texts: Vec<String> = (0..spec.texts)
            .map(|i| format!("a photo of thing number {i}, seen from the side"))
            .collect();
        let tokens = m.tokenize(&texts)?;
        out["texts"] = measured(spec, spec.texts, || {
            m.embed_tokens(&tokens)?;
            Ok(())
        })?;
    }
    Ok(out)
}
