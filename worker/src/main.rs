//! The engine worker, simd128 build (every browser with wasm SIMD).

fn main() {
    siglens_worker::main();
}
