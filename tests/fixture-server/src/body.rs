//! Streaming response bodies: generated content in blocks, with pacing, stalls
//! and deliberate connection cuts, and live accounting in the request log.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::conn::CutSignal;
use crate::log::Entry;

/// Largest piece of generated content produced at once.
pub(crate) const BLOCK_SIZE: u64 = 64 * 1024;
/// Pieces per second when a body is throttled.
const THROTTLE_PIECES_PER_SEC: u64 = 20;

/// A part of a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Literal bytes (framing, error texts, compressed content).
    Bytes(Bytes),
    /// Resource bytes `start..end` of the resource generated from `seed`.
    Generated { seed: u64, start: u64, end: u64 },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Bytes(b) => b.len() as u64,
            Segment::Generated { start, end, .. } => end - start,
        }
    }
}

/// What a body sends and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BodySpec {
    pub segments: Vec<Segment>,
    /// Send at most this many bytes (the rest of the segments is dropped).
    pub limit: Option<u64>,
    /// Bytes per second.
    pub throttle: Option<u64>,
    /// Pause for the duration when generated content reaches the resource offset.
    pub stall: Option<(u64, Duration)>,
    /// Drop the connection when generated content reaches the resource offset.
    pub cut: Option<u64>,
    /// Do not announce the length (hyper then uses chunked transfer coding).
    pub chunked: bool,
}

impl BodySpec {
    pub(crate) fn bytes(data: impl Into<Bytes>) -> Self {
        BodySpec {
            segments: vec![Segment::Bytes(data.into())],
            ..BodySpec::default()
        }
    }

    /// The number of bytes the body will send if nothing goes wrong.
    pub(crate) fn len(&self) -> u64 {
        let total: u64 = self.segments.iter().map(Segment::len).sum();
        self.limit.map_or(total, |l| l.min(total))
    }

