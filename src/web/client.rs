//! The UI side of the worker protocol: typed requests, a callback per request id, and a
//! fresh worker when the old one panicked or the user restarts it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::ArrayBuffer;
use siglens_protocol::{
    Envelope, ErrorKind, Event, Output, Progress, Request, RequestId, WorkerError,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// Trunk's worker bundles (`data-type="worker"` in index.html), beside index.html: the
/// simd128 build, and the relaxed-SIMD one for browsers that validate it.
const WORKER: (&str, &str) = ("worker.js", "worker_bg.wasm");
const WORKER_RELAXED: (&str, &str) = ("worker-relaxed.js", "worker-relaxed_bg.wasm");

/// The smallest module using `i32x4.relaxed_dot_i8x16_i7x16_add_s` (the instruction the
/// relaxed build's kernel runs), 40 bytes: magic and version; type `() -> v128`; one function
/// of that type; its body `(i32x4.relaxed_dot_i8x16_i7x16_add_s (i8x16.splat (i32.const 0))
/// x3)`. The service worker probes with the same file (tools/make-service-worker.mjs puts
/// its bytes in sw.js), so it precaches the build this page will load.
const RELAXED_SIMD_PROBE: &[u8] = include_bytes!("relaxed-simd-probe.wasm");

/// Which worker build this browser runs: the relaxed-SIMD one where it validates.
fn worker_build() -> (&'static str, &'static str) {
    let bytes = js_sys::Uint8Array::from(RELAXED_SIMD_PROBE);
    match js_sys::WebAssembly::validate(&bytes.into()) {
        Ok(true) => WORKER_RELAXED,
        _ => WORKER,
    }
}

/// Starts the engine from a two-line blob script that loads the bundle by absolute URL. A
/// blob worker inherits the page's Content-Security-Policy (a worker fetched by URL gets
/// only its own response headers, which a static host cannot set), so the page's
/// `connect-src` binds the engine's downloads too.
fn spawn_worker(name: &str) -> Result<Worker, JsValue> {
    let base = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.base_uri().ok().flatten())
        .ok_or_else(|| JsValue::from_str("the page has no base URL"))?;
    let (js, wasm) = worker_build();
    let js = web_sys::Url::new_with_base(js, &base)?.href();
    let wasm = web_sys::Url::new_with_base(wasm, &base)?.href();
    let quote = |s: &str| js_sys::JSON::stringify(&s.into()).map(String::from);
    let src = format!(
        "importScripts({});\nwasm_bindgen({});\n",
        quote(&js)?,
        quote(&wasm)?
    );
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("text/javascript");
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&js_sys::Array::of1(&src.into()), &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    // Named, so the browser's task manager (and the tests) can tell the engines apart.
    let opts = web_sys::WorkerOptions::new();
    opts.set_name(name);
    let worker = Worker::new_with_options(&url, &opts);
    // The worker holds its script from construction on.
    let _ = web_sys::Url::revoke_object_url(&url);
    worker
}

pub enum Reply {
    Progress(Progress),
    Done(Output),
    Failed(WorkerError),
}

#[derive(Clone, Debug, PartialEq)]
pub enum WorkerStatus {
    Starting,
    Ready(String),
    /// The worker died (panic or a load error); it must be restarted.
    Crashed(String),
}

type Callback = Box<dyn FnMut(Reply)>;

struct Inner {
    name: String,
    worker: Option<Worker>,
    next_id: RequestId,
    pending: HashMap<RequestId, Callback>,
    on_status: Rc<dyn Fn(WorkerStatus)>,
    // Kept alive with the worker they are attached to.
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

#[derive(Clone)]
pub struct WorkerClient {
    inner: Rc<RefCell<Inner>>,
}

impl WorkerClient {
    /// The main engine: everything (model loading, texts, analysis) and a share of images.
    pub fn new(on_status: impl Fn(WorkerStatus) + 'static) -> Self {
        Self::named("siglens-engine", on_status)
    }

    pub fn named(name: &str, on_status: impl Fn(WorkerStatus) + 'static) -> Self {
        let client = Self {
            inner: Rc::new(RefCell::new(Inner {
                name: name.to_string(),
                worker: None,
                next_id: 1,
                pending: HashMap::new(),
                on_status: Rc::new(on_status),
                _handlers: Vec::new(),
            })),
        };
        client.start();
        client
    }

