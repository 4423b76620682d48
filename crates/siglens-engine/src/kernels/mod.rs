//! Our own matmul kernels, for where Candle's are slow: in wasm32 Candle's quantized
//! matmuls run 2.4-3.7x slower than its f32 one at SigLIP's token-batch shapes
//! (BENCHMARKS.md), and Candle's GELU calls a software `tanhf` per element there.
//! - [`int8`]: `y = x W^T` on int8 weights (q8_0/q4_0 blocks kept exact, one f32 scale per
//!   block along K) and per-row 14-bit activations, accumulating in i32 per block. A
//!   portable scalar implementation (native, and the reference in tests) and a
//!   simd128 one (`int8_simd`, wasm32 only) built on `i32x4.dot_i16x8_s`, and its x86-64
//!   twins (`int8_avx512` on VNNI, else `int8_avx2`; detected at run time, rows over the
//!   rayon pool). With the `relaxed-simd` feature, `int8_relaxed` on
//!   `i32x4.relaxed_dot_i8x16_i7x16_add_s` (the activations as two exact 7-bit halves).
//!   All walk their tiles through `int8::walk_tiles`; activations are 14-bit everywhere,
//!   so every kernel gives the scalar one's numbers bit for bit.
//! - [`gelu`], [`softmax`]: on the branch-free [`exp`], loops LLVM vectorizes for simd128.

pub mod exp;
pub mod gelu;
pub mod int8;
#[cfg(target_arch = "x86_64")]
mod int8_avx2;
#[cfg(target_arch = "x86_64")]
mod int8_avx512;
/// Calls `$tile::<R, C>$args` for a wasm kernel's run-time tile of `$rows` x `$groups`
/// (1..=6 rows, 1..=4 groups of 4 columns: each size is its own monomorphized loop).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
macro_rules! dispatch_tile {
    ($tile:ident, $rows:expr, $groups:expr, $args:tt) => {
        dispatch_tile!(@sizes $tile, $rows, $groups, $args;
            (1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3), (2, 4),
            (3, 1), (3, 2), (3, 3), (3, 4), (4, 1), (4, 2), (4, 3), (4, 4),
            (5, 1), (5, 2), (5, 3), (5, 4), (6, 1), (6, 2), (6, 3), (6, 4))
    };
    (@sizes $tile:ident, $rows:expr, $groups:expr, $args:tt; $(($r:literal, $c:literal)),*) => {
        match ($rows, $groups) {
            $(($r, $c) => $tile::<$r, $c> $args,)*
            (r, c) => unreachable!("tile {r}x{c}"),
        }
    };
}

#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
mod int8_relaxed;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod int8_simd;
pub mod softmax;

pub use int8::PackedI8;

/// Whether our int8 kernel beats Candle's f32 matmul on this machine (measured:
/// BENCHMARKS.md): in wasm (simd128), and natively on x86-64 with AVX-512 VNNI.
pub fn int8_is_faster() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        int8_avx512::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        cfg!(target_arch = "wasm32")
    }
}
