//! The engine worker, simd128 build (every browser with wasm SIMD).

#[cfg(target_arch = "wasm32")]
fn main() {
    siglens_worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the siglens worker runs in the browser: build it with `trunk build --release`");
    std::process::exit(2);
}
