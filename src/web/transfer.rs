//! One transfer attempt: `fetch` with an [`AbortGuard`], then the body read with a stream
//! reader into a [`Writer`], with the three timeouts and the stop token raced against every
//! network await.
//!
//! The cause of an early end is recorded where it is decided (a timer verdict from
//! [`TimeoutClock`], a [`StopReason`]), never recovered from an exception's text.

use std::future::Future;
use std::task::Poll;

use futures::FutureExt;
use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ReadableStream, ReadableStreamByobReader, ReadableStreamDefaultReader, Request, RequestCache,
    RequestInit, RequestMode, Response,
};

use crate::core::flush::FlushClock;
use crate::core::headers::preflighted;
use crate::core::response::{check_chunk, ResponseHead};
use crate::core::run::{origin_of, Limits, Probe};
use crate::core::timeouts::{Check, Expiry, TimeoutClock, Timeouts};
use crate::core::{DownloadError, ErrorCode};
use crate::web::abort::AbortGuard;
use crate::web::cancel::{StopReason, StopToken};
use crate::web::clock::{now_ms, Deadline};
use crate::web::env::{within, Visibility};
use crate::web::js::{describe, global_fetch};
use crate::web::store::StoreError;
use crate::web::writer::Writer;

/// What to fetch.
#[derive(Clone, Debug)]
pub struct TransferSpec {
    /// Absolute http(s) URL.
    pub url: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

/// An attempt whose response head has arrived: the attempt, the head, and the URL the
/// response came from.
pub struct Started<'a> {
    /// The attempt, to read the body with.
    pub attempt: Attempt<'a>,
    /// The response head.
    pub head: ResponseHead,
    /// The response's URL (after redirects).
    pub url: String,
    /// The URL asked for; a given response's own URL.
    pub requested: String,
}

/// Why an attempt did not end cleanly.
#[derive(Debug)]
pub enum TransferEnd {
    /// It failed with this error.
    Failed(DownloadError),
    /// Its owner stopped it.
    Stopped(StopReason),
    /// Writing the body to storage failed.
    Storage(StoreError),
}

impl From<DownloadError> for TransferEnd {
    fn from(e: DownloadError) -> Self {
        TransferEnd::Failed(e)
    }
}

/// An attempt whose response head has arrived.
pub struct Attempt<'a> {
    waiter: Waiter<'a>,
    response: Response,
    commit_interval_ms: u64,
    _guard: AbortGuard,
}

