//! [`Download`]: one download's handle, state and result.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{Blob, HtmlAnchorElement};

use super::error::{restored_error, to_js};
use super::events::{error_value, object, Events};
use super::manager::ManagerInner;
use super::task::{self, Outcome};
use crate::core::progress::Progress;
use crate::core::resume::{Identity, Restart};
use crate::core::{DownloadError, ErrorCode};
use crate::web::cancel::{StopReason, StopToken};
use crate::web::clock::sleep_ms;
use crate::web::env::or_stop;
use crate::web::js::describe;
use crate::web::js::prop;
use crate::web::store::Record;
use crate::web::tabs::{try_lock, LockGuard, LockWait};
use crate::web::writer::Writer;

/// A download's lifecycle state. The strings are part of the JS contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Queued,
    Running,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Paused => "paused",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> State {
        match s {
            "queued" => State::Queued,
            "running" => State::Running,
            "completed" => State::Completed,
            "failed" => State::Failed,
            "cancelled" => State::Cancelled,
            _ => State::Paused,
        }
    }

    /// Completed, failed and cancelled downloads do nothing more by themselves.
    pub fn is_settled(self) -> bool {
        matches!(self, State::Completed | State::Failed | State::Cancelled)
    }
}

/// Mutable part of a download.
pub(crate) struct Mutable {
    pub state: State,
    pub progress: Progress,
    pub error: Option<DownloadError>,
    /// The committed record, as last known.
    pub record: Record,
    /// The writer, while no run holds it.
    pub writer: Option<Writer>,
    /// The current run's stop token.
    pub stop: StopToken,
    /// Who waits for this download to settle (`whenAll`).
    settle_waiters: Vec<futures::channel::oneshot::Sender<()>>,
    done: Promise,
    settle: Option<(Function, Function)>,
    /// The JS object handed to callers, created once so that `get(id) === add(url)`.
    pub handle: JsValue,
    pub signal_listener: Option<gloo_events::EventListener>,
}

/// Shared state of one download.
pub(crate) struct DownloadCell {
    pub id: String,
    pub url: String,
    /// Queue priority: higher starts first.
    pub priority: i32,
    pub events: Rc<Events>,
    pub manager: Weak<ManagerInner>,
    pub m: RefCell<Mutable>,
    /// Another tab runs this download now; this one mirrors its events.
    remote: Cell<bool>,
    /// The download's Web Lock, held between a takeover and the run it starts.
    lock: RefCell<Option<LockGuard>>,
    /// Stops the wait for the lock of a download another tab runs.
    watch: RefCell<Option<StopToken>>,
}

fn new_done(swallow: &JsValue) -> (Promise, Option<(Function, Function)>) {
    let mut settle = None;
    let done = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    // Callers who only use events never await `done`; its rejection is not "unhandled".
    if let Ok(catch) = js_sys::Reflect::get(&done, &JsValue::from_str("catch")) {
        let _ = catch.unchecked_into::<Function>().call1(&done, swallow);
    }
    (done, settle)
}

impl DownloadCell {
    /// A download in `state`, whose stored bytes `writer` holds.
    pub fn new(
        writer: Writer,
        state: State,
        error: Option<DownloadError>,
        events: Rc<Events>,
        manager: Weak<ManagerInner>,
        swallow: &JsValue,
    ) -> Rc<Self> {
        let record = writer.record().clone();
        let (done, settle) = new_done(swallow);
        let progress = stored_progress(&record);
        let cell = Rc::new(DownloadCell {
            id: record.id.clone(),
            url: record.url.clone(),
            priority: record.priority,
            events,
            manager,
            m: RefCell::new(Mutable {
                state,
                progress,
                error: error.clone(),
                record,
                writer: Some(writer),
                stop: StopToken::default(),
                settle_waiters: Vec::new(),
                done,
                settle,
                handle: JsValue::UNDEFINED,
                signal_listener: None,
            }),
            remote: Cell::new(false),
            lock: RefCell::new(None),
            watch: RefCell::new(None),
        });
        let handle: JsValue = Download { cell: cell.clone() }.into();
        cell.m.borrow_mut().handle = handle.clone();
        // A download restored as already settled has its promise settled too.
        match (state, error) {
            (State::Completed, _) => cell.settle_promise(None),
            (State::Failed | State::Cancelled, Some(e)) => cell.settle_promise(Some(&e)),
            _ => {}
        }
        cell
    }

