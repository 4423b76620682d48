//! Component tests' helpers: mount a view into a fresh element of the test page and read
//! the DOM back.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// Mounts `f` into a new `<div>` appended to the body and returns that element.
pub fn mount<F, N>(f: F) -> HtmlElement
where
    F: FnOnce() -> N + 'static,
    N: IntoView,
{
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .expect("a test page");
    let host: HtmlElement = doc
        .create_element("div")
        .expect("create div")
        .unchecked_into();
    doc.body()
        .expect("body")
        .append_child(&host)
        .expect("append");
    leptos::mount::mount_to(host.clone(), f).forget();
    host
}

/// Every element under `root` matching `selector`, in document order.
pub fn all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).expect("valid selector");
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<Element>().ok())
        .collect()
}

pub fn attr(el: &Element, name: &str) -> String {
    el.get_attribute(name).unwrap_or_default()
}

pub fn text(el: &Element) -> String {
    el.text_content().unwrap_or_default()
}

/// Waits for the reactive system's pending effects (they run in a later task).
pub async fn settle() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect("a test page")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .expect("setTimeout");
    });
    wasm_bindgen_futures::JsFuture::from(p)
        .await
        .expect("timeout");
}
