//! The simd128 int8 kernel (wasm32): same arithmetic as `PackedI8::run_scalar`, on
//! register tiles of `R` rows x `C` groups of 4 columns. x86-64 V8 has 16 xmm registers;
//! `R*C` i32 accumulators + `C` weight vectors + 1 activation splat nominally fit only up
//! to 4x2 or 3x3, yet 4x3 measured fastest in Chromium (BENCHMARKS.md): V8 can take the
//! weights as memory operands.

use core::arch::wasm32::*;

use super::int8::PackedI8;

/// One tile over all of K: `qa` at its first row (row stride `k`), `w` at its first
/// column group (group stride `4k` bytes), `scales` at its first column (block stride
/// `n_pad`), `out` at its first element (row stride `n_pad`), accumulated into.
///
/// Safety: every pointer must cover the tile's `R` rows / `C` groups over all of K.
#[inline(always)]
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
        let mut acc = [[i32x4_splat(0); C]; R];
        let mut kk = b * kb;
        let end = kk + kb;
        while kk < end {
            let mut wv = [i32x4_splat(0); C];
            for (c, v) in wv.iter_mut().enumerate() {
                // 4 columns x (k, k+1), sign-extended to i16 by the load.
                *v = i16x8_load_extend_i8x8(w.add(c * 4 * k + kk * 4));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let a = v128_load32_splat(qa.add(r * k + kk) as *const u32);
                for (c, s) in row.iter_mut().enumerate() {
                    *s = i32x4_add(*s, i32x4_dot_i16x8(a, wv[c]));
                }
            }
            kk += 2;
        }
        // Exact i32 block sums -> f32, times the block's column scales, into the output.
        for c in 0..C {
            let s = v128_load(scales.add(b * n_pad + c * 4) as *const v128);
            for (r, row) in acc.iter().enumerate() {
                let o = out.add(r * n_pad + c * 4) as *mut v128;
                let p = f32x4_mul(f32x4_convert_i32x4(row[c]), s);
                v128_store(o, f32x4_add(v128_load(o), p));
            }
        }
    }
}

/// `acc` (`m x n_pad`, zeroed) += the block-scaled products; `rows` x `groups` is the
/// register tile (clamped to 1..=6 x 1..=4), smaller tiles take the edges.
pub(super) fn run(p: &PackedI8, qa: &[i16], m: usize, acc: &mut [f32], rows: usize, groups: usize) {
    let (k, n_pad, kb) = p.dims();
    assert!(
        kb.is_multiple_of(2),
        "K block {kb}: the kernel takes a k-pair a step"
    );
    debug_assert_eq!(p.group(), 4);
    let (rows, groups) = (rows.clamp(1, 6), groups.clamp(1, 4));
    super::int8::walk_tiles(p, qa, m, acc, (rows, groups), |t| {
        // SAFETY: `walk_tiles` checked the slices' sizes; the tile's pointers cover its
        // rows and groups over all of K.
        unsafe {
            dispatch_tile!(
                tile,
                t.rows,
                t.groups,
                (t.qa, t.w, t.scales, t.out, k, kb, n_pad),
                rows [1, 2, 3, 4, 5, 6],
                groups [1, 2, 3, 4]
            )
        }
    });
}
