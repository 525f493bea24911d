//! The pure core: every decision that can corrupt data or mislead the user, as plain functions
//! and state machines over facts (a status, a header value, a chunk length, `now_ms`).
//!
//! Nothing here imports `wasm-bindgen`, `web-sys` or `js-sys`; it is tested natively with
//! `cargo test`. The browser layer (`crate::web`) feeds it facts and carries out its decisions.
//!
//! All byte counts and offsets are `u64`: `usize` is 32 bits on `wasm32`.

pub mod chunks;
pub mod disposition;
pub mod error;
pub mod flush;
pub mod handover;
pub mod headers;
pub mod integrity;
pub mod lifecycle;
pub mod naming;
pub mod placement;
pub mod progress;
pub mod queue;
pub mod response;
pub mod resume;
pub mod retry;
pub mod run;
pub mod stored;
pub mod timeouts;

pub use error::{DownloadError, ErrorCode, Quoted};
