//! The run machine of one download: sans-IO. It is fed inputs (the stored
//! state was recounted, a response head arrived, the body ended, a write failed, a wait is
//! over) and answers with the next effect (fetch with this Range, restart with this reason,
//! wait this long, commit, done with this outcome). It owns every counter and limit of a run:
//! retries, restarts, storage failures, malformed partials, the quota check, the deadline and
//! the integrity restart. The driver in `crate::engine` carries effects out and reports inputs;
//! it decides nothing.
//!
//! A stop (pause, cancel, close) is not the machine's business: the driver drops the machine
//! wherever it is, and nothing it would have done next happens.

use super::error::{DownloadError, ErrorCode};
use super::integrity::{parse_integrity, verify, Digest, Integrity};
use super::response::ResponseHead;
use super::resume::{
    after_bad_partial, decide_if_range, on_body_end, plan, Accepted, BodyEnd, Decision, Plan,
    Restart, ResumeState,
};
use super::retry::{RetryPolicy, RetryState, Verdict};
use super::timeouts::{deadline_from, Timeouts};

/// Restarts allowed in one run before the download fails: a resource that changes on every
/// request cannot be downloaded consistently.
pub const MAX_RESTARTS: u32 = 5;
/// Consecutive failed storage writes tolerated (each followed by a recount) in one run.
pub const MAX_STORAGE_FAILURES: u32 = 2;
/// Integrity mismatches that restart the download before it fails with `INTEGRITY`.
pub const MAX_INTEGRITY_RESTARTS: u32 = 1;

/// The limits a manager sets for its downloads, from its options to every run and attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The three timeouts.
    pub timeouts: Timeouts,
    /// Automatic retries.
    pub retry: RetryPolicy,
    /// Bytes per stored chunk (IndexedDB): what fits in one is not checked against the
    /// storage estimate (its own write tells).
    pub chunk_bytes: u64,
    /// Bytes written to an OPFS file between two commits of its record.
    pub flush_bytes: u64,
    /// Received bytes that do not fill a chunk are committed after this many ms (0 = only
    /// whole chunks), and when the page is hidden.
    pub commit_interval_ms: u64,
    /// At most one progress event per download per this many ms.
    pub progress_interval_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            chunk_bytes: 4 * 1024 * 1024,
            flush_bytes: 1024 * 1024,
            commit_interval_ms: 1000,
            progress_interval_ms: 100,
        }
    }
}

/// Settings of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunConfig {
    /// The manager's limits.
    pub limits: Limits,
    /// Bytes written can be discarded (storage); false for a caller's sink, where a restart
    /// after bytes were written fails with `SINK` instead.
    pub rewindable: bool,
    /// The manager has a `prepareRequest` hook: a refusal (401, 403, 410) asks it once for a
    /// fresh request before it counts as a failure.
    pub prepare_request: bool,
}

/// Why a request is sent; what `prepareRequest` is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestReason {
    /// The first request for bytes from 0 (a new download, or one that starts over).
    Start,
    /// A request that continues stored bytes: a new run (after a reload, a takeover, a
    /// `resume()`), or the next range of a server that sends less than asked.
    Resume,
    /// Another attempt after a failure.
    Retry,
    /// The server refused the last request (401, 403, 410): its credentials expired.
    Expired,
}

impl RequestReason {
    /// `start`, `resume`, `retry` or `expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestReason::Start => "start",
            RequestReason::Resume => "resume",
            RequestReason::Retry => "retry",
            RequestReason::Expired => "expired",
        }
    }
}

/// Statuses that say the request's credentials were refused or expired.
pub const fn is_refusal(status: u16) -> bool {
    matches!(status, 401 | 403 | 410)
}

/// A storage failure, as the machine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageFault {
    /// Someone else changed the download (a cancel, another writer): this run no longer owns
    /// it.
    Stale,
    /// The quota is exhausted, or the caller's sink refused a write: no retry helps.
    Final(DownloadError),
    /// Any other failure.
    Failed(DownloadError),
}

/// What the stored bytes look like now, as the driver's writer knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// The committed bytes' resume inputs (`bad_partials` is the machine's and ignored).
    pub resume: ResumeState,
    /// Committed plus pending bytes.
    pub received: u64,
    /// Integrity restarts so far (stored with the record, so a reload does not reset them).
    pub integrity_restarts: u32,
}

/// The world around the machine at the moment of an input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Env {
    /// Monotonic ms (the deadline and retry clock).
    pub now_ms: f64,
    /// Wall-clock ms since the Unix epoch (HTTP dates).
    pub unix_now_ms: f64,
    /// A uniform random number in `[0, 1)` for jitter.
    pub random: f64,
    /// The browser says it is offline.
    pub offline: bool,
}

/// An input reported to the machine; each answers the effect before it.
#[derive(Clone, Debug, PartialEq)]
// One input per step, moved once: boxing the response head would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Input {
    /// The run begins.
    Start,
    /// [`Effect::Recount`] is done; `cut` bytes were given up.
    Counted {
        /// Bytes cut back.
        cut: u64,
    },
    /// A wait ([`Effect::Wait`], [`Effect::WaitOnline`]) is over.
    Waited,
    /// A record change ([`Effect::DisableRange`], [`Effect::Restart`],
    /// [`Effect::CountIntegrityRestart`]) is stored.
    Saved,
    /// [`Effect::Fetch`] got a response head.
    Head {
        /// The response head.
        head: ResponseHead,
        /// Where the server redirected the request, if it did.
        redirect: Option<String>,
        /// The request carried `If-Range` with the stored validator (a Background Fetch
        /// response): see [`crate::core::resume::decide_if_range`].
        vouched: bool,
    },
    /// [`Effect::Fetch`] failed before a head (network, timeout).
    RequestFailed(DownloadError),
    /// [`Effect::ProbeCors`]'s answer.
    Probed(Probe),
    /// [`Effect::CheckSpace`]'s answer: free bytes, when the browser says.
    Space(Option<f64>),
    /// [`Effect::ReadBody`] ended: cleanly or with an error, after `received` body bytes.
    BodyEnded {
        /// The stream's end.
        end: Result<(), DownloadError>,
        /// Body bytes this attempt delivered.
        received: u64,
    },
    /// [`Effect::Verify`]'s answer: the digest of every byte received, when hashed.
    Digest(Option<Digest>),
    /// [`Effect::Commit`] is done.
    Committed,
    /// The last effect's storage operation failed.
    Storage(StorageFault),
}

/// What the driver does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Re-read the stored state from storage and cut it back to its good prefix; answer
    /// [`Input::Counted`].
    Recount,
    /// Wait for the browser's `online` event; answer [`Input::Waited`].
    WaitOnline,
    /// Send a request, with `Range: bytes=<start>-` when set; answer [`Input::Head`] or
    /// [`Input::RequestFailed`] (also when `prepareRequest` fails).
    Fetch {
        /// Start of the requested range.
        range_start: Option<u64>,
        /// Why it is sent.
        reason: RequestReason,
    },
    /// Probe the URL of the request that failed, to tell a CORS refusal from a failed
    /// connection ([`Probe`]); answer [`Input::Probed`].
    ProbeCors,
    /// Store that this resource must be asked for without `Range`; answer [`Input::Saved`].
    DisableRange,
    /// Discard the stored bytes (a new epoch) and announce why (I9); answer [`Input::Saved`].
    Restart(Restart),
    /// Ask the browser how much it may still store; answer [`Input::Space`].
    CheckSpace {
        /// Bytes still to come.
        needed: u64,
    },
    /// Store the response's identity with the next commit, then read the body into storage;
    /// answer [`Input::BodyEnded`].
    ReadBody(Accepted),
    /// Hash what was received; answer [`Input::Digest`].
    Verify,
    /// Commit the pending bytes; with `completed`, the completed state lands in the same
    /// transaction. Answer [`Input::Committed`].
    Commit {
        /// Mark the download completed.
        completed: bool,
    },
    /// Store one more integrity restart; answer [`Input::Saved`].
    CountIntegrityRestart,
    /// Announce a retry and wait; answer [`Input::Waited`].
    Wait {
        /// How long.
        delay_ms: u64,
        /// The 1-based retry number.
        attempt: u32,
        /// What failed.
        error: DownloadError,
    },
    /// The run is over.
    Done(Outcome),
}

