//! Layer norm over rows of a plain f32 buffer (the encoder's CPU path, `model/cpu_layer`):
//! mean and variance in 8 lanes so LLVM vectorizes them, rows shared over the threads.

use super::par;

/// `(x - mean) / sqrt(var + eps) * weight + bias` for each row of `x` (`rows x weight.len()`),
/// the biased variance as `torch.nn.LayerNorm` takes it.
pub fn layer_norm_rows(x: &[f32], weight: &[f32], bias: &[f32], eps: f32) -> Vec<f32> {
    let n = weight.len();
    assert!(n > 0 && bias.len() == n && x.len().is_multiple_of(n));
    let mut out = vec![0f32; x.len()];
    par::for_row_chunks(&mut out, n, |first, chunk| {
        norm_rows(&x[first * n..][..chunk.len()], weight, bias, eps, chunk);
    });
    out
}

wide_on_avx512! {
    fn norm_rows(src: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
        let n = weight.len();
        for (row, o) in src.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            norm_row(row, weight, bias, eps, o);
        }
    }
}

#[inline(always)]
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += f(*v);
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().map(|v| f(*v)).sum::<f32>()
}

#[inline(always)]
fn norm_row(row: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
    let inv_n = 1.0 / row.len() as f32;
    let mean = lane_sum(row, |v| v) * inv_n;
    let var = lane_sum(row, |v| (v - mean) * (v - mean)) * inv_n;
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, &v), &w), &b) in out.iter_mut().zip(row).zip(w).zip(b) {
        *o = (v - mean) * inv * w + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn matches_candle_layer_norm() {
        let (rows, n) = (7, 40);
        let x: Vec<f32> = (0..rows * n)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.11 + (i / n) as f32)
            .collect();
        let w: Vec<f32> = (0..n).map(|i| 0.5 + (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.2 - 0.4).collect();
        let ours = layer_norm_rows(&x, &w, &b, 1e-6);
        let dev = Device::Cpu;
        let t = Tensor::from_vec(x, (rows, n), &dev).unwrap();
        let want: Vec<f32> = candle_nn::ops::layer_norm(
            &t,
            &Tensor::from_vec(w, n, &dev).unwrap(),
            &Tensor::from_vec(b, n, &dev).unwrap(),
            1e-6,
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
        for (a, b) in ours.iter().zip(&want) {
            assert!((a - b).abs() <= 2e-6 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}
