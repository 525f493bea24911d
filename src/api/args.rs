//! Argument conversion for every exported method, in one place: a value of the wrong type is
//! an `INVALID_ARGUMENT` naming the argument, never a trap in wasm memory, and a method that
//! returns a promise rejects rather than throws.

use js_sys::Promise;
use wasm_bindgen::JsValue;

use super::error::to_js;
use crate::core::DownloadError;

/// `typeof value`, or `null`, for messages.
fn kind_of(value: &JsValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    value.js_typeof().as_string().unwrap_or_default()
}

/// A required string argument.
///
/// # Errors
/// `INVALID_ARGUMENT`: `<name>: must be a string, got number`.
pub(crate) fn string(value: &JsValue, name: &str) -> Result<String, DownloadError> {
    value.as_string().ok_or_else(|| {
        DownloadError::invalid(name, format!("must be a string, got {}", kind_of(value)))
    })
}

/// An optional string argument: `undefined` or `null` are `None`.
///
/// # Errors
/// As [`string`] for anything else that is not a string.
pub(crate) fn optional_string(
    value: &JsValue,
    name: &str,
) -> Result<Option<String>, DownloadError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    string(value, name).map(Some)
}

/// The `Err` side of a method that throws, as the JS error.
pub(crate) fn thrown<T>(r: Result<T, DownloadError>) -> Result<T, JsValue> {
    r.map_err(|e| to_js(&e))
}

/// A promise rejected with `e`.
pub(crate) fn rejected(e: &DownloadError) -> Promise {
    Promise::reject(&to_js(e))
}
