//! [`ManagerInner`]: the registry of downloads, the queue, run accounting, storage, the
//! manager-level listeners and the channel to other tabs; open, restore and close.
//!
//! Ownership (I15): the page's `DownloadManager`, every `Download` handle, every queued or
//! running download and every run task hold an `Rc` to it. When none is left, it drops, and
//! with it the BroadcastChannel, the IndexedDB connection and every pending lock request.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

use futures::future::LocalBoxFuture;
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::config::{AddOptions, ManagerConfig, PrepareHook, StorageChoice};
use super::download::{DownloadCell, Handle, Host};
use super::events::Events;
use super::runs::{RunGuard, Runs};
use crate::core::lifecycle::{expired, on_restore, restored, Batch, Restore, State};
use crate::core::naming::id_for_url;
use crate::core::placement::{place, Asked, Has, Placement};
use crate::core::queue::{stable_order, Queue};
use crate::core::run::RunConfig;
use crate::core::stored::Stored;
use crate::core::{DownloadError, ErrorCode, Quoted};
use crate::web::codec::{object, read_tab_message, tab_message};
use crate::web::env::request_persistence;
use crate::web::js::prop;
use crate::web::opfs::{Files, Target};
use crate::web::store::{database_name, Record, Store, StoreError};
use crate::web::tabs::Channel;
use crate::web::writer::{Backend, Sink, Writer};

/// The `ABORTED` error of a download cancelled by its `AbortSignal`, with the signal's
/// `reason` as its `cause`.
fn signal_error(signal: &web_sys::AbortSignal) -> DownloadError {
    let reason = signal.reason();
    DownloadError::new(
        ErrorCode::Aborted,
        format!(
            "the download was cancelled by its signal: {}",
            crate::web::js::describe(&reason)
        ),
    )
    .with_cause(reason)
}

/// Where a manager keeps its downloads, as it opened, and what it found stored.
struct Opened {
    store: Option<Rc<Store>>,
    files: Option<Rc<Files>>,
    /// Why the bytes go where they go (`manager.storage.reason`).
    reason: String,
    /// Why the manager is not persistent though it was asked to be.
    error: Option<DownloadError>,
    /// The stored downloads.
    records: Vec<Record>,
}

/// Opens the database and the storage worker (which starts at once and probes while the
/// database opens), and reads every stored download.
async fn open_storage(config: &ManagerConfig, on_lost: Rc<dyn Fn(&str)>) -> Opened {
    let want_files = config.persist && config.storage != StorageChoice::Indexeddb;
    let files = want_files.then(|| Files::open(&config.name));
    let store = if config.persist {
        Some(Store::open(&config.name, on_lost).await)
    } else {
        None
    };
    let files = match files {
        Some(f) => Some(f.await),
        None => None,
    };
    let store = store.map(|s| s.map(Rc::new));
    let loaded = match &store {
        Some(Ok(s)) => Some(s.load_all().await),
        _ => None,
    };
    let mut opened = Opened::of(store, loaded);
    (opened.files, opened.reason) = match (&opened.store, files) {
        (None, _) if !config.persist => (None, "persist: false keeps downloads in memory".into()),
        (None, _) => (
            None,
            "IndexedDB is unavailable: downloads are kept in memory".into(),
        ),
        (Some(_), None) => (None, "storage: 'indexeddb' was asked for".into()),
        (Some(_), Some(Ok(f))) => (
            Some(Rc::new(f)),
            "OPFS files written by a storage worker, records in IndexedDB".into(),
        ),
        (Some(_), Some(Err(why))) => (None, format!("OPFS is not used: {why}")),
    };
    opened
}

impl Opened {
    /// The opened database (if asked for) and what reading its downloads gave (`files` and
    /// `reason` are the caller's to fill). Stored downloads that cannot be read are not shown
    /// as none: the manager works in memory and says why (`storageError`); what is stored
    /// stays for the next manager.
    fn of(
        store: Option<Result<Rc<Store>, DownloadError>>,
        loaded: Option<Result<Vec<Record>, StoreError>>,
    ) -> Opened {
        let mut opened = Opened {
            store: None,
            files: None,
            reason: String::new(),
            error: None,
            records: Vec::new(),
        };
        match (store, loaded) {
            (Some(Ok(store)), Some(Ok(records))) => {
                opened.store = Some(store);
                opened.records = records;
            }
            (Some(Ok(_)), Some(Err(e))) => {
                opened.error = Some(DownloadError::new(
                    ErrorCode::Storage,
                    format!(
                        "the stored downloads could not be read ({}); downloads are kept in memory",
                        e.to_download_error().message
                    ),
                ))
            }
            (Some(Err(e)), _) => opened.error = Some(e),
            _ => {}
        }
        opened
    }
}

