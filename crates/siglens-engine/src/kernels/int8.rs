//! int8-weight x int16-activation matmul (`y = x W^T`, `W` is `n x k`).
//!
//! Weights are packed once at load: output columns in groups of 4, and for each group
//! and each pair of K the 8 bytes `(w[c][k], w[c][k+1])` for its 4 columns `c`. One
//! `i16x8.load8x8_s` then gives the second operand of `i32x4.dot_i16x8_s` against the
//! activation pair `(a[k], a[k+1])` splatted to every lane: 4 columns x 2 K per
//! instruction (V8 lowers it to `pmaddwd`).
//!
//! Numerics: the weights are the stored q8_0/q4_0 integers with one f32 scale per block
//! of `kb` along K (32 for those formats), so no weight precision is lost. Each row of
//! activations is quantized symmetrically to `qmax` (up to 32767, see [`qmax_for`]); the
//! i32 partial sum of each block is exact, then converted to f32, multiplied by the
//! block's column scale and accumulated in f32 in block order; the row scale multiplies
//! last. The scalar and simd128 kernels do the same f32 operations in the same order, so
//! they agree bit for bit.

use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::quantized::GgmlDType;
use half::f16;

/// Weights packed for the kernel. Replaces the f32 copy (1 byte a weight + 4 bytes of
/// scale a block).
#[derive(Debug, Clone)]
pub struct PackedI8 {
    n: usize,
    k: usize,
    /// `n` rounded up to a multiple of `g` (padded columns have zero weights and scales).
    n_pad: usize,
    /// Block length along K: one scale per (block, column).
    kb: usize,
    /// Columns per packed group (`layout`): 4, or 16 for the AVX-512 kernel.
    g: usize,
    /// Consecutive K values per column in a group's step: 2 (`dot_i16x8`, `vpdpwssd`), or 4
    /// for the relaxed-SIMD kernel (`dot_i8x16_i7x16_add`).
    kstep: usize,
    /// `[n_pad / g][k / kstep][g columns][kstep]`.
    w: Vec<i8>,
    /// `[k / kb][n_pad]`.
    scales: Vec<f32>,
    /// Each (block, column)'s sum of weights, `[k / kb][n_pad]`: the byte kernels' offset
    /// correction (empty for the packings of 2 K a step).
    wsum: Vec<i32>,
}

/// A SIMD kernel over whole rows: `acc` (`m x n_pad`, zeroed) += block-scaled products.
/// Unsafe: the CPU must have its features.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum RowsKernel {
    /// On the i16 rows (AVX2).
    Words(unsafe fn(&PackedI8, &[i16], usize, &mut [f32])),
    /// On [`split_7bit`]'s halves and low-zero flags (AVX-512 VNNI).
    Bytes(unsafe fn(&PackedI8, &[u8], &[bool], usize, &mut [f32])),
}

/// `y.round_ties_even() as i16` for |y| <= 32767: after the magic add the integer sits in
/// the low mantissa bits, so it is read off the bits (integer ops that vectorize; an
/// `f32 as i16` is a saturating conversion LLVM leaves scalar on x86-64).
#[inline(always)]
fn round_small_to_i16(y: f32) -> i16 {
    const MAGIC: f32 = 12_582_912.0;
    ((y + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32) as i16
}

/// The byte kernels' operands (relaxed SIMD, AVX-512 VNNI): each row of `qa` (|q| <= 8191) as `u = q + 8192`
/// (1..=16383) split into its high and low 7 bits, `u = 128 * hi + lo`, laid out per row as
/// `k` high bytes then `k` low bytes. Both halves are 0..=127, the range in which
/// `dot_i8x16_i7x16` is exact on every engine. Also, per row, whether all its low bytes are
/// zero (a 7-bit row, [`InputPrecision::Coarse`]): the kernel skips their products.
#[cfg(any(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_arch = "x86_64"
))]
pub(super) fn split_7bit(qa: &[i16], k: usize) -> (Vec<u8>, Vec<bool>) {
    let mut out = vec![0u8; 2 * qa.len()];
    let mut lo_zero = Vec::with_capacity(qa.len() / k.max(1));
    for (row, o) in qa.chunks_exact(k).zip(out.chunks_exact_mut(2 * k)) {
        let (hi, lo) = o.split_at_mut(k);
        let mut any_lo = 0u8;
        for ((h, l), &q) in hi.iter_mut().zip(lo.iter_mut()).zip(row) {
            let u = (q as i32 + 8192) as u16;
            *h = (u >> 7) as u8;
            *l = (u & 127) as u8;
            any_lo |= *l;
        }
        lo_zero.push(any_lo == 0);
    }
    (out, lo_zero)
}

/// One register tile for a SIMD kernel: pointers at the first row / column group of its
/// activations (row stride `k`), packed weights, block scales (block stride `n_pad`) and
/// output (row stride `n_pad`), and how many rows and column groups it covers.
#[cfg(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
))]
pub(super) struct Tile<T> {
    pub qa: *const T,
    pub w: *const i8,
    pub scales: *const f32,
    pub out: *mut f32,
    pub rows: usize,
    pub groups: usize,
    /// The tile's first row.
    #[cfg_attr(
        not(any(
            all(target_arch = "wasm32", feature = "relaxed-simd"),
            target_arch = "x86_64"
        )),
        allow(dead_code)
    )]
    pub row: usize,
    /// The tile's first column.
    #[cfg_attr(
        not(any(
            all(target_arch = "wasm32", feature = "relaxed-simd"),
            target_arch = "x86_64"
        )),
        allow(dead_code)
    )]
    pub col: usize,
}

