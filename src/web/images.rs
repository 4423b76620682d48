//! Image intake (picker, folder, drag and drop) and the gallery, each image with its own
//! state: queued, working, embedded, or its own error.

use leptos::prelude::*;
use web_sys::{DragEvent, File, FileList, HtmlInputElement};

use super::state::{AppState, ImageState};

fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.item(i)).collect()
}

#[component]
pub fn ImagePanel(state: AppState) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let on_pick = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        state.add_files(files_of(input.files()));
        // Picking the same files again should add them again.
        input.set_value("");
    };
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        state.add_files(files_of(ev.data_transfer().and_then(|d| d.files())));
    };
    // Images pasted anywhere on the page (e.g. a screenshot) join the gallery.
    let paste = window_event_listener(leptos::ev::paste, move |ev: web_sys::ClipboardEvent| {
        let files = files_of(ev.clipboard_data().and_then(|d| d.files()));
        let images: Vec<File> = files
            .into_iter()
            .filter(|f| f.type_().starts_with("image/"))
            .collect();
        if !images.is_empty() {
            ev.prevent_default();
            state.add_files(images);
        }
    });
    on_cleanup(move || paste.remove());
    let counts = move || {
        let v = state.images.get();
        let done = v
            .iter()
            .filter(|x| matches!(x.state, ImageState::Embedded(_)))
            .count();
        let failed = v
            .iter()
            .filter(|x| matches!(x.state, ImageState::Failed(_)))
            .count();
        format!("{} images: {done} embedded, {failed} failed", v.len())
    };
    view! {
        <section class="panel" aria-labelledby="images-h">
            <h2 id="images-h">"Images"</h2>
            <div class="dropzone" class:dragging=move || dragging.get()
                on:dragover=move |ev: DragEvent| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop>
                <p>"Drop or paste images here, or"</p>
                <label class="button">
                    "choose files"
                    <input id="image-input" type="file" accept="image/*" multiple class="visually-hidden" on:change=on_pick />
                </label>
                <super::camera::Camera state=state />
                <label class="button">
                    "choose a folder"
                    <input id="folder-input" type="file" multiple prop:webkitdirectory=true class="visually-hidden" on:change=on_pick />
                </label>
            </div>
            <p id="image-counts" class="status" role="status">{counts}</p>
            {move || state.busy.get().map(|b| view! {
                <p class="busy">
                    <span>{format!("Working: {}…", b.what)}</span>
                    <button id="cancel" on:click=move |_| state.cancel_busy()>"Cancel"</button>
                </p>
            })}
            <Show when=move || state.model.get().is_none() && !state.images.get().is_empty()>
                <p class="muted">"Images wait here until a model is loaded."</p>
            </Show>
            <ul id="gallery" class="gallery">
                <For each=move || state.images.get() key=|x| (x.id, format!("{:?}", std::mem::discriminant(&x.state)), x.url.is_empty()) let:item>
                    {
                        let id = item.id;
                        let (status, class) = match &item.state {
                            ImageState::Queued => ("queued".to_string(), "queued"),
                            ImageState::Working => ("working…".to_string(), "working"),
                            ImageState::Embedded(_) => ("embedded".to_string(), "embedded"),
                            ImageState::Failed(e) => (e.clone(), "failed"),
                        };
                        view! {
                            <li class=format!("thumb {class}") data-name=item.name.clone() data-state=class>
                                {if class == "failed" || item.url.is_empty() {
                                    view! { <div class="noimg" aria-hidden="true">"?"</div> }.into_any()
                                } else {
                                    view! { <img src=item.url.clone() alt=item.name.clone() loading="lazy" /> }.into_any()
                                }}
                                <span class="name">{item.name.clone()}</span>
                                <span class="state" role=if class == "failed" { "alert" } else { "status" }>{status}</span>
                                <button class="remove" aria-label=format!("remove {}", item.name)
                                    on:click=move |_| state.remove_image(id)>"×"</button>
                            </li>
                        }
                    }
                </For>
            </ul>
        </section>
    }
}