    fn status(&self, s: WorkerStatus) {
        let f = self.inner.borrow().on_status.clone();
        f(s);
    }

    fn start(&self) {
        self.status(WorkerStatus::Starting);
        let name = self.inner.borrow().name.clone();
        let worker = match spawn_worker(&name) {
            Ok(w) => w,
            Err(e) => {
                self.status(WorkerStatus::Crashed(format!(
                    "could not start the worker: {e:?}"
                )));
                return;
            }
        };
        let me = self.clone();
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let e: MessageEvent = e.unchecked_into();
            me.on_message(&e.data());
        });
        let me = self.clone();
        let onerror = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let msg = e
                .dyn_ref::<ErrorEvent>()
                .map(|e| e.message())
                .unwrap_or_else(|| "unknown error".into());
            me.crashed(format!("the engine worker failed: {msg}"));
        });
        worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        let mut inner = self.inner.borrow_mut();
        inner.worker = Some(worker);
        inner._handlers = vec![onmessage, onerror];
    }

    /// Fails every pending request (their results so far were already delivered as
    /// progress) and reports the crash.
    fn crashed(&self, message: String) {
        let pending: Vec<Callback> = self
            .inner
            .borrow_mut()
            .pending
            .drain()
            .map(|(_, c)| c)
            .collect();
        for mut cb in pending {
            cb(Reply::Failed(WorkerError::new(
                ErrorKind::Internal,
                format!("{message}; restart the engine to go on"),
            )));
        }
        self.status(WorkerStatus::Crashed(message));
    }

    fn on_message(&self, data: &JsValue) {
        let event = match siglens_protocol::decode::<Event>(data) {
            Ok((e, _)) => e,
            Err(e) => {
                web_sys::console::error_1(&JsValue::from_str(&e.0));
                return;
            }
        };
        let (id, reply, last) = match event {
            Event::Ready { engine_version } => {
                self.status(WorkerStatus::Ready(engine_version));
                return;
            }
            Event::Panicked { message } => {
                self.crashed(format!("the engine crashed: {message}"));
                return;
            }
            Event::Progress { id, progress } => (id, Reply::Progress(progress), false),
            Event::Done { id, output } => (id, Reply::Done(output), true),
            Event::Failed { id, error } => (id, Reply::Failed(error), true),
        };
        // Take the callback out while it runs: it may send new requests.
        let cb = self.inner.borrow_mut().pending.remove(&id);
        if let Some(mut cb) = cb {
            cb(reply);
            if !last {
                self.inner.borrow_mut().pending.insert(id, cb);
            }
        }
    }

    /// Sends `request` (with `buffers` moved, not copied); `on_reply` gets its progress and
    /// then exactly one `Done` or `Failed`.
    pub fn request(
        &self,
        request: Request,
        buffers: Vec<ArrayBuffer>,
        on_reply: impl FnMut(Reply) + 'static,
    ) -> RequestId {
        let mut on_reply: Callback = Box::new(on_reply);
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_id;
            inner.next_id += 1;
            id
        };
        let worker = self.inner.borrow().worker.clone();
        let sent = match worker {
            None => Err("the engine worker is not running; restart it".to_string()),
            Some(w) => siglens_protocol::encode(&Envelope { id, request }, buffers)
                .map_err(|e| e.0)
                .and_then(|(msg, list)| {
                    w.post_message_with_transfer(&msg, &list)
                        .map_err(|e| format!("{e:?}"))
                }),
        };
        match sent {
            Ok(()) => {
                self.inner.borrow_mut().pending.insert(id, on_reply);
            }
            Err(e) => on_reply(Reply::Failed(WorkerError::new(ErrorKind::Protocol, e))),
        }
        id
    }

    pub fn cancel(&self, target: RequestId) {
        self.request(Request::Cancel { target }, Vec::new(), |_| {});
    }

    /// Terminates the worker for good; pending requests fail.
    pub fn stop(&self) {
        if let Some(w) = self.inner.borrow_mut().worker.take() {
            w.terminate();
        }
        self.crashed("the engine was stopped".into());
    }

    /// Terminates the worker (if any) and starts a fresh one; pending requests fail.
    pub fn restart(&self) {
        if let Some(w) = self.inner.borrow_mut().worker.take() {
            w.terminate();
        }
        self.crashed("the engine was restarted".into());
        self.start();
    }
}
