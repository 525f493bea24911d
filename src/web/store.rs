//! The IndexedDB journal: one record per download and its chunks keyed `[id, epoch, index]`.
//!
//! - A chunk and the record's new offset (and hash state) commit in one transaction (I4).
//! - Every write transaction first reads the record and checks its `epoch` in the request's
//!   `success` callback, synchronously, before adding anything. A restart, a cancel or a
//!   takeover changes or deletes the record, so a late write finds a different epoch (or no
//!   record) and aborts its own transaction: nothing lands (I10).
//! - No transaction stays open across a network or timer await: each one is created, filled in
//!   callbacks and awaited to completion.
//! - Chunks are stored as `Blob`s, so their bytes never pass through wasm memory. Where
//!   IndexedDB refuses Blob values (WebKit, some private modes), which a probe at open finds
//!   out once per connection, a chunk's bytes are stored as an `ArrayBuffer` read from its Blob
//!   (in the browser, not in wasm memory), in the same transaction. Reading accepts both forms,
//!   so a database written in one mode stays readable in the other.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use futures::channel::oneshot;
use gloo_events::EventListener;
use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbObjectStoreParameters,
    IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use crate::core::lifecycle::State;
use crate::core::resume::Identity;
use crate::core::stored::{Handover, Stored, StoredError};
use crate::core::{DownloadError, ErrorCode, Quoted};
use crate::web::js::describe;

/// Current schema version. Migrations run in `upgradeneeded` from the old version up.
pub const SCHEMA_VERSION: u32 = 1;
const DOWNLOADS: &str = "downloads";
const CHUNKS: &str = "chunks";

/// The database name for a manager name: prefixed so that it never collides with a page's
/// own databases.
pub fn database_name(manager_name: &str) -> String {
    format!("resumable-downloads/{manager_name}")
}

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The record's epoch changed or the record is gone: this writer is no longer the owner.
    Stale,
    /// A record with this id already exists (another tab, or an earlier page, created it).
    Exists,
    /// `QuotaExceededError`.
    Quota(String),
    /// Any other failure, including a closed database.
    Failed(String),
    /// The caller's sink refused a write or its close (`SINK`).
    Sink(DownloadError),
}

impl StoreError {
    /// The `Debug` form (`Failed("...")`), written out: the derived `Debug` would bring
    /// `str`'s `Debug` code into the module.
    fn debug_text(&self) -> String {
        match self {
            StoreError::Stale => "Stale".into(),
            StoreError::Exists => "Exists".into(),
            StoreError::Quota(m) => format!("Quota({})", Quoted(m)),
            StoreError::Failed(m) => format!("Failed({})", Quoted(m)),
            StoreError::Sink(e) => format!("Sink({})", Quoted(&e.message)),
        }
    }

    /// The public error for this failure.
    pub fn to_download_error(&self) -> DownloadError {
        match self {
            StoreError::Stale => {
                DownloadError::new(ErrorCode::Storage, "the download was changed elsewhere")
            }
            StoreError::Exists => {
                DownloadError::new(ErrorCode::Storage, "the download already exists in storage")
            }
            StoreError::Quota(m) => DownloadError::new(ErrorCode::Quota, m.clone()),
            StoreError::Failed(m) => DownloadError::new(ErrorCode::Storage, m.clone()),
            StoreError::Sink(e) => e.clone(),
        }
    }

    pub(crate) fn from_dom(name: Option<String>, message: String) -> StoreError {
        match name.as_deref() {
            Some("QuotaExceededError") => StoreError::Quota(message),
            Some("ConstraintError") => StoreError::Exists,
            _ => StoreError::Failed(message),
        }
    }
}

/// A download's record: what the browser layer keeps of it (its request, where its bytes are,
/// what the response said of itself) around the core's [`Stored`] facts, which only the core's
/// rules change. [`Record::to_js`] and [`Record::from_js`] are its one codec. Numbers are
/// stored as JS numbers (exact up to 2^53 bytes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Download id (the key).
    pub id: String,
    /// Requested URL.
    pub url: String,
    /// Name for `save()`.
    pub filename: Option<String>,
    /// Title the browser's UI shows for it in Background Fetch (`None`: the file name).
    pub title: Option<String>,
    /// Queue priority.
    pub priority: i32,
    /// Request headers, replayed on resume.
    pub headers: Vec<(String, String)>,
    /// The stored bytes, the resource they belong to, and the lifecycle state.
    pub stored: Stored,
    /// Committed chunks in this epoch (none when the bytes are in an OPFS file).
    pub chunks: u32,
    /// The bytes are in the download's OPFS file ([`crate::web::opfs::Files`]), not in
    /// chunks.
    pub opfs: bool,
    /// The caller's `FileSystemFileHandle` the bytes are written to (`add(url, { file })`),
    /// instead of the download's own OPFS file.
    pub file: Option<JsValue>,
    /// `Content-Type` of the accepted response.
    pub content_type: Option<String>,
    /// `Content-Disposition` of the accepted response.
    pub disposition: Option<String>,
    /// Creation time (ms since the Unix epoch).
    pub created_at: f64,
    /// Last change (ms since the Unix epoch).
    pub updated_at: f64,
}