impl<'a> Attempt<'a> {
    /// Sends the request (with `Range: bytes=<start>-` when asked) and waits for the head.
    ///
    /// # Errors
    /// [`TransferEnd::Stopped`] if `stop` fires (also before the fetch starts);
    /// [`TransferEnd::Failed`] with `NETWORK` or `HEADERS_TIMEOUT`/`DEADLINE`.
    pub async fn start(
        spec: &TransferSpec,
        range_start: Option<u64>,
        limits: &Limits,
        deadline_at: Option<f64>,
        stop: &'a StopToken,
    ) -> Result<Started<'a>, TransferEnd> {
        if let Some(reason) = stop.reason() {
            return Err(TransferEnd::Stopped(reason));
        }
        let guard = AbortGuard::new()?;
        let request = build_request(spec, range_start, Some(&guard), RequestMode::Cors)?;
        let mut waiter = Waiter::new(limits, deadline_at, stop);
        let fetch = global_fetch(&request).map_err(network_error)?;
        let response: Response = waiter
            .wait(JsFuture::from(fetch))
            .await?
            .map_err(network_error)?
            .dyn_into()
            .map_err(|_| {
                DownloadError::new(ErrorCode::Network, "fetch did not return a Response")
            })?;
        Ok(Attempt::answered(
            waiter,
            response,
            limits,
            guard,
            Some(&spec.url),
        ))
    }

    /// An attempt answered by `response`, a response the caller fetched (its head has
    /// arrived); its body is read as a fetched one's.
    ///
    /// # Errors
    /// [`TransferEnd::Stopped`] if `stop` fires; `NETWORK` when its body was read already.
    pub fn given(
        response: Response,
        limits: &Limits,
        deadline_at: Option<f64>,
        stop: &'a StopToken,
    ) -> Result<Started<'a>, TransferEnd> {
        if let Some(reason) = stop.reason() {
            return Err(TransferEnd::Stopped(reason));
        }
        if response.body_used() {
            return Err(TransferEnd::Failed(DownloadError::new(
                ErrorCode::Network,
                "the given response's body was read already",
            )));
        }
        let waiter = Waiter::new(limits, deadline_at, stop);
        Ok(Attempt::answered(
            waiter,
            response,
            limits,
            AbortGuard::new()?,
            None,
        ))
    }

    fn answered(
        mut waiter: Waiter<'a>,
        response: Response,
        limits: &Limits,
        guard: AbortGuard,
        requested: Option<&str>,
    ) -> Started<'a> {
        waiter.clock.headers_received(now_ms());
        let url = response.url();
        Started {
            head: read_head(&response),
            requested: requested.map_or_else(|| url.clone(), str::to_owned),
            url,
            attempt: Attempt {
                waiter,
                response,
                commit_interval_ms: limits.commit_interval_ms,
                _guard: guard,
            },
        }
    }

    /// Reads the body to its end into `writer`, calling `on_bytes` with each chunk's length.
    /// Returns the number of body bytes read. Nothing past `expected_len` is written (I7).
    ///
    /// # Errors
    /// [`TransferEnd::Failed`] with `NETWORK`, `STALLED`, `DEADLINE` or `BAD_RESPONSE`;
    /// [`TransferEnd::Storage`] when the writer fails; [`TransferEnd::Stopped`] if `stop` fires.
    pub async fn read_body(
        &mut self,
        expected_len: Option<u64>,
        writer: &mut Writer,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<u64, TransferEnd> {
        let mut received: u64 = 0;
        let Some(body) = self.response.body() else {
            return Ok(0);
        };
        let mut reader = BodyReader::new(&body, expected_len);
        // Bytes that do not fill a chunk are committed once they have waited the interval,
        // or when the page is hidden, also while a read is outstanding.
        let mut flush = FlushClock::new(self.commit_interval_ms);
        let visibility = Visibility::watch();
        loop {
            let mut read = JsFuture::from(reader.read());
            let result = loop {
                let mut timer = flush.due_at().map(Deadline::at);
                // Ok: the read; Err(true): the page was hidden; Err(false): the bytes waited.
                let next = futures::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = read.poll_unpin(cx) {
                        return Poll::Ready(Ok(r));
                    }
                    if let Poll::Ready(hidden) = visibility.poll_change(cx) {
                        if flush.on_visibility(hidden) {
                            return Poll::Ready(Err(true));
                        }
                    }
                    match timer.as_mut().map(|t| t.poll_unpin(cx)) {
                        Some(Poll::Ready(())) => Poll::Ready(Err(false)),
                        _ => Poll::Pending,
                    }
                });
                let committed = match self.waiter.wait(next).await? {
                    Ok(r) => break r.map_err(network_error)?,
                    // A hidden page may be gone soon: its bytes are made durable.
                    Err(true) => writer.commit().await,
                    Err(false) => writer.flush().await,
                };
                committed.map_err(TransferEnd::Storage)?;
                flush.on_commit();
            };
            let done = Reflect::get(&result, &JsValue::from_str("done")).map_err(network_error)?;
            let value =
                Reflect::get(&result, &JsValue::from_str("value")).map_err(network_error)?;
            if done.as_bool().unwrap_or(false) {
                return Ok(received);
            }
            let chunk: Uint8Array = value.dyn_into().map_err(|_| {
                DownloadError::new(
                    ErrorCode::BadResponse,
                    "the body stream yielded a non-byte chunk",
                )
            })?;
            let n = u64::from(chunk.length());
            check_chunk(expected_len, received, n)?;
            self.waiter.clock.chunk_received(now_ms());
            let reused = reader.take_back(&chunk);
            let commits = writer.commits();
            writer
                .push(chunk, reused)
                .await
                .map_err(TransferEnd::Storage)?;
            flush.on_bytes(
                writer.pending_bytes(),
                writer.commits() != commits,
                now_ms(),
            );
            if flush.due(now_ms()) {
                writer.flush().await.map_err(TransferEnd::Storage)?;
                flush.on_commit();
            }
            received += n;
            // Time spent writing is not time the connection was idle.
            self.waiter.clock.chunk_received(now_ms());
            on_bytes(n);
        }
    }
}

