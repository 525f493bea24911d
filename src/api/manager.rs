//! [`DownloadManager`]: owns the downloads, their storage, the manager-level listeners and the
//! settings.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use super::download::{DownloadCell, State};
use super::error::{restored_error, to_js};
use super::events::{object, Events, EVENT_TYPES};
use super::options::{parse_add_options, parse_manager_options, parse_url, ManagerConfig};
use super::task::RunConfig;
use crate::core::queue::{stable_order, Queue};
use crate::core::{DownloadError, ErrorCode, Quoted};
use crate::web::env::request_persistence;
use crate::web::js::prop;
use crate::web::store::{database_name, Record, Store, StoreError};
use crate::web::tabs::Channel;
use crate::web::writer::{Backend, Writer};

/// Shared state of a manager.
pub(crate) struct ManagerInner {
    config: ManagerConfig,
    events: Rc<Events>,
    /// A no-op rejection handler shared by every `done` promise.
    swallow: JsValue,
    /// `None` when IndexedDB is unavailable: downloads then live in memory.
    store: Option<Rc<Store>>,
    storage_error: Option<DownloadError>,
    persistence_requested: std::cell::Cell<bool>,
    /// Runs in progress, and who waits for them all to end.
    runs: Rc<RefCell<Runs>>,
    /// Who runs and who waits.
    queue: RefCell<Queue>,
    /// Downloads settled since the manager was last idle, for the batch notification:
    /// (completed, failed, cancelled).
    batch: std::cell::Cell<(u32, u32, u32)>,
    /// Something was queued or running since the last `idle`.
    busy: std::cell::Cell<bool>,
    /// The channel to the other tabs using this name; `None` without Web Locks and
    /// `BroadcastChannel` (or without IndexedDB): single-tab behaviour.
    channel: RefCell<Option<Channel>>,
    s: RefCell<Registry>,
}

#[derive(Default)]
struct Runs {
    active: u32,
    idle_waiters: Vec<futures::channel::oneshot::Sender<()>>,
}