fn set(o: &JsValue, k: &str, v: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v.into());
}

/// A text field as JS: the string, or `null`.
pub(crate) fn opt_str(v: &Option<String>) -> JsValue {
    v.as_deref().map_or(JsValue::NULL, JsValue::from_str)
}

fn opt_bytes(v: Option<&[u8]>) -> JsValue {
    v.map_or(JsValue::NULL, |b| Uint8Array::from(b).into())
}

fn opt_num(v: Option<u64>) -> JsValue {
    v.map_or(JsValue::NULL, |n| JsValue::from(n as f64))
}

fn field(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn field_str(o: &JsValue, k: &str) -> Option<String> {
    field(o, k).as_string()
}

fn field_u64(o: &JsValue, k: &str) -> Option<u64> {
    field(o, k)
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n as u64)
}

fn field_bool(o: &JsValue, k: &str) -> bool {
    field(o, k).as_bool().unwrap_or(false)
}

/// The identity fields of a stored record (`accepted` says whether they mean anything).
fn identity_to_js(o: &JsValue, identity: Option<&Identity>) {
    let none = Identity::default();
    let id = identity.unwrap_or(&none);
    set(o, "etag", opt_str(&id.etag));
    set(o, "lastModified", opt_str(&id.last_modified));
    set(o, "total", opt_num(id.total));
    set(o, "ranges", id.ranges);
    set(o, "accepted", identity.is_some());
}

fn identity_from_js(o: &JsValue) -> Option<Identity> {
    field_bool(o, "accepted").then(|| Identity {
        etag: field_str(o, "etag"),
        last_modified: field_str(o, "lastModified"),
        total: field_u64(o, "total"),
        ranges: field_bool(o, "ranges"),
    })
}

/// The core's facts, flattened into the stored object.
fn stored_to_js(o: &JsValue, s: &Stored) {
    set(o, "finalUrl", opt_str(&s.final_url));
    identity_to_js(o, s.identity.as_ref());
    set(o, "noRange", s.no_range);
    set(o, "offset", s.offset as f64);
    set(o, "state", s.state.as_str());
    set(o, "background", s.background);
    let handover = s.handover.as_ref();
    set(o, "backgroundId", opt_str(&handover.map(|h| h.id.clone())));
    set(o, "backgroundIfRange", handover.is_some_and(|h| h.if_range));
    set(o, "unseen", s.unseen);
    let error = s.error.as_ref();
    set(o, "errorCode", opt_str(&error.map(|e| e.code.clone())));
    set(
        o,
        "errorMessage",
        opt_str(&error.map(|e| e.message.clone())),
    );
    set(o, "integrity", opt_str(&s.integrity));
    set(o, "hash", opt_bytes(s.hash.as_deref()));
    set(o, "integrityRestarts", s.integrity_restarts);
    set(o, "epoch", s.epoch);
    set(o, "wasted", s.wasted as f64);
}

fn stored_from_js(o: &JsValue) -> Stored {
    Stored {
        offset: field_u64(o, "offset").unwrap_or(0),
        identity: identity_from_js(o),
        final_url: field_str(o, "finalUrl"),
        no_range: field_bool(o, "noRange"),
        integrity: field_str(o, "integrity"),
        hash: field(o, "hash")
            .dyn_into::<Uint8Array>()
            .ok()
            .map(|a| a.to_vec()),
        integrity_restarts: field_u64(o, "integrityRestarts").unwrap_or(0) as u32,
        epoch: field_u64(o, "epoch").unwrap_or(0) as u32,
        wasted: field_u64(o, "wasted").unwrap_or(0),
        state: field_str(o, "state")
            .and_then(|s| State::parse(&s))
            .unwrap_or_default(),
        error: field_str(o, "errorCode").map(|code| StoredError {
            code,
            message: field_str(o, "errorMessage").unwrap_or_default(),
        }),
        background: field_bool(o, "background"),
        handover: field_str(o, "backgroundId").map(|id| Handover {
            id,
            if_range: field_bool(o, "backgroundIfRange"),
        }),
        unseen: field_bool(o, "unseen"),
    }
}

