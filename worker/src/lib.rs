//! siglens Web Worker: owns the engine and the model cache, so the page never blocks.
//! Two binaries start it (Trunk builds both for wasm32): `worker` (simd128) and
//! `worker-relaxed` (the `relaxed-simd` feature: the engine's relaxed-SIMD int8 kernel),
//! which the app loads where the browser validates relaxed SIMD.
// Messages, files and cached bytes never meet unwrap() here (see the engine's lib.rs).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

#[cfg(target_arch = "wasm32")]
mod cache;
#[cfg(target_arch = "wasm32")]
mod digest;
#[cfg(target_arch = "wasm32")]
mod download;
#[cfg(target_arch = "wasm32")]
mod loader;
mod model_lock;
#[cfg(target_arch = "wasm32")]
mod requests;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod token_rows;

/// Both binaries' `main`: runs the worker, which answers the app's messages until the page
/// closes it. Natively there is nothing to run.
pub fn main() {
    #[cfg(target_arch = "wasm32")]
    runtime::start();
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("the siglens worker runs in the browser: build it with `trunk build --release`");
        std::process::exit(2);
    }
}
