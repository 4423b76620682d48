//! UMAP to 2-D for a photo collection (hundreds to a few thousand points), following
//! umap-learn's algorithm and defaults: exact k nearest neighbours (umap-learn also uses
//! exact distances below 4096 points), the fuzzy simplicial set (`smooth_knn_dist`,
//! membership strengths, fuzzy union), and its SGD layout with negative sampling
//! (`optimize_layout_euclidean`, a/b for min_dist 0.1). Initialisation is PCA (umap-learn's
//! `init="pca"`), which is deterministic and keeps the global layout. The graph is
//! compared with umap-learn's and the layout's trustworthiness with umap-learn's in
//! `tests/umap.rs`.

use crate::rng::SplitMix64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UmapParams {
    pub n_neighbors: usize,
    pub n_epochs: usize,
    pub negative_sample_rate: usize,
    pub seed: u64,
}

impl Default for UmapParams {
    fn default() -> Self {
        Self {
            n_neighbors: 15,
            // umap-learn: 500 epochs for small data sets, 200 above 10000 points.
            n_epochs: 500,
            negative_sample_rate: 5,
            seed: 0,
        }
    }
}

/// umap-learn's `find_ab_params(spread=1.0, min_dist=0.1)`.
const A: f32 = 1.576_943_5;
const B: f32 = 0.895_060_9;
const SMOOTH_K_TOLERANCE: f64 = 1e-5;
const MIN_K_DIST_SCALE: f64 = 1e-3;

fn dist(a: &[f32], b: &[f32]) -> f64 {
    crate::kmeans::dist2(a, b).sqrt()
}

/// Exact k nearest neighbours of every point, itself first (distance 0), as umap-learn.
pub fn knn(points: &[Vec<f32>], k: usize) -> (Vec<Vec<usize>>, Vec<Vec<f64>>) {
    let n = points.len();
    let mut idx = Vec::with_capacity(n);
    let mut dst = Vec::with_capacity(n);
    for i in 0..n {
        let mut d: Vec<(f64, usize)> = (0..n)
            .map(|j| {
                (
                    if i == j {
                        0.0
                    } else {
                        dist(&points[i], &points[j])
                    },
                    j,
                )
            })
            .collect();
        // Self first among equals, then by distance and index (stable, deterministic).
        d.sort_by(|a, b| {
            (a.1 != i)
                .cmp(&(b.1 != i))
                .then(a.0.total_cmp(&b.0))
                .then(a.1.cmp(&b.1))
        });
        d.truncate(k);
        idx.push(d.iter().map(|x| x.1).collect());
        dst.push(d.iter().map(|x| x.0).collect());
    }
    (idx, dst)
}

/// `smooth_knn_dist` with local_connectivity 1: per point, rho (distance to the nearest
/// neighbour) and sigma (so the memberships sum to log2(k)).
fn smooth_knn_dist(dists: &[Vec<f64>], k: usize) -> (Vec<f64>, Vec<f64>) {
    let target = (k as f64).log2();
    let mean_all: f64 =
        dists.iter().flatten().sum::<f64>() / (dists.len() * k.max(1)).max(1) as f64;
    let mut rhos = Vec::with_capacity(dists.len());
    let mut sigmas = Vec::with_capacity(dists.len());
    for row in dists {
        let rho = row
            .iter()
            .copied()
            .filter(|&d| d > 0.0)
            .fold(f64::INFINITY, f64::min);
        let rho = if rho.is_finite() { rho } else { 0.0 };
        let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..64 {
            let psum: f64 = row[1..]
                .iter()
                .map(|&d| {
                    let d = d - rho;
                    if d > 0.0 {
                        (-(d / mid)).exp()
                    } else {
                        1.0
                    }
                })
                .sum();
            if (psum - target).abs() < SMOOTH_K_TOLERANCE {
                break;
            }
            if psum > target {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = if hi.is_infinite() {
                    mid * 2.0
                } else {
                    (lo + hi) / 2.0
                };
            }
        }
        let mean_row = row.iter().sum::<f64>() / row.len() as f64;
        if rho > 0.0 {
            mid = mid.max(MIN_K_DIST_SCALE * mean_row);
        } else {
            mid = mid.max(MIN_K_DIST_SCALE * mean_all);
        }
        rhos.push(rho);
        sigmas.push(mid);
    }
    (rhos, sigmas)
}

/// The symmetric fuzzy graph as `(i, j, weight)` with i != j, every pair both ways,
/// sorted by (i, j): umap-learn's `fuzzy_simplicial_set` with set_op_mix_ratio 1.
pub fn fuzzy_graph(points: &[Vec<f32>], n_neighbors: usize) -> Vec<(usize, usize, f32)> {
    let n = points.len();
    let k = n_neighbors.min(n);
    if n < 2 {
        return Vec::new();
    }
    let (idx, dst) = knn(points, k);
    let (rhos, sigmas) = smooth_knn_dist(&dst, k);
    let mut directed = std::collections::HashMap::<(usize, usize), f64>::new();
    for i in 0..n {
        for c in 0..k {
            let j = idx[i][c];
            if j == i {
                continue;
            }
            let d = dst[i][c] - rhos[i];
            let w = if d <= 0.0 || sigmas[i] == 0.0 {
                1.0
            } else {
                (-(d / sigmas[i])).exp()
            };
            directed.insert((i, j), w);
        }
    }
    let mut out = std::collections::BTreeMap::<(usize, usize), f64>::new();
    for (&(i, j), &w) in &directed {
        let wt = directed.get(&(j, i)).copied().unwrap_or(0.0);
        let v = w + wt - w * wt;
        out.insert((i, j), v);
        out.insert((j, i), v);
    }
    out.into_iter()
        .filter(|(_, v)| *v > 0.0)
        .map(|((i, j), v)| (i, j, v as f32))
        .collect()
}

