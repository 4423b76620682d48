//! SHA-256 of cached chunks through the browser's WebCrypto: native code (often with SHA
//! CPU instructions) on the browser's own threads, so checking a 400 MB model on every
//! start costs a fraction of hashing it in wasm. WebCrypto exists only in secure contexts
//! (https, localhost); elsewhere the caller falls back to the whole-file hash in wasm.

use js_sys::{ArrayBuffer, Promise, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A digest being computed; `await` it with [`finish`].
pub struct Pending(JsFuture);

/// Starts hashing `bytes` (None where WebCrypto is unavailable).
pub fn start(bytes: &Uint8Array) -> Option<Pending> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().dyn_into().ok()?;
    let subtle = scope.crypto().ok()?.subtle();
    let p: Promise = subtle
        .digest_with_str_and_buffer_source("SHA-256", bytes)
        .ok()?;
    Some(Pending(JsFuture::from(p)))
}

/// The lower-case hex digest, or None if the browser refused.
pub async fn finish(p: Pending) -> Option<String> {
    let buf: ArrayBuffer = p.0.await.ok()?.dyn_into().ok()?;
    Some(
        Uint8Array::new(&buf)
            .to_vec()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}