/// What the probes of a cross-origin request that failed without a response found. A page
/// cannot see why the browser refused a request, but it can ask again in ways the browser
/// answers differently: the same plain `GET` (no `Range`, no headers of the caller's, so no
/// preflight) in `no-cors` mode gets an opaque answer from any server that answers it at all,
/// and in CORS mode only where the server allows the page's origin. A page that cannot make
/// `no-cors` requests to the server (a cross-origin-isolated page, and a server that sends no
/// `Cross-Origin-Resource-Policy`) learns nothing, and the failure stays a network failure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// The origin of the URL probed ([`origin_of`]).
    pub origin: Option<String>,
    /// The plain `GET` in `no-cors` mode got an answer: the server is reachable.
    pub reachable: bool,
    /// The plain `GET` in CORS mode got an answer the page can read: the server allows its
    /// origin.
    pub readable: bool,
    /// The names of the failed request's headers that need a preflight
    /// ([`super::headers::preflighted`]).
    pub preflighted: Vec<String>,
    /// A CORS request with those headers got an answer (`None`: not asked, as there are none).
    pub with_headers: Option<bool>,
}

impl Probe {
    /// The CORS refusal the probes prove, if they prove one: the server answers, but not the
    /// page's origin, or not the preflight of the request's headers. Anything else (nothing
    /// answers, or everything does) is a failed connection, retried as such.
    pub fn refusal(&self) -> Option<DownloadError> {
        let server = self.origin.as_deref().unwrap_or("the server");
        if !self.reachable {
            return None;
        }
        if !self.readable {
            return Some(DownloadError::new(
                ErrorCode::Cors,
                format!(
                    "{server} answers, but not to this page: its response has no \
                     Access-Control-Allow-Origin that allows the page's origin, so the browser \
                     refuses it by CORS (retrying cannot help)"
                ),
            ));
        }
        if self.with_headers == Some(false) {
            return Some(DownloadError::new(
                ErrorCode::Cors,
                format!(
                    "{server} refuses the preflight of the request headers {}: its \
                     Access-Control-Allow-Headers must list them (retrying cannot help)",
                    self.preflighted.join(", ")
                ),
            ));
        }
        None
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte stored and verified (I6), and the completed state stored with them.
    Completed,
    /// Failed; the partial is kept.
    Failed(DownloadError),
    /// The download was changed elsewhere (a cancel, another writer): stop writing.
    Lost,
}

/// What the machine waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Begin,
    Counting,
    /// A wait, a range flag save or a restart: then the next request.
    Pausing,
    Fetching {
        range_start: Option<u64>,
    },
    /// Probing why a request failed without a response.
    Probing {
        error: DownloadError,
        range_start: Option<u64>,
    },
    /// A restart before writing the body of `accepted` (a 200 to a resume).
    RestartingFor(Accepted),
    CheckingSpace(Accepted),
    Reading(Accepted, u64),
    /// Hashing the bytes of a complete body before its last commit.
    VerifyingBody(u64),
    Committing {
        end: BodyEnd,
        completed: bool,
        mismatch: Option<DownloadError>,
        committed_before: u64,
    },
    /// Hashing stored bytes that are complete without a request.
    Verifying,
    Completing,
    CountingIntegrity,
    Done,
}

/// One run of one download.
#[derive(Clone, Debug)]
pub struct RunMachine {
    cfg: RunConfig,
    integrity: Result<Option<Integrity>, DownloadError>,
    retry: RetryState,
    restarts: u32,
    storage_failures: u32,
    bad_partials: u32,
    quota_checked: bool,
    /// The URL is on another origin than the page: a CORS refusal is possible.
    cross_origin: bool,
    /// A failure of this run was probed already (once is enough: a server that answered the
    /// probes then is retried as usual).
    probed: bool,
    deadline_at: Option<f64>,
    /// Requests sent in this run.
    requests: u32,
    /// Why the next request is sent, when it is not a plain start or resume.
    reason: Option<RequestReason>,
    /// A refusal asked `prepareRequest` for a fresh request, and no response was accepted
    /// since: the next refusal fails.
    refreshed: bool,
    step: Step,
}

impl RunMachine {
    /// A run starting at `now_ms` (a new run gets a new deadline: time spent queued or paused
    /// never counts), checking `integrity` (the SRI string stored with the download).
    pub fn new(cfg: RunConfig, integrity: Option<&str>, now_ms: f64) -> RunMachine {
        RunMachine {
            cfg,
            integrity: integrity.map(parse_integrity).transpose(),
            retry: RetryState::new(),
            restarts: 0,
            storage_failures: 0,
            bad_partials: 0,
            quota_checked: false,
            cross_origin: false,
            probed: false,
            deadline_at: deadline_from(&cfg.limits.timeouts, now_ms),
            requests: 0,
            reason: None,
            refreshed: false,
            step: Step::Begin,
        }
    }

    /// Says that the URL is on another origin than the page, so that a network failure
    /// before any response says it may be a CORS refusal.
    pub fn set_cross_origin(&mut self, cross_origin: bool) {
        self.cross_origin = cross_origin;
    }

    /// The absolute end of this run (same clock as [`Env::now_ms`]), when there is one.
    pub fn deadline_at(&self) -> Option<f64> {
        self.deadline_at
    }

    /// Restarts so far in this run.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Requests sent so far in this run, the current one included: the 1-based number of the
    /// last [`Effect::Fetch`].
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// True while a restart is under way after which the body of the response just judged is
    /// written (a `200` to a resume): the driver keeps that response.
    pub fn writes_after_restart(&self) -> bool {
        matches!(self.step, Step::RestartingFor(_))
    }

    /// True once [`Effect::Done`] was returned.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Takes an input, returns the next effect. After [`Effect::Done`] every input gets the same
    /// `Done` back; an input that does not answer the last effect is a driver bug and fails the
    /// run rather than guessing.
    pub fn step(&mut self, input: Input, view: &View, env: &Env) -> Effect {
        let step = std::mem::replace(&mut self.step, Step::Done);
        let effect = self.transition(step, input, view, env);
        if matches!(effect, Effect::Done(_)) {
            self.step = Step::Done;
        }
        effect
    }

