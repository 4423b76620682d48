//! One download per model across tabs: a Web Lock named after the cache key is held while
//! a model is read, fetched and stored, so a second tab asking for the same model waits,
//! then finds it cached. (Web Locks are reached through `Reflect`: web-sys marks the API
//! unstable.) Where the browser has no Web Locks, loads simply are not serialised.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::runtime::scope;

/// Held until dropped.
pub struct ModelLock {
    release: Option<Function>,
}

impl Drop for ModelLock {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}

fn lock_manager() -> Option<(JsValue, Function)> {
    let locks = Reflect::get(&scope().navigator(), &"locks".into()).ok()?;
    if locks.is_undefined() || locks.is_null() {
        return None;
    }
    let request = Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into()
        .ok()?;
    Some((locks, request))
}

/// Asks for the lock; `granted` resolves with whether it was given (with `if_available`, a
/// held lock gives `false` at once).
async fn request(name: &str, if_available: bool) -> Option<(bool, ModelLock)> {
    let (locks, request) = lock_manager()?;
    let mut release = None;
    // Returning this promise from the callback keeps the lock until `release` is called.
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut tell = None;
    let granted = Promise::new(&mut |resolve, _| tell = Some(resolve));
    let tell = tell?;
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let _ = tell.call1(&JsValue::NULL, &JsValue::from_bool(!lock.is_null()));
        if lock.is_null() {
            JsValue::UNDEFINED
        } else {
            held.into()
        }
    });
    let options = Object::new();
    if if_available {
        let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    }
    request
        .call3(&locks, &name.into(), &options, &callback)
        .ok()?;
    let got = JsFuture::from(granted)
        .await
        .ok()?
        .as_bool()
        .unwrap_or(false);
    Some((got, ModelLock { release }))
}

/// Takes the lock for `key`, calling `on_wait` first if another tab holds it. `None` where
/// Web Locks are missing.
pub async fn acquire(key: &str, on_wait: impl FnOnce()) -> Option<ModelLock> {
    let name = format!("siglens-model:{key}");
    match request(&name, true).await? {
        (true, lock) => Some(lock),
        (false, _) => {
            on_wait();
            request(&name, false).await.map(|(_, lock)| lock)
        }
    }
}
