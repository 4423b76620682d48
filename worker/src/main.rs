//! siglens Web Worker: owns the engine and the model cache, so the page never blocks.
//! Natively this binary is an empty stub (Trunk builds it for wasm32).
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
fn main() {
    runtime::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the siglens worker runs in the browser: build it with `trunk build --release`");
    std::process::exit(2);
}
