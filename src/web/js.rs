//! Bindings to globals that exist in windows and workers alike, and conversions of thrown JS
//! values into messages.

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::Request;

#[wasm_bindgen]
extern "C" {
    /// `globalThis.fetch(request)`.
    #[wasm_bindgen(js_name = fetch, catch)]
    pub fn global_fetch(input: &Request) -> Result<Promise, JsValue>;

    /// `console.warn(message)`.
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn console_warn(message: &str);

    /// `console.error(message, detail)`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(message: &str, detail: &JsValue);
}

/// `target[key]`, or `None` when it is missing, `undefined` or `null`.
pub fn prop(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// A readable message for a thrown JS value: `"Name: message"` for errors, the string itself
/// for strings.
pub fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return s;
    }
    let field = |name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    match (field("name"), field("message")) {
        (Some(n), Some(m)) if !m.is_empty() => format!("{n}: {m}"),
        (Some(n), _) => n,
        (None, Some(m)) => m,
        (None, None) => "unknown error".to_owned(),
    }
}

/// A `Promise` for `f`. The library's promises all go through this one instance of
/// `future_to_promise` (on a boxed future), so the module holds one copy of its adapter code
/// rather than one per future type.
pub fn promise(
    f: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
) -> Promise {
    boxed_promise(Box::pin(f))
}

fn boxed_promise(
    f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>>,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(f)
}
