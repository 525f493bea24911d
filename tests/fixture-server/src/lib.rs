//! Deterministic HTTP fixture server for the resumable-downloads browser tests.
//!
//! The server hands out synthetic resources whose bytes are a pure function of
//! `(seed, offset)` (see [`byte_at`]), so a test can verify any byte it received
//! without the server keeping the resource anywhere. Query-string knobs on
//! `/file` reproduce the server behaviours a resumable download client has to cope
//! with: range support or its absence, validators that change, corrupt headers,
//! stalls, dropped connections, redirects, error statuses and CORS failures.
//!
//! The binary (`src/main.rs`) is a thin command-line wrapper around
//! [`server::FixtureServer`] and [`static_files::StaticServer`].

mod body;
mod conn;
mod content;
mod file;
mod knobs;
mod log;
mod query;
mod range;
mod raw;
pub mod server;
pub mod static_files;

pub use content::{byte_at, fill, splitmix64};
