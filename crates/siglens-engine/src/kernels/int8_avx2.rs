//! The AVX2 int8 kernel (x86-64, chosen at run time when the CPU has AVX2): the simd128
//! kernel's arithmetic on 256-bit registers. `vpmaddwd` is `i32x4.dot_i16x8_s` twice as
//! wide: the low half takes k, k+1 and the high half k+2, k+3 of the same 4 columns, and
//! the halves are added at the end of each K block. Integer sums are exact, so the result
//! equals the scalar kernel bit for bit (tested). `PackedI8::matmul` shares rows out over
//! the rayon pool.

use std::arch::x86_64::*;

use super::int8::PackedI8;

/// Whether this CPU runs the kernel.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2")
}

/// One tile over all of K, as in `int8_simd::tile`.
///
/// Safety: AVX2 present; every pointer covers the tile's `R` rows / `C` groups over all
/// of K; `kb` is a multiple of 4.
#[target_feature(enable = "avx2")]
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
    // Activation pairs (k, k+1) to the low 4 lanes, (k+2, k+3) to the high 4.
    let spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    for b in 0..k / kb {
        let mut acc = [[_mm256_setzero_si256(); C]; R];
        let mut kk = b * kb;
        let end = kk + kb;
        while kk < end {
            let mut wv = [_mm256_setzero_si256(); C];
            for (c, v) in wv.iter_mut().enumerate() {
                // 4 columns x (k..k+4), sign-extended to i16.
                let p = w.add(c * 4 * k + kk * 4) as *const __m128i;
                *v = _mm256_cvtepi8_epi16(_mm_loadu_si128(p));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let a4 = _mm_loadl_epi64(qa.add(r * k + kk) as *const __m128i);
                let a = _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(a4), spread);
                for (c, s) in row.iter_mut().enumerate() {
                    *s = _mm256_add_epi32(*s, _mm256_madd_epi16(a, wv[c]));
                }
            }
            kk += 4;
        }
        for c in 0..C {
            let s = _mm_loadu_ps(scales.add(b * n_pad + c * 4));
            for (r, row) in acc.iter().enumerate() {
                let v = row[c];
                let sum =
                    _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
                let o = out.add(r * n_pad + c * 4);
                let p = _mm_mul_ps(_mm_cvtepi32_ps(sum), s);
                _mm_storeu_ps(o, _mm_add_ps(_mm_loadu_ps(o), p));
            }
        }
    }
}

/// Rows `0..m` of `qa` into `acc` (`m x n_pad`, zeroed), 4 x 12 register tiles.
///
/// Safety: AVX2 present. Panics on slices of other sizes (`walk_tiles`) or another packing.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn run_rows(p: &PackedI8, qa: &[i16], m: usize, acc: &mut [f32]) {
    let (k, n_pad, kb) = p.dims();
    assert!(
        kb.is_multiple_of(4),
        "K block {kb}: the kernel takes 4 k a step"
    );
    assert_eq!(p.group(), 4, "weights packed by {}", p.group());
    super::int8::walk_tiles(p, qa, m, acc, (4, 3), |t| {
        dispatch_tile!(
            tile,
            t.rows,
            t.groups,
            (t.qa, t.w, t.scales, t.out, k, kb, n_pad),
            rows [4, 3, 2, 1],
            groups [1, 2, 3]
        );
    });
}
