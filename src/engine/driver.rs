//! The driver of one run: feeds [`RunMachine`] with what the browser does (the stored state,
//! response heads, body ends, storage failures, timers) and carries out the effect it answers
//! with. It decides nothing itself; a stop (pause, cancel, close) ends it at the next await.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::{select, Either, LocalBoxFuture};

use super::config::Prepared;
use crate::core::handover::{self, HandedRequest};
use crate::core::headers::overlay;
use crate::core::progress::{Progress, ProgressTracker};
use crate::core::resume::{Accepted, Restart};
use crate::core::run::{
    origin_of, Effect, Env, Input, Outcome, Probe, RequestReason, RunConfig, RunMachine,
    StorageFault, View,
};
use crate::core::stored::Source;
use crate::core::{DownloadError, ErrorCode};
use crate::web::cancel::{StopReason, StopToken};
use crate::web::clock::{now_ms, sleep_ms, unix_now_ms};
use crate::web::env::{is_offline, sleep_or_stop, storage_available, wait_online, within};
use crate::web::store::{Record, StoreError};
use crate::web::transfer::{probe_cors, Attempt, Started, TransferEnd, TransferSpec};
use crate::web::writer::Writer;

/// A response the page fetched, to answer a run's next request instead of a fetch.
pub(crate) struct Given {
    /// The response.
    pub response: web_sys::Response,
    /// Its request carried `If-Range` with the stored validator (the download's own
    /// Background Fetch): it is judged by [`crate::core::resume::decide_if_range`].
    pub vouched: bool,
}

/// What a run tells the download it runs.
pub(crate) trait Report {
    /// The URL to fetch.
    fn url(&self) -> &str;
    /// A response to answer the next request instead of a fetch.
    fn take_given(&self) -> Option<Given>;
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

/// The input that answers an effect, or the end of the run.
type Step = Result<Input, RunEnd>;

fn fault(e: StoreError) -> StorageFault {
    match e {
        StoreError::Stale => StorageFault::Stale,
        StoreError::Quota(_) | StoreError::Sink(_) => StorageFault::Final(e.to_download_error()),
        other => StorageFault::Failed(other.to_download_error()),
    }
}

fn stored<T>(r: Result<T, StoreError>, ok: impl FnOnce(T) -> Input) -> Input {
    r.map_or_else(|e| Input::Storage(fault(e)), ok)
}

/// The input for a request that ended before its response head.
fn unanswered(end: TransferEnd) -> Step {
    match end {
        TransferEnd::Failed(e) => Ok(Input::RequestFailed(e)),
        TransferEnd::Stopped(r) => Err(RunEnd::Stopped(r)),
        TransferEnd::Storage(e) => Ok(Input::Storage(fault(e))),
    }
}

/// `globalThis.location.origin`, where there is one (a window or a worker).
fn page_origin() -> Option<String> {
    let location = crate::web::js::prop(&js_sys::global(), "location")?;
    crate::web::js::prop(&location, "origin")?
        .as_string()
        .map(|o| o.to_ascii_lowercase())
}

/// True when `url` is of another origin than the page.
fn cross_origin(url: &str) -> bool {
    page_origin() != origin_of(url)
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
    let mut p = ProgressTracker::new(cfg.limits.progress_interval_ms, w.received());
    p.set_total(w.record().stored.total());
    p
}

/// What a judged response says of itself, stored once its body is accepted.
#[derive(Default)]
struct Answer {
    content_type: Option<String>,
    disposition: Option<String>,
    source: Source,
}

/// One run: the machine and what it drives.
struct Run<'a, R: Report> {
    cell: &'a R,
    writer: &'a mut Writer,
    cfg: &'a RunConfig,
    stop: &'a StopToken,
    progress: &'a Rc<RefCell<ProgressTracker>>,
    machine: RunMachine,
    deadline_at: Option<f64>,
    /// The attempt whose head was judged last, until its body is read.
    attempt: Option<Attempt<'a>>,
    /// What that response says of itself.
    answer: Answer,
    /// The last request sent, for a probe of its failure.
    sent: Option<TransferSpec>,
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
    let integrity = writer.record().stored.integrity.clone();
    let machine = RunMachine::new(*cfg, integrity.as_deref(), now_ms());
    let mut run = Run {
        cell,
        writer,
        cfg,
        stop,
        progress,
        deadline_at: machine.deadline_at(),
        machine,
        attempt: None,
        answer: Answer::default(),
        sent: None,
    };
    let mut input = Input::Start;
    loop {
        if let Some(r) = stop.reason() {
            return RunEnd::Stopped(r);
        }
        let effect = run.machine.step(input, &run.view(), &env());
        input = match run.carry_out(effect).await {
            Ok(next) => next,
            Err(end) => return end,
        };
    }
}

