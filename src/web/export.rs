//! Export of embeddings, created in the page and saved by the browser: nothing is uploaded.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::state::AppState;

/// Saves `{"model": ..., "images": [{"image", "embedding"}]}` (L2-normalised, full f32
/// precision), the shape of the CLI's `embed --json` images part.
pub fn download_embeddings_json(state: AppState) {
    let model = state
        .model
        .get_untracked()
        .map(|m| m.key)
        .unwrap_or_default();
    let images: Vec<serde_json::Value> = state
        .embedded()
        .into_iter()
        .map(|(_, name, e)| serde_json::json!({ "image": name, "embedding": e }))
        .collect();
    let doc = serde_json::json!({ "model": model, "images": images });
    save(
        "siglens-embeddings.json",
        "application/json",
        &doc.to_string(),
    );
}

fn save(filename: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let a = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(a) = a {
        a.set_href(&url);
        a.set_download(filename);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