/// Held by a running download task; dropping it tells the manager the run has ended.
pub(crate) struct RunGuard(Rc<RefCell<Runs>>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let waiters = {
            let mut r = self.0.borrow_mut();
            r.active -= 1;
            if r.active > 0 {
                return;
            }
            std::mem::take(&mut r.idle_waiters)
        };
        for w in waiters {
            let _ = w.send(());
        }
    }
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

    /// Counts a run until the returned guard drops.
    pub fn run_started(&self) -> RunGuard {
        self.runs.borrow_mut().active += 1;
        RunGuard(self.runs.clone())
    }

    /// Resolves once no run is in progress.
    fn runs_ended(&self) -> impl Future<Output = ()> {
        let rx = {
            let mut r = self.runs.borrow_mut();
            (r.active > 0).then(|| {
                let (tx, rx) = futures::channel::oneshot::channel();
                r.idle_waiters.push(tx);
                rx
            })
        };
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }

    pub fn swallow(&self) -> JsValue {
        self.swallow.clone()
    }

    pub fn run_config(&self) -> RunConfig {
        RunConfig {
            timeouts: self.config.timeouts,
            retry: self.config.retry,
            progress_interval_ms: self.config.progress_interval_ms,
        }
    }

    /// Asks once per manager for persistent storage, when a download first starts.
    pub fn request_persistence(&self) {
        if self.store.is_some() && !self.persistence_requested.replace(true) {
            request_persistence();
        }
    }

    /// Starts deleting a download's stored bytes. The transaction is created before this
    /// returns, so it is ordered before any write created later.
    pub fn delete_stored(&self, id: &str) -> Option<impl Future<Output = Result<(), StoreError>>> {
        self.store.as_ref().map(|s| s.delete(id))
    }

    /// The Web Lock that makes one tab the writer of a download; `None` in single-tab mode.
    pub fn lock_name(&self, id: &str) -> Option<String> {
        self.channel.borrow().as_ref()?;
        Some(format!("{}/{id}", database_name(&self.config.name)))
    }

    /// Posts to the other tabs.
    pub fn post(&self, message: &JsValue) {
        if let Some(c) = self.channel.borrow().as_ref() {
            c.post(message);
        }
    }

    /// The stored record of `id`.
    pub async fn load_record(&self, id: &str) -> Option<Record> {
        self.store.as_ref()?.load(id).await.ok().flatten()
    }

    /// A message from another tab: an event of a download it runs, or a command for one this
    /// tab runs.
    fn on_message(self: &Rc<Self>, msg: JsValue) {
        let field = |k: &str| prop(&msg, k).and_then(|v| v.as_string());
        let (Some(kind), Some(id)) = (field("type"), field("id")) else {
            return;
        };
        if self.s.borrow().closed {
            return;
        }
        let cell = self.cell(&id);
        if kind == "command" {
            let Some(cell) = cell.filter(|c| !c.is_remote()) else {
                return;
            };
            match field("command").as_deref() {
                Some("pause") => cell.pause(),
                Some("resume") => cell.resume(&self.swallow),
                Some("cancel") => {
                    if let Some(f) = cell.cancel() {
                        wasm_bindgen_futures::spawn_local(f);
                    }
                }
                _ => {}
            }
            return;
        }
        match cell {
            Some(cell) => cell.apply_mirror(&kind, &msg),
            // A download another tab added: read it from storage, then mirror it.
            None => {
                let inner = self.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let Some(rec) = inner.load_record(&id).await else {
                        return;
                    };
                    let cell = match inner.cell(&id) {
                        Some(c) => c,
                        None => inner.restored_cell(rec),
                    };
                    cell.apply_mirror(&kind, &msg);
                });
            }
        }
    }

    /// A cell for a stored record (restored, or added by another tab).
    fn restored_cell(self: &Rc<Self>, rec: Record) -> Rc<DownloadCell> {
        let state = State::parse(&rec.state);
        let error = rec
            .error
            .as_ref()
            .filter(|_| state == State::Failed)
            .map(|(code, message)| restored_error(code, message));
        let state = match state {
            // Were running when the page went away, or run in another tab: they queue here.
            State::Running | State::Queued => State::Queued,
            s => s,
        };
        let writer = Writer::new(self.backend(), rec, self.config.chunk_bytes);
        let cell = DownloadCell::new(
            writer,
            state,
            error,
            self.events.clone(),
            Rc::downgrade(self),
            &self.swallow,
        );
        self.register(&cell);
        cell
    }

    fn cell(&self, id: &str) -> Option<Rc<DownloadCell>> {
        self.s.borrow().by_id.get(id).cloned()
    }

    fn start_granted(&self, ids: Vec<String>) {
        for id in ids {
            match self.cell(&id) {
                Some(c) => c.start_run(),
                None => self.dequeue(&id),
            }
        }
    }

    /// Puts a download in line for a slot.
    pub fn enqueue(&self, cell: &Rc<DownloadCell>) {
        self.busy.set(true);
        let started = self.queue.borrow_mut().enqueue(&cell.id, cell.priority);
        self.start_granted(started);
    }

    /// Takes a download out of line (or out of its slot).
    pub fn dequeue(&self, id: &str) {
        let started = self.queue.borrow_mut().remove(id);
        self.start_granted(started);
    }

    /// True if the download holds a slot.
    pub fn is_running(&self, id: &str) -> bool {
        self.queue.borrow().is_running(id)
    }

    /// A run ended: its slot frees. A download resumed while its run was winding down gets
    /// back in line.
    pub fn run_ended(&self, cell: &Rc<DownloadCell>) {
        self.dequeue(&cell.id);
        if cell.state() == State::Queued && !self.s.borrow().closed {
            self.enqueue(cell);
        }
        self.check_idle();
    }

    /// Records a state change of a download that is not running.
    pub fn save_record_state(&self, rec: Record) {
        if let Some(store) = self.store.clone() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = store.update(&rec).await;
            });
        }
    }

    /// Counts a settled download for the batch notification.
    pub fn note_settled(&self, state: State) {
        let (mut c, mut f, mut x) = self.batch.get();
        match state {
            State::Completed => c += 1,
            State::Failed => f += 1,
            State::Cancelled => x += 1,
            _ => {}
        }
        self.batch.set((c, f, x));
    }

    /// Emits `idle` when the last queued or running download stops, and shows the batch
    /// notification if it was asked for, something settled, and the page is hidden.
    pub fn check_idle(&self) {
        if self.s.borrow().closed {
            return;
        }
        let busy = self
            .cells()
            .iter()
            .any(|c| matches!(c.state(), State::Queued | State::Running));
        if busy || !self.busy.replace(false) {
            return;
        }
        self.events
            .emit("idle", &object(&[("type", "idle".into())]));
        let (c, f, x) = self.batch.replace((0, 0, 0));
        if let (Some(title), true) = (&self.config.notify_title, c + f + x > 0) {
            crate::web::env::notify_if_hidden(title, &batch_summary(c, f, x));
        }
    }
    fn backend(&self) -> Backend {
        match &self.store {
            Some(s) => Backend::Idb(s.clone()),
            None => Backend::Memory(Vec::new()),
        }
    }

    fn register(&self, cell: &Rc<DownloadCell>) {
        let mut s = self.s.borrow_mut();
        if s.by_id.insert(cell.id.clone(), cell.clone()).is_none() {
            s.order.push(cell.id.clone());
        }
    }

    /// Storage went away under the manager: every active download pauses with `STORAGE`.
    fn storage_lost(&self, why: &str) {
        for cell in self.cells() {
            cell.storage_lost(why);
        }
    }
}

