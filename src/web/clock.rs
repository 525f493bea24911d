//! Time: a monotonic clock for timeouts and rates, the wall clock for HTTP dates, and a timer
//! that clears itself when dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Monotonic milliseconds (`performance.now()`), for every duration the crate measures.
pub fn now_ms() -> f64 {
    performance_now()
}

/// Wall-clock milliseconds since the Unix epoch (`Date.now()`), for HTTP dates only.
pub fn unix_now_ms() -> f64 {
    js_sys::Date::now()
}

/// A one-shot timer due at an absolute [`now_ms`] time. Dropping it clears the underlying
/// `setTimeout`.
#[must_use = "a timer does nothing unless polled"]
pub struct Deadline {
    due_ms: f64,
    timeout: TimeoutFuture,
}

impl Deadline {
    /// A timer that completes at (or, if the page is throttled, after) `due_ms`.
    pub fn at(due_ms: f64) -> Self {
        let delay = (due_ms - now_ms()).ceil().clamp(0.0, i32::MAX as f64);
        Deadline {
            due_ms,
            timeout: TimeoutFuture::new(delay as u32),
        }
    }

    /// The time it was asked to fire at.
    pub fn due_ms(&self) -> f64 {
        self.due_ms
    }
}

impl Future for Deadline {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.timeout).poll(cx)
    }
}

/// Sleeps for `ms` milliseconds.
pub async fn sleep_ms(ms: f64) {
    Deadline::at(now_ms() + ms).await
}
