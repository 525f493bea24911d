//! [`Files`]: the OPFS backend's files, one per download, written by the storage worker the
//! package ships (`js/opfs.js`), where `FileSystemSyncAccessHandle` is available.
//!
//! Owner: the manager. Dropping it stops the worker, which closes every handle. Each file is
//! a prefix of its download; the record that counts its bytes stays in IndexedDB and is
//! committed only after the worker has flushed them (I4), so a crash loses only bytes that
//! no record counts, and the next write cuts them off.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::core::naming::storage_name;
use crate::web::js::{describe, prop};
use crate::web::store::{Record, StoreError};

#[wasm_bindgen(module = "/js/opfs.js")]
extern "C" {
    type StorageWorker;

    /// Resolves with a worker that has written a file in `dir`, or rejects with why not.
    #[wasm_bindgen(js_name = openStorageWorker)]
    fn open_storage_worker(dir: &str, ms: f64) -> Promise;

    #[wasm_bindgen(method)]
    fn call(this: &StorageWorker, op: &str, args: &Object) -> Promise;

    #[wasm_bindgen(method)]
    fn terminate(this: &StorageWorker);

    #[wasm_bindgen(method)]
    fn crash(this: &StorageWorker);
}

/// Which file a request is for: the download's own file in the manager's directory, or the
/// caller's (`add(url, { file })`).
#[derive(Clone, Copy)]
pub struct Target<'a> {
    id: &'a str,
    handle: Option<&'a JsValue>,
}

impl<'a> From<&'a Record> for Target<'a> {
    fn from(rec: &'a Record) -> Target<'a> {
        Target {
            id: &rec.id,
            handle: rec.file.as_ref(),
        }
    }
}

impl<'a> Target<'a> {
    /// Download `id`'s file: its own, or the caller's `handle`.
    pub fn new(id: &'a str, handle: Option<&'a JsValue>) -> Target<'a> {
        Target { id, handle }
    }
}

/// The files of one manager, in its own directory.
pub struct Files {
    worker: StorageWorker,
    dir: String,
}

impl Drop for Files {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

impl Files {
    /// Stops the worker now (the manager was closed); later requests fail.
    pub fn stop(&self) {
        self.worker.terminate();
    }
}

/// How long the first request may take before OPFS counts as unavailable (a worker that
/// cannot load never answers).
const PROBE_MS: f64 = 10_000.0;

impl Files {
    /// Starts the worker and checks that it can create, write and delete a file in the
    /// manager's directory.
    ///
    /// # Errors
    /// Why OPFS cannot be used here, in words for `manager.storage.reason`.
    pub fn open(
        manager_name: &str,
    ) -> impl std::future::Future<Output = Result<Files, String>> + 'static {
        let dir = storage_name(manager_name);
        // Started now: the probe runs while the caller does other work.
        let probe = (!crate::web::probe::opfs_fails())
            .then(|| JsFuture::from(open_storage_worker(&dir, PROBE_MS)));
        async move {
            let Some(probe) = probe else {
                return Err("OPFS is unavailable (injected)".into());
            };
            let worker: StorageWorker = probe
                .await
                .map_err(|e| {
                    prop(&e, "message")
                        .and_then(|m| m.as_string())
                        .unwrap_or_else(|| describe(&e))
                })?
                .unchecked_into();
            crate::web::probe::watch_storage_worker(&worker, |w| {
                w.unchecked_ref::<StorageWorker>().crash()
            });
            Ok(Files { worker, dir })
        }
    }

    /// The file name of download `id`.
    pub fn name(id: &str) -> String {
        format!("{}.part", storage_name(id))
    }

