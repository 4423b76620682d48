//! siglens web UI (Leptos, client-side rendered), built for wasm32 by Trunk (`index.html`).
//! Natively this binary is an empty stub so that workspace builds stay cheap.

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
fn main() {
    web::main();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("siglens-app is the web UI: build it with `trunk build --release` (wasm32 only)");
    std::process::exit(2);
}