/// Most bytes one read asks for: the size of the buffer a BYOB reader reads into.
const READ_BYTES: u32 = 1 << 20;
/// Least, for a body known to be smaller.
const MIN_READ_BYTES: u32 = 64 << 10;

/// The body's reader. Where the stream is a byte stream (fetch bodies in current browsers) a
/// BYOB reader reads into one buffer that is handed back and forth, so a download leaves no
/// garbage buffers behind for the collector; elsewhere the default reader.
enum BodyReader {
    Byob(ReadableStreamByobReader, ArrayBuffer),
    Default(ReadableStreamDefaultReader),
}

impl BodyReader {
    fn new(body: &ReadableStream, expected_len: Option<u64>) -> BodyReader {
        match ReadableStreamByobReader::new(body) {
            Ok(r) => {
                let len = expected_len.map_or(READ_BYTES, |n| {
                    n.clamp(u64::from(MIN_READ_BYTES), u64::from(READ_BYTES)) as u32
                });
                BodyReader::Byob(r, ArrayBuffer::new(len))
            }
            Err(_) => BodyReader::Default(body.get_reader().unchecked_into()),
        }
    }

    fn read(&self) -> js_sys::Promise {
        match self {
            BodyReader::Byob(r, buf) => r.read_with_array_buffer_view(&Uint8Array::new(buf)),
            BodyReader::Default(r) => r.read(),
        }
    }

    /// Takes back the buffer a BYOB read returned (transferred, so the old handle is
    /// detached). True when `chunk` is a view of that buffer, which the next read reuses: the
    /// caller must copy the bytes out before then.
    fn take_back(&mut self, chunk: &Uint8Array) -> bool {
        match self {
            BodyReader::Byob(_, buf) => {
                *buf = chunk.buffer();
                true
            }
            BodyReader::Default(_) => false,
        }
    }
}

/// The request of `spec` for Background Fetch: what a fetch here would send (its headers,
/// `Range` from `range_start`), without a signal (the browser's registration is aborted
/// instead).
///
/// # Errors
/// `INVALID_ARGUMENT` for a header or URL the browser refuses.
pub fn background_request(
    spec: &TransferSpec,
    range_start: Option<u64>,
) -> Result<Request, DownloadError> {
    build_request(spec, range_start, None, RequestMode::Cors)
}

/// Probes `spec`'s URL after its request failed without a response, for the run machine's
/// [`Probe`]: a plain `GET` in `no-cors` mode (any server that answers it at all gives an
/// opaque answer) and the same in CORS mode, so that the one difference between them is CORS,
/// and, where the request carried headers that need a preflight, a CORS `GET` with them. No
/// body is read: each is aborted once its head arrives. Each waits at most `limit_ms`
/// (0: no limit).
///
/// # Errors
/// The stop reason, when `stop` fires.
pub async fn probe_cors(
    spec: &TransferSpec,
    limit_ms: u64,
    stop: &StopToken,
) -> Result<Probe, StopReason> {
    let preflighted = preflighted(&spec.headers);
    let plain = TransferSpec {
        url: spec.url.clone(),
        headers: Vec::new(),
    };
    let reachable = answers(&plain, RequestMode::NoCors, limit_ms, stop).await?;
    let readable = answers(&plain, RequestMode::Cors, limit_ms, stop).await?;
    let with_headers = if readable && !preflighted.is_empty() {
        Some(answers(spec, RequestMode::Cors, limit_ms, stop).await?)
    } else {
        None
    };
    Ok(Probe {
        origin: origin_of(&spec.url),
        reachable,
        readable,
        preflighted,
        with_headers,
    })
}