    /// Sends `op` for `file` with `args` now, so that the worker serves it after every
    /// request sent before and before every one sent later; its answer comes later.
    fn post(&self, op: &str, file: Target<'_>, args: &[(&str, JsValue)]) -> Answer {
        let o = Object::new();
        let _ = Reflect::set(&o, &"dir".into(), &self.dir.as_str().into());
        let _ = Reflect::set(&o, &"name".into(), &Files::name(file.id).into());
        if let Some(h) = file.handle {
            let _ = Reflect::set(&o, &"handle".into(), h);
            if crate::web::probe::stream_files() {
                let _ = Reflect::set(&o, &"stream".into(), &JsValue::TRUE);
            }
        }
        for (k, v) in args {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
        Answer(JsFuture::from(self.worker.call(op, &o)))
    }

    /// Writes `parts` (`Uint8Array`s and `Blob`s, in order) to `file` at `at`, and flushes
    /// them. Sent now. With the download's `total`, the download's own file is sized to it
    /// once (a total the disk cannot hold is `Quota` before any byte) and what lies beyond
    /// `at` is overwritten by the writes that follow; without it, anything stored beyond `at`
    /// is cut off first. Answers the file's
    /// durable end: the end, except for a caller's file that has no access handle, whose
    /// bytes become durable only where `sync` asks for it (or when its run ends).
    ///
    /// # Errors
    /// `Quota` when the disk or the quota is full; `Failed` otherwise. The file then holds
    /// at least its first `at` bytes.
    pub fn write(
        &self,
        file: Target<'_>,
        at: u64,
        parts: &Array,
        sync: bool,
        total: Option<u64>,
    ) -> Answer {
        if let Some(name) = crate::web::probe::take_write_fault() {
            let err = js_sys::Error::new(&format!("{name} (injected)"));
            err.set_name(&name);
            return Answer(JsFuture::from(Promise::reject(&err)));
        }
        self.post(
            "write",
            file,
            &[
                ("at", (at as f64).into()),
                ("parts", parts.into()),
                ("sync", sync.into()),
                ("total", total.map_or(JsValue::NULL, |t| (t as f64).into())),
            ],
        )
    }

    /// The durable size of `file` (an empty file of the download's own when there is none).
    ///
    /// # Errors
    /// The storage failure.
    pub async fn size(&self, file: Target<'_>) -> Result<u64, StoreError> {
        self.post("size", file, &[]).end().await
    }

    /// Closes `file`, so that another tab can open it (its run ended). Requests are served
    /// in order, so later ones reopen it.
    pub fn release(&self, file: Target<'_>) -> Answer {
        self.post("close", file, &[])
    }

    /// Deletes the download's own file, or empties the caller's. Sent now.
    pub fn remove(&self, file: Target<'_>) -> Answer {
        self.post("remove", file, &[])
    }

    /// The first `size` bytes of `file`, typed `mime`: a slice of its `File` (nothing is
    /// copied), read once it is closed.
    ///
    /// # Errors
    /// The storage failure, also when the file is shorter than `size`.
    pub async fn blob(&self, file: Target<'_>, size: u64, mime: &str) -> Result<Blob, StoreError> {
        let v = self
            .post(
                "file",
                file,
                &[("size", (size as f64).into()), ("type", mime.into())],
            )
            .value()
            .await?;
        Ok(v.unchecked_into())
    }
}

/// The worker's answer to a request already sent.
pub struct Answer(JsFuture);

impl Answer {
    /// The answer's value.
    ///
    /// # Errors
    /// The request's failure, as a storage error.
    pub async fn value(self) -> Result<JsValue, StoreError> {
        self.0.await.map_err(|e| {
            StoreError::from_dom(
                prop(&e, "name").and_then(|n| n.as_string()),
                prop(&e, "message")
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| describe(&e)),
            )
        })
    }

    /// The answer as a file offset.
    ///
    /// # Errors
    /// The request's failure, as a storage error.
    pub async fn end(self) -> Result<u64, StoreError> {
        self.value()
            .await?
            .as_f64()
            .map(|n| n as u64)
            .ok_or_else(|| StoreError::Failed("the storage worker sent no size".into()))
    }

    /// Waits for the answer, ignoring what it is.
    pub async fn done(self) -> Result<(), StoreError> {
        self.value().await.map(drop)
    }
}
