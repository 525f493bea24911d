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

    async fn request(&self, op: &str, args: &[(&str, JsValue)]) -> Result<JsValue, StoreError> {
        let o = Object::new();
        let _ = Reflect::set(&o, &"dir".into(), &self.dir.as_str().into());
        for (k, v) in args {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
        JsFuture::from(self.worker.call(op, &o)).await.map_err(|e| {
            StoreError::from_dom(
                prop(&e, "name").and_then(|n| n.as_string()),
                prop(&e, "message")
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| describe(&e)),
            )
        })
    }

    /// Writes `parts` (`Uint8Array`s and `Blob`s, in order) to download `id`'s file at `at`,
    /// cutting off anything stored beyond `at` first, and flushes them.
    ///
    /// # Errors
    /// `Quota` when the disk or the quota is full; `Failed` otherwise. The file then holds
    /// at least its first `at` bytes.
    pub async fn write(&self, id: &str, at: u64, parts: &Array) -> Result<(), StoreError> {
        if let Some(name) = crate::web::probe::take_write_fault() {
            return Err(StoreError::from_dom(
                Some(name.clone()),
                format!("{name} (injected)"),
            ));
        }
        self.request(
            "write",
            &[
                ("name", Files::name(id).into()),
                ("at", (at as f64).into()),
                ("parts", parts.into()),
            ],
        )
        .await
        .map(drop)
    }

    /// The size of download `id`'s file (an empty file when there is none).
    ///
    /// # Errors
    /// The storage failure.
    pub async fn size(&self, id: &str) -> Result<u64, StoreError> {
        let v = self
            .request("size", &[("name", Files::name(id).into())])
            .await?;
        v.as_f64()
            .map(|n| n as u64)
            .ok_or_else(|| StoreError::Failed("the storage worker sent no size".into()))
    }

    /// Closes download `id`'s file handle, so that another tab can open it (its run ended).
    /// Requests are served in order, so later ones reopen it.
    pub fn release(&self, id: &str) -> impl std::future::Future<Output = ()> + 'static {
        let call = self.start("close", id);
        async move {
            let _ = JsFuture::from(call).await;
        }
    }

    /// Deletes download `id`'s file.
    pub fn remove(
        &self,
        id: &str,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + 'static {
        let call = self.start("remove", id);
        async move {
            JsFuture::from(call)
                .await
                .map(drop)
                .map_err(|e| StoreError::Failed(describe(&e)))
        }
    }

    /// Sends `op` for download `id` now (so that it is ordered before later requests).
    fn start(&self, op: &str, id: &str) -> Promise {
        let o = Object::new();
        let _ = Reflect::set(&o, &"dir".into(), &self.dir.as_str().into());
        let _ = Reflect::set(&o, &"name".into(), &Files::name(id).into());
        self.worker.call(op, &o)
    }

    /// The first `size` bytes of download `id`'s file, typed `mime`: a slice of its `File`
    /// (nothing is copied), read once its handle is closed.
    ///
    /// # Errors
    /// The storage failure, also when the file is shorter than `size`.
    pub async fn blob(&self, id: &str, size: u64, mime: &str) -> Result<Blob, StoreError> {
        let v = self
            .request(
                "file",
                &[
                    ("name", Files::name(id).into()),
                    ("size", (size as f64).into()),
                    ("type", mime.into()),
                ],
            )
            .await?;
        Ok(v.unchecked_into())
    }
}
