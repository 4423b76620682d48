//! siglens Web Worker: runs the engine off the UI thread. For now it announces itself once
//! loaded and answers every message with the same readiness line; the protocol (load a
//! model, embed, classify) comes next.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// The line the worker posts back to the page.
fn ready_message() -> String {
    // Referencing the engine proves it links for wasm32.
    let _template: &str = siglens_engine::DEFAULT_TEMPLATE;
    format!("ready: siglens-engine {}", env!("CARGO_PKG_VERSION"))
}

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply_scope = scope.clone();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |_event: MessageEvent| {
        if let Err(e) = reply_scope.post_message(&JsValue::from_str(&ready_message())) {
            web_sys::console::error_2(&"siglens worker: postMessage failed".into(), &e);
        }
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    // Messages the page sent before the wasm module finished loading had no handler, so
    // announce readiness once unprompted too.
    if let Err(e) = scope.post_message(&JsValue::from_str(&ready_message())) {
        web_sys::console::error_2(&"siglens worker: postMessage failed".into(), &e);
    }
}
