//! [`DownloadManager`]: owns the downloads, the manager-level listeners and the settings.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use super::download::{DownloadCell, State};
use super::error::to_js;
use super::events::{object, Events, EVENT_TYPES};
use super::options::{parse_add_options, parse_manager_options, parse_url, ManagerConfig};
use crate::core::timeouts::deadline_from;
use crate::core::DownloadError;
use crate::web::cancel::StopReason;
use crate::web::chunks::BlobChunks;
use crate::web::clock::now_ms;
use crate::web::transfer::{self, TransferEnd, TransferLimits, TransferSpec};

/// Shared state of a manager.
pub(crate) struct ManagerInner {
    config: ManagerConfig,
    events: Rc<Events>,
    /// A no-op rejection handler shared by every `done` promise.
    swallow: JsValue,
    s: RefCell<Registry>,
}

#[derive(Default)]
struct Registry {
    closed: bool,
    order: Vec<String>,
    by_id: HashMap<String, Rc<DownloadCell>>,
}

impl ManagerInner {
    fn ensure_open(&self) -> Result<(), DownloadError> {
        if self.s.borrow().closed {
            return Err(DownloadError::invalid("manager", "is closed"));
        }
        Ok(())
    }

    fn cells(&self) -> Vec<Rc<DownloadCell>> {
        let s = self.s.borrow();
        s.order
            .iter()
            .filter_map(|id| s.by_id.get(id).cloned())
            .collect()
    }

    /// Called by a download after it settles: emits `idle` when nothing is left to do.
    pub fn on_settled(&self) {
        let busy = self
            .cells()
            .iter()
            .any(|c| matches!(c.state(), State::Queued | State::Running));
        if !busy && !self.s.borrow().closed {
            self.events
                .emit("idle", &object(&[("type", "idle".into())]));
        }
    }
}

/// Downloads with a queue, timeouts, progress and manager-level events.
#[wasm_bindgen]
pub struct DownloadManager {
    inner: Rc<ManagerInner>,
}

#[wasm_bindgen]
impl DownloadManager {
    /// Opens a manager. Every option is optional:
    /// `{ name: 'default', timeouts: { headers: 30000, stall: 30000, total: 0 },
    ///    chunkBytes: 4194304, progressIntervalMs: 100 }`.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming the offending option.
    pub async fn open(options: JsValue) -> Result<DownloadManager, JsValue> {
        let config = parse_manager_options(&options).map_err(|e| to_js(&e))?;
        let swallow = Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value();
        Ok(DownloadManager {
            inner: Rc::new(ManagerInner {
                config,
                events: Rc::new(Events::default()),
                swallow,
                s: RefCell::new(Registry::default()),
            }),
        })
    }

