//! [`Writer`]: turns body chunks into committed storage, one `chunk_bytes` Blob at a time.
//!
//! Received `Uint8Array`s are kept by reference until about `chunk_bytes` have accumulated,
//! then become one Blob committed together with the record that counts it (I4). Bytes reach
//! wasm memory only to be hashed, when an integrity value was given. At most one chunk's worth
//! of bytes is pending, so memory does not grow with the file (I11), and a reload loses at
//! most one chunk.
//!
//! Without IndexedDB the same logic keeps the Blobs in memory: the download still works, and
//! still resumes within the page's lifetime, but not across a reload.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, WritableStream, WritableStreamDefaultWriter};

use crate::core::chunks::{good_prefix, Recount, StoredChunk};
use crate::core::flush::sync_due;
use crate::core::integrity::{Digest, Hasher};
use crate::core::lifecycle::State;
use crate::core::resume::ResumeState;
use crate::core::{DownloadError, ErrorCode};
use crate::web::codec::ignore_rejection;
use crate::web::js::describe;
use crate::web::opfs::{Files, Target};
use crate::web::store::{Chunk, ChunkHead, Record, Store, StoreError};

/// Where committed chunks go.
#[derive(Clone)]
pub enum Backend {
    /// IndexedDB.
    Idb(Rc<Store>),
    /// The download's OPFS file for the bytes, IndexedDB for the record that counts them.
    Opfs(Rc<Store>, Rc<Files>),
    /// Blobs in memory (IndexedDB unavailable).
    Memory(Vec<Blob>),
    /// The caller's `WritableStream`: bytes are written to it as they arrive, nothing kept.
    Sink(Sink),
}

/// A caller's `WritableStream`, locked to this download from `add()` on. Completion closes
/// it; a cancel, or its last owner dropping it unfinished (`remove()`, `close()`), aborts it.
#[derive(Clone)]
pub struct Sink(Rc<SinkInner>);

struct SinkInner {
    writer: WritableStreamDefaultWriter,
    closed: std::cell::Cell<bool>,
    /// A no-op rejection handler for the writes' promises (their failure is reported by the
    /// next `ready` or the close, not as an unhandled rejection).
    swallow: wasm_bindgen::JsValue,
}

impl Drop for SinkInner {
    fn drop(&mut self) {
        if !self.closed.get() {
            let _ = self.writer.abort();
        }
    }
}

fn sink_error(what: &str, e: wasm_bindgen::JsValue) -> StoreError {
    StoreError::Sink(
        DownloadError::new(
            ErrorCode::Sink,
            format!("the sink {what}: {}", describe(&e)),
        )
        .with_cause(e),
    )
}

impl Sink {
    /// Locks `stream` for writing; `swallow` is a no-op rejection handler.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when another writer holds it.
    pub fn new(
        stream: &WritableStream,
        swallow: wasm_bindgen::JsValue,
    ) -> Result<Sink, DownloadError> {
        let writer = stream
            .get_writer()
            .map_err(|e| DownloadError::invalid("options.sink", describe(&e)))?;
        Ok(Sink(Rc::new(SinkInner {
            writer,
            closed: std::cell::Cell::new(false),
            swallow,
        })))
    }

    /// Writes `bytes` once the stream has room (its backpressure).
    async fn write(&self, bytes: &Uint8Array) -> Result<(), StoreError> {
        let w = &self.0.writer;
        JsFuture::from(w.ready())
            .await
            .map_err(|e| sink_error("failed", e))?;
        // Not awaited: a failed write errors the stream, which the next `ready` (or the close)
        // reports.
        ignore_rejection(&w.write_with_chunk(bytes), &self.0.swallow);
        Ok(())
    }

    /// Closes the stream once every write is done.
    async fn close(&self) -> Result<(), StoreError> {
        self.0.closed.set(true);
        JsFuture::from(self.0.writer.close())
            .await
            .map_err(|e| sink_error("failed to close", e))?;
        Ok(())
    }

