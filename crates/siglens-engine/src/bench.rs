//! Timing the loaded model on random inputs, shared by `siglens bench` (native clock) and
//! the worker's speed test (the browser's clock): the same inputs and the same statistic
//! everywhere, so figures from the CLI, the browser and the peers compare. Pixel values
//! (already preprocessed) and token ids are made before the clock starts: this times the
//! model, not image decoding.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::preprocess::PixelValues;
use crate::Siglip;

/// What to time: one entry per image batch size, then `texts` labels in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSpec {
    pub image_batches: Vec<usize>,
    pub texts: usize,
    pub warmup: usize,
    pub runs: usize,
}

/// `n` items per timed call: the median and fastest call, and items per second at the median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub n: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub images: Vec<Timing>,
    pub texts: Option<Timing>,
    pub warmup: usize,
    pub runs: usize,
}

/// Deterministic pixels in [-1, 1) (the normalised range); a small LCG, no dependency.
pub fn random_pixels(n: usize, size: usize) -> Vec<PixelValues> {
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

/// Labels of ordinary length; their token ids do not change the speed (fixed 64 tokens).
pub fn bench_texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("a photo of thing number {i}, seen from the side"))
        .collect()
}

/// Times `f` (`n` items a call): `warmup` untimed calls, then the median of `runs`.
/// `clock` gives seconds from any origin.
fn measure(
    n: usize,
    spec: &BenchSpec,
    clock: &dyn Fn() -> f64,
    mut f: impl FnMut() -> Result<()>,
) -> Result<Timing> {
    for _ in 0..spec.warmup {
        f()?;
    }
    let mut secs = Vec::with_capacity(spec.runs.max(1));
    for _ in 0..spec.runs.max(1) {
        let t = clock();
        f()?;
        secs.push(clock() - t);
    }
    Ok(timing(n, secs))
}

fn timing(n: usize, mut secs: Vec<f64>) -> Timing {
    secs.sort_by(f64::total_cmp);
    let median_s = secs[secs.len() / 2];
    Timing {
        n,
        median_s,
        min_s: secs[0],
        per_s: n as f64 / median_s,
    }
}

pub fn run(m: &Siglip, spec: &BenchSpec, clock: &dyn Fn() -> f64) -> Result<BenchReport> {
    let size = m.config.vision_config.image_size;
    let mut images = Vec::new();
    for &b in spec.image_batches.iter().filter(|&&b| b > 0) {
        let px = random_pixels(b, size);
        images.push(measure(b, spec, clock, || m.embed_pixels(&px).map(drop))?);
    }
    let texts = if spec.texts > 0 {
        let tokens = m.tokenize(&bench_texts(spec.texts))?;
        Some(measure(spec.texts, spec, clock, || {
            m.embed_tokens(&tokens).map(drop)
        })?)
    } else {
        None
    };
    Ok(BenchReport {
        images,
        texts,
        warmup: spec.warmup,
        runs: spec.runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let t = timing(4, vec![3.0, 1.0, 2.0]);
        assert_eq!((t.median_s, t.min_s, t.per_s), (2.0, 1.0, 2.0));
        // Even count: the upper middle (the conservative one for a speed figure).
        assert_eq!(timing(1, vec![4.0, 1.0, 3.0, 2.0]).median_s, 3.0);
    }

    #[test]
    fn pixels_are_deterministic_and_in_range() {
        let a = random_pixels(2, 8);
        assert_eq!(a[0].data, random_pixels(2, 8)[0].data);
        assert_ne!(a[0].data, a[1].data);
        assert!(a
            .iter()
            .flat_map(|p| &p.data)
            .all(|v| (-1.0..1.0).contains(v)));
    }
}
