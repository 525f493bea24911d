//! One codec for the JS objects the library makes and reads: event payloads, progress,
//! errors (a `DownloadError` becomes a JS `Error` here, and only here), and the messages
//! between tabs.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::progress::Progress;
use crate::core::{DownloadError, ErrorCode};
use crate::web::js::prop;

/// The version of the messages tabs exchange; a message of another version is ignored (a
/// page of another release of the library may share the channel).
pub const TAB_MESSAGE_VERSION: u32 = 1;

/// A plain JS object from key/value pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// The JS form of a [`DownloadError`]: an `Error` with `name = "DownloadError"`, `code`, and
/// `status` / `retryAfterMs` where they apply. A [`Cause`](crate::core::error::Cause) holding
/// a `JsValue` (`DownloadError::with_cause(js_value)`) becomes `cause`.
pub fn error_to_js(e: &DownloadError) -> JsValue {
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

/// A `DownloadError` as a plain object that can cross to another tab.
pub fn error_summary(e: &DownloadError) -> JsValue {
    object(&[
        ("code", e.code.as_str().into()),
        ("message", e.message.as_str().into()),
        ("status", e.status.map_or(JsValue::NULL, JsValue::from)),
    ])
}

/// The error another tab reported.
pub fn error_from(v: &JsValue) -> DownloadError {
    let text = |k: &str| prop(v, k).and_then(|s| s.as_string());
    let code = text("code")
        .as_deref()
        .and_then(ErrorCode::parse)
        .unwrap_or(ErrorCode::Network);
    let mut e = DownloadError::new(code, text("message").unwrap_or_default());
    e.status = prop(v, "status").and_then(|s| s.as_f64()).map(|s| s as u16);
    e
}

/// `Progress` as the JS object `{ transferredBytes, totalBytes, percent, bytesPerSecond,
/// etaSeconds }`.
pub fn progress_value(p: &Progress) -> JsValue {
    let opt = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
    object(&[
        (
            "transferredBytes",
            JsValue::from(p.transferred_bytes as f64),
        ),
        ("totalBytes", opt(p.total_bytes.map(|t| t as f64))),
        ("percent", opt(p.percent)),
        ("bytesPerSecond", JsValue::from(p.bytes_per_second)),
        ("etaSeconds", opt(p.eta_seconds)),
    ])
}

/// Progress another tab reported.
pub fn progress_from(v: &JsValue) -> Option<Progress> {
    let num = |k: &str| prop(v, k).and_then(|n| n.as_f64());
    Some(Progress {
        transferred_bytes: num("transferredBytes")? as u64,
        total_bytes: num("totalBytes").map(|t| t as u64),
        percent: num("percent"),
        bytes_per_second: num("bytesPerSecond").unwrap_or(0.0),
        eta_seconds: num("etaSeconds"),
    })
}

/// A message to the other tabs: `{ v, type, id, ...pairs }`.
pub fn tab_message(kind: &str, id: &str, pairs: &[(&str, JsValue)]) -> JsValue {
    let mut all: Vec<(&str, JsValue)> = vec![
        ("v", TAB_MESSAGE_VERSION.into()),
        ("type", kind.into()),
        ("id", id.into()),
    ];
    all.extend(pairs.iter().cloned());
    object(&all)
}

/// The type and download id of a message from another tab, when it is one of this version.
pub fn read_tab_message(msg: &JsValue) -> Option<(String, String)> {
    let version = prop(msg, "v").and_then(|v| v.as_f64());
    if version != Some(f64::from(TAB_MESSAGE_VERSION)) {
        return None;
    }
    let field = |k: &str| prop(msg, k).and_then(|v| v.as_string());
    Some((field("type")?, field("id")?))
}

/// Attaches `handler` (a function that ignores its argument) to `p`'s rejection, so that a
/// promise nobody awaits is not reported as an unhandled rejection.
pub fn ignore_rejection(p: &Promise, handler: &JsValue) {
    if let Ok(catch) = Reflect::get(p, &JsValue::from_str("catch")) {
        if let Some(f) = catch.dyn_ref::<Function>() {
            let _ = f.call1(p, handler);
        }
    }
}
