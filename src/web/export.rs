//! Exports of embeddings: the worker makes the file, the page saves it. Nothing is uploaded.

use siglens_protocol::{ExportFormat, ExportKind, Output, Request, TextSettings};
use wasm_bindgen::JsCast;

use super::client::Reply;
use super::state::AppState;

/// Every embedded image, in gallery order.
pub fn export_images(state: AppState, format: ExportFormat) {
    let (names, embeddings): (Vec<String>, Vec<Vec<f32>>) = state
        .embedded()
        .into_iter()
        .map(|(_, name, e)| (name, e))
        .unzip();
    export(state, ExportKind::Images, format, names, embeddings);
}

/// The given texts, embedded as the CLI's `embed --text` does (lower-cased, no template),
/// then exported in the order given.
pub fn export_texts(state: AppState, format: ExportFormat, texts: Vec<String>) {
    let settings = TextSettings {
        template: None,
        lowercase: true,
    };
    let mut names = Some(texts.clone());
    state.request(
        Request::EmbedTexts { texts, settings },
        Vec::new(),
        move |r| match r {
            Reply::Done(Output::Texts { embeddings }) => {
                if let Some(names) = names.take() {
                    export(state, ExportKind::Texts, format, names, embeddings);
                }
            }
            Reply::Failed(e) => state.notice(format!("text export failed: {e}")),
            _ => {}
        },
    );
}

fn export(
    state: AppState,
    kind: ExportKind,
    format: ExportFormat,
    names: Vec<String>,
    embeddings: Vec<Vec<f32>>,
) {
    state.request(
        Request::Export {
            format,
            kind,
            names,
            embeddings,
        },
        Vec::new(),
        move |r| match r {
            Reply::Done(Output::File {
                filename,
                mime,
                bytes,
            }) => save(&filename, &mime, &bytes),
            Reply::Failed(e) => state.notice(format!("export failed: {e}")),
            _ => {}
        },
    );
}

fn save(filename: &str, mime: &str, bytes: &[u8]) {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts) else {
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
