//! [`AbortGuard`]: owns a fetch's `AbortController` and aborts it when dropped, so that no
//! request or body stream outlives the code that started it.

use web_sys::{AbortController, AbortSignal};

use crate::core::{DownloadError, ErrorCode};
use crate::web::js::describe;

/// Aborts its controller on drop. Keep it alive for as long as the response body is read.
#[must_use = "dropping the guard aborts the fetch"]
pub struct AbortGuard {
    controller: AbortController,
}

impl AbortGuard {
    /// A new controller.
    ///
    /// # Errors
    /// `NETWORK` if the environment has no `AbortController`.
    pub fn new() -> Result<Self, DownloadError> {
        let controller = AbortController::new().map_err(|e| {
            DownloadError::new(
                ErrorCode::Network,
                format!("AbortController unavailable: {}", describe(&e)),
            )
        })?;
        Ok(AbortGuard { controller })
    }

    /// The signal to hand to `fetch`.
    pub fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        // Aborting a finished fetch is a no-op; aborting a running one releases the connection.
        self.controller.abort();
    }
}
