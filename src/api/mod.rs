//! The JavaScript surface: [`DownloadManager`], [`Download`], [`is_download_error`]: the
//! exported classes, argument and return conversion, and the TypeScript declarations. The
//! engine they bind is `crate::engine`.

mod args;
mod download;
mod error;
mod manager;
mod options;
mod types;

pub use download::Download;
pub use error::is_download_error;
pub use manager::DownloadManager;
