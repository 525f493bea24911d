//! The JavaScript surface: [`DownloadManager`], [`Download`], [`is_download_error`].
//!
//! Exported classes hold `Rc` state; methods take `&self`; no `RefCell` borrow is held across
//! an `.await` or across a call into JS (listeners may call back into the manager).

mod download;
mod error;
mod events;
mod manager;
mod options;
mod task;
mod types;

pub use download::Download;
pub use error::is_download_error;
pub use manager::DownloadManager;