    fn transition(&mut self, step: Step, input: Input, view: &View, env: &Env) -> Effect {
        match (step, input) {
            (Step::Done, _) => Effect::Done(Outcome::Lost),
            (Step::Begin, Input::Start) => {
                if let Err(e) = &self.integrity {
                    return Effect::Done(Outcome::Failed(e.clone()));
                }
                self.step = Step::Counting;
                Effect::Recount
            }
            (
                Step::Counting | Step::Pausing,
                Input::Counted { .. } | Input::Waited | Input::Saved,
            ) => self.request(view, env),
            (Step::Fetching { range_start }, Input::RequestFailed(e))
                if e.code == ErrorCode::Network
                    && self.cross_origin
                    && view.resume.identity.is_none()
                    && !self.probed
                    && !env.offline =>
            {
                self.probed = true;
                self.step = Step::Probing {
                    error: e,
                    range_start,
                };
                Effect::ProbeCors
            }
            (Step::Probing { error, range_start }, Input::Probed(probe)) => match probe.refusal() {
                Some(refusal) => Effect::Done(Outcome::Failed(refusal)),
                None => self.request_failed(error, range_start, view, env),
            },
            (Step::Fetching { range_start }, Input::RequestFailed(e)) => {
                self.request_failed(e, range_start, view, env)
            }
            (Step::Fetching { .. }, Input::Head { head, .. })
                if self.cfg.prepare_request && is_refusal(head.status) && !self.refreshed =>
            {
                // Expired credentials: the hook is asked once for fresh ones.
                self.refreshed = true;
                self.reason = Some(RequestReason::Expired);
                self.request(view, env)
            }
            (
                Step::Fetching { range_start },
                Input::Head {
                    head,
                    redirect,
                    vouched,
                },
            ) => {
                let mut rs = view.resume.clone();
                rs.bad_partials = self.bad_partials;
                match decide_if_range(
                    &rs,
                    range_start,
                    &head,
                    redirect.as_deref(),
                    env.unix_now_ms,
                    vouched,
                ) {
                    Decision::Write(accepted) => {
                        self.bad_partials = 0;
                        self.refreshed = false;
                        match accepted.restart {
                            Some(reason) => {
                                let effect = self.restart(reason, view);
                                if matches!(effect, Effect::Restart(_)) {
                                    self.step = Step::RestartingFor(accepted);
                                }
                                effect
                            }
                            None => self.accept(accepted, view),
                        }
                    }
                    Decision::Refetch(reason) => self.restart(reason, view),
                    Decision::RetryWithoutRange => {
                        self.step = Step::Pausing;
                        self.reason = Some(RequestReason::Retry);
                        Effect::DisableRange
                    }
                    Decision::Fail(e) => {
                        if e.code == ErrorCode::BadResponse && range_start.is_some_and(|n| n > 0) {
                            if let Some(reason) = after_bad_partial(&mut rs) {
                                self.bad_partials = 0;
                                return self.restart(reason, view);
                            }
                            self.bad_partials = rs.bad_partials;
                        }
                        self.back_off(e, false, env)
                    }
                }
            }
            (Step::RestartingFor(accepted), Input::Saved) => self.accept(accepted, view),
            (Step::CheckingSpace(accepted), Input::Space(free)) => {
                let needed = self.needed(&accepted, view);
                match free {
                    Some(free) if free < needed as f64 => {
                        Effect::Done(Outcome::Failed(DownloadError::new(
                            ErrorCode::Quota,
                            format!(
                                "the download needs {needed} more bytes but only {} are available",
                                free.max(0.0) as u64
                            ),
                        )))
                    }
                    _ => self.read(accepted, view),
                }
            }
            (Step::Reading(accepted, committed_before), Input::BodyEnded { end, received }) => {
                // Judged as the bytes will stand once the pending ones are committed: a
                // complete download (that passes its integrity check) commits its last bytes
                // and its completed state in one transaction.
                let mut end_state = view.resume.clone();
                end_state.offset = view.received;
                match on_body_end(&end_state, &accepted, end, received) {
                    BodyEnd::Complete if self.hashed() => {
                        self.step = Step::VerifyingBody(committed_before);
                        Effect::Verify
                    }
                    BodyEnd::Complete => {
                        self.commit(BodyEnd::Complete, true, None, committed_before)
                    }
                    end => self.commit(end, false, None, committed_before),
                }
            }
            (Step::VerifyingBody(committed_before), Input::Digest(digest)) => {
                match self.check(digest) {
                    Ok(()) => self.commit(BodyEnd::Complete, true, None, committed_before),
                    Err(e) => self.commit(BodyEnd::Complete, false, Some(e), committed_before),
                }
            }
            (
                Step::Committing {
                    end,
                    completed,
                    mismatch,
                    committed_before,
                },
                Input::Committed,
            ) => {
                self.storage_failures = 0;
                if completed {
                    return Effect::Done(Outcome::Completed);
                }
                let made_progress = view.resume.offset > committed_before;
                match (end, mismatch) {
                    (_, Some(e)) => self.integrity_failed(e, view),
                    (BodyEnd::Complete, None) => self.finalize(),
                    (BodyEnd::Continue, None) => {
                        self.retry.reset();
                        self.request(view, env)
                    }
                    (BodyEnd::Failed(e), None) => self.back_off(e, made_progress, env),
                }
            }
            (Step::Reading(..) | Step::Committing { .. }, Input::Storage(fault)) => {
                self.storage_failed(fault)
            }
            (Step::Verifying, Input::Digest(digest)) => match self.check(digest) {
                Ok(()) => {
                    self.step = Step::Completing;
                    Effect::Commit { completed: true }
                }
                Err(e) => self.integrity_failed(e, view),
            },
            (Step::Completing, Input::Committed) => Effect::Done(Outcome::Completed),
            (Step::CountingIntegrity, Input::Saved) => self.restart(Restart::Integrity, view),
            (_, Input::Storage(fault)) => Effect::Done(match fault {
                StorageFault::Stale => Outcome::Lost,
                StorageFault::Final(e) | StorageFault::Failed(e) => Outcome::Failed(e),
            }),
            (step, _) => Effect::Done(Outcome::Failed(DownloadError::new(
                ErrorCode::Storage,
                format!(
                    "internal: an input that does not answer {}",
                    step_name(&step)
                ),
            ))),
        }
    }

    /// The next request, or completion without one.
    fn request(&mut self, view: &View, env: &Env) -> Effect {
        let mut rs = view.resume.clone();
        rs.bad_partials = self.bad_partials;
        match plan(&rs) {
            Plan::Complete => self.finalize(),
            Plan::Fetch { .. } if env.offline => {
                self.step = Step::Pausing;
                Effect::WaitOnline
            }
            Plan::Fetch { range_start } => {
                let reason = self
                    .reason
                    .take()
                    .unwrap_or(if range_start.is_some_and(|n| n > 0) {
                        RequestReason::Resume
                    } else {
                        RequestReason::Start
                    });
                self.requests += 1;
                self.step = Step::Fetching { range_start };
                Effect::Fetch {
                    range_start,
                    reason,
                }
            }
        }
    }

    fn needed(&self, accepted: &Accepted, view: &View) -> u64 {
        let offset = if accepted.restart.is_some() {
            0
        } else {
            view.resume.offset
        };
        accepted.identity.total.unwrap_or(0).saturating_sub(offset)
    }

    /// A response whose body is to be stored: check the space once per run, then read.
    fn accept(&mut self, accepted: Accepted, view: &View) -> Effect {
        if let (Some(_), false) = (accepted.identity.total, self.quota_checked) {
            self.quota_checked = true;
            let needed = self.needed(&accepted, view);
            if needed > self.cfg.limits.chunk_bytes {
                self.step = Step::CheckingSpace(accepted);
                return Effect::CheckSpace { needed };
            }
        }
        self.read(accepted, view)
    }

