//! Browser adapters. Each type here owns a JS resource and releases it on `Drop`; none of them
//! decides anything that `crate::core` can decide.

pub mod abort;
pub mod background;
pub mod cancel;
pub mod clock;
pub mod codec;
pub mod env;
pub mod js;
pub mod opfs;
pub mod probe;
pub mod store;
pub mod tabs;
pub mod transfer;
pub mod writer;
