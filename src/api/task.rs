//! The life of one running download: ask the core what to fetch, fetch it, let the core judge
//! the response, write the body, and on failure let the retry policy decide.
//!
//! This module carries out decisions; it makes none that `crate::core` can make.

use std::rc::Rc;

use crate::core::integrity::{parse_integrity, verify};
use crate::core::progress::ProgressTracker;
use crate::core::resume::{
    after_bad_partial, decide, on_body_end, plan, BodyEnd, Decision, Plan, Restart,
};
use crate::core::retry::{RetryPolicy, RetryState, Verdict};
use crate::core::timeouts::{deadline_from, Timeouts};
use crate::core::{DownloadError, ErrorCode};
use crate::web::cancel::{StopReason, StopToken};
use crate::web::clock::{now_ms, unix_now_ms};
use crate::web::env::{is_offline, sleep_or_stop, storage_available, wait_online};
use crate::web::store::{Record, StoreError};
use crate::web::transfer::{Attempt, TransferEnd, TransferLimits, TransferSpec};
use crate::web::writer::Writer;

use super::download::DownloadCell;

/// Restarts allowed in one run before the download fails: a resource that changes on every
/// request cannot be downloaded consistently.
const MAX_RESTARTS: u32 = 5;
/// Consecutive failed storage writes tolerated (each followed by a recount) in one run.
const MAX_STORAGE_FAILURES: u32 = 2;

/// Settings a run needs.
#[derive(Clone, Debug)]
pub(crate) struct RunConfig {
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub progress_interval_ms: u64,
}

/// How a run ended.
pub(crate) enum Outcome {
    Completed,
    Failed(DownloadError),
    Stopped(StopReason),
}

fn storage_outcome(e: StoreError) -> Outcome {
    match e {
        // Someone else changed the download (a cancel, another owner): stop writing.
        StoreError::Stale => Outcome::Stopped(StopReason::Cancel),
        other => Outcome::Failed(other.to_download_error()),
    }
}

struct Run<'a> {
    cell: &'a Rc<DownloadCell>,
    writer: &'a mut Writer,
    cfg: &'a RunConfig,
    stop: &'a StopToken,
    retry: RetryState,
    restarts: u32,
    storage_failures: u32,
    deadline_at: Option<f64>,
    progress: ProgressTracker,
}

/// Runs the download until it completes, fails, or is stopped. The caller settles it.
pub(crate) async fn run(
    cell: &Rc<DownloadCell>,
    writer: &mut Writer,
    cfg: &RunConfig,
    stop: &StopToken,
) -> Outcome {
    let mut progress = ProgressTracker::new(cfg.progress_interval_ms, writer.received());
    progress.set_total(writer.record().total);
    let mut run = Run {
        cell,
        writer,
        cfg,
        stop,
        retry: RetryState::new(),
        restarts: 0,
        storage_failures: 0,
        // A new run (a resume by the user) gets a new deadline; time spent queued never counts.
        deadline_at: deadline_from(&cfg.timeouts, now_ms()),
        progress,
    };
    match run.drive().await {
        Ok(()) => Outcome::Completed,
        Err(o) => o,
    }
}

