//! The AVX-512 VNNI int8 kernel (x86-64 CPUs with avx512f/bw/vnni, detected at run time),
//! on weights packed 16 columns x 4 K to a 64-byte step (`PackedI8::layout() == (16, 4)`):
//! `vpdpbusd` multiplies 64 unsigned activation bytes (a broadcast of 4) by 64 signed
//! weight bytes and accumulates 16 columns' i32 sums, with no shuffles and no reduction
//! across lanes. As in the relaxed-SIMD kernel (`int8_relaxed`), each 14-bit activation is
//! taken as two 7-bit halves of `q + 8192` (`int8::split_7bit`): per K block the sums of
//! `w * hi`, shifted by 7, plus those of `w * lo`, minus `8192 * sum(w)` give the exact i32
//! `sum(w * q)`; a register tile of 7-bit rows (all-zero low halves,
//! `InputPrecision::Coarse`) skips the low halves. At the end of each K block the sums go
//! to f32 and are scaled and added as the scalar kernel does, so the result equals it bit
//! for bit (tested). `PackedI8::matmul` shares rows out over the rayon pool.
//!
//! Two `vpdpbusd` per 64 multiply-adds of 14-bit rows is the instruction count of the
//! `vpdpwssd` kernel this replaced (one per 32, on 16-bit pairs), without its weight
//! sign extension; 7-bit rows take half.

use std::arch::x86_64::*;

use super::int8::PackedI8;

pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

/// One tile over all of K: `R` rows x `C` groups of 16 columns. `a` at its first row's
/// high bytes (row: `k` high then `k` low bytes), `w` at its first group (group stride
/// `16k` bytes), `scales` and `wsum` at its first column (block stride `n_pad`), `out` at
/// its first element (row stride `n_pad`), accumulated into. `LO`: whether to add the low
/// halves' products (false only where they are all zero).
///
/// Safety: the features of `available`; every pointer covers the tile's rows and groups
/// over all of K; `kb` is a multiple of 4.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const C: usize, const LO: bool>(
    a: *const u8,
    w: *const i8,
    scales: *const f32,
    wsum: *const i32,
    out: *mut f32,
    k: usize,
    kb: usize,
    n_pad: usize,
) {
    for b in 0..k / kb {
        let mut acc = [[_mm512_setzero_si512(); C]; R];
        // High halves, then (after the shift) the low halves, over the block.
        for (half, shift) in [(0, true), (k, false)] {
            if half == k && !LO {
                break;
            }
            let mut kk = b * kb;
            let end = kk + kb;
            while kk < end {
                let mut wv = [_mm512_setzero_si512(); C];
                for (c, v) in wv.iter_mut().enumerate() {
                    // 16 columns x (k..k+4).
                    *v = _mm512_loadu_si512(w.add(c * 16 * k + kk * 16) as *const __m512i);
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let four = (a.add(r * 2 * k + half + kk) as *const i32).read_unaligned();
                    let x = _mm512_set1_epi32(four);
                    for (c, s) in row.iter_mut().enumerate() {
                        *s = _mm512_dpbusd_epi32(*s, x, wv[c]);
                    }
                }
                kk += 4;
            }
            if shift {
                for row in acc.iter_mut() {
                    for s in row.iter_mut() {
                        *s = _mm512_slli_epi32::<7>(*s);
                    }
                }
            }
        }
        for c in 0..C {
            // 8192 * sum(w) of the block's 16 columns: the offset the activations carry.
            let ws = _mm512_loadu_si512(wsum.add(b * n_pad + c * 16) as *const __m512i);
            let off = _mm512_slli_epi32::<13>(ws);
            let s = _mm512_loadu_ps(scales.add(b * n_pad + c * 16));
            for (r, row) in acc.iter().enumerate() {
                let o = out.add(r * n_pad + c * 16);
                let p = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(row[c], off)), s);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), p));
            }
        }
    }
}

byte_tiles!("avx512f,avx512bw,avx512vnni", rows [4, 3, 2, 1], groups [1, 2, 3, 4]);

/// Rows `0..m` of `halves` (`int8::split_7bit`'s; `lo_zero`: which have all-zero low
/// halves) into `acc` (`m x n_pad`, zeroed), 4 rows x 64 columns a tile (4 x 4
/// registers of sums: ~93% of the VNNI instruction's peak in a loop on cached data, Zen 5,
/// where 8 x 3 ran at ~72%; BENCHMARKS.md).
///
/// Safety: the features of `available`. Panics on slices of other sizes (`walk_tiles`) or
/// another packing.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn run_rows(
    p: &PackedI8,
    halves: &[u8],
    lo_zero: &[bool],
    m: usize,
    acc: &mut [f32],
) {
    let (k, n_pad, kb) = p.dims();
    assert_eq!(p.layout(), (16, 4), "weights not packed for this kernel");
    assert!(super::int8::relaxed_fits(kb) && kb.is_multiple_of(4));
    let wsum = p.wsum();
    assert_eq!(wsum.len(), (k / kb) * n_pad);
    assert_eq!(lo_zero.len(), m);
    super::int8::walk_tiles(p, halves, m, acc, (4, 4), |t| {
        run_tile(t, lo_zero, wsum, (k, kb, n_pad))
    });
}