impl<'a, R: Report> Run<'a, R> {
    fn view(&self) -> View {
        View {
            resume: self.writer.resume_state(),
            received: self.writer.received(),
            integrity_restarts: self.writer.record().stored.integrity_restarts,
        }
    }

    async fn carry_out(&mut self, effect: Effect) -> Step {
        Ok(match effect {
            Effect::Done(outcome) => return Err(RunEnd::Machine(outcome)),
            Effect::Recount => {
                let counted = self.writer.recount_if_needed().await;
                self.counted(counted)
            }
            Effect::WaitOnline => {
                wait_online(self.stop).await.map_err(RunEnd::Stopped)?;
                Input::Waited
            }
            Effect::Wait {
                delay_ms,
                attempt,
                error,
            } => {
                self.cell.retry(&error, attempt, delay_ms);
                sleep_or_stop(delay_ms as f64, self.stop)
                    .await
                    .map_err(RunEnd::Stopped)?;
                Input::Waited
            }
            Effect::Fetch {
                range_start,
                reason,
            } => return self.fetch(range_start, reason).await,
            Effect::ProbeCors => {
                let limit_ms = self.cfg.limits.timeouts.headers_ms;
                let probe = match &self.sent {
                    Some(spec) => probe_cors(spec, limit_ms, self.stop).await,
                    None => Ok(Probe::default()),
                };
                Input::Probed(probe.map_err(RunEnd::Stopped)?)
            }
            Effect::DisableRange => {
                stored(self.writer.save(|r| r.stored.no_range = true).await, |()| {
                    Input::Saved
                })
            }
            Effect::Restart(reason) => {
                self.drop_attempt_for_restart();
                let restarted = self.writer.restart().await;
                self.restarted(reason, restarted)
            }
            Effect::CheckSpace { .. } => Input::Space(storage_available().await),
            Effect::ReadBody(accepted) => return self.read_body(accepted).await,
            Effect::Verify => Input::Digest(self.writer.digest()),
            Effect::Commit { completed: true } => {
                let committed = self.writer.commit_and(mark_completed).await;
                self.committed(committed)
            }
            Effect::Commit { completed: false } => {
                let committed = self.writer.commit().await;
                self.committed(committed)
            }
            Effect::CountIntegrityRestart => stored(
                self.writer.save(|r| r.stored.integrity_restarts += 1).await,
                |()| Input::Saved,
            ),
        })
    }

    fn counted(&self, counted: Result<u64, StoreError>) -> Input {
        stored(counted, |cut| {
            if cut > 0 {
                self.restart_progress();
            }
            Input::Counted { cut }
        })
    }

    /// A restart before a body is read keeps the response whose body will be written (a
    /// `200` to a resume); any other restart drops the attempt it judged.
    fn drop_attempt_for_restart(&mut self) {
        if !self.machine.writes_after_restart() {
            self.attempt = None;
        }
    }

    fn restarted(&self, reason: Restart, restarted: Result<u64, StoreError>) -> Input {
        stored(restarted, |wasted| {
            self.cell.record(self.writer.record());
            self.restart_progress();
            self.cell.restarted(reason, wasted);
            Input::Saved
        })
    }

    fn committed(&self, committed: Result<(), StoreError>) -> Input {
        stored(committed, |()| {
            self.cell.record(self.writer.record());
            Input::Committed
        })
    }

    /// Sends the request (or hands it to Background Fetch), or takes the response the page
    /// gave, and reports its head.
    async fn fetch(&mut self, range_start: Option<u64>, reason: RequestReason) -> Step {
        self.attempt = None;
        let given = self.cell.take_given();
        if given.is_none() && self.writer.record().stored.background {
            match self.hand_over(range_start, reason).await {
                Ok(true) => return Err(RunEnd::Handed),
                Ok(false) => {}
                Err(end) => return unanswered(end),
            }
        }
        let vouched = given.as_ref().is_some_and(|g| g.vouched);
        let started = match given {
            // Judged as fetched from where it came from, which is not stored; no request of
            // this run's failed there.
            Some(g) => {
                self.machine.set_cross_origin(false);
                Attempt::given(g.response, &self.cfg.limits, self.deadline_at, self.stop)
            }
            None => self.send(range_start, reason).await,
        };
        match started {
            Ok(started) => Ok(self.judge(started, vouched)),
            Err(end) => unanswered(end),
        }
    }