/// The order every SIMD kernel walks `acc` (`m x n_pad`) in, with its tile of up to `rows`
/// rows x `groups` column groups: row blocks whose 16-bit activations fit in 256 KiB, so
/// they stay in L2 while every column tile passes over them (without blocks a batch of 32
/// images, 6272 rows and ~10 MB, was streamed from memory once per column tile); inside a
/// block, column tiles (their weights stay in L1), then row tiles. Checks the slices'
/// sizes once, so each `Tile`'s pointers cover its rows and groups over all of K.
#[cfg(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
))]
pub(super) fn walk_tiles<T>(
    p: &PackedI8,
    qa: &[T],
    m: usize,
    acc: &mut [f32],
    (rows, groups): (usize, usize),
    mut tile: impl FnMut(Tile<T>),
) {
    let (k, n_pad, kb, g) = (p.k, p.n_pad, p.kb, p.g);
    // A row of activations: `k` i16, or the relaxed kernel's `2k` bytes.
    let row_len = qa.len() / m.max(1);
    assert!(row_len * m == qa.len() && row_len * std::mem::size_of::<T>() == 2 * k);
    assert!(acc.len() == m * n_pad && p.w.len() == n_pad * k);
    assert!(p.scales.len() == (k / kb) * n_pad && k.is_multiple_of(kb));
    let block = ((256 << 10) / (2 * k.max(1)) / rows).max(1) * rows;
    let ng = n_pad / g;
    for r0 in (0..m).step_by(block) {
        let r_end = (r0 + block).min(m);
        let mut c = 0;
        while c < ng {
            let cg = groups.min(ng - c);
            let mut r = r0;
            while r < r_end {
                let rr = rows.min(r_end - r);
                tile(Tile {
                    qa: qa[r * row_len..].as_ptr(),
                    w: p.w[c * g * k..].as_ptr(),
                    scales: p.scales[c * g..].as_ptr(),
                    out: acc[r * n_pad + c * g..].as_mut_ptr(),
                    rows: rr,
                    groups: cg,
                    row: r,
                    col: c * g,
                });
                r += rr;
            }
            c += cg;
        }
    }
}

/// How a matmul quantizes its input rows (the weights are as stored either way).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum InputPrecision {
    /// 14 bits a value (|q| <= 8191, [`qmax_for`]) on every row.
    #[default]
    Fine,
    /// 7 bits (|q| <= 63) on each row whose largest |value| is at most `crest` times its
    /// RMS, i.e. whose rounding error is at most `crest / 218` of its RMS; 14 bits on the
    /// others (rows with outliers). Each row on its own, so the same on every kernel and
    /// thread split. Where the relaxed-SIMD kernel runs, a register tile of 7-bit rows takes
    /// one dot per 16 multiply-adds instead of two.
    Coarse { crest: f32 },
}

/// The `crest` the vision tower's MLP input takes ([`InputPrecision::Coarse`]; chosen in
/// BENCHMARKS.md, "7-bit MLP inputs"): a rounding error of at most 3.7% of a row's RMS, where
/// a layer-normed row of Gaussian-like values has a crest of ~4.
pub const MLP_INPUT_CREST: f32 = 8.0;

/// Rows quantized under [`InputPrecision::Coarse`] so far in this process, and how many of
/// them took 7 bits.
static COARSE_ROWS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// `(rows quantized under Coarse, of which at 7 bits)` since the process started: where a
/// model's rows have outliers they keep 14 bits, and the speed-up with them (`siglens bench`
/// reports the share).
pub fn coarse_row_counts() -> (u64, u64) {
    let [all, seven] = &COARSE_ROWS;
    (all.load(Ordering::Relaxed), seven.load(Ordering::Relaxed))
}

/// What [`PackedI8::matmul_with`] does to each output after its row scale, in this order:
/// `+ bias`, GELU (tanh), `residual +`: the order of the separate tensor ops it replaces,
/// so the numbers do not change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    /// `n` values.
    pub bias: Option<&'a [f32]>,
    pub gelu: bool,
    /// `m x n`, row-major.
    pub residual: Option<&'a [f32]>,
}

impl Epilogue<'_> {
    fn check(&self, m: usize, n: usize) {
        assert!(
            self.bias.is_none_or(|b| b.len() == n),
            "bias is not {n} long"
        );
        assert!(
            self.residual.is_none_or(|r| r.len() == m * n),
            "residual is not {m} x {n}"
        );
    }

    /// On rows `row0..` of the output, `stride` apart, the first `n` values of each.
    fn apply(&self, out: &mut [f32], stride: usize, n: usize, row0: usize) {
        if self.bias.is_some() || self.gelu || self.residual.is_some() {
            epilogue_rows(self, out, stride, n, row0);
        }
    }
}

wide_on_avx512! {
    fn epilogue_rows(ep: &Epilogue, out: &mut [f32], stride: usize, n: usize, row0: usize) {
        for (i, row) in out.chunks_exact_mut(stride).enumerate() {
            let row = &mut row[..n];
            if let Some(b) = ep.bias {
                row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
            }
            if ep.gelu {
                super::gelu::gelu_tanh_slice(row);
            }
            if let Some(r) = ep.residual {
                let r = &r[(row0 + i) * n..][..n];
                row.iter_mut().zip(r).for_each(|(v, r)| *v += r);
            }
        }
    }
}

fn scale_rows(acc: &mut [f32], ascale: &[f32], n_pad: usize) {
    for (row, &s) in acc.chunks_exact_mut(n_pad).zip(ascale) {
        for v in row {
            *v *= s;
        }
    }
}

/// `(columns per group, K values per column step)` for this machine's kernel: 16 x 4
/// where the AVX-512 VNNI kernel runs (one 512-bit register holds 16 columns' i32 sums)
/// and its block sums fit ([`relaxed_fits`]); 4 x 4 for the relaxed-SIMD kernel where this
/// build has it and its block sums fit; else 4 x 2 (simd128 and AVX2 hold 4 columns).
fn layout(kb: usize) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    if super::int8_avx512::available() && relaxed_fits(kb) {
        return (16, 4);
    }
    #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
    if relaxed_fits(kb) {
        return (4, 4);
    }
    let _ = kb;
    (4, 2)
}

/// Whether the byte kernels' (relaxed SIMD, AVX-512 VNNI) block sums fit an i32 for blocks
/// of `kb`: the high 7-bit half's sum (`kb * 127 * 127`) is shifted left by 7 before the low
/// half is added.
pub fn relaxed_fits(kb: usize) -> bool {
    (kb as i64) * 127 * 127 * 129 < i32::MAX as i64
}