    pub fn handle(&self) -> JsValue {
        self.m.borrow().handle.clone()
    }

    pub fn state(&self) -> State {
        self.m.borrow().state
    }

    pub fn set_record(&self, rec: Record) {
        self.m.borrow_mut().record = rec;
    }

    fn settle_promise(&self, error: Option<&DownloadError>) {
        let (settle, handle) = {
            let mut m = self.m.borrow_mut();
            (m.settle.take(), m.handle.clone())
        };
        if let Some((resolve, reject)) = settle {
            let _ = match error {
                None => resolve.call1(&JsValue::UNDEFINED, &handle),
                Some(e) => reject.call1(&JsValue::UNDEFINED, &to_js(e)),
            };
        }
    }

    /// Moves the download to `to` and emits `statechange`; `false` if it was settled already.
    fn transition(&self, to: State) -> bool {
        let from = {
            let mut m = self.m.borrow_mut();
            if m.state.is_settled() || m.state == to {
                return false;
            }
            std::mem::replace(&mut m.state, to)
        };
        self.emit(
            "statechange",
            &[
                ("state", to.as_str().into()),
                ("previousState", from.as_str().into()),
            ],
        );
        let error = self
            .m
            .borrow()
            .error
            .as_ref()
            .map(error_summary)
            .unwrap_or(JsValue::NULL);
        self.mirror(
            "statechange",
            &[("state", to.as_str().into()), ("error", error)],
        );
        true
    }

    /// Tells the other tabs what happened to a download this tab runs.
    fn mirror(&self, kind: &str, pairs: &[(&str, JsValue)]) {
        if self.remote.get() {
            return;
        }
        if let Some(manager) = self.manager.upgrade() {
            let mut all: Vec<(&str, JsValue)> =
                vec![("type", kind.into()), ("id", self.id.as_str().into())];
            all.extend(pairs.iter().cloned());
            manager.post(&object(&all));
        }
    }

    fn emit(&self, kind: &str, extra: &[(&str, JsValue)]) {
        if !self.events.has(kind) {
            return;
        }
        let mut pairs: Vec<(&str, JsValue)> = vec![
            ("type", kind.into()),
            ("id", self.id.as_str().into()),
            ("download", self.handle()),
        ];
        pairs.extend(extra.iter().cloned());
        self.events.emit(kind, &object(&pairs));
    }

    /// Records progress of a running download and emits `progress`.
    pub fn report_progress(&self, p: Progress) {
        {
            let mut m = self.m.borrow_mut();
            if m.state != State::Running {
                return;
            }
            m.progress = p;
        }
        self.emit("progress", &[("progress", progress_value(&p))]);
        self.mirror("progress", &[("progress", progress_value(&p))]);
    }

    /// Progress after an announced restart or cut: the only time it may go backwards (I5).
    pub fn report_progress_restart(&self, p: Progress) {
        self.report_progress(p);
    }

    pub fn emit_restarted(&self, reason: Restart, wasted: u64) {
        let pairs = [
            ("reason", JsValue::from(reason.as_str())),
            ("wastedBytes", JsValue::from(wasted as f64)),
        ];
        self.emit("restarted", &pairs);
        self.mirror("restarted", &pairs);
    }

    pub fn emit_retry(&self, error: &DownloadError, attempt: u32, delay_ms: u64) {
        self.emit(
            "retry",
            &[
                ("error", error_value(error)),
                ("attempt", attempt.into()),
                ("delayMs", JsValue::from(delay_ms as f64)),
            ],
        );
    }

    /// Settles the download once: `done`, `statechange`, then `complete` or `error`.
    fn settle(&self, to: State, error: Option<DownloadError>) {
        {
            let mut m = self.m.borrow_mut();
            if m.state.is_settled() {
                return;
            }
            m.error = error.clone();
            m.signal_listener = None;
        }
        if !self.transition(to) {
            return;
        }
        self.settle_promise(error.as_ref());
        self.wake_settle_waiters();
        match (&error, to) {
            (None, State::Completed) => self.emit("complete", &[]),
            (Some(e), State::Failed) => self.emit("error", &[("error", error_value(e))]),
            _ => {}
        }
        if let Some(manager) = self.manager.upgrade() {
            manager.note_settled(to);
            if !manager.is_running(&self.id) {
                manager.dequeue(&self.id);
            }
            manager.check_idle();
        }
    }

