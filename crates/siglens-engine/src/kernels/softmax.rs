//! Softmax over the last dimension of a CPU f32 tensor (the attention weights), on the
//! branch-free [`super::exp`]: Candle's calls `expf` per element, a software routine in
//! wasm (7% of the base vision tower once the matmuls were fast).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::exp::exp;

/// One row in place: subtract the max (stability), exponentiate, normalise. The max and the
/// sum keep 8 partial lanes so LLVM vectorizes them (a single running value is a serial
/// dependency it may not reorder).
#[inline(always)]
pub fn softmax_row(row: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l = if *v > *l { *v } else { *l };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let mut sums = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (s, v) in sums.iter_mut().zip(c) {
            *s += v;
        }
    }
    let sum: f32 = sums.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

struct SoftmaxLastDim;

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "siglens-softmax-last-dim"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = s else {
            candle_core::bail!("siglens softmax: f32 only")
        };
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("siglens softmax: contiguous input only")
        };
        let n = l.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = data[start..end].to_vec();
        for row in out.chunks_mut(n) {
            softmax_row(row);
        }
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `softmax_last_dim(x)`, on our loop where it applies (CPU, f32), else Candle's.
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 && x.rank() > 0 {
        x.contiguous()?.apply_op1_no_bwd(&SoftmaxLastDim)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn equals_candle_and_gives_masked_positions_no_weight() {
        let v: Vec<f32> = (0..6 * 50)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.3)
            .collect();
        let t = Tensor::from_vec(v, (6, 50), &Device::Cpu).unwrap();
        let ours: Vec<f32> = softmax_last_dim(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let candle: Vec<f32> = candle_nn::ops::softmax_last_dim(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in ours.iter().zip(&candle) {
            assert!((a - b).abs() <= 1e-6 * b.max(1e-6) + 1e-9, "{a} vs {b}");
        }
        for row in ours.chunks(50) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let mut masked = vec![1.0, f32::NEG_INFINITY, 2.0, f32::MIN];
        softmax_row(&mut masked);
        assert_eq!((masked[1], masked[3]), (0.0, 0.0));
        assert!((masked[0] + masked[2] - 1.0).abs() < 1e-6);
    }
}