/// True when a `GET` of `spec` in `mode` gets a response head within `limit_ms`; the body is
/// not read (the guard aborts it).
async fn answers(
    spec: &TransferSpec,
    mode: RequestMode,
    limit_ms: u64,
    stop: &StopToken,
) -> Result<bool, StopReason> {
    let Ok(guard) = AbortGuard::new() else {
        return Ok(false);
    };
    let request = build_request(spec, None, Some(&guard), mode);
    let Some(fetch) = request.ok().and_then(|r| global_fetch(&r).ok()) else {
        return Ok(false);
    };
    let answered = within(JsFuture::from(fetch), limit_ms, stop).await?;
    Ok(matches!(answered, Some(Ok(_))))
}

fn build_request(
    spec: &TransferSpec,
    range_start: Option<u64>,
    guard: Option<&AbortGuard>,
    mode: RequestMode,
) -> Result<Request, DownloadError> {
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(mode);
    if let Some(guard) = guard {
        init.set_signal(Some(&guard.signal()));
    }
    // Large bodies must not be written to the HTTP cache as well as to the download's storage.
    init.set_cache(RequestCache::NoStore);
    let headers = web_sys::Headers::new().map_err(network_error)?;
    for (name, value) in &spec.headers {
        headers
            .append(name, value)
            .map_err(|e| DownloadError::invalid(&format!("headers.{name}"), describe(&e)))?;
    }
    if let Some(start) = range_start {
        // `bytes=<n>-` is a CORS-safelisted value: no preflight.
        headers
            .set("Range", &format!("bytes={start}-"))
            .map_err(network_error)?;
    }
    init.set_headers(&headers);
    Request::new_with_str_and_init(&spec.url, &init)
        .map_err(|e| DownloadError::invalid("url", describe(&e)))
}

fn read_head(response: &Response) -> ResponseHead {
    let get = |name: &str| response.headers().get(name).ok().flatten();
    ResponseHead {
        status: response.status(),
        content_length: get("content-length"),
        content_encoding: get("content-encoding"),
        retry_after: get("retry-after"),
        content_range: get("content-range"),
        content_type: get("content-type"),
        content_disposition: get("content-disposition"),
        etag: get("etag"),
        last_modified: get("last-modified"),
        date: get("date"),
        accept_ranges: get("accept-ranges"),
    }
}

fn network_error(e: JsValue) -> DownloadError {
    DownloadError::new(ErrorCode::Network, describe(&e)).with_cause(e)
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
    clock: TimeoutClock,
    timer: Option<Deadline>,
    stop: &'a StopToken,
}

impl<'a> Waiter<'a> {
    /// The timeouts of an attempt starting now.
    fn new(limits: &Limits, deadline_at: Option<f64>, stop: &'a StopToken) -> Waiter<'a> {
        Waiter {
            clock: TimeoutClock::new(limits.timeouts, now_ms(), deadline_at),
            timer: None,
            stop,
        }
    }

    /// Waits for `fut`. The stop token is checked first and data before the timer, so a chunk
    /// that has arrived always beats a timeout that fires in the same turn.
    async fn wait<F: Future + Unpin>(&mut self, mut fut: F) -> Result<F::Output, TransferEnd> {
        futures::future::poll_fn(|cx| {
            if let Poll::Ready(reason) = self.stop.poll_stopped(cx) {
                return Poll::Ready(Err(TransferEnd::Stopped(reason)));
            }
            if let Poll::Ready(out) = fut.poll_unpin(cx) {
                return Poll::Ready(Ok(out));
            }
            loop {
                match (&self.timer, self.clock.next_check()) {
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
