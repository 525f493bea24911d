//! The settings of a manager and of one download, as parsed from the page's options
//! (`crate::api` parses and validates them).

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use crate::core::run::{Limits, RequestReason, RunConfig};
use crate::core::DownloadError;

/// What the `prepareRequest` hook is told about the request it prepares.
pub struct RequestCall {
    /// The download's id.
    pub id: String,
    /// The URL the download was added with.
    pub url: String,
    /// The 1-based number of the request in this run.
    pub attempt: u32,
    /// Why the request is sent.
    pub reason: RequestReason,
    /// The page's handle on the download.
    pub download: JsValue,
}

/// What the hook answered: the URL to fetch instead of the stored one, and headers sent with
/// this request only (over the stored ones of the same name), never stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// The URL to fetch; `None` keeps the stored one.
    pub url: Option<String>,
    /// Headers for this request.
    pub headers: Vec<(String, String)>,
}

/// The page's `prepareRequest` hook, as the binding layer wraps it: it converts the call and
/// checks the answer, so that a bad answer is a `PREPARE_REQUEST` error.
#[derive(Clone)]
pub struct PrepareHook(
    #[allow(clippy::type_complexity)]
    pub  Rc<dyn Fn(RequestCall) -> LocalBoxFuture<'static, Result<Prepared, DownloadError>>>,
);

impl std::fmt::Debug for PrepareHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrepareHook")
    }
}

/// Where a manager keeps downloads (`DownloadManager.open({ storage })`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageChoice {
    /// OPFS where a storage worker can write files, else IndexedDB, else memory.
    Auto,
    /// OPFS (IndexedDB when it turns out to be unavailable, saying why).
    Opfs,
    /// IndexedDB chunks, even where OPFS is available.
    Indexeddb,
    /// Nothing persists (as `persist: false`).
    Memory,
}

impl StorageChoice {
    /// The option's value.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageChoice::Auto => "auto",
            StorageChoice::Opfs => "opfs",
            StorageChoice::Indexeddb => "indexeddb",
            StorageChoice::Memory => "memory",
        }
    }

    /// Every choice, for parsing.
    pub const ALL: [StorageChoice; 4] = [
        StorageChoice::Auto,
        StorageChoice::Opfs,
        StorageChoice::Indexeddb,
        StorageChoice::Memory,
    ];
}

/// Manager settings with their defaults.
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// IndexedDB database name; separate names never share data.
    pub name: String,
    /// Timeouts, retries, chunk and flush sizes, commit and progress intervals.
    pub limits: Limits,
    /// Where downloads are kept.
    pub storage: StorageChoice,
    /// Unfinished downloads untouched for this long are deleted when a manager opens; 0 =
    /// never.
    pub expire_after_ms: u64,
    /// Downloads running at once.
    pub concurrency: usize,
    /// Title of the notification shown when a batch finishes while the page is hidden; `None`
    /// = no notification.
    pub notify_title: Option<String>,
    /// Keep downloads in IndexedDB (resume across reloads); false keeps them in memory only.
    pub persist: bool,
    /// The page's `prepareRequest` hook, called before every request.
    pub prepare_request: Option<PrepareHook>,
    /// `background: 'auto'`: new downloads go to Background Fetch where the page can hand
    /// them over (`'never'`, the default: only those added with `background: true`).
    pub background_auto: bool,
    /// `backgroundIcons`: the icons of its Background Fetches in the browser's UI (a checked
    /// copy of the page's array of `{ src, sizes?, type?, label? }`).
    pub background_icons: Option<js_sys::Array>,
    /// Downloads restored queued or running start again when the manager opens (`false`:
    /// they wait as paused until `resume()`; what is stored stays as it was).
    pub resume_on_open: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            name: "default".into(),
            limits: Limits::default(),
            storage: StorageChoice::Auto,
            expire_after_ms: 7 * 24 * 60 * 60 * 1000,
            concurrency: 4,
            notify_title: None,
            persist: true,
            background_auto: false,
            background_icons: None,
            resume_on_open: true,
            prepare_request: None,
        }
    }
}

impl ManagerConfig {
    /// What one run needs.
    pub fn run_config(&self) -> RunConfig {
        RunConfig {
            limits: self.limits,
            rewindable: true,
            prepare_request: self.prepare_request.is_some(),
        }
    }
}

/// Options of one `add()` call.
#[derive(Default)]
pub struct AddOptions {
    /// The download's id.
    pub id: Option<String>,
    /// The name `save()` uses.
    pub filename: Option<String>,
    /// The title of its Background Fetch in the browser's UI (`None`: the file name).
    pub title: Option<String>,
    /// Extra request headers, stored.
    pub headers: Vec<(String, String)>,
    /// Aborting it cancels the download.
    pub signal: Option<AbortSignal>,
    /// The SRI string to check.
    pub integrity: Option<String>,
    /// Queue priority.
    pub priority: i32,
    /// The caller's stream the bytes are written to instead of storage.
    pub sink: Option<web_sys::WritableStream>,
    /// The caller's `FileSystemFileHandle` the bytes are written to instead of the
    /// download's own file.
    pub file: Option<JsValue>,
    /// `background`: hand it to Background Fetch where the page can (`None`: the manager's
    /// default).
    pub background: Option<bool>,
}
