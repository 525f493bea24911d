//! The driver of one run: feeds [`RunMachine`] with what the browser does (the stored state,
//! response heads, body ends, storage failures, timers) and carries out what it answers. It
//! decides nothing itself; a stop (pause, cancel, close) ends it at the next await.

use std::cell::RefCell;
use std::rc::Rc;

use crate::core::progress::ProgressTracker;
use crate::core::run::{
    origin_of, Action, Env, Fact, Outcome, RequestReason, RunConfig, RunMachine, StorageFault, View,
};
use crate::web::cancel::{StopReason, StopToken};
use futures::future::{select, Either, LocalBoxFuture};

use super::config::Prepared;
use crate::core::ErrorCode;
use crate::web::clock::{now_ms, sleep_ms, unix_now_ms};
use crate::web::env::{is_offline, or_stop, sleep_or_stop, storage_available, wait_online};
use crate::web::store::{Record, StoreError};
use crate::web::transfer::{Attempt, TransferEnd, TransferLimits, TransferSpec};
use crate::web::writer::Writer;

use crate::core::progress::Progress;
use crate::core::resume::Restart;
use crate::core::DownloadError;

/// What a run tells the download it runs.
pub(crate) trait Report {
    /// The URL to fetch.
    fn url(&self) -> &str;
    /// A response the page fetched, to answer the next request instead of a fetch, and
    /// whether its request carried `If-Range` with the stored validator.
    fn take_given(&self) -> Option<(web_sys::Response, bool)>;
    /// Where the download asks for Background Fetch: how to hand its requests over, or why
    /// not (`Err`: the run stays in the page).
    fn background_plan(&self) -> Result<BackgroundPlan, String>;
    /// The browser refused a handover: the download's runs stay in the page.
    fn refuse_background(&self, why: String);
    /// The record changed (an accepted response, a commit, a restart).
    fn record(&self, rec: &Record);
    /// A progress report is due.
    fn progress(&self, p: Progress);
    /// The stored bytes were discarded (I9).
    fn restarted(&self, reason: Restart, wasted: u64);
    /// An automatic retry is scheduled.
    fn retry(&self, error: &DownloadError, attempt: u32, delay_ms: u64);
    /// The manager's `prepareRequest` hook, called for request number `attempt` of this run;
    /// `None` without a hook.
    fn prepare(
        &self,
        reason: RequestReason,
        attempt: u32,
    ) -> Option<LocalBoxFuture<'static, Result<Prepared, DownloadError>>>;
}

/// How a download's request is handed to Background Fetch.
pub(crate) struct BackgroundPlan {
    /// The registration id ([`crate::web::background::registration_id`]).
    pub id: String,
    /// The title the browser's UI shows.
    pub title: String,
    /// The icons the browser's UI shows (the manager's `backgroundIcons`).
    pub icons: Option<js_sys::Array>,
}

/// How often a transfer that receives nothing reports its (decaying) progress.
const SILENT_REPORT_MS: f64 = 1000.0;

/// How a run ended, as the engine sees it.
pub(crate) enum RunEnd {
    /// What the run machine concluded.
    Machine(Outcome),
    /// A pause, cancel, close or storage loss stopped it.
    Stopped(StopReason),
    /// Its request went to Background Fetch, under the registration the record names.
    Handed,
}

fn fault(e: StoreError) -> StorageFault {
    match e {
        StoreError::Stale => StorageFault::Stale,
        StoreError::Quota(_) | StoreError::Sink(_) => StorageFault::Final(e.to_download_error()),
        other => StorageFault::Failed(other.to_download_error()),
    }
}

fn stored<T>(r: Result<T, StoreError>, ok: impl FnOnce(T) -> Fact) -> Fact {
    r.map_or_else(|e| Fact::Storage(fault(e)), ok)
}

fn view(w: &Writer) -> View {
    View {
        resume: w.resume_state(),
        received: w.received(),
        integrity_restarts: w.record().integrity_restarts,
    }
}

/// `globalThis.location.origin`, where there is one (a window or a worker).
fn page_origin() -> Option<String> {
    let location = crate::web::js::prop(&js_sys::global(), "location")?;
    crate::web::js::prop(&location, "origin")?
        .as_string()
        .map(|o| o.to_ascii_lowercase())
}

fn env() -> Env {
    Env {
        now_ms: now_ms(),
        unix_now_ms: unix_now_ms(),
        random: js_sys::Math::random(),
        offline: is_offline(),
    }
}

/// A tracker for a run that starts from `w`'s stored bytes (the caller shares it with the
/// download, which reads it live).
pub(crate) fn fresh_progress(cfg: &RunConfig, w: &Writer) -> ProgressTracker {
    let mut p = ProgressTracker::new(cfg.progress_interval_ms, w.received());
    p.set_total(w.record().total);
    p
}

