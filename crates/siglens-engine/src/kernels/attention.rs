//! Multi-head attention on plain f32 buffers (the encoder's CPU path, `model/cpu_layer`):
//! per (sequence, head) `softmax(q kᵀ * scale + mask) v`, heads shared over the threads.
//! The two products are a small register-tiled f32 GEMM written so LLVM vectorizes its
//! columns (simd128 in wasm; AVX-512 natively where the CPU has it): Candle's GEMM ran
//! them at ~20 GFLOP/s in wasm, and its per-op tensors cost copies and a serial softmax.

use super::par;
use super::softmax::softmax_row;

/// Columns a GEMM tile holds (two f32x4 in wasm, one 512-bit register natively).
#[cfg(target_arch = "wasm32")]
const NR: usize = 8;
#[cfg(not(target_arch = "wasm32"))]
const NR: usize = 16;
/// Rows a GEMM tile holds.
const MR: usize = 4;

/// One `R x NR` tile of C over all of `kk`, the accumulators in registers.
#[inline(always)]
unsafe fn tile<const R: usize>(
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    kk: usize,
) {
    let mut acc = [[0f32; NR]; R];
    for p in 0..kk {
        let bv: [f32; NR] = (b.add(p * ldb) as *const [f32; NR]).read_unaligned();
        for (r, row) in acc.iter_mut().enumerate() {
            let av = *a.add(r * lda + p);
            for (s, w) in row.iter_mut().zip(&bv) {
                *s += av * w;
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        (c.add(r * ldc) as *mut [f32; NR]).write_unaligned(*row);
    }
}

wide_on_avx512! {
    /// `C (m x n) = A (m x kk) @ B (kk x n)` on slices, row strides `lda`, `ldb`, `ldc`; `n`
    /// a multiple of [`NR`]. `MR x NR` tiles, the last rows in a shorter one.
    fn gemm(
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
        dims: (usize, usize, usize),
    ) {
        let (m, kk, n) = dims;
        if m == 0 || n == 0 {
            return;
        }
        assert!(n.is_multiple_of(NR) && lda >= kk && ldb >= n && ldc >= n);
        assert!(a.len() >= (m - 1) * lda + kk && c.len() >= (m - 1) * ldc + n);
        assert!(kk == 0 || b.len() >= (kk - 1) * ldb + n);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        for r in (0..m).step_by(MR) {
            for j in (0..n).step_by(NR) {
                // SAFETY: the slices cover these extents (checked above).
                unsafe {
                    let (a, b, c) = (a.add(r * lda), b.add(j), c.add(r * ldc + j));
                    match MR.min(m - r) {
                        4 => tile::<4>(a, lda, b, ldb, c, ldc, kk),
                        3 => tile::<3>(a, lda, b, ldb, c, ldc, kk),
                        2 => tile::<2>(a, lda, b, ldb, c, ldc, kk),
                        _ => tile::<1>(a, lda, b, ldb, c, ldc, kk),
                    }
                }
            }
        }
    }
}

/// The shape of one attention call over the q/k/v projections (each `batch * seq` rows of
/// `hidden`).
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub batch: usize,
    pub seq: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub scale: f32,
    /// Only each sequence's last query (the text tower's last layer: only the last position
    /// is pooled).
    pub last_query_only: bool,
}

impl Heads {
    pub fn hidden(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Query rows per sequence in the output.
    pub fn queries(&self) -> usize {
        if self.last_query_only {
            1
        } else {
            self.seq
        }
    }
}

/// Attention over the projections `q`, `k`, `v` (each `batch * seq` rows of `hidden`);
/// `mask`: additive, `batch x seq` (added to every query's scores). Returns `batch *
/// queries` rows of `hidden`, heads merged back in order.
pub fn attention(q: &[f32], k: &[f32], v: &[f32], h: &Heads, mask: Option<&[f32]>) -> Vec<f32> {
    let (s, d, hidden) = (h.seq, h.head_dim, h.hidden());
    for t in [q, k, v] {
        assert_eq!(
            t.len(),
            h.batch * s * hidden,
            "a projection is not rows x hidden"
        );
    }
    assert!(
        d.is_multiple_of(NR),
        "head size {d} is not a multiple of {NR}"
    );
    if let Some(m) = mask {
        assert_eq!(m.len(), h.batch * s);
    }
    let sq = h.queries();
    let s_pad = s.div_ceil(NR) * NR;
    let per_head = par::map(h.batch * h.heads, |task| {
        let (bi, head) = (task / h.heads, task % h.heads);
        let span = bi * s * hidden..(bi + 1) * s * hidden;
        let (qs, ks, vs) = (&q[span.clone()], &k[span.clone()], &v[span]);
        // kᵀ, `d x s_pad`, padded with zero columns so the product's width is whole tiles.
        let mut kt = vec![0f32; d * s_pad];
        for (j, row) in ks.chunks_exact(hidden).enumerate() {
            for (t, &x) in row[head * d..][..d].iter().enumerate() {
                kt[t * s_pad + j] = x;
            }
        }
        let q0 = (s - sq) * hidden + head * d;
        let mut scores = vec![0f32; sq * s_pad];
        gemm(
            &qs[q0..],
            hidden,
            &kt,
            s_pad,
            &mut scores,
            s_pad,
            (sq, d, s_pad),
        );
        let m = mask.map(|m| &m[bi * s..][..s]);
        scaled_softmax(&mut scores, s_pad, s, h.scale, m);
        let mut o = vec![0f32; sq * d];
        gemm(
            &scores,
            s_pad,
            &vs[head * d..],
            hidden,
            &mut o,
            d,
            (sq, s, d),
        );
        o
    });
    let mut out = vec![0f32; h.batch * sq * hidden];
    for (task, o) in per_head.iter().enumerate() {
        let (bi, head) = (task / h.heads, task % h.heads);
        for (i, row) in o.chunks_exact(d).enumerate() {
            out[(bi * sq + i) * hidden + head * d..][..d].copy_from_slice(row);
        }
    }
    out
}

wide_on_avx512! {
    /// Each row (`s` of every `s_pad`): scaled, then the mask added (as transformers), then
    /// softmax.
    fn scaled_softmax(scores: &mut [f32], s_pad: usize, s: usize, scale: f32, mask: Option<&[f32]>) {
        for row in scores.chunks_exact_mut(s_pad) {
            let row = &mut row[..s];
            match mask {
                Some(m) => row.iter_mut().zip(m).for_each(|(v, &a)| *v = *v * scale + a),
                None => row.iter_mut().for_each(|v| *v *= scale),
            }
            softmax_row(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(seed: usize, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i + seed) * 2654435761) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// The plain definition in f64.
    fn reference(q: &[f32], k: &[f32], v: &[f32], h: &Heads, mask: Option<&[f32]>) -> Vec<f64> {
        let (s, d, hid) = (h.seq, h.head_dim, h.hidden());
        let parts = [q, k, v];
        let mut out = Vec::new();
        for b in 0..h.batch {
            for i in (s - h.queries())..s {
                let mut row = vec![0f64; hid];
                for head in 0..h.heads {
                    let at = |r: usize, part: usize, t: usize| {
                        parts[part][(b * s + r) * hid + head * d + t] as f64
                    };
                    let mut sc: Vec<f64> = (0..s)
                        .map(|j| {
                            let dot: f64 = (0..d).map(|t| at(i, 0, t) * at(j, 1, t)).sum();
                            dot * h.scale as f64 + mask.map_or(0.0, |m| m[b * s + j] as f64)
                        })
                        .collect();
                    let mx = sc.iter().cloned().fold(f64::MIN, f64::max);
                    sc.iter_mut().for_each(|v| *v = (*v - mx).exp());
                    let sum: f64 = sc.iter().sum();
                    for t in 0..d {
                        row[head * d + t] = (0..s).map(|j| sc[j] / sum * at(j, 2, t)).sum();
                    }
                }
                out.extend(row);
            }
        }
        out
    }

    #[test]
    fn equals_the_definition() {
        for (batch, seq, heads, last, masked) in [
            (2, 13, 3, false, false),
            (1, 37, 2, false, true),
            (3, 9, 2, true, true),
            (2, 64, 1, true, false),
        ] {
            let d = 2 * NR;
            let h = Heads {
                batch,
                seq,
                heads,
                head_dim: d,
                scale: (d as f32).powf(-0.5),
                last_query_only: last,
            };
            let len = batch * seq * h.hidden();
            let (q, k, v) = (values(seq, len), values(seq + 1, len), values(seq + 2, len));
            // Masked: the second half of each sequence is padding (as transformers' dtype min).
            let mask: Vec<f32> = (0..batch * seq)
                .map(|i| if i % seq > seq / 2 { f32::MIN } else { 0.0 })
                .collect();
            let m = masked.then_some(mask.as_slice());
            let got = attention(&q, &k, &v, &h, m);
            let want = reference(&q, &k, &v, &h, m);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (*g as f64 - w).abs() < 1e-5,
                    "{g} vs {w} ({batch} {seq} {heads})"
                );
            }
        }
    }

    #[test]
    fn gemm_equals_naive_at_edge_sizes() {
        for (m, kk, n) in [(1, 5, NR), (7, 3, 2 * NR), (4, 64, NR), (9, 1, 3 * NR)] {
            let a = values(1, m * kk);
            let b = values(2, kk * n);
            let mut c = vec![f32::NAN; m * n];
            gemm(&a, kk, &b, n, &mut c, n, (m, kk, n));
            for r in 0..m {
                for j in 0..n {
                    let want: f32 = (0..kk).map(|p| a[r * kk + p] * b[p * n + j]).sum();
                    assert!((c[r * n + j] - want).abs() < 1e-5);
                }
            }
        }
    }
}
