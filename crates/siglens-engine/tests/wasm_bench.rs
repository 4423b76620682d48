//! Kernel timings in the browser (Chromium worker-less page, 1 thread, SIMD128): the wasm
//! half of the measurement behind `ComputePolicy` (the native half is `examples/bench.rs`).
//! A benchmark, not a test, so it is ignored by default:
//!
//!     CARGO_TARGET_DIR=target/wasm CHROMEDRIVER=/usr/bin/chromedriver cargo test -p siglens-engine \
//!       --target wasm32-unknown-unknown --release --test wasm_bench -- --include-ignored --nocapture
#![cfg(target_arch = "wasm32")]

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = js_sys::Date::now();
            f();
            js_sys::Date::now() - s
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

#[wasm_bindgen_test]
#[ignore]
fn kernels_in_the_browser() {
    let (m, k, n) = (197, 768, 3072);
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap();
    let w = Tensor::randn(0f32, 0.02, (n, k), &dev).unwrap();
    let wt = w.t().unwrap().contiguous().unwrap();
    let gflop = 2.0 * (m * k * n) as f64 / 1e9;
    let mut lines = vec![
        format!("| kernel ({m}x{k} @ {k}x{n}), wasm simd128 | median ms | GFLOP/s |"),
        "|---|---|---|".into(),
    ];
    let ms = median_ms(10, || {
        x.matmul(&wt).unwrap();
    });
    lines.push(format!(
        "| f32 matmul, weight stored transposed | {ms:.1} | {:.1} |",
        gflop / ms * 1e3
    ));
    for dt in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4K] {
        let q = QMatMul::from_qtensor(QTensor::quantize(&w, dt).unwrap()).unwrap();
        let ms = median_ms(10, || {
            q.forward(&x).unwrap();
        });
        lines.push(format!(
            "| Candle QMatMul {dt:?} | {ms:.1} | {:.1} |",
            gflop / ms * 1e3
        ));
    }
    console_log!("{}", lines.join("\n"));
}
