//! Our own matmul kernels, for where Candle's are slow: in wasm32 Candle's quantized
//! matmuls run 2.4-3.7x slower than its f32 one at SigLIP's token-batch shapes
//! (BENCHMARKS.md), and Candle's GELU calls a software `tanhf` per element there.
//! - [`int8`]: `y = x W^T` on int8 weights (q8_0/q4_0 blocks kept exact, one f32 scale per
//!   block along K) and per-row 14-bit activations (7-bit on the rows `InputPrecision::Coarse`
//!   lets, stored as `128 q`), accumulating in i32 per block. A portable scalar
//!   implementation (native, and the reference in tests) and a simd128 one (`int8_simd`,
//!   wasm32 only) built on `i32x4.dot_i16x8_s`, and its AVX2 twin (`int8_avx2`). The byte
//!   kernels take the activations as two exact 7-bit halves and skip the low ones on 7-bit
//!   tiles: `int8_relaxed` (`relaxed-simd` feature) on `i32x4.relaxed_dot_i8x16_i7x16_add_s`,
//!   `int8_avx512` on `vpdpbusd` (x86-64 with VNNI). Native kernels are detected at run
//!   time, rows over the rayon pool. All walk their tiles through `int8::walk_tiles` and
//!   sum exact integers, so every kernel gives the scalar one's numbers bit for bit.
//! - [`gelu`], [`softmax`]: on the branch-free [`exp`], loops LLVM vectorizes for simd128.
//! - [`attention`], [`layer_norm`]: the rest of an encoder layer on plain buffers (the CPU
//!   path of `model/cpu_layer`), over the threads of [`par`] natively.

// Before the kernel modules: a `macro_rules!` is visible only below its definition.
/// Calls `$tile::<R, C>$args` (with `then LO`: `$tile::<R, C, LO>$args`) for a SIMD
/// kernel's run-time tile of `$rows` rows x `$groups` column groups, `R` and `C` from the
/// kernel's lists (each size is its own monomorphized
/// loop; `walk_tiles` hands out no other sizes).
#[cfg(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
))]
macro_rules! dispatch_tile {
    ($tile:ident, $rows:expr, $groups:expr, $args:tt, rows [$($r:literal),*], groups $cs:tt) => {
        match $rows {
            $($r => dispatch_tile!(@groups $tile, $r, $groups, $args, $cs),)*
            r => unreachable!("tile rows {r}"),
        }
    };
    ($tile:ident, $rows:expr, $groups:expr, $args:tt, rows [$($r:literal),*], groups $cs:tt, then $lo:tt) => {
        match $rows {
            $($r => dispatch_tile!(@groups $tile, $r, $groups, $args, $cs, then $lo),)*
            r => unreachable!("tile rows {r}"),
        }
    };
    (@groups $tile:ident, $r:literal, $groups:expr, $args:tt, [$($c:literal),*]) => {
        match $groups {
            $($c => $tile::<$r, $c> $args,)*
            c => unreachable!("tile groups {c}"),
        }
    };
    (@groups $tile:ident, $r:literal, $groups:expr, $args:tt, [$($c:literal),*], then $lo:tt) => {
        match $groups {
            $($c => $tile::<$r, $c, $lo> $args,)*
            c => unreachable!("tile groups {c}"),
        }
    };
}

/// For the byte kernels (`int8_relaxed`, `int8_avx512`), each with a
/// `tile::<R, C, LO>(a, w, scales, wsum, out, k, kb, n_pad)`: `run_tile`, one register
/// tile of `int8::walk_tiles` over `int8::split_7bit`'s rows, without the low halves'
/// products where all the tile's rows have zero ones (`lo_zero`), else with them; its
/// sizes from the lists, as `dispatch_tile!`. Safety (of `run_tile`): the `tile`'s, for
/// the walk's tile; `wsum` has the scales' shape.
#[cfg(any(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_arch = "x86_64"
))]
macro_rules! byte_tiles {
    ($features:literal, rows $rows:tt, groups $groups:tt) => {
        #[target_feature(enable = $features)]
        unsafe fn run_tile(
            t: super::int8::Tile<u8>,
            lo_zero: &[bool],
            wsum: &[i32],
            (k, kb, n_pad): (usize, usize, usize),
        ) {
            let ws = wsum.as_ptr().add(t.col);
            if lo_zero[t.row..t.row + t.rows].iter().all(|&z| z) {
                dispatch_tile!(
                    tile, t.rows, t.groups, (t.qa, t.w, t.scales, ws, t.out, k, kb, n_pad),
                    rows $rows, groups $groups, then false
                )
            } else {
                dispatch_tile!(
                    tile, t.rows, t.groups, (t.qa, t.w, t.scales, ws, t.out, k, kb, n_pad),
                    rows $rows, groups $groups, then true
                )
            }
        }
    };
}

/// A free function compiled twice natively: as built, and for AVX-512F where the CPU has it
/// (chosen at run time), so LLVM vectorizes its loops 16 lanes wide. For element-wise loops
/// (GELU, softmax, layer norm): the same IEEE operations in wider registers, so the same
/// numbers. In wasm, just the function.
macro_rules! wide_on_avx512 {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])* $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn wide($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { wide($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub mod attention;
pub mod exp;
pub mod gelu;
pub mod int8;
#[cfg(target_arch = "x86_64")]
mod int8_avx2;
#[cfg(target_arch = "x86_64")]
mod int8_avx512;
#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
mod int8_relaxed;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod int8_simd;
pub mod layer_norm;
pub mod par;
pub mod softmax;

pub use int8::{Epilogue, InputPrecision, PackedI8};

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
