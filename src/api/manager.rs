//! [`DownloadManager`]: the page's handle on a manager. It owns the manager (as does every
//! `Download` handle and every queued or running download); `close()`, `free()` and `using`
//! close it deliberately.

use std::rc::Rc;

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use super::args::{self, thrown};
use super::download::Download;
use super::error::to_js;
use super::options::{parse_add_options, parse_manager_options, parse_url};
use crate::core::{DownloadError, Quoted};
use crate::engine::download::DownloadCell;
use crate::engine::events::EVENT_TYPES;
use crate::engine::manager::ManagerInner;
use crate::web::codec::object;

#[wasm_bindgen(inline_js = "
export function close_on_free(manager) {
  const proto = Object.getPrototypeOf(manager);
  if (Object.prototype.hasOwnProperty.call(proto, '__closeOnFree')) return;
  const free = proto.free;
  const closing = function () {
    if (this.__wbg_ptr) { try { this.close(); } catch (e) { /* already closed */ } }
    return free.call(this);
  };
  Object.defineProperty(proto, '__closeOnFree', { value: true });
  proto.free = closing;
  if (typeof Symbol === 'function' && Symbol.dispose) proto[Symbol.dispose] = closing;
}
")]
extern "C" {
    /// Makes `free()` and `[Symbol.dispose]` of the manager class close the manager first.
    /// A manager the garbage collector frees is not closed: its work goes on (I15).
    fn close_on_free(manager: &JsValue);
}

/// Downloads with timeouts, progress, persistence and resume, and manager-level events.
#[wasm_bindgen]
pub struct DownloadManager {
    inner: Rc<ManagerInner>,
}

fn handle(cell: &Rc<DownloadCell>) -> JsValue {
    cell.handle()
}

#[wasm_bindgen]
impl DownloadManager {
    /// Opens a manager on the database `name` and restores the downloads stored there:
    /// downloads that were running continue by themselves. Every option is optional:
    /// `{ name: 'default', timeouts: { headers: 30000, stall: 30000, total: 0 },
    ///    retry: { limit: 5, backoffMs: 1000, maxBackoffMs: 60000, jitter: true,
    ///             maxRetryAfterMs: 300000 },
    ///    chunkBytes: 4194304, progressIntervalMs: 100, expireAfterMs: 604800000 }`.
    ///
    /// When IndexedDB is unavailable the manager still works, in memory: `persistent` is
    /// false and `storageError` says why.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming the offending option; `STORAGE` if the stored downloads
    /// cannot be read.
    #[wasm_bindgen(unchecked_return_type = "Promise<DownloadManager>")]
    pub fn open(
        #[wasm_bindgen(unchecked_optional_param_type = "ManagerOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> js_sys::Promise {
        crate::web::js::promise(async move {
            let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
            let config = parse_manager_options(&options).map_err(|e| to_js(&e))?;
            let inner = ManagerInner::open(config, Box::new(|h| Download::from(h).into()))
                .await
                .map_err(|e| to_js(&e))?;
            let manager: JsValue = DownloadManager { inner }.into();
            close_on_free(&manager);
            Ok(manager)
        })
    }