impl Record {
    /// The JS object stored in IndexedDB.
    pub fn to_js(&self) -> JsValue {
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "schema", SCHEMA_VERSION);
        set(&o, "id", self.id.as_str());
        set(&o, "url", self.url.as_str());
        set(&o, "filename", opt_str(&self.filename));
        set(&o, "title", opt_str(&self.title));
        set(&o, "priority", self.priority);
        let headers: Array = self
            .headers
            .iter()
            .map(|(k, v)| -> JsValue { Array::of2(&k.into(), &v.into()).into() })
            .collect();
        set(&o, "headers", headers);
        stored_to_js(&o, &self.stored);
        set(&o, "chunks", self.chunks);
        set(&o, "opfs", self.opfs);
        set(&o, "file", self.file.clone().unwrap_or(JsValue::NULL));
        set(&o, "contentType", opt_str(&self.content_type));
        set(&o, "disposition", opt_str(&self.disposition));
        set(&o, "createdAt", self.created_at);
        set(&o, "updatedAt", self.updated_at);
        o
    }

    /// Reads a stored record; `None` for anything that is not one.
    pub fn from_js(o: &JsValue) -> Option<Record> {
        let id = field_str(o, "id")?;
        let url = field_str(o, "url")?;
        let headers = field(o, "headers")
            .dyn_into::<Array>()
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        let p: Array = p.dyn_into().ok()?;
                        Some((p.get(0).as_string()?, p.get(1).as_string()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Record {
            id,
            url,
            filename: field_str(o, "filename"),
            title: field_str(o, "title"),
            priority: field(o, "priority").as_f64().unwrap_or(0.0) as i32,
            headers,
            stored: stored_from_js(o),
            chunks: field_u64(o, "chunks").unwrap_or(0) as u32,
            opfs: field_bool(o, "opfs"),
            file: Some(field(o, "file")).filter(JsValue::is_object),
            content_type: field_str(o, "contentType"),
            disposition: field_str(o, "disposition"),
            created_at: field(o, "createdAt").as_f64().unwrap_or(0.0),
            updated_at: field(o, "updatedAt").as_f64().unwrap_or(0.0),
        })
    }
}

/// One stored chunk.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Position in the epoch's sequence, from 0.
    pub index: u32,
    /// Resource offset of its first byte.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// The bytes.
    pub blob: Blob,
    /// Serialized hash state after this chunk.
    pub hash: Option<Vec<u8>>,
}

/// A new chunk's place and count; its bytes are given apart ([`Store::append`]).
#[derive(Clone, Debug)]
pub struct ChunkHead {
    /// Position in the epoch's sequence, from 0.
    pub index: u32,
    /// Resource offset of its first byte.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// Serialized hash state after this chunk.
    pub hash: Option<Vec<u8>>,
}

impl ChunkHead {
    /// The stored object, with `bytes` under `blob`: a Blob, or an `ArrayBuffer` where Blobs
    /// are refused.
    fn to_js(&self, id: &str, epoch: u32, bytes: JsValue) -> JsValue {
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "id", id);
        set(&o, "epoch", epoch);
        set(&o, "index", self.index);
        set(&o, "offset", self.offset as f64);
        set(&o, "len", self.len as f64);
        set(&o, "blob", bytes);
        set(&o, "hash", opt_bytes(self.hash.as_deref()));
        o
    }
}

/// `parts` (`Uint8Array`s and `Blob`s) as one value of `form`. Where Blobs are refused and
/// every part is bytes, they are copied straight into one `ArrayBuffer`: a Blob in between
/// would be one more copy, held by the engine (outside the JS heap) until it is collected.
async fn chunk_value(form: ChunkForm, parts: &Array, len: u64) -> Result<JsValue, StoreError> {
    let blob = || {
        Blob::new_with_u8_array_sequence(parts)
            .map_err(|e| StoreError::Failed(format!("could not make a chunk: {}", describe(&e))))
    };
    if form == ChunkForm::Blob {
        return Ok(blob()?.into());
    }
    if parts.iter().all(|p| p.is_instance_of::<Uint8Array>()) {
        let out = Uint8Array::new_with_length(len as u32);
        let mut at = 0;
        for p in parts.iter() {
            let p: Uint8Array = p.unchecked_into();
            out.set(&p, at);
            at += p.length();
        }
        return Ok(out.buffer().into());
    }
    JsFuture::from(blob()?.array_buffer())
        .await
        .map_err(|e| StoreError::Failed(format!("could not read a chunk: {}", describe(&e))))
}

