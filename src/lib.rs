//! Resumable, cancellable browser downloads with honest progress.
//!
//! Layers, lowest first; imports run one way (`api → engine → {core, web}`, `web → core`):
//! - [`core`]: pure decisions (headers, resume, the run machine, lifecycle, retry, progress,
//!   timeouts, naming), tested natively.
//! - `web`: browser adapters, each owning its JS resources (fetch with an abort guard, the
//!   body reader, IndexedDB, locks and channels, clock, one codec for JS objects).
//! - `engine`: the single-threaded runtime (registry, queue, runs, tabs, events, ownership).
//! - `api`: the `#[wasm_bindgen]` surface used from JavaScript.
#![deny(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
mod engine;

#[cfg(target_arch = "wasm32")]
pub mod api;

/// The allocator: Talc, sized for WebAssembly, in place of the standard library's dlmalloc.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Test hooks for the browser tests (the `testing` feature): injected storage faults and
/// counters of live managers, connections and channels. Not part of the JavaScript API.
#[cfg(all(target_arch = "wasm32", feature = "testing"))]
#[doc(hidden)]
pub mod testing {
    pub use crate::core::naming::storage_name;
    pub use crate::web::opfs::Files;
    pub use crate::web::probe::{
        clear_faults, crash_storage_workers, inject_blob_refusal, inject_open_failure,
        inject_opfs_failure, inject_read_all_failure, inject_streamed_files, inject_write_failure,
        live,
    };
    pub use crate::web::store::database_name;
}
