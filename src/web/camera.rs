//! Camera snapshot: the stream stays in the page (a <video>), a snapshot becomes a PNG
//! `File` like any dropped image. Nothing is recorded or sent anywhere.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlCanvasElement, MediaStream, MediaStreamConstraints};

use super::state::AppState;

async fn open_stream() -> Result<MediaStream, String> {
    let devices = web_sys::window()
        .ok_or("no window")?
        .navigator()
        .media_devices()
        .map_err(|_| "this browser has no camera access (needs https or localhost)".to_string())?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_video(&JsValue::TRUE);
    let p = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| format!("{e:?}"))?;
    JsFuture::from(p)
        .await
        .map(|s| s.unchecked_into())
        .map_err(|e| format!("camera not available or permission denied ({e:?})"))
}

fn stop(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        if let Ok(t) = t.dyn_into::<web_sys::MediaStreamTrack>() {
            t.stop();
        }
    }
}

#[component]
pub fn Camera(state: AppState) -> impl IntoView {
    let video = NodeRef::<html::Video>::new();
    let stream = StoredValue::new_local(None::<MediaStream>);
    let open = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let shots = StoredValue::new(0u32);

    let start = move || {
        error.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            match open_stream().await {
                Ok(s) => {
                    open.set(true);
                    if let Some(v) = video.get_untracked() {
                        v.set_src_object(Some(&s));
                        let _ = v.play();
                    }
                    stream.set_value(Some(s));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let close = move || {
        stream.update_value(|s| {
            if let Some(s) = s.take() {
                stop(&s);
            }
        });
        open.set(false);
    };
    let snap = move || {
        let Some(v) = video.get_untracked() else {
            return;
        };
        let (w, h) = (v.video_width(), v.video_height());
        if w == 0 || h == 0 {
            error.set(Some("the camera has not started yet".into()));
            return;
        }
        let Some(canvas) = document()
            .create_element("canvas")
            .ok()
            .and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok())
        else {
            return;
        };
        canvas.set_width(w);
        canvas.set_height(h);
        let ctx = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
        let Some(ctx) = ctx else { return };
        if ctx
            .draw_image_with_html_video_element(&v, 0.0, 0.0)
            .is_err()
        {
            return;
        }
        shots.update_value(|n| *n += 1);
        let name = format!("camera-{}.png", shots.get_value());
        let cb = Closure::once_into_js(move |blob: JsValue| {
            let Ok(blob) = blob.dyn_into::<web_sys::Blob>() else {
                return;
            };
            let parts = js_sys::Array::of1(&blob);
            let opts = web_sys::FilePropertyBag::new();
            opts.set_type("image/png");
            if let Ok(file) =
                web_sys::File::new_with_blob_sequence_and_options(&parts, &name, &opts)
            {
                state.add_files(vec![file]);
            }
        });
        let _ = canvas.to_blob(cb.unchecked_ref());
    };

    on_cleanup(close);
    view! {
        <div class="camera">
            <Show when=move || !open.get()>
                <button id="camera-open" type="button" on:click=move |_| start()>"use the camera"</button>
            </Show>
            <div class="camera-view" class:hidden=move || !open.get()>
                <video node_ref=video autoplay=true playsinline=true muted=true aria-label="camera preview"></video>
                <div class="row">
                    <button id="camera-snap" type="button" on:click=move |_| snap()>"Take photo"</button>
                    <button id="camera-close" type="button" on:click=move |_| close()>"Close camera"</button>
                </div>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </div>
    }
}