/// Cancels `cell`, added with a `signal` aborted already; its stored bytes are deleted once
/// its record exists.
fn cancel_at_once(
    cell: &Rc<DownloadCell>,
    signal: &web_sys::AbortSignal,
    created: Option<impl Future<Output = Result<(), StoreError>> + 'static>,
) {
    let cancelling = cell.cancel_with(signal_error(signal));
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(c) = created {
            let _ = c.await;
        }
        if let Some(c) = cancelling {
            c.await;
        }
    });
}

/// Cancels `cell` when `signal` aborts (the listener goes with the download's settling).
fn cancel_on_abort(cell: &Rc<DownloadCell>, signal: &web_sys::AbortSignal) {
    let weak = Rc::downgrade(cell);
    let target = signal.clone();
    let listener = gloo_events::EventListener::once(signal, "abort", move |_| {
        if let Some(c) = weak.upgrade() {
            if let Some(f) = c.cancel_with(signal_error(&target)) {
                wasm_bindgen_futures::spawn_local(f);
            }
        }
    });
    cell.parts.borrow_mut().signal_listener = Some(listener);
}

/// Makes the page's handle for a download (the `Download` class lives in `crate::api`).
pub(crate) type HandleMaker = Box<dyn Fn(Handle) -> JsValue>;

/// Shared state of a manager.
pub(crate) struct ManagerInner {
    config: ManagerConfig,
    events: Rc<Events>,
    /// A no-op rejection handler shared by every `done` promise.
    swallow: JsValue,
    /// `None` when IndexedDB is unavailable or `persist: false`: downloads live in memory.
    store: Option<Rc<Store>>,
    /// The OPFS files, where a storage worker can write them (and `store` is open).
    files: Option<Rc<Files>>,
    /// Why the bytes go where they go, for `manager.storage.reason`.
    storage_reason: String,
    storage_error: Option<DownloadError>,
    persistence_requested: Cell<bool>,
    /// Runs in progress, and who waits for them all to end.
    runs: Runs,
    /// Who runs and who waits.
    queue: RefCell<Queue>,
    /// Downloads settled since the manager was last idle, for the batch notification.
    batch: Cell<Batch>,
    /// Something was queued or running since the last `idle`.
    busy: Cell<bool>,
    /// The channel to the other tabs using this name; `None` without Web Locks and
    /// `BroadcastChannel` (or without IndexedDB): single-tab behaviour.
    channel: RefCell<Option<Channel>>,
    make_handle: HandleMaker,
    s: RefCell<Registry>,
}

#[derive(Default)]
struct Registry {
    closed: bool,
    order: Vec<String>,
    by_id: HashMap<String, Rc<DownloadCell>>,
}