    /// Aborts the stream (a cancel).
    pub fn abort(&self) {
        if !self.0.closed.replace(true) {
            let _ = self.0.writer.abort();
        }
    }
}

/// OPFS commits under way at most: with the bytes pending, the page holds up to this many
/// flushes' worth plus one, so that a worker slowed by the disk does not stop the body being
/// read (which would leave the server's bytes waiting in the network buffers).
const MAX_INFLIGHT: usize = 2;

/// An OPFS commit under way: it settles when `done` resolves, with its failure in `failed`.
struct Inflight {
    done: JsFuture,
    failed: Rc<std::cell::RefCell<Option<StoreError>>>,
    /// Set when the record was stored: its bytes are durable in the file (a caller's file
    /// written as a stream makes them durable only where a write asks for it).
    stored: Rc<Cell<bool>>,
    /// The record it stores.
    next: Record,
    /// The change made to that record besides the bytes it counts.
    change: fn(&mut Record),
}

/// The commits that may still store their record, by number: `from` up to, not including,
/// `to`.
#[derive(Clone, Copy, Debug)]
struct Commits {
    from: u64,
    to: u64,
}

impl Commits {
    /// Every commit from number `from` on.
    fn from(from: u64) -> Commits {
        Commits { from, to: u64::MAX }
    }

    fn holds(self, commit: u64) -> bool {
        self.from <= commit && commit < self.to
    }

    /// The same commits up to `last` (which failed: those after it follow it).
    fn ending_after(self, last: u64) -> Commits {
        Commits {
            from: self.from,
            to: last + 1,
        }
    }
}

/// Commits a download's bytes.
pub struct Writer {
    backend: Backend,
    /// The committed state, as stored, plus any staged changes.
    rec: Record,
    /// `rec` has changes not stored yet ([`Writer::stage`]); the next write stores them.
    staged: bool,
    /// `rec` is exactly what this writer just created in storage ([`Writer::mark_in_sync`]).
    in_sync: bool,
    chunk_bytes: u64,
    /// Bytes received and not yet committed: views of body chunks, or Blobs of them.
    pending: Array,
    pending_bytes: u64,
    /// Hash over committed and pending bytes, when integrity is checked.
    hasher: Option<Hasher>,
    /// Where body bytes are copied to be hashed.
    scratch: Vec<u8>,
    /// OPFS commits under way, oldest first (each the file write, then the record): their
    /// outcomes and the records they store. At most [`MAX_INFLIGHT`]; anything else that
    /// touches storage waits for all of them first ([`Writer::settle`]). Meanwhile the body
    /// is read on.
    inflight: Vec<Inflight>,
    /// Commits made (whole chunks or flushes, and short ones), for the flush clock.
    commits: u64,
    /// The record of bytes written to a caller's streamed file after `rec`, which the file
    /// does not hold durably yet (nothing stored counts them).
    written: Option<Record>,
    /// Where the stored record's bytes end, as the commits under way store theirs: the
    /// offset the next one checks. Shared with them.
    stored_end: Rc<Cell<u64>>,
    /// The commits that may still store their record, by number: from the first made after
    /// the writer last went back to `rec` (a failure, a restart, a recount), up to the first
    /// that failed since, which those after it follow.
    valid: Rc<Cell<Commits>>,
    /// The number of the next commit.
    next_commit: u64,
    /// Where the last write that asked for durable bytes ends.
    synced_to: u64,
}

fn blob_error(e: wasm_bindgen::JsValue) -> StoreError {
    StoreError::Failed(format!("could not create a Blob: {}", describe(&e)))
}

