"""Reference results for siglens-analysis's tests: K-means and silhouette from scikit-learn,
the fuzzy graph and layout quality from umap-learn.

Writes crates/siglens-analysis/tests/fixtures/{kmeans,umap}.json. Run with the fixture venv
(tools/requirements-fixtures.txt):  python tools/make_analysis_fixtures.py
"""
import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

OUT = Path(__file__).resolve().parent.parent / "crates/siglens-analysis/tests/fixtures/kmeans.json"


def case(name, x, k, max_k=8):
    x = x.astype(np.float32)
    km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x)
    sil = {}
    for kk in range(2, max_k + 1):
        labels = KMeans(n_clusters=kk, n_init=10, random_state=0).fit_predict(x)
        sil[kk] = float(silhouette_score(x, labels))
    return {
        "name": name,
        "k": k,
        "points": x.tolist(),
        "labels": km.labels_.tolist(),
        "inertia": float(km.inertia_),
        "silhouette_of_labels": float(silhouette_score(x, km.labels_)),
        "silhouette_by_k": sil,
        "best_k": max(sil, key=lambda kk: (sil[kk], -kk)),
    }


def main():
    cases = []
    # Well separated: every decent K-means finds the same partition.
    x, _ = make_blobs(n_samples=90, centers=4, n_features=16, cluster_std=1.0, random_state=0)
    cases.append(case("blobs4_separated", x, 4))
    # Unit vectors, like L2-normalised embeddings, in 5 loose directions.
    x, _ = make_blobs(n_samples=120, centers=5, n_features=32, cluster_std=2.5, random_state=1)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    cases.append(case("unit_vectors5", x, 5))
    # Overlapping: partitions may differ; inertia is compared instead.
    x, _ = make_blobs(n_samples=150, centers=6, n_features=8, cluster_std=4.0, random_state=2)
    cases.append(case("overlapping6", x, 6))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"sklearn": sklearn.__version__, "cases": cases}))
    print(f"wrote {OUT}")


UMAP_OUT = OUT.parent / "umap.json"


def umap_fixture():
    """umap-learn's fuzzy graph (exact kNN below 4096 points) and its layouts' trustworthiness."""
    import umap
    from sklearn.manifold import trustworthiness
    from umap.umap_ import fuzzy_simplicial_set

    x, y = make_blobs(n_samples=150, centers=5, n_features=32, cluster_std=3.0, random_state=3)
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    graph = fuzzy_simplicial_set(x, 15, np.random.RandomState(0), "euclidean")[0].tocoo()
    layouts = {}
    for init in ("pca", "spectral"):
        emb = umap.UMAP(n_neighbors=15, min_dist=0.1, init=init, random_state=0).fit_transform(x)
        layouts[init] = {
            "embedding": emb.tolist(),
            "trustworthiness": float(trustworthiness(x, emb, n_neighbors=10)),
        }
    UMAP_OUT.write_text(json.dumps({
        "umap_learn": umap.__version__,
        "points": x.tolist(),
        "blob": y.tolist(),
        "graph": [[int(i), int(j), float(v)] for i, j, v in zip(graph.row, graph.col, graph.data)],
        "layouts": layouts,
    }))
    print(f"wrote {UMAP_OUT}")


if __name__ == "__main__":
    main()
    umap_fixture()
