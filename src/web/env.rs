//! The environment around a download: online state, storage estimates, and waits that a stop
//! interrupts.

use std::task::Poll;

use futures::FutureExt;
use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::web::cancel::{StopReason, StopToken};
use crate::web::clock::{now_ms, Deadline};
use crate::web::js::prop;

fn navigator() -> Option<JsValue> {
    prop(&js_sys::global(), "navigator")
}

/// True when the browser says it is offline (`navigator.onLine === false`).
pub fn is_offline() -> bool {
    navigator()
        .and_then(|n| prop(&n, "onLine"))
        .and_then(|v| v.as_bool())
        == Some(false)
}

/// Waits for `fut` unless `stop` fires first.
///
/// # Errors
/// The stop reason, if `stop` fires first.
pub async fn or_stop<F: std::future::Future + Unpin>(
    stop: &StopToken,
    mut fut: F,
) -> Result<F::Output, StopReason> {
    futures::future::poll_fn(|cx| {
        if let Poll::Ready(r) = stop.poll_stopped(cx) {
            return Poll::Ready(Err(r));
        }
        fut.poll_unpin(cx).map(Ok)
    })
    .await
}

/// Sleeps `ms`, unless `stop` fires first.
pub async fn sleep_or_stop(ms: f64, stop: &StopToken) -> Result<(), StopReason> {
    or_stop(stop, Deadline::at(now_ms() + ms)).await
}

/// Waits for the `online` event, unless `stop` fires first.
pub async fn wait_online(stop: &StopToken) -> Result<(), StopReason> {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let global: web_sys::EventTarget = js_sys::global().unchecked_into();
    let _listener = gloo_events::EventListener::new(&global, "online", move |_| {
        if let Some(t) = tx.take() {
            let _ = t.send(());
        }
    });
    if !is_offline() {
        return Ok(());
    }
    or_stop(stop, rx).await.map(|_| ())
}

fn storage() -> Option<JsValue> {
    navigator().and_then(|n| prop(&n, "storage"))
}

/// Free bytes this origin may still store (`quota - usage`), when the browser says.
pub async fn storage_available() -> Option<f64> {
    let storage = storage()?;
    let estimate: js_sys::Function = prop(&storage, "estimate")?.dyn_into().ok()?;
    let promise: Promise = estimate.call0(&storage).ok()?.into();
    let e = JsFuture::from(promise).await.ok()?;
    let quota = prop(&e, "quota")?.as_f64()?;
    let usage = prop(&e, "usage").and_then(|v| v.as_f64()).unwrap_or(0.0);
    Some(quota - usage)
}

/// Asks the browser to keep this origin's storage under pressure
/// (`navigator.storage.persist()`). The browser decides silently or ignores it; the answer is
/// not needed.
pub fn request_persistence() {
    let Some(storage) = storage() else { return };
    let Some(persist) =
        prop(&storage, "persist").and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    else {
        return;
    };
    if let Ok(p) = persist.call0(&storage) {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(Promise::from(p)).await;
        });
    }
}

fn notification_class() -> Option<js_sys::Function> {
    prop(&js_sys::global(), "Notification").and_then(|n| n.dyn_into().ok())
}

/// Shows a notification if the page is hidden and the user granted permission; does nothing
/// otherwise (no window, no permission, a visible page).
pub fn notify_if_hidden(title: &str, body: &str) {
    let hidden = prop(&js_sys::global(), "document")
        .and_then(|d| prop(&d, "visibilityState"))
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == "hidden");
    let Some(class) = notification_class() else {
        return;
    };
    let granted = prop(&class, "permission")
        .and_then(|p| p.as_string())
        .as_deref()
        == Some("granted");
    if !hidden || !granted {
        return;
    }
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"body".into(), &body.into());
    let _ = Reflect::construct(&class, &js_sys::Array::of2(&title.into(), &options));
}

/// `Notification.requestPermission()`, or a promise of `'denied'` where there is none.
pub fn request_notification_permission() -> Promise {
    let request = notification_class()
        .and_then(|c| prop(&c, "requestPermission").map(|f| (c, f)))
        .and_then(|(c, f)| f.dyn_into::<js_sys::Function>().ok().map(|f| (c, f)));
    match request.and_then(|(c, f)| f.call0(&c).ok()) {
        Some(p) => Promise::resolve(&p),
        None => Promise::resolve(&JsValue::from_str("denied")),
    }
}
