//! One transfer attempt: `fetch` with an [`AbortGuard`], the response head checked by the core,
//! the body read with a stream reader into [`BlobChunks`], with the three timeouts and the stop
//! token raced against every await.
//!
//! The cause of an early end is recorded where it is decided (a timer verdict from
//! [`TimeoutClock`], a [`crate::web::cancel::StopReason`]), never recovered from an exception's text.

use std::future::Future;
use std::task::Poll;

use futures::FutureExt;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Request, RequestCache, RequestInit, Response};

use crate::core::progress::{Progress, ProgressTracker};
use crate::core::response::{accept_full_response, check_body_end, check_chunk, ResponseHead};
use crate::core::timeouts::{Check, Expiry, TimeoutClock, Timeouts};
use crate::core::{DownloadError, ErrorCode};
use crate::web::abort::AbortGuard;
use crate::web::cancel::StopToken;
use crate::web::chunks::BlobChunks;
use crate::web::clock::{now_ms, unix_now_ms, Deadline};
use crate::web::js::{describe, global_fetch};

/// What to fetch.
#[derive(Clone, Debug)]
pub struct TransferSpec {
    /// Absolute http(s) URL.
    pub url: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

/// Limits of one attempt.
#[derive(Clone, Copy, Debug)]
pub struct TransferLimits {
    /// The three timeouts.
    pub timeouts: Timeouts,
    /// Absolute end of the whole download ([`crate::core::timeouts::deadline_from`]).
    pub deadline_at: Option<f64>,
    /// At most one progress report per this many ms.
    pub progress_interval_ms: u64,
}

/// A transfer that ended cleanly.
#[derive(Debug)]
pub struct Transferred {
    /// URL of the final response, after redirects.
    pub final_url: String,
    /// `Content-Type` of the response, if visible.
    pub content_type: Option<String>,
    /// The final progress figures.
    pub progress: Progress,
}

/// Why a transfer did not end cleanly.
#[derive(Debug)]
pub enum TransferEnd {
    /// It failed with this error.
    Failed(DownloadError),
    /// Its owner stopped it (see [`StopToken::stop`]); the owner settles the download.
    Stopped,
}

impl From<DownloadError> for TransferEnd {
    fn from(e: DownloadError) -> Self {
        TransferEnd::Failed(e)
    }
}

/// Runs one attempt, appending the body to `sink` and reporting throttled progress.
///
/// # Errors
/// [`TransferEnd::Stopped`] if `stop` fires (also before the fetch starts);
/// [`TransferEnd::Failed`] with the code of whatever else ended it.
pub async fn run(
    spec: &TransferSpec,
    limits: &TransferLimits,
    stop: &StopToken,
    sink: &mut BlobChunks,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Transferred, TransferEnd> {
    if stop.reason().is_some() {
        return Err(TransferEnd::Stopped);
    }
    let guard = AbortGuard::new()?;
    let request = build_request(spec, &guard)?;
    let mut clock = TimeoutClock::new(limits.timeouts, now_ms(), limits.deadline_at);
    let mut waiter = Waiter {
        clock: &mut clock,
        timer: None,
        stop,
    };

    let fetch = global_fetch(&request).map_err(network_error)?;
    let response: Response = waiter
        .wait(JsFuture::from(fetch))
        .await?
        .map_err(network_error)?
        .dyn_into()
        .map_err(|_| DownloadError::new(ErrorCode::Network, "fetch did not return a Response"))?;

    let head = read_head(&response);
    let accepted = accept_full_response(&head, unix_now_ms())?;
    let started = now_ms();
    waiter.clock.headers_received(started);
    let mut progress = ProgressTracker::new(limits.progress_interval_ms, sink.len());
    progress.set_total(accepted.expected_len);
    progress.start_transfer(started);
    on_progress(progress.emit(started));

    let mut received: u64 = 0;
    if let Some(body) = response.body() {
        let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        loop {
            let result = waiter
                .wait(JsFuture::from(reader.read()))
                .await?
                .map_err(network_error)?;
            let done = Reflect::get(&result, &JsValue::from_str("done")).map_err(network_error)?;
            if done.as_bool().unwrap_or(false) {
                break;
            }
            let value =
                Reflect::get(&result, &JsValue::from_str("value")).map_err(network_error)?;
            let chunk: Uint8Array = value.dyn_into().map_err(|_| {
                DownloadError::new(
                    ErrorCode::BadResponse,
                    "the body stream yielded a non-byte chunk",
                )
            })?;
            let n = u64::from(chunk.length());
            check_chunk(accepted.expected_len, received, n)?;
            sink.push(chunk)?;
            received += n;
            let now = now_ms();
            waiter.clock.chunk_received(now);
            if let Some(p) = progress.on_bytes(n, now) {
                on_progress(p);
            }
        }
    }
    check_body_end(accepted.expected_len, received)?;
    sink.flush()?;
    if accepted.expected_len.is_none() {
        // The stream ended cleanly: now the size is known.
        progress.set_total(Some(progress.transferred()));
    }
    drop(guard);
    Ok(Transferred {
        final_url: response.url(),
        content_type: head_value(&response, "content-type"),
        progress: progress.emit(now_ms()),
    })
}

fn build_request(spec: &TransferSpec, guard: &AbortGuard) -> Result<Request, DownloadError> {
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(&guard.signal()));
    // Large bodies must not be written to the HTTP cache as well as to the download's storage.
    init.set_cache(RequestCache::NoStore);
    let headers = web_sys::Headers::new().map_err(network_error)?;
    for (name, value) in &spec.headers {
        headers
            .append(name, value)
            .map_err(|e| DownloadError::invalid(&format!("headers.{name}"), describe(&e)))?;
    }
    init.set_headers(&headers);
    Request::new_with_str_and_init(&spec.url, &init)
        .map_err(|e| DownloadError::invalid("url", describe(&e)))
}

fn head_value(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

fn read_head(response: &Response) -> ResponseHead {
    ResponseHead {
        status: response.status(),
        content_length: head_value(response, "content-length"),
        content_encoding: head_value(response, "content-encoding"),
        retry_after: head_value(response, "retry-after"),
    }
}

fn network_error(e: JsValue) -> DownloadError {
    DownloadError::new(ErrorCode::Network, describe(&e))
}

fn expired(e: Expiry, timeouts: &Timeouts) -> DownloadError {
    match e {
        Expiry::Headers => DownloadError::new(
            ErrorCode::HeadersTimeout,
            format!("no response within {} ms", timeouts.headers_ms),
        ),
        Expiry::Stall => DownloadError::new(
            ErrorCode::Stalled,
            format!("no data for {} ms", timeouts.stall_ms),
        ),
        Expiry::Deadline => DownloadError::new(
            ErrorCode::Deadline,
            format!("the download took longer than {} ms", timeouts.total_ms),
        ),
    }
}

/// Races futures against the timeout clock and the stop token, keeping one timer armed.
struct Waiter<'a> {
    clock: &'a mut TimeoutClock,
    timer: Option<Deadline>,
    stop: &'a StopToken,
}

impl Waiter<'_> {
    /// Waits for `fut`. The stop token is checked first and data before the timer, so a chunk
    /// that has arrived always beats a timeout that fires in the same turn.
    async fn wait<F: Future + Unpin>(&mut self, mut fut: F) -> Result<F::Output, TransferEnd> {
        futures::future::poll_fn(|cx| {
            if self.stop.poll_stopped(cx).is_ready() {
                return Poll::Ready(Err(TransferEnd::Stopped));
            }
            if let Poll::Ready(out) = fut.poll_unpin(cx) {
                return Poll::Ready(Ok(out));
            }
            loop {
                let wanted = self.clock.next_check();
                match (&self.timer, wanted) {
                    (_, None) => {
                        self.timer = None;
                        return Poll::Pending;
                    }
                    // An armed timer due at or before the wanted time is kept: when it fires,
                    // the check below re-arms from the recorded timestamps.
                    (Some(t), Some(w)) if t.due_ms() <= w => {}
                    (_, Some(w)) => self.timer = Some(Deadline::at(w)),
                }
                let Some(timer) = self.timer.as_mut() else {
                    return Poll::Pending;
                };
                if timer.poll_unpin(cx).is_pending() {
                    return Poll::Pending;
                }
                let due = timer.due_ms();
                self.timer = None;
                if let Check::Expired(e) = self.clock.check(now_ms(), due) {
                    return Poll::Ready(Err(TransferEnd::Failed(expired(
                        e,
                        &self.clock.timeouts(),
                    ))));
                }
            }
        })
        .await
    }
}
