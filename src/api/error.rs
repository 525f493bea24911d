//! Conversion of [`DownloadError`] into a JS `Error` named `"DownloadError"`, in one place.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::core::{DownloadError, ErrorCode};

/// The JS form: an `Error` with `name = "DownloadError"`, `code`, and `status` /
/// `retryAfterMs` where they apply. A [`Cause`](crate::core::error::Cause) holding a `JsValue`
/// (`DownloadError::with_cause(js_value)`) becomes `cause`.
pub(crate) fn to_js(e: &DownloadError) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("DownloadError");
    let set = |k: &str, v: JsValue| {
        // Setting a data property on a fresh Error cannot fail.
        let _ = Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("code", JsValue::from_str(e.code.as_str()));
    if let Some(s) = e.status {
        set("status", JsValue::from(s));
    }
    if let Some(ms) = e.retry_after_ms {
        set("retryAfterMs", JsValue::from(ms as f64));
    }
    if let Some(cause) = e.cause.as_ref().and_then(|c| c.downcast_ref::<JsValue>()) {
        set("cause", cause.clone());
    }
    err.into()
}

/// The error stored with a failed download's record (an unknown code reads as `STORAGE`).
pub(crate) fn restored_error(code: &str, message: &str) -> DownloadError {
    DownloadError::new(
        ErrorCode::parse(code).unwrap_or(ErrorCode::Storage),
        message,
    )
}

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
