//! Offline use: registers the service worker (`public/sw.js`, filled in at build time by
//! `tools/make-service-worker.mjs`) and applies a new build without mixing versions. The
//! new build waits until this page lets it in: at once when the page holds no work (it
//! just opened), otherwise after the user agrees; the page then reloads as a whole.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ServiceWorker, ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState,
};

use super::state::AppState;

#[derive(Clone, Debug, PartialEq)]
pub enum Offline {
    /// No service worker here (an insecure origin, or the browser has none): the app works,
    /// but needs the network to start.
    Unavailable(String),
    Installing,
    /// The app shell of this build is cached: the app starts with no network.
    Ready {
        build: String,
    },
}

#[derive(Clone, Copy)]
pub struct OfflineState {
    pub status: RwSignal<Option<Offline>>,
    /// A new build is installed and waits for this page (which has work) to let it in.
    pub update_waiting: RwSignal<bool>,
    waiting: StoredValue<Option<ServiceWorker>, LocalStorage>,
}

fn container() -> Option<ServiceWorkerContainer> {
    let nav = web_sys::window()?.navigator();
    let has = js_sys::Reflect::has(&nav, &"serviceWorker".into()).unwrap_or(false);
    has.then(|| nav.service_worker())
}

impl OfflineState {
    pub fn start(app: AppState) -> Self {
        let me = Self {
            status: RwSignal::new(None),
            update_waiting: RwSignal::new(false),
            waiting: StoredValue::new_local(None),
        };
        let Some(sw) = container() else {
            me.status.set(Some(Offline::Unavailable(
                "this browser or origin has no service workers".into(),
            )));
            return me;
        };
        // The cached build answers 'build' with its id.
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let data = e.data();
                let get = |k: &str| {
                    js_sys::Reflect::get(&data, &k.into())
                        .ok()
                        .and_then(|v| v.as_string())
                };
                if get("type").as_deref() == Some("build") {
                    if let Some(build) = get("build") {
                        me.status.set(Some(Offline::Ready { build }));
                    }
                }
            });
        sw.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = me.register(&sw, app).await {
                me.status.set(Some(Offline::Unavailable(format!("{e:?}"))));
            }
        });
        me
    }

    async fn register(self, sw: &ServiceWorkerContainer, app: AppState) -> Result<(), JsValue> {
        self.status.set(Some(Offline::Installing));
        let reg: ServiceWorkerRegistration = JsFuture::from(sw.register("./sw.js"))
            .await?
            .unchecked_into();
        // Ask whichever build is active for its id once it is (first visit: after install).
        let ready: ServiceWorkerRegistration = JsFuture::from(sw.ready()?).await?.unchecked_into();
        if let Some(active) = ready.active() {
            active.post_message(&sw_message("build"))?;
        }
        let me = self;
        if let Some(waiting) = reg.waiting() {
            me.new_build(waiting, app);
        }
        let reg2 = reg.clone();
        let on_update = Closure::<dyn FnMut()>::new(move || {
            let Some(installing) = reg2.installing() else {
                return;
            };
            let w = installing.clone();
            let on_state = Closure::<dyn FnMut()>::new(move || {
                // `installed` with a controller = an update (without one: the first install).
                let controlled = container().and_then(|c| c.controller()).is_some();
                if w.state() == ServiceWorkerState::Installed && controlled {
                    me.new_build(w.clone(), app);
                }
            });
            installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
            on_state.forget();
        });
        reg.set_onupdatefound(Some(on_update.as_ref().unchecked_ref()));
        on_update.forget();
        // Look for a new build now rather than at the browser's next check.
        let _ = JsFuture::from(reg.update()?).await;
        Ok(())
    }

    fn new_build(self, waiting: ServiceWorker, app: AppState) {
        let has_work = !app.images.get_untracked().is_empty() || app.busy.get_untracked().is_some();
        self.waiting.set_value(Some(waiting));
        if has_work {
            self.update_waiting.set(true);
        } else {
            self.apply_update();
        }
    }

    /// Lets the waiting build in and reloads once it controls the page.
    pub fn apply_update(self) {
        let (Some(sw), Some(waiting)) = (container(), self.waiting.get_value()) else {
            return;
        };
        let reload = Closure::<dyn FnMut()>::new(|| {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        });
        sw.set_oncontrollerchange(Some(reload.as_ref().unchecked_ref()));
        reload.forget();
        let _ = waiting.post_message(&sw_message("skip-waiting"));
    }
}

/// `{type: kind}`, the messages `public/sw.js` understands ("build", "skip-waiting").
fn sw_message(kind: &str) -> JsValue {
    let msg = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&msg, &"type".into(), &kind.into());
    msg.into()
}

/// One line saying whether the app works offline, and the update prompt when a new build
/// waits for this page.
#[component]
pub fn OfflineStatus(offline: OfflineState) -> impl IntoView {
    view! {
        <p id="offline-status" class="muted" data-state=move || match offline.status.get() {
            Some(Offline::Ready { .. }) => "ready",
            Some(Offline::Installing) => "installing",
            Some(Offline::Unavailable(_)) => "unavailable",
            None => "",
        } data-build=move || match offline.status.get() {
            Some(Offline::Ready { build }) => build,
            _ => String::new(),
        }>
            {move || match offline.status.get() {
                Some(Offline::Ready { build }) => format!("Works offline (app build {build})."),
                Some(Offline::Installing) => "Saving the app for offline use…".to_string(),
                Some(Offline::Unavailable(why)) => format!("Needs the network to start ({why})."),
                None => String::new(),
            }}
        </p>
        {move || offline.update_waiting.get().then(|| view! {
            <p id="update-ready" class="notice" role="status">
                "A new version of siglens is ready. "
                <button on:click=move |_| offline.apply_update()>"Reload to use it"</button>
                " (images and results on this page are not kept)."
            </p>
        })}
    }
}