impl Chunk {
    /// A stored chunk; `None` when it is malformed (no bytes, or fields missing). Bytes
    /// stored as an `ArrayBuffer` (or a view of one) become a Blob made by the browser.
    fn from_js(o: &JsValue) -> Option<Chunk> {
        let bytes = field(o, "blob");
        let blob = match bytes.dyn_into::<Blob>() {
            Ok(b) => b,
            Err(v) if v.is_instance_of::<ArrayBuffer>() || ArrayBuffer::is_view(&v) => {
                Blob::new_with_buffer_source_sequence(&Array::of1(&v)).ok()?
            }
            Err(_) => return None,
        };
        Some(Chunk {
            index: field_u64(o, "index")? as u32,
            offset: field_u64(o, "offset")?,
            len: field_u64(o, "len")?,
            blob,
            hash: field(o, "hash")
                .dyn_into::<Uint8Array>()
                .ok()
                .map(|a| a.to_vec()),
        })
    }
}

/// Waits for the first of several events on a target; returns its index.
async fn first_event(target: &web_sys::EventTarget, events: &[&'static str]) -> usize {
    let (tx, rx) = oneshot::channel::<usize>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let _listeners: Vec<EventListener> = events
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let tx = tx.clone();
            EventListener::new(target, *ev, move |_| {
                if let Some(t) = tx.borrow_mut().take() {
                    let _ = t.send(i);
                }
            })
        })
        .collect();
    rx.await.unwrap_or(usize::MAX)
}

async fn request(req: &IdbRequest) -> Result<JsValue, StoreError> {
    if first_event(req, &["success", "error"]).await == 0 {
        req.result().map_err(|e| StoreError::Failed(describe(&e)))
    } else {
        let err = req.error().ok().flatten();
        Err(StoreError::from_dom(
            err.as_ref().map(|e| e.name()),
            err.map_or_else(|| "an IndexedDB request failed".into(), |e| e.message()),
        ))
    }
}

/// The writes of [`Store::guarded`]: given the downloads and chunks stores and the current
/// record.
type GuardedOps =
    Box<dyn FnOnce(&IdbObjectStore, &IdbObjectStore, &JsValue) -> Result<(), JsValue>>;

/// Shared state of a running write transaction: a reason the callbacks aborted it.
type AbortReason = Rc<RefCell<Option<StoreError>>>;

async fn finish(tx: &IdbTransaction, reason: &AbortReason) -> Result<(), StoreError> {
    if first_event(tx, &["complete", "abort"]).await == 0 {
        return Ok(());
    }
    if let Some(r) = reason.borrow_mut().take() {
        return Err(r);
    }
    let err = tx.error();
    Err(StoreError::from_dom(
        err.as_ref().map(|e| e.name()),
        err.map_or_else(
            || "an IndexedDB transaction was aborted".into(),
            |e| e.message(),
        ),
    ))
}

fn abort_with(tx: &IdbTransaction, reason: &AbortReason, err: StoreError) {
    *reason.borrow_mut() = Some(err);
    let _ = tx.abort();
}

fn failed(e: JsValue) -> StoreError {
    StoreError::Failed(describe(&e))
}

/// Key range of every chunk of `id` (all epochs).
fn all_chunks_of(id: &str) -> Result<IdbKeyRange, StoreError> {
    let lower = Array::of1(&id.into());
    let upper = Array::of2(&id.into(), &Array::new());
    IdbKeyRange::bound(&lower, &upper).map_err(failed)
}

/// Key range of the chunks of `id` in `epoch` from index `from` on.
fn chunks_from(id: &str, epoch: u32, from: u32) -> Result<IdbKeyRange, StoreError> {
    let lower = Array::of3(&id.into(), &epoch.into(), &from.into());
    let upper = Array::of3(&id.into(), &epoch.into(), &f64::INFINITY.into());
    IdbKeyRange::bound(&lower, &upper).map_err(failed)
}

/// How chunk bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkForm {
    /// As `Blob` values.
    Blob,
    /// As `ArrayBuffer` values: this IndexedDB refuses Blobs.
    ArrayBuffer,
}