/// What `whenAll` resolves with.
pub(crate) struct Summary {
    pub completed: Vec<String>,
    pub failed: Vec<(String, &'static str)>,
    pub cancelled: Vec<String>,
}

impl Drop for ManagerInner {
    fn drop(&mut self) {
        crate::web::probe::count(crate::web::probe::MANAGERS, -1);
        // Nothing refers to the manager any more: no download is queued or running, no page
        // holds a handle. Withdraw the lock requests of downloads other tabs run; the channel
        // and the database connection close as their owners drop.
        let cells: Vec<Rc<DownloadCell>> = self.s.get_mut().by_id.drain().map(|(_, c)| c).collect();
        for cell in cells {
            cell.close(DownloadError::new(
                ErrorCode::Aborted,
                "the manager was released",
            ));
        }
    }
}

impl ManagerInner {
    /// Opens a manager: its storage (or memory), its channel, and every stored download.
    /// When the database cannot be opened, or its downloads cannot be read, the manager
    /// works in memory and `storage_error` says why (never an empty manager that claims to
    /// be persistent).
    ///
    /// # Errors
    /// None today; the `Result` is the contract for failures that leave no manager.
    pub async fn open(
        config: ManagerConfig,
        make_handle: HandleMaker,
    ) -> Result<Rc<ManagerInner>, DownloadError> {
        let weak: Rc<RefCell<Weak<ManagerInner>>> = Rc::default();
        let weak2 = weak.clone();
        let on_lost: Rc<dyn Fn(&str)> = Rc::new(move |why: &str| {
            if let Some(m) = weak2.borrow().upgrade() {
                m.storage_lost(why);
            }
        });
        let opened = open_storage(&config, on_lost).await;
        let concurrency = config.concurrency;
        let inner = Rc::new(ManagerInner {
            config,
            events: Rc::new(Events::default()),
            swallow: Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value(),
            store: opened.store,
            files: opened.files,
            storage_reason: opened.reason,
            storage_error: opened.error,
            persistence_requested: Cell::new(false),
            runs: Runs::default(),
            queue: RefCell::new(Queue::new(concurrency)),
            batch: Cell::new(Batch::default()),
            busy: Cell::new(false),
            channel: RefCell::new(None),
            make_handle,
            s: RefCell::new(Registry::default()),
        });
        crate::web::probe::count(crate::web::probe::MANAGERS, 1);
        *weak.borrow_mut() = Rc::downgrade(&inner);
        inner.open_channel();
        inner.restore(opened.records).await;
        Ok(inner)
    }

    /// The channel to the other tabs, where downloads are stored and tabs can coordinate.
    fn open_channel(self: &Rc<Self>) {
        if self.store.is_none() || !crate::web::tabs::available() {
            return;
        }
        let weak = Rc::downgrade(self);
        *self.channel.borrow_mut() = Channel::open(&database_name(&self.config.name), move |msg| {
            if let Some(m) = weak.upgrade() {
                m.on_message(msg);
            }
        });
    }

    async fn restore(self: &Rc<Self>, mut records: Vec<Record>) {
        let now = js_sys::Date::now();
        let created: Vec<f64> = records.iter().map(|r| r.created_at).collect();
        let mut to_start = Vec::new();
        for i in stable_order(&created) {
            let rec = std::mem::take(&mut records[i]);
            let s = &rec.stored;
            if expired(s.state, rec.updated_at, now, self.config.expire_after_ms) {
                // A caller's file the download completed is left as it is.
                let file = rec.file.filter(|_| s.state != State::Completed);
                if let Some(d) = self.delete_stored(&rec.id, file) {
                    let _ = d.await;
                }
                continue;
            }
            let resume = self.config.resume_on_open;
            let step = on_restore(s.state, s.handover.is_some(), s.unseen, resume);
            let cell = self.restored_cell(rec);
            if step != Restore::Keep {
                to_start.push((cell, step));
            }
        }
        if to_start.is_empty() {
            return;
        }
        // Start after the caller's `await open()` has resumed and attached its listeners, so
        // that they see every event of the restored downloads (unless it changed them first).
        wasm_bindgen_futures::spawn_local(async move {
            crate::web::clock::sleep_ms(0.0).await;
            for (cell, step) in to_start {
                match step {
                    Restore::Announce if cell.state() == State::Completed => cell.announce_unseen(),
                    Restore::Watch if cell.registration().is_some() => cell.watch_in_background(),
                    Restore::Run if cell.state() == State::Queued => cell.request_run(),
                    Restore::ShowPaused if cell.state() == State::Queued => {
                        cell.parts.borrow_mut().life.show_paused_silently();
                    }
                    _ => {}
                }
            }
        });
    }

    /// A cell for a stored record (restored, or added by another tab). Downloads that were
    /// running or queued wait as queued until `request_run`.
    fn restored_cell(self: &Rc<Self>, rec: Record) -> Rc<DownloadCell> {
        let state = restored(rec.stored.state);
        let error = rec.stored.failure();
        let writer = self.writer(self.backend(rec.opfs), rec);
        let cell = DownloadCell::new(writer, state, error, &self.host());
        self.register(&cell);
        cell
    }

    /// This manager, as its downloads see it.
    fn host(self: &Rc<Self>) -> Rc<dyn Host> {
        self.clone()
    }

    /// The listeners.
    pub fn listeners(&self) -> Rc<Events> {
        self.events.clone()
    }

    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    /// True when downloads are kept in IndexedDB.
    pub fn persistent(&self) -> bool {
        self.store.is_some()
    }

