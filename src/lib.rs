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
