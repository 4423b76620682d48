//! siglens web UI (Leptos, client-side rendered). All model work happens in the engine
//! worker (`worker/`); this side holds the page state and talks to it through
//! [`client::WorkerClient`]. Components take the shared [`AppState`] (all signals, so it
//! is `Copy`) and keep their own small state.

mod camera;
mod classify;
mod client;
mod clusters;
mod embeddings;
mod export;
mod images;
mod map;
mod model_panel;
mod offline;
mod pool;
mod score_views;
mod search;
mod speed_test;
mod state;
#[cfg(test)]
mod test_dom;
mod thumbnail;

use leptos::prelude::*;

use state::AppState;

pub fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let state = AppState::new();
    let offline = offline::OfflineState::start(state);
    // No model in the main engine (crashed, restarted, loading another): the image workers'
    // copies are stale.
    Effect::new(move |_| {
        if state.model.get().is_none() {
            state.stop_image_workers();
        }
    });
    view! {
        <header class="top">
            <h1>"siglens"</h1>
            <p class="tagline">
                "Image understanding with SigLIP 2, entirely on your device: images, texts "
                "and embeddings never leave this page."
            </p>
            <offline::OfflineStatus offline=offline />
        </header>
        <main>
            <model_panel::ModelPanel state=state />
            <images::ImagePanel state=state />
            <classify::ClassifyPanel state=state />
            <search::SearchPanel state=state />
            <search::SimilarPanel state=state />
            <clusters::ClustersPanel state=state />
            <map::MapPanel state=state />
            <embeddings::EmbeddingsPanel state=state />
        </main>
    }
}