impl ChunkForm {
    /// `"blob"` or `"arraybuffer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkForm::Blob => "blob",
            ChunkForm::ArrayBuffer => "arraybuffer",
        }
    }
}

/// Key of the probe chunk: no download id is empty, and the probe's transaction is aborted.
const PROBE_ID: &str = "";

/// Whether this database stores a Blob value: puts one in a transaction that is then aborted,
/// so nothing stays. WebKit fails the request ("Error preparing Blob/File data to be stored in
/// object store"); other engines may throw at `put`.
async fn probe_chunk_form(db: &IdbDatabase) -> ChunkForm {
    if crate::web::probe::blobs_refused() {
        return ChunkForm::ArrayBuffer;
    }
    let Ok(tx) = db.transaction_with_str_and_mode(CHUNKS, IdbTransactionMode::Readwrite) else {
        return ChunkForm::ArrayBuffer;
    };
    let put = Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::new_with_length(1)))
        .ok()
        .and_then(|blob| {
            let probe = ChunkHead {
                index: 0,
                offset: 0,
                len: 1,
                hash: None,
            };
            let store = tx.object_store(CHUNKS).ok()?;
            store.put(&probe.to_js(PROBE_ID, 0, blob.into())).ok()
        });
    let form = match put {
        Some(put) if request(&put).await.is_ok() => ChunkForm::Blob,
        _ => ChunkForm::ArrayBuffer,
    };
    let _ = tx.abort();
    form
}

/// An open database. Dropping it closes the connection.
pub struct Store {
    db: IdbDatabase,
    chunk_form: ChunkForm,
    lost: Rc<Cell<bool>>,
    /// `close()` or `Drop` closed the connection.
    released: Cell<bool>,
    /// The transaction the records of this task's `create`s share, until any other
    /// transaction starts (which must be ordered after them).
    creating: RefCell<Option<IdbTransaction>>,
    _versionchange: EventListener,
    _close: EventListener,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.release();
    }
}

impl Store {
    /// Opens (creating or upgrading) the database for `manager_name`. `on_lost` runs when the
    /// connection goes away: another page upgrades the schema (`versionchange`: the
    /// connection is closed so the upgrade can proceed) or the browser closes it (site data
    /// cleared).
    ///
    /// # Errors
    /// `STORAGE` when IndexedDB is unavailable or the open fails.
    pub async fn open(
        manager_name: &str,
        on_lost: Rc<dyn Fn(&str)>,
    ) -> Result<Store, DownloadError> {
        let storage = |m: String| DownloadError::new(ErrorCode::Storage, m);
        if crate::web::probe::open_fails() {
            return Err(storage("IndexedDB is unavailable (injected)".into()));
        }
        let factory: IdbFactory = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
            .ok_or_else(|| storage("IndexedDB is unavailable".into()))?
            .unchecked_into();
        let open: IdbOpenDbRequest = factory
            .open_with_u32(&database_name(manager_name), SCHEMA_VERSION)
            .map_err(|e| storage(format!("IndexedDB is unavailable: {}", describe(&e))))?;
        let upgrade_target = open.clone();
        let _upgrade = EventListener::new(&open, "upgradeneeded", move |event| {
            let old = Reflect::get(event, &JsValue::from_str("oldVersion"))
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as u32;
            if let Ok(db) = upgrade_target.result() {
                migrate(&db.unchecked_into(), old);
            }
        });
        let _blocked = EventListener::new(&open, "blocked", |_| {
            crate::web::js::console_warn(
                "resumable-downloads: the database upgrade waits for another tab to close it",
            );
        });
        let db: IdbDatabase = request(&open)
            .await
            .map_err(|e| storage(format!("could not open IndexedDB: {}", e.debug_text())))?
            .unchecked_into();
        let lost = Rc::new(Cell::new(false));
        let (db2, lost2, lost_cb) = (db.clone(), lost.clone(), on_lost.clone());
        let versionchange = EventListener::new(&db, "versionchange", move |_| {
            db2.close();
            lost2.set(true);
            lost_cb("the database is being upgraded by another page");
        });
        let lost3 = lost.clone();
        let close = EventListener::new(&db, "close", move |_| {
            lost3.set(true);
            on_lost("the browser closed the database");
        });
        crate::web::probe::count(crate::web::probe::CONNECTIONS, 1);
        let chunk_form = probe_chunk_form(&db).await;
        Ok(Store {
            db,
            chunk_form,
            lost,
            released: Cell::new(false),
            creating: RefCell::new(None),
            _versionchange: versionchange,
            _close: close,
        })
    }

