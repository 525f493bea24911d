//! Per-connection plumbing between hyper and the TCP stream.
//!
//! [`ConnIo`] wraps the stream handed to hyper and serves two purposes:
//!
//! * It reports completed flushes to a [`CutSignal`], so a body that wants to
//!   drop the connection (`cut_at`) can wait until everything before the cut
//!   point has really been written to the socket. hyper discards its write
//!   buffer when a body fails, so failing straight away would lose bytes.
//! * It can swallow hyper's output. Responses with deliberately invalid
//!   `Content-Length` framing cannot go through hyper (it validates that header),
//!   so the handler stores a [`RawResponse`] in [`ConnShared`], answers hyper with
//!   a `Connection: close` placeholder that is discarded here, and the connection
//!   task writes the raw response itself once hyper hands the stream back.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::log::lock;
use crate::raw::RawResponse;

/// Lets a body wait for "everything written so far has been flushed".
#[derive(Default)]
pub(crate) struct CutSignal {
    state: Mutex<CutState>,
}

#[derive(Default)]
struct CutState {
    requested: bool,
    flushed: bool,
    waker: Option<Waker>,
}

impl CutSignal {
    /// Asks to be told about the next completed flush.
    pub(crate) fn request(&self) {
        let mut s = lock(&self.state);
        s.requested = true;
        s.flushed = false;
    }

    /// Whether a flush completed since [`request`](Self::request); registers
    /// the task to be woken otherwise.
    pub(crate) fn poll_flushed(&self, cx: &mut Context<'_>) -> bool {
        let mut s = lock(&self.state);
        if s.flushed {
            return true;
        }
        s.waker = Some(cx.waker().clone());
        false
    }

    fn on_flushed(&self) {
        let mut s = lock(&self.state);
        if s.requested && !s.flushed {
            s.flushed = true;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }
}

/// State shared by a connection's IO wrapper and the requests served on it.
#[derive(Default)]
pub(crate) struct ConnShared {
    pub(crate) cut: Arc<CutSignal>,
    swallow: AtomicBool,
    raw: Mutex<Option<RawResponse>>,
}

impl ConnShared {
    /// Replaces the rest of hyper's output on this connection with `raw`.
    pub(crate) fn install_raw(&self, raw: RawResponse) {
        *lock(&self.raw) = Some(raw);
        self.swallow.store(true, Ordering::SeqCst);
    }

    pub(crate) fn take_raw(&self) -> Option<RawResponse> {
        lock(&self.raw).take()
    }

    fn swallowing(&self) -> bool {
        self.swallow.load(Ordering::SeqCst)
    }
}

pub(crate) struct ConnIo {
    stream: TcpStream,
    shared: Arc<ConnShared>,
}

impl ConnIo {
    pub(crate) fn new(stream: TcpStream, shared: Arc<ConnShared>) -> Self {
        ConnIo { stream, shared }
    }

    pub(crate) fn into_stream(self) -> TcpStream {
        self.stream
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shared.swallowing() {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.shared.swallowing() {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shared.swallowing() {
            return Poll::Ready(Ok(()));
        }
        let result = std::task::ready!(Pin::new(&mut self.stream).poll_flush(cx));
        if result.is_ok() {
            self.shared.cut.on_flushed();
        }
        Poll::Ready(result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shared.swallowing() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
