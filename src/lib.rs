//! Resumable, cancellable browser downloads with honest progress.
//!
//! - [`core`]: pure decisions (header parsing, progress, timeouts, errors), tested natively.
//! - `web`: browser adapters (fetch with an abort guard, stream reading, clock, timers).
//! - `api`: the `#[wasm_bindgen]` surface used from JavaScript.
#![deny(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
pub mod api;

/// Fault injection for the browser tests: makes a real IndexedDB transaction abort, or the
/// database fail to open. Not part of the JavaScript API.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod testing {
    pub use crate::web::store::{
        clear_faults, database_name, inject_blob_refusal, inject_open_failure, inject_write_failure,
    };
}