/// Activations are quantized to 14 bits (|q| <= 8191) everywhere, so that the
/// relaxed-SIMD kernel, which takes them as two 7-bit halves of `q + 8192`, computes
/// exactly what the others do: every build and kernel gives the same numbers.
const QMAX: i32 = 8191;

/// [`InputPrecision::Coarse`]'s largest |q|: `128 * q + 8192` has a zero low half.
const COARSE_QMAX: i32 = 63;

/// The largest activation magnitude for blocks of `kb`: a block's i32 partial sum,
/// `kb * qmax * 128`, must stay below 2^31 (a `dot_i16x8` pair, `2 * qmax * 128`, always
/// does).
pub fn qmax_for(kb: usize) -> i32 {
    let bound = (i32::MAX as i64) / (128 * kb as i64);
    bound.min(QMAX as i64) as i32
}

impl PackedI8 {
    /// Packs from a block source: `block(col, b, out)` fills `out` (`kb` values) with the
    /// int8 weights of column `col`, K block `b`, and returns that block's scale.
    pub fn from_blocks(
        n: usize,
        k: usize,
        kb: usize,
        block: impl FnMut(usize, usize, &mut [i8]) -> f32,
    ) -> Self {
        Self::from_blocks_laid_out(n, k, kb, layout(kb), block)
    }

    /// [`Self::from_blocks`] with `g` columns per group (4 or 16) and `kstep` K values per
    /// column step (2 or 4).
    fn from_blocks_laid_out(
        n: usize,
        k: usize,
        kb: usize,
        (g, kstep): (usize, usize),
        mut block: impl FnMut(usize, usize, &mut [i8]) -> f32,
    ) -> Self {
        assert!(g == 4 || g == 16, "group width {g}");
        assert!(kstep == 2 || kstep == 4, "K step {kstep}");
        assert!(
            kb >= kstep && kb.is_multiple_of(kstep) && k.is_multiple_of(kb),
            "K {k} must be a multiple of the block {kb}, itself a multiple of {kstep}"
        );
        assert!(kstep == 2 || relaxed_fits(kb), "block {kb} too long");
        // Below 127 the activation quantization would be coarser than the weights'.
        assert!(qmax_for(kb) >= 127, "block {kb} too long for i32 sums");
        let n_pad = n.div_ceil(g) * g;
        let nb = k / kb;
        let mut w = vec![0i8; n_pad * k];
        let mut scales = vec![0f32; nb * n_pad];
        let mut wsum = vec![0i32; if kstep == 4 { nb * n_pad } else { 0 }];
        let mut buf = vec![0i8; kb];
        for col in 0..n {
            let base = (col / g) * k * g + (col % g) * kstep;
            for b in 0..nb {
                scales[b * n_pad + col] = block(col, b, &mut buf);
                // Each `kstep` run of the block lands `kstep * g` bytes after the previous
                // one (whole runs: `kb` is a multiple of `kstep`). Copies, not a division per
                // weight: packing is part of every model load.
                let first = base + b * kb * g;
                for (s, run) in buf.chunks_exact(kstep).enumerate() {
                    let at = first + s * kstep * g;
                    w[at..at + kstep].copy_from_slice(run);
                }
                if kstep == 4 {
                    let sum: i32 = buf.iter().map(|&v| v as i32).sum();
                    wsum[b * n_pad + col] = sum;
                }
            }
        }
        Self {
            n,
            k,
            n_pad,
            kb,
            g,
            kstep,
            w,
            scales,
            wsum,
        }
    }

    /// From a GGML matrix's blocks, `n` rows of `k`, for the dtypes this kernel takes
    /// exactly (q8_0, q4_0); `None` for others. The model build and the streaming loader
    /// both pack through here.
    pub fn from_ggml(dtype: GgmlDType, data: &[u8], n: usize, k: usize) -> Option<Self> {
        match dtype {
            GgmlDType::Q8_0 => Some(Self::from_q8_0(data, n, k)),
            GgmlDType::Q4_0 => Some(Self::from_q4_0(data, n, k)),
            _ => None,
        }
    }

    /// From GGML q8_0 blocks (34 bytes: f16 scale, 32 x i8), `n` rows of `k`: exact. Where
    /// runs of blocks share their scale (`weights::q8_0_runs`, how siglens writes linears)
    /// a run becomes one block of up to 256.
    pub fn from_q8_0(data: &[u8], n: usize, k: usize) -> Self {
        assert!(k.is_multiple_of(32) && data.len() == n * (k / 32) * 34);
        let run = crate::weights::q8_0_runs::shared_run(data, n, k);
        Self::from_blocks(n, k, 32 * run, |col, b, out| {
            let first = (col * (k / 32) + b * run) * 34;
            for (j, o) in out.chunks_exact_mut(32).enumerate() {
                let blk = &data[first + j * 34..][..34];
                for (o, &q) in o.iter_mut().zip(&blk[2..]) {
                    *o = q as i8;
                }
            }
            f16::from_le_bytes([data[first], data[first + 1]]).to_f32()
        })
    }

    /// From GGML q4_0 blocks (18 bytes: f16 scale, 16 bytes of nibbles, value = nibble - 8;
    /// low nibbles are elements 0..16, high ones 16..32): exact, 4-bit values fit in int8.
    pub fn from_q4_0(data: &[u8], n: usize, k: usize) -> Self {
        assert!(k.is_multiple_of(32) && data.len() == n * (k / 32) * 18);
        Self::from_blocks(n, k, 32, |col, b, out| {
            let blk = &data[(col * (k / 32) + b) * 18..][..18];
            for (j, &q) in blk[2..].iter().enumerate() {
                out[j] = (q & 0x0f) as i8 - 8;
                out[j + 16] = (q >> 4) as i8 - 8;
            }
            f16::from_le_bytes([blk[0], blk[1]]).to_f32()
        })
    }