    /// `manager.background`: whether downloads are handed to Background Fetch by default, and
    /// why this page cannot hand any over, if it cannot (`None`: it can).
    pub fn background_status(&self) -> (bool, Option<String>) {
        let why = if self.store.is_none() {
            Some(format!(
                "downloads are not stored where a service worker reads them: {}",
                self.storage_reason
            ))
        } else {
            crate::web::background::unavailable().map(str::to_owned)
        };
        (self.config.background_auto, why)
    }

    /// Where new downloads' bytes go (`"opfs"`, `"indexeddb"` or `"memory"`), and why.
    pub fn storage_kind(&self) -> (&'static str, &str) {
        let kind = match (&self.files, &self.store) {
            (Some(_), _) => "opfs",
            (None, Some(_)) => "indexeddb",
            (None, None) => "memory",
        };
        (kind, &self.storage_reason)
    }

    /// How chunks are stored (`"blob"` or `"arraybuffer"`), or `None` in memory.
    pub fn chunk_form(&self) -> Option<&'static str> {
        self.store.as_ref().map(|s| s.chunk_form().as_str())
    }

    /// Why the manager is not persistent.
    pub fn storage_error(&self) -> Option<&DownloadError> {
        self.storage_error.as_ref()
    }

    /// True when tabs coordinate.
    pub fn multi_tab(&self) -> bool {
        self.channel.borrow().is_some()
    }

    /// `INVALID_ARGUMENT` after `close()`.
    pub fn ensure_open(&self) -> Result<(), DownloadError> {
        if self.is_closed() {
            return Err(DownloadError::invalid("manager", "is closed"));
        }
        Ok(())
    }

    /// Every download, in the order they were added.
    pub fn cells(&self) -> Vec<Rc<DownloadCell>> {
        let s = self.s.borrow();
        s.order
            .iter()
            .filter_map(|id| s.by_id.get(id).cloned())
            .collect()
    }

    /// The download added for the absolute `url`: the one `add(url)` made without an id,
    /// else the first one added with that URL.
    pub fn cell_for_url(&self, url: &str) -> Option<Rc<DownloadCell>> {
        let by_default_id = self.cell(&id_for_url(url)).filter(|c| c.url == url);
        by_default_id.or_else(|| self.cells().into_iter().find(|c| c.url == url))
    }

    /// The download with this id.
    pub fn cell(&self, id: &str) -> Option<Rc<DownloadCell>> {
        self.s.borrow().by_id.get(id).cloned()
    }