    fn wake_settle_waiters(&self) {
        let waiters = std::mem::take(&mut self.m.borrow_mut().settle_waiters);
        for w in waiters {
            let _ = w.send(());
        }
    }

    /// Completes when the download has settled (or its manager closed).
    pub fn settled(&self) -> impl std::future::Future<Output = ()> {
        let rx = {
            let mut m = self.m.borrow_mut();
            (!m.state.is_settled()).then(|| {
                let (tx, rx) = futures::channel::oneshot::channel();
                m.settle_waiters.push(tx);
                rx
            })
        };
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }

    /// Asks the manager's queue for a slot; the download waits as `queued` until it gets one.
    pub fn request_run(self: &Rc<Self>) {
        let Some(manager) = self.manager.upgrade() else {
            return;
        };
        if self.state().is_settled() {
            return;
        }
        self.transition(State::Queued);
        manager.enqueue(self);
    }

    /// Runs the transfer task; called by the manager when the queue grants a slot. A download
    /// whose previous run is still winding down is asked for again when that run ends.
    pub fn start_run(self: &Rc<Self>) {
        let Some(manager) = self.manager.upgrade() else {
            return;
        };
        let (writer, stop) = {
            let mut m = self.m.borrow_mut();
            if m.state != State::Queued {
                drop(m);
                manager.dequeue(&self.id);
                return;
            }
            let Some(writer) = m.writer.take() else {
                return;
            };
            m.stop = StopToken::default();
            (writer, m.stop.clone())
        };
        let cfg = manager.run_config();
        let running = manager.run_started();
        let lock_name = manager.lock_name(&self.id);
        let cell = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut writer = writer;
            // One writer per download: the tab that holds its lock.
            let held = cell.lock.borrow_mut().take();
            let guard = match (held, &lock_name) {
                (Some(g), _) => Some(g),
                (None, Some(name)) => match try_lock(name).await {
                    Some(g) => Some(g),
                    None => {
                        cell.owned_elsewhere(writer);
                        if let Some(manager) = cell.manager.upgrade() {
                            manager.run_ended(&cell);
                        }
                        return;
                    }
                },
                (None, None) => None,
            };
            if cell.state() != State::Queued || stop.reason().is_some() {
                // Paused or cancelled while waiting for the lock.
                cell.m.borrow_mut().writer = Some(writer);
            } else {
                cell.transition(State::Running);
                if let Some(manager) = cell.manager.upgrade() {
                    manager.request_persistence();
                }
                let outcome = task::run(&cell, &mut writer, &cfg, &stop).await;
                cell.finish_run(writer, outcome).await;
            }
            if let Some(manager) = cell.manager.upgrade() {
                manager.run_ended(&cell);
            }
            // Released only once the final state is stored, so that a tab taking over reads it.
            drop(guard);
            drop(running);
        });
    }

    /// Another tab holds the download's lock: this tab mirrors it and waits to take over.
    fn owned_elsewhere(self: &Rc<Self>, writer: Writer) {
        self.m.borrow_mut().writer = Some(writer);
        self.remote.set(true);
        if self.state() == State::Queued {
            self.transition(State::Running);
        }
        self.watch_for_takeover();
    }

    /// Queues for the lock of a download another tab runs. When it is granted (that tab closed,
    /// crashed, paused or finished), the stored record says which: a download left running is
    /// taken over from its stored bytes; anything else just releases the lock again.
    fn watch_for_takeover(self: &Rc<Self>) {
        let Some(name) = self.manager.upgrade().and_then(|m| m.lock_name(&self.id)) else {
            return;
        };
        if self.watch.borrow().is_some() {
            return;
        }
        let stop = StopToken::default();
        *self.watch.borrow_mut() = Some(stop.clone());
        let cell = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Some(mut wait) = LockWait::new(&name) else {
                return;
            };
            let granted = or_stop(&stop, Box::pin(wait.granted())).await;
            cell.watch.borrow_mut().take();
            let Ok(Some(guard)) = granted else { return };
            let Some(manager) = cell.manager.upgrade() else {
                return;
            };
            let Some(rec) = manager.load_record(&cell.id).await else {
                return;
            };
            if !matches!(rec.state.as_str(), "running" | "queued") || cell.state().is_settled() {
                return;
            }
            cell.remote.set(false);
            cell.set_record(rec.clone());
            if let Some(w) = cell.m.borrow_mut().writer.as_mut() {
                w.adopt(rec);
            }
            *cell.lock.borrow_mut() = Some(guard);
            cell.request_run();
        });
    }

    fn stop_watching(&self) {
        if let Some(stop) = self.watch.borrow_mut().take() {
            stop.stop(StopReason::Close);
        }
    }

    /// Applies an event posted by the tab that runs this download.
    pub fn apply_mirror(self: &Rc<Self>, kind: &str, msg: &JsValue) {
        // A download this tab runs (its writer is out, in the run) is the truth here.
        if !self.remote.get() && self.m.borrow().writer.is_none() && self.state() == State::Running
        {
            return;
        }
        let field = |k: &str| prop(msg, k).unwrap_or(JsValue::UNDEFINED);
        match kind {
            "progress" => {
                self.remote.set(true);
                if self.state() != State::Running {
                    self.transition(State::Running);
                    self.watch_for_takeover();
                }
                if let Some(p) = progress_from(&field("progress")) {
                    self.report_progress(p);
                }
            }
            "restarted" => self.emit(
                "restarted",
                &[
                    ("reason", field("reason")),
                    ("wastedBytes", field("wastedBytes")),
                ],
            ),
            "statechange" => {
                let state = field("state").as_string().map(|s| State::parse(&s));
                match state {
                    Some(State::Running | State::Queued) => {
                        self.remote.set(true);
                        self.transition(State::Running);
                        self.watch_for_takeover();
                    }
                    Some(State::Paused) => {
                        self.transition(State::Paused);
                        self.remote.set(false);
                        self.stop_watching();
                    }
                    Some(State::Cancelled) => {
                        self.m.borrow_mut().writer = None;
                        self.settle(State::Cancelled, Some(DownloadError::aborted()));
                        self.remote.set(false);
                        self.stop_watching();
                    }
                    Some(to @ (State::Completed | State::Failed)) => {
                        let error = (to == State::Failed).then(|| error_from(&field("error")));
                        self.stop_watching();
                        // The stored record (its chunks, its final size) comes from storage.
                        let cell = self.clone();
                        wasm_bindgen_futures::spawn_local(async move {
                            if let Some(manager) = cell.manager.upgrade() {
                                if let Some(rec) = manager.load_record(&cell.id).await {
                                    cell.m.borrow_mut().progress = stored_progress(&rec);
                                    cell.set_record(rec.clone());
                                    if let Some(w) = cell.m.borrow_mut().writer.as_mut() {
                                        w.adopt(rec);
                                    }
                                }
                            }
                            cell.settle(to, error);
                            cell.remote.set(false);
                        });
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    async fn finish_run(self: &Rc<Self>, mut writer: Writer, outcome: Outcome) {
        match outcome {
            Outcome::Completed => {
                let p = stored_progress(writer.record());
                self.m.borrow_mut().progress = p;
                self.emit("progress", &[("progress", progress_value(&p))]);
                self.set_record(writer.record().clone());
                self.m.borrow_mut().writer = Some(writer);
                self.settle(State::Completed, None);
            }
            Outcome::Failed(e) => {
                // The partial is kept (I8): the user may resume.
                let code = e.code.as_str().to_owned();
                let message = e.message.clone();
                let _ = writer
                    .save(|r| {
                        r.state = "failed".into();
                        r.error = Some((code, message));
                    })
                    .await;
                self.set_record(writer.record().clone());
                self.m.borrow_mut().writer = Some(writer);
                self.settle(State::Failed, Some(e));
            }
            Outcome::Stopped(StopReason::Cancel) => {}
            Outcome::Stopped(reason) => {
                if reason == StopReason::Pause {
                    let _ = writer.save(|r| r.state = "paused".into()).await;
                }
                self.set_record(writer.record().clone());
                self.m.borrow_mut().writer = Some(writer);
            }
        }
    }

    /// `add()` found this download already stored (by another tab, or an earlier page):
    /// continue from the stored record.
    pub async fn adopt_stored(self: &Rc<Self>) {
        let Some(manager) = self.manager.upgrade() else {
            return;
        };
        let Some(rec) = manager.load_record(&self.id).await else {
            return;
        };
        let state = State::parse(&rec.state);
        self.m.borrow_mut().progress = stored_progress(&rec);
        self.set_record(rec.clone());
        if let Some(w) = self.m.borrow_mut().writer.as_mut() {
            w.adopt(rec.clone());
        }
        match state {
            State::Running | State::Queued => self.request_run(),
            State::Completed => self.settle(State::Completed, None),
            State::Failed => {
                let (code, message) = rec.error.unwrap_or_default();
                self.settle(State::Failed, Some(restored_error(&code, &message)));
            }
            _ => {
                self.transition(State::Paused);
                manager.dequeue(&self.id);
                manager.check_idle();
            }
        }
    }

    /// The download's record could not even be created (quota, storage failure).
    pub fn fail_to_store(&self, e: DownloadError) {
        self.settle(State::Failed, Some(e));
    }

    /// Pauses a queued or running download; its stored bytes stay and its slot frees.
    pub fn pause(&self) {
        if self.forward("pause") {
            return;
        }
        let state = self.state();
        if !matches!(state, State::Running | State::Queued) {
            return;
        }
        self.m.borrow().stop.stop(StopReason::Pause);
        self.transition(State::Paused);
        if let Some(manager) = self.manager.upgrade() {
            if state == State::Queued && !manager.is_running(&self.id) {
                manager.dequeue(&self.id);
            }
            if let Some(w) = self.m.borrow().writer.as_ref().map(|w| w.record().clone()) {
                // Not running: record the pause now (a running one records it as it stops).
                let mut rec = w;
                rec.state = "paused".into();
                manager.save_record_state(rec);
            }
            manager.check_idle();
        }
    }

    /// Stops a run because storage went away; the download pauses with `STORAGE`.
    pub fn storage_lost(&self, why: &str) {
        if matches!(self.state(), State::Running | State::Queued) {
            self.m.borrow().stop.stop(StopReason::StorageLost);
            self.m.borrow_mut().error =
                Some(DownloadError::new(crate::core::ErrorCode::Storage, why));
            self.transition(State::Paused);
        }
    }

    /// Continues a paused or failed download from its stored bytes.
    pub fn resume(self: &Rc<Self>, swallow: &JsValue) {
        if self.remote.get() {
            // Already running, in another tab.
            return;
        }
        let state = self.state();
        match state {
            State::Paused => {}
            State::Failed => {
                // A failed download gets a new `done` for its new run.
                let (done, settle) = new_done(swallow);
                let mut m = self.m.borrow_mut();
                m.done = done;
                m.settle = settle;
                m.error = None;
                m.state = State::Paused;
            }
            _ => return,
        }
        self.m.borrow_mut().error = None;
        self.request_run();
    }

    /// Cancels: final (I10). Settles at once with `ABORTED`; the returned future completes
    /// when the stored bytes are deleted.
    pub fn cancel(&self) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> {
        if self.state().is_settled() {
            return None;
        }
        if self.forward("cancel") {
            // The tab that runs it cancels it; this one settles when that tab says so.
            return Some(Box::pin(self.settled()));
        }
        self.m.borrow().stop.stop(StopReason::Cancel);
        self.m.borrow_mut().writer = None;
        // The delete transaction is created now, before any later write can be.
        let deleting = self
            .manager
            .upgrade()
            .and_then(|m| m.delete_stored(&self.id));
        self.settle(State::Cancelled, Some(DownloadError::aborted()));
        Some(Box::pin(async move {
            if let Some(d) = deleting {
                let _ = d.await;
            }
        }))
    }

    /// Sends a command to the tab that runs this download; false if this tab runs it (or no
    /// other tab does).
    fn forward(&self, command: &str) -> bool {
        if !self.remote.get() {
            return false;
        }
        if let Some(manager) = self.manager.upgrade() {
            manager.post(&object(&[
                ("type", "command".into()),
                ("id", self.id.as_str().into()),
                ("command", command.into()),
            ]));
        }
        true
    }

    /// Whether another tab runs this download.
    pub fn is_remote(&self) -> bool {
        self.remote.get()
    }

    /// The manager is closing: a running download stops where it is. Its record keeps its
    /// state, so the next manager on this database resumes it. Its `done` rejects, since
    /// nothing will settle it through this handle.
    pub fn close(&self, err: DownloadError) {
        let settle = {
            let mut m = self.m.borrow_mut();
            if m.state.is_settled() {
                return;
            }
            m.stop.stop(StopReason::Close);
            m.state = State::Paused;
            m.signal_listener = None;
            m.settle.take()
        };
        self.stop_watching();
        self.lock.borrow_mut().take();
        if let Some((_, reject)) = settle {
            let _ = reject.call1(&JsValue::UNDEFINED, &to_js(&err));
        }
        self.wake_settle_waiters();
    }

    fn resumable(&self) -> bool {
        let r = &self.m.borrow().record;
        r.accepted
            && Identity {
                etag: r.etag.clone(),
                last_modified: r.last_modified.clone(),
                total: r.total,
                ranges: r.ranges,
            }
            .resumable()
    }
}

/// A `DownloadError` as a plain object that can cross to another tab.
fn error_summary(e: &DownloadError) -> JsValue {
    object(&[
        ("code", e.code.as_str().into()),
        ("message", e.message.as_str().into()),
        ("status", e.status.map_or(JsValue::NULL, JsValue::from)),
    ])
}

/// The error another tab reported.
fn error_from(v: &JsValue) -> DownloadError {
    let text = |k: &str| prop(v, k).and_then(|s| s.as_string());
    let code = text("code")
        .as_deref()
        .and_then(ErrorCode::parse)
        .unwrap_or(ErrorCode::Network);
    let mut e = DownloadError::new(code, text("message").unwrap_or_default());
    e.status = prop(v, "status").and_then(|s| s.as_f64()).map(|s| s as u16);
    e
}

/// Progress another tab reported.
fn progress_from(v: &JsValue) -> Option<Progress> {
    let num = |k: &str| prop(v, k).and_then(|n| n.as_f64());
    Some(Progress {
        transferred_bytes: num("transferredBytes")? as u64,
        total_bytes: num("totalBytes").map(|t| t as u64),
        percent: num("percent"),
        bytes_per_second: num("bytesPerSecond").unwrap_or(0.0),
        eta_seconds: num("etaSeconds"),
    })
}

/// The progress figures of stored bytes.
fn stored_progress(rec: &Record) -> Progress {
    let mut p = crate::core::progress::ProgressTracker::new(0, rec.offset);
    p.set_total(rec.total);
    p.snapshot(0.0)
}

/// `Progress` as the JS object `{ transferredBytes, totalBytes, percent, bytesPerSecond,
/// etaSeconds }`.
pub(crate) fn progress_value(p: &Progress) -> JsValue {
    let opt = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
    object(&[
        (
            "transferredBytes",
            JsValue::from(p.transferred_bytes as f64),
        ),
        ("totalBytes", opt(p.total_bytes.map(|t| t as f64))),
        ("percent", opt(p.percent)),
        ("bytesPerSecond", JsValue::from(p.bytes_per_second)),
        ("etaSeconds", opt(p.eta_seconds)),
    ])
}

/// One download. Obtained from `DownloadManager.add`, `get` or `list`; the same object is
/// returned for the same id.
#[wasm_bindgen]
pub struct Download {
    cell: Rc<DownloadCell>,
}

#[wasm_bindgen]
impl Download {
    /// The download's id (the `id` option, or derived from the URL).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.cell.id.clone()
    }

    /// The absolute URL it was added with.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.cell.url.clone()
    }

    /// The URL of the accepted response, after redirects; `undefined` until there is one.
    #[wasm_bindgen(getter, js_name = finalUrl)]
    pub fn final_url(&self) -> Option<String> {
        self.cell.m.borrow().record.final_url.clone()
    }

    /// The name `save()` uses by default.
    #[wasm_bindgen(getter)]
    pub fn filename(&self) -> String {
        let m = self.cell.m.borrow();
        m.record
            .filename
            .clone()
            .unwrap_or_else(|| default_filename(&self.cell.url))
    }

    /// `'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled'`.
    #[wasm_bindgen(getter, unchecked_return_type = "DownloadState")]
    pub fn state(&self) -> String {
        self.cell.state().as_str().to_owned()
    }

    /// `{ transferredBytes, totalBytes, percent, bytesPerSecond, etaSeconds }`, current. After
    /// a reload it shows the stored bytes.
    #[wasm_bindgen(getter, unchecked_return_type = "Progress")]
    pub fn progress(&self) -> JsValue {
        progress_value(&self.cell.m.borrow().progress)
    }

    /// True when an interruption continues with a `Range` request; false when it would start
    /// over (no strong validator, unknown total, or no range support). `false` until the
    /// first response.
    #[wasm_bindgen(getter)]
    pub fn resumable(&self) -> bool {
        self.cell.resumable()
    }

    /// Bytes fetched and then discarded by restarts.
    #[wasm_bindgen(getter, js_name = wastedBytes)]
    pub fn wasted_bytes(&self) -> f64 {
        self.cell.m.borrow().record.wasted as f64
    }

    /// The `DownloadError` of a failed or cancelled download, or of a pause caused by storage
    /// going away; else `undefined`.
    #[wasm_bindgen(getter, unchecked_return_type = "DownloadError | undefined")]
    pub fn error(&self) -> JsValue {
        self.cell
            .m
            .borrow()
            .error
            .as_ref()
            .map_or(JsValue::UNDEFINED, to_js)
    }

    /// Resolves with this download when it completes; rejects with a `DownloadError` when it
    /// fails or is cancelled. `resume()` after a failure gives a new `done`.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<Download>")]
    pub fn done(&self) -> Promise {
        self.cell.m.borrow().done.clone()
    }

    /// Pauses a queued or running download. The bytes received so far are committed and kept.
    pub fn pause(&self) {
        self.cell.pause();
    }

    /// Continues a paused or failed download from its stored bytes.
    pub fn resume(&self) {
        let swallow = self
            .cell
            .manager
            .upgrade()
            .map(|m| m.swallow())
            .unwrap_or(JsValue::UNDEFINED);
        self.cell.resume(&swallow);
    }

    /// Cancels: final. `done` rejects with `ABORTED` at once; the returned promise resolves
    /// once the stored bytes are deleted, after which no write for this download can land.
    /// Does nothing on a download that has already settled.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn cancel(&self) -> Promise {
        let fut = self.cell.cancel();
        crate::web::js::promise(async move {
            if let Some(f) = fut {
                f.await;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The completed file as a `Blob`, assembled from the stored chunk Blobs without copying.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` unless the download has completed; `STORAGE` if the stored chunks
    /// are gone.
    pub async fn blob(&self) -> Result<Blob, JsValue> {
        completed_blob(&self.cell).await.map_err(|e| to_js(&e))
    }

    /// Saves the completed file through the browser's download UI (an object URL and
    /// `<a download>`; the URL is revoked afterwards). `filename` defaults to the `filename`
    /// option, then to the last segment of the URL.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` unless the download has completed, or outside a window.
    pub async fn save(&self, filename: Option<String>) -> Result<(), JsValue> {
        let name = filename.unwrap_or_else(|| self.filename());
        let blob = completed_blob(&self.cell).await.map_err(|e| to_js(&e))?;
        save_blob(&blob, &name).map_err(|e| to_js(&e))
    }
}

async fn completed_blob(cell: &DownloadCell) -> Result<Blob, DownloadError> {
    let (snapshot, mime) = {
        let m = cell.m.borrow();
        if m.state != State::Completed {
            return Err(DownloadError::invalid(
                "download",
                format!(
                    "is {}, not completed; the Blob exists once it completes",
                    m.state.as_str()
                ),
            ));
        }
        let mime = m
            .record
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let snapshot = m.writer.as_ref().map(Writer::snapshot).ok_or_else(|| {
            DownloadError::new(crate::core::ErrorCode::Storage, "the stored bytes are gone")
        })?;
        (snapshot, mime)
    };
    snapshot.blob(&mime).await
}

fn save_blob(blob: &Blob, name: &str) -> Result<(), DownloadError> {
    let window =
        web_sys::window().ok_or_else(|| DownloadError::invalid("save", "needs a window"))?;
    let document = window
        .document()
        .ok_or_else(|| DownloadError::invalid("save", "needs a document"))?;
    let url = web_sys::Url::create_object_url_with_blob(blob)
        .map_err(|e| DownloadError::new(crate::core::ErrorCode::Storage, describe(&e)))?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| DownloadError::invalid("save", describe(&e)))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // Revoke after the browser has had time to start reading the Blob.
    wasm_bindgen_futures::spawn_local(async move {
        sleep_ms(SAVE_REVOKE_AFTER_MS).await;
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    Ok(())
}

/// How long an object URL made by `save()` lives.
const SAVE_REVOKE_AFTER_MS: f64 = 30_000.0;

/// The last non-empty path segment of `url`, percent-decoded, or `"download"`.
pub(crate) fn default_filename(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let seg = after_host.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let decoded = js_sys::decode_uri_component(seg)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    let clean: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !"/\\".contains(*c))
        .collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        "download".into()
    } else {
        clean
    }
}