    /// From f32 `n x k` (row-major), quantized symmetrically per block of `kb` (`kb = k`:
    /// one scale per output column, the fastest and the coarsest).
    pub fn from_f32(w: &[f32], n: usize, k: usize, kb: usize) -> Self {
        Self::from_f32_laid_out(w, n, k, kb, layout(kb))
    }

    /// [`Self::from_f32`] with a given `(g, kstep)` layout (to test every kernel).
    pub fn from_f32_laid_out(
        w: &[f32],
        n: usize,
        k: usize,
        kb: usize,
        layout: (usize, usize),
    ) -> Self {
        assert_eq!(w.len(), n * k);
        Self::from_blocks_laid_out(n, k, kb, layout, |col, b, out| {
            let src = &w[col * k + b * kb..][..kb];
            let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = amax / 127.0;
            let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
            for (o, v) in out.iter_mut().zip(src) {
                *o = (v * inv).round() as i8;
            }
            s
        })
    }

    pub fn in_dim(&self) -> usize {
        self.k
    }

    pub fn out_dim(&self) -> usize {
        self.n
    }

    pub fn size_in_bytes(&self) -> usize {
        self.w.len() + 4 * (self.scales.len() + self.wsum.len())
    }

    /// The weights back as f32, `n x k` row-major (for tests and checks).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        for col in 0..self.n {
            for kk in 0..self.k {
                let s = self.scales[(kk / self.kb) * self.n_pad + col];
                out[col * self.k + kk] = self.w_at(col, kk) as f32 * s;
            }
        }
        out
    }

    fn w_at(&self, col: usize, kk: usize) -> i8 {
        let (g, ks) = (self.g, self.kstep);
        self.w[(col / g) * self.k * g + (kk / ks) * ks * g + (col % g) * ks + kk % ks]
    }

    /// Whether these matrices quantize an input alike (same K, blocks and packing), so
    /// [`Self::matmul_shared`] can quantize it once for all of them.
    pub fn can_share_input(parts: &[&PackedI8]) -> bool {
        let Some(first) = parts.first() else {
            return false;
        };
        parts
            .iter()
            .all(|p| (p.k, p.kb, p.g, p.kstep) == (first.k, first.kb, first.g, first.kstep))
    }

    /// Several matrices on the same input (q/k/v), each output with its epilogue: the input
    /// is quantized once, not once a matrix, and natively all of them run in one pass over
    /// the threads. Each output is what that matrix's [`Self::matmul_with`] gives.
    pub fn matmul_shared(parts: &[(&PackedI8, Epilogue)], x: &[f32], m: usize) -> Vec<Vec<f32>> {
        let mats: Vec<&PackedI8> = parts.iter().map(|(p, _)| *p).collect();
        assert!(Self::can_share_input(&mats), "matrices packed differently");
        Self::matmul_parts(parts, x, m, InputPrecision::Fine, None)
    }

    /// `x` (`m x k`, row-major) times `W^T`: `m x n`. simd128 in wasm; on x86-64 AVX-512
    /// VNNI or AVX2, whichever the CPU has (threaded over the rayon pool); scalar elsewhere.
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.matmul_with(x, m, &Epilogue::default())
    }

    /// [`Self::matmul`], then `ep` on each output (on the threads, while the rows are in
    /// cache, natively).
    pub fn matmul_with(&self, x: &[f32], m: usize, ep: &Epilogue) -> Vec<f32> {
        self.matmul_at(x, m, ep, InputPrecision::Fine)
    }

    /// [`Self::matmul_with`] on an input quantized at `precision`.
    pub fn matmul_at(
        &self,
        x: &[f32],
        m: usize,
        ep: &Epilogue,
        precision: InputPrecision,
    ) -> Vec<f32> {
        Self::matmul_parts(&[(self, *ep)], x, m, precision, None).remove(0)
    }

    /// [`Self::matmul_with`] with a register tile of `rows` x `groups` (4 columns each) for
    /// the wasm kernels (rows 1..=6, groups 1..=4; for tests and benchmarks). Natively the
    /// tile is fixed.
    pub fn matmul_tiled(
        &self,
        x: &[f32],
        m: usize,
        (rows, groups): (usize, usize),
        ep: &Epilogue,
        precision: InputPrecision,
    ) -> Vec<f32> {
        Self::matmul_parts(&[(self, *ep)], x, m, precision, Some((rows, groups))).remove(0)
    }

    /// Matrices that share an input's quantization (checked by the callers), each with its
    /// epilogue; `tile` overrides the wasm kernels' register tile.
    fn matmul_parts(
        parts: &[(&PackedI8, Epilogue)],
        x: &[f32],
        m: usize,
        precision: InputPrecision,
        tile: Option<(usize, usize)>,
    ) -> Vec<Vec<f32>> {
        let first = parts[0].0;
        assert_eq!(x.len(), m * first.k, "input is not m x {}", first.k);
        for (p, ep) in parts {
            ep.check(m, p.n);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = first.x86_kernel() {
            return Self::matmul_threaded(parts, x, m, precision, kernel);
        }
        // The fastest tiles measured (BENCHMARKS.md, "Browser kernels" and "Relaxed
        // SIMD"): 4 rows x 12 columns for simd128, 3 x 12 for relaxed SIMD.
        let (rows, groups) = tile.unwrap_or(if first.kstep == 4 { (3, 3) } else { (4, 3) });
        let (qa, ascale) = first.quantize_rows(x, m, precision);
        #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
        let halves = (first.kstep == 4).then(|| split_7bit(&qa, first.k));
        parts
            .iter()
            .map(|(p, ep)| {
                let mut acc = vec![0f32; m * p.n_pad];
                #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
                let h = halves.as_ref().map(|(h, z)| (h.as_slice(), z.as_slice()));
                #[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
                let h = None;
                p.run_one_thread(&qa, h, m, &mut acc, (rows, groups));
                let mut y = p.finish(acc, &ascale, m);
                ep.apply(&mut y, p.n, p.n, 0);
                y
            })
            .collect()
    }

    /// `acc` (`m x n_pad`, zeroed) += the block-scaled products on one thread: the
    /// relaxed-SIMD kernel on `halves` (`split_7bit`'s rows and low-zero flags) where the
    /// build has it, else simd128 in wasm, else the scalar kernel; `tile` is the wasm
    /// kernels' register tile.
    fn run_one_thread(
        &self,
        qa: &[i16],
        halves: Option<(&[u8], &[bool])>,
        m: usize,
        acc: &mut [f32],
        (rows, groups): (usize, usize),
    ) {
        #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
        if let Some((h, lo_zero)) = halves {
            return super::int8_relaxed::run(self, h, lo_zero, m, acc, rows, groups);
        }
        let _ = halves;
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        super::int8_simd::run(self, qa, m, acc, rows, groups);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        {
            let _ = (rows, groups);
            self.run_scalar(qa, m, acc);
        }
    }

    /// The x86-64 SIMD kernel for this packing and CPU: AVX-512 VNNI for 16-column groups
    /// (packed so only where the CPU has it), AVX2 for 4-column ones.
    #[cfg(target_arch = "x86_64")]
    fn x86_kernel(&self) -> Option<RowsKernel> {
        match (self.g, self.kstep) {
            (16, 4) => Some(RowsKernel::Bytes(super::int8_avx512::run_rows)),
            (4, 2) if super::int8_avx2::available() && self.kb.is_multiple_of(4) => {
                Some(RowsKernel::Words(super::int8_avx2::run_rows))
            }
            _ => None,
        }
    }

    /// Rows shared out over the rayon pool; each task quantizes its rows once (and splits
    /// them once for a byte kernel), runs
    /// `kernel` for each matrix and scales them (the same arithmetic as `matmul_scalar`,
    /// per row), then applies the matrix's epilogue.
    #[cfg(target_arch = "x86_64")]
    fn matmul_threaded(
        parts: &[(&PackedI8, Epilogue)],
        x: &[f32],
        m: usize,
        precision: InputPrecision,
        kernel: RowsKernel,
    ) -> Vec<Vec<f32>> {
        use rayon::prelude::*;
        let first = parts[0].0;
        // An even share each (not whole tiles: 196 rows went 104 / 92 in 8-row tiles, and
        // the larger share set the time); a share's last tile may be short.
        let threads = rayon::current_num_threads().max(1);
        let rows = m.div_ceil(threads).max(1);
        let mut accs: Vec<Vec<f32>> = parts.iter().map(|(p, _)| vec![0f32; m * p.n_pad]).collect();
        // Task i gets rows `i * rows..` of every output.
        let mut tasks: Vec<Vec<&mut [f32]>> = (0..m.div_ceil(rows)).map(|_| Vec::new()).collect();
        for (acc, (p, _)) in accs.iter_mut().zip(parts) {
            for (t, c) in tasks.iter_mut().zip(acc.chunks_mut(rows * p.n_pad)) {
                t.push(c);
            }
        }
        tasks
            .into_par_iter()
            .zip(x.par_chunks(rows * first.k))
            .enumerate()
            .for_each(|(i, (outs, x))| {
                let r = x.len() / first.k;
                let (qa, ascale) = first.quantize_rows(x, r, precision);
                let split = match kernel {
                    RowsKernel::Bytes(_) => Some(split_7bit(&qa, first.k)),
                    RowsKernel::Words(_) => None,
                };
                for (acc, (p, ep)) in outs.into_iter().zip(parts) {
                    // SAFETY: `x86_kernel` chose a kernel this CPU runs, for this packing
                    // (every part has it); `qa`, its split and `acc` hold `r` whole rows.
                    unsafe {
                        match (kernel, &split) {
                            (RowsKernel::Bytes(run), Some((h, lo_zero))) => {
                                run(p, h, lo_zero, r, acc)
                            }
                            (RowsKernel::Words(run), _) => run(p, &qa, r, acc),
                            (RowsKernel::Bytes(_), None) => unreachable!("split above"),
                        }
                    }
                    scale_rows(acc, &ascale, p.n_pad);
                    ep.apply(acc, p.n_pad, p.n, i * rows);
                }
            });
        parts
            .iter()
            .zip(accs)
            .map(|((p, _), acc)| p.unpad(acc, m))
            .collect()
    }

    /// The portable kernel: the reference the simd128 one must equal bit for bit.
    pub fn matmul_scalar(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.matmul_scalar_at(x, m, InputPrecision::Fine)
    }

    /// [`Self::matmul_scalar`] on an input quantized at `precision`.
    pub fn matmul_scalar_at(&self, x: &[f32], m: usize, precision: InputPrecision) -> Vec<f32> {
        let (qa, ascale) = self.quantize_rows(x, m, precision);
        let mut acc = vec![0f32; m * self.n_pad];
        self.run_scalar(&qa, m, &mut acc);
        self.finish(acc, &ascale, m)
    }

    /// Per-row symmetric quantization to `qmax_for(kb)`, or (`Coarse`, rows within its
    /// crest) to 63 levels a side, stored as `128 * q` with the scale / 128: the same i16
    /// rows every kernel takes, and exactly what 7-bit `q` would give (a power of two scales
    /// every f32 step alike). A row with a non-finite value gets a NaN scale (its outputs
    /// are NaN, as f32 would propagate).
    fn quantize_rows(
        &self,
        x: &[f32],
        m: usize,
        precision: InputPrecision,
    ) -> (Vec<i16>, Vec<f32>) {
        assert_eq!(x.len(), m * self.k, "input is not m x {}", self.k);
        let qmax = qmax_for(self.kb) as f32;
        // `128 * 63` must fit the bound too (it does for blocks up to ~2000).
        let crest = match precision {
            InputPrecision::Coarse { crest } if qmax >= (128 * COARSE_QMAX) as f32 => Some(crest),
            _ => None,
        };
        let mut qa = vec![0i16; m * self.k];
        let mut scales = vec![0f32; m];
        let mut seven_bit_rows = 0u64;
        for ((row, q), s) in x
            .chunks_exact(self.k)
            .zip(qa.chunks_exact_mut(self.k))
            .zip(&mut scales)
        {
            // In 8 lanes so LLVM vectorizes the scan (a float max is not associative, so a
            // single running max stays scalar); `a <= MAX` is false for infinities and NaN.
            let mut lanes = [0f32; 8];
            let mut squares = [0f32; 8];
            let mut finite = true;
            let mut chunks = row.chunks_exact(8);
            for c in &mut chunks {
                for ((l, sq), v) in lanes.iter_mut().zip(&mut squares).zip(c) {
                    let a = v.abs();
                    finite &= a <= f32::MAX;
                    *l = if a > *l { a } else { *l };
                    *sq += v * v;
                }
            }
            for v in chunks.remainder() {
                let a = v.abs();
                finite &= a <= f32::MAX;
                lanes[0] = if a > lanes[0] { a } else { lanes[0] };
                squares[0] += v * v;
            }
            let amax = lanes.iter().fold(0f32, |m, &a| if a > m { a } else { m });
            if !finite {
                *s = f32::NAN;
                continue;
            }
            let coarse = crest.is_some_and(|c| {
                let mean_square = squares.iter().sum::<f32>() / self.k as f32;
                amax * amax <= c * c * mean_square
            });
            seven_bit_rows += coarse as u64;
            let (levels, step) = if coarse {
                (COARSE_QMAX as f32, 128)
            } else {
                (qmax, 1)
            };
            *s = amax / levels / step as f32;
            let inv = if amax > 0.0 { levels / amax } else { 0.0 };
            for (o, v) in q.iter_mut().zip(row) {
                *o = round_small_to_i16(v * inv) * step;
            }
        }
        if crest.is_some() {
            COARSE_ROWS[0].fetch_add(m as u64, Ordering::Relaxed);
            COARSE_ROWS[1].fetch_add(seven_bit_rows, Ordering::Relaxed);
        }
        (qa, scales)
    }

    fn run_scalar(&self, qa: &[i16], m: usize, acc: &mut [f32]) {
        let (k, kb) = (self.k, self.kb);
        for r in 0..m {
            let a = &qa[r * k..][..k];
            for col in 0..self.n {
                let mut y = 0f32;
                for b in 0..k / kb {
                    let mut p = 0i32;
                    for (kk, &ak) in a.iter().enumerate().skip(b * kb).take(kb) {
                        p += ak as i32 * self.w_at(col, kk) as i32;
                    }
                    y += p as f32 * self.scales[b * self.n_pad + col];
                }
                acc[r * self.n_pad + col] = y;
            }
        }
    }

    /// Row scales, and the padded columns dropped.
    fn finish(&self, mut acc: Vec<f32>, ascale: &[f32], m: usize) -> Vec<f32> {
        scale_rows(&mut acc, ascale, self.n_pad);
        self.unpad(acc, m)
    }

    fn unpad(&self, acc: Vec<f32>, m: usize) -> Vec<f32> {
        if self.n_pad == self.n {
            return acc;
        }
        let mut out = Vec::with_capacity(m * self.n);
        for row in acc.chunks_exact(self.n_pad) {
            out.extend_from_slice(&row[..self.n]);
        }
        out
    }

    // Accessors for the SIMD kernels.
    #[cfg(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    ))]
    /// `(k, n_pad, kb)`: the strides a kernel's tile needs.
    pub(super) fn dims(&self) -> (usize, usize, usize) {
        (self.k, self.n_pad, self.kb)
    }

    /// `(columns per group, K values per column step)` of the packing.
    #[cfg(any(
        all(target_arch = "wasm32", feature = "relaxed-simd"),
        target_arch = "x86_64"
    ))]
    pub(super) fn layout(&self) -> (usize, usize) {
        (self.g, self.kstep)
    }

    /// Per (block, column) weight sums (byte packings, 4 K a step, only).
    #[cfg(any(
        all(target_arch = "wasm32", feature = "relaxed-simd"),
        target_arch = "x86_64"
    ))]
    pub(super) fn wsum(&self) -> &[i32] {
        &self.wsum
    }

    /// Columns per packed group.
    #[cfg(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    ))]
    pub(super) fn group(&self) -> usize {
        self.g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    /// Deterministic values in [-1, 1) (no rand dependency).
    fn lcg(seed: u64, len: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn quantized(w: &[f32], n: usize, k: usize, dt: GgmlDType) -> (Vec<u8>, Vec<f32>) {
        let t = Tensor::from_vec(w.to_vec(), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, dt).unwrap();
        (q.data().unwrap().into_owned(), dequantized(&q))
    }

    fn dequantized(q: &QTensor) -> Vec<f32> {
        q.dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    }

    /// Checks `y` (m x n) against `x @ wd^T` in f64 within the activation-quantization
    /// bound: each input is off by at most half its row's step, so each output by at most
    /// `step/2 * sum|w|`, plus f32 summation slack.
    fn check_against_f32(
        x: &[f32],
        wd: &[f32],
        y: &[f32],
        m: usize,
        k: usize,
        n: usize,
        kb: usize,
    ) {
        assert_eq!(y.len(), m * n);
        let qmax = qmax_for(kb) as f64;
        let mut worst = 0f64;
        for r in 0..m {
            let row = &x[r * k..][..k];
            let step = row.iter().fold(0f64, |a, v| a.max(v.abs() as f64)) / qmax;
            for c in 0..n {
                let wc = &wd[c * k..][..k];
                let exact: f64 = row.iter().zip(wc).map(|(a, b)| *a as f64 * *b as f64).sum();
                let wabs: f64 = wc.iter().map(|b| b.abs() as f64).sum();
                let mag: f64 = row.iter().zip(wc).map(|(a, b)| (a * b).abs() as f64).sum();
                let bound = 0.5 * step * wabs + 1e-5 * mag + 1e-30;
                let err = (y[r * n + c] as f64 - exact).abs();
                worst = worst.max(err / bound);
                assert!(
                    err <= bound,
                    "m{m} k{k} n{n} at ({r},{c}): {} vs {exact} (err {err:e} > {bound:e})",
                    y[r * n + c]
                );
            }
        }
        eprintln!("m{m} k{k} n{n} kb{kb}: worst err / bound {worst:.3}");
    }

    const SHAPES: [(usize, usize, usize); 6] = [
        (1, 32, 4),
        (1, 64, 3),
        (5, 96, 7),
        (7, 768, 13),
        (3, 3072, 9),
        (13, 128, 36),
    ];

    #[test]
    fn q8_0_packing_is_exact_and_matmul_within_activation_bound() {
        for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
            let w: Vec<f32> = lcg(i as u64, n * k).iter().map(|v| v * 0.05).collect();
            let x = lcg(100 + i as u64, m * k);
            let (data, deq) = quantized(&w, n, k, GgmlDType::Q8_0);
            let p = PackedI8::from_q8_0(&data, n, k);
            assert_eq!(
                p.dequantize(),
                deq,
                "q8_0 packing must keep the stored weights"
            );
            let y = p.matmul_scalar(&x, m);
            check_against_f32(&x, &deq, &y, m, k, n, 32);
            assert_eq!(p.matmul(&x, m), y);
        }
    }

    /// q8_0 written with shared scales (`weights::q8_0_runs`) packs as blocks of up to 256,
    /// still exactly the stored weights, and the kernel's result stays within the bound.
    #[test]
    fn q8_0_runs_pack_as_long_blocks_exactly() {
        use crate::weights::q8_0_runs;
        for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
            let w: Vec<f32> = lcg(i as u64, n * k).iter().map(|v| v * 0.05).collect();
            let x = lcg(100 + i as u64, m * k);
            let data = q8_0_runs::quantize(&w, k);
            let deq = dequantized(
                &candle_core::quantized::ggml_file::qtensor_from_ggml(
                    GgmlDType::Q8_0,
                    &data,
                    vec![n, k],
                    &Device::Cpu,
                )
                .unwrap(),
            );
            let p = PackedI8::from_q8_0(&data, n, k);
            assert_eq!(p.kb, 32 * q8_0_runs::run_blocks(k), "k {k}");
            assert_eq!(
                p.dequantize(),
                deq,
                "k {k}: packing must keep the stored weights"
            );
            let y = p.matmul_scalar(&x, m);
            check_against_f32(&x, &deq, &y, m, k, n, p.kb);
            assert_eq!(p.matmul(&x, m), y);
        }
    }

    /// Each x86-64 SIMD kernel this CPU can run equals the scalar one bit for bit, at a
    /// token batch's shape (rows split over threads, edge tiles in both directions), with
    /// per-column scales (one block of all of K), and `matmul` picks a kernel that does.
    /// (wasm32: `tests/wasm_kernels.rs`.)
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_kernels_equal_scalar() {
        use super::super::{int8_avx2, int8_avx512};
        // (name, kernel, its packing, its K-block multiple)
        let mut kernels: Vec<(&str, RowsKernel, (usize, usize), usize)> = Vec::new();
        if int8_avx512::available() {
            kernels.push((
                "avx512 vnni",
                RowsKernel::Bytes(int8_avx512::run_rows),
                (16, 4),
                4,
            ));
        }
        if int8_avx2::available() {
            kernels.push(("avx2", RowsKernel::Words(int8_avx2::run_rows), (4, 2), 4));
        }
        if kernels.is_empty() {
            eprintln!("no SIMD kernel for this CPU: only the scalar one runs");
        }
        for &(m, k, n, kb) in &[
            (197, 768, 50, 32),
            // The runs siglens writes q8_0 linears in (`weights::q8_0_runs`).
            (197, 768, 50, 256),
            (9, 256, 13, 32),
            (6, 96, 7, 96),
            (5, 12, 9, 12),
            // Several row blocks (`walk_tiles`: 40 rows at K = 3072) per thread.
            (300, 3072, 20, 32),
            (300, 3072, 20, 256),
        ] {
            let w = lcg(m as u64, n * k);
            let mut x = lcg(k as u64, m * k);
            // Every third row with an outlier: 14-bit rows among 7-bit ones under `Coarse`.
            for r in (0..m).step_by(3) {
                x[r * k] = 30.0;
            }
            for precision in [InputPrecision::Fine, InputPrecision::Coarse { crest: 3.0 }] {
                let p = PackedI8::from_f32(&w, n, k, kb);
                let want = p.matmul_scalar_at(&x, m, precision);
                let ep = Epilogue::default();
                assert_eq!(
                    p.matmul_at(&x, m, &ep, precision),
                    want,
                    "matmul {m}x{k} @ {k}x{n}"
                );
                for (name, run, layout, kb_multiple) in &kernels {
                    if kb % kb_multiple != 0 {
                        continue;
                    }
                    let p = PackedI8::from_f32_laid_out(&w, n, k, kb, *layout);
                    assert_eq!(
                        p.matmul_scalar_at(&x, m, precision),
                        want,
                        "packing {layout:?} changed a value"
                    );
                    let got = PackedI8::matmul_threaded(&[(&p, ep)], &x, m, precision, *run);
                    assert_eq!(got[0], want, "{name} {m}x{k} @ {k}x{n} {precision:?}");
                }
            }
        }
    }

    /// Matrices sharing one quantization of their input give each one's own numbers bit
    /// for bit, for every packing; the epilogue equals bias, GELU and residual applied after
    /// the product, in that order.
    #[test]
    fn a_shared_input_and_the_epilogue_change_no_value() {
        let (m, k, n) = (11, 96, 32);
        let x = lcg(3, m * k);
        let mut layouts = vec![(4, 2), (16, 2), (16, 4)];
        if relaxed_fits(32) {
            layouts.push((4, 4));
        }
        for layout in layouts {
            // Of different widths, one of them padded.
            let parts: Vec<PackedI8> = [n, 5, 2 * n]
                .iter()
                .enumerate()
                .map(|(i, &w)| {
                    PackedI8::from_f32_laid_out(&lcg(10 + i as u64, w * k), w, k, 32, layout)
                })
                .collect();
            let bias = lcg(9, n);
            let with: Vec<(&PackedI8, Epilogue)> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let ep = Epilogue {
                        bias: (i == 0).then_some(bias.as_slice()),
                        ..Default::default()
                    };
                    (p, ep)
                })
                .collect();
            let ys = PackedI8::matmul_shared(&with, &x, m);
            for ((p, ep), y) in with.iter().zip(&ys) {
                assert_eq!(*y, p.matmul_with(&x, m, ep), "{layout:?}");
                let mut want = p.matmul_scalar(&x, m);
                if let Some(b) = ep.bias {
                    want.iter_mut()
                        .enumerate()
                        .for_each(|(i, v)| *v += b[i % n]);
                }
                assert_eq!(*y, want, "{layout:?} against the scalar kernel");
            }
        }
        let a = PackedI8::from_f32_laid_out(&lcg(1, 4 * k), 4, k, 32, (4, 2));
        let b = PackedI8::from_f32_laid_out(&lcg(1, 4 * k), 4, k, 96, (4, 2));
        assert!(!PackedI8::can_share_input(&[&a, &b]), "other blocks");

        let p = PackedI8::from_f32(&lcg(4, n * k), n, k, 32);
        let bias = lcg(5, n);
        let residual = lcg(6, m * n);
        let mut want = p.matmul(&x, m);
        for (i, v) in want.iter_mut().enumerate() {
            *v = residual[i] + super::super::gelu::gelu_tanh(*v + bias[i % n]);
        }
        let ep = Epilogue {
            bias: Some(&bias),
            gelu: true,
            residual: Some(&residual),
        };
        assert_eq!(p.matmul_with(&x, m, &ep), want);
    }

    /// `Coarse` rounds each row without outliers to 63 levels a side (within half a step
    /// of the f32 product, and no longer within 14 bits' bound), and leaves rows with
    /// outliers, all-zero rows and non-finite rows exactly as `Fine` has them.
    #[test]
    fn coarse_inputs_take_7_bits_on_rows_without_outliers() {
        let (m, k, n, kb) = (8, 256, 24, 32);
        let w = lcg(21, n * k);
        let mut x = lcg(22, m * k);
        x[2 * k + 7] = 25.0; // crest ~ 25 / 1.6 > 4
        x[5 * k..6 * k].fill(0.0);
        x[6 * k + 3] = f32::NAN;
        let p = PackedI8::from_f32(&w, n, k, kb);
        let wd = p.dequantize();
        let coarse = InputPrecision::Coarse { crest: 4.0 };
        let fine = p.matmul_scalar(&x, m);
        let got = p.matmul_scalar_at(&x, m, coarse);
        for r in 0..m {
            let row = &x[r * k..][..k];
            let (yf, yc) = (&fine[r * n..][..n], &got[r * n..][..n]);
            if [2, 5, 6].contains(&r) {
                let same = yf.iter().zip(yc).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "row {r} should stay 14-bit");
                continue;
            }
            let amax = row.iter().fold(0f32, |a, v| a.max(v.abs()));
            let mut worst_over_bound = 0f64;
            for c in 0..n {
                let wc = &wd[c * k..][..k];
                let exact: f64 = row.iter().zip(wc).map(|(a, b)| *a as f64 * *b as f64).sum();
                let l1: f64 = wc.iter().map(|v| v.abs() as f64).sum();
                let half_step = amax as f64 / 63.0 / 2.0;
                let err = (yc[c] as f64 - exact).abs();
                assert!(
                    err <= half_step * l1 * 1.001 + 1e-5,
                    "row {r} col {c}: {err}"
                );
                worst_over_bound = worst_over_bound.max(err / (half_step * l1 / 128.0));
            }
            // Some error beyond what 14 bits (a step 128x finer) could give: really 7 bits.
            assert!(worst_over_bound > 1.0, "row {r} looks 14-bit");
        }
    }

    #[test]
    fn small_rounding_is_ties_to_even() {
        let mut y = -32_767.0f32;
        while y <= 32_767.0 {
            for v in [y, y + 0.5, y - 0.5, y + 0.25, y + 0.49999997, y.next_up()] {
                let want = v.round_ties_even().clamp(-32768.0, 32767.0) as i16;
                assert_eq!(round_small_to_i16(v), want, "{v}");
            }
            y += 0.75;
        }
        assert_eq!(round_small_to_i16(-0.4), 0);
        assert_eq!(round_small_to_i16(-0.6), -1);
    }

    #[test]
    fn q4_0_packing_is_exact() {
        let (m, k, n) = (3, 256, 10);
        let w = lcg(7, n * k);
        let x = lcg(8, m * k);
        let (data, deq) = quantized(&w, n, k, GgmlDType::Q4_0);
        let p = PackedI8::from_q4_0(&data, n, k);
        assert_eq!(p.dequantize(), deq);
        check_against_f32(&x, &deq, &p.matmul_scalar(&x, m), m, k, n, 32);
    }

    #[test]
    fn per_column_weights_within_bound_of_their_dequantized_values() {
        for &(m, k, n) in &SHAPES {
            let w = lcg(k as u64, n * k);
            let x = lcg(n as u64, m * k);
            let p = PackedI8::from_f32(&w, n, k, k);
            check_against_f32(&x, &p.dequantize(), &p.matmul_scalar(&x, m), m, k, n, k);
        }
    }

    #[test]
    fn edge_rows() {
        let (k, n) = (64, 5);
        let p = PackedI8::from_f32(&lcg(1, n * k), n, k, 32);
        // Zero rows give zeros; a non-finite input makes its row NaN and leaves the others.
        let mut x = vec![0f32; 3 * k];
        x[k..2 * k].copy_from_slice(&lcg(2, k));
        x[2 * k + 5] = f32::INFINITY;
        let y = p.matmul_scalar(&x, 3);
        assert!(y[..n].iter().all(|v| *v == 0.0));
        assert!(y[n..2 * n].iter().all(|v| v.is_finite() && *v != 0.0));
        assert!(y[2 * n..].iter().all(|v| v.is_nan()));
        assert!(p.matmul_scalar(&[], 0).is_empty());
        assert_eq!(qmax_for(32), 8191);
        assert!(qmax_for(3072) >= 5000);
    }
}