    fn read(&mut self, accepted: Accepted, view: &View) -> Effect {
        self.step = Step::Reading(accepted.clone(), view.resume.offset);
        Effect::ReadBody(accepted)
    }

    fn commit(
        &mut self,
        end: BodyEnd,
        completed: bool,
        mismatch: Option<DownloadError>,
        committed_before: u64,
    ) -> Effect {
        self.step = Step::Committing {
            end,
            completed,
            mismatch,
            committed_before,
        };
        Effect::Commit { completed }
    }

    fn hashed(&self) -> bool {
        matches!(self.integrity, Ok(Some(_)))
    }

    fn check(&self, digest: Option<Digest>) -> Result<(), DownloadError> {
        match (&self.integrity, digest) {
            (Ok(Some(expected)), Some(actual)) => verify(expected, &actual),
            (Ok(Some(_)), None) => Err(DownloadError::new(
                ErrorCode::Integrity,
                "the received bytes were not hashed",
            )),
            _ => Ok(()),
        }
    }

    /// The stored bytes are the whole resource: check them (I6), then mark them completed.
    fn finalize(&mut self) -> Effect {
        if self.hashed() {
            self.step = Step::Verifying;
            return Effect::Verify;
        }
        self.step = Step::Completing;
        Effect::Commit { completed: true }
    }

    /// A request failed before a response head (and was probed, where that could tell more).
    fn request_failed(
        &mut self,
        e: DownloadError,
        range_start: Option<u64>,
        view: &View,
        env: &Env,
    ) -> Effect {
        let e = if self.cross_origin && view.resume.identity.is_none() {
            with_cors_hint(e)
        } else {
            e
        };
        // Chromium refuses a content-encoded answer to a request with Range (range requests
        // advertise only `identity`), so a server that compresses everything fails the very
        // first `bytes=0-` request. Ask once without Range before counting the failure.
        if e.code == ErrorCode::Network
            && range_start == Some(0)
            && view.resume.identity.is_none()
            && !view.resume.no_range
        {
            self.step = Step::Pausing;
            self.reason = Some(RequestReason::Retry);
            return Effect::DisableRange;
        }
        self.back_off(e, false, env)
    }

    /// A mismatch restarts once (counted in the record, so a reload does not reset it), then
    /// fails with `INTEGRITY`.
    fn integrity_failed(&mut self, e: DownloadError, view: &View) -> Effect {
        // A sink has the bytes already: starting over cannot take them back.
        if view.integrity_restarts >= MAX_INTEGRITY_RESTARTS || !self.cfg.rewindable {
            return Effect::Done(Outcome::Failed(e));
        }
        self.step = Step::CountingIntegrity;
        Effect::CountIntegrityRestart
    }

    /// Discards the stored bytes, within the run's restart budget; bytes written to a sink
    /// cannot be discarded, so there it fails with `SINK`.
    fn restart(&mut self, reason: Restart, view: &View) -> Effect {
        if !self.cfg.rewindable && view.resume.offset > 0 {
            return Effect::Done(Outcome::Failed(DownloadError::new(
                ErrorCode::Sink,
                format!(
                    "the download would start over ({}), but its first {} bytes are written \
                     to the sink, which cannot take them back",
                    reason.as_str(),
                    view.resume.offset
                ),
            )));
        }
        self.restarts += 1;
        if self.restarts > MAX_RESTARTS {
            return Effect::Done(Outcome::Failed(DownloadError::new(
                ErrorCode::BadResponse,
                format!(
                    "restarted {MAX_RESTARTS} times (last: {}); the resource keeps changing",
                    reason.as_str()
                ),
            )));
        }
        self.step = Step::Pausing;
        self.reason = None;
        Effect::Restart(reason)
    }

    /// A failed write: recount from storage (I4), then go on, a bounded number of times.
    /// Quota errors stop the download with its partial kept.
    fn storage_failed(&mut self, fault: StorageFault) -> Effect {
        match fault {
            StorageFault::Stale => Effect::Done(Outcome::Lost),
            StorageFault::Final(e) => Effect::Done(Outcome::Failed(e)),
            StorageFault::Failed(e) => {
                self.storage_failures += 1;
                if self.storage_failures > MAX_STORAGE_FAILURES {
                    return Effect::Done(Outcome::Failed(e));
                }
                self.step = Step::Counting;
                Effect::Recount
            }
        }
    }

    /// Waits as the retry policy says, or gives up. A network failure while the browser is
    /// offline is not counted: the download waits for the `online` event instead.
    fn back_off(&mut self, e: DownloadError, made_progress: bool, env: &Env) -> Effect {
        self.reason = Some(RequestReason::Retry);
        if e.code == ErrorCode::Network && env.offline {
            self.step = Step::Pausing;
            return Effect::WaitOnline;
        }
        match self.retry.on_failure(
            &self.cfg.limits.retry,
            &e,
            made_progress,
            env.random,
            env.now_ms,
            self.deadline_at,
        ) {
            Verdict::Retry { delay_ms, attempt } => {
                self.step = Step::Pausing;
                Effect::Wait {
                    delay_ms,
                    attempt,
                    error: e,
                }
            }
            Verdict::GiveUp(e) => Effect::Done(Outcome::Failed(e)),
        }
    }
}

/// A network failure of a cross-origin request that never got a response, with what it may
/// be: a page cannot tell a CORS refusal from a failed connection (the browser hides which,
/// by design), so the failure is retried as any other, and its message says both.
pub fn with_cors_hint(mut e: DownloadError) -> DownloadError {
    if e.code == ErrorCode::Network {
        e.message.push_str(
            " (a cross-origin request: if the server does not allow this page's origin with \
             Access-Control-Allow-Origin, the browser refuses its answer by CORS, and the page \
             sees this same failure)",
        );
    }
    e
}

