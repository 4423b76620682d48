//! Analysis of a collection of embeddings, run in the worker (never on the UI thread) and
//! natively: K-means clustering and a suggested number of clusters.
//!
//! No crate fit: `linfa-clustering` pulls ndarray, rand and BLAS-shaped machinery for a
//! few hundred 768-d points; this is ~150 lines, deterministic, and tested against
//! scikit-learn (`tests/kmeans.rs`).

pub mod kmeans;
mod rng;

pub use kmeans::{kmeans, silhouette, suggest_k, Clustering};