    /// Fetches what [`Run::request_spec`] says, telling the machine whether it goes to another
    /// origin.
    async fn send(
        &mut self,
        range_start: Option<u64>,
        reason: RequestReason,
    ) -> Result<Started<'a>, TransferEnd> {
        let spec = self.request_spec(reason).await?;
        // The URL the hook gave may be of another origin than the stored one.
        let cross = page_origin().is_some() && cross_origin(&spec.url);
        self.machine.set_cross_origin(cross);
        let limits = &self.cfg.limits;
        let sent = self.sent.insert(spec);
        Attempt::start(sent, range_start, limits, self.deadline_at, self.stop).await
    }

    /// Keeps the attempt and what its response says of itself, and reports its head.
    fn judge(&mut self, started: Started<'a>, vouched: bool) -> Input {
        let source = Source::of(self.cell.url(), &started.requested, &started.url);
        let redirect = source.redirect.clone();
        self.answer = Answer {
            content_type: started.head.content_type.clone(),
            disposition: started.head.content_disposition.clone(),
            source,
        };
        self.attempt = Some(started.attempt);
        Input::Head {
            head: started.head,
            redirect,
            vouched,
        }
    }

    /// Writes the accepted response's body, reporting progress; the body's end is the input.
    async fn read_body(&mut self, accepted: Accepted) -> Step {
        let Some(mut attempt) = self.attempt.take() else {
            return Err(RunEnd::Machine(Outcome::Lost));
        };
        self.accept(&accepted);
        let before = self.writer.received();
        let read = self.read(&mut attempt, accepted.expected_len).await;
        drop(attempt);
        let received = self.writer.received() - before;
        match read {
            Ok(()) => Ok(Input::BodyEnded {
                end: Ok(()),
                received,
            }),
            Err(TransferEnd::Failed(e)) => Ok(Input::BodyEnded {
                end: Err(e),
                received,
            }),
            // A cancel drops everything; a pause or a close loses nothing that arrived.
            Err(TransferEnd::Stopped(StopReason::Cancel)) => {
                Err(RunEnd::Stopped(StopReason::Cancel))
            }
            Err(TransferEnd::Stopped(r)) => {
                let _ = self.writer.commit().await;
                Err(RunEnd::Stopped(r))
            }
            Err(TransferEnd::Storage(e)) => Ok(Input::Storage(fault(e))),
        }
    }

    /// The accepted response's identity and source go into the record, stored with the first
    /// chunk (or the next save): bytes never land without them. Progress starts over from
    /// the stored bytes with the response's total.
    fn accept(&mut self, accepted: &Accepted) {
        let answer = std::mem::take(&mut self.answer);
        let identity = accepted.identity.clone();
        self.writer.stage(|r| {
            r.stored.accept(identity, answer.source);
            r.content_type = answer.content_type;
            r.disposition = answer.disposition;
        });
        self.cell.record(self.writer.record());
        let first = {
            let mut p = self.progress.borrow_mut();
            p.set_total(accepted.identity.total);
            p.start_transfer(now_ms());
            p.emit(now_ms())
        };
        self.cell.progress(first);
    }

    /// Reads the body into the writer. While no byte arrives (a stall), progress is still
    /// reported, every [`SILENT_REPORT_MS`], so that listeners see the rate decay.
    async fn read(
        &mut self,
        attempt: &mut Attempt<'_>,
        expected_len: Option<u64>,
    ) -> Result<(), TransferEnd> {
        let (cell, progress) = (self.cell, self.progress);
        let mut on_bytes = |n| {
            let due = progress.borrow_mut().on_bytes(n, now_ms());
            if let Some(p) = due {
                cell.progress(p);
            }
        };
        let reading = attempt.read_body(expected_len, self.writer, &mut on_bytes);
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
            Either::Left((read, _)) => read.map(|_| ()),
            Either::Right((never, _)) => never,
        };
        read
    }

    /// What to fetch: the stored URL and headers, or what the `prepareRequest` hook makes of
    /// them (its headers replace stored ones of the same name). The hook is bounded by
    /// `timeouts.headers`, and a stop ends the wait for it.
    async fn request_spec(&self, reason: RequestReason) -> Result<TransferSpec, TransferEnd> {
        let mut spec = TransferSpec {
            url: self.cell.url().to_owned(),
            headers: self.writer.record().headers.clone(),
        };
        let Some(answer) = self.cell.prepare(reason, self.machine.requests()) else {
            return Ok(spec);
        };
        let limit_ms = self.cfg.limits.timeouts.headers_ms;
        let prepared = match within(answer, limit_ms, self.stop).await {
            Err(r) => return Err(TransferEnd::Stopped(r)),
            Ok(Some(answer)) => answer?,
            Ok(None) => {
                return Err(TransferEnd::Failed(DownloadError::new(
                    ErrorCode::PrepareRequest,
                    format!(
                        "prepareRequest did not settle within timeouts.headers ({limit_ms} ms)"
                    ),
                )))
            }
        };
        if let Some(url) = prepared.url {
            spec.url = url;
        }
        overlay(&mut spec.headers, prepared.headers);
        Ok(spec)
    }

    /// Hands the request to Background Fetch, where the download asks for it and
    /// [`handover::plan`] allows it: the record names the registration first (a reload finds
    /// it), then the browser takes the request. `Ok(false)` when the run is to fetch it
    /// itself (no Background Fetch here, or the browser refused: the refusal is kept on the
    /// download and warned about).
    async fn hand_over(
        &mut self,
        range_start: Option<u64>,
        reason: RequestReason,
    ) -> Result<bool, TransferEnd> {
        let Ok(BackgroundPlan { id, title, icons }) = self.cell.background_plan() else {
            return Ok(false);
        };
        // Planned on the stored URL first, so that the hook is not asked for a request that
        // stays in the page (the run asks it then).
        let planned = handover::plan(
            range_start,
            &self.writer.record().stored,
            cross_origin(self.cell.url()),
        );
        if let Err(why) = planned {
            return Ok(self.keep_in_page(why));
        }
        let mut spec = self.request_spec(reason).await?;
        // The hook may have given another origin: this request is then fetched as it is.
        let planned = handover::plan(
            range_start,
            &self.writer.record().stored,
            cross_origin(&spec.url),
        );
        let handed: HandedRequest = match planned {
            Ok(h) => h,
            Err(why) => return Ok(self.keep_in_page(why)),
        };
        if let Some(v) = &handed.if_range {
            overlay(&mut spec.headers, vec![("If-Range".into(), v.clone())]);
        }
        let request = crate::web::transfer::background_request(&spec, handed.resume_at)?;
        let vouched = handed.if_range.is_some();
        let named = self
            .writer
            .save(|r| r.stored.hand_over(id.clone(), vouched));
        named.await.map_err(TransferEnd::Storage)?;
        let total = handed.download_total;
        let started =
            crate::web::background::start(&id, &request, &title, icons.as_ref(), total).await;
        match started {
            Ok(registration) => {
                let Some(r) = self.stop.reason() else {
                    return Ok(true);
                };
                registration.abort();
                self.take_back().await?;
                Err(TransferEnd::Stopped(r))
            }
            Err(why) => {
                crate::web::js::console_warn(&format!(
                    "resumable-downloads: Background Fetch refused the download ({why}); it runs in the page"
                ));
                self.cell
                    .refuse_background(format!("Background Fetch refused it ({why})"));
                self.take_back().await?;
                Ok(false)
            }
        }
    }

    /// The request stays in the page; `why`, if given, keeps the download's later runs there
    /// too. Always `false` (nothing was handed over).
    fn keep_in_page(&self, why: Option<&str>) -> bool {
        if let Some(why) = why {
            self.cell.refuse_background(why.into());
        }
        false
    }

    /// The record names no registration again.
    async fn take_back(&mut self) -> Result<(), TransferEnd> {
        let saved = self.writer.save(|r| r.stored.take_back()).await;
        saved.map_err(TransferEnd::Storage)
    }

    /// Progress after an announced restart or cut: the only time it may go backwards (I5).
    fn restart_progress(&self) {
        let mut p = fresh_progress(self.cfg, self.writer);
        p.start_transfer(now_ms());
        let report = p.emit(now_ms());
        *self.progress.borrow_mut() = p;
        self.cell.progress(report);
    }
}

/// The record of a download whose bytes are all stored and verified, seen complete where a
/// page shows it (in a service worker, the next page announces it).
pub(crate) fn mark_completed(r: &mut Record) {
    let in_page = crate::web::js::prop(&js_sys::global(), "document").is_some();
    r.stored.complete(in_page);
}
