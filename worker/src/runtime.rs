//! The worker's event loop glue: receiving requests, posting events, panics, yielding.

use std::cell::RefCell;
use std::collections::HashSet;

use js_sys::{ArrayBuffer, Promise};
use siglens_protocol::{ErrorKind, Event, RequestId, WorkerError};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

thread_local! {
    /// Requests the UI asked to cancel; long requests check this between items.
    static CANCELLED: RefCell<HashSet<RequestId>> = RefCell::new(HashSet::new());
}

pub fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

pub fn start() {
    // A panic poisons the wasm instance: tell the UI, which starts a fresh worker.
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&JsValue::from_str(&message));
        post(&Event::Panicked { message }, Vec::new());
    }));
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| {
        match siglens_protocol::decode::<siglens_protocol::Envelope>(&e.data()) {
            Ok((env, buffers)) => crate::requests::dispatch(env.id, env.request, buffers),
            Err(err) => web_sys::console::error_1(&JsValue::from_str(&err.0)),
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    post(
        &Event::Ready {
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
        },
        Vec::new(),
    );
}

pub fn post(event: &Event, transfer: Vec<ArrayBuffer>) {
    let sent = siglens_protocol::encode(event, transfer)
        .map_err(|e| JsValue::from_str(&e.0))
        .and_then(|(msg, list)| scope().post_message_with_transfer(&msg, &list));
    if let Err(e) = sent {
        web_sys::console::error_2(&"siglens worker: postMessage failed".into(), &e);
    }
}

pub fn cancel(id: RequestId) {
    CANCELLED.with(|c| c.borrow_mut().insert(id));
}

/// Errors with `Cancelled` once the UI has cancelled `id`.
pub fn check_cancelled(id: RequestId) -> Result<(), WorkerError> {
    if CANCELLED.with(|c| c.borrow().contains(&id)) {
        return Err(WorkerError::new(ErrorKind::Cancelled, "cancelled"));
    }
    Ok(())
}

pub fn forget_cancel(id: RequestId) {
    CANCELLED.with(|c| c.borrow_mut().remove(&id));
}

/// Lets queued messages (a cancel, another request) run before the next item.
pub async fn yield_now() {
    let p = Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A finer clock for timing compute (`performance.now()`, sub-millisecond; `Date.now()`
/// where a browser hides it).
pub fn precise_now_ms() -> f64 {
    scope()
        .performance()
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Current size of this instance's linear memory (it only grows, so this is the peak).
pub fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<ArrayBuffer>()
        .byte_length() as u64
}
