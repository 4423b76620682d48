//! The relaxed-SIMD int8 kernel (the engine's `relaxed-simd` feature, wasm32: the worker's
//! second build, which the app loads only where the browser validates relaxed SIMD; only
//! this file's functions are compiled with the target feature). `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! multiplies 16 signed weight bytes by 16 activation bytes and adds each group of 4 into
//! an i32 lane: 16 multiply-adds per instruction (a single `vpdpbusd` on x86-64 CPUs with
//! AVX-VNNI), where `i32x4.dot_i16x8_s` plus its add do 8.
//!
//! Its second operand must be 0..=127 for the result to be the same on every engine, so
//! each 14-bit activation `q` (|q| <= 8191) is taken as `u = q + 8192 = 128 * hi + lo`
//! (`int8::split_7bit`): per K block the kernel sums `w * hi`, shifts by 7, adds the sums of
//! `w * lo`, and subtracts `8192 * sum(w)` (kept per block and column at packing). That is
//! the exact i32 `sum(w * q)` of the scalar kernel, so from there the f32 operations, and
//! the result, are the scalar kernel's bit for bit (`tests/wasm_kernels.rs`). A tile whose
//! rows all have zero low halves (7-bit rows, `InputPrecision::Coarse`) skips their
//! products: the same sum at one dot per 16 multiply-adds.

use core::arch::wasm32::*;

use super::int8::PackedI8;

/// One tile over all of K: `a` at its first row's high bytes (row: `k` high then `k` low
/// bytes), `w` at its first column group (4 columns x 4 K per 16 bytes, group stride
/// `4k`), `scales` and `wsum` at its first column (block stride `n_pad`), `out` at its
/// first element (row stride `n_pad`), accumulated into.
///
/// `LO`: whether to add the low halves' products (false only where they are all zero).
///
/// Safety: every pointer must cover the tile's `R` rows / `C` groups over all of K; the
/// engine must support relaxed SIMD (the module does not validate otherwise).
#[target_feature(enable = "relaxed-simd")]
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
        let mut acc = [[i32x4_splat(0); C]; R];
        // High halves, then (after the shift) the low halves, over the block.
        for (half, shift) in [(0, true), (k, false)] {
            if half == k && !LO {
                break;
            }
            let mut kk = b * kb;
            let end = kk + kb;
            while kk < end {
                let mut wv = [i32x4_splat(0); C];
                for (c, v) in wv.iter_mut().enumerate() {
                    *v = v128_load(w.add(c * 4 * k + kk * 4) as *const v128);
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let x = v128_load32_splat(a.add(r * 2 * k + half + kk) as *const u32);
                    for (c, s) in row.iter_mut().enumerate() {
                        *s = i32x4_relaxed_dot_i8x16_i7x16_add(wv[c], x, *s);
                    }
                }
                kk += 4;
            }
            if shift {
                for row in acc.iter_mut() {
                    for s in row.iter_mut() {
                        *s = i32x4_shl(*s, 7);
                    }
                }
            }
        }
        for c in 0..C {
            // 8192 * sum(w) of the block's 4 columns: the offset the activations carry.
            let off = i32x4_shl(v128_load(wsum.add(b * n_pad + c * 4) as *const v128), 13);
            let s = v128_load(scales.add(b * n_pad + c * 4) as *const v128);
            for (r, row) in acc.iter().enumerate() {
                let o = out.add(r * n_pad + c * 4) as *mut v128;
                let p = f32x4_mul(f32x4_convert_i32x4(i32x4_sub(row[c], off)), s);
                v128_store(o, f32x4_add(v128_load(o), p));
            }
        }
    }
}

byte_tiles!("relaxed-simd", rows [1, 2, 3, 4, 5, 6], groups [1, 2, 3, 4]);

/// `acc` (`m x n_pad`, zeroed) += the block-scaled products of `halves`
/// (`int8::split_7bit`'s rows; `lo_zero`: which have all-zero low halves); `rows` x
/// `groups` is the register tile (clamped to 1..=6 x 1..=4), smaller tiles take the edges.
pub(super) fn run(
    p: &PackedI8,
    halves: &[u8],
    lo_zero: &[bool],
    m: usize,
    acc: &mut [f32],
    rows: usize,
    groups: usize,
) {
    let (k, n_pad, kb) = p.dims();
    assert_eq!(p.layout(), (4, 4), "weights not packed for this kernel");
    assert!(super::int8::relaxed_fits(kb) && kb.is_multiple_of(4));
    let wsum = p.wsum();
    assert_eq!(wsum.len(), (k / kb) * n_pad);
    assert_eq!(lo_zero.len(), m);
    let (rows, groups) = (rows.clamp(1, 6), groups.clamp(1, 4));
    super::int8::walk_tiles(p, halves, m, acc, (rows, groups), |t| {
        // SAFETY: `walk_tiles` checked the slices' sizes, so the tile's pointers cover its
        // rows and groups over all of K; `wsum` has the scales' shape (checked above).
        unsafe { run_tile(t, lo_zero, wsum, (k, kb, n_pad)) }
    });
}
