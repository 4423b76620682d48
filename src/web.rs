//! siglens web UI (Leptos, client-side rendered). The model engine runs in a Web Worker
//! (`worker/`, loaded through Trunk's `worker_loader.js` shim); the page starts it and shows
//! the status line the worker posts back.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// Trunk's loader shim for the worker bundle (`data-loader-shim` in index.html).
const WORKER_URL: &str = "./worker_loader.js";

pub fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// Starts the engine worker; every message it posts becomes the status line.
fn start_worker(set_status: WriteSignal<String>) -> Result<Worker, JsValue> {
    let worker = Worker::new(WORKER_URL)?;
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let text = e
            .data()
            .as_string()
            .unwrap_or_else(|| format!("{:?}", e.data()));
        set_status.set(text);
    });
    worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let onerror = Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
        set_status.set(format!("worker error: {}", e.message()));
    });
    worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    onerror.forget();
    worker.post_message(&JsValue::from_str("hello"))?;
    Ok(worker)
}

#[component]
fn App() -> impl IntoView {
    let (status, set_status) = signal(String::from("starting the engine worker…"));
    match start_worker(set_status) {
        // The worker runs for the page's lifetime.
        Ok(worker) => std::mem::forget(worker),
        Err(e) => set_status.set(format!("could not start the worker: {e:?}")),
    }
    view! {
        <main>
            <h1>"siglens"</h1>
            <p>
                "Image understanding with SigLIP 2, entirely on your device. The model engine "
                "runs in a Web Worker, off the page's main thread."
            </p>
            <p id="status" class="status" role="status">
                {move || status.get()}
            </p>
        </main>
    }
}
