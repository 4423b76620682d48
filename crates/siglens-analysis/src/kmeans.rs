//! K-means (Lloyd's algorithm with k-means++ seeding, best of several seeds, as
//! scikit-learn does) on squared Euclidean distance, and the silhouette score to suggest k.

use crate::rng::SplitMix64;

#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Cluster of each point, `0..k`, numbered by first appearance so results are stable.
    pub labels: Vec<usize>,
    pub centroids: Vec<Vec<f32>>,
    /// Sum of squared distances of points to their centroid.
    pub inertia: f64,
}

/// Squared Euclidean distance, accumulated in f64.
pub(crate) fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (*x - *y) as f64;
            d * d
        })
        .sum()
}

/// k-means++: each next centre drawn with probability proportional to the squared
/// distance to the nearest centre so far.
fn seed(points: &[Vec<f32>], k: usize, rng: &mut SplitMix64) -> Vec<Vec<f32>> {
    let n = points.len();
    let mut centres = vec![points[(rng.next_u64() % n as u64) as usize].clone()];
    let mut nearest: Vec<f64> = points.iter().map(|p| dist2(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let pick = if total <= 0.0 {
            // All points coincide with centres: any point will do.
            (rng.next_u64() % n as u64) as usize
        } else {
            let mut r = rng.next_f64() * total;
            let mut i = 0;
            while i + 1 < n && r >= nearest[i] {
                r -= nearest[i];
                i += 1;
            }
            i
        };
        let c = points[pick].clone();
        for (d, p) in nearest.iter_mut().zip(points) {
            *d = d.min(dist2(p, &c));
        }
        centres.push(c);
    }
    centres
}

fn assign(points: &[Vec<f32>], centres: &[Vec<f32>]) -> (Vec<usize>, f64) {
    let mut inertia = 0.0;
    let labels = points
        .iter()
        .map(|p| {
            let (best, d) = centres
                .iter()
                .enumerate()
                .map(|(j, c)| (j, dist2(p, c)))
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            inertia += d;
            best
        })
        .collect();
    (labels, inertia)
}

fn lloyd(points: &[Vec<f32>], mut centres: Vec<Vec<f32>>, max_iter: usize) -> Clustering {
    let dim = points[0].len();
    let k = centres.len();
    let (mut labels, mut inertia) = assign(points, &centres);
    for _ in 0..max_iter {
        let mut sums = vec![vec![0f64; dim]; k];
        let mut counts = vec![0usize; k];
        for (p, &l) in points.iter().zip(&labels) {
            counts[l] += 1;
            for (s, v) in sums[l].iter_mut().zip(p) {
                *s += *v as f64;
            }
        }
        for j in 0..k {
            if counts[j] > 0 {
                centres[j] = sums[j]
                    .iter()
                    .map(|s| (s / counts[j] as f64) as f32)
                    .collect();
            } else {
                // An empty cluster takes the point farthest from its centre.
                let far = (0..points.len())
                    .max_by(|&a, &b| {
                        dist2(&points[a], &centres[labels[a]])
                            .total_cmp(&dist2(&points[b], &centres[labels[b]]))
                    })
                    .unwrap_or(0);
                centres[j] = points[far].clone();
            }
        }
        let (new_labels, new_inertia) = assign(points, &centres);
        let converged = new_labels == labels;
        labels = new_labels;
        inertia = new_inertia;
        if converged {
            break;
        }
    }
    Clustering {
        labels,
        centroids: centres,
        inertia,
    }
}

/// Renumbers clusters by first appearance (point order), so equal partitions compare equal.
fn canonical(mut c: Clustering) -> Clustering {
    let k = c.centroids.len();
    let mut map = vec![usize::MAX; k];
    let mut next = 0;
    for &l in &c.labels {
        if map[l] == usize::MAX {
            map[l] = next;
            next += 1;
        }
    }
    for m in map.iter_mut().filter(|m| **m == usize::MAX) {
        *m = next;
        next += 1;
    }
    let mut centroids = vec![Vec::new(); k];
    for (old, c2) in c.centroids.drain(..).enumerate() {
        centroids[map[old]] = c2;
    }
    Clustering {
        labels: c.labels.iter().map(|&l| map[l]).collect(),
        centroids,
        inertia: c.inertia,
    }
}

/// K-means with `k` clusters: the best (lowest inertia) of `n_init` k-means++ seedings.
/// `k` is clamped to `1..=points.len()`. Empty input gives an empty clustering.
pub fn kmeans(points: &[Vec<f32>], k: usize, n_init: usize, seed_value: u64) -> Clustering {
    if points.is_empty() {
        return Clustering {
            labels: Vec::new(),
            centroids: Vec::new(),
            inertia: 0.0,
        };
    }
    let k = k.clamp(1, points.len());
    let mut rng = SplitMix64::new(seed_value);
    let mut best: Option<Clustering> = None;
    for _ in 0..n_init.max(1) {
        let c = lloyd(points, seed(points, k, &mut rng), 300);
        if best.as_ref().is_none_or(|b| c.inertia < b.inertia) {
            best = Some(c);
        }
    }
    canonical(best.expect("n_init >= 1"))
}

/// Mean silhouette coefficient (Euclidean), as scikit-learn's `silhouette_score`: for each
/// point, (b - a) / max(a, b) with a the mean distance within its cluster and b the lowest
/// mean distance to another cluster; points alone in their cluster score 0.
pub fn silhouette(points: &[Vec<f32>], labels: &[usize]) -> f64 {
    let n = points.len();
    let k = labels.iter().max().map_or(0, |m| m + 1);
    if n < 2 || k < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n {
        let mut sum = vec![0f64; k];
        let mut count = vec![0usize; k];
        for j in 0..n {
            if i != j {
                sum[labels[j]] += dist2(&points[i], &points[j]).sqrt();
                count[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if count[own] == 0 {
            continue;
        }
        let a = sum[own] / count[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && count[c] > 0)
            .map(|c| sum[c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

/// The k in `2..=max_k` with the best silhouette (ties: the smaller k), with every score.
pub fn suggest_k(points: &[Vec<f32>], max_k: usize, seed_value: u64) -> (usize, Vec<(usize, f64)>) {
    let upper = max_k.min(points.len().saturating_sub(1));
    let scores: Vec<(usize, f64)> = (2..=upper)
        .map(|k| {
            (
                k,
                silhouette(points, &kmeans(points, k, 4, seed_value).labels),
            )
        })
        .collect();
    let best = scores
        .iter()
        .fold(None::<(usize, f64)>, |b, &(k, s)| match b {
            Some((_, bs)) if bs >= s => b,
            _ => Some((k, s)),
        })
        .map_or(1, |(k, _)| k);
    (best, scores)
}