/// Downloads with timeouts, progress, persistence and resume, and manager-level events.
#[wasm_bindgen]
pub struct DownloadManager {
    inner: Rc<ManagerInner>,
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
    /// `INVALID_ARGUMENT` naming the offending option.
    #[wasm_bindgen(unchecked_return_type = "Promise<DownloadManager>")]
    pub fn open(
        #[wasm_bindgen(unchecked_optional_param_type = "ManagerOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> js_sys::Promise {
        crate::web::js::promise(async move { Self::open_inner(options).await.map(JsValue::from) })
    }

    async fn open_inner(options: Option<js_sys::Object>) -> Result<DownloadManager, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let config = parse_manager_options(&options).map_err(|e| to_js(&e))?;
        let config_concurrency = config.concurrency;
        let weak: Rc<RefCell<Weak<ManagerInner>>> = Rc::default();
        let weak2 = weak.clone();
        let on_lost: Rc<dyn Fn(&str)> = Rc::new(move |why: &str| {
            if let Some(m) = weak2.borrow().upgrade() {
                m.storage_lost(why);
            }
        });
        let (store, storage_error) = if !config.persist {
            (None, None)
        } else {
            match Store::open(&config.name, on_lost).await {
                Ok(s) => (Some(Rc::new(s)), None),
                Err(e) => (None, Some(e)),
            }
        };
        let records = match &store {
            Some(s) => s.load_all().await.unwrap_or_default(),
            None => Vec::new(),
        };
        let inner = Rc::new(ManagerInner {
            config,
            events: Rc::new(Events::default()),
            swallow: Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value(),
            store,
            storage_error,
            persistence_requested: std::cell::Cell::new(false),
            runs: Rc::default(),
            queue: RefCell::new(Queue::new(config_concurrency)),
            batch: std::cell::Cell::new((0, 0, 0)),
            busy: std::cell::Cell::new(false),
            channel: RefCell::new(None),
            s: RefCell::new(Registry::default()),
        });
        *weak.borrow_mut() = Rc::downgrade(&inner);
        if inner.store.is_some() && crate::web::tabs::available() {
            let weak = Rc::downgrade(&inner);
            *inner.channel.borrow_mut() =
                Channel::open(&database_name(&inner.config.name), move |msg| {
                    if let Some(m) = weak.upgrade() {
                        m.on_message(msg);
                    }
                });
        }
        let manager = DownloadManager { inner };
        manager.restore(records).await;
        Ok(manager)
    }

    async fn restore(&self, mut records: Vec<Record>) {
        let inner = &self.inner;
        let now = js_sys::Date::now();
        let expire = inner.config.expire_after_ms as f64;
        let created: Vec<f64> = records.iter().map(|r| r.created_at).collect();
        let mut to_start = Vec::new();
        for i in stable_order(&created) {
            let rec = std::mem::take(&mut records[i]);
            let state = State::parse(&rec.state);
            if state != State::Completed && expire > 0.0 && now - rec.updated_at > expire {
                if let Some(d) = inner.delete_stored(&rec.id) {
                    let _ = d.await;
                }
                continue;
            }
            let cell = inner.restored_cell(rec);
            if cell.state() == State::Queued {
                to_start.push(cell);
            }
        }
        if to_start.is_empty() {
            return;
        }
        // Start after the caller's `await open()` has resumed and attached its listeners, so
        // that they see every event of the restored downloads.
        wasm_bindgen_futures::spawn_local(async move {
            crate::web::clock::sleep_ms(0.0).await;
            for cell in to_start {
                if cell.state() == State::Queued {
                    if let Some(m) = cell.manager.upgrade() {
                        m.enqueue(&cell);
                    }
                }
            }
        });
    }

    /// The name this manager was opened with.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.config.name.clone()
    }

    /// True when tabs coordinate: one tab writes each download (a Web Lock), the others mirror
    /// its progress and can take over. False where Web Locks or `BroadcastChannel` are missing
    /// or IndexedDB is unavailable; a download is then never written twice all the same, as
    /// each write checks the stored offset.
    #[wasm_bindgen(getter, js_name = multiTab)]
    pub fn multi_tab(&self) -> bool {
        self.inner.channel.borrow().is_some()
    }

    /// True when downloads are kept in IndexedDB and survive a reload.
    #[wasm_bindgen(getter)]
    pub fn persistent(&self) -> bool {
        self.inner.store.is_some()
    }

    /// Where downloads are stored: `{ backend: 'indexeddb', chunks: 'blob' }`, or
    /// `chunks: 'arraybuffer'` where IndexedDB refuses Blob values (WebKit); `{ backend:
    /// 'memory', chunks: null }` when nothing persists. Read-only, found at `open()`.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{ backend: 'indexeddb' | 'memory'; chunks: 'blob' | 'arraybuffer' | null }"
    )]
    pub fn storage(&self) -> JsValue {
        let form = self.inner.store.as_ref().map(|s| s.chunk_form().as_str());
        object(&[
            ("backend", form.map_or("memory", |_| "indexeddb").into()),
            ("chunks", form.map_or(JsValue::NULL, JsValue::from_str)),
        ])
    }

    /// Why the manager is not persistent (a `STORAGE` `DownloadError`), else `null` (also when
    /// it was opened with `persist: false`).
    #[wasm_bindgen(getter, js_name = storageError, unchecked_return_type = "DownloadError | null")]
    pub fn storage_error(&self) -> JsValue {
        self.inner
            .storage_error
            .as_ref()
            .map_or(JsValue::NULL, to_js)
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
                    format!("{} is already used for {}", Quoted(&id), existing.url),
                ));
            }
            if existing.state() != State::Cancelled {
                return Ok(existing.handle());
            }
        }
        let now = js_sys::Date::now();
        let rec = Record {
            id: id.clone(),
            url,
            filename: opts.filename,
            headers: opts.headers,
            integrity: opts.integrity,
            state: "running".into(),
            priority: opts.priority,
            created_at: now,
            updated_at: now,
            ..Record::default()
        };
        // The record's transaction is created now, so that a cancel issued right after this
        // call is ordered after it.
        let created = inner.store.as_ref().map(|s| s.create(&rec));
        let writer = Writer::new(inner.backend(), rec, inner.config.chunk_bytes);
        let cell = DownloadCell::new(
            writer,
            State::Queued,
            None,
            inner.events.clone(),
            Rc::downgrade(inner),
            &inner.swallow,
        );
        inner.register(&cell);
        if let Some(signal) = opts.signal {
            if signal.aborted() {
                let cancelling = cell.cancel();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Some(c) = created {
                        let _ = c.await;
                    }
                    if let Some(c) = cancelling {
                        c.await;
                    }
                });
                return Ok(cell.handle());
            }
            let weak = Rc::downgrade(&cell);
            let listener = gloo_events::EventListener::once(&signal, "abort", move |_| {
                if let Some(c) = weak.upgrade() {
                    if let Some(f) = c.cancel() {
                        wasm_bindgen_futures::spawn_local(f);
                    }
                }
            });
            cell.m.borrow_mut().signal_listener = Some(listener);
        }
        let starting = cell.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let ok = match created {
                Some(c) => c.await,
                None => Ok(()),
            };
            match ok {
                Ok(()) if starting.state() == State::Queued => {
                    if let Some(w) = starting.m.borrow_mut().writer.as_mut() {
                        w.mark_in_sync();
                    }
                    starting.request_run()
                }
                Ok(()) => {}
                // Another tab (or an earlier page) stored this download: adopt it rather than
                // start a second transfer; its lock decides who writes.
                Err(StoreError::Exists) => starting.adopt_stored().await,
                Err(e) => starting.fail_to_store(e.to_download_error()),
            }
        });
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

    /// Cancels the download if it is active, deletes its stored bytes, and forgets it.
    /// Resolves with `true` if it existed.
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
        let Some(cell) = removed else {
            return Ok(false);
        };
        if let Some(cancelling) = cell.cancel() {
            cancelling.await;
        } else if let Some(d) = self.inner.delete_stored(&id) {
            d.await.map_err(|e| to_js(&e.to_download_error()))?;
        }
        // The handle refers back to the cell; drop that link so both can be freed.
        cell.m.borrow_mut().handle = JsValue::UNDEFINED;
        Ok(true)
    }

    /// Adds a listener for `'progress' | 'statechange' | 'complete' | 'error' | 'idle' |
    /// 'restarted' | 'retry'`. Returns a function that removes it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for an unknown type or a listener that is not a function, or after
    /// `close()`.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, kind: &str, listener: JsValue) -> Result<Function, JsValue> {
        self.on_inner(kind, listener).map_err(|e| to_js(&e))
    }

    fn on_inner(&self, kind: &str, listener: JsValue) -> Result<Function, DownloadError> {
        self.inner.ensure_open()?;
        let kind = EVENT_TYPES.iter().find(|k| **k == kind).ok_or_else(|| {
            DownloadError::invalid(
                "type",
                format!("{} is not one of {}", Quoted(kind), EVENT_TYPES.join(", ")),
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

    /// Resolves once every named download (by default every one known now) has settled, with
    /// `{ completed: [ids], failed: [{ id, code }], cancelled: [ids] }`. It never rejects
    /// because a download failed; a paused download keeps it waiting. It works whether or not
    /// the page was visible when the downloads settled.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for an unknown id or after `close()`; `ABORTED` if the manager
    /// closes first.
    #[wasm_bindgen(js_name = whenAll, unchecked_return_type = "Promise<WhenAllResult>")]
    pub fn when_all(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "string[]")] ids: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        let cells = self.when_all_cells(&ids).map_err(|e| to_js(&e))?;
        let inner = Rc::downgrade(&self.inner);
        Ok(crate::web::js::promise(async move {
            for c in &cells {
                c.settled().await;
            }
            if inner.upgrade().is_none_or(|m| m.s.borrow().closed) {
                return Err(to_js(&DownloadError::new(
                    ErrorCode::Aborted,
                    "the manager was closed",
                )));
            }
            let (completed, failed, cancelled) = (Array::new(), Array::new(), Array::new());
            for c in &cells {
                let id = JsValue::from_str(&c.id);
                match c.state() {
                    State::Completed => completed.push(&id),
                    State::Cancelled => cancelled.push(&id),
                    _ => {
                        let code =
                            c.m.borrow()
                                .error
                                .as_ref()
                                .map_or("STORAGE", |e| e.code.as_str());
                        failed.push(&object(&[("id", id), ("code", code.into())]))
                    }
                };
            }
            Ok(object(&[
                ("completed", completed.into()),
                ("failed", failed.into()),
                ("cancelled", cancelled.into()),
            ]))
        }))
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
        self.inner.ensure_open().map_err(|e| to_js(&e))?;
        for c in self.inner.cells() {
            c.pause();
        }
        Ok(())
    }

    /// Resumes every paused download (they queue for slots in their original order).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`.
    #[wasm_bindgen(js_name = resumeAll)]
    pub fn resume_all(&self) -> Result<(), JsValue> {
        self.inner.ensure_open().map_err(|e| to_js(&e))?;
        for c in self.inner.cells() {
            if c.state() == State::Paused {
                c.resume(&self.inner.swallow);
            }
        }
        Ok(())
    }

    /// Asks the user for permission to show the `notifyWhenDone` notification. Browsers only
    /// ask from a user gesture, so call it from a click handler. Resolves with `'granted'`,
    /// `'denied'` or `'default'`.
    #[wasm_bindgen(js_name = requestNotificationPermission, unchecked_return_type = "Promise<NotificationPermission>")]
    pub fn request_notification_permission(&self) -> js_sys::Promise {
        crate::web::env::request_notification_permission()
    }

    /// Stops every transfer and releases the listeners. The bytes that arrived are committed
    /// and the stored state stays: a download that was running continues when a manager opens
    /// this database again. The `done` of each active download rejects with `ABORTED`.
    /// Further calls on this manager throw `INVALID_ARGUMENT`; calling it twice is harmless.
    /// The returned promise resolves once every transfer has stopped and committed, which is
    /// when another manager on the same database can take over without fetching anything twice.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> js_sys::Promise {
        let cells = {
            let mut s = self.inner.s.borrow_mut();
            if !s.closed {
                s.closed = true;
                s.order.clear();
                std::mem::take(&mut s.by_id)
            } else {
                HashMap::new()
            }
        };
        self.inner.events.clear();
        for cell in cells.into_values() {
            cell.close(DownloadError::new(
                ErrorCode::Aborted,
                "the manager was closed",
            ));
            cell.m.borrow_mut().handle = JsValue::UNDEFINED;
        }
        let ended = self.inner.runs_ended();
        crate::web::js::promise(async move {
            ended.await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The body of the batch notification.
fn batch_summary(completed: u32, failed: u32, cancelled: u32) -> String {
    let mut parts = vec![format!("{completed} completed")];
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if cancelled > 0 {
        parts.push(format!("{cancelled} cancelled"));
    }
    parts.join(", ")
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
