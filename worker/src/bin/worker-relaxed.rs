//! The engine worker, relaxed-SIMD build (`--features relaxed-simd`): the app picks it
//! where `WebAssembly.validate` accepts relaxed SIMD.

fn main() {
    siglens_worker::main();
}
