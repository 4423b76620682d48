//! UMAP against umap-learn 0.5.12 (fixtures from tools/make_analysis_fixtures.py): the
//! fuzzy graph must match, and the layout must keep neighbourhoods as well as umap-learn's.

use siglens_analysis::umap::fuzzy_graph;
use siglens_analysis::{umap_2d, UmapParams};

struct Fixture {
    points: Vec<Vec<f32>>,
    graph: Vec<(usize, usize, f64)>,
    pca: (Vec<Vec<f32>>, f64),
    spectral_trust: f64,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/umap.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let graph = v["graph"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_u64().unwrap() as usize,
                e[1].as_u64().unwrap() as usize,
                e[2].as_f64().unwrap(),
            )
        })
        .collect();
    let l = &v["layouts"];
    Fixture {
        points: serde_json::from_value(v["points"].clone()).unwrap(),
        graph,
        pca: (
            serde_json::from_value(l["pca"]["embedding"].clone()).unwrap(),
            l["pca"]["trustworthiness"].as_f64().unwrap(),
        ),
        spectral_trust: l["spectral"]["trustworthiness"].as_f64().unwrap(),
    }
}

fn d2(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
}

/// sklearn.manifold.trustworthiness (Euclidean), written out.
fn trustworthiness(x: &[Vec<f32>], y: &[Vec<f32>], k: usize) -> f64 {
    let n = x.len();
    let ranks = |pts: &[Vec<f32>], i: usize| -> Vec<usize> {
        let mut o: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        o.sort_by(|&a, &b| {
            d2(&pts[i], &pts[a])
                .total_cmp(&d2(&pts[i], &pts[b]))
                .then(a.cmp(&b))
        });
        o
    };
    let mut t = 0.0;
    for i in 0..n {
        let rx = ranks(x, i);
        let mut rank_in_x = vec![0usize; n];
        for (r, &j) in rx.iter().enumerate() {
            rank_in_x[j] = r + 1;
        }
        for &j in ranks(y, i).iter().take(k) {
            t += (rank_in_x[j] as f64 - k as f64).max(0.0);
        }
    }
    1.0 - t * 2.0 / (n as f64 * k as f64 * (2.0 * n as f64 - 3.0 * k as f64 - 1.0))
}

#[test]
fn fuzzy_graph_matches_umap_learn() {
    let f = fixture();
    let ours = fuzzy_graph(&f.points, 15);
    let want: std::collections::HashMap<(usize, usize), f64> = f
        .graph
        .iter()
        .filter(|e| e.2 > 0.0)
        .map(|e| ((e.0, e.1), e.2))
        .collect();
    assert_eq!(ours.len(), want.len(), "edge count");
    let worst = ours
        .iter()
        .map(|&(i, j, w)| (w as f64 - want.get(&(i, j)).copied().unwrap_or(f64::NAN)).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "fuzzy graph: {} edges, max |ours - umap-learn| = {worst:.2e}",
        ours.len()
    );
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn layout_keeps_neighbourhoods_like_umap_learn() {
    let f = fixture();
    // Our trustworthiness agrees with sklearn's on umap-learn's own layout.
    let t_ref = trustworthiness(&f.points, &f.pca.0, 10);
    assert!(
        (t_ref - f.pca.1).abs() < 1e-9,
        "{t_ref} vs sklearn {}",
        f.pca.1
    );
    let emb: Vec<Vec<f32>> = umap_2d(&f.points, &UmapParams::default())
        .iter()
        .map(|p| p.to_vec())
        .collect();
    assert!(emb.iter().flatten().all(|v| v.is_finite()));
    let t = trustworthiness(&f.points, &emb, 10);
    eprintln!(
        "trustworthiness@10: ours {t:.4}, umap-learn pca {:.4}, spectral {:.4}",
        f.pca.1, f.spectral_trust
    );
    assert!(t >= f.pca.1.min(f.spectral_trust) - 0.02, "ours {t}");
    // Deterministic for a seed.
    let again: Vec<Vec<f32>> = umap_2d(&f.points, &UmapParams::default())
        .iter()
        .map(|p| p.to_vec())
        .collect();
    assert_eq!(emb, again);
}

#[test]
fn tiny_inputs_do_not_panic() {
    assert!(umap_2d(&[], &UmapParams::default()).is_empty());
    assert_eq!(umap_2d(&[vec![1.0, 0.0]], &UmapParams::default()).len(), 1);
    let four = vec![
        vec![1.0f32, 0.0],
        vec![0.0, 1.0],
        vec![1.0, 0.1],
        vec![0.1, 1.0],
    ];
    let e = umap_2d(&four, &UmapParams::default());
    assert_eq!(e.len(), 4);
    assert!(e.iter().flatten().all(|v| v.is_finite()));
    let same = vec![vec![0.5f32; 3]; 5];
    assert!(umap_2d(&same, &UmapParams::default())
        .iter()
        .flatten()
        .all(|v| v.is_finite()));
}