    /// All bytes of the body in memory (for compression; small bodies only).
    pub(crate) fn materialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        for segment in &self.segments {
            match segment {
                Segment::Bytes(b) => out.extend_from_slice(b),
                Segment::Generated { seed, start, end } => {
                    let at = out.len();
                    out.resize(at + (end - start) as usize, 0);
                    crate::fill(*seed, *start, &mut out[at..]);
                }
            }
        }
        if let Some(limit) = self.limit {
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Streaming,
    /// Waiting for the bytes before the cut to be flushed, then fail.
    Cutting,
    Failed,
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SleepKind {
    Stall,
    Throttle,
}

struct Throttle {
    bytes_per_sec: u64,
    piece: u64,
    base: Option<Instant>,
    sent_since_base: u64,
    /// The last throttle sleep has elapsed; the next piece may go.
    ready: bool,
}

impl Throttle {
    fn new(bytes_per_sec: u64) -> Self {
        Throttle {
            bytes_per_sec,
            piece: (bytes_per_sec / THROTTLE_PIECES_PER_SEC).clamp(1, BLOCK_SIZE),
            base: None,
            sent_since_base: 0,
            ready: false,
        }
    }

    /// When the next piece is due, given what was sent since the base instant.
    fn due(&mut self) -> Instant {
        let base = *self.base.get_or_insert_with(Instant::now);
        let nanos =
            u128::from(self.sent_since_base) * 1_000_000_000 / u128::from(self.bytes_per_sec);
        base + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn restart(&mut self) {
        self.base = None;
        self.sent_since_base = 0;
    }
}

/// The response body type used for every response of the fixture servers.
pub struct ResponseBody {
    segments: VecDeque<Segment>,
    remaining: u64,
    chunked: bool,
    throttle: Option<Throttle>,
    stall: Option<(u64, Duration)>,
    cut: Option<u64>,
    cut_signal: Option<Arc<CutSignal>>,
    sleep: Option<(Pin<Box<Sleep>>, SleepKind)>,
    phase: Phase,
    entry: Option<Arc<Entry>>,
    armed: bool,
}

impl ResponseBody {
    /// A body for `spec`. Sent bytes are counted in `entry`. On a cut the body
    /// waits for `cut_signal` (a flush of everything sent before the cut) before
    /// failing; without a signal it fails at once.
    pub(crate) fn new(
        spec: BodySpec,
        entry: Option<Arc<Entry>>,
        cut_signal: Option<Arc<CutSignal>>,
    ) -> Self {
        let remaining = spec.len();
        ResponseBody {
            segments: spec.segments.into(),
            remaining,
            chunked: spec.chunked,
            throttle: spec.throttle.map(Throttle::new),
            stall: spec.stall,
            cut: spec.cut,
            cut_signal,
            sleep: None,
            phase: Phase::Streaming,
            entry,
            armed: false,
        }
    }

    pub(crate) fn empty() -> Self {
        ResponseBody::new(BodySpec::default(), None, None)
    }

    pub(crate) fn from_bytes(data: impl Into<Bytes>) -> Self {
        ResponseBody::new(BodySpec::bytes(data), None, None)
    }

    /// Marks the body as handed to the connection: from now on, being dropped
    /// with nothing left to send counts as completion rather than an abort.
    pub(crate) fn arm(&mut self) {
        self.armed = true;
    }

    /// Records the body as aborted (the connection failed while writing it).
    pub(crate) fn abort(&mut self) {
        if !matches!(self.phase, Phase::Finished | Phase::Failed) {
            self.phase = Phase::Failed;
            self.finish(false);
        }
    }

    fn finish(&mut self, completed: bool) {
        if let Some(entry) = self.entry.take() {
            entry.finish(completed);
        }
    }

    fn start_sleep(&mut self, deadline: Instant, kind: SleepKind) {
        self.sleep = Some((Box::pin(tokio::time::sleep_until(deadline)), kind));
    }

    /// The next piece, or `None` after arranging a sleep, a cut or a segment change.
    fn next_piece(&mut self) -> Option<Bytes> {
        let mut max = self
            .throttle
            .as_ref()
            .map_or(BLOCK_SIZE, |t| t.piece)
            .min(self.remaining);
        match self.segments.front()? {
            Segment::Bytes(b) if b.is_empty() => {
                self.segments.pop_front();
                return None;
            }
            Segment::Bytes(b) => max = max.min(b.len() as u64),
            Segment::Generated { start, end, .. } => {
                let (pos, end) = (*start, *end);
                if pos == end {
                    self.segments.pop_front();
                    return None;
                }
                if let Some((at, duration)) = self.stall {
                    if at == pos {
                        self.stall = None;
                        self.start_sleep(Instant::now() + duration, SleepKind::Stall);
                        return None;
                    }
                    if at > pos && at < end {
                        max = max.min(at - pos);
                    }
                }
                if let Some(at) = self.cut {
                    if at == pos {
                        self.cut = None;
                        self.phase = Phase::Cutting;
                        if let Some(signal) = &self.cut_signal {
                            signal.request();
                        }
                        return None;
                    }
                    if at > pos && at < end {
                        max = max.min(at - pos);
                    }
                }
                max = max.min(end - pos);
            }
        }
        if let Some(t) = self.throttle.as_mut() {
            if !t.ready {
                let due = t.due();
                if due > Instant::now() {
                    self.start_sleep(due, SleepKind::Throttle);
                    return None;
                }
            }
            t.ready = false;
        }

        let n = max as usize;
        let piece = match self.segments.front_mut()? {
            Segment::Bytes(b) => b.split_to(n),
            Segment::Generated { seed, start, .. } => {
                let mut buf = BytesMut::zeroed(n);
                crate::fill(*seed, *start, &mut buf);
                *start += max;
                buf.freeze()
            }
        };
        self.remaining -= max;
        if let Some(t) = self.throttle.as_mut() {
            t.sent_since_base += max;
        }
        if let Some(entry) = &self.entry {
            entry.add_sent(max);
        }
        Some(piece)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Finished | Phase::Failed => return Poll::Ready(None),
                Phase::Cutting => {
                    let flushed = this.cut_signal.as_ref().is_none_or(|s| s.poll_flushed(cx));
                    if !flushed {
                        return Poll::Pending;
                    }
                    this.phase = Phase::Failed;
                    this.finish(false);
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "connection dropped at the cut_at offset",
                    ))));
                }
                Phase::Streaming => {}
            }
            if let Some((sleep, kind)) = this.sleep.as_mut() {
                std::task::ready!(sleep.as_mut().poll(cx));
                let kind = *kind;
                this.sleep = None;
                if let Some(t) = this.throttle.as_mut() {
                    match kind {
                        SleepKind::Stall => t.restart(),
                        SleepKind::Throttle => t.ready = true,
                    }
                }
            }
            if this.remaining == 0 {
                this.phase = Phase::Finished;
                this.finish(true);
                return Poll::Ready(None);
            }
            if this.segments.is_empty() {
                // Cannot happen: `remaining` never exceeds the segments' length.
                this.remaining = 0;
                continue;
            }
            if let Some(piece) = this.next_piece() {
                return Poll::Ready(Some(Ok(Frame::data(piece))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.phase {
            Phase::Finished | Phase::Failed => true,
            Phase::Cutting => false,
            Phase::Streaming => self.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.remaining)
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let clean = self.armed && self.phase == Phase::Streaming && self.remaining == 0;
        self.finish(clean);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(mut body: ResponseBody) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(frame)) => out.extend_from_slice(&frame.into_data().unwrap()),
                Some(Err(e)) => return (out, Some(e)),
                None => return (out, None),
            }
        }
    }

    fn generated(seed: u64, start: u64, end: u64) -> BodySpec {
        BodySpec {
            segments: vec![Segment::Generated { seed, start, end }],
            ..BodySpec::default()
        }
    }

    fn expected(seed: u64, start: u64, end: u64) -> Vec<u8> {
        (start..end).map(|o| crate::byte_at(seed, o)).collect()
    }

    #[tokio::test]
    async fn streams_segments_in_order() {
        let spec = BodySpec {
            segments: vec![
                Segment::Bytes(Bytes::from_static(b"head")),
                Segment::Generated {
                    seed: 3,
                    start: 10,
                    end: 200_010,
                },
                Segment::Bytes(Bytes::from_static(b"tail")),
            ],
            ..BodySpec::default()
        };
        assert_eq!(spec.len(), 200_008);
        let materialized = spec.materialize();
        let (data, err) = collect(ResponseBody::new(spec, None, None)).await;
        assert!(err.is_none());
        assert_eq!(&data[..4], b"head");
        assert_eq!(&data[4..200_004], &expected(3, 10, 200_010)[..]);
        assert_eq!(&data[200_004..], b"tail");
        assert_eq!(data, materialized);
    }

    #[tokio::test]
    async fn limit_truncates() {
        let spec = BodySpec {
            limit: Some(50),
            ..generated(1, 0, 100)
        };
        let (data, _) = collect(ResponseBody::new(spec, None, None)).await;
        assert_eq!(data, expected(1, 0, 50));
    }

    #[tokio::test]
    async fn cut_without_signal_fails_at_offset() {
        let spec = BodySpec {
            cut: Some(150_000),
            ..generated(1, 100, 300_000)
        };
        let (data, err) = collect(ResponseBody::new(spec, None, None)).await;
        assert_eq!(data, expected(1, 100, 150_000));
        assert_eq!(err.unwrap().kind(), io::ErrorKind::ConnectionAborted);
    }

    #[tokio::test(start_paused = true)]
    async fn stall_pauses_at_offset() {
        let spec = BodySpec {
            stall: Some((500, Duration::from_secs(30))),
            ..generated(1, 0, 1000)
        };
        let started = Instant::now();
        let (data, _) = collect(ResponseBody::new(spec, None, None)).await;
        assert_eq!(data, expected(1, 0, 1000));
        assert!(started.elapsed() >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_paces_pieces() {
        let spec = BodySpec {
            throttle: Some(10_000),
            ..generated(1, 0, 20_000)
        };
        let started = Instant::now();
        let mut body = ResponseBody::new(spec, None, None);
        let mut pieces = 0;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            assert_eq!(frame.unwrap().into_data().unwrap().len(), 500);
            pieces += 1;
        }
        assert_eq!(pieces, 40);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(1950), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }
}