/// Runs the download until it completes, fails, or is stopped, reporting into `progress`
/// (made by [`fresh_progress`]). The caller settles it.
pub(crate) async fn run(
    cell: &impl Report,
    writer: &mut Writer,
    cfg: &RunConfig,
    stop: &StopToken,
    progress: &Rc<RefCell<ProgressTracker>>,
) -> RunEnd {
    let mut machine = RunMachine::new(*cfg, writer.record().integrity.as_deref(), now_ms());
    let page = page_origin();
    machine.set_cross_origin(page.is_some() && page != origin_of(cell.url()));
    let limits = TransferLimits {
        timeouts: cfg.timeouts,
        deadline_at: machine.deadline_at(),
        commit_interval_ms: cfg.commit_interval_ms,
    };
    let mut attempt: Option<Attempt<'_>> = None;
    // What the judged response says of itself, for the record once its body is accepted.
    let mut source = Source::default();
    let mut fact = Fact::Start;
    loop {
        if let Some(r) = stop.reason() {
            return RunEnd::Stopped(r);
        }
        let action = machine.next(fact, &view(writer), &env());
        fact = match action {
            Action::Done(outcome) => return RunEnd::Machine(outcome),
            Action::Recount => stored(writer.recount_if_needed().await, |cut| {
                if cut > 0 {
                    restart_progress(cell, cfg, writer, progress);
                }
                Fact::Counted { cut }
            }),
            Action::WaitOnline => match wait_online(stop).await {
                Ok(()) => Fact::Waited,
                Err(r) => return RunEnd::Stopped(r),
            },
            Action::Wait {
                delay_ms,
                attempt: n,
                error,
            } => {
                cell.retry(&error, n, delay_ms);
                match sleep_or_stop(delay_ms as f64, stop).await {
                    Ok(()) => Fact::Waited,
                    Err(r) => return RunEnd::Stopped(r),
                }
            }
            Action::Fetch {
                range_start,
                reason,
            } => {
                attempt = None;
                let given = cell.take_given();
                if given.is_none() && writer.record().background {
                    match hand_over(cell, writer, cfg, stop, reason, &machine, range_start).await {
                        Ok(true) => return RunEnd::Handed,
                        Ok(false) => {}
                        Err(TransferEnd::Stopped(r)) => return RunEnd::Stopped(r),
                        Err(TransferEnd::Storage(e)) => {
                            fact = Fact::Storage(fault(e));
                            continue;
                        }
                        Err(TransferEnd::Failed(e)) => {
                            fact = Fact::RequestFailed(e);
                            continue;
                        }
                    }
                }
                let vouched = given.as_ref().is_some_and(|g| g.1);
                let started = match given {
                    // Judged as fetched; where it came from is not stored.
                    Some((r, _)) => Attempt::given(r, &limits, stop).map(|a| {
                        let from = a.2.clone();
                        (a, from)
                    }),
                    None => match request_spec(cell, writer, cfg, stop, reason, &machine).await {
                        Ok(spec) => Attempt::start(&spec, range_start, &limits, stop)
                            .await
                            .map(|a| (a, spec.url)),
                        Err(e) => Err(e),
                    },
                };
                match started {
                    Ok(((a, head, final_url), requested)) => {
                        attempt = Some(a);
                        let redirect = (final_url != requested).then_some(final_url);
                        // A URL the hook gave (it may be signed) is not stored; a redirect is.
                        let stored_url = redirect
                            .clone()
                            .or_else(|| (requested == cell.url()).then(|| requested.clone()));
                        source = Source {
                            content_type: head.content_type.clone(),
                            disposition: head.content_disposition.clone(),
                            final_url: stored_url,
                        };
                        Fact::Head {
                            head,
                            redirect,
                            vouched,
                        }
                    }
                    Err(TransferEnd::Failed(e)) => Fact::RequestFailed(e),
                    Err(TransferEnd::Stopped(r)) => return RunEnd::Stopped(r),
                    Err(TransferEnd::Storage(e)) => Fact::Storage(fault(e)),
                }
            }
            Action::DisableRange => {
                stored(writer.save(|r| r.no_range = true).await, |()| Fact::Saved)
            }
            Action::Restart(reason) => {
                attempt_keep_for_restart(&mut attempt, &machine);
                stored(writer.restart().await, |wasted| {
                    cell.record(writer.record());
                    restart_progress(cell, cfg, writer, progress);
                    cell.restarted(reason, wasted);
                    Fact::Saved
                })
            }
            Action::CheckSpace { .. } => Fact::Space(storage_available().await),
            Action::ReadBody(accepted) => {
                let Some(mut a) = attempt.take() else {
                    return RunEnd::Machine(Outcome::Lost);
                };
                let identity = accepted.identity.clone();
                let source = std::mem::take(&mut source);
                // Stored with the first chunk (or the next save): bytes never land without it.
                writer.stage(|r| {
                    r.accepted = true;
                    r.etag = identity.etag;
                    r.last_modified = identity.last_modified;
                    r.total = identity.total;
                    r.ranges = identity.ranges;
                    r.final_url = source.final_url;
                    r.content_type = source.content_type;
                    r.disposition = source.disposition;
                });
                cell.record(writer.record());
                let first = {
                    let mut p = progress.borrow_mut();
                    p.set_total(accepted.identity.total);
                    p.start_transfer(now_ms());
                    p.emit(now_ms())
                };
                cell.progress(first);
                let before = writer.received();
                let mut on_bytes = |n| {
                    let due = progress.borrow_mut().on_bytes(n, now_ms());
                    if let Some(p) = due {
                        cell.progress(p);
                    }
                };
                let reading = a.read_body(accepted.expected_len, writer, &mut on_bytes);
                // While no byte arrives (a stall), progress is still reported, every
                // SILENT_REPORT_MS, so that listeners see the rate decay.
                let silent = async {
                    loop {
                        sleep_ms(SILENT_REPORT_MS).await;
                        let due = {
                            let mut p = progress.borrow_mut();
                            p.silent_for(SILENT_REPORT_MS, now_ms())
                                .then(|| p.emit(now_ms()))
                        };
                        if let Some(p) = due {
                            cell.progress(p);
                        }
                    }
                };
                let read = match select(std::pin::pin!(reading), std::pin::pin!(silent)).await {
                    Either::Left((read, _)) => read,
                    Either::Right((never, _)) => never,
                };
                drop(a);
                let received = writer.received() - before;
                match read {
                    Ok(_) => Fact::BodyEnded {
                        end: Ok(()),
                        received,
                    },
                    Err(TransferEnd::Failed(e)) => Fact::BodyEnded {
                        end: Err(e),
                        received,
                    },
                    // A cancel drops everything; a pause or a close loses nothing that arrived.
                    Err(TransferEnd::Stopped(StopReason::Cancel)) => {
                        return RunEnd::Stopped(StopReason::Cancel)
                    }
                    Err(TransferEnd::Stopped(r)) => {
                        let _ = writer.commit().await;
                        return RunEnd::Stopped(r);
                    }
                    Err(TransferEnd::Storage(e)) => Fact::Storage(fault(e)),
                }
            }
            Action::Verify => Fact::Digest(writer.digest()),
            Action::Commit { completed } => {
                let committed = if completed {
                    writer.commit_and(mark_completed).await
                } else {
                    writer.commit().await
                };
                stored(committed, |()| {
                    cell.record(writer.record());
                    Fact::Committed
                })
            }
            Action::CountIntegrityRestart => {
                stored(writer.save(|r| r.integrity_restarts += 1).await, |()| {
                    Fact::Saved
                })
            }
        };
    }
}