    /// Closes the connection now (the manager was closed); later operations fail with
    /// `STORAGE`.
    pub fn close(&self) {
        self.lost.set(true);
        self.release();
    }

    fn release(&self) {
        if !self.released.replace(true) {
            self.db.close();
            crate::web::probe::count(crate::web::probe::CONNECTIONS, -1);
        }
    }

    /// How this connection stores chunk bytes (found by the probe at open).
    pub fn chunk_form(&self) -> ChunkForm {
        self.chunk_form
    }

    fn tx(&self, stores: &[&str], mode: IdbTransactionMode) -> Result<IdbTransaction, StoreError> {
        if self.lost.get() {
            return Err(StoreError::Failed(
                "the database connection was closed".into(),
            ));
        }
        // A later transaction: later creates must not join an earlier one.
        self.creating.borrow_mut().take();
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        self.db
            .transaction_with_str_sequence_and_mode(&names, mode)
            .map_err(failed)
    }

    /// The record of `id`, if stored.
    pub async fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let tx = self.tx(&[DOWNLOADS], IdbTransactionMode::Readonly)?;
        let get = tx
            .object_store(DOWNLOADS)
            .map_err(failed)?
            .get(&JsValue::from_str(id))
            .map_err(failed)?;
        Ok(Record::from_js(&request(&get).await?))
    }

    /// Every record.
    pub async fn load_all(&self) -> Result<Vec<Record>, StoreError> {
        if crate::web::probe::read_all_fails() {
            return Err(StoreError::Failed("reading failed (injected)".into()));
        }
        let tx = self.tx(&[DOWNLOADS], IdbTransactionMode::Readonly)?;
        let all = tx
            .object_store(DOWNLOADS)
            .map_err(failed)?
            .get_all()
            .map_err(failed)?;
        let list = request(&all).await?;
        Ok(Array::from(&list)
            .iter()
            .filter_map(|v| Record::from_js(&v))
            .collect())
    }

    /// Writes a new record and deletes any chunks left under its id; fails with `Exists` (and
    /// changes nothing) if a record with that id is stored, so that a download running in
    /// another tab is never overwritten. The transaction is created before this returns, so it
    /// is ordered before any transaction created later.
    ///
    /// Creates made in one task share one transaction (500 `add()` calls in a loop cost one
    /// transaction, not 500 queued ahead of every download's first commit). Each record is
    /// added first, and only once it is in are the id's old chunks deleted; a record that
    /// exists fails alone (its error is kept from aborting the others) and deletes nothing.
    pub fn create(&self, rec: &Record) -> impl Future<Output = Result<(), StoreError>> {
        let started = self.start_create(rec);
        async move { started?.await }
    }

    fn start_create(
        &self,
        rec: &Record,
    ) -> Result<impl Future<Output = Result<(), StoreError>>, StoreError> {
        let value = rec.to_js();
        let joined = self.creating.borrow().as_ref().and_then(|tx| {
            let add = tx.object_store(DOWNLOADS).ok()?.add(&value).ok()?;
            Some((tx.clone(), add))
        });
        let (tx, add) = match joined {
            Some(j) => j,
            None => {
                let tx = self.tx(&[DOWNLOADS, CHUNKS], IdbTransactionMode::Readwrite)?;
                let add = tx
                    .object_store(DOWNLOADS)
                    .map_err(failed)?
                    .add(&value)
                    .map_err(failed)?;
                *self.creating.borrow_mut() = Some(tx.clone());
                (tx, add)
            }
        };
        let range = all_chunks_of(&rec.id)?;
        let chunks_tx = tx.clone();
        let on_added = EventListener::once(&add, "success", move |_| {
            if let Ok(chunks) = chunks_tx.object_store(CHUNKS) {
                let _ = chunks.delete(&range);
            }
        });
        let exists = Rc::new(Cell::new(false));
        let flag = exists.clone();
        let on_refused = EventListener::new_with_options(
            &add,
            "error",
            gloo_events::EventListenerOptions::enable_prevent_default(),
            move |e| {
                // Only this record's add failed: the transaction goes on for the others.
                e.prevent_default();
                e.stop_propagation();
                flag.set(true);
            },
        );
        Ok(async move {
            let done = finish(&tx, &AbortReason::default()).await;
            drop((on_added, on_refused));
            if exists.get() {
                return Err(StoreError::Exists);
            }
            done
        })
    }

    /// Deletes the record and every chunk of `id`, whatever their epoch. The transaction is
    /// created before this returns (see [`Store::create`]).
    pub fn delete(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> {
        let started = self.start_delete(id);
        async move { started?.await }
    }

    fn start_delete(
        &self,
        id: &str,
    ) -> Result<impl Future<Output = Result<(), StoreError>>, StoreError> {
        let tx = self.tx(&[DOWNLOADS, CHUNKS], IdbTransactionMode::Readwrite)?;
        let range = all_chunks_of(id)?;
        tx.object_store(CHUNKS)
            .map_err(failed)?
            .delete(&range)
            .map_err(failed)?;
        tx.object_store(DOWNLOADS)
            .map_err(failed)?
            .delete(&JsValue::from_str(id))
            .map_err(failed)?;
        Ok(async move { finish(&tx, &AbortReason::default()).await })
    }

    /// Runs `ops` in a read-write transaction over both stores, but only if the stored record
    /// of `id` still has `epoch`; otherwise the transaction is aborted and `Stale` returned.
    async fn guarded(
        &self,
        id: &str,
        epoch: u32,
        chunk_write: bool,
        // Boxed, not generic: one copy of this function (and of its listener) serves all callers.
        ops: GuardedOps,
    ) -> Result<(), StoreError> {
        let tx = self.tx(&[DOWNLOADS, CHUNKS], IdbTransactionMode::Readwrite)?;
        let reason = AbortReason::default();
        let downloads = tx.object_store(DOWNLOADS).map_err(failed)?;
        let chunks = tx.object_store(CHUNKS).map_err(failed)?;
        let get = downloads.get(&JsValue::from_str(id)).map_err(failed)?;
        let (tx2, reason2, get2) = (tx.clone(), reason.clone(), get.clone());
        let mut ops = Some(ops);
        let _on_get = EventListener::once(&get, "success", move |_| {
            let current = get2.result().unwrap_or(JsValue::UNDEFINED);
            let current_epoch = field(&current, "epoch").as_f64();
            if current.is_undefined() || current_epoch != Some(f64::from(epoch)) {
                return abort_with(&tx2, &reason2, StoreError::Stale);
            }
            if let Some(name) = chunk_write
                .then(crate::web::probe::take_write_fault)
                .flatten()
            {
                return abort_with(
                    &tx2,
                    &reason2,
                    StoreError::from_dom(Some(name.clone()), format!("{name} (injected)")),
                );
            }
            if let Some(ops) = ops.take() {
                if let Err(e) = ops(&downloads, &chunks, &current) {
                    abort_with(&tx2, &reason2, failed(e));
                }
            }
        });
        finish(&tx, &reason).await
    }

    /// Commits a chunk of `parts` (its bytes, `Uint8Array`s and `Blob`s in order) and the
    /// record that counts it, atomically. The chunk must start at the stored offset of the
    /// same epoch.
    ///
    /// Where Blobs are refused, the bytes become one `ArrayBuffer` first (before the
    /// transaction starts: none stays open across an await).
    pub async fn append(
        &self,
        rec: &Record,
        chunk: &ChunkHead,
        parts: &Array,
    ) -> Result<(), StoreError> {
        let bytes = chunk_value(self.chunk_form, parts, chunk.len).await?;
        let (chunk_js, rec_js) = (chunk.to_js(&rec.id, rec.stored.epoch, bytes), rec.to_js());
        let offset = chunk.offset as f64;
        self.guarded(
            &rec.id,
            rec.stored.epoch,
            true,
            Box::new(move |downloads, chunks, current| {
                if field(current, "offset").as_f64() != Some(offset) {
                    return Err(JsValue::from_str(
                        "the chunk does not start at the stored offset",
                    ));
                }
                chunks.put(&chunk_js)?;
                downloads.put(&rec_js)?;
                Ok(())
            }),
        )
        .await
    }

    /// Writes `rec`, which counts bytes of an OPFS file committed since the stored record at
    /// offset `from` (same epoch); refused if the stored offset moved.
    pub async fn advance(&self, rec: &Record, from: u64) -> Result<(), StoreError> {
        let rec_js = rec.to_js();
        let from = from as f64;
        self.guarded(
            &rec.id,
            rec.stored.epoch,
            false,
            Box::new(move |downloads, _, current| {
                if field(current, "offset").as_f64() != Some(from) {
                    return Err(JsValue::from_str(
                        "the bytes do not start at the stored offset",
                    ));
                }
                downloads.put(&rec_js)?;
                Ok(())
            }),
        )
        .await
    }

    /// Replaces the record (same epoch), e.g. a state change.
    pub async fn update(&self, rec: &Record) -> Result<(), StoreError> {
        let rec_js = rec.to_js();
        self.guarded(
            &rec.id,
            rec.stored.epoch,
            false,
            Box::new(move |downloads, _, _| {
                downloads.put(&rec_js)?;
                Ok(())
            }),
        )
        .await
    }

    /// Starts over: deletes every chunk of the download and writes `rec` (new epoch, offset 0),
    /// if the stored record is still at `old_epoch`.
    pub async fn restart(&self, old_epoch: u32, rec: &Record) -> Result<(), StoreError> {
        self.drop_chunks(old_epoch, rec, all_chunks_of(&rec.id)?)
            .await
    }

    /// Cuts the stored bytes back to the first `keep` chunks and writes `rec` describing them.
    pub async fn truncate(&self, rec: &Record, keep: u32) -> Result<(), StoreError> {
        self.drop_chunks(
            rec.stored.epoch,
            rec,
            chunks_from(&rec.id, rec.stored.epoch, keep)?,
        )
        .await
    }

    /// Deletes the chunks in `range` and writes `rec`, if the stored record is at `epoch`.
    async fn drop_chunks(
        &self,
        epoch: u32,
        rec: &Record,
        range: IdbKeyRange,
    ) -> Result<(), StoreError> {
        let rec_js = rec.to_js();
        self.guarded(
            &rec.id,
            epoch,
            false,
            Box::new(move |downloads, chunks, _| {
                chunks.delete(&range)?;
                downloads.put(&rec_js)?;
                Ok(())
            }),
        )
        .await
    }

    /// The chunks of `id` in `epoch`, in index order. Malformed entries come back as `None`
    /// so that the caller can cut back before them.
    pub async fn chunks(&self, id: &str, epoch: u32) -> Result<Vec<Option<Chunk>>, StoreError> {
        let tx = self.tx(&[CHUNKS], IdbTransactionMode::Readonly)?;
        let range = chunks_from(id, epoch, 0)?;
        let req = tx
            .object_store(CHUNKS)
            .map_err(failed)?
            .get_all_with_key(&range)
            .map_err(failed)?;
        Ok(chunk_list(&request(&req).await?, None))
    }

    /// The record of `id` and the chunks of its epoch, read in one transaction (so they agree
    /// with each other).
    pub async fn load_with_chunks(
        &self,
        id: &str,
    ) -> Result<Option<(Record, Vec<Option<Chunk>>)>, StoreError> {
        let tx = self.tx(&[DOWNLOADS, CHUNKS], IdbTransactionMode::Readonly)?;
        let get = tx
            .object_store(DOWNLOADS)
            .map_err(failed)?
            .get(&JsValue::from_str(id))
            .map_err(failed)?;
        let all = tx
            .object_store(CHUNKS)
            .map_err(failed)?
            .get_all_with_key(&all_chunks_of(id)?.into())
            .map_err(failed)?;
        // Both requests are listened to before either can succeed.
        let (rec, list) = futures::join!(request(&get), request(&all));
        let Some(rec) = Record::from_js(&rec?) else {
            return Ok(None);
        };
        let chunks = chunk_list(&list?, Some(rec.stored.epoch));
        Ok(Some((rec, chunks)))
    }
}

/// Chunks from a `getAll` in key order, those of another epoch left out when `epoch` is set.
fn chunk_list(list: &JsValue, epoch: Option<u32>) -> Vec<Option<Chunk>> {
    Array::from(list)
        .iter()
        .filter(|v| epoch.is_none_or(|e| field(v, "epoch").as_f64() == Some(f64::from(e))))
        .map(|v| Chunk::from_js(&v))
        .collect()
}

/// Creates or upgrades the object stores, from `old` to [`SCHEMA_VERSION`].
fn migrate(db: &IdbDatabase, old: u32) {
    if old < 1 {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&JsValue::from_str("id"));
        let _ = db.create_object_store_with_optional_parameters(DOWNLOADS, &params);
        let params = IdbObjectStoreParameters::new();
        let key: Array = ["id", "epoch", "index"]
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect();
        params.set_key_path(&key);
        let _ = db.create_object_store_with_optional_parameters(CHUNKS, &params);
    }
    // Later versions add their steps here, each guarded by `old < N`.
}
