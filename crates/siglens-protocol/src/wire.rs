//! `{ msg, buffers }` on the wire; see the crate docs.

use js_sys::{Array, ArrayBuffer, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

#[derive(Debug)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message object and the transfer list to hand to `postMessage`.
pub fn encode<T: Serialize>(
    msg: &T,
    buffers: Vec<ArrayBuffer>,
) -> Result<(JsValue, Array), WireError> {
    // Maps become plain objects so the other side (and devtools) read them easily.
    let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    let value = msg
        .serialize(&ser)
        .map_err(|e| WireError(format!("serialising a message: {e}")))?;
    let obj = Object::new();
    let list = Array::new();
    for b in &buffers {
        list.push(b);
    }
    let set = |k: &str, v: &JsValue| {
        Reflect::set(&obj, &JsValue::from_str(k), v).map_err(|e| WireError(format!("{e:?}")))
    };
    set("msg", &value)?;
    set("buffers", &list)?;
    Ok((obj.into(), list))
}

/// The message and its buffers, from a `MessageEvent`'s data.
pub fn decode<T: DeserializeOwned>(data: &JsValue) -> Result<(T, Vec<ArrayBuffer>), WireError> {
    let get = |k: &str| Reflect::get(data, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
    let msg = serde_wasm_bindgen::from_value(get("msg"))
        .map_err(|e| WireError(format!("not a siglens message: {e}")))?;
    let buffers = match get("buffers").dyn_into::<Array>() {
        Ok(a) => a
            .iter()
            .map(|b| {
                b.dyn_into::<ArrayBuffer>()
                    .map_err(|_| WireError("buffers must be ArrayBuffers".into()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Err(_) => Vec::new(),
    };
    Ok((msg, buffers))
}
