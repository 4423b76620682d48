//! Native measurements behind the engine's choices, printed as Markdown for BENCHMARKS.md.
//!
//!     cargo run --release -p siglens-engine --example bench                 # kernels only
//!     cargo run --release -p siglens-engine --example bench -- MODEL_DIR [IMAGES...]
//!
//! Kernels: one SigLIP-base MLP linear (197x768 @ 768x3072) in f32 (our transposed layout)
//! and with Candle's quantized matmul per storage dtype; this decides `ComputePolicy`.
//! Model: load time, vision latency at batch 1 and 8, text for 10 labels, and each storage
//! dtype's cosine against f32 on the given images (random weights: compare side by side only).

#[cfg(not(target_arch = "wasm32"))]
use std::io::Cursor;
use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
// The model half reads a directory: native only (wasm32 builds it for clippy).
#[cfg(not(target_arch = "wasm32"))]
use siglens_engine::preprocess::PixelValues;
#[cfg(not(target_arch = "wasm32"))]
use siglens_engine::weights::{load_model_path, read_gguf, write_gguf};
#[cfg(not(target_arch = "wasm32"))]
use siglens_engine::{scores, ComputePolicy, LoadOptions, Siglip, StorageDType, TextOptions};

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn kernels() -> candle_core::Result<()> {
    let (m, k, n) = (197, 768, 3072);
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (m, k), &dev)?;
    let w = Tensor::randn(0f32, 0.02, (n, k), &dev)?;
    let wt = w.t()?.contiguous()?;
    let gflop = 2.0 * (m * k * n) as f64 / 1e9;
    println!("| kernel ({m}x{k} @ {k}x{n}) | median ms | GFLOP/s |\n|---|---|---|");
    let ms = median_ms(10, || {
        x.matmul(&wt).unwrap();
    });
    println!(
        "| f32 matmul, weight stored transposed | {ms:.2} | {:.1} |",
        gflop / ms * 1e3
    );
    for dt in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4K] {
        let q = QMatMul::from_qtensor(QTensor::quantize(&w, dt)?)?;
        let ms = median_ms(10, || {
            q.forward(&x).unwrap();
        });
        println!(
            "| Candle QMatMul {dt:?} | {ms:.2} | {:.1} |",
            gflop / ms * 1e3
        );
    }
    // Our int8 kernel on the same q8_0 blocks (AVX2 where the CPU has it, rows over the
    // rayon pool: RAYON_NUM_THREADS sets it, as for Candle).
    let q = QTensor::quantize(&w, GgmlDType::Q8_0)?;
    let packed = siglens_engine::kernels::PackedI8::from_q8_0(&q.data()?, n, k);
    let xv = x.flatten_all()?.to_vec1::<f32>()?;
    let ms = median_ms(10, || {
        packed.matmul(&xv, m);
    });
    println!(
        "| siglens int8 kernel on q8_0 (16-bit activations) | {ms:.2} | {:.1} |",
        gflop / ms * 1e3
    );
    // A batch of 16 images' rows at once (what one engine gets of a dropped batch): per
    // image, to compare with batch 1.
    let xb: Vec<f32> = (0..16).flat_map(|_| xv.iter().copied()).collect();
    let ms = median_ms(5, || {
        packed.matmul(&xb, 16 * m);
    }) / 16.0;
    println!(
        "| siglens int8 kernel, 16 x {m} rows, per {m} | {ms:.2} | {:.1} |",
        gflop / ms * 1e3
    );
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
fn model(dir: &str, images: &[String]) -> siglens_engine::Result<()> {
    let files = load_model_path(std::path::Path::new(dir))?;
    let dtypes = [
        StorageDType::F32,
        StorageDType::F16,
        StorageDType::Q8_0,
        StorageDType::Q4K,
    ];
    let mut bytes = Vec::new();
    for d in dtypes {
        let mut c = Cursor::new(Vec::new());
        write_gguf(&mut c, &files, d)?;
        bytes.push((d, c.into_inner()));
    }
    drop(files);
    let images: Vec<Vec<u8>> = images
        .iter()
        .map(|p| std::fs::read(p).expect("image readable"))
        .collect();
    let labels = [
        "cat",
        "dog",
        "car",
        "tree",
        "house",
        "person",
        "rocket",
        "coffee",
        "astronaut",
        "camera",
    ];
    println!("\n| storage | compute | GGUF bytes | load ms | vision b=1 ms | vision b=8 ms/img | text 10 labels ms | image cos min vs f32 |\n|---|---|---|---|---|---|---|---|");
    let mut reference: Option<Vec<Vec<f32>>> = None;
    let quantized = ComputePolicy {
        quantized_q4k: true,
        quantized_q8_0: true,
        quantized_q4_0: true,
        int8_kernel: false,
        fused_layers: true,
        coarse_mlp_input: true,
    };
    let runs = bytes.iter().flat_map(|(d, b)| {
        let policies = match d {
            StorageDType::Q8_0 | StorageDType::Q4K => vec![ComputePolicy::all_f32(), quantized],
            _ => vec![ComputePolicy::all_f32()],
        };
        policies.into_iter().map(move |p| (d, b, p))
    });
    for (d, b, policy) in runs {
        let t = Instant::now();
        let m = Siglip::load(
            read_gguf(&mut Cursor::new(b))?,
            LoadOptions {
                policy,
                ..Default::default()
            },
        )?;
        let compute = if policy == quantized {
            "quantized matmul"
        } else {
            "f32 (dequantized at load)"
        };
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        let s = m.config.vision_config.image_size;
        let px: Vec<PixelValues> = images
            .iter()
            .map(|i| m.preprocess_image(i))
            .collect::<Result<_, _>>()?;
        let one = vec![px.first().cloned().unwrap_or(PixelValues {
            height: s,
            width: s,
            data: vec![0.0; 3 * s * s],
        })];
        let eight: Vec<PixelValues> = (0..8).map(|i| one[0].clone().tap(i)).collect();
        let b1 = median_ms(10, || {
            m.embed_pixels(&one).unwrap();
        });
        let b8 = median_ms(3, || {
            m.embed_pixels(&eight).unwrap();
        }) / 8.0;
        let tx = median_ms(10, || {
            m.embed_labels(&labels, &TextOptions::default()).unwrap();
        });
        let embs = m.embed_pixels(&px)?;
        let cos = match &reference {
            None => {
                reference = Some(embs);
                1.0
            }
            Some(r) => r
                .iter()
                .zip(&embs)
                .map(|(a, b)| scores::cosine(a, b))
                .fold(1.0f32, f32::min),
        };
        println!(
            "| {} | {compute} | {} | {load_ms:.0} | {b1:.1} | {b8:.1} | {tx:.1} | {cos:.6} |",
            d.name(),
            b.len()
        );
    }
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
trait Tap {
    fn tap(self, i: usize) -> Self;
}
#[cfg(not(target_arch = "wasm32"))]
impl Tap for PixelValues {
    /// A slightly different copy, so a batch is not eight identical rows.
    fn tap(mut self, i: usize) -> Self {
        self.data[0] += i as f32 * 1e-3;
        self
    }
}

fn main() {
    println!(
        "threads: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    kernels().expect("kernel bench");
    #[cfg(not(target_arch = "wasm32"))]
    {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Some(dir) = args.first() {
            model(dir, &args[1..]).expect("model bench");
        }
    }
}
