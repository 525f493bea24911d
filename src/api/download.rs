//! [`Download`]: one download's handle, state and result.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{Blob, HtmlAnchorElement};

use super::error::to_js;
use super::events::{error_value, object, Events};
use super::manager::ManagerInner;
use crate::core::progress::Progress;
use crate::core::{DownloadError, ErrorCode};
use crate::web::cancel::{StopReason, StopToken};
use crate::web::chunks::BlobChunks;
use crate::web::clock::sleep_ms;

/// A download's lifecycle state. The strings are part of the JS contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Queued,
    Running,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Paused => "paused",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    /// Completed, failed and cancelled downloads do nothing more by themselves.
    pub fn is_settled(self) -> bool {
        matches!(self, State::Completed | State::Failed | State::Cancelled)
    }
}

/// Mutable part of a download.
pub(crate) struct Mutable {
    pub state: State,
    pub progress: Progress,
    pub error: Option<DownloadError>,
    pub chunks: Option<BlobChunks>,
    pub content_type: Option<String>,
    pub final_url: Option<String>,
    settle: Option<(Function, Function)>,
    /// The JS object handed to callers, created once so that `get(id) === add(url)`.
    pub handle: JsValue,
    pub signal_listener: Option<gloo_events::EventListener>,
}

/// Shared state of one download.
pub(crate) struct DownloadCell {
    pub id: String,
    pub url: String,
    pub filename: Option<String>,
    pub headers: Vec<(String, String)>,
    pub stop: StopToken,
    pub done: Promise,
    pub events: Rc<Events>,
    pub manager: Weak<ManagerInner>,
    pub m: RefCell<Mutable>,
}

impl DownloadCell {
    pub fn new(
        id: String,
        url: String,
        filename: Option<String>,
        headers: Vec<(String, String)>,
        events: Rc<Events>,
        manager: Weak<ManagerInner>,
        swallow: &JsValue,
    ) -> Rc<Self> {
        let mut settle = None;
        let done = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        // Callers who only use events never await `done`; its rejection is not "unhandled".
        if let Ok(catch) = js_sys::Reflect::get(&done, &JsValue::from_str("catch")) {
            let _ = catch.unchecked_into::<Function>().call1(&done, swallow);
        }
        let cell = Rc::new(DownloadCell {
            id,
            url,
            filename,
            headers,
            stop: StopToken::default(),
            done,
            events,
            manager,
            m: RefCell::new(Mutable {
                state: State::Queued,
                progress: Progress {
                    transferred_bytes: 0,
                    total_bytes: None,
                    percent: None,
                    bytes_per_second: 0.0,
                    eta_seconds: None,
                },
                error: None,
                chunks: None,
                content_type: None,
                final_url: None,
                settle,
                handle: JsValue::UNDEFINED,
                signal_listener: None,
            }),
        });
        let handle: JsValue = Download { cell: cell.clone() }.into();
        cell.m.borrow_mut().handle = handle;
        cell
    }

    pub fn handle(&self) -> JsValue {
        self.m.borrow().handle.clone()
    }

    pub fn state(&self) -> State {
        self.m.borrow().state
    }

    /// Moves a non-settled download to `to` and emits `statechange`.
    pub fn set_state(&self, to: State) {
        let from = {
            let mut m = self.m.borrow_mut();
            if m.state.is_settled() || m.state == to {
                return;
            }
            std::mem::replace(&mut m.state, to)
        };
        self.emit_statechange(from, to);
    }

    fn emit_statechange(&self, from: State, to: State) {
        if self.events.has("statechange") {
            self.events.emit(
                "statechange",
                &object(&[
                    ("type", "statechange".into()),
                    ("id", self.id.as_str().into()),
                    ("download", self.handle()),
                    ("state", to.as_str().into()),
                    ("previousState", from.as_str().into()),
                ]),
            );
        }
    }

    /// Records progress of a running download and emits `progress`.
    pub fn report_progress(&self, p: Progress) {
        {
            let mut m = self.m.borrow_mut();
            if m.state != State::Running {
                return;
            }
            m.progress = p;
        }
        if self.events.has("progress") {
            self.events.emit(
                "progress",
                &object(&[
                    ("type", "progress".into()),
                    ("id", self.id.as_str().into()),
                    ("download", self.handle()),
                    ("progress", progress_value(&p)),
                ]),
            );
        }
    }

    /// Settles the download once: resolves or rejects `done`, emits `statechange` and then
    /// `complete` or `error`, and tells the manager. Later calls do nothing.
    pub fn settle(&self, to: State, outcome: Result<Option<BlobChunks>, DownloadError>) {
        debug_assert!(to.is_settled());
        let (chunks, error) = match outcome {
            Ok(c) => (c, None),
            Err(e) => (None, Some(e)),
        };
        let (from, settle, handle) = {
            let mut m = self.m.borrow_mut();
            if m.state.is_settled() {
                return;
            }
            let from = std::mem::replace(&mut m.state, to);
            m.chunks = chunks;
            m.error = error.clone();
            m.signal_listener = None;
            (from, m.settle.take(), m.handle.clone())
        };
        if let Some((resolve, reject)) = settle {
            let _ = match &error {
                None => resolve.call1(&JsValue::UNDEFINED, &handle),
                Some(e) => reject.call1(&JsValue::UNDEFINED, &to_js(e)),
            };
        }
        self.emit_statechange(from, to);
        match (&error, to) {
            (None, State::Completed) => self.events.emit(
                "complete",
                &object(&[
                    ("type", "complete".into()),
                    ("id", self.id.as_str().into()),
                    ("download", handle),
                ]),
            ),
            (Some(e), State::Failed) => self.events.emit(
                "error",
                &object(&[
                    ("type", "error".into()),
                    ("id", self.id.as_str().into()),
                    ("download", handle),
                    ("error", error_value(e)),
                ]),
            ),
            _ => {}
        }
        if let Some(manager) = self.manager.upgrade() {
            manager.on_settled();
        }
    }

