//! The AVX-512 VNNI int8 kernel (x86-64 CPUs with avx512f/bw/vnni, detected at run time),
//! on weights packed 16 columns to a group (`PackedI8::group() == 16`): one 512-bit
//! register holds one k-pair of 16 columns, the activation pair is a broadcast, and
//! `vpdpwssd` accumulates 16 columns' exact i32 sums with no shuffles and no reduction
//! across lanes. At the end of each K block the sums go to f32 and are scaled and added as
//! the scalar kernel does, so the result equals it bit for bit (tested).
//! `PackedI8::matmul` shares rows out over the rayon pool.

use std::arch::x86_64::*;

use super::int8::PackedI8;

pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

/// One tile over all of K: `R` rows x `C` groups of 16 columns. `qa` at its first row (row
/// stride `k`), `w` at its first group (group stride `16k` bytes), `scales` at its first
/// column (block stride `n_pad`), `out` at its first element (row stride `n_pad`).
///
/// Safety: the features of `available`; every pointer covers the tile's rows and groups
/// over all of K; `kb` is even.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const C: usize>(
    qa: *const i16,
    w: *const i8,
    scales: *const f32,
    out: *mut f32,
    k: usize,
    kb: usize,
    n_pad: usize,
) {
    for b in 0..k / kb {
        let mut acc = [[_mm512_setzero_si512(); C]; R];
        let mut kk = b * kb;
        let end = kk + kb;
        while kk < end {
            let mut wv = [_mm512_setzero_si512(); C];
            for (c, v) in wv.iter_mut().enumerate() {
                // 16 columns x (k, k+1), sign-extended to i16.
                let p = w.add(c * 16 * k + kk * 16) as *const __m256i;
                *v = _mm512_cvtepi8_epi16(_mm256_loadu_si256(p));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let pair = (qa.add(r * k + kk) as *const i32).read_unaligned();
                let a = _mm512_set1_epi32(pair);
                for (c, s) in row.iter_mut().enumerate() {
                    *s = _mm512_dpwssd_epi32(*s, a, wv[c]);
                }
            }
            kk += 2;
        }
        for c in 0..C {
            let s = _mm512_loadu_ps(scales.add(b * n_pad + c * 16));
            for (r, row) in acc.iter().enumerate() {
                let o = out.add(r * n_pad + c * 16);
                let p = _mm512_mul_ps(_mm512_cvtepi32_ps(row[c]), s);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), p));
            }
        }
    }
}

/// Rows `0..m` of `qa` into `acc` (`m x n_pad`, zeroed), 4 rows x 64 columns a tile. 4 x 4
/// registers of sums ran at ~93% of `vpdpwssd`'s peak in a loop on cached data (Zen 5),
/// 8 x 3 at ~72%: the kernel on 197x768 @ 768x3072 went ~300 -> ~350 GOP/s on one thread
/// (BENCHMARKS.md).
///
/// Safety: the features of `available`. Panics on slices of other sizes (`walk_tiles`) or
/// another packing.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn run_rows(p: &PackedI8, qa: &[i16], m: usize, acc: &mut [f32]) {
    let (k, n_pad, kb) = p.dims();
    assert!(
        kb.is_multiple_of(2),
        "K block {kb}: the kernel takes a k-pair a step"
    );
    assert_eq!(p.group(), 16, "weights packed by {}", p.group());
    super::int8::walk_tiles(p, qa, m, acc, (4, 4), |t| {
        dispatch_tile!(
            tile,
            t.rows,
            t.groups,
            (t.qa, t.w, t.scales, t.out, k, kb, n_pad),
            rows [4, 3, 2, 1],
            groups [1, 2, 3, 4]
        );
    });
}