    /// A message from another tab: an event of a download it runs, or a command for one this
    /// tab runs.
    fn on_message(self: &Rc<Self>, msg: JsValue) {
        let Some((kind, id)) = read_tab_message(&msg) else {
            return;
        };
        if self.is_closed() {
            return;
        }
        let field = |k: &str| prop(&msg, k).unwrap_or(JsValue::UNDEFINED);
        let cell = self.cell(&id);
        if kind == "command" {
            let Some(cell) = cell.filter(|c| !c.is_remote()) else {
                return;
            };
            match field("command").as_string().as_deref() {
                Some("pause") => cell.pause(),
                Some("resume") => cell.resume(),
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
            Some(cell) => cell.apply_mirror(&kind, &field),
            // A download another tab added: read it from storage, then mirror it.
            None => {
                let inner = self.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let Ok(Some(rec)) = inner.load_record(&id).await else {
                        return;
                    };
                    let cell = match inner.cell(&id) {
                        Some(c) => c,
                        None => {
                            let c = inner.restored_cell(rec);
                            if c.state() == State::Queued {
                                // Runs elsewhere: shown as paused until the mirror says more.
                                c.parts.borrow_mut().life.show_paused_silently();
                            }
                            c
                        }
                    };
                    let field = |k: &str| prop(&msg, k).unwrap_or(JsValue::UNDEFINED);
                    cell.apply_mirror(&kind, &field);
                });
            }
        }
    }

    fn start_granted(&self, ids: Vec<String>) {
        for id in ids {
            match self.cell(&id) {
                Some(c) => c.start_run(),
                None => self.dequeue(&id),
            }
        }
    }

    /// Where a download's bytes go: its OPFS file for a new download (`in_file`) or one
    /// stored in a file, when this manager has OPFS; else IndexedDB chunks, else memory.
    fn backend(&self, in_file: bool) -> Backend {
        match (&self.store, &self.files) {
            (Some(s), Some(f)) if in_file => Backend::Opfs(s.clone(), f.clone()),
            (Some(s), _) => Backend::Idb(s.clone()),
            (None, _) => Backend::Memory(Vec::new()),
        }
    }

    /// A writer for `rec` into `backend`, committing every `flushBytes` into a file, every
    /// `chunkBytes` into chunks.
    fn writer(&self, backend: Backend, mut rec: Record) -> Writer {
        let in_file = matches!(backend, Backend::Opfs(..));
        if rec.stored.offset == 0 && rec.chunks == 0 {
            rec.opfs = in_file;
        }
        let granularity = if in_file {
            self.config.limits.flush_bytes
        } else {
            self.config.limits.chunk_bytes
        };
        Writer::new(backend, rec, granularity)
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

    /// Adds a download (or returns the known one with this id) and queues it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`, for an id used with another URL, for a `sink` or a
    /// `file` given with the id of a download that exists (it keeps writing where it writes),
    /// and for options that do not go together ([`place`]).
    pub fn add(
        self: &Rc<Self>,
        url: String,
        opts: AddOptions,
    ) -> Result<Rc<DownloadCell>, DownloadError> {
        self.ensure_open()?;
        let id = opts.id.clone().unwrap_or_else(|| id_for_url(&url));
        if let Some(existing) = self.existing(&id, &url, &opts)? {
            return Ok(existing);
        }
        let asked = Asked {
            file: opts.file.is_some(),
            sink: opts.sink.is_some(),
            background: opts.background,
        };
        let has = Has {
            storage: self.store.is_some(),
            files: self.files.is_some(),
            background_auto: self.config.background_auto,
        };
        let placement = place(asked, has, &self.storage_reason)?;
        let (backend, background) = match placement {
            Placement::Stored {
                in_file,
                background,
            } => (self.backend(in_file), background),
            Placement::Sink => {
                let stream = opts.sink.as_ref().ok_or_else(|| {
                    DownloadError::invalid("options.sink", "must be a WritableStream")
                })?;
                (
                    Backend::Sink(Sink::new(stream, self.swallow.clone())?),
                    false,
                )
            }
        };
        let now = js_sys::Date::now();
        let mut rec = Record {
            id,
            url,
            stored: Stored::new(opts.integrity, background),
            file: opts.file,
            filename: opts.filename,
            title: opts.title,
            headers: opts.headers,
            priority: opts.priority,
            created_at: now,
            updated_at: now,
            ..Record::default()
        };
        rec.opfs = matches!(backend, Backend::Opfs(..));
        // The record's transaction is created now, so that a cancel issued right after this
        // call is ordered after it.
        let created = self.store.as_ref().map(|s| s.create(&rec));
        let writer = self.writer(backend, rec);
        // Shown queued from the start; the slot is asked for once the record exists.
        let cell = DownloadCell::new(writer, State::Queued, None, &self.host());
        self.register(&cell);
        match opts.signal {
            Some(signal) if signal.aborted() => cancel_at_once(&cell, &signal, created),
            Some(signal) => {
                cancel_on_abort(&cell, &signal);
                self.start_when_stored(&cell, created);
            }
            None => self.start_when_stored(&cell, created),
        }
        Ok(cell)
    }

    /// The download `add()` names, when it exists and is not cancelled (a cancelled one is
    /// added anew).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for an id used with another URL, or a sink or a file given for a
    /// download that exists.
    fn existing(
        &self,
        id: &str,
        url: &str,
        opts: &AddOptions,
    ) -> Result<Option<Rc<DownloadCell>>, DownloadError> {
        let Some(existing) = self.cell(id) else {
            return Ok(None);
        };
        if existing.url != url {
            return Err(DownloadError::invalid(
                "options.id",
                format!("{} is already used for {}", Quoted(id), existing.url),
            ));
        }
        if existing.state() == State::Cancelled {
            return Ok(None);
        }
        let given = [
            ("options.sink", opts.sink.is_some()),
            ("options.file", opts.file.is_some()),
        ];
        if let Some((what, _)) = given.iter().find(|g| g.1) {
            return Err(DownloadError::invalid(
                what,
                format!(
                    "{} already exists and writes where it was added to write; a sink or a \
                     file goes with a new download",
                    Quoted(id)
                ),
            ));
        }
        Ok(Some(existing))
    }

    /// Asks for the new download's slot once its record exists. The new download keeps its
    /// manager alive until then.
    fn start_when_stored(
        self: &Rc<Self>,
        cell: &Rc<DownloadCell>,
        created: Option<impl Future<Output = Result<(), StoreError>> + 'static>,
    ) {
        let starting = cell.clone();
        let keep = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let ok = match created {
                Some(c) => c.await,
                None => Ok(()),
            };
            match ok {
                Ok(()) if starting.state() == State::Queued => {
                    if let Some(w) = starting.parts.borrow_mut().writer.as_mut() {
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
            drop(keep);
        });
    }

    /// Cancels the download if it is active, deletes its stored bytes, and forgets it.
    /// Resolves with `true` if it existed.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after `close()`; `STORAGE` if the delete fails.
    pub async fn remove(&self, id: &str) -> Result<bool, DownloadError> {
        self.ensure_open()?;
        let removed = {
            let mut s = self.s.borrow_mut();
            s.order.retain(|x| x != id);
            s.by_id.remove(id)
        };
        let Some(cell) = removed else {
            return Ok(false);
        };
        if let Some(cancelling) = cell.cancel() {
            cancelling.await;
        } else if let Some(d) = self.delete_stored(id, None) {
            d.await.map_err(|e| e.to_download_error())?;
        }
        Ok(true)
    }

    /// Adds a listener; returns its id for [`Events::remove`].
    pub fn listen(&self, kind: &'static str, f: Function) -> Result<u64, DownloadError> {
        self.ensure_open()?;
        Ok(self.events.add(kind, f))
    }

    /// Waits until every one of `cells` has settled.
    ///
    /// # Errors
    /// `ABORTED` if the manager was closed first.
    pub async fn when_all(
        self: Rc<Self>,
        cells: Vec<Rc<DownloadCell>>,
    ) -> Result<Summary, DownloadError> {
        for c in &cells {
            c.settled().await;
        }
        if self.is_closed() {
            return Err(DownloadError::new(
                ErrorCode::Aborted,
                "the manager was closed",
            ));
        }
        let mut sum = Summary {
            completed: Vec::new(),
            failed: Vec::new(),
            cancelled: Vec::new(),
        };
        for c in &cells {
            match c.state() {
                State::Completed => sum.completed.push(c.id.clone()),
                State::Cancelled => sum.cancelled.push(c.id.clone()),
                _ => {
                    let code = c
                        .parts
                        .borrow()
                        .error
                        .as_ref()
                        .map_or("STORAGE", |e| e.code.as_str());
                    sum.failed.push((c.id.clone(), code));
                }
            }
        }
        Ok(sum)
    }

    /// Pauses every queued or running download.
    pub fn pause_all(&self) -> Result<(), DownloadError> {
        self.ensure_open()?;
        for c in self.cells() {
            c.pause();
        }
        Ok(())
    }

    /// Resumes every paused download (they queue for slots in their original order).
    pub fn resume_all(&self) -> Result<(), DownloadError> {
        self.ensure_open()?;
        for c in self.cells() {
            if c.state() == State::Paused {
                c.resume();
            }
        }
        Ok(())
    }

    /// Stops every transfer and releases the listeners; completes once every transfer has
    /// stopped and committed, and the channel, the database connection and the storage
    /// worker are closed.
    pub fn close(self: &Rc<Self>) -> impl Future<Output = ()> {
        let cells = {
            let mut s = self.s.borrow_mut();
            if !s.closed {
                s.closed = true;
                s.order.clear();
                std::mem::take(&mut s.by_id)
            } else {
                HashMap::new()
            }
        };
        self.events.clear();
        for cell in cells.into_values() {
            cell.close(DownloadError::new(
                ErrorCode::Aborted,
                "the manager was closed",
            ));
        }
        let ended = self.runs.ended();
        let inner = self.clone();
        async move {
            ended.await;
            inner.channel.borrow_mut().take();
            if let Some(store) = &inner.store {
                store.close();
            }
            if let Some(files) = &inner.files {
                files.stop();
            }
        }
    }
}

impl Host for ManagerInner {
    fn events(&self) -> Rc<Events> {
        self.events.clone()
    }

    fn swallow(&self) -> JsValue {
        self.swallow.clone()
    }

    fn make_handle(&self, h: Handle) -> JsValue {
        (self.make_handle)(h)
    }

    fn is_closed(&self) -> bool {
        self.s.borrow().closed
    }

    fn run_config(&self) -> RunConfig {
        self.config.run_config()
    }

    fn prepare_hook(&self) -> Option<PrepareHook> {
        self.config.prepare_request.clone()
    }

    /// Asks once per manager for persistent storage, when a download first starts.
    fn request_persistence(&self) {
        if self.store.is_some() && !self.persistence_requested.replace(true) {
            request_persistence();
        }
    }

    /// The Web Lock that makes one tab the writer of a download; `None` in single-tab mode.
    fn lock_name(&self, id: &str) -> Option<String> {
        self.channel.borrow().as_ref()?;
        Some(format!("{}/{id}", database_name(&self.config.name)))
    }

    /// Posts a message about download `id` to the other tabs.
    fn post(&self, kind: &str, id: &str, pairs: &[(&str, JsValue)]) {
        if let Some(c) = self.channel.borrow().as_ref() {
            c.post(&tab_message(kind, id, pairs));
        }
    }

    /// Puts a download in line for a slot.
    fn enqueue(&self, cell: &Rc<DownloadCell>) {
        self.busy.set(true);
        let started = self.queue.borrow_mut().enqueue(&cell.id, cell.priority);
        self.start_granted(started);
    }

    /// Takes a download out of line (or out of its slot).
    fn dequeue(&self, id: &str) {
        let started = self.queue.borrow_mut().remove(id);
        self.start_granted(started);
    }

    /// A run ended: its slot frees.
    fn run_ended(&self, id: &str) {
        self.dequeue(id);
        self.check_idle();
    }

    /// Records a state change of a download that is not running.
    fn save_record_state(
        &self,
        rec: Record,
    ) -> Option<LocalBoxFuture<'static, Result<(), StoreError>>> {
        let store = self.store.clone()?;
        Some(Box::pin(async move { store.update(&rec).await }))
    }

    fn background_unavailable(&self) -> Option<String> {
        self.background_status().1
    }

    fn background_icons(&self) -> Option<js_sys::Array> {
        self.config.background_icons.clone()
    }

    fn background_id(&self, id: &str) -> String {
        crate::web::background::registration_id(&self.config.name, id)
    }

    fn note_settled(&self, state: State) {
        let mut b = self.batch.get();
        b.note(state);
        self.batch.set(b);
    }

    /// Emits `idle` when the last queued or running download stops, and shows the batch
    /// notification if it was asked for, something settled, and the page is hidden.
    fn check_idle(&self) {
        if self.is_closed() {
            return;
        }
        let busy = self.cells().iter().any(|c| c.state().is_active());
        if busy || !self.busy.replace(false) {
            return;
        }
        self.events
            .emit("idle", &object(&[("type", "idle".into())]));
        let batch = self.batch.replace(Batch::default());
        if let (Some(title), false) = (&self.config.notify_title, batch.is_empty()) {
            crate::web::env::notify_if_hidden(title, &batch.summary());
        }
    }

    fn run_started(&self) -> RunGuard {
        self.runs.start()
    }

    fn load_record(
        &self,
        id: &str,
    ) -> LocalBoxFuture<'static, Result<Option<Record>, DownloadError>> {
        let (store, id) = (self.store.clone(), id.to_owned());
        Box::pin(async move {
            match store {
                Some(s) => s.load(&id).await.map_err(|e| e.to_download_error()),
                None => Ok(None),
            }
        })
    }

    /// Deletes the record and the bytes of `id` (its chunks, and its OPFS file if any), and
    /// empties the caller's `file` if given.
    fn delete_stored(
        &self,
        id: &str,
        file: Option<JsValue>,
    ) -> Option<LocalBoxFuture<'static, Result<(), StoreError>>> {
        let store = self.store.as_ref()?;
        // Both requests are made now, so that they are ordered before later ones.
        let record = store.delete(id);
        let file = self
            .files
            .as_ref()
            .map(|f| f.remove(Target::new(id, file.as_ref())));
        Some(Box::pin(async move {
            let record = record.await;
            let file = match file {
                Some(f) => f.done().await,
                None => Ok(()),
            };
            record.and(file)
        }))
    }
}
