//! siglens web UI (Leptos, client-side rendered). Placeholder page until the worker
//! protocol (issue 3) and the views (issue 4) land.

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <main>
            <h1>"siglens"</h1>
            <p>
                "Image understanding with SigLIP 2, entirely on your device. The web app is under "
                "construction; the engine and the siglens command-line tool work today."
            </p>
        </main>
    }
}
