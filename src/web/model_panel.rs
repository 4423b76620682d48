//! Choosing and loading the model, its progress, and the models cached in this browser.

use leptos::prelude::*;
use siglens_protocol::{
    CachedModel, ModelSource, Output, Phase, Progress, Request, HF_DEFAULT_REPO, HF_ENDPOINT,
};

use super::client::{Reply, WorkerStatus};
use super::state::AppState;

/// Where the default build looks for its model: the site's own `models/` folder
/// (`SIGLENS_MODEL_URL` at build time overrides it).
pub const DEFAULT_MODEL_URL: &str = match option_env!("SIGLENS_MODEL_URL") {
    Some(u) => u,
    None => "models/siglip2-base-patch16-224-q8_0.gguf",
};

#[derive(Clone, Debug, PartialEq)]
struct LoadProgress {
    phase: Phase,
    loaded: u64,
    total: Option<u64>,
    rate: f64,
}

fn mb(b: f64) -> String {
    format!("{:.1} MB", b / 1e6)
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::ReadCache => "reading from the browser cache",
        Phase::Download => "downloading",
        Phase::Quantize => "downloading and quantizing",
        Phase::Store => "storing in the browser cache",
        Phase::Load => "building the model",
    }
}

fn page_base() -> Option<String> {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.base_uri().ok().flatten())
}

/// Lists the cached models into the panel's signals, then hands the list to `then`.
fn list_cache(
    state: AppState,
    cached: RwSignal<Vec<CachedModel>>,
    quota: RwSignal<Option<(f64, f64)>>,
    then: impl FnOnce(&[CachedModel]) + 'static,
) {
    let mut then = Some(then);
    state.request(Request::ListCache, Vec::new(), move |r| {
        if let Reply::Done(Output::Cache {
            models,
            usage,
            quota: q,
        }) = r
        {
            if let Some(f) = then.take() {
                f(&models);
            }
            cached.set(models);
            quota.set(usage.zip(q));
        }
    });
}

/// Asks the browser not to evict our cache under storage pressure (window-only API).
fn request_persistent_storage() {
    if let Some(w) = web_sys::window() {
        // The request happens on the call; its answer (granted or not) changes nothing here.
        let _ = w.navigator().storage().persist();
    }
}