/// What a response says of itself, stored once its body is accepted.
#[derive(Default)]
struct Source {
    content_type: Option<String>,
    disposition: Option<String>,
    final_url: Option<String>,
}

/// What to fetch: the stored URL and headers, or what the `prepareRequest` hook makes of them
/// (its headers replace stored ones of the same name). The hook is bounded by
/// `timeouts.headers`, and a stop ends the wait for it.
async fn request_spec(
    cell: &impl Report,
    writer: &Writer,
    cfg: &RunConfig,
    stop: &StopToken,
    reason: RequestReason,
    machine: &RunMachine,
) -> Result<TransferSpec, TransferEnd> {
    let mut spec = TransferSpec {
        url: cell.url().to_owned(),
        headers: writer.record().headers.clone(),
    };
    let Some(answer) = cell.prepare(reason, machine.requests()) else {
        return Ok(spec);
    };
    let limit_ms = cfg.timeouts.headers_ms;
    let timeout = Box::pin(async move {
        if limit_ms == 0 {
            futures::future::pending::<()>().await;
        }
        sleep_ms(limit_ms as f64).await;
    });
    let prepared = match or_stop(stop, select(answer, timeout)).await {
        Err(r) => return Err(TransferEnd::Stopped(r)),
        Ok(Either::Left((answer, _))) => answer?,
        Ok(Either::Right(_)) => {
            return Err(TransferEnd::Failed(DownloadError::new(
                ErrorCode::PrepareRequest,
                format!("prepareRequest did not settle within timeouts.headers ({limit_ms} ms)"),
            )))
        }
    };
    if let Some(url) = prepared.url {
        spec.url = url;
    }
    let fresh = prepared.headers;
    spec.headers
        .retain(|(name, _)| !fresh.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
    spec.headers.extend(fresh);
    Ok(spec)
}

/// Why a resume from another origin is not handed to Background Fetch.
const CROSS_ORIGIN_RESUME: &str = "a resume of stored bytes from another origin cannot be \
    checked in the service worker (Background Fetch shows it a cross-origin response without \
    its Content-Range and ETag, and cannot send If-Range, which needs a preflight)";

/// Hands the request to Background Fetch, where the download asks for it and the page can:
/// the record names the registration first (a reload finds it), then the browser takes the
/// request. `Ok(false)` when the run is to fetch it itself (no Background Fetch here, or the
/// browser refused: the refusal is kept on the download and warned about).
async fn hand_over(
    cell: &impl Report,
    writer: &mut Writer,
    cfg: &RunConfig,
    stop: &StopToken,
    reason: RequestReason,
    machine: &RunMachine,
    range_start: Option<u64>,
) -> Result<bool, TransferEnd> {
    let Ok(BackgroundPlan { id, title, icons }) = cell.background_plan() else {
        return Ok(false);
    };
    // (Judged on the stored URL first, so that the hook is not asked twice for one request.)
    let cross = |url: &str| page_origin() != origin_of(url);
    if range_start.is_some_and(|n| n > 0) && cross(cell.url()) {
        cell.refuse_background(CROSS_ORIGIN_RESUME.into());
        return Ok(false);
    }
    let mut spec = request_spec(cell, writer, cfg, stop, reason, machine).await?;
    // From 0 the request asks for the whole resource: a `200` shows its length to the
    // service worker, where a cross-origin `206` would hide its Content-Range. A resume
    // carries If-Range with the stored validator, so that the server's answer says whether
    // the rest is of the stored version (see `decide_if_range`).
    let resume_at = range_start.filter(|n| *n > 0);
    let validator = {
        let r = writer.record();
        r.etag.clone().or_else(|| r.last_modified.clone())
    };
    let if_range = resume_at.and(validator);
    if resume_at.is_some() && if_range.is_none() {
        return Ok(false);
    }
    if resume_at.is_some() && cross(&spec.url) {
        // (The hook gave another origin: this request is fetched here as it is.)
        cell.refuse_background(CROSS_ORIGIN_RESUME.into());
        return Ok(false);
    }
    if let Some(v) = &if_range {
        spec.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("if-range"));
        spec.headers.push(("If-Range".into(), v.clone()));
    }
    let request = crate::web::transfer::background_request(&spec, resume_at)?;
    let total = writer
        .record()
        .total
        .map(|t| t.saturating_sub(range_start.unwrap_or(0)));
    writer
        .save(|r| {
            r.background_id = Some(id.clone());
            r.background_if_range = if_range.is_some();
        })
        .await
        .map_err(TransferEnd::Storage)?;
    let started = crate::web::background::start(&id, &request, &title, icons.as_ref(), total).await;
    match started {
        Ok(registration) => {
            if let Some(r) = stop.reason() {
                registration.abort();
                writer
                    .save(|r| r.background_id = None)
                    .await
                    .map_err(TransferEnd::Storage)?;
                return Err(TransferEnd::Stopped(r));
            }
            Ok(true)
        }
        Err(why) => {
            crate::web::js::console_warn(&format!(
                "resumable-downloads: Background Fetch refused the download ({why}); it runs in the page"
            ));
            cell.refuse_background(format!("Background Fetch refused it ({why})"));
            writer
                .save(|r| r.background_id = None)
                .await
                .map_err(TransferEnd::Storage)?;
            Ok(false)
        }
    }
}

/// A restart before a body is read keeps the response whose body will be written (a `200` to
/// a resume); any other restart drops the attempt it judged.
fn attempt_keep_for_restart(attempt: &mut Option<Attempt<'_>>, machine: &RunMachine) {
    if !machine.writes_after_restart() {
        *attempt = None;
    }
}

/// Progress after an announced restart or cut: the only time it may go backwards (I5).
fn restart_progress(
    cell: &impl Report,
    cfg: &RunConfig,
    w: &Writer,
    progress: &Rc<RefCell<ProgressTracker>>,
) {
    let mut p = fresh_progress(cfg, w);
    p.start_transfer(now_ms());
    let report = p.emit(now_ms());
    *progress.borrow_mut() = p;
    cell.progress(report);
}

/// The record of a download whose bytes are all stored and verified.
pub(crate) fn mark_completed(r: &mut Record) {
    r.total = Some(r.offset);
    r.state = crate::core::lifecycle::State::Completed;
    r.error = None;
    // Completed where no page shows it (a service worker): the next page announces it.
    r.unseen = crate::web::js::prop(&js_sys::global(), "document").is_none();
}
