//! The engine worker, relaxed-SIMD build (`--features relaxed-simd`): the app picks it
//! where `WebAssembly.validate` accepts relaxed SIMD.

#[cfg(target_arch = "wasm32")]
fn main() {
    siglens_worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the siglens worker runs in the browser: build it with `trunk build --release`");
    std::process::exit(2);
}