    /// The database name this manager was opened with.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.config.name.clone()
    }

    /// Adds a download and starts it. Options: `{ id, filename, headers, signal }`.
    ///
    /// A download whose id is already known (by default the id is derived from the URL) is
    /// returned as it is, without a second transfer, unless it was cancelled or failed, in
    /// which case a new download replaces it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a bad URL or bad options, or after `close()`.
    #[wasm_bindgen(unchecked_return_type = "Download")]
    pub fn add(&self, url: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        self.add_inner(&url, &options).map_err(|e| to_js(&e))
    }

    fn add_inner(&self, url: &JsValue, options: &JsValue) -> Result<JsValue, DownloadError> {
        let inner = &self.inner;
        inner.ensure_open()?;
        let url = parse_url(url)?;
        let opts = parse_add_options(options)?;
        let id = opts.id.unwrap_or_else(|| id_for_url(&url));
        if let Some(existing) = inner.s.borrow().by_id.get(&id) {
            if existing.url != url {
                return Err(DownloadError::invalid(
                    "options.id",
                    format!("{id:?} is already used for {}", existing.url),
                ));
            }
            if !matches!(existing.state(), State::Cancelled | State::Failed) {
                return Ok(existing.handle());
            }
        }
        let cell = DownloadCell::new(
            id.clone(),
            url,
            opts.filename,
            opts.headers,
            inner.events.clone(),
            Rc::downgrade(inner),
            &inner.swallow,
        );
        {
            let mut s = inner.s.borrow_mut();
            if s.by_id.insert(id.clone(), cell.clone()).is_none() {
                s.order.push(id);
            }
        }
        if let Some(signal) = opts.signal {
            if signal.aborted() {
                cell.cancel();
                return Ok(cell.handle());
            }
            let weak = Rc::downgrade(&cell);
            let listener = gloo_events::EventListener::once(&signal, "abort", move |_| {
                if let Some(c) = weak.upgrade() {
                    c.cancel();
                }
            });
            cell.m.borrow_mut().signal_listener = Some(listener);
        }
        start(cell.clone(), &inner.config);
        Ok(cell.handle())
    }

    /// The download with this id, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Download | undefined")]
    pub fn get(&self, id: &str) -> JsValue {
        self.inner
            .s
            .borrow()
            .by_id
            .get(id)
            .map_or(JsValue::UNDEFINED, |c| c.handle())
    }

    /// Every download, in the order they were added.
    #[wasm_bindgen(unchecked_return_type = "Download[]")]
    pub fn list(&self) -> Array {
        self.inner.cells().iter().map(|c| c.handle()).collect()
    }

    /// Cancels the download if it is running and forgets it. Resolves with `true` if it
    /// existed.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`.
    pub async fn remove(&self, id: String) -> Result<bool, JsValue> {
        self.inner.ensure_open().map_err(|e| to_js(&e))?;
        let removed = {
            let mut s = self.inner.s.borrow_mut();
            s.order.retain(|x| x != &id);
            s.by_id.remove(&id)
        };
        Ok(match removed {
            Some(cell) => {
                cell.cancel();
                // The handle refers back to the cell; drop that link so both can be freed.
                cell.m.borrow_mut().handle = JsValue::UNDEFINED;
                true
            }
            None => false,
        })
    }

    /// Adds a listener for `'progress' | 'statechange' | 'complete' | 'error' | 'idle'`.
    /// Returns a function that removes it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for an unknown type or a listener that is not a function, or after
    /// `close()`.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn on(&self, kind: &str, listener: JsValue) -> Result<Function, JsValue> {
        self.on_inner(kind, listener).map_err(|e| to_js(&e))
    }

    fn on_inner(&self, kind: &str, listener: JsValue) -> Result<Function, DownloadError> {
        self.inner.ensure_open()?;
        let kind = EVENT_TYPES.iter().find(|k| **k == kind).ok_or_else(|| {
            DownloadError::invalid(
                "type",
                format!("{kind:?} is not one of {}", EVENT_TYPES.join(", ")),
            )
        })?;
        let f: Function = listener
            .dyn_into()
            .map_err(|_| DownloadError::invalid("listener", "must be a function"))?;
        let id = self.inner.events.add(kind, f);
        let events = Rc::downgrade(&self.inner.events);
        let unsubscribe = Closure::<dyn Fn()>::new(move || {
            if let Some(e) = events.upgrade() {
                e.remove(id);
            }
        });
        Ok(unsubscribe.into_js_value().unchecked_into())
    }

    /// Stops every transfer and releases listeners. Downloads that were running end as
    /// `paused` and their `done` rejects with `ABORTED`. Further calls on the manager throw
    /// `INVALID_ARGUMENT`. Calling it twice is harmless.
    pub fn close(&self) {
        let cells = {
            let mut s = self.inner.s.borrow_mut();
            if s.closed {
                return;
            }
            s.closed = true;
            s.order.clear();
            std::mem::take(&mut s.by_id)
        };
        self.inner.events.clear();
        for cell in cells.into_values() {
            if !cell.state().is_settled() {
                cell.stop.stop(StopReason::Close);
                cell.close(DownloadError::new(
                    crate::core::ErrorCode::Aborted,
                    "the manager was closed",
                ));
            }
            cell.m.borrow_mut().handle = JsValue::UNDEFINED;
        }
    }
}

/// The default id: a stable hash of the absolute URL.
fn id_for_url(url: &str) -> String {
    // FNV-1a, 64 bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in url.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("dl-{h:016x}")
}

/// Runs a download's transfer on the local task queue.
fn start(cell: Rc<DownloadCell>, config: &ManagerConfig) {
    let limits = TransferLimits {
        timeouts: config.timeouts,
        deadline_at: deadline_from(&config.timeouts, now_ms()),
        progress_interval_ms: config.progress_interval_ms,
    };
    let chunk_bytes = config.chunk_bytes;
    cell.set_state(State::Running);
    wasm_bindgen_futures::spawn_local(async move {
        let spec = TransferSpec {
            url: cell.url.clone(),
            headers: cell.headers.clone(),
        };
        let mut chunks = BlobChunks::new(chunk_bytes);
        let progress_cell = cell.clone();
        let mut on_progress = move |p| progress_cell.report_progress(p);
        match transfer::run(&spec, &limits, &cell.stop, &mut chunks, &mut on_progress).await {
            Ok(t) => {
                {
                    let mut m = cell.m.borrow_mut();
                    m.final_url = Some(t.final_url);
                    m.content_type = t.content_type;
                }
                cell.report_progress(t.progress);
                cell.settle(State::Completed, Ok(Some(chunks)));
            }
            Err(TransferEnd::Failed(e)) => cell.settle(State::Failed, Err(e)),
            // Whoever stopped it has settled it.
            Err(TransferEnd::Stopped) => {}
        }
    });
}
