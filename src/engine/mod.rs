//! The single-threaded runtime: the registry of downloads, the queue, run accounting,
//! open/restore/close, the driver that feeds the run machine of `crate::core::run` with
//! transfers, writes and timers, tab coordination, and the typed events.
//!
//! Every `Rc`/`RefCell` of the library lives here, and nothing here is `#[wasm_bindgen]`:
//! `crate::api` binds it. Who owns what (I15):
//! - the page's `DownloadManager` and every `Download` handle own the manager
//!   ([`manager::ManagerInner`]); a `Download` handle also owns its download;
//! - a queued or running download owns its manager until it stops, and a run task owns it
//!   until the run has ended, so work outlives the objects that started it;
//! - the manager owns its downloads, listeners, channel and database connection; when
//!   nothing owns it any more it drops them all (the channel and the connection close, lock
//!   requests are withdrawn);
//! - nothing here holds a JS handle strongly: a download's handle and its settled `done` are
//!   cached behind `WeakRef`s.

pub(crate) mod config;
pub(crate) mod download;
mod driver;
pub(crate) mod events;
pub(crate) mod manager;
mod runs;
