//! [`Download`]: the page's handle on one download.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, HtmlAnchorElement};

use super::args;
use super::error::to_js;
use crate::core::naming::choose_filename;
use crate::core::{DownloadError, ErrorCode};
use crate::engine::download::Handle;
use crate::web::clock::sleep_ms;
use crate::web::codec::progress_value;
use crate::web::js::describe;

/// One download. Obtained from `DownloadManager.add`, `get` or `list`; the same object is
/// returned for the same id for as long as the page holds it. It keeps its manager alive.
/// `free()` (or `using`) only drops this handle: the download goes on, and `get(id)` gives a
/// new handle.
#[wasm_bindgen]
pub struct Download {
    h: Handle,
}

impl From<Handle> for Download {
    fn from(h: Handle) -> Self {
        Download { h }
    }
}

#[wasm_bindgen]
impl Download {
    /// The download's id (the `id` option, or derived from the URL).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.h.cell.id.clone()
    }

    /// The absolute URL it was added with.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.h.cell.url.clone()
    }

    /// The URL of the accepted response, after redirects; `undefined` until there is one. A
    /// URL that `prepareRequest` gave is not kept: without a redirect this is `url`.
    #[wasm_bindgen(getter, js_name = finalUrl)]
    pub fn final_url(&self) -> Option<String> {
        let m = self.h.cell.parts.borrow();
        let rec = &m.record;
        rec.stored.answered_url(&self.h.cell.url)
    }

    /// The name `save()` uses by default, sanitized for saving: the `filename` option, else
    /// the response's `Content-Disposition` name, else the final URL's last path segment,
    /// else `'download'`.
    #[wasm_bindgen(getter)]
    pub fn filename(&self) -> String {
        let m = self.h.cell.parts.borrow();
        let rec = &m.record;
        choose_filename(
            rec.filename.as_deref(),
            rec.disposition.as_deref(),
            rec.stored.final_url.as_deref().unwrap_or(&self.h.cell.url),
        )
    }

    /// The response's `Content-Type`, as the server sent it; `undefined` until a response
    /// is accepted or when it sent none. Stored with the download.
    #[wasm_bindgen(getter, js_name = mimeType)]
    pub fn mime_type(&self) -> Option<String> {
        self.h.cell.parts.borrow().record.content_type.clone()
    }

    /// Where it transfers: `'background'` while the browser's Background Fetch has it (the
    /// transfer goes on with the page closed), else `'page'`.
    #[wasm_bindgen(getter, unchecked_return_type = "'page' | 'background'")]
    pub fn mode(&self) -> String {
        self.h.cell.mode().to_owned()
    }

    /// Why it runs in the page though it was added with `background`, once the browser
    /// refused a handover, its Background Fetch failed, or the resume could not be checked
    /// there (cross-origin); else `undefined`.
    #[wasm_bindgen(getter, js_name = backgroundRefused)]
    pub fn background_refused(&self) -> Option<String> {
        self.h.cell.background_refused()
    }

    /// `'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled'`.
    #[wasm_bindgen(getter, unchecked_return_type = "DownloadState")]
    pub fn state(&self) -> String {
        self.h.cell.state().as_str().to_owned()
    }

    /// `{ transferredBytes, totalBytes, percent, bytesPerSecond, etaSeconds }`, current. After
    /// a reload it shows the stored bytes. The rate decays while nothing arrives, and is 0
    /// (ETA `null`) when the download is not running.
    #[wasm_bindgen(getter, unchecked_return_type = "Progress")]
    pub fn progress(&self) -> JsValue {
        progress_value(&self.h.cell.progress())
    }

    /// True when an interruption continues with a `Range` request; false when it would start
    /// over (no strong validator, unknown total, or no range support). `false` until the
    /// first response.
    #[wasm_bindgen(getter)]
    pub fn resumable(&self) -> bool {
        self.h.cell.resumable()
    }

    /// Bytes fetched and then discarded by restarts.
    #[wasm_bindgen(getter, js_name = wastedBytes)]
    pub fn wasted_bytes(&self) -> f64 {
        self.h.cell.parts.borrow().record.stored.wasted as f64
    }

    /// The `DownloadError` of a failed or cancelled download, or of a pause caused by storage
    /// going away; else `undefined`.
    #[wasm_bindgen(getter, unchecked_return_type = "DownloadError | undefined")]
    pub fn error(&self) -> JsValue {
        self.h
            .cell
            .parts
            .borrow()
            .error
            .as_ref()
            .map_or(JsValue::UNDEFINED, to_js)
    }

    /// Resolves with this download when it completes; rejects with a `DownloadError` when it
    /// fails or is cancelled. `resume()` after a failure gives a new `done`.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<Download>")]
    pub fn done(&self) -> Promise {
        self.h.cell.done()
    }

    /// Pauses a queued or running download. The bytes received so far are committed and kept.
    pub fn pause(&self) {
        self.h.cell.pause();
    }

    /// Continues a paused or failed download from its stored bytes.
    pub fn resume(&self) {
        self.h.cell.resume();
    }

    /// Continues the download with `response` answering its next request instead of a fetch
    /// (one the page fetched itself, with `Range` for the stored bytes, or got from a service
    /// worker): validated and written exactly as a fetched response. One that does not fit
    /// what is stored is judged by the usual rules (a changed resource restarts, a wrong range
    /// is refetched), and the download goes on fetching. A run under way in this tab is
    /// stopped first, as by `pause()`.
    ///
    /// @throws {DownloadError} `INVALID_ARGUMENT` for a value that is not an unread
    /// `Response`, or a download another tab runs or that has settled.
    #[wasm_bindgen(js_name = resumeWith)]
    pub fn resume_with(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Response")] response: JsValue,
    ) -> Result<(), JsValue> {
        let response = unread_response(response)?;
        self.h.cell.resume_with(response).map_err(|e| to_js(&e))
    }

    /// For `resumable-downloads/sw`: `resumeWith` the response of the download's own
    /// Background Fetch registration (`registrationId`, the one its record names), whose
    /// request resumed the stored bytes with `If-Range`. Cross-origin, such a response shows
    /// the service worker only its CORS-safelisted headers; its `206` is then taken as the
    /// stored version when its length is exactly what remains.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` as `resumeWith`, and for a registration the record does not name.
    #[wasm_bindgen(js_name = resumeWithBackgroundFetch)]
    pub fn resume_with_background_fetch(
        &self,
        registration_id: String,
        #[wasm_bindgen(unchecked_param_type = "Response")] response: JsValue,
    ) -> Result<(), JsValue> {
        let response = unread_response(response)?;
        self.h
            .cell
            .resume_with_background_fetch(&registration_id, response)
            .map_err(|e| to_js(&e))
    }

    /// Cancels: final. `done` rejects with `ABORTED` at once; the returned promise resolves
    /// once the stored bytes are deleted, after which no write for this download can land.
    /// Does nothing on a download that has already settled.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn cancel(&self) -> Promise {
        let fut = self.h.cell.cancel();
        crate::web::js::promise(async move {
            if let Some(f) = fut {
                f.await;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The completed file as a `Blob`, assembled from the stored chunks without copying.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` unless the download has completed; `STORAGE` if the stored chunks
    /// are gone.
    #[wasm_bindgen(unchecked_return_type = "Promise<Blob>")]
    pub fn blob(&self) -> Promise {
        let snapshot = self.h.cell.snapshot();
        crate::web::js::promise(async move {
            let (snapshot, mime) = snapshot.map_err(|e| to_js(&e))?;
            Ok(snapshot.blob(&mime).await.map_err(|e| to_js(&e))?.into())
        })
    }

    /// Saves the completed file through the browser's download UI (an object URL and
    /// `<a download>`; the URL is revoked afterwards). `filename` defaults to the `filename`
    /// option, then to the last segment of the URL.
    ///
    /// # Errors
    /// Rejects with `INVALID_ARGUMENT` for a `filename` that is not a string, unless the
    /// download has completed, or outside a window.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn save(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "string")] filename: JsValue,
    ) -> Promise {
        let name = match args::optional_string(&filename, "filename") {
            Ok(name) => name.unwrap_or_else(|| self.filename()),
            Err(e) => return args::rejected(&e),
        };
        let blob = self.blob();
        crate::web::js::promise(async move {
            let blob: Blob = wasm_bindgen_futures::JsFuture::from(blob)
                .await?
                .unchecked_into();
            save_blob(&blob, &name).map_err(|e| to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

fn save_blob(blob: &Blob, name: &str) -> Result<(), DownloadError> {
    let window =
        web_sys::window().ok_or_else(|| DownloadError::invalid("save", "needs a window"))?;
    let document = window
        .document()
        .ok_or_else(|| DownloadError::invalid("save", "needs a document"))?;
    let url = web_sys::Url::create_object_url_with_blob(blob)
        .map_err(|e| DownloadError::new(ErrorCode::Storage, describe(&e)))?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| DownloadError::invalid("save", describe(&e)))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // Revoke after the browser has had time to start reading the Blob.
    wasm_bindgen_futures::spawn_local(async move {
        sleep_ms(SAVE_REVOKE_AFTER_MS).await;
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    Ok(())
}

/// How long an object URL made by `save()` lives.
const SAVE_REVOKE_AFTER_MS: f64 = 30_000.0;

/// `response` as an unread `Response`, else `INVALID_ARGUMENT`.
fn unread_response(response: JsValue) -> Result<web_sys::Response, JsValue> {
    let response: web_sys::Response = response.dyn_into().map_err(|v| {
        to_js(&DownloadError::invalid(
            "response",
            format!("must be a Response, got {}", describe(&v)),
        ))
    })?;
    if response.body_used() {
        return Err(to_js(&DownloadError::invalid(
            "response",
            "its body was read already",
        )));
    }
    Ok(response)
}
