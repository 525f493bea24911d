//! Coordination between tabs: a Web Lock per download (one writer), and a `BroadcastChannel`
//! per manager name (mirrored events and forwarded commands).
//!
//! Both are reached through `globalThis`, so they work in windows and workers alike; where one
//! is missing the manager falls back to single-tab behaviour (see `DownloadManager.multiTab`).

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use gloo_events::EventListener;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

use crate::web::js::prop;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, BroadcastChannel, MessageEvent};

fn lock_manager() -> Option<JsValue> {
    prop(&js_sys::global(), "navigator").and_then(|n| prop(&n, "locks"))
}

/// True when Web Locks and `BroadcastChannel` both exist.
pub fn available() -> bool {
    lock_manager().is_some_and(|l| prop(&l, "request").is_some())
        && prop(&js_sys::global(), "BroadcastChannel").is_some()
}

/// A held Web Lock; dropping it releases the lock.
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    release: Function,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// A lock request: the callback the browser calls once, and the promise that keeps the lock.
struct Request {
    /// Called by the browser with the lock (or null); must outlive the request.
    _callback: Closure<dyn FnMut(JsValue) -> JsValue>,
    granted: oneshot::Receiver<Option<LockGuard>>,
}

fn request(name: &str, options: &Object) -> Option<Request> {
    let locks = lock_manager()?;
    let request: Function = prop(&locks, "request")?.dyn_into().ok()?;
    let (tx, granted) = oneshot::channel::<Option<LockGuard>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let callback = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |lock: JsValue| -> JsValue {
        let Some(tx) = tx.borrow_mut().take() else {
            return JsValue::UNDEFINED;
        };
        if lock.is_null() || lock.is_undefined() {
            let _ = tx.send(None);
            return JsValue::UNDEFINED;
        }
        // The lock is held until this promise resolves, that is until the guard drops.
        let mut release = None;
        let held = Promise::new(&mut |resolve, _| release = Some(resolve));
        if let Some(release) = release {
            if let Err(unsent) = tx.send(Some(LockGuard { release })) {
                // Nobody waits any more: give the lock back at once.
                drop(unsent);
            }
        }
        held.into()
    });
    let result = request.call3(&locks, &JsValue::from_str(name), options, callback.as_ref());
    // An aborted or failed request rejects; that is reported through the callback not running.
    if let Ok(p) = result.and_then(|p| p.dyn_into::<Promise>()) {
        let swallow = Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value();
        let _ = Reflect::get(&p, &JsValue::from_str("catch"))
            .ok()
            .and_then(|c| c.dyn_into::<Function>().ok())
            .map(|c| c.call1(&p, &swallow));
    }
    Some(Request {
        _callback: callback,
        granted,
    })
}

/// Takes the lock `name` if nobody holds it; `None` if another context does (or there are no
/// Web Locks).
pub async fn try_lock(name: &str) -> Option<LockGuard> {
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    let req = request(name, &options)?;
    req.granted.await.ok().flatten()
}

/// A queued request for a lock: it is granted once whoever holds the lock releases it (for
/// example because its tab closed). Dropping it withdraws the request.
pub struct LockWait {
    req: Option<Request>,
    abort: AbortController,
}

impl LockWait {
    /// Queues a request for `name`.
    pub fn new(name: &str) -> Option<LockWait> {
        let abort = AbortController::new().ok()?;
        let options = Object::new();
        let _ = Reflect::set(&options, &"signal".into(), &abort.signal());
        let req = request(name, &options)?;
        Some(LockWait {
            req: Some(req),
            abort,
        })
    }

    /// Waits until the lock is granted.
    pub async fn granted(&mut self) -> Option<LockGuard> {
        let req = self.req.as_mut()?;
        (&mut req.granted).await.ok().flatten()
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        // Removes a pending request from the queue; a granted one is unaffected.
        self.abort.abort();
    }
}

/// The manager's channel to its other tabs. Dropping it closes the channel.
pub struct Channel {
    bc: BroadcastChannel,
    _listener: EventListener,
}

impl Channel {
    /// Joins the channel `name`; `on_message` receives what the other tabs post.
    pub fn open(name: &str, mut on_message: impl FnMut(JsValue) + 'static) -> Option<Channel> {
        let bc = BroadcastChannel::new(name).ok()?;
        let listener = EventListener::new(&bc, "message", move |event| {
            if let Some(e) = event.dyn_ref::<MessageEvent>() {
                on_message(e.data());
            }
        });
        crate::web::probe::count(crate::web::probe::CHANNELS, 1);
        Some(Channel {
            bc,
            _listener: listener,
        })
    }

    /// Posts a structured-clonable message to the other tabs.
    pub fn post(&self, message: &JsValue) {
        let _ = self.bc.post_message(message);
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.bc.close();
        crate::web::probe::count(crate::web::probe::CHANNELS, -1);
    }
}
