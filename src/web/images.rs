//! Image intake (picker, folder, drag and drop) and the gallery, each image with its own
//! state: queued, working, embedded, or its own error.

use leptos::prelude::*;
use web_sys::{DragEvent, File, FileList, HtmlInputElement};

use super::state::{AppState, ImageItem, ImageState};

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
        state.images.with(|v| {
            let (mut done, mut failed) = (0, 0);
            for x in v {
                x.state.with(|s| match s {
                    ImageState::Embedded(_) => done += 1,
                    ImageState::Failed(_) => failed += 1,
                    _ => {}
                });
            }
            format!("{} images: {done} embedded, {failed} failed", v.len())
        })
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
            <Show when=move || state.model.get().is_none() && !state.images.with(Vec::is_empty)>
                <p class="muted">"Images wait here until a model is loaded."</p>
            </Show>
            <ul id="gallery" class="gallery">
                <For each=move || state.images.get() key=|x| x.id let:item>
                    {
                        let id = item.id;
                        view! { <GalleryEntry item=item on_remove=move || state.remove_image(id) /> }
                    }
                </For>
            </ul>
        </section>
    }
}

/// One gallery entry: only its own parts re-render as its state and thumbnail arrive (the
/// `<img>` is made once, when the thumbnail is there, so the browser decodes it once).
#[component]
fn GalleryEntry(item: ImageItem, #[prop(into)] on_remove: Callback<()>) -> impl IntoView {
    let ImageItem {
        name,
        url,
        state: st,
        ..
    } = item;
    let class = {
        let st = st.clone();
        Memo::new(move |_| st.with(ImageState::class))
    };
    let status = move || {
        st.with(|s| match s {
            ImageState::Queued => "queued".to_string(),
            ImageState::Working => "working…".to_string(),
            ImageState::Embedded(_) => "embedded".to_string(),
            ImageState::Failed(e) => e.clone(),
        })
    };
    let failed = Memo::new(move |_| class.get() == "failed");
    let alt = name.clone();
    let picture = move || {
        if failed.get() || url.with(String::is_empty) {
            view! { <div class="noimg" aria-hidden="true">"?"</div> }.into_any()
        } else {
            view! { <img src=url.get() alt=alt.clone() loading="lazy" /> }.into_any()
        }
    };
    view! {
        <li class=move || format!("thumb {}", class.get()) data-name=name.clone() data-state=move || class.get()>
            {picture}
            <span class="name">{name.clone()}</span>
            <span class="state" role=move || if failed.get() { "alert" } else { "status" }>{status}</span>
            <button class="remove" aria-label=format!("remove {name}")
                on:click=move |_| on_remove.run(())>"×"</button>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_dom::{all, attr, mount, settle, text};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    async fn an_entry_follows_its_state_and_keeps_its_picture() {
        let item = ImageItem {
            id: 7,
            name: "cat.png".into(),
            url: ArcRwSignal::new(String::new()),
            state: ArcRwSignal::new(ImageState::Queued),
        };
        let (url, st) = (item.url.clone(), item.state.clone());
        let removed = RwSignal::new(0);
        let host = mount(move || {
            view! { <ul><GalleryEntry item=item on_remove=move || removed.update(|n| *n += 1) /></ul> }
        });
        let li = || all(&host, "li")[0].clone();
        assert_eq!(attr(&li(), "data-state"), "queued");
        assert_eq!(all(&host, ".noimg").len(), 1, "no thumbnail yet");

        url.set("blob:cat".into());
        settle().await;
        let img = all(&host, "img");
        assert_eq!(img.len(), 1);
        assert_eq!(
            (attr(&img[0], "src"), attr(&img[0], "alt")),
            ("blob:cat".into(), "cat.png".into())
        );

        for (state, class, shown) in [
            (ImageState::Working, "working", "working…"),
            (ImageState::Embedded(vec![1.0, 0.0]), "embedded", "embedded"),
        ] {
            st.set(state);
            settle().await;
            assert_eq!(attr(&li(), "data-state"), class);
            assert_eq!(attr(&li(), "class"), format!("thumb {class}"));
            assert_eq!(text(&all(&host, ".state")[0]), shown);
            assert!(
                all(&host, "img")[0].is_same_node(Some(&img[0])),
                "the <img> is made once, not again on every state change"
            );
        }

        st.set(ImageState::Failed("cannot identify image file".into()));
        settle().await;
        assert_eq!(attr(&li(), "data-state"), "failed");
        assert!(
            all(&host, "img").is_empty(),
            "a failed image shows no picture"
        );
        let state = &all(&host, ".state")[0];
        assert_eq!(
            (text(state), attr(state, "role")),
            ("cannot identify image file".into(), "alert".into())
        );

        all(&host, "button.remove")[0]
            .unchecked_ref::<web_sys::HtmlElement>()
            .click();
        assert_eq!(removed.get_untracked(), 1);
    }
}
