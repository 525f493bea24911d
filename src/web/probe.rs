//! Test hooks, compiled only with the `testing` feature (the browser tests enable it; the
//! published package never does): fault injection (a real IndexedDB transaction aborted, or
//! the database failing to open) and counters of live managers, connections and channels,
//! so that a test can check what a released manager gives back. Without the feature the
//! hooks are empty and compile away.

#[cfg(feature = "testing")]
mod on {
    use std::cell::{Cell, RefCell};

    /// Fault injection for the browser tests: the next matching write transaction is aborted
    /// (a real abort of a real transaction) and reported with the given DOMException name.
    #[derive(Default)]
    struct Faults {
        fail_open: Cell<bool>,
        fail_read_all: Cell<bool>,
        fail_opfs: Cell<bool>,
        refuse_blobs: Cell<bool>,
        stream_files: Cell<bool>,
        /// (writes to let through first, DOMException name)
        fail_write: RefCell<Option<(u32, String)>>,
    }

    thread_local! {
        static FAULTS: Faults = Faults::default();
    }

    /// Makes the chunk write after `after` successful chunk writes fail with a DOMException named `name`
    /// (`"QuotaExceededError"`, `"UnknownError"`, …). One-shot.
    pub fn inject_write_failure(after: u32, name: &str) {
        FAULTS.with(|f| *f.fail_write.borrow_mut() = Some((after, name.to_owned())));
    }

    /// Makes opening a database fail, as if IndexedDB were unavailable.
    pub fn inject_open_failure(fail: bool) {
        FAULTS.with(|f| f.fail_open.set(fail));
    }

    /// Clears every injected fault.
    pub fn clear_faults() {
        FAULTS.with(|f| {
            f.fail_open.set(false);
            f.fail_read_all.set(false);
            f.fail_opfs.set(false);
            f.refuse_blobs.set(false);
            f.stream_files.set(false);
            *f.fail_write.borrow_mut() = None;
        });
    }

    /// Takes an armed write fault if it is due now.
    pub fn take_write_fault() -> Option<String> {
        FAULTS.with(|f| {
            let mut slot = f.fail_write.borrow_mut();
            match slot.as_mut() {
                Some((0, _)) => slot.take().map(|(_, name)| name),
                Some((n, _)) => {
                    *n -= 1;
                    None
                }
                None => None,
            }
        })
    }

    thread_local! {
        static LIVE: Cell<[i32; 3]> = const { Cell::new([0; 3]) };
    }

    /// Counts a live resource: 0 managers, 1 database connections, 2 tab channels.
    pub fn count(kind: usize, delta: i32) {
        LIVE.with(|l| {
            let mut v = l.get();
            v[kind] += delta;
            l.set(v);
        });
    }

    /// `[managers, connections, channels]` alive now.
    pub fn live() -> [i32; 3] {
        LIVE.with(Cell::get)
    }

    /// True when opening a database is to fail.
    pub fn open_fails() -> bool {
        FAULTS.with(|f| f.fail_open.get())
    }

    /// A storage worker, and how to crash it.
    type Watched = (wasm_bindgen::JsValue, fn(&wasm_bindgen::JsValue));

    thread_local! {
        /// The storage workers started.
        static WORKERS: RefCell<Vec<Watched>> = const { RefCell::new(Vec::new()) };
    }

    /// Keeps a storage worker so that [`crash_storage_workers`] can reach it.
    pub fn watch_storage_worker(worker: &wasm_bindgen::JsValue, crash: fn(&wasm_bindgen::JsValue)) {
        WORKERS.with(|w| w.borrow_mut().push((worker.clone(), crash)));
    }

    /// Makes every storage worker started so far die as if it had crashed: the requests
    /// under way fail, and the next request starts a new worker.
    pub fn crash_storage_workers() {
        for (worker, crash) in WORKERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
            crash(&worker);
        }
    }

    /// Makes the OPFS backend unavailable to managers opened from now on, as in a browser
    /// without it: they fall back to IndexedDB.
    pub fn inject_opfs_failure(fail: bool) {
        FAULTS.with(|f| f.fail_opfs.set(fail));
    }

    /// True when the OPFS backend is to count as unavailable.
    pub fn opfs_fails() -> bool {
        FAULTS.with(|f| f.fail_opfs.get())
    }

    /// Makes the probe at open report that IndexedDB refuses Blob values, as WebKit's does,
    /// so that chunks are stored as `ArrayBuffer`s in any browser.
    pub fn inject_blob_refusal(refuse: bool) {
        FAULTS.with(|f| f.refuse_blobs.set(refuse));
    }

    /// True when the Blob probe is to report a refusal.
    pub fn blobs_refused() -> bool {
        FAULTS.with(|f| f.refuse_blobs.get())
    }

    /// Makes the storage worker write the caller's files through a
    /// `FileSystemWritableFileStream`, as it must for a file the user picked, even where an
    /// access handle could be had.
    pub fn inject_streamed_files(stream: bool) {
        FAULTS.with(|f| f.stream_files.set(stream));
    }

    /// True when the caller's files are to be written as streams.
    pub fn stream_files() -> bool {
        FAULTS.with(|f| f.stream_files.get())
    }

    /// Makes reading every stored download (a manager opening) fail.
    pub fn inject_read_all_failure(fail: bool) {
        FAULTS.with(|f| f.fail_read_all.set(fail));
    }

    /// True when reading every stored download is to fail.
    pub fn read_all_fails() -> bool {
        FAULTS.with(|f| f.fail_read_all.get())
    }
}

#[cfg(feature = "testing")]
pub use on::*;

/// Counts a live resource (managers 0, connections 1, channels 2); nothing without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn count(_kind: usize, _delta: i32) {}

/// Never, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn open_fails() -> bool {
    false
}

/// Never, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn stream_files() -> bool {
    false
}

/// Never, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn opfs_fails() -> bool {
    false
}

/// Nothing, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn watch_storage_worker(_worker: &wasm_bindgen::JsValue, _crash: fn(&wasm_bindgen::JsValue)) {}

/// Never, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn read_all_fails() -> bool {
    false
}

/// Never, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn blobs_refused() -> bool {
    false
}

/// Nothing, without `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn take_write_fault() -> Option<String> {
    None
}

/// A live database manager.
pub const MANAGERS: usize = 0;
/// An open database connection.
pub const CONNECTIONS: usize = 1;
/// An open tab channel.
pub const CHANNELS: usize = 2;