impl Writer {
    /// A writer continuing from `rec`'s committed bytes.
    pub fn new(backend: Backend, rec: Record, chunk_bytes: u64) -> Writer {
        let hasher = hasher_for(&rec);
        Writer {
            backend,
            stored_end: Rc::new(Cell::new(rec.stored.offset)),
            synced_to: rec.stored.offset,
            rec,
            staged: false,
            in_sync: false,
            chunk_bytes,
            pending: Array::new(),
            pending_bytes: 0,
            hasher,
            scratch: Vec::new(),
            inflight: Vec::new(),
            commits: 0,
            written: None,
            valid: Rc::new(Cell::new(Commits::from(0))),
            next_commit: 0,
        }
    }

    /// Goes back to the committed record `rec` (as stored): pending bytes, bytes written
    /// after it and commits under way are forgotten, and the hash covers `rec`'s bytes.
    fn rebase(&mut self) {
        self.inflight.clear();
        self.written = None;
        self.pending = Array::new();
        self.pending_bytes = 0;
        self.hasher = hasher_for(&self.rec);
        self.valid.set(Commits::from(self.next_commit));
        self.stored_end.set(self.rec.stored.offset);
        self.synced_to = self.rec.stored.offset;
    }

    /// The committed record.
    pub fn record(&self) -> &Record {
        &self.rec
    }

    /// Committed, being committed and pending bytes.
    pub fn received(&self) -> u64 {
        self.landing().stored.offset + self.pending_bytes
    }

    /// The record as it will be once the commits under way have landed (counting bytes
    /// written to the file whether or not it holds them durably yet).
    fn landing(&self) -> &Record {
        self.inflight
            .last()
            .map(|c| &c.next)
            .or(self.written.as_ref())
            .unwrap_or(&self.rec)
    }

