//! Background Fetch (Chromium): a download's request handed to the browser, which finishes it
//! with every tab of the site closed and wakes the site's service worker with the response.
//!
//! The page side only: whether a page can hand over ([`unavailable`]), the handover
//! ([`start`]), and watching a registration ([`watch`]). The service worker's side, which
//! gives the response to the download (`resumeWith`), is the package's `sw.js`.
//!
//! Registrations of the library have ids `resumable-downloads:<name>:<id>` (both parts
//! URI-encoded): [`registration_id`].

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Request;

use crate::web::clock::sleep_ms;
use crate::web::js::{describe, prop};

/// The prefix of the library's registration ids; the service worker handles only these.
pub const PREFIX: &str = "resumable-downloads:";

/// The registration id of download `id` of the manager `name`.
pub fn registration_id(name: &str, id: &str) -> String {
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    format!("{PREFIX}{}:{}", enc(name), enc(id))
}

/// Why this context cannot hand a download to Background Fetch, or `None` when it can: a
/// window controlled by a service worker whose registration has `backgroundFetch`.
pub fn unavailable() -> Option<&'static str> {
    let global = js_sys::global();
    let Some(sw) = prop(&global, "navigator").and_then(|n| prop(&n, "serviceWorker")) else {
        return Some("this context has no navigator.serviceWorker");
    };
    let has_bgf = prop(&global, "ServiceWorkerRegistration")
        .and_then(|c| prop(&c, "prototype"))
        .is_some_and(|p| Reflect::has(&p, &"backgroundFetch".into()).unwrap_or(false));
    if !has_bgf {
        return Some("this browser has no Background Fetch");
    }
    if prop(&sw, "controller").is_none() {
        return Some("no service worker controls this page");
    }
    None
}

async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let f: Function = prop(target, method)
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| format!("{method} is missing"))?;
    let args: js_sys::Array = args.iter().collect();
    let p = Reflect::apply(&f, target, &args).map_err(|e| describe(&e))?;
    JsFuture::from(Promise::resolve(&p))
        .await
        .map_err(|e| describe(&e))
}

/// The `BackgroundFetchManager` of the service worker registration that controls this page
/// (or, in a service worker, of its own registration).
async fn manager() -> Result<JsValue, String> {
    let global = js_sys::global();
    let registration = match in_service_worker()
        .then(|| prop(&global, "registration"))
        .flatten()
    {
        Some(r) => r,
        None => {
            let sw = prop(&global, "navigator")
                .and_then(|n| prop(&n, "serviceWorker"))
                .ok_or("this context has no navigator.serviceWorker")?;
            let ready = prop(&sw, "ready").ok_or("navigator.serviceWorker.ready is missing")?;
            JsFuture::from(Promise::resolve(&ready))
                .await
                .map_err(|e| describe(&e))?
        }
    };
    prop(&registration, "backgroundFetch")
        .ok_or_else(|| "this browser has no Background Fetch".into())
}

thread_local! {
    /// The one rejection handler of aborts nobody awaits.
    static SWALLOW: JsValue = Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value();
}

/// True in a service worker, where the library's registrations end (its events), and where
/// none is watched or started.
pub fn in_service_worker() -> bool {
    // (`ServiceWorkerGlobalScope` is exposed in service workers only.)
    prop(&js_sys::global(), "ServiceWorkerGlobalScope").is_some()
}

/// A Background Fetch registration.
pub struct Registration(JsValue);

/// How a watched registration ended.
pub enum Ended {
    /// It failed (`failureReason`, e.g. `"aborted"`, `"bad-status"`, `"fetch-error"`,
    /// `"quota-exceeded"`, `"download-total-exceeded"`).
    Failed(String),
    /// It is gone: its service worker event has been handled (or it never will be).
    Gone,
}

impl Registration {
    fn text(&self, key: &str) -> String {
        prop(&self.0, key)
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    }

    /// Bytes the browser has received for it.
    pub fn downloaded(&self) -> u64 {
        prop(&self.0, "downloaded")
            .and_then(|v| v.as_f64())
            .map_or(0, |n| n.max(0.0) as u64)
    }

    /// `""` while under way, then `"success"` or `"failure"`.
    pub fn result(&self) -> String {
        self.text("result")
    }

    /// Aborts it; nothing happens to one that has ended.
    pub fn abort(&self) {
        if let Some(f) = prop(&self.0, "abort").and_then(|f| f.dyn_into::<Function>().ok()) {
            if let Ok(p) = f.call0(&self.0).and_then(|p| p.dyn_into::<Promise>()) {
                SWALLOW.with(|s| crate::web::codec::ignore_rejection(&p, s));
            }
        }
    }
}

/// The registration `id`, if it exists (under way, or its event not yet handled).
pub async fn get(id: &str) -> Result<Option<Registration>, String> {
    get_in(&manager().await?, id).await
}

/// [`get`] in the `BackgroundFetchManager` `m`.
async fn get_in(m: &JsValue, id: &str) -> Result<Option<Registration>, String> {
    let r = call(m, "get", &[id.into()]).await?;
    Ok((!r.is_undefined() && !r.is_null()).then_some(Registration(r)))
}

/// Hands `request` to Background Fetch as registration `id`, with `title`, `icons` (an array
/// of `{ src, sizes?, type?, label? }`) and the bytes it is expected to receive
/// (`downloadTotal`: the browser's UI shows progress, and fails a transfer that exceeds it).
/// A registration `id` already under way is taken as is.
///
/// # Errors
/// Why the browser refused (no permission, no active worker, storage full, …).
pub async fn start(
    id: &str,
    request: &Request,
    title: &str,
    icons: Option<&js_sys::Array>,
    download_total: Option<u64>,
) -> Result<Registration, String> {
    let m = manager().await?;
    if let Some(r) = get_in(&m, id).await? {
        if r.result().is_empty() {
            return Ok(r);
        }
        return Err(format!(
            "the registration {id} has ended ({}) and is not handled yet",
            r.result()
        ));
    }
    let options = Object::new();
    let _ = Reflect::set(&options, &"title".into(), &title.into());
    if let Some(icons) = icons {
        let _ = Reflect::set(&options, &"icons".into(), icons);
    }
    if let Some(total) = download_total {
        let _ = Reflect::set(
            &options,
            &"downloadTotal".into(),
            &JsValue::from(total as f64),
        );
    }
    let requests = js_sys::Array::of1(request);
    let r = call(&m, "fetch", &[id.into(), requests.into(), options.into()]).await?;
    Ok(Registration(r))
}

/// Watches registration `id` until it fails or is gone, calling `on_bytes` with the bytes the
/// browser has received whenever that grows. Polls every `interval_ms`.
pub async fn watch(id: &str, interval_ms: f64, mut on_bytes: impl FnMut(u64)) -> Ended {
    let mut seen = 0;
    let mut misses = 0;
    loop {
        match get(id).await {
            Ok(Some(r)) => {
                misses = 0;
                let n = r.downloaded();
                if n > seen {
                    seen = n;
                    on_bytes(n);
                }
                if r.result() == "failure" {
                    return Ended::Failed(r.text("failureReason"));
                }
            }
            Ok(None) => return Ended::Gone,
            // The registration cannot be read (the service worker is updating): a few tries.
            Err(why) => {
                misses += 1;
                if misses > 10 {
                    return Ended::Failed(why);
                }
            }
        }
        sleep_ms(interval_ms).await;
    }
}
