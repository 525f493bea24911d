//! `isDownloadError`, and the one conversion of errors to JS (in `crate::web::codec`).

use js_sys::Reflect;
use wasm_bindgen::JsValue;

pub(crate) use crate::web::codec::error_to_js as to_js;

/// `true` when `value` is an error raised by this library: its `name` is `"DownloadError"` and
/// it has a string `code`. Works across realms and bundled copies, unlike `instanceof`.
///
/// The package's `isDownloadError` is the same check in plain JS (see
/// `scripts/finalize-package.mjs`), so that it works before `init()`; this one serves Rust
/// callers.
pub fn is_download_error(value: &JsValue) -> bool {
    if !value.is_object() {
        return false;
    }
    let get = |k: &str| Reflect::get(value, &JsValue::from_str(k)).ok();
    get("name").and_then(|n| n.as_string()).as_deref() == Some("DownloadError")
        && get("code").is_some_and(|c| c.is_string())
}