    /// Bytes received and not yet committed (nor being committed).
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }

    /// How many commits this writer has made.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Waits for the commits under way: their records become the committed one.
    ///
    /// # Errors
    /// The first storage failure; the bytes received after the last commit that landed are
    /// then dropped (those of the later commits fail the offset check), and the hash rewound
    /// to the committed bytes.
    pub async fn settle(&mut self) -> Result<(), StoreError> {
        while !self.inflight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    async fn settle_one(&mut self) -> Result<(), StoreError> {
        if self.inflight.is_empty() {
            return Ok(());
        }
        let Inflight {
            done,
            failed,
            stored,
            next,
            change,
        } = self.inflight.remove(0);
        let _ = done.await;
        let failed = failed.borrow_mut().take();
        match failed {
            None if stored.get() => {
                // Only what counts the bytes moves on: changes made to the record meanwhile
                // stay, for the next commit.
                self.rec.stored.offset = next.stored.offset;
                self.rec.chunks = next.chunks;
                self.rec.stored.hash = next.stored.hash;
                self.rec.updated_at = next.updated_at;
                change(&mut self.rec);
                self.written = None;
                Ok(())
            }
            // Written, not durable yet: a later commit stores it.
            None => {
                self.written = Some(next);
                Ok(())
            }
            Some(e) => {
                self.rebase();
                Err(e)
            }
        }
    }

    /// The hash of everything written, when integrity is checked.
    pub fn digest(&self) -> Option<Digest> {
        self.hasher.as_ref().map(Hasher::finalize)
    }

    /// The resume facts of the committed bytes.
    pub fn resume_state(&self) -> ResumeState {
        self.rec.stored.resume_state(&self.rec.url)
    }

    /// Appends a body chunk, committing every time exactly `chunk_bytes` are pending. A
    /// chunk that crosses that boundary is split (a view, not a copy), so stored chunks have
    /// exactly `chunk_bytes` bytes except where a download stopped. When `reused` (the
    /// chunk's memory will be read into again) its bytes are kept as a Blob, a copy outside
    /// the JS heap; otherwise the view itself is kept until the commit.
    ///
    /// # Errors
    /// The storage failure; the pending bytes are then dropped (they will be fetched again).
    pub async fn push(&mut self, chunk: Uint8Array, reused: bool) -> Result<(), StoreError> {
        if let Backend::Sink(sink) = &self.backend {
            let sink = sink.clone();
            self.hash(&chunk);
            // A reused buffer is read into again: the sink gets its own copy.
            let bytes = if reused {
                chunk.slice(0, chunk.length())
            } else {
                chunk
            };
            sink.write(&bytes).await?;
            // What the sink has is what counts: nothing is pending.
            self.rec.stored.offset += u64::from(bytes.length());
            return Ok(());
        }
        let mut rest = chunk;
        while rest.length() > 0 {
            let room = self.chunk_bytes - self.pending_bytes;
            let len = u64::from(rest.length());
            let piece = if len <= room {
                std::mem::replace(&mut rest, Uint8Array::new_with_length(0))
            } else {
                let head = rest.subarray(0, room as u32);
                rest = rest.subarray(room as u32, rest.length());
                head
            };
            self.hash(&piece);
            self.pending_bytes += u64::from(piece.length());
            if reused && matches!(self.backend, Backend::Opfs(..)) {
                // Sent to the storage worker soon: a copy of its own, which is transferred.
                self.pending.push(&piece.slice(0, piece.length()));
            } else if reused {
                let copy =
                    Blob::new_with_u8_array_sequence(&Array::of1(&piece)).map_err(blob_error)?;
                self.pending.push(&copy);
            } else {
                self.pending.push(&piece);
            }
            if self.pending_bytes >= self.chunk_bytes {
                if matches!(self.backend, Backend::Opfs(..)) {
                    // The body is read on while the worker writes.
                    if self.inflight.len() >= MAX_INFLIGHT {
                        self.settle_one().await?;
                    }
                    let sync = self.sync_due();
                    self.spawn_commit(|_| {}, sync);
                } else {
                    self.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// Adds `bytes` to the hash, when integrity is checked (through one scratch buffer: no
    /// allocation per chunk).
    fn hash(&mut self, bytes: &Uint8Array) {
        if let Some(h) = self.hasher.as_mut() {
            let n = bytes.length() as usize;
            if self.scratch.len() < n {
                self.scratch.resize(n, 0);
            }
            bytes.copy_to(&mut self.scratch[..n]);
            h.update(&self.scratch[..n]);
        }
    }

    /// A download written to the caller's sink, which cannot be rewound.
    pub fn rewindable(&self) -> bool {
        !matches!(self.backend, Backend::Sink(_))
    }

    /// Aborts the caller's sink, if there is one (a cancel).
    pub fn abort_sink(&self) {
        if let Backend::Sink(sink) = &self.backend {
            sink.abort();
        }
    }

    /// Commits the pending bytes as one chunk together with the record that counts them (and
    /// any staged change). Without pending bytes, only a staged change is stored.
    ///
    /// # Errors
    /// The storage failure; the pending bytes are then dropped and the hash rewound to the
    /// committed bytes, so memory and storage agree again.
    pub async fn commit(&mut self) -> Result<(), StoreError> {
        self.settle().await?;
        if self.pending_bytes == 0 && !self.staged && self.written.is_none() {
            return Ok(());
        }
        self.commit_and(|_| {}).await
    }

    /// Commits the pending bytes after they have waited (the commit interval): like
    /// [`Writer::commit`], except that into a caller's streamed file they are made durable
    /// only when that is due ([`sync_due`]), since each time copies the file.
    ///
    /// # Errors
    /// As [`Writer::commit`].
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if !matches!(self.backend, Backend::Opfs(..)) || self.pending_bytes == 0 {
            return self.commit().await;
        }
        let sync = self.sync_due();
        self.spawn_commit(|_| {}, sync);
        self.settle().await
    }

    /// True when the bytes written after the last durable ones (with those pending) are
    /// due to be made durable ([`sync_due`]).
    fn sync_due(&self) -> bool {
        sync_due(
            self.synced_to,
            self.landing().stored.offset + self.pending_bytes,
            self.chunk_bytes,
        )
    }

    /// Starts committing the pending bytes to the OPFS file and the record that counts them
    /// (with `change` made to it), after the commits under way, without waiting for it. The
    /// worker serves writes in order and each record's transaction checks that the stored
    /// offset is where its bytes start, so a commit after a failed one fails too.
    ///
    /// `sync` asks for the bytes to be made durable, which a caller's file written as a
    /// stream does only then; the record is stored once the file holds its bytes durably.
    fn spawn_commit(&mut self, change: fn(&mut Record), sync: bool) {
        let Backend::Opfs(store, files) = &self.backend else {
            return;
        };
        let (store, files) = (store.clone(), files.clone());
        let from = self.landing().stored.offset;
        let next = self.next_record(change);
        let parts = std::mem::replace(&mut self.pending, Array::new());
        self.pending_bytes = 0;
        self.staged = false;
        self.commits += 1;
        if sync {
            self.synced_to = next.stored.offset;
        }
        let failed = Rc::new(std::cell::RefCell::new(None));
        let stored = Rc::new(Cell::new(false));
        let (rec, slot, flag) = (next.clone(), failed.clone(), stored.clone());
        let (end, valid) = (self.stored_end.clone(), self.valid.clone());
        let mine = self.next_commit;
        self.next_commit += 1;
        let live = move || {
            let window = valid.get();
            window.holds(mine).then(|| (valid.clone(), window))
        };
        // Sent now: a cancel right after this deletes the file after the write.
        let total = rec.stored.total();
        let written = files.write(Target::from(&rec), from, &parts, sync, total);
        let done = crate::web::js::promise(async move {
            let result = match written.end().await {
                // Nothing is stored for a writer that has gone back since.
                Ok(_) if live().is_none() => {
                    Err(StoreError::Failed("a commit before it failed".into()))
                }
                Ok(durable) if durable >= rec.stored.offset => {
                    // The next commit checks for this one's end, whether or not this one has
                    // landed by then (a failure here makes it store nothing).
                    let from = end.replace(rec.stored.offset);
                    let stored = store.advance(&rec, from).await;
                    flag.set(stored.is_ok());
                    stored
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let (Err(_), Some((valid, window))) = (&result, live()) {
                // The commits after this one store nothing either.
                valid.set(window.ending_after(mine));
            }
            *slot.borrow_mut() = result.err();
            Ok(wasm_bindgen::JsValue::UNDEFINED)
        });
        self.inflight.push(Inflight {
            done: JsFuture::from(done),
            failed,
            stored,
            next,
            change,
        });
    }

    /// The record after the commits under way and the pending bytes, with `change` made to
    /// it.
    fn next_record(&self, change: fn(&mut Record)) -> Record {
        let mut next = self.rec.clone();
        next.stored.offset = self.landing().stored.offset + self.pending_bytes;
        next.chunks += u32::from(!matches!(self.backend, Backend::Opfs(..)));
        next.stored.hash = self.hasher.as_ref().map(Hasher::to_bytes);
        change(&mut next);
        next.updated_at = js_sys::Date::now();
        next
    }

    /// Like [`Writer::commit`], with `change` made to the record in the same transaction, so
    /// the last bytes of a download and its completed state land together. Without pending
    /// bytes the changed record is saved alone.
    ///
    /// # Errors
    /// As [`Writer::commit`].
    pub async fn commit_and(&mut self, change: fn(&mut Record)) -> Result<(), StoreError> {
        // Into a file: after the commits under way, waited for with them; durable, also
        // bytes written before that the file does not hold durably yet.
        let waiting = self.pending_bytes > 0 || !self.inflight.is_empty() || self.written.is_some();
        if waiting && matches!(self.backend, Backend::Opfs(..)) {
            self.spawn_commit(change, true);
            return self.settle().await;
        }
        self.settle().await?;
        if self.pending_bytes == 0 {
            return self.save(change).await;
        }
        let result = self.try_commit(change).await;
        if result.is_err() {
            self.discard_pending();
        }
        result
    }

    async fn try_commit(&mut self, change: fn(&mut Record)) -> Result<(), StoreError> {
        let next = self.next_record(change);
        match &mut self.backend {
            Backend::Idb(store) => {
                let chunk = ChunkHead {
                    index: self.rec.chunks,
                    offset: self.rec.stored.offset,
                    len: self.pending_bytes,
                    hash: next.stored.hash.clone(),
                };
                store.append(&next, &chunk, &self.pending).await?;
            }
            Backend::Memory(blobs) => {
                blobs.push(Blob::new_with_u8_array_sequence(&self.pending).map_err(blob_error)?)
            }
            // Bytes go to a sink as they arrive: nothing is ever pending; files are
            // committed by `commit_and`.
            Backend::Sink(_) | Backend::Opfs(..) => {}
        }
        self.rec = next;
        self.staged = false;
        self.pending = Array::new();
        self.pending_bytes = 0;
        self.commits += 1;
        Ok(())
    }

    /// Drops the pending bytes (a cancel, or a failed commit).
    pub fn discard_pending(&mut self) {
        if self.pending_bytes == 0 {
            // The hash covers exactly the committed bytes already (for a sink, the bytes it
            // has, whose hash state is never stored).
            return;
        }
        self.pending = Array::new();
        self.pending_bytes = 0;
        // The hash then covers what is committed, or being committed.
        self.hasher = hasher_for(self.landing());
    }

    /// Saves a changed record (identity, state, error), keeping the committed bytes. Staged
    /// changes are saved with it.
    ///
    /// # Errors
    /// The storage failure.
    pub fn save(
        &mut self,
        change: impl FnOnce(&mut Record),
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + '_ {
        // The change is applied here, so that the future is the same type for every caller:
        // one copy of it in the module, not one per closure.
        let mut next = self.rec.clone();
        change(&mut next);
        self.save_record(next)
    }

    async fn save_record(&mut self, mut next: Record) -> Result<(), StoreError> {
        if !self.inflight.is_empty() {
            // Changed from the records being committed, once they have landed.
            self.settle().await?;
            next.stored.offset = self.rec.stored.offset;
            next.chunks = self.rec.chunks;
            next.stored.hash = self.rec.stored.hash.clone();
        }
        next.updated_at = js_sys::Date::now();
        match &self.backend {
            Backend::Idb(store) | Backend::Opfs(store, _) => store.update(&next).await?,
            // Complete: every byte is written, and the stream is closed.
            Backend::Sink(sink) if next.stored.state == State::Completed => sink.close().await?,
            _ => {}
        }
        self.rec = next;
        self.staged = false;
        Ok(())
    }

    /// Changes the record in memory only; the next commit or save stores the change in its
    /// own transaction. For facts that matter only together with bytes (the accepted
    /// response's identity): a stored chunk always lands with them, and saves a transaction.
    pub fn stage(&mut self, change: impl FnOnce(&mut Record)) {
        change(&mut self.rec);
        self.staged = true;
    }

    /// Starts over from 0 in a new epoch: every stored chunk is deleted. Returns the bytes
    /// discarded.
    ///
    /// # Errors
    /// The storage failure (`Stale` if someone else changed the download).
    pub async fn restart(&mut self) -> Result<u64, StoreError> {
        // Whatever the commit under way did, everything is discarded.
        let _ = self.settle().await;
        self.discard_pending();
        let wasted = self.landing().stored.offset;
        let mut next = self.rec.clone();
        next.stored.restart(wasted);
        next.chunks = 0;
        // Bytes go where this manager keeps them now (a record written under another backend
        // moves with its restart).
        next.opfs = matches!(self.backend, Backend::Opfs(..));
        next.updated_at = js_sys::Date::now();
        match &mut self.backend {
            // An OPFS file is cut by the next write, which starts at 0.
            Backend::Idb(store) | Backend::Opfs(store, _) => {
                store.restart(self.rec.stored.epoch, &next).await?
            }
            Backend::Memory(blobs) => blobs.clear(),
            // The run machine fails the download instead (`SINK`); this is the last guard.
            Backend::Sink(_) if wasted > 0 => {
                return Err(StoreError::Sink(DownloadError::new(
                    ErrorCode::Sink,
                    "bytes written to the sink cannot be taken back",
                )))
            }
            Backend::Sink(_) => {}
        }
        self.rec = next;
        self.staged = false;
        self.rebase();
        Ok(wasted)
    }

    /// Sets the lifecycle state in memory, for a caller that stores the record itself (a
    /// download that is not running).
    pub fn set_state(&mut self, state: crate::core::lifecycle::State) {
        self.rec.stored.state = state;
    }

    /// Replaces the committed state by `rec` (read from storage by the caller).
    pub fn adopt(&mut self, rec: Record) {
        // A commit under way lands or fails on its own; the caller has read what is stored.
        self.rec = rec;
        self.rebase();
        self.staged = false;
        self.in_sync = false;
    }

    /// Records that `rec` was just created in storage by this writer, with no bytes: the
    /// first [`Writer::recount_if_needed`] can then skip reading it back.
    pub fn mark_in_sync(&mut self) {
        self.in_sync = self.rec.stored.offset == 0 && self.rec.chunks == 0 && !self.staged;
    }

    /// [`Writer::recount`], unless the record was just created by this writer. Should another
    /// writer have slipped in between, the first append finds the stored offset moved and
    /// fails without writing, and the caller recounts then.
    ///
    /// # Errors
    /// As [`Writer::recount`].
    pub async fn recount_if_needed(&mut self) -> Result<u64, StoreError> {
        if std::mem::take(&mut self.in_sync) {
            return Ok(0);
        }
        self.recount().await
    }

    /// Re-reads the committed state from storage and checks that the chunks are contiguous
    /// and whole (I4, case 29). A gap or a damaged chunk cuts the stored bytes back to the
    /// last good prefix; when the hash state of that prefix is unknown, everything is
    /// discarded instead. Returns the bytes cut.
    ///
    /// # Errors
    /// The storage failure.
    pub async fn recount(&mut self) -> Result<u64, StoreError> {
        self.in_sync = false;
        // The stored record is read back below, whatever the commit under way did.
        let _ = self.settle().await;
        self.discard_pending();
        if let Backend::Opfs(store, files) = &self.backend {
            let (store, files) = (store.clone(), files.clone());
            return self.recount_file(&store, &files).await;
        }
        let Backend::Idb(store) = &self.backend else {
            return Ok(0);
        };
        let store = store.clone();
        // The stored record wins, whatever this writer believed (another tab may have written,
        // or restarted the download, before this one took it over).
        let (rec, chunks) = store
            .load_with_chunks(&self.rec.id)
            .await?
            .ok_or(StoreError::Stale)?;
        self.rec = rec;
        self.rebase();
        self.staged = false;
        self.in_sync = false;
        if self.rec.opfs {
            // Its bytes are in an OPFS file this manager cannot open: started over in chunks.
            return self.restart().await;
        }
        let seen: Vec<Option<StoredChunk>> = chunks
            .iter()
            .map(|c| {
                c.as_ref().map(|c| StoredChunk {
                    index: c.index,
                    offset: c.offset,
                    len: c.len,
                    size: c.blob.size() as u64,
                    hash: c.hash.clone(),
                })
            })
            .collect();
        let integrity = self.rec.stored.integrity.is_some();
        let (offset, keep, hash) =
            match good_prefix(self.rec.stored.offset, self.rec.chunks, integrity, &seen) {
                Recount::Intact => return Ok(0),
                Recount::Restart => return self.restart().await,
                Recount::Cut {
                    offset,
                    chunks,
                    hash,
                } => (offset, chunks, hash),
            };
        let cut = self.rec.stored.offset - offset;
        let mut next = self.rec.clone();
        next.stored.cut(offset, hash);
        next.chunks = keep;
        next.updated_at = js_sys::Date::now();
        store.truncate(&next, keep).await?;
        self.rec = next;
        self.rebase();
        Ok(cut)
    }

    /// [`Writer::recount`] of a download whose bytes are in an OPFS file: the file must hold
    /// at least the bytes the stored record counts (bytes beyond are cut by the next write).
    /// A shorter file (its bytes were deleted) is cut back to what it holds, or discarded
    /// when the hash state of that prefix is unknown.
    async fn recount_file(&mut self, store: &Store, files: &Files) -> Result<u64, StoreError> {
        let rec = store.load(&self.rec.id).await?.ok_or(StoreError::Stale)?;
        self.rec = rec;
        self.rebase();
        self.staged = false;
        if !self.rec.opfs {
            // Stored as chunks by a manager without OPFS: started over in the file.
            return self.restart().await;
        }
        let size = files.size(Target::from(&self.rec)).await?;
        if size >= self.rec.stored.offset {
            return Ok(0);
        }
        if self.rec.stored.integrity.is_some() && size > 0 {
            return self.restart().await;
        }
        let cut = self.rec.stored.offset - size;
        let mut next = self.rec.clone();
        next.stored.cut(size, None);
        next.updated_at = js_sys::Date::now();
        store.update(&next).await?;
        self.rec = next;
        self.rebase();
        Ok(cut)
    }

    /// The run ended: the download's OPFS file is closed, so that another tab can write it.
    pub fn end_run(&self) {
        if let Backend::Opfs(_, files) = &self.backend {
            let closed = files.release(Target::from(&self.rec));
            wasm_bindgen_futures::spawn_local(async move {
                let _ = closed.done().await;
            });
        }
    }

    /// What `blob()` needs, detached from the writer.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            backend: self.backend.clone(),
            rec: self.rec.clone(),
        }
    }
}

/// The committed bytes of a download at one moment.
pub struct Snapshot {
    backend: Backend,
    rec: Record,
}

impl Snapshot {
    /// The committed bytes as one Blob, assembled from the chunk Blobs without copying.
    ///
    /// # Errors
    /// `STORAGE` if the chunks cannot be read or do not add up to the record.
    pub async fn blob(&self, mime: &str) -> Result<Blob, DownloadError> {
        let parts: Array = match &self.backend {
            Backend::Sink(_) => {
                return Err(DownloadError::invalid(
                    "download",
                    "was written to its sink; nothing is kept to make a Blob of",
                ))
            }
            Backend::Memory(blobs) => blobs.iter().collect(),
            // A view of the file: nothing is copied.
            Backend::Opfs(_, files) => {
                return files
                    .blob(Target::from(&self.rec), self.rec.stored.offset, mime)
                    .await
                    .map_err(|e| e.to_download_error())
            }
            Backend::Idb(store) => {
                let chunks = store
                    .chunks(&self.rec.id, self.rec.stored.epoch)
                    .await
                    .map_err(|e| e.to_download_error())?;
                let chunks: Vec<Chunk> = chunks
                    .into_iter()
                    .take(self.rec.chunks as usize)
                    .flatten()
                    .collect();
                let total: f64 = chunks.iter().map(|c| c.blob.size()).sum();
                if chunks.len() != self.rec.chunks as usize
                    || total != self.rec.stored.offset as f64
                {
                    return Err(DownloadError::new(
                        ErrorCode::Storage,
                        "the stored chunks do not add up to the download",
                    ));
                }
                chunks.iter().map(|c| c.blob.clone()).collect()
            }
        };
        let bag = BlobPropertyBag::new();
        bag.set_type(mime);
        Blob::new_with_blob_sequence_and_options(&parts, &bag)
            .map_err(|e| DownloadError::new(ErrorCode::Storage, describe(&e)))
    }
}

fn hasher_for(rec: &Record) -> Option<Hasher> {
    Hasher::resume(rec.stored.integrity.as_deref()?, rec.stored.hash.as_deref())
}