    /// The name this manager was opened with.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.config().name.clone()
    }

    /// True when tabs coordinate: one tab writes each download (a Web Lock), the others mirror
    /// its progress and can take over. False where Web Locks or `BroadcastChannel` are missing
    /// or IndexedDB is unavailable; a download is then never written twice all the same, as
    /// each write checks the stored offset.
    #[wasm_bindgen(getter, js_name = multiTab)]
    pub fn multi_tab(&self) -> bool {
        self.inner.multi_tab()
    }

    /// True when downloads are kept in IndexedDB and survive a reload.
    #[wasm_bindgen(getter)]
    pub fn persistent(&self) -> bool {
        self.inner.persistent()
    }

    /// Where new downloads are stored and why: `{ backend: 'opfs', chunks, reason }` (the
    /// bytes in a file per download, written by a storage worker, the records in IndexedDB),
    /// `{ backend: 'indexeddb', chunks: 'blob' | 'arraybuffer', reason }` (`'arraybuffer'`
    /// where IndexedDB refuses Blob values: WebKit), or `{ backend: 'memory', chunks: null,
    /// reason }`. `chunks` is how IndexedDB chunks are stored. Read-only, found at `open()`.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{ backend: 'opfs' | 'indexeddb' | 'memory'; chunks: 'blob' | 'arraybuffer' | null; reason: string }"
    )]
    pub fn storage(&self) -> JsValue {
        let form = self.inner.chunk_form();
        let (kind, reason) = self.inner.storage_kind();
        object(&[
            ("backend", kind.into()),
            ("chunks", form.map_or(JsValue::NULL, JsValue::from_str)),
            ("reason", reason.into()),
        ])
    }

    /// Background Fetch: `default` is `'auto'` when new downloads are handed to it where they
    /// can be (the `background` option), else `'never'`; `available` says whether this page
    /// can hand a download over now (a window controlled by a service worker, in a browser
    /// with Background Fetch, with the downloads stored), and `reason` why not (`undefined`
    /// when it can).
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{ default: 'never' | 'auto'; available: boolean; reason: string | undefined }"
    )]
    pub fn background(&self) -> JsValue {
        let (auto, why) = self.inner.background_status();
        object(&[
            ("default", if auto { "auto" } else { "never" }.into()),
            ("available", why.is_none().into()),
            ("reason", why.map_or(JsValue::UNDEFINED, |w| w.into())),
        ])
    }

    /// Why the manager is not persistent (a `STORAGE` `DownloadError`), else `undefined` (also
    /// when it was opened with `persist: false`).
    #[wasm_bindgen(getter, js_name = storageError, unchecked_return_type = "DownloadError | undefined")]
    pub fn storage_error(&self) -> JsValue {
        self.inner.storage_error().map_or(JsValue::UNDEFINED, to_js)
    }

    /// Adds a download and starts it. Options: `{ id, filename, headers, signal, integrity }`.
    ///
    /// A download whose id is already known (by default the id is derived from the URL) is
    /// returned as it is, without a second transfer, unless it was cancelled, in which case a
    /// new download replaces it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a bad URL or bad options, or after `close()`.
    #[wasm_bindgen(unchecked_return_type = "Download")]
    pub fn add(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | URL")] url: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "AddOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Result<JsValue, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let added = (|| {
            self.inner.ensure_open()?;
            let url = parse_url(&url)?;
            let opts = parse_add_options(&options)?;
            self.inner.add(url, opts)
        })();
        added.map(|c| handle(&c)).map_err(|e| to_js(&e))
    }

    /// The download with this id, or else the one added for this URL (resolved as `add()`
    /// resolves it: the one `add(url)` made without an id, else the first added with it);
    /// `undefined` when there is none.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a key that is neither a string nor a `URL`, or after `close()`.
    #[wasm_bindgen(unchecked_return_type = "Download | undefined")]
    pub fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | URL")] id: JsValue,
    ) -> Result<JsValue, JsValue> {
        thrown((|| {
            self.inner.ensure_open()?;
            let by_id = match id.dyn_ref::<web_sys::Url>() {
                Some(_) => None,
                None => self.inner.cell(&args::string(&id, "id")?),
            };
            let found = by_id.or_else(|| {
                let url = parse_url(&id).ok()?;
                self.inner.cell_for_url(&url)
            });
            Ok(found.map_or(JsValue::UNDEFINED, |c| handle(&c)))
        })())
    }

    /// Every download, in the order they were added.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`.
    #[wasm_bindgen(unchecked_return_type = "Download[]")]
    pub fn list(&self) -> Result<Array, JsValue> {
        thrown(self.inner.ensure_open())?;
        Ok(self.inner.cells().iter().map(handle).collect())
    }

    /// Cancels the download if it is active, deletes its stored bytes, and forgets it.
    /// Resolves with `true` if it existed, `false` for an unknown id.
    ///
    /// # Errors
    /// Rejects with `INVALID_ARGUMENT` for an id that is not a string or after `close()`;
    /// `STORAGE` if the delete fails.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn remove(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> js_sys::Promise {
        let id = match args::string(&id, "id") {
            Ok(id) => id,
            Err(e) => return args::rejected(&e),
        };
        let inner = self.inner.clone();
        crate::web::js::promise(async move {
            let removed = inner.remove(&id).await.map_err(|e| to_js(&e))?;
            Ok(removed.into())
        })
    }

    /// Adds a listener for `'progress' | 'statechange' | 'complete' | 'error' | 'idle' |
    /// 'restarted' | 'retry'`. Returns a function that removes it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for an unknown type or a listener that is not a function, or after
    /// `close()`.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, kind: JsValue, listener: JsValue) -> Result<Function, JsValue> {
        thrown(self.on_inner(&kind, listener))
    }

    fn on_inner(&self, kind: &JsValue, listener: JsValue) -> Result<Function, DownloadError> {
        self.inner.ensure_open()?;
        let kind = args::string(kind, "type")?;
        let kind = EVENT_TYPES.iter().find(|k| **k == kind).ok_or_else(|| {
            DownloadError::invalid(
                "type",
                format!("{} is not one of {}", Quoted(&kind), EVENT_TYPES.join(", ")),
            )
        })?;
        let f: Function = listener
            .dyn_into()
            .map_err(|_| DownloadError::invalid("listener", "must be a function"))?;
        let id = self.inner.listen(kind, f)?;
        let events = Rc::downgrade(&self.inner.listeners());
        let unsubscribe = Closure::<dyn Fn()>::new(move || {
            if let Some(e) = events.upgrade() {
                e.remove(id);
            }
        });
        Ok(unsubscribe.into_js_value().unchecked_into())
    }

    /// Resolves once every named download (by default every one known now) has settled, with
    /// `{ completed: [ids], failed: [{ id, code }], cancelled: [ids] }`. It never rejects
    /// because a download failed; a paused download keeps it waiting. It works whether or not
    /// the page was visible when the downloads settled.
    ///
    /// # Errors
    /// Rejects with `INVALID_ARGUMENT` for an unknown id or after `close()`, and with
    /// `ABORTED` if the manager closes first.
    #[wasm_bindgen(js_name = whenAll, unchecked_return_type = "Promise<WhenAllResult>")]
    pub fn when_all(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "string[]")] ids: JsValue,
    ) -> js_sys::Promise {
        let cells = match self.when_all_cells(&ids) {
            Ok(cells) => cells,
            Err(e) => return args::rejected(&e),
        };
        let inner = self.inner.clone();
        crate::web::js::promise(async move {
            let sum = inner.when_all(cells).await.map_err(|e| to_js(&e))?;
            let ids = |v: &[String]| -> JsValue {
                v.iter()
                    .map(|s| JsValue::from_str(s))
                    .collect::<Array>()
                    .into()
            };
            let failed: Array = sum
                .failed
                .iter()
                .map(|(id, code)| object(&[("id", id.as_str().into()), ("code", (*code).into())]))
                .collect();
            Ok(object(&[
                ("completed", ids(&sum.completed)),
                ("failed", failed.into()),
                ("cancelled", ids(&sum.cancelled)),
            ]))
        })
    }

    fn when_all_cells(&self, ids: &JsValue) -> Result<Vec<Rc<DownloadCell>>, DownloadError> {
        self.inner.ensure_open()?;
        if ids.is_undefined() || ids.is_null() {
            return Ok(self.inner.cells());
        }
        if !Array::is_array(ids) {
            return Err(DownloadError::invalid(
                "ids",
                "must be an array of download ids",
            ));
        }
        Array::from(ids)
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let id = id.as_string().ok_or_else(|| {
                    DownloadError::invalid(&format!("ids[{i}]"), "must be a string")
                })?;
                self.inner.cell(&id).ok_or_else(|| {
                    DownloadError::invalid(
                        &format!("ids[{i}]"),
                        format!("no download {}", Quoted(&id)),
                    )
                })
            })
            .collect()
    }

    /// Pauses every queued or running download.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`.
    #[wasm_bindgen(js_name = pauseAll)]
    pub fn pause_all(&self) -> Result<(), JsValue> {
        self.inner.pause_all().map_err(|e| to_js(&e))
    }

    /// Resumes every paused download (they queue for slots in their original order).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`.
    #[wasm_bindgen(js_name = resumeAll)]
    pub fn resume_all(&self) -> Result<(), JsValue> {
        self.inner.resume_all().map_err(|e| to_js(&e))
    }

    /// Asks the user for permission to show the `notifyWhenDone` notification. Browsers only
    /// ask from a user gesture, so call it from a click handler. Resolves with `'granted'`,
    /// `'denied'` or `'default'`.
    #[wasm_bindgen(js_name = requestNotificationPermission, unchecked_return_type = "Promise<NotificationPermission>")]
    pub fn request_notification_permission(&self) -> js_sys::Promise {
        crate::web::env::request_notification_permission()
    }

    /// Stops every transfer and releases the listeners, the channel to other tabs and the
    /// database connection. The bytes that arrived are committed and the stored state stays:
    /// a download that was running continues when a manager opens this database again. The
    /// `done` of each active download rejects with `ABORTED`. Further calls on this manager
    /// throw `INVALID_ARGUMENT`; calling it twice is harmless. The returned promise resolves
    /// once every transfer has stopped and committed, which is when another manager on the
    /// same database can take over without fetching anything twice. `free()` and `using`
    /// close the manager too.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> js_sys::Promise {
        let closed = self.inner.close();
        crate::web::js::promise(async move {
            closed.await;
            Ok(JsValue::UNDEFINED)
        })
    }
}