/// The origin (`scheme://host[:port]`) of an absolute URL, lowercased; `None` if it has none.
pub fn origin_of(url: &str) -> Option<String> {
    // Byte searches and `get`, not `&str` patterns and slicing: no string searcher and no
    // slicing panic in the module.
    let bytes = url.as_bytes();
    let scheme_end = bytes.windows(3).position(|w| w == b"://")?;
    let start = scheme_end + 3;
    let len = bytes
        .get(start..)?
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(bytes.len() - start);
    let authority = url.get(start..start + len)?;
    let host_start = authority
        .bytes()
        .rposition(|b| b == b'@')
        .map_or(0, |i| i + 1);
    let host = authority.get(host_start..)?;
    let scheme = url.get(..scheme_end)?;
    (!scheme.is_empty() && !host.is_empty())
        .then(|| format!("{scheme}://{host}").to_ascii_lowercase())
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Begin => "the start",
        Step::Counting => "a recount",
        Step::Pausing => "a wait or a save",
        Step::Fetching { .. } => "a request",
        Step::Probing { .. } => "a probe",
        Step::RestartingFor(_) => "a restart",
        Step::CheckingSpace(_) => "a space check",
        Step::Reading(..) => "a body read",
        Step::VerifyingBody(_) | Step::Verifying => "a hash check",
        Step::Committing { .. } | Step::Completing => "a commit",
        Step::CountingIntegrity => "an integrity restart",
        Step::Done => "the end",
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::core::integrity::{Algorithm, Hasher};
    use crate::core::resume::Identity;
    use proptest::prelude::*;

    /// The input of response `h` arriving from URL `u`.
    fn head_of(h: &ResponseHead) -> Input {
        Input::Head {
            head: h.clone(),
            redirect: None,
            vouched: false,
        }
    }

    /// The SHA-256 digest of `bytes`.
    fn sha256(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finalize()
    }

    const ETAG: &str = "\"v1\"";

    fn cfg() -> RunConfig {
        RunConfig {
            limits: Limits {
                timeouts: Timeouts::default(),
                retry: RetryPolicy {
                    limit: 2,
                    ..RetryPolicy::default()
                },
                progress_interval_ms: 0,
                chunk_bytes: 100,
                flush_bytes: 100,
                commit_interval_ms: 0,
            },
            rewindable: true,
            prepare_request: false,
        }
    }

    fn env() -> Env {
        Env {
            now_ms: 1000.0,
            unix_now_ms: 1.7e12,
            random: 0.5,
            offline: false,
        }
    }

    fn full(len: u64) -> ResponseHead {
        ResponseHead {
            status: 200,
            content_length: Some(len.to_string()),
            etag: Some(ETAG.into()),
            accept_ranges: Some("bytes".into()),
            ..ResponseHead::default()
        }
    }

    fn partial(first: u64, total: u64, etag: &str) -> ResponseHead {
        ResponseHead {
            status: 206,
            content_length: Some((total - first).to_string()),
            content_range: Some(format!("bytes {first}-{}/{total}", total - 1)),
            etag: Some(etag.into()),
            ..ResponseHead::default()
        }
    }

    fn stored(offset: u64, total: u64) -> View {
        View {
            resume: ResumeState {
                offset,
                identity: Some(Identity {
                    etag: Some(ETAG.into()),
                    last_modified: None,
                    total: Some(total),
                    ranges: true,
                }),
                redirect: None,
                ..ResumeState::default()
            },
            received: offset,
            integrity_restarts: 0,
        }
    }

    fn started(m: &mut RunMachine, view: &View) -> Effect {
        assert_eq!(m.step(Input::Start, view, &env()), Effect::Recount);
        m.step(Input::Counted { cut: 0 }, view, &env())
    }

    #[test]
    fn a_fresh_download_fetches_reads_and_completes_in_one_commit() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let mut view = View::default();
        assert_eq!(
            started(&mut m, &view),
            Effect::Fetch {
                range_start: Some(0),
                reason: RequestReason::Start,
            }
        );
        let head = full(50);
        let Effect::ReadBody(a) = m.step(head_of(&head), &view, &env()) else {
            panic!("expected a body read");
        };
        assert_eq!(
            (a.offset, a.expected_len, a.identity.total),
            (0, Some(50), Some(50))
        );
        view.resume.identity = Some(a.identity);
        view.received = 50;
        let ended = Input::BodyEnded {
            end: Ok(()),
            received: 50,
        };
        assert_eq!(
            m.step(ended, &view, &env()),
            Effect::Commit { completed: true }
        );
        view.resume.offset = 50;
        assert_eq!(
            m.step(Input::Committed, &view, &env()),
            Effect::Done(Outcome::Completed)
        );
        assert!(m.is_done());
        assert_eq!(
            m.step(Input::Committed, &view, &env()),
            Effect::Done(Outcome::Lost)
        );
    }

    fn status(code: u16) -> ResponseHead {
        ResponseHead {
            status: code,
            ..ResponseHead::default()
        }
    }

    fn fetch(range_start: Option<u64>, reason: RequestReason) -> Effect {
        Effect::Fetch {
            range_start,
            reason,
        }
    }

    fn with_hook() -> RunConfig {
        RunConfig {
            prepare_request: true,
            ..cfg()
        }
    }

    #[test]
    fn with_a_sink_a_restart_after_written_bytes_fails_and_before_them_goes_ahead() {
        let sink = RunConfig {
            rewindable: false,
            ..cfg()
        };
        // A 200 to a resume, another validator: bytes are written, so the run fails.
        for head in [full(80), partial(30, 80, "\"v2\"")] {
            let mut m = RunMachine::new(sink, None, 0.0);
            let view = stored(30, 80);
            started(&mut m, &view);
            let act = m.step(head_of(&head), &view, &env());
            assert!(
                matches!(&act, Effect::Done(Outcome::Failed(e)) if e.code == ErrorCode::Sink),
                "{act:?}"
            );
        }
        // Nothing written yet: a restart costs nothing.
        let mut m = RunMachine::new(sink, None, 0.0);
        let mut view = stored(0, 80);
        view.resume.identity = None;
        started(&mut m, &view);
        let resumed = partial(0, 80, ETAG);
        assert!(matches!(
            m.step(head_of(&resumed), &view, &env()),
            Effect::ReadBody(_)
        ));
    }

    #[test]
    fn with_a_sink_an_integrity_mismatch_fails_at_once() {
        let sink = RunConfig {
            rewindable: false,
            ..cfg()
        };
        let wrong = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let mut m = RunMachine::new(sink, Some(wrong), 0.0);
        let view = stored(80, 80);
        assert_eq!(started(&mut m, &view), Effect::Verify);
        let act = m.step(Input::Digest(Some(sha256(b"other"))), &view, &env());
        assert!(
            matches!(&act, Effect::Done(Outcome::Failed(e)) if e.code == ErrorCode::Integrity),
            "{act:?}"
        );
    }

    #[test]
    fn a_refusal_asks_the_hook_once_and_a_second_one_fails_with_the_partial_kept() {
        for code in [401, 403, 410] {
            let mut m = RunMachine::new(with_hook(), None, 0.0);
            let view = stored(30, 80);
            assert_eq!(
                started(&mut m, &view),
                fetch(Some(30), RequestReason::Resume)
            );
            assert_eq!(m.requests(), 1);
            assert_eq!(
                m.step(head_of(&status(code)), &view, &env()),
                fetch(Some(30), RequestReason::Expired)
            );
            assert_eq!(m.requests(), 2);
            let Effect::Done(Outcome::Failed(e)) = m.step(head_of(&status(code)), &view, &env())
            else {
                panic!("a second refusal must fail");
            };
            assert_eq!((e.code, e.status), (ErrorCode::HttpStatus, Some(code)));
        }
    }

    #[test]
    fn without_a_hook_a_refusal_fails_at_once() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let act = m.step(head_of(&status(403)), &view, &env());
        assert!(
            matches!(&act, Effect::Done(Outcome::Failed(e)) if e.code == ErrorCode::HttpStatus),
            "{act:?}"
        );
    }

    #[test]
    fn an_accepted_response_gives_a_later_refusal_its_own_refresh() {
        let mut m = RunMachine::new(with_hook(), None, 0.0);
        let mut view = stored(30, 80);
        started(&mut m, &view);
        m.step(head_of(&status(403)), &view, &env());
        assert!(matches!(
            m.step(head_of(&partial(30, 80, ETAG)), &view, &env()),
            Effect::ReadBody(_)
        ));
        // The body breaks off at 50; the retry is refused, and refreshed once more.
        view.received = 50;
        let cut = Input::BodyEnded {
            end: Err(DownloadError::new(ErrorCode::Network, "reset")),
            received: 20,
        };
        assert_eq!(
            m.step(cut, &view, &env()),
            Effect::Commit { completed: false }
        );
        view = stored(50, 80);
        assert!(matches!(
            m.step(Input::Committed, &view, &env()),
            Effect::Wait { attempt: 1, .. }
        ));
        assert_eq!(
            m.step(Input::Waited, &view, &env()),
            fetch(Some(50), RequestReason::Retry)
        );
        assert_eq!(
            m.step(head_of(&status(401)), &view, &env()),
            fetch(Some(50), RequestReason::Expired)
        );
        assert!(matches!(
            m.step(head_of(&partial(50, 80, ETAG)), &view, &env()),
            Effect::ReadBody(_)
        ));
        assert_eq!(m.requests(), 4);
    }

    #[test]
    fn reasons_follow_what_came_before() {
        let mut m = RunMachine::new(with_hook(), None, 0.0);
        let fresh = View::default();
        assert_eq!(
            started(&mut m, &fresh),
            fetch(Some(0), RequestReason::Start)
        );
        let e = DownloadError::new(ErrorCode::Network, "reset");
        // A network failure at 0 asks once without Range: a retry.
        assert_eq!(
            m.step(Input::RequestFailed(e.clone()), &fresh, &env()),
            Effect::DisableRange
        );
        let mut no_range = View::default();
        no_range.resume.no_range = true;
        assert_eq!(
            m.step(Input::Saved, &no_range, &env()),
            fetch(None, RequestReason::Retry)
        );
        // A server error: a retry after the wait.
        assert!(matches!(
            m.step(head_of(&status(503)), &no_range, &env()),
            Effect::Wait { .. }
        ));
        assert_eq!(
            m.step(Input::Waited, &no_range, &env()),
            fetch(None, RequestReason::Retry)
        );
        // A restart starts again.
        let mut m = RunMachine::new(with_hook(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let other = partial(30, 80, "\"v2\"");
        assert_eq!(
            m.step(head_of(&other), &view, &env()),
            Effect::Restart(Restart::ValidatorChanged)
        );
        assert_eq!(
            m.step(Input::Saved, &fresh, &env()),
            fetch(Some(0), RequestReason::Start)
        );
    }

    #[test]
    fn stored_bytes_that_are_complete_need_no_request() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(80, 80);
        assert_eq!(started(&mut m, &view), Effect::Commit { completed: true });
        assert_eq!(
            m.step(Input::Committed, &view, &env()),
            Effect::Done(Outcome::Completed)
        );
    }

    #[test]
    fn a_resume_asks_for_the_rest_and_a_200_restarts_before_writing() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        assert_eq!(
            started(&mut m, &view),
            Effect::Fetch {
                range_start: Some(30),
                reason: RequestReason::Resume,
            }
        );
        let head = full(80);
        let act = m.step(head_of(&head), &view, &env());
        assert_eq!(act, Effect::Restart(Restart::RangeIgnored));
        assert_eq!(m.restarts(), 1);
        let fresh = View::default();
        let Effect::ReadBody(a) = m.step(Input::Saved, &fresh, &env()) else {
            panic!("the 200's body is written after the restart");
        };
        assert_eq!(a.offset, 0);
    }

    #[test]
    fn a_changed_validator_refetches_from_zero() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let head = partial(30, 80, "\"v2\"");
        let act = m.step(head_of(&head), &view, &env());
        assert_eq!(act, Effect::Restart(Restart::ValidatorChanged));
        let fresh = View::default();
        assert_eq!(
            m.step(Input::Saved, &fresh, &env()),
            Effect::Fetch {
                range_start: Some(0),
                reason: RequestReason::Start,
            }
        );
    }

    #[test]
    fn malformed_partials_retry_once_then_restart() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let mut bad = partial(30, 80, ETAG);
        bad.content_range = Some("ooga-booga".into());
        let act = m.step(head_of(&bad), &view, &env());
        assert!(matches!(act, Effect::Wait { attempt: 1, .. }), "{act:?}");
        assert_eq!(
            m.step(Input::Waited, &view, &env()),
            Effect::Fetch {
                range_start: Some(30),
                reason: RequestReason::Retry,
            }
        );
        let act = m.step(head_of(&bad), &view, &env());
        assert_eq!(act, Effect::Restart(Restart::BadPartial));
    }

    #[test]
    fn cross_origin_failures_before_any_response_mention_cors() {
        let e = DownloadError::new(ErrorCode::Network, "TypeError: Failed to fetch");
        let mut view = View::default();
        view.resume.no_range = true;
        for (cross, hinted) in [(true, true), (false, false)] {
            let mut m = RunMachine::new(cfg(), None, 0.0);
            m.set_cross_origin(cross);
            started(&mut m, &view);
            let mut act = m.step(Input::RequestFailed(e.clone()), &view, &env());
            if cross {
                assert_eq!(act, Effect::ProbeCors);
                act = m.step(Input::Probed(Probe::default()), &view, &env());
            }
            let Effect::Wait { error, .. } = act else {
                panic!("{act:?}")
            };
            assert_eq!(error.message.contains("CORS"), hinted, "{}", error.message);
        }
        // Once a response was accepted, a dropped connection is not a CORS question.
        let mut m = RunMachine::new(cfg(), None, 0.0);
        m.set_cross_origin(true);
        let stored = stored(30, 80);
        started(&mut m, &stored);
        let Effect::Wait { error, .. } = m.step(Input::RequestFailed(e.clone()), &stored, &env())
        else {
            panic!()
        };
        assert!(!error.message.contains("CORS"));
        // Other codes are left alone.
        let t = DownloadError::new(ErrorCode::HeadersTimeout, "slow");
        assert_eq!(with_cors_hint(t.clone()), t);
    }

    #[test]
    fn a_cross_origin_failure_is_probed_once_and_fails_at_once_where_cors_refuses() {
        let e = DownloadError::new(ErrorCode::Network, "TypeError: Failed to fetch");
        let mut view = View::default();
        view.resume.no_range = true;
        let probe = |reachable, readable, with_headers: Option<bool>| Probe {
            origin: Some("https://cdn.example".into()),
            reachable,
            readable,
            preflighted: with_headers
                .map_or_else(Vec::new, |_| vec!["Authorization".into(), "X-Token".into()]),
            with_headers,
        };
        let run = |p: Probe| {
            let mut m = RunMachine::new(cfg(), None, 0.0);
            m.set_cross_origin(true);
            started(&mut m, &view);
            let act = m.step(Input::RequestFailed(e.clone()), &view, &env());
            assert_eq!(act, Effect::ProbeCors);
            (m.step(Input::Probed(p), &view, &env()), m)
        };
        // The server answers, not to this page: CORS at once, naming the header it lacks.
        let (act, _) = run(probe(true, false, None));
        let Effect::Done(Outcome::Failed(cors)) = act else {
            panic!("{act:?}")
        };
        assert_eq!(cors.code, ErrorCode::Cors);
        assert!(
            cors.message.contains("https://cdn.example"),
            "{}",
            cors.message
        );
        assert!(
            cors.message.contains("Access-Control-Allow-Origin"),
            "{}",
            cors.message
        );
        // It answers plain requests, not the preflight of the request's headers.
        let (act, _) = run(probe(true, true, Some(false)));
        let Effect::Done(Outcome::Failed(cors)) = act else {
            panic!("{act:?}")
        };
        assert_eq!(cors.code, ErrorCode::Cors);
        assert!(
            cors.message.contains("Authorization, X-Token"),
            "{}",
            cors.message
        );
        assert!(
            cors.message.contains("Access-Control-Allow-Headers"),
            "{}",
            cors.message
        );
        // Nothing answers, or everything does: a failed connection, retried as before, and
        // not probed again in this run.
        for p in [
            probe(false, false, None),
            probe(true, true, None),
            probe(true, true, Some(true)),
        ] {
            let (act, mut m) = run(p.clone());
            assert!(matches!(act, Effect::Wait { .. }), "{p:?}: {act:?}");
            let again = m.step(Input::Waited, &view, &env());
            assert!(matches!(again, Effect::Fetch { .. }), "{again:?}");
            let act = m.step(Input::RequestFailed(e.clone()), &view, &env());
            assert!(matches!(act, Effect::Wait { .. }), "{act:?}");
        }
        // Offline: the browser says why; no probe.
        let mut m = RunMachine::new(cfg(), None, 0.0);
        m.set_cross_origin(true);
        started(&mut m, &view);
        let offline = Env {
            offline: true,
            ..env()
        };
        assert_eq!(
            m.step(Input::RequestFailed(e.clone()), &view, &offline),
            Effect::WaitOnline
        );
    }

    #[test]
    fn origins() {
        let table = [
            ("https://A.test/x?y#z", Some("https://a.test")),
            ("http://127.0.0.1:8080/file", Some("http://127.0.0.1:8080")),
            ("https://user:pw@h.test:1/p", Some("https://h.test:1")),
            ("https://h.test", Some("https://h.test")),
            ("no-scheme", None),
            ("https:///path", None),
        ];
        for (url, origin) in table {
            assert_eq!(origin_of(url).as_deref(), origin, "{url}");
        }
    }

    #[test]
    fn a_first_request_failing_with_range_is_asked_again_without() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let mut view = View::default();
        started(&mut m, &view);
        let e = DownloadError::new(ErrorCode::Network, "refused");
        assert_eq!(
            m.step(Input::RequestFailed(e.clone()), &view, &env()),
            Effect::DisableRange
        );
        view.resume.no_range = true;
        assert_eq!(
            m.step(Input::Saved, &view, &env()),
            Effect::Fetch {
                range_start: None,
                reason: RequestReason::Retry
            }
        );
        // Without Range, a failure is a failure.
        assert!(matches!(
            m.step(Input::RequestFailed(e), &view, &env()),
            Effect::Wait { .. }
        ));
    }

    #[test]
    fn retries_are_bounded_and_offline_waits_are_not_counted() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let e = DownloadError::new(ErrorCode::Network, "reset");
        let offline = Env {
            offline: true,
            ..env()
        };
        for _ in 0..5 {
            assert_eq!(
                m.step(Input::RequestFailed(e.clone()), &view, &offline),
                Effect::WaitOnline
            );
            assert_eq!(m.step(Input::Waited, &view, &offline), Effect::WaitOnline);
            assert_eq!(
                m.step(Input::Waited, &view, &env()),
                Effect::Fetch {
                    range_start: Some(30),
                    reason: RequestReason::Retry,
                }
            );
        }
        for attempt in 1..=2 {
            let act = m.step(Input::RequestFailed(e.clone()), &view, &env());
            assert!(
                matches!(act, Effect::Wait { attempt: a, .. } if a == attempt),
                "{act:?}"
            );
            m.step(Input::Waited, &view, &env());
        }
        assert_eq!(
            m.step(Input::RequestFailed(e.clone()), &view, &env()),
            Effect::Done(Outcome::Failed(e))
        );
    }

    #[test]
    fn restarts_are_bounded() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let head = partial(30, 80, "\"other\"");
        for _ in 0..MAX_RESTARTS {
            let act = m.step(head_of(&head), &view, &env());
            assert_eq!(act, Effect::Restart(Restart::ValidatorChanged));
            assert_eq!(
                m.step(Input::Saved, &view, &env()),
                Effect::Fetch {
                    range_start: Some(30),
                    reason: RequestReason::Resume,
                }
            );
        }
        let act = m.step(head_of(&head), &view, &env());
        assert!(
            matches!(&act, Effect::Done(Outcome::Failed(e)) if e.code == ErrorCode::BadResponse),
            "{act:?}"
        );
    }

    #[test]
    fn an_integrity_mismatch_restarts_once_then_fails() {
        // sha256 of "" in SRI form; the digest reported is of other bytes.
        let sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        for restarts_so_far in [0, 1] {
            let mut m = RunMachine::new(cfg(), Some(sri), 0.0);
            let mut view = stored(80, 80);
            view.integrity_restarts = restarts_so_far;
            assert_eq!(started(&mut m, &view), Effect::Verify);
            let act = m.step(Input::Digest(Some(sha256(b"other bytes"))), &view, &env());
            if restarts_so_far == 0 {
                assert_eq!(act, Effect::CountIntegrityRestart);
                assert_eq!(
                    m.step(Input::Saved, &view, &env()),
                    Effect::Restart(Restart::Integrity)
                );
            } else {
                assert!(
                    matches!(&act, Effect::Done(Outcome::Failed(e)) if e.code == ErrorCode::Integrity)
                );
            }
        }
        // The right digest completes.
        let mut m = RunMachine::new(cfg(), Some(sri), 0.0);
        let view = stored(80, 80);
        started(&mut m, &view);
        let empty = sha256(b"");
        assert_eq!(
            m.step(Input::Digest(Some(empty)), &view, &env()),
            Effect::Commit { completed: true }
        );
    }

    #[test]
    fn a_malformed_integrity_fails_at_once() {
        let mut m = RunMachine::new(cfg(), Some("md5-xyz"), 0.0);
        let act = m.step(Input::Start, &View::default(), &env());
        assert!(matches!(act, Effect::Done(Outcome::Failed(_))), "{act:?}");
    }

    #[test]
    fn storage_failures_recount_a_bounded_number_of_times() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = stored(30, 80);
        started(&mut m, &view);
        let failed = || {
            Input::Storage(StorageFault::Failed(DownloadError::new(
                ErrorCode::Storage,
                "x",
            )))
        };
        for _ in 0..MAX_STORAGE_FAILURES {
            let head = partial(30, 80, ETAG);
            assert!(matches!(
                m.step(head_of(&head), &view, &env()),
                Effect::ReadBody(_)
            ));
            assert_eq!(m.step(failed(), &view, &env()), Effect::Recount);
            assert_eq!(
                m.step(Input::Counted { cut: 0 }, &view, &env()),
                Effect::Fetch {
                    range_start: Some(30),
                    reason: RequestReason::Resume,
                }
            );
        }
        let head = partial(30, 80, ETAG);
        m.step(head_of(&head), &view, &env());
        assert!(matches!(
            m.step(failed(), &view, &env()),
            Effect::Done(Outcome::Failed(_))
        ));
    }

    #[test]
    fn quota_and_stale_writes_end_the_run() {
        for (fault, lost) in [
            (
                StorageFault::Final(DownloadError::new(ErrorCode::Quota, "full")),
                false,
            ),
            (StorageFault::Stale, true),
        ] {
            let mut m = RunMachine::new(cfg(), None, 0.0);
            let view = stored(30, 80);
            started(&mut m, &view);
            let head = partial(30, 80, ETAG);
            m.step(head_of(&head), &view, &env());
            let act = m.step(Input::Storage(fault), &view, &env());
            assert_eq!(matches!(act, Effect::Done(Outcome::Lost)), lost, "{act:?}");
            assert!(matches!(act, Effect::Done(_)));
        }
    }

    #[test]
    fn the_space_is_checked_once_for_what_does_not_fit_in_a_chunk() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let view = View::default();
        started(&mut m, &view);
        let head = full(1000);
        let act = m.step(head_of(&head), &view, &env());
        assert_eq!(act, Effect::CheckSpace { needed: 1000 });
        let act = m.step(Input::Space(Some(999.0)), &view, &env());
        assert!(matches!(&act, Effect::Done(Outcome::Failed(e)) if e.code == ErrorCode::Quota));

        let mut m = RunMachine::new(cfg(), None, 0.0);
        started(&mut m, &view);
        let small = full(100);
        assert!(matches!(
            m.step(head_of(&small), &view, &env()),
            Effect::ReadBody(_)
        ));
    }

    #[test]
    fn a_short_partial_continues_and_a_cut_body_retries() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let mut view = stored(30, 80);
        started(&mut m, &view);
        let mut short = partial(30, 80, ETAG);
        short.content_range = Some("bytes 30-49/80".into());
        short.content_length = Some("20".into());
        assert!(matches!(
            m.step(head_of(&short), &view, &env()),
            Effect::ReadBody(_)
        ));
        view.received = 50;
        assert_eq!(
            m.step(
                Input::BodyEnded {
                    end: Ok(()),
                    received: 20
                },
                &view,
                &env()
            ),
            Effect::Commit { completed: false }
        );
        view.resume.offset = 50;
        assert_eq!(
            m.step(Input::Committed, &view, &env()),
            Effect::Fetch {
                range_start: Some(50),
                reason: RequestReason::Resume,
            }
        );
        let rest = partial(50, 80, ETAG);
        m.step(head_of(&rest), &view, &env());
        view.received = 60;
        let cut = Input::BodyEnded {
            end: Ok(()),
            received: 10,
        };
        assert_eq!(
            m.step(cut, &view, &env()),
            Effect::Commit { completed: false }
        );
        view.resume.offset = 60;
        let act = m.step(Input::Committed, &view, &env());
        assert!(
            matches!(&act, Effect::Wait { attempt: 1, error, .. } if error.code == ErrorCode::Network),
            "{act:?}"
        );
    }

    #[test]
    fn a_fact_that_answers_nothing_fails_clearly() {
        let mut m = RunMachine::new(cfg(), None, 0.0);
        let act = m.step(Input::Committed, &View::default(), &env());
        assert!(
            matches!(&act, Effect::Done(Outcome::Failed(e)) if e.message.starts_with("internal"))
        );
    }

    /// A simulated driver: answers each effect with a random plausible input and keeps a model
    /// of the stored bytes.
    fn answer(
        effect: &Effect,
        view: &mut View,
        pick: u8,
        heads: &[ResponseHead],
        pending_since_read: &mut bool,
    ) -> Input {
        match effect {
            Effect::Recount => {
                view.received = view.resume.offset;
                Input::Counted { cut: 0 }
            }
            Effect::WaitOnline | Effect::Wait { .. } => Input::Waited,
            Effect::Fetch { .. } => match pick % 8 {
                0 => Input::RequestFailed(DownloadError::new(ErrorCode::Network, "reset")),
                n => head_of(&heads[n as usize % heads.len()]),
            },
            Effect::ProbeCors => Input::Probed(Probe {
                origin: Some("https://cdn.example".into()),
                reachable: pick % 2 == 0,
                readable: pick % 3 != 0,
                preflighted: if pick % 5 == 0 {
                    vec!["X-Token".into()]
                } else {
                    Vec::new()
                },
                with_headers: (pick % 5 == 0).then_some(pick % 7 != 0),
            }),
            Effect::DisableRange => {
                view.resume.no_range = true;
                Input::Saved
            }
            Effect::Restart(_) => {
                *view = View {
                    integrity_restarts: view.integrity_restarts,
                    ..View::default()
                };
                *pending_since_read = false;
                Input::Saved
            }
            Effect::CheckSpace { .. } => Input::Space((pick % 2 == 0).then_some(1e12)),
            Effect::ReadBody(a) => {
                if a.offset == 0 {
                    view.resume.offset = 0;
                }
                view.resume.identity = Some(a.identity.clone());
                view.resume.redirect = None;
                let max = a.expected_len.unwrap_or(50);
                let n = if pick % 3 == 0 { max / 2 } else { max };
                view.received = view.resume.offset + n;
                *pending_since_read = true;
                let end = if pick % 5 == 0 {
                    Err(DownloadError::new(ErrorCode::Network, "dropped"))
                } else {
                    Ok(())
                };
                Input::BodyEnded { end, received: n }
            }
            Effect::Verify => Input::Digest(Some(sha256(&[pick]))),
            Effect::Commit { .. } => {
                if pick % 7 == 0 {
                    view.received = view.resume.offset;
                    Input::Storage(StorageFault::Failed(DownloadError::new(
                        ErrorCode::Storage,
                        "x",
                    )))
                } else {
                    view.resume.offset = view.received;
                    Input::Committed
                }
            }
            Effect::CountIntegrityRestart => {
                view.integrity_restarts += 1;
                Input::Saved
            }
            Effect::Done(_) => unreachable!(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whatever the server and storage do: every input the driver gives is understood,
        /// restarts stay within the budget, nothing is committed after a restart before a new
        /// response is accepted, and "completed" needs the stored bytes to equal the total.
        #[test]
        fn the_machine_holds_its_invariants(picks in proptest::collection::vec(any::<u8>(), 1..300), hashed: bool, cross_origin: bool) {
            let heads = [
                full(80),
                partial(30, 80, ETAG),
                partial(0, 80, ETAG),
                partial(30, 80, "\"v2\""),
                ResponseHead { status: 500, ..ResponseHead::default() },
                ResponseHead { status: 416, ..ResponseHead::default() },
                ResponseHead { content_range: Some("garbage".into()), ..partial(30, 80, ETAG) },
            ];
            let sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
            let mut m = RunMachine::new(cfg(), hashed.then_some(sri), 0.0);
            m.set_cross_origin(cross_origin);
            let mut view = stored(30, 80);
            let mut pending = false;
            let mut probes = 0;
            let mut proven = false;
            let mut effect = m.step(Input::Start, &view, &env());
            for pick in picks {
                if let Effect::Done(outcome) = &effect {
                    if let Outcome::Failed(e) = outcome {
                        prop_assert!(!e.message.starts_with("internal"), "{}", e.message);
                        // CORS only where the probes proved it.
                        prop_assert_eq!(e.code == ErrorCode::Cors, proven, "{}", e.message);
                    }
                    if *outcome == Outcome::Completed {
                        let total = view.resume.identity.as_ref().and_then(|i| i.total);
                        prop_assert_eq!(total, Some(view.resume.offset));
                    }
                    break;
                }
                if let Effect::Commit { completed: false } = effect {
                    prop_assert!(pending, "a commit with no accepted body since the last restart");
                }
                prop_assert!(m.restarts() <= MAX_RESTARTS);
                let e = Env { random: f64::from(pick) / 256.0, ..env() };
                let input = answer(&effect, &mut view, pick, &heads, &mut pending);
                if let Input::Probed(p) = &input {
                    probes += 1;
                    prop_assert!(cross_origin && probes == 1, "probed {probes} times");
                    proven = p.refusal().is_some();
                }
                effect = m.step(input, &view, &e);
            }
        }
    }
}
