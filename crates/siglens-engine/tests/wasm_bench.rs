//! Kernel timings in the browser (Chromium worker-less page, 1 thread, SIMD128): the wasm
//! half of the measurement behind `ComputePolicy` (the native half is `examples/bench.rs`).
//! A benchmark, not a test, so it is ignored by default:
//!
//!     CARGO_TARGET_DIR=target/wasm CHROMEDRIVER=/usr/bin/chromedriver cargo test -p siglens-engine \
//!       --target wasm32-unknown-unknown --release --test wasm_bench -- --include-ignored --nocapture
#![cfg(target_arch = "wasm32")]

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use siglens_engine::kernels::PackedI8;
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

/// Our int8 kernel (`kernels::int8`) against Candle's f32 and q8_0 matmuls on both MLP
/// shapes, with each register tile (rows x groups of 4 columns) and both weight scalings.
#[wasm_bindgen_test]
#[ignore]
fn int8_kernel_in_the_browser() {
    let dev = Device::Cpu;
    let mut lines = vec![
        "| kernel, wasm simd128 | shape | median ms | GOP/s |".to_string(),
        "|---|---|---|---|".into(),
    ];
    for (m, k, n) in [(197, 768, 3072), (197, 3072, 768)] {
        let shape = format!("{m}x{k} @ {k}x{n}");
        let x = Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap();
        let w = Tensor::randn(0f32, 0.02, (n, k), &dev).unwrap();
        let wt = w.t().unwrap().contiguous().unwrap();
        let gop = 2.0 * (m * k * n) as f64 / 1e9;
        let mut row = |name: &str, ms: f64| {
            lines.push(format!(
                "| {name} | {shape} | {ms:.1} | {:.1} |",
                gop / ms * 1e3
            ))
        };
        let ms = median_ms(10, || {
            x.matmul(&wt).unwrap();
        });
        row("Candle f32 matmul, weight stored transposed", ms);
        let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        let data = q.data().unwrap().into_owned();
        let qm = QMatMul::from_qtensor(q).unwrap();
        let ms = median_ms(10, || {
            qm.forward(&x).unwrap();
        });
        row("Candle QMatMul Q8_0", ms);
        let xv = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let packed = PackedI8::from_q8_0(&data, n, k);
        for (r, g) in [(4, 2), (3, 3), (5, 2), (6, 2), (2, 4), (4, 3)] {
            let ms = median_ms(10, || {
                packed.matmul_tiled(&xv, m, r, g);
            });
            row(
                &format!("int8 kernel, q8_0 blocks of 32, tile {r}x{}", 4 * g),
                ms,
            );
        }
        let wv = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let per_col = PackedI8::from_f32(&wv, n, k, k);
        for (r, g) in [(4, 2), (3, 3)] {
            let ms = median_ms(10, || {
                per_col.matmul_tiled(&xv, m, r, g);
            });
            row(
                &format!("int8 kernel, one scale per column, tile {r}x{}", 4 * g),
                ms,
            );
        }
    }
    console_log!("{}", lines.join("\n"));
}