#[component]
pub fn ModelPanel(state: AppState) -> impl IntoView {
    let url = RwSignal::new(DEFAULT_MODEL_URL.to_string());
    // "gguf" (a file made by `siglens quantize`) or "hf" (a Hugging Face repository).
    let kind = RwSignal::new("gguf");
    let repo = RwSignal::new(HF_DEFAULT_REPO.to_string());
    let revision = RwSignal::new("main".to_string());
    let dtype = RwSignal::new("q8_0".to_string());
    let endpoint = RwSignal::new(HF_ENDPOINT.to_string());
    let progress = RwSignal::new(None::<LoadProgress>);
    let error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let cached = RwSignal::new(Vec::<CachedModel>::new());
    let quota = RwSignal::new(None::<(f64, f64)>);

    let refresh_cache = move || list_cache(state, cached, quota, |_| {});

    let load = move || {
        request_persistent_storage();
        error.set(None);
        loading.set(true);
        progress.set(None);
        state.model.set(None);
        let source = if kind.get_untracked() == "hf" {
            ModelSource::HuggingFace {
                endpoint: endpoint.get_untracked().trim().to_string(),
                repo: repo.get_untracked().trim().to_string(),
                revision: revision.get_untracked().trim().to_string(),
                dtype: dtype.get_untracked(),
            }
        } else {
            ModelSource::Gguf {
                url: url.get_untracked().trim().to_string(),
            }
        };
        // The image workers get the source as given (its cache key), not the resolved URL.
        let given = source.clone();
        state.request(
            Request::LoadModel {
                source,
                base: page_base(),
                vision_only: false,
                cache_only: false,
            },
            Vec::new(),
            move |r| match r {
                Reply::Progress(Progress::Phase { phase }) => progress.set(Some(LoadProgress {
                    phase,
                    loaded: 0,
                    total: None,
                    rate: 0.0,
                })),
                Reply::Progress(Progress::Bytes {
                    phase,
                    loaded,
                    total,
                    bytes_per_sec,
                    ..
                }) => progress.set(Some(LoadProgress {
                    phase,
                    loaded,
                    total,
                    rate: bytes_per_sec,
                })),
                Reply::Progress(Progress::Notice { message }) => state.notice(message),
                Reply::Progress(_) => {}
                Reply::Done(Output::Loaded { info }) => {
                    loading.set(false);
                    progress.set(None);
                    // One listing refreshes the panel and tells whether extra image workers
                    // can read the model from the cache; where it could not be stored (no
                    // IndexedDB, quota) they would download it again, so none are started.
                    let (key, bytes, source) =
                        (info.key.clone(), info.wasm_memory_bytes, given.clone());
                    list_cache(state, cached, quota, move |models| {
                        if models.iter().any(|m| m.key == key) {
                            state.start_image_workers(source, page_base(), bytes);
                        }
                    });
                    state.model.set(Some(info));
                    // Images dropped before the model was ready.
                    state.embed_queued();
                }
                Reply::Done(_) => loading.set(false),
                Reply::Failed(e) => {
                    loading.set(false);
                    progress.set(None);
                    error.set(Some(e.message));
                    refresh_cache();
                }
            },
        );
    };

    // List the cache once the worker is up.
    Effect::new(move |_| {
        if matches!(state.worker.get(), WorkerStatus::Ready(_)) {
            refresh_cache();
        }
    });

    let delete = move |key: String| {
        state.request(Request::DeleteCache { key }, Vec::new(), move |r| {
            if let Reply::Failed(e) = r {
                state.notice(e.message);
            }
            refresh_cache();
        });
    };

    view! {
        <section class="panel" aria-labelledby="model-h">
            <h2 id="model-h">"Model"</h2>
            <p id="worker-status" class="status" role="status">
                {move || match state.worker.get() {
                    WorkerStatus::Starting => "Starting the engine…".to_string(),
                    WorkerStatus::Ready(v) => format!("Engine ready (siglens-engine {v})."),
                    WorkerStatus::Crashed(m) => format!("Engine stopped: {m}"),
                }}
            </p>
            <Show when=move || matches!(state.worker.get(), WorkerStatus::Crashed(_))>
                <button id="restart-worker" on:click=move |_| state.client.with_value(|c| c.restart())>
                    "Restart the engine"
                </button>
            </Show>
            <fieldset class="source">
                <legend>"Source"</legend>
                <label class="inline">
                    <input type="radio" name="source" id="source-gguf" value="gguf"
                        prop:checked=move || kind.get() == "gguf" on:change=move |_| kind.set("gguf") />
                    "A model file on this site (GGUF made by " <code>"siglens quantize"</code> ")"
                </label>
                <label class="inline">
                    <input type="radio" name="source" id="source-hf" value="hf"
                        prop:checked=move || kind.get() == "hf" on:change=move |_| kind.set("hf") />
                    "A Hugging Face repository, quantized on this device"
                </label>
            </fieldset>
            <form on:submit=move |ev| { ev.prevent_default(); load(); }>
                <Show when=move || kind.get() == "gguf">
                    <label for="model-url">"Model file URL"</label>
                    <input id="model-url" type="text" spellcheck="false"
                        prop:value=move || url.get()
                        on:input=move |ev| url.set(event_target_value(&ev)) />
                </Show>
                <Show when=move || kind.get() == "hf">
                    <div class="grid2">
                        <label>"Repository"
                            <input id="hf-repo" type="text" spellcheck="false" prop:value=move || repo.get()
                                on:input=move |ev| repo.set(event_target_value(&ev)) />
                        </label>
                        <label>"Revision"
                            <input id="hf-revision" type="text" spellcheck="false" prop:value=move || revision.get()
                                on:input=move |ev| revision.set(event_target_value(&ev)) />
                        </label>
                        <label>"Stored as"
                            <select id="hf-dtype" on:change=move |ev| dtype.set(event_target_value(&ev))>
                                <option value="q8_0" selected=true>"q8_0 (¼ of f32, near-lossless)"</option>
                                <option value="q4k">"q4k (⅛, lossy)"</option>
                                <option value="f16">"f16 (½)"</option>
                                <option value="f32">"f32"</option>
                            </select>
                        </label>
                        <label>"Hub address"
                            <input id="hf-endpoint" type="text" spellcheck="false" prop:value=move || endpoint.get()
                                on:input=move |ev| endpoint.set(event_target_value(&ev)) />
                        </label>
                    </div>
                </Show>
                <button id="load-model" type="submit"
                    disabled=move || loading.get() || !matches!(state.worker.get(), WorkerStatus::Ready(_))>
                    "Load"
                </button>
            </form>
            {move || progress.get().map(|p| {
                let (value, max) = match p.total {
                    Some(t) if t > 0 => (p.loaded as f64, t as f64),
                    _ => (0.0, 1.0),
                };
                let bytes = match p.total {
                    Some(t) => format!("{} / {}", mb(p.loaded as f64), mb(t as f64)),
                    None if p.loaded > 0 => mb(p.loaded as f64),
                    None => String::new(),
                };
                let rate = if p.rate > 0.0 { format!(" at {}/s", mb(p.rate)) } else { String::new() };
                view! {
                    <div id="load-progress" class="progress" data-phase=format!("{:?}", p.phase)>
                        <progress value=value max=max aria-label="model loading progress"></progress>
                        <span>{format!("{} {bytes}{rate}", phase_name(p.phase))}</span>
                    </div>
                }
            })}
            {move || error.get().map(|e| view! { <p id="model-error" class="error" role="alert">{e}</p> })}
            {move || state.model.get().map(|m| view! {
                <p id="model-ready" class="ok" data-from-cache=m.from_cache.to_string()
                    data-model-bytes=m.model_bytes.to_string() data-wasm-memory=m.wasm_memory_bytes.to_string()
                    data-file-bytes=m.file_bytes.to_string()
                    data-load-ms=m.load_ms.to_string() data-network-requests=m.network_requests.to_string()
                    data-left-in-cache=m.left_in_cache_bytes.to_string()
                    data-phases=format!("{},{},{},{},{}", m.phases.read_ms, m.phases.verify_ms, m.phases.parse_ms, m.phases.build_ms, m.phases.read_wait_ms)>
                    {format!(
                        "Ready: {}-d embeddings, {} px images; {} in {:.0} ms ({} file, {} of weights in {} memory).",
                        m.embed_dim, m.image_size,
                        if m.from_cache { "started from the browser cache" } else { "downloaded" },
                        m.load_ms, mb(m.file_bytes as f64), mb(m.model_bytes as f64), mb(m.wasm_memory_bytes as f64),
                    )}
                </p>
            })}
            {move || (state.image_workers_ready.get() > 0).then(|| {
                let n = state.image_workers_ready.get();
                view! {
                    <p id="image-workers" class="muted" data-ready=n.to_string()>
                        {format!("Images are shared with {n} more engine{} on this device's other cores.", if n == 1 { "" } else { "s" })}
                    </p>
                }
            })}
            <super::speed_test::SpeedTest state=state/>
            <details class="cache">
                <summary>{move || format!("Cached in this browser ({})", cached.get().len())}</summary>
                <ul id="cache-list">
                    <For each=move || cached.get() key=|m| m.key.clone() let:m>
                        {
                            let key = m.key.clone();
                            view! {
                                <li data-key=m.key.clone()>
                                    <span>{format!("{} ({})", m.key, mb(m.bytes as f64))}</span>
                                    <button aria-label=format!("delete {} from the cache", m.key)
                                        on:click=move |_| delete(key.clone())>"Delete"</button>
                                </li>
                            }
                        }
                    </For>
                </ul>
                {move || quota.get().map(|(u, q)| view! {
                    <p class="muted">{format!("Browser storage used: {} of {}", mb(u), mb(q))}</p>
                })}
            </details>
            <ul id="notices" class="notices" aria-live="polite">
                <For each=move || state.notices.get().into_iter().enumerate() key=|(i, n)| format!("{i}{n}") let:n>
                    <li>{n.1}</li>
                </For>
            </ul>
        </section>
    }
}
