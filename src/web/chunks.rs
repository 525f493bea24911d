//! [`BlobChunks`]: received bytes batched into `Blob`s of about `chunk_bytes`, so that a body is
//! never held as one buffer and never copied into wasm memory.

use js_sys::{Array, Uint8Array};
use web_sys::{Blob, BlobPropertyBag};

use crate::core::{DownloadError, ErrorCode};
use crate::web::js::describe;

/// Body bytes as a list of Blobs plus the not-yet-batched tail.
pub struct BlobChunks {
    chunk_bytes: u64,
    pending: Array,
    pending_bytes: u64,
    blobs: Vec<Blob>,
    len: u64,
}

impl BlobChunks {
    /// An empty list that batches into Blobs of at least `chunk_bytes`.
    pub fn new(chunk_bytes: u64) -> Self {
        BlobChunks {
            chunk_bytes,
            pending: Array::new(),
            pending_bytes: 0,
            blobs: Vec::new(),
            len: 0,
        }
    }

    /// Total bytes held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends a body chunk; the JS array is kept by reference, not copied.
    ///
    /// # Errors
    /// `STORAGE` if the browser refuses to create the Blob.
    pub fn push(&mut self, chunk: Uint8Array) -> Result<(), DownloadError> {
        let n = u64::from(chunk.length());
        self.pending.push(&chunk);
        self.pending_bytes += n;
        self.len += n;
        if self.pending_bytes >= self.chunk_bytes {
            self.flush()?;
        }
        Ok(())
    }

    /// Turns the pending tail into a Blob.
    ///
    /// # Errors
    /// `STORAGE` if the browser refuses to create the Blob.
    pub fn flush(&mut self) -> Result<(), DownloadError> {
        if self.pending.length() == 0 {
            return Ok(());
        }
        let blob = Blob::new_with_u8_array_sequence(&self.pending).map_err(blob_error)?;
        self.blobs.push(blob);
        self.pending = Array::new();
        self.pending_bytes = 0;
        Ok(())
    }

    /// One Blob over everything held, of the given MIME type. The parts are referenced, not
    /// copied.
    ///
    /// # Errors
    /// `STORAGE` if the browser refuses to create the Blob.
    pub fn blob(&mut self, mime: &str) -> Result<Blob, DownloadError> {
        self.flush()?;
        let parts: Array = self.blobs.iter().collect();
        let bag = BlobPropertyBag::new();
        bag.set_type(mime);
        Blob::new_with_blob_sequence_and_options(&parts, &bag).map_err(blob_error)
    }
}

fn blob_error(e: wasm_bindgen::JsValue) -> DownloadError {
    DownloadError::new(
        ErrorCode::Storage,
        format!("could not create a Blob: {}", describe(&e)),
    )
}
