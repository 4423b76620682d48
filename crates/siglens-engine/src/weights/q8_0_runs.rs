//! How siglens writes q8_0 for the linear layers: standard GGML q8_0 blocks (f16 scale, 32
//! x i8), but each run of up to 8 consecutive blocks of a row shares one scale (that of the
//! run's largest magnitude). Any q8_0 reader dequantizes it as usual; the int8 kernel sees
//! the equal scales and packs the run as one block of up to 256 exactly
//! (`PackedI8::from_q8_0`), so it leaves its i32 sums for the f32 epilogue 8x less often:
//! ~10% of the vision tower in the browser for one scale per 256 weights instead of per 32
//! (fidelity against PyTorch fp32 on the same weights: BENCHMARKS.md, "Longer q8_0 blocks").

use half::f16;

/// q8_0 block length and bytes.
pub const BLOCK: usize = 32;
pub const BLOCK_BYTES: usize = 34;
/// Most blocks one scale covers: 256 weights, whose i32 sums still fit every kernel.
pub const MAX_RUN: usize = 8;

/// Blocks per shared scale for rows of `row` values: the largest of 8, 4, 2, 1 dividing the
/// row's block count (768 and 3072 wide rows: 8).
pub fn run_blocks(row: usize) -> usize {
    let blocks = row / BLOCK;
    [MAX_RUN, 4, 2]
        .into_iter()
        .find(|r| blocks.is_multiple_of(*r))
        .unwrap_or(1)
}

/// Whether tensor `name`'s q8_0 blocks share scales: the encoder layers' and heads'
/// matrices, nearly all of the kernel's work. The patch embedding keeps one scale a block:
/// on the pixels directly it was most of the fidelity the runs cost on the tiny48 fixture
/// (image cosine 0.99918 with it, 0.99972 without; BENCHMARKS.md) for ~1% of the work. The
/// token table is read a row at a time and never reaches the kernel.
pub fn shares_scales(name: &str) -> bool {
    !name.contains("token_embedding") && !name.contains("patch_embedding")
}

/// `values` (whole rows of `row`, a multiple of 32) as q8_0 bytes, each run of
/// [`run_blocks`] blocks under one scale. The rounding is GGML's (`d = amax / 127`, `q =
/// round(v / d)`, `d` stored as f16).
pub fn quantize(values: &[f32], row: usize) -> Vec<u8> {
    assert!(row.is_multiple_of(BLOCK) && values.len().is_multiple_of(row));
    let run = run_blocks(row) * BLOCK;
    let mut out = Vec::with_capacity(values.len() / BLOCK * BLOCK_BYTES);
    for chunk in values.chunks_exact(run) {
        let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        let scale = f16::from_f32(d).to_le_bytes();
        for block in chunk.chunks_exact(BLOCK) {
            out.extend_from_slice(&scale);
            out.extend(
                block
                    .iter()
                    .map(|v| (v * id).round().clamp(-127.0, 127.0) as i8 as u8),
            );
        }
    }
    out
}

/// The run length (in blocks) that rows of `k` values in `data` (q8_0 bytes, `n` rows)
/// share scales over: the longest of [`run_blocks`]`(k)`, 4, 2 whose runs all hold equal
/// scales, else 1 (q8_0 written by other tools, or by siglens before runs).
pub fn shared_run(data: &[u8], n: usize, k: usize) -> usize {
    let blocks = k / BLOCK;
    assert_eq!(data.len(), n * blocks * BLOCK_BYTES);
    let scale = |i: usize| &data[i * BLOCK_BYTES..i * BLOCK_BYTES + 2];
    let mut run = run_blocks(k);
    while run > 1 {
        let equal = (0..n * blocks)
            .step_by(run)
            .all(|first| (first + 1..first + run).all(|i| scale(i) == scale(first)));
        if equal {
            return run;
        }
        run /= 2;
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{ggml_file, GgmlDType};
    use candle_core::Device;

    fn values(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 2654435761usize) % 2001) as f32 / 1000.0 - 1.0)
            .map(|v| v * v * v * 0.05)
            .collect()
    }

    #[test]
    fn runs_follow_the_row_width() {
        assert_eq!(run_blocks(768), 8);
        assert_eq!(run_blocks(3072), 8);
        assert_eq!(run_blocks(1152), 4); // so400m: 36 blocks
        assert_eq!(run_blocks(64), 2);
        assert_eq!(run_blocks(32), 1);
        assert_eq!(run_blocks(96), 1);
    }

    #[test]
    fn written_blocks_are_plain_q8_0_within_half_a_step() {
        let (n, k) = (5, 768);
        let v = values(n * k);
        let bytes = quantize(&v, k);
        let q = ggml_file::qtensor_from_ggml(GgmlDType::Q8_0, &bytes, vec![n, k], &Device::Cpu)
            .unwrap();
        let back = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap();
        let back = back.to_vec1::<f32>().unwrap();
        for (run_v, run_b) in v.chunks_exact(256).zip(back.chunks_exact(256)) {
            let amax = run_v.iter().fold(0f32, |m, x| m.max(x.abs()));
            // Half a step of the run's scale, plus the f16 rounding of that scale.
            let bound = amax / 127.0 * 0.5 + amax * 1e-3;
            for (a, b) in run_v.iter().zip(run_b) {
                assert!((a - b).abs() <= bound, "{a} vs {b} (bound {bound})");
            }
        }
        assert_eq!(shared_run(&bytes, n, k), 8);
    }

    #[test]
    fn blocks_with_their_own_scales_are_runs_of_one() {
        let (n, k) = (3, 256);
        let v = values(n * k);
        let t = candle_core::Tensor::from_vec(v, (n, k), &Device::Cpu).unwrap();
        let q = candle_core::quantized::QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
        assert_eq!(shared_run(&q.data().unwrap(), n, k), 1);
        // One differing scale in the last run of the last row is enough.
        let mut bytes = quantize(&values(n * k), k);
        assert_eq!(shared_run(&bytes, n, k), 8);
        let last = (n * k / BLOCK - 1) * BLOCK_BYTES;
        bytes[last] ^= 1;
        assert_eq!(shared_run(&bytes, n, k), 1);
    }
}
