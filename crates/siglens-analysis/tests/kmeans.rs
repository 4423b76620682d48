//! K-means and silhouette against scikit-learn 1.9 (fixtures from
//! tools/make_analysis_fixtures.py).

use siglens_analysis::{kmeans, silhouette, suggest_k};

struct Case {
    name: String,
    k: usize,
    points: Vec<Vec<f32>>,
    labels: Vec<usize>,
    inertia: f64,
    silhouette_of_labels: f64,
    best_k: usize,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kmeans.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            k: c["k"].as_u64().unwrap() as usize,
            points: serde_json::from_value(c["points"].clone()).unwrap(),
            labels: serde_json::from_value(c["labels"].clone()).unwrap(),
            inertia: c["inertia"].as_f64().unwrap(),
            silhouette_of_labels: c["silhouette_of_labels"].as_f64().unwrap(),
            best_k: c["best_k"].as_str().map_or_else(
                || c["best_k"].as_u64().unwrap() as usize,
                |s| s.parse().unwrap(),
            ),
        })
        .collect()
}

/// Same partition up to renaming the clusters.
fn same_partition(a: &[usize], b: &[usize]) -> bool {
    let mut map = std::collections::HashMap::new();
    let mut back = std::collections::HashMap::new();
    a.iter()
        .zip(b)
        .all(|(x, y)| *map.entry(x).or_insert(y) == y && *back.entry(y).or_insert(x) == x)
}

#[test]
fn kmeans_matches_scikit_learn() {
    for c in cases() {
        let ours = kmeans(&c.points, c.k, 10, 0);
        eprintln!(
            "[{}] inertia ours {:.4} sklearn {:.4}",
            c.name, ours.inertia, c.inertia
        );
        assert_eq!(ours.labels.len(), c.points.len());
        assert_eq!(ours.centroids.len(), c.k);
        if c.name == "overlapping6" {
            // Local optima differ on overlapping data; ours must be as good within 1%.
            assert!(
                ours.inertia <= c.inertia * 1.01,
                "{}: {} vs {}",
                c.name,
                ours.inertia,
                c.inertia
            );
        } else {
            assert!(
                same_partition(&ours.labels, &c.labels),
                "{}: partitions differ",
                c.name
            );
            assert!(
                (ours.inertia - c.inertia).abs() <= 1e-3 * c.inertia,
                "{}",
                c.name
            );
        }
        // Deterministic for a seed.
        assert_eq!(kmeans(&c.points, c.k, 10, 0), ours);
    }
}

#[test]
fn silhouette_matches_scikit_learn() {
    for c in cases() {
        let s = silhouette(&c.points, &c.labels);
        assert!(
            (s - c.silhouette_of_labels).abs() < 1e-5,
            "{}: {s} vs {}",
            c.name,
            c.silhouette_of_labels
        );
    }
}

#[test]
fn suggested_k_matches_scikit_learn_on_clear_structure() {
    for c in cases().into_iter().filter(|c| c.name != "overlapping6") {
        let (k, scores) = suggest_k(&c.points, 8, 0);
        eprintln!(
            "[{}] suggested {k} (sklearn {}) {scores:?}",
            c.name, c.best_k
        );
        assert_eq!(k, c.best_k, "{}", c.name);
    }
}

#[test]
fn degenerate_inputs_do_not_panic() {
    assert!(kmeans(&[], 3, 4, 0).labels.is_empty());
    let one = vec![vec![1.0f32, 2.0]];
    assert_eq!(kmeans(&one, 3, 4, 0).labels, vec![0]);
    let same = vec![vec![0.5f32; 4]; 6];
    let c = kmeans(&same, 3, 4, 0);
    assert_eq!(c.labels.len(), 6);
    assert_eq!(c.inertia, 0.0);
    assert!(silhouette(&same, &c.labels).is_finite());
    assert_eq!(suggest_k(&one, 8, 0).0, 1);
}
