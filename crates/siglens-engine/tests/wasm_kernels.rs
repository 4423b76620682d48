//! The simd128 int8 kernel against the portable scalar one, in headless Chromium:
//! `cargo test -p siglens-engine --target wasm32-unknown-unknown --test wasm_kernels --release`;
//! with `--features relaxed-simd` the relaxed-SIMD kernel as well.
//! Both sum exact i32 block partials and do the same f32 operations in the same order, so
//! the tolerance is zero: any difference is a packing or tiling bug. The same holds with an
//! epilogue (bias, GELU, residual) applied by the kernel's path and to the reference by hand,
//! and with 7-bit input rows (`InputPrecision::Coarse`) mixed with 14-bit ones in a tile.
#![cfg(target_arch = "wasm32")]

use siglens_engine::kernels::gelu::gelu_tanh;
use siglens_engine::kernels::{Epilogue, InputPrecision, PackedI8};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Deterministic values in [-1, 1).
fn lcg(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[wasm_bindgen_test]
fn simd128_equals_scalar_bit_for_bit() {
    // M = 1, M not a multiple of any tile, N not a multiple of 4, K = 32 and 3072, several
    // row blocks, and
    // both block lengths (32 = q8_0, K = one scale per column).
    let shapes = [
        (1, 32, 4),
        (1, 64, 3),
        (7, 32, 5),
        (13, 96, 37),
        (197, 768, 24),
        (5, 3072, 11),
        (29, 256, 50),
        // Several row blocks (`walk_tiles`: ~40 rows at K = 3072), as a batch of images has.
        (100, 3072, 9),
    ];
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        let w = lcg(i as u64, n * k);
        let mut x = lcg(1000 + i as u64, m * k);
        // Outlier values, as transformer activations have: on every fifth row, so with
        // `Coarse { crest: 3 }` those rows stay 14-bit and the others (uniform values, a
        // crest of ~1.7) take 7 bits, in the same register tiles.
        for r in (0..m).step_by(5) {
            x[r * k] *= 40.0;
        }
        let coarse = InputPrecision::Coarse { crest: 3.0 };
        // 32: q8_0's block; 256: the runs siglens writes (`weights::q8_0_runs`); k: one
        // scale per column.
        let mut kbs = vec![32, 256, k];
        kbs.retain(|kb| k.is_multiple_of(*kb));
        kbs.dedup();
        for kb in kbs {
            // This build's packing (relaxed SIMD's where built with `relaxed-simd` and the
            // block fits it), and with that feature also simd128's, in the same run.
            let mut packings = vec![PackedI8::from_f32(&w, n, k, kb)];
            if cfg!(feature = "relaxed-simd") {
                packings.push(PackedI8::from_f32_laid_out(&w, n, k, kb, (4, 2)));
            }
            let bias = lcg(2000 + i as u64, n);
            let residual = lcg(3000 + i as u64, m * n);
            for (p, precision) in packings
                .iter()
                .flat_map(|p| [(p, InputPrecision::Fine), (p, coarse)])
            {
                let reference = p.matmul_scalar_at(&x, m, precision);
                // The epilogue after the whole product, in `Epilogue`'s order.
                let finished: Vec<f32> = reference
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| gelu_tanh(v + bias[j % n]) + residual[j])
                    .collect();
                let ep = Epilogue {
                    bias: Some(&bias),
                    gelu: true,
                    residual: Some(&residual),
                };
                for rows in 1..=6 {
                    for groups in 1..=4 {
                        for (ep, want, what) in [
                            (Epilogue::default(), &reference, "product"),
                            (ep, &finished, "epilogue"),
                        ] {
                            let y = p.matmul_tiled(&x, m, (rows, groups), &ep, precision);
                            assert_eq!(y.len(), want.len());
                            let same = y.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits());
                            assert!(
                                same,
                                "m{m} k{k} n{n} kb{kb} tile {rows}x{groups} {precision:?}: {what} differs"
                            );
                        }
                    }
                }
            }
        }
    }
}