    /// The manager is closing: an unsettled download stops where it is, as `paused`, and its
    /// `done` rejects with `err`, since nothing will resume it through this handle.
    pub fn close(&self, err: DownloadError) {
        let settle = {
            let mut m = self.m.borrow_mut();
            if m.state.is_settled() {
                return;
            }
            m.state = State::Paused;
            m.signal_listener = None;
            m.chunks = None;
            m.settle.take()
        };
        if let Some((_, reject)) = settle {
            let _ = reject.call1(&JsValue::UNDEFINED, &to_js(&err));
        }
    }

    /// Stops the transfer and settles as cancelled with `ABORTED`. Final.
    pub fn cancel(&self) {
        if self.state().is_settled() {
            return;
        }
        self.stop.stop(StopReason::Cancel);
        self.settle(State::Cancelled, Err(DownloadError::aborted()));
    }
}

/// `Progress` as the JS object `{ transferredBytes, totalBytes, percent, bytesPerSecond,
/// etaSeconds }`.
pub(crate) fn progress_value(p: &Progress) -> JsValue {
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

/// One download. Obtained from `DownloadManager.add`, `get` or `list`; the same object is
/// returned for the same id.
#[wasm_bindgen]
pub struct Download {
    cell: Rc<DownloadCell>,
}

#[wasm_bindgen]
impl Download {
    /// The download's id (the `id` option, or derived from the URL).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.cell.id.clone()
    }

    /// The absolute URL it was added with.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.cell.url.clone()
    }

    /// The URL of the response, after redirects; `null` until the first response.
    #[wasm_bindgen(getter, js_name = finalUrl)]
    pub fn final_url(&self) -> Option<String> {
        self.cell.m.borrow().final_url.clone()
    }

    /// `'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled'`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.cell.state().as_str().to_owned()
    }

    /// `{ transferredBytes, totalBytes, percent, bytesPerSecond, etaSeconds }`, current.
    #[wasm_bindgen(getter)]
    pub fn progress(&self) -> JsValue {
        progress_value(&self.cell.m.borrow().progress)
    }

    /// The `DownloadError` of a failed or cancelled download, else `undefined`.
    #[wasm_bindgen(getter)]
    pub fn error(&self) -> JsValue {
        self.cell
            .m
            .borrow()
            .error
            .as_ref()
            .map_or(JsValue::UNDEFINED, to_js)
    }

    /// Resolves with this download when it completes; rejects with a `DownloadError` when it
    /// fails or is cancelled.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> Promise {
        self.cell.done.clone()
    }

    /// Cancels: final, and the received bytes are dropped. Settles `done` with `ABORTED` at
    /// once. Does nothing on a download that has already settled.
    pub fn cancel(&self) {
        self.cell.cancel();
    }

    /// The completed file as a `Blob`, assembled from the stored chunk Blobs without copying.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` unless the download has completed.
    pub async fn blob(&self) -> Result<Blob, JsValue> {
        completed_blob(&self.cell).map_err(|e| to_js(&e))
    }

    /// Saves the completed file through the browser's download UI (an object URL and
    /// `<a download>`; the URL is revoked afterwards). `filename` defaults to the `filename`
    /// option, then to the last segment of the URL.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` unless the download has completed, or outside a window.
    pub fn save(&self, filename: Option<String>) -> Result<(), JsValue> {
        save(&self.cell, filename).map_err(|e| to_js(&e))
    }
}

fn completed_blob(cell: &DownloadCell) -> Result<Blob, DownloadError> {
    let mut m = cell.m.borrow_mut();
    if m.state != State::Completed {
        return Err(DownloadError::invalid(
            "download",
            format!(
                "is {}, not completed; the Blob exists once it completes",
                m.state.as_str()
            ),
        ));
    }
    let mime = m
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    match m.chunks.as_mut() {
        Some(c) => c.blob(&mime),
        None => Err(DownloadError::new(
            ErrorCode::Storage,
            "the stored bytes are gone",
        )),
    }
}

fn save(cell: &DownloadCell, filename: Option<String>) -> Result<(), DownloadError> {
    let blob = completed_blob(cell)?;
    let window =
        web_sys::window().ok_or_else(|| DownloadError::invalid("save", "needs a window"))?;
    let document = window
        .document()
        .ok_or_else(|| DownloadError::invalid("save", "needs a document"))?;
    let name = filename
        .or_else(|| cell.filename.clone())
        .unwrap_or_else(|| default_filename(&cell.url));
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|e| DownloadError::new(ErrorCode::Storage, crate::web::js::describe(&e)))?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| DownloadError::invalid("save", crate::web::js::describe(&e)))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(&name);
    anchor.click();
    // Revoke after the browser has had time to start reading the Blob.
    wasm_bindgen_futures::spawn_local(async move {
        sleep_ms(SAVE_REVOKE_AFTER_MS).await;
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    Ok(())
}

/// How long an object URL made by `save()` lives.
const SAVE_REVOKE_AFTER_MS: f64 = 30_000.0;

/// The last non-empty path segment of `url`, percent-decoded, or `"download"`.
pub(crate) fn default_filename(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let seg = after_host.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let decoded = js_sys::decode_uri_component(seg)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    let clean: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !"/\\".contains(*c))
        .collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        "download".into()
    } else {
        clean
    }
}
