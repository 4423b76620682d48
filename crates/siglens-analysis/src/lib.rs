//! Analysis of a collection of embeddings, run in the worker (never on the UI thread) and
//! natively: K-means clustering with a suggested number of clusters, and a 2-D UMAP map.
//!
//! No crate fit. `linfa-clustering` pulls ndarray, rand and BLAS-shaped machinery for a
//! few hundred 768-d points. `umap-rs` needs rayon, dashmap, sprs, indicatif and rand 0.9
//! (getrandom needs extra cfg on wasm32-unknown-unknown) and expects the kNN graph and the
//! initialisation from the caller. Both algorithms here are small, deterministic for a
//! seed, and tested against scikit-learn and umap-learn (`tests/`).
// Input-derived data never meets unwrap() here: errors are typed. The few expect()s that
// remain name an invariant the code itself guarantees.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod kmeans;
mod rng;
pub mod umap;

pub use kmeans::{kmeans, silhouette, suggest_k, Clustering};
pub use umap::{umap_2d, UmapParams};
