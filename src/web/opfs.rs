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
use crate::web::store::StoreError;

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

    /// Sends `op` for download `id` with `args` now, so that the worker serves it after every
    /// request sent before and before every one sent later; its answer comes later.
    fn post(&self, op: &str, id: &str, args: &[(&str, JsValue)]) -> Answer {
        let o = Object::new();
        let _ = Reflect::set(&o, &"dir".into(), &self.dir.as_str().into());
        let _ = Reflect::set(&o, &"name".into(), &Files::name(id).into());
        for (k, v) in args {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
        Answer(JsFuture::from(self.worker.call(op, &o)))
    }

    /// Writes `parts` (`Uint8Array`s and `Blob`s, in order) to download `id`'s file at `at`,
    /// cutting off anything stored beyond `at` first, and flushes them. Sent now.
    ///
    /// # Errors
    /// `Quota` when the disk or the quota is full; `Failed` otherwise. The file then holds
    /// at least its first `at` bytes.
    pub fn write(&self, id: &str, at: u64, parts: &Array) -> Answer {
        if let Some(name) = crate::web::probe::take_write_fault() {
            let err = js_sys::Error::new(&format!("{name} (injected)"));
            err.set_name(&name);
            return Answer(JsFuture::from(Promise::reject(&err)));
        }
        self.post(
            "write",
            id,
            &[("at", (at as f64).into()), ("parts", parts.into())],
        )
    }

    /// The size of download `id`'s file (an empty file when there is none).
    ///
    /// # Errors
    /// The storage failure.
    pub async fn size(&self, id: &str) -> Result<u64, StoreError> {
        let v = self.post("size", id, &[]).value().await?;
        v.as_f64()
            .map(|n| n as u64)
            .ok_or_else(|| StoreError::Failed("the storage worker sent no size".into()))
    }

    /// Closes download `id`'s file handle, so that another tab can open it (its run ended).
    /// Requests are served in order, so later ones reopen it.
    pub fn release(&self, id: &str) -> Answer {
        self.post("close", id, &[])
    }

    /// Deletes download `id`'s file. Sent now.
    pub fn remove(&self, id: &str) -> Answer {
        self.post("remove", id, &[])
    }

    /// The first `size` bytes of download `id`'s file, typed `mime`: a slice of its `File`
    /// (nothing is copied), read once its handle is closed.
    ///
    /// # Errors
    /// The storage failure, also when the file is shorter than `size`.
    pub async fn blob(&self, id: &str, size: u64, mime: &str) -> Result<Blob, StoreError> {
        let v = self
            .post(
                "file",
                id,
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

    /// Waits for the answer, ignoring what it is.
    pub async fn done(self) -> Result<(), StoreError> {
        self.value().await.map(drop)
    }
}
