//! `siglens bench`: how fast the loaded model embeds, for comparing devices, dtypes and
//! batch sizes with other runtimes (tools/bench-gpu.sh, `cargo xtask bench`). The timing
//! itself is the engine's (`siglens_engine::bench`, shared with the browser's speed test);
//! each timed run includes the upload to the device and reading the embeddings back.

use std::time::Instant;

use anyhow::Result;
use serde_json::{json, Value};
use siglens_engine::bench::{self, BenchSpec};
use siglens_engine::Siglip;

/// One JSON object: `images` / `texts` are `{n, median_s, min_s, per_s}` when measured.
pub fn run(m: &Siglip, images: usize, texts: usize, warmup: usize, runs: usize) -> Result<Value> {
    let spec = BenchSpec {
        image_batches: vec![images],
        texts,
        warmup,
        runs,
    };
    let start = Instant::now();
    let report = bench::run(m, &spec, &|| start.elapsed().as_secs_f64())?;
    let mut out = json!({
        "device": format!("{:?}", m.options.device.location()),
        "compute_dtype": format!("{:?}", m.options.compute_dtype).to_lowercase(),
        "batch_size": m.options.batch_size,
        "threads": siglens_engine::device::cpu_threads(),
        "warmup": warmup,
        "runs": runs,
    });
    if let Some(t) = report.images.first() {
        out["images"] = serde_json::to_value(t)?;
    }
    if let Some(t) = &report.texts {
        out["texts"] = serde_json::to_value(t)?;
    }
    // How much of the vision MLP's input took 7 bits (`InputPrecision::Coarse`): rows with
    // outliers keep 14 bits, so on a real checkpoint this says how much of the speed-up
    // applies (on these random pixels).
    let (all, seven) = siglens_engine::kernels::int8::coarse_row_counts();
    if all > 0 {
        out["mlp_input_7bit_rows"] = json!(seven as f64 / all as f64);
    }
    Ok(out)
}