/// The first two principal components, scaled to [-10, 10] (umap-learn rescales its
/// initialisation to that box too).
fn pca_init(points: &[Vec<f32>]) -> Vec<[f32; 2]> {
    let n = points.len();
    let d = points[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|c| points.iter().map(|p| p[c] as f64).sum::<f64>() / n as f64)
        .collect();
    let x: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.iter().zip(&mean).map(|(v, m)| *v as f64 - m).collect())
        .collect();
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        // Power iteration on X^T X with deflation; a fixed start keeps it deterministic.
        let mut v: Vec<f64> = (0..d)
            .map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 / 11.0)
            .collect();
        for _ in 0..200 {
            let xv: Vec<f64> = x
                .iter()
                .map(|r| r.iter().zip(&v).map(|(a, b)| a * b).sum())
                .collect();
            let mut w = vec![0.0; d];
            for (r, s) in x.iter().zip(&xv) {
                for (wi, ri) in w.iter_mut().zip(r) {
                    *wi += ri * s;
                }
            }
            for p in &comps {
                let dot: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
                for (wi, pi) in w.iter_mut().zip(p) {
                    *wi -= dot * pi;
                }
            }
            let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            v = w.into_iter().map(|a| a / norm).collect();
        }
        comps.push(v);
    }
    let proj: Vec<[f64; 2]> = x
        .iter()
        .map(|r| {
            let p = |c: &Vec<f64>| r.iter().zip(c).map(|(a, b)| a * b).sum::<f64>();
            [p(&comps[0]), p(&comps[1])]
        })
        .collect();
    let max = proj
        .iter()
        .flat_map(|p| p.iter().map(|v| v.abs()))
        .fold(1e-12, f64::max);
    proj.iter()
        .map(|p| [(p[0] / max * 10.0) as f32, (p[1] / max * 10.0) as f32])
        .collect()
}

fn clip(v: f32) -> f32 {
    v.clamp(-4.0, 4.0)
}

/// 2-D coordinates for every point. Fewer than 3 points are placed on a line.
pub fn umap_2d(points: &[Vec<f32>], params: &UmapParams) -> Vec<[f32; 2]> {
    let n = points.len();
    if n < 3 {
        return (0..n).map(|i| [i as f32, 0.0]).collect();
    }
    let mut graph = fuzzy_graph(points, params.n_neighbors);
    let n_epochs = params.n_epochs.max(1);
    let wmax = graph.iter().map(|e| e.2).fold(0.0f32, f32::max);
    graph.retain(|e| e.2 >= wmax / n_epochs as f32);
    let mut emb = pca_init(points);
    let eps: Vec<f64> = graph
        .iter()
        .map(|e| {
            let samples = n_epochs as f64 * (e.2 / wmax) as f64;
            if samples > 0.0 {
                n_epochs as f64 / samples
            } else {
                -1.0
            }
        })
        .collect();
    let neg_rate = params.negative_sample_rate as f64;
    let eps_neg: Vec<f64> = eps.iter().map(|e| e / neg_rate).collect();
    let mut next = eps.clone();
    let mut next_neg = eps_neg.clone();
    let mut rng = SplitMix64::new(params.seed);
    for epoch in 0..n_epochs {
        let alpha = 1.0 - epoch as f32 / n_epochs as f32;
        for (e, &(j, k, _)) in graph.iter().enumerate() {
            if eps[e] <= 0.0 || next[e] > epoch as f64 {
                continue;
            }
            let (cur, other) = (emb[j], emb[k]);
            let d2 = (cur[0] - other[0]).powi(2) + (cur[1] - other[1]).powi(2);
            let coeff = if d2 > 0.0 {
                -2.0 * A * B * d2.powf(B - 1.0) / (A * d2.powf(B) + 1.0)
            } else {
                0.0
            };
            for c in 0..2 {
                let g = clip(coeff * (cur[c] - other[c])) * alpha;
                emb[j][c] += g;
                emb[k][c] -= g;
            }
            next[e] += eps[e];
            let n_neg = ((epoch as f64 - next_neg[e]) / eps_neg[e]).floor().max(0.0) as usize;
            for _ in 0..n_neg {
                let o = (rng.next_u64() % n as u64) as usize;
                if o == j {
                    continue;
                }
                let (cur, other) = (emb[j], emb[o]);
                let d2 = (cur[0] - other[0]).powi(2) + (cur[1] - other[1]).powi(2);
                let coeff = if d2 > 0.0 {
                    2.0 * B / ((0.001 + d2) * (A * d2.powf(B) + 1.0))
                } else {
                    0.0
                };
                for c in 0..2 {
                    let g = if coeff > 0.0 {
                        clip(coeff * (cur[c] - other[c]))
                    } else {
                        4.0
                    };
                    emb[j][c] += g * alpha;
                }
            }
            next_neg[e] += n_neg as f64 * eps_neg[e];
        }
    }
    emb
}
