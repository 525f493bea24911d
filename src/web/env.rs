//! The environment around a download: online state, storage estimates, and waits that a stop
//! interrupts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use gloo_events::EventListener;

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

/// `fut`'s output, unless `stop` fires first (`Err`) or `limit_ms` passes first (`Ok(None)`;
/// 0: no limit).
pub async fn within<F: std::future::Future + Unpin>(
    mut fut: F,
    limit_ms: u64,
    stop: &StopToken,
) -> Result<Option<F::Output>, StopReason> {
    let mut limit = (limit_ms > 0).then(|| Deadline::at(now_ms() + limit_ms as f64));
    futures::future::poll_fn(|cx| {
        if let Poll::Ready(r) = stop.poll_stopped(cx) {
            return Poll::Ready(Err(r));
        }
        if let Poll::Ready(out) = fut.poll_unpin(cx) {
            return Poll::Ready(Ok(Some(out)));
        }
        match limit.as_mut().map(|d| d.poll_unpin(cx)) {
            Some(Poll::Ready(_)) => Poll::Ready(Ok(None)),
            _ => Poll::Pending,
        }
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

/// True when there is a document and it is hidden (`visibilityState === 'hidden'`).
pub fn is_hidden() -> bool {
    prop(&js_sys::global(), "document")
        .and_then(|d| prop(&d, "visibilityState"))
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == "hidden")
}

/// Watches the page's visibility (`visibilitychange` on the document, `pagehide` on the
/// window) while it lives; the listeners go with it. Outside a window it never reports.
pub struct Visibility {
    /// Whether the page is hidden, as the last event since the last report says.
    changed: Rc<Cell<Option<bool>>>,
    waker: Rc<RefCell<Option<Waker>>>,
    _listeners: Vec<EventListener>,
}

impl Visibility {
    /// Starts watching.
    pub fn watch() -> Visibility {
        let changed = Rc::new(Cell::new(None));
        let waker: Rc<RefCell<Option<Waker>>> = Rc::default();
        let mut listeners = Vec::new();
        if let Some(window) = web_sys::window() {
            let targets = [
                window
                    .document()
                    .map(|d| (d.unchecked_into(), "visibilitychange")),
                Some((window.unchecked_into(), "pagehide")),
            ];
            for (target, kind) in targets.into_iter().flatten() {
                let target: web_sys::EventTarget = target;
                let (changed, waker) = (Rc::clone(&changed), Rc::clone(&waker));
                let pagehide = kind == "pagehide";
                listeners.push(EventListener::new(&target, kind, move |_| {
                    // A page being unloaded or put in the back-forward cache is hidden, whatever
                    // its visibilityState says at that moment.
                    changed.set(Some(pagehide || is_hidden()));
                    if let Some(w) = waker.borrow_mut().take() {
                        w.wake();
                    }
                }));
            }
        }
        Visibility {
            changed,
            waker,
            _listeners: listeners,
        }
    }

    /// Ready with whether the page is hidden now, once it changed since the last report.
    pub fn poll_change(&self, cx: &mut Context<'_>) -> Poll<bool> {
        if let Some(hidden) = self.changed.take() {
            return Poll::Ready(hidden);
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Shows a notification if the page is hidden and the user granted permission; does nothing
/// otherwise (no window, no permission, a visible page).
pub fn notify_if_hidden(title: &str, body: &str) {
    let hidden = is_hidden();
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
