//! Small thumbnails for the gallery, search, clusters and map: decoded and scaled by the
//! browser off the main thread (`createImageBitmap`), so a folder of large photos does not
//! keep full-size images alive in the page.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, HtmlCanvasElement, ImageBitmap, ImageBitmapOptions, ResizeQuality};

/// Longest side of a thumbnail, in pixels.
pub const THUMB_PX: u32 = 256;

/// An object URL of a PNG at most `THUMB_PX` wide, or `None` when the browser cannot
/// decode the file (the engine's own decoder gives the user-facing error).
pub async fn thumbnail_url(file: &File) -> Option<String> {
    let window = web_sys::window()?;
    let opts = ImageBitmapOptions::new();
    opts.set_resize_width(THUMB_PX);
    opts.set_resize_quality(ResizeQuality::Medium);
    let p = window
        .create_image_bitmap_with_blob_and_image_bitmap_options(file, &opts)
        .ok()?;
    let bitmap: ImageBitmap = JsFuture::from(p).await.ok()?.unchecked_into();
    let canvas: HtmlCanvasElement = window
        .document()?
        .create_element("canvas")
        .ok()?
        .dyn_into()
        .ok()?;
    canvas.set_width(bitmap.width());
    canvas.set_height(bitmap.height());
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    ctx.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0).ok()?;
    bitmap.close();
    let blob = JsFuture::from(js_sys::Promise::new(&mut |resolve, _| {
        let _ = canvas.to_blob(&resolve);
    }))
    .await
    .ok()?;
    let blob: web_sys::Blob = blob.dyn_into().ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