impl Run<'_> {
    async fn drive(&mut self) -> Result<(), Outcome> {
        // What is stored is the truth (I4, I5): re-read it and check the chunks before resuming.
        let cut = self
            .writer
            .recount_if_needed()
            .await
            .map_err(storage_outcome)?;
        if cut > 0 {
            self.reset_progress();
        }
        let mut bad_partials = 0;
        let mut quota_checked = false;
        loop {
            if let Some(r) = self.stop.reason() {
                return Err(Outcome::Stopped(r));
            }
            let mut rs = self.writer.resume_state();
            rs.bad_partials = bad_partials;
            let range_start = match plan(&rs) {
                Plan::Complete => {
                    if self.finalize().await? {
                        return Ok(());
                    }
                    continue;
                }
                Plan::Fetch { range_start } => range_start,
            };
            if is_offline() {
                wait_online(self.stop).await.map_err(Outcome::Stopped)?;
            }
            let spec = TransferSpec {
                url: self.cell.url.clone(),
                headers: self.writer.record().headers.clone(),
            };
            let limits = TransferLimits {
                timeouts: self.cfg.timeouts,
                deadline_at: self.deadline_at,
            };
            let (mut attempt, head, final_url) =
                match Attempt::start(&spec, range_start, &limits, self.stop).await {
                    Ok(x) => x,
                    Err(TransferEnd::Failed(e)) => {
                        // Chromium refuses a content-encoded answer to a request with Range
                        // (range requests advertise only `identity`), so a server that
                        // compresses everything fails the very first `bytes=0-` request. Ask
                        // once without Range before counting the failure.
                        let rec = self.writer.record();
                        if e.code == ErrorCode::Network
                            && range_start == Some(0)
                            && !rec.accepted
                            && !rec.no_range
                        {
                            self.writer
                                .save(|r| r.no_range = true)
                                .await
                                .map_err(storage_outcome)?;
                            continue;
                        }
                        self.back_off(e, false).await?;
                        continue;
                    }
                    Err(TransferEnd::Stopped(r)) => return Err(Outcome::Stopped(r)),
                    Err(TransferEnd::Storage(e)) => return Err(storage_outcome(e)),
                };
            let accepted = match decide(&rs, range_start, &head, &final_url, unix_now_ms()) {
                Decision::Write(a) => a,
                Decision::Refetch(reason) => {
                    self.restart(reason).await?;
                    continue;
                }
                Decision::RetryWithoutRange => {
                    self.writer
                        .save(|r| r.no_range = true)
                        .await
                        .map_err(storage_outcome)?;
                    continue;
                }
                Decision::Fail(e) => {
                    drop(attempt);
                    if e.code == ErrorCode::BadResponse && range_start.is_some_and(|n| n > 0) {
                        if let Some(reason) = after_bad_partial(&mut rs) {
                            bad_partials = 0;
                            self.restart(reason).await?;
                            continue;
                        }
                        bad_partials = rs.bad_partials;
                    }
                    self.back_off(e, false).await?;
                    continue;
                }
            };
            bad_partials = 0;
            if let Some(reason) = accepted.restart {
                self.restart(reason).await?;
            }
            let identity = accepted.identity.clone();
            let content_type = head.content_type.clone();
            // Stored with the first chunk (or the next save): bytes never land without it.
            self.writer.stage(|r| {
                r.accepted = true;
                r.etag = identity.etag;
                r.last_modified = identity.last_modified;
                r.total = identity.total;
                r.ranges = identity.ranges;
                r.final_url = Some(final_url);
                r.content_type = content_type;
            });
            self.cell.set_record(self.writer.record().clone());
            if let (Some(total), false) = (accepted.identity.total, quota_checked) {
                quota_checked = true;
                self.check_quota(total).await?;
            }
            self.progress.set_total(accepted.identity.total);
            self.cell.report_progress(self.progress.emit(now_ms()));

            let committed_before = self.writer.record().offset;
            let received_before = self.writer.received();
            let (progress, cell) = (&mut self.progress, self.cell);
            let read = attempt
                .read_body(accepted.expected_len, self.writer, &mut |n| {
                    if let Some(p) = progress.on_bytes(n, now_ms()) {
                        cell.report_progress(p);
                    }
                })
                .await;
            drop(attempt);
            let received = self.writer.received() - received_before;
            let stream_end = match read {
                Ok(_) => Ok(()),
                // A cancel drops everything.
                Err(TransferEnd::Stopped(StopReason::Cancel)) => {
                    return Err(Outcome::Stopped(StopReason::Cancel))
                }
                Err(TransferEnd::Stopped(r)) => {
                    // A pause or a close loses nothing that arrived.
                    let _ = self.writer.commit().await;
                    return Err(Outcome::Stopped(r));
                }
                Err(TransferEnd::Storage(se)) => {
                    self.storage_failed(se).await?;
                    continue;
                }
                Err(TransferEnd::Failed(e)) => Err(e),
            };
            // Judged as the bytes will stand once the pending ones are committed: a download
            // that is complete (and passes its integrity check) commits its last bytes and
            // its completed state in one transaction.
            let mut end_state = self.writer.resume_state();
            end_state.offset = self.writer.received();
            let end = on_body_end(&end_state, &accepted, stream_end, received);
            let finished = matches!(end, BodyEnd::Complete) && self.integrity_check()?.is_ok();
            // Whatever ended the body, the bytes that arrived are committed (I4).
            let committed = if finished {
                self.writer.commit_and(mark_completed).await
            } else {
                self.writer.commit().await
            };
            if let Err(se) = committed {
                self.storage_failed(se).await?;
                continue;
            }
            self.storage_failures = 0;
            self.cell.set_record(self.writer.record().clone());
            if finished {
                self.progress.set_total(Some(self.writer.record().offset));
                return Ok(());
            }
            let made_progress = self.writer.record().offset > committed_before;
            match end {
                BodyEnd::Complete => {
                    if self.finalize().await? {
                        return Ok(());
                    }
                }
                BodyEnd::Continue => self.retry.reset(),
                BodyEnd::Failed(e) => self.back_off(e, made_progress).await?,
            }
        }
    }

    fn reset_progress(&mut self) {
        self.progress = ProgressTracker::new(self.cfg.progress_interval_ms, self.writer.received());
        self.progress.set_total(self.writer.record().total);
        self.progress.start_transfer(now_ms());
        self.cell
            .report_progress_restart(self.progress.emit(now_ms()));
    }

    /// Discards the stored bytes and announces it (I9).
    async fn restart(&mut self, reason: Restart) -> Result<(), Outcome> {
        self.restarts += 1;
        if self.restarts > MAX_RESTARTS {
            return Err(Outcome::Failed(DownloadError::new(
                ErrorCode::BadResponse,
                format!(
                    "restarted {MAX_RESTARTS} times (last: {}); the resource keeps changing",
                    reason.as_str()
                ),
            )));
        }
        let wasted = self.writer.restart().await.map_err(storage_outcome)?;
        self.cell.set_record(self.writer.record().clone());
        self.reset_progress();
        self.cell.emit_restarted(reason, wasted);
        Ok(())
    }

    /// A failed write transaction: recount from storage (I4), then go on, a bounded number of
    /// times. Quota errors stop the download with its partial kept.
    async fn storage_failed(&mut self, e: StoreError) -> Result<(), Outcome> {
        if !matches!(e, StoreError::Failed(_)) {
            return Err(storage_outcome(e));
        }
        self.storage_failures += 1;
        if self.storage_failures > MAX_STORAGE_FAILURES {
            return Err(storage_outcome(e));
        }
        self.writer.recount().await.map_err(storage_outcome)?;
        self.reset_progress();
        Ok(())
    }

    async fn check_quota(&mut self, total: u64) -> Result<(), Outcome> {
        let needed = total.saturating_sub(self.writer.record().offset);
        // What fits in one chunk is checked by that chunk's write itself (QUOTA, nothing
        // stored): asking the browser first would cost more than it could save.
        if needed <= self.writer.chunk_bytes() {
            return Ok(());
        }
        match storage_available().await {
            Some(free) if free < needed as f64 => Err(Outcome::Failed(DownloadError::new(
                ErrorCode::Quota,
                format!(
                    "the download needs {needed} more bytes but only {} are available",
                    free.max(0.0) as u64
                ),
            ))),
            _ => Ok(()),
        }
    }

    /// Waits as the retry policy says, or gives up. A network failure while the browser is
    /// offline is not counted: the download waits for the `online` event instead.
    async fn back_off(&mut self, e: DownloadError, made_progress: bool) -> Result<(), Outcome> {
        if e.code == ErrorCode::Network && is_offline() {
            return wait_online(self.stop).await.map_err(Outcome::Stopped);
        }
        let verdict = self.retry.on_failure(
            &self.cfg.retry,
            &e,
            made_progress,
            js_sys::Math::random(),
            now_ms(),
            self.deadline_at,
        );
        match verdict {
            Verdict::Retry { delay_ms, attempt } => {
                self.cell.emit_retry(&e, attempt, delay_ms);
                sleep_or_stop(delay_ms as f64, self.stop)
                    .await
                    .map_err(Outcome::Stopped)
            }
            Verdict::GiveUp(e) => Err(Outcome::Failed(e)),
        }
    }

    /// Checks a complete download (I6): the total is known and stored, and the hash matches.
    /// Returns false when an integrity mismatch restarted it.
    async fn finalize(&mut self) -> Result<bool, Outcome> {
        if let Err(e) = self.integrity_check()? {
            if self.writer.record().integrity_restarts >= 1 {
                return Err(Outcome::Failed(e));
            }
            self.writer
                .save(|r| r.integrity_restarts += 1)
                .await
                .map_err(storage_outcome)?;
            self.restart(Restart::Integrity).await?;
            return Ok(false);
        }
        self.writer
            .save(mark_completed)
            .await
            .map_err(storage_outcome)?;
        self.progress.set_total(Some(self.writer.record().offset));
        Ok(true)
    }

    /// The INTEGRITY error when the bytes received (committed and pending) do not match the
    /// expected `integrity`; `Ok(())` when they do or none is expected.
    fn integrity_check(&self) -> Result<Result<(), DownloadError>, Outcome> {
        let rec = self.writer.record();
        match (rec.integrity.as_deref(), self.writer.digest()) {
            (Some(expected), Some(actual)) => {
                let expected = parse_integrity(expected).map_err(Outcome::Failed)?;
                Ok(verify(&expected, &actual))
            }
            _ => Ok(Ok(())),
        }
    }
}

/// The record of a download whose bytes are all stored and verified.
fn mark_completed(r: &mut Record) {
    r.total = Some(r.offset);
    r.state = "completed".into();
    r.error = None;
}
