//! [`DownloadCell`]: one download, as the engine runs it. Every decision about its lifecycle
//! (what a call or an event does in each phase, which state is shown and stored) is the
//! [`Lifecycle`] machine's, in `core::lifecycle`; a method here feeds it an [`Input`] and
//! carries out the [`Effect`]s it returns: the queue, the run task and its stop token, the
//! lock wait, storage, events and the other tabs.
//!
//! Ownership: a queued or running download keeps its manager alive (`keep`) until it stops;
//! a page's handle keeps it alive through [`Handle`]. The cell refers to its JS handle only
//! weakly (a `WeakRef`), and to its settled `done` promise only weakly, so no cycle runs
//! through the JS heap.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise, WeakRef};
use wasm_bindgen::prelude::*;

use futures::future::LocalBoxFuture;

use super::config::{PrepareHook, Prepared, RequestCall};
use super::driver::{self, BackgroundPlan, Given, Report, RunEnd};
use super::events::Events;
use super::runs::RunGuard;
use crate::core::handover::after_background;
use crate::core::lifecycle::{changes_stored, Effect, Effects, End, Input, Lifecycle, Read, State};
use crate::core::progress::{Progress, ProgressTracker};
use crate::core::resume::Restart;
use crate::core::run::{Outcome, RequestReason, RunConfig};
use crate::core::{DownloadError, ErrorCode, Quoted};
use crate::web::background::Ended;
use crate::web::cancel::{StopReason, StopToken};
use crate::web::clock::now_ms;
use crate::web::codec::{
    error_from, error_summary, error_to_js, ignore_rejection, object, progress_from, progress_value,
};
use crate::web::env::or_stop;
use crate::web::js::console_warn;
use crate::web::store::{opt_str, Record, StoreError};
use crate::web::tabs::{try_lock, LockGuard, LockWait};
use crate::web::writer::{Snapshot, Writer};

/// How often a download in Background Fetch reads its registration's progress.
const BACKGROUND_POLL_MS: f64 = 500.0;

/// What an input comes with: the error it sets or settles with, the lock it hands over.
#[derive(Default)]
struct Ctx {
    error: Option<DownloadError>,
    lock: Option<LockGuard>,
}

impl Ctx {
    fn with(error: DownloadError) -> Self {
        Ctx {
            error: Some(error),
            lock: None,
        }
    }
}

/// What the effects of an input leave to their caller.
#[derive(Default)]
struct Applied {
    /// The delete of the stored bytes.
    deleting: Option<LocalBoxFuture<'static, Result<(), StoreError>>>,
    /// The call went to the tab that runs the download.
    forwarded: bool,
    /// Ask for a slot again once the run's slot has freed.
    requeue: bool,
    /// Read the stored record back.
    read_stored: bool,
    /// States the run stores with its writer before it ends.
    store_run: Vec<State>,
}

/// What a download needs of its manager (implemented by `super::manager::ManagerInner`).
pub(crate) trait Host {
    /// A no-op rejection handler for promises nobody may await.
    fn swallow(&self) -> JsValue;
    /// The manager's listeners.
    fn events(&self) -> Rc<Events>;
    /// The page's handle for a download.
    fn make_handle(&self, h: Handle) -> JsValue;
    /// True after `close()`.
    fn is_closed(&self) -> bool;
    /// The settings of a run.
    fn run_config(&self) -> RunConfig;
    /// The page's `prepareRequest` hook, if it gave one.
    fn prepare_hook(&self) -> Option<PrepareHook>;
    /// The Web Lock of download `id`; `None` in single-tab mode.
    fn lock_name(&self, id: &str) -> Option<String>;
    /// Counts a run until the guard drops.
    fn run_started(&self) -> RunGuard;
    /// A run ended: its slot frees.
    fn run_ended(&self, id: &str);
    /// Puts a download in line for a slot.
    fn enqueue(&self, cell: &Rc<DownloadCell>);
    /// Takes a download out of line (or out of its slot).
    fn dequeue(&self, id: &str);
    /// Asks once for persistent storage.
    fn request_persistence(&self);
    /// The stored record of `id`.
    fn load_record(
        &self,
        id: &str,
    ) -> LocalBoxFuture<'static, Result<Option<Record>, DownloadError>>;
    /// Starts deleting a download's stored bytes (the transaction exists when this returns).
    fn delete_stored(
        &self,
        id: &str,
        file: Option<JsValue>,
    ) -> Option<LocalBoxFuture<'static, Result<(), StoreError>>>;
    /// Posts a message about download `id` to the other tabs.
    fn post(&self, kind: &str, id: &str, pairs: &[(&str, JsValue)]);
    /// Stores a state change of a download that is not running.
    fn save_record_state(
        &self,
        rec: Record,
    ) -> Option<LocalBoxFuture<'static, Result<(), StoreError>>>;
    /// Counts a settled download for the batch notification.
    fn note_settled(&self, state: State);
    /// Emits `idle` when nothing is queued or running any more.
    fn check_idle(&self);
    /// The Background Fetch registration id of download `id`.
    fn background_id(&self, id: &str) -> String;
    /// Why this manager cannot hand downloads to Background Fetch, if it cannot.
    fn background_unavailable(&self) -> Option<String>;
    /// The icons of this manager's Background Fetches (`backgroundIcons`).
    fn background_icons(&self) -> Option<js_sys::Array>;
}

/// What a download holds and changes: its lifecycle, record and writer, the tokens of its
/// run and watches, its `done` promise, its handle, and what keeps its manager alive.
pub(crate) struct Parts {
    /// What it is doing, what the page sees and what is stored: every decision about them.
    pub life: Lifecycle,
    /// A response the page fetched, to answer the next request of a run
    /// ([`DownloadCell::resume_with`]).
    given: Option<Given>,
    /// Ends the run, while one runs (or winds down).
    stop: Option<StopToken>,
    /// Ends the wait for the lock of a download another tab runs.
    watch: Option<StopToken>,
    /// Ends the watch of its Background Fetch registration.
    background_watch: Option<StopToken>,
    /// Why it is not handed to Background Fetch again (its registration failed here, or the
    /// browser refused one): its runs stay in the page until the manager reopens.
    background_refused: Option<String>,
    /// Progress when nothing runs here (stored bytes, or another tab's reports).
    pub progress: Progress,
    /// The running transfer's tracker: read live, so the rate decays while nothing arrives.
    pub live: Option<Rc<RefCell<ProgressTracker>>>,
    pub error: Option<DownloadError>,
    /// The committed record, as last known.
    pub record: Record,
    /// The writer, while no run holds it.
    pub writer: Option<Writer>,
    /// Who waits for this download to settle (`whenAll`).
    settle_waiters: Vec<futures::channel::oneshot::Sender<()>>,
    /// `done` while unsettled (held strongly: nothing it refers to refers back).
    done: Option<Promise>,
    /// `done` once settled, held weakly: it refers to the handle it resolved with.
    done_settled: Option<WeakRef>,
    settle: Option<Settle>,
    /// The page's handle, weakly.
    handle: Option<HandleRef>,
    pub signal_listener: Option<gloo_events::EventListener>,
    /// Keeps the manager alive while the download is queued or running (I15).
    keep: Option<Rc<dyn Host>>,
    /// The download's Web Lock, held between a takeover and the run it starts.
    lock: Option<LockGuard>,
}

/// Shared state of one download.
pub(crate) struct DownloadCell {
    pub id: String,
    pub url: String,
    /// Queue priority: higher starts first.
    pub priority: i32,
    pub events: Rc<Events>,
    pub manager: Weak<dyn Host>,
    pub parts: RefCell<Parts>,
}

/// A page's handle on a download: keeps the download and its manager alive (I15). Dropping
/// it (garbage collection, `free()`, `using`) only forgets the handle: `get(id)` then makes a
/// new one, never a dangling one.
pub(crate) struct Handle {
    pub cell: Rc<DownloadCell>,
    /// Owned, never read: the handle keeps its manager alive.
    _manager: Rc<dyn Host>,
    serial: u64,
}

thread_local! {
    static SERIAL: Cell<u64> = const { Cell::new(0) };
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut m = self.cell.parts.borrow_mut();
        if m.handle.as_ref().is_some_and(|h| h.serial == self.serial) {
            m.handle = None;
        }
    }
}

/// The functions that settle a `done` promise.
struct Settle {
    resolve: Function,
    reject: Function,
}

/// The page's handle on a download, held weakly, and the serial of the [`Handle`] inside it.
struct HandleRef {
    serial: u64,
    handle: WeakRef,
}

fn new_done(swallow: &JsValue) -> (Promise, Option<Settle>) {
    let mut settle = None;
    let done = Promise::new(&mut |resolve, reject| settle = Some(Settle { resolve, reject }));
    // Callers who only use events never await `done`; its rejection is not "unhandled".
    ignore_rejection(&done, swallow);
    (done, settle)
}

impl DownloadCell {
    /// A download in `state`, whose stored bytes `writer` holds.
    pub fn new(
        writer: Writer,
        state: State,
        error: Option<DownloadError>,
        manager: &Rc<dyn Host>,
    ) -> Rc<Self> {
        let record = writer.record().clone();
        let (done, settle) = new_done(&manager.swallow());
        let progress = stored_progress(&record);
        let cell = Rc::new(DownloadCell {
            id: record.id.clone(),
            url: record.url.clone(),
            priority: record.priority,
            events: manager.events(),
            manager: Rc::downgrade(manager),
            parts: RefCell::new(Parts {
                life: Lifecycle::new(state, record.stored.state),
                stop: None,
                watch: None,
                background_watch: None,
                background_refused: None,
                progress,
                live: None,
                error: error.clone(),
                record,
                writer: Some(writer),
                settle_waiters: Vec::new(),
                done: Some(done),
                done_settled: None,
                settle,
                handle: None,
                signal_listener: None,
                keep: None,
                lock: None,
                given: None,
            }),
        });
        // A download restored as already settled has its promise settled too.
        if state.is_settled() {
            cell.settle_promise(error.as_ref());
        }
        cell
    }

    /// The page's handle: the one it holds, or a new one if it dropped it.
    pub fn handle(self: &Rc<Self>) -> JsValue {
        if let Some(h) = self
            .parts
            .borrow()
            .handle
            .as_ref()
            .and_then(|h| h.handle.deref())
        {
            return h.into();
        }
        let Some(manager) = self.manager.upgrade() else {
            return JsValue::UNDEFINED;
        };
        let serial = SERIAL.with(|s| {
            s.set(s.get() + 1);
            s.get()
        });
        let handle = manager.make_handle(Handle {
            cell: self.clone(),
            _manager: manager.clone(),
            serial,
        });
        if let Some(o) = handle.dyn_ref::<js_sys::Object>() {
            let handle = WeakRef::new(o);
            self.parts.borrow_mut().handle = Some(HandleRef { serial, handle });
        }
        handle
    }

    /// `done`: the same promise for as long as the page holds it.
    pub fn done(self: &Rc<Self>) -> Promise {
        if let Some(p) = self.parts.borrow().done.clone() {
            return p;
        }
        if let Some(p) = self
            .parts
            .borrow()
            .done_settled
            .as_ref()
            .and_then(|w| w.deref())
        {
            return p.unchecked_into();
        }
        let p = match self.parts.borrow().error.clone() {
            Some(e) if self.state() != State::Completed => {
                let p = Promise::reject(&error_to_js(&e));
                ignore_rejection(&p, &self.swallow());
                p
            }
            _ => Promise::resolve(&self.handle()),
        };
        self.parts.borrow_mut().done_settled = Some(WeakRef::new(&p));
        p
    }

    fn swallow(&self) -> JsValue {
        self.manager
            .upgrade()
            .map_or(JsValue::UNDEFINED, |m| m.swallow())
    }

    pub fn state(&self) -> State {
        self.parts.borrow().life.state()
    }

    /// True when another tab runs this download.
    pub fn is_remote(&self) -> bool {
        self.parts.borrow().life.is_remote()
    }

    /// True while Background Fetch transfers it.
    pub fn in_background(&self) -> bool {
        self.parts.borrow().life.in_background()
    }

    /// `"background"` while Background Fetch transfers it, else `"page"`.
    pub fn mode(&self) -> &'static str {
        if self.in_background() {
            "background"
        } else {
            "page"
        }
    }

    /// Why its next run stays in the page though it asked for Background Fetch, if so.
    pub fn background_refused(&self) -> Option<String> {
        self.parts.borrow().background_refused.clone()
    }

    pub fn set_record(&self, rec: Record) {
        self.parts.borrow_mut().record = rec;
    }

    /// Current progress. The rate and ETA of a download that is not running here are 0 and
    /// `null`; a running one's decay while nothing arrives.
    pub fn progress(&self) -> Progress {
        let m = self.parts.borrow();
        let p = match &m.live {
            Some(t) => t.borrow().snapshot(now_ms()),
            None => m.progress,
        };
        if m.life.state() == State::Running {
            p
        } else {
            p.at_rest()
        }
    }

    fn settle_promise(self: &Rc<Self>, error: Option<&DownloadError>) {
        let settle = self.parts.borrow_mut().settle.take();
        if let Some(settle) = settle {
            let _ = match error {
                None => settle.resolve.call1(&JsValue::UNDEFINED, &self.handle()),
                Some(e) => settle.reject.call1(&JsValue::UNDEFINED, &error_to_js(e)),
            };
        }
        let mut m = self.parts.borrow_mut();
        if let Some(p) = m.done.take() {
            m.done_settled = Some(WeakRef::new(&p));
        }
    }

    /// `statechange` from `from` to `to`, here and to the other tabs.
    fn show(self: &Rc<Self>, from: State, to: State) {
        self.emit(
            "statechange",
            &[
                ("state", to.as_str().into()),
                ("previousState", from.as_str().into()),
            ],
        );
        let error = self
            .parts
            .borrow()
            .error
            .as_ref()
            .map_or(JsValue::NULL, error_summary);
        self.mirror(
            "statechange",
            &[("state", to.as_str().into()), ("error", error)],
        );
    }
    /// Tells the other tabs what happened to a download this tab runs.
    fn mirror(&self, kind: &str, pairs: &[(&str, JsValue)]) {
        // Every tab watches a download in Background Fetch itself.
        if self.is_remote() || self.in_background() {
            return;
        }
        if let Some(manager) = self.manager.upgrade() {
            manager.post(kind, &self.id, pairs);
        }
    }

    fn emit(self: &Rc<Self>, kind: &str, extra: &[(&str, JsValue)]) {
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

    /// Emits `progress` for a download this tab runs (or mirrors).
    pub fn report_progress(self: &Rc<Self>, p: Progress) {
        if self.state() != State::Running {
            return;
        }
        if self.parts.borrow().live.is_none() {
            self.parts.borrow_mut().progress = p;
        }
        self.emit("progress", &[("progress", progress_value(&p))]);
        self.mirror("progress", &[("progress", progress_value(&p))]);
    }

    pub fn emit_restarted(self: &Rc<Self>, reason: Restart, wasted: u64) {
        let pairs = [
            ("reason", JsValue::from(reason.as_str())),
            ("wastedBytes", JsValue::from(wasted as f64)),
        ];
        self.emit("restarted", &pairs);
        self.mirror("restarted", &pairs);
    }

    pub fn emit_retry(self: &Rc<Self>, error: &DownloadError, attempt: u32, delay_ms: u64) {
        self.emit(
            "retry",
            &[
                ("error", error_to_js(error)),
                ("attempt", attempt.into()),
                ("delayMs", JsValue::from(delay_ms as f64)),
            ],
        );
    }

    /// Settles the download: `done`, `statechange`, then `complete` or `error`.
    fn settle(self: &Rc<Self>, from: State, to: State, error: Option<DownloadError>) {
        let error = match to {
            State::Completed => None,
            State::Cancelled => error.or_else(|| Some(DownloadError::aborted())),
            _ => error,
        };
        {
            let mut m = self.parts.borrow_mut();
            m.error = error.clone();
            m.signal_listener = None;
            m.live = None;
        }
        self.show(from, to);
        self.settle_promise(error.as_ref());
        self.wake_settle_waiters();
        match (&error, to) {
            (None, State::Completed) => self.emit("complete", &[]),
            (Some(e), State::Failed) => self.emit("error", &[("error", error_to_js(e))]),
            _ => {}
        }
        if let Some(manager) = self.manager.upgrade() {
            manager.note_settled(to);
        }
    }
    fn wake_settle_waiters(&self) {
        let waiters = std::mem::take(&mut self.parts.borrow_mut().settle_waiters);
        for w in waiters {
            let _ = w.send(());
        }
    }

    /// Completes when the download has settled (or its manager closed).
    pub fn settled(&self) -> impl std::future::Future<Output = ()> {
        let rx = {
            let mut m = self.parts.borrow_mut();
            (!m.life.state().is_settled()).then(|| {
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

    /// Stores `state` for a download whose writer is here (not running), so that a reload
    /// continues exactly what this tab shows (I14).
    fn store_state(self: &Rc<Self>, state: State) {
        let rec = {
            let mut m = self.parts.borrow_mut();
            let Some(w) = m.writer.as_mut() else { return };
            if !changes_stored(w.record().stored.state, state) {
                return;
            }
            w.set_state(state);
            let rec = w.record().clone();
            m.record = rec.clone();
            rec
        };
        let Some(saving) = self
            .manager
            .upgrade()
            .and_then(|m| m.save_record_state(rec))
        else {
            return;
        };
        // Saved in the next microtask, before any run of this download writes (a run first
        // waits for its lock); a failure is the download's error (STORAGE), never silent.
        let cell = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            if let (Err(e), Some(cell)) = (saving.await, cell.upgrade()) {
                cell.parts.borrow_mut().error = Some(DownloadError::new(
                    ErrorCode::Storage,
                    format!(
                        "the state {} could not be stored: {}",
                        state.as_str(),
                        e.to_download_error().message
                    ),
                ));
            }
        });
    }

    /// Applies `input` to the lifecycle and carries out its effects; `ctx` holds the error
    /// and the lock the input came with.
    fn feed(self: &Rc<Self>, input: Input, ctx: Ctx) -> Applied {
        let fx = self.parts.borrow_mut().life.step(input);
        self.apply(fx, ctx)
    }

    fn apply(self: &Rc<Self>, fx: Effects, mut ctx: Ctx) -> Applied {
        let manager = self.manager.upgrade();
        let mut out = Applied::default();
        // Released last: the manager may go away with them.
        let mut released = Vec::new();
        for effect in fx {
            match effect {
                Effect::Forward(command) => {
                    out.forwarded = true;
                    if let Some(m) = &manager {
                        m.post("command", &self.id, &[("command", command.as_str().into())]);
                    }
                }
                Effect::Store(state) => self.store_state(state),
                Effect::StoreRun(state) => out.store_run.push(state),
                Effect::Show { from, to } => self.show(from, to),
                Effect::Settle { from, to } => self.settle(from, to, ctx.error.clone()),
                Effect::RenewDone => self.renew_done(),
                Effect::ClearError => self.parts.borrow_mut().error = None,
                Effect::SetError => self.parts.borrow_mut().error = ctx.error.clone(),
                Effect::Keep => self.parts.borrow_mut().keep = manager.clone(),
                Effect::DropKeep => released.push(self.parts.borrow_mut().keep.take()),
                Effect::HoldLock => self.parts.borrow_mut().lock = ctx.lock.take(),
                Effect::DropLock => self.parts.borrow_mut().lock = None,
                Effect::DropWriter => self.parts.borrow_mut().writer = None,
                Effect::Delete => out.deleting = self.delete(manager.as_ref()),
                Effect::Release => self.release(ctx.error.as_ref()),
                Effect::Requeue => out.requeue = true,
                Effect::ReadStored => out.read_stored = true,
                Effect::AdoptStored => self.adopt_then_settle(ctx.error.clone()),
                steer @ (Effect::Enqueue
                | Effect::Dequeue
                | Effect::CheckIdle
                | Effect::StartRun
                | Effect::Stop(_)
                | Effect::Watch
                | Effect::Unwatch
                | Effect::WatchBackground
                | Effect::UnwatchBackground
                | Effect::AbortBackground) => self.steer(steer, manager.as_ref()),
            }
        }
        drop(released);
        out
    }

    /// The effects on the queue, the run and the watches.
    fn steer(self: &Rc<Self>, effect: Effect, manager: Option<&Rc<dyn Host>>) {
        match effect {
            Effect::Enqueue => {
                if let Some(m) = manager {
                    m.enqueue(self);
                }
            }
            Effect::Dequeue => {
                if let Some(m) = manager {
                    m.dequeue(&self.id);
                }
            }
            Effect::CheckIdle => {
                if let Some(m) = manager {
                    m.check_idle();
                }
            }
            Effect::StartRun => self.spawn_run(),
            Effect::Stop(reason) => {
                if let Some(stop) = &self.parts.borrow().stop {
                    stop.stop(reason);
                }
            }
            Effect::Watch => self.watch(),
            Effect::Unwatch => {
                if let Some(w) = self.parts.borrow_mut().watch.take() {
                    w.stop(StopReason::Close);
                }
            }
            Effect::WatchBackground => self.watch_background(),
            Effect::UnwatchBackground => {
                let mut m = self.parts.borrow_mut();
                if let Some(w) = m.background_watch.take() {
                    w.stop(StopReason::Close);
                }
                m.live = None;
            }
            Effect::AbortBackground => self.abort_background(),
            // `apply` hands over only the effects above.
            _ => {}
        }
    }

    /// A cancel: starts deleting the stored bytes; the caller's sink, if any, is aborted, and
    /// the caller's file emptied.
    fn delete(
        &self,
        manager: Option<&Rc<dyn Host>>,
    ) -> Option<LocalBoxFuture<'static, Result<(), StoreError>>> {
        if let Some(w) = self.parts.borrow().writer.as_ref() {
            w.abort_sink();
        }
        let file = self.parts.borrow().record.file.clone();
        manager.and_then(|m| m.delete_stored(&self.id, file))
    }

    /// Asks the manager's queue for a slot; the download waits as `queued` until it gets one.
    /// A download whose run is winding down (paused a moment ago) queues when it has ended.
    pub fn request_run(self: &Rc<Self>) {
        if self.manager.upgrade().is_none_or(|m| m.is_closed()) {
            return;
        }
        self.feed(Input::RequestRun, Ctx::default());
    }

    /// Called by the manager when the queue grants a slot.
    pub fn start_run(self: &Rc<Self>) {
        if self.parts.borrow().writer.is_none() {
            if let Some(manager) = self.manager.upgrade() {
                manager.dequeue(&self.id);
            }
            return;
        }
        self.feed(Input::SlotGranted, Ctx::default());
    }

    /// Runs the transfer task.
    fn spawn_run(self: &Rc<Self>) {
        let Some(manager) = self.manager.upgrade() else {
            return;
        };
        let stop = StopToken::default();
        let writer = {
            let mut m = self.parts.borrow_mut();
            m.stop = Some(stop.clone());
            m.writer.take()
        };
        let Some(writer) = writer else {
            return;
        };
        let cell = self.clone();
        let running = manager.run_started();
        wasm_bindgen_futures::spawn_local(async move {
            // The run keeps its manager alive until it has ended (I15).
            cell.run_task(&manager, writer, stop).await;
            drop(running);
        });
    }

    /// One run: the lock, the transfer, its end stored, the slot freed.
    async fn run_task(
        self: &Rc<Self>,
        manager: &Rc<dyn Host>,
        mut writer: Writer,
        stop: StopToken,
    ) {
        // One writer per download: the lock held since a takeover, or a new one (none in
        // single-tab mode).
        let held = self.parts.borrow_mut().lock.take();
        let guard = match (held, manager.lock_name(&self.id)) {
            (Some(held), _) => Ok(Some(held)),
            (None, Some(name)) => try_lock(&name).await.map(Some).ok_or(()),
            (None, None) => Ok(None),
        };
        let Ok(guard) = guard else {
            // Another tab writes it: this tab mirrors it and waits to take over.
            self.parts.borrow_mut().writer = Some(writer);
            self.feed(Input::LockDenied, Ctx::default());
            manager.run_ended(&self.id);
            return;
        };
        let end = match stop.reason() {
            Some(reason) => RunEnd::Stopped(reason),
            None => self.transfer(manager, &mut writer, &stop).await,
        };
        // Its OPFS file is closed, so that another tab can take the download over.
        writer.end_run();
        let requeue = self.finish_run(writer, end).await;
        manager.run_ended(&self.id);
        if requeue {
            // Resumed while the run wound down: it queues again, keeping its lock.
            self.parts.borrow_mut().lock = guard;
            self.request_run();
        } else {
            // Released only once the final state is stored, so that a tab taking over reads
            // it.
            drop(guard);
        }
    }

    /// The run's transfer, once it holds the lock. A run that must store its start (I14; see
    /// [`crate::core::stored::Stored::run_needs_store`]) stores it before any byte, and a
    /// start that cannot be stored fails the run: a reload would not continue it.
    async fn transfer(
        self: &Rc<Self>,
        manager: &Rc<dyn Host>,
        writer: &mut Writer,
        stop: &StopToken,
    ) -> RunEnd {
        self.feed(Input::RunStarted, Ctx::default());
        manager.request_persistence();
        if writer.record().stored.run_needs_store() {
            if let Err(e) = writer.save(|r| r.stored.start_run()).await {
                return RunEnd::Machine(Outcome::Failed(e.to_download_error()));
            }
        }
        let mut cfg = manager.run_config();
        cfg.rewindable = writer.rewindable();
        let tracker = Rc::new(RefCell::new(driver::fresh_progress(&cfg, writer)));
        self.parts.borrow_mut().live = Some(tracker.clone());
        driver::run(self, writer, &cfg, stop, &tracker).await
    }

    /// Watches the download's Background Fetch registration: its progress is the download's
    /// (from the stored bytes), and when it fails or is gone, the stored record says what
    /// follows.
    fn watch_background(self: &Rc<Self>) {
        // A service worker gets the registration's end as an event (`sw.js`), and a
        // registration under way is not readable there as in a page: not watched.
        if crate::web::background::in_service_worker() {
            return;
        }
        let Some(id) = self.registration() else {
            // Nothing to watch: it runs here.
            let cell = self.clone();
            wasm_bindgen_futures::spawn_local(async move {
                cell.feed(Input::BackgroundEnded, Ctx::default());
            });
            return;
        };
        let token = StopToken::default();
        let tracker = Rc::new(RefCell::new(self.background_tracker()));
        {
            let mut m = self.parts.borrow_mut();
            m.background_watch = Some(token.clone());
            m.live = Some(tracker.clone());
        }
        let cell = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(ended) = follow_registration(&cell, &id, &token, tracker).await else {
                return;
            };
            if let Some(cell) = cell.upgrade() {
                cell.background_ended(&id, ended).await;
            }
        });
    }

    /// Progress of a transfer in Background Fetch, from the stored bytes.
    fn background_tracker(&self) -> ProgressTracker {
        let interval = self
            .manager
            .upgrade()
            .map_or(250, |h| h.run_config().limits.progress_interval_ms);
        let m = self.parts.borrow();
        let mut tracker = ProgressTracker::new(interval, m.record.stored.offset);
        tracker.set_total(m.record.stored.total());
        tracker.start_transfer(now_ms());
        tracker
    }

    /// The registration `id` has ended while this tab watched it. An abort that was not this
    /// tab's (it stops watching first) came from another tab's pause or cancel, which store
    /// that first, or from the user in the browser's UI, which cancels the download (as the
    /// service worker's `backgroundfetchabort` handler does). Otherwise, or when the record
    /// no longer names the registration, the stored record says what follows.
    async fn background_ended(self: &Rc<Self>, id: &str, ended: Ended) {
        if !self.in_background() {
            return;
        }
        match &ended {
            Ended::Failed(r) if r == "aborted" => {
                crate::web::clock::sleep_ms(BACKGROUND_POLL_MS).await;
                let Some(m) = self.manager.upgrade() else {
                    return;
                };
                let read = m.load_record(&self.id).await;
                let named = matches!(&read, Ok(Some(rec)) if rec.stored.names_registration(id));
                if named && self.in_background() {
                    if let Some(done) = self.cancel() {
                        done.await;
                    }
                    return;
                }
            }
            Ended::Failed(reason) => return self.background_failed(reason),
            _ => {}
        }
        let read = match self.manager.upgrade() {
            Some(m) => m.load_record(&self.id).await,
            None => return,
        };
        if self.in_background() {
            self.background_gone(read);
        }
    }

    /// Its registration failed: the stored prefix stays, and the page continues it (and does
    /// not hand it over again: the reason says why).
    fn background_failed(self: &Rc<Self>, reason: &str) {
        console_warn(&format!(
            "resumable-downloads: the Background Fetch of {} failed ({reason}); it continues in the page",
            self.id
        ));
        self.forget_background(Some(format!("its Background Fetch failed ({reason})")));
        self.feed(Input::BackgroundEnded, Ctx::default());
    }

    /// Its registration is gone (its service worker event was handled) or was aborted
    /// elsewhere: `read`, the stored record, says what follows ([`after_background`]).
    fn background_gone(self: &Rc<Self>, read: Result<Option<Record>, DownloadError>) {
        let (stored, error) = match &read {
            Ok(Some(rec)) => (Read::Stored(rec.stored.state), rec.stored.failure()),
            Ok(None) => (Read::Missing, None),
            Err(_) => (Read::Unreadable, None),
        };
        let (input, refused) = after_background(stored);
        if input == Input::BackgroundEnded {
            match read {
                // Still active: the page fetches the rest from what is stored.
                Ok(Some(rec)) => self.adopt(rec),
                Err(e) => console_warn(&format!(
                    "resumable-downloads: the record of {} could not be read after its Background Fetch: {}",
                    self.id, e.message
                )),
                Ok(None) => {}
            }
            self.forget_background(refused.map(str::to_owned));
        }
        self.feed(input, Ctx { error, lock: None });
    }

    /// The record no longer names a registration (stored with the next save); `refused` keeps
    /// the next runs in the page.
    fn forget_background(&self, refused: Option<String>) {
        let mut m = self.parts.borrow_mut();
        m.record.stored.take_back();
        if let Some(w) = m.writer.as_mut() {
            w.stage(|r| r.stored.take_back());
        }
        if refused.is_some() {
            m.background_refused = refused;
        }
    }

    /// Aborts its registration, if one is under way, and forgets it.
    fn abort_background(&self) {
        let id = self.registration();
        self.forget_background(None);
        let Some(id) = id else { return };
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(Some(r)) = crate::web::background::get(&id).await {
                r.abort();
            }
        });
    }

    /// Waits for the lock of a download another tab runs, to take it over.
    fn watch(self: &Rc<Self>) {
        let Some(name) = self.manager.upgrade().and_then(|m| m.lock_name(&self.id)) else {
            return;
        };
        let watch = StopToken::default();
        self.parts.borrow_mut().watch = Some(watch.clone());
        let cell = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(mut wait) = LockWait::new(&name) else {
                return;
            };
            let granted = or_stop(&watch, Box::pin(wait.granted())).await;
            let Ok(Some(guard)) = granted else { return };
            let Some(cell) = cell.upgrade() else { return };
            cell.take_over(guard).await;
        });
    }

    /// The lock of a download another tab ran is ours: the stored record says whether it was
    /// left running (it continues here from the stored bytes) or not (it stays as it is).
    async fn take_over(self: &Rc<Self>, guard: LockGuard) {
        let Some(manager) = self.manager.upgrade() else {
            return;
        };
        if !self.is_remote() {
            return;
        }
        let read = manager.load_record(&self.id).await;
        if !self.is_remote() {
            return;
        }
        let (read, mut ctx) = self.read(read, DownloadError::aborted());
        ctx.lock = Some(guard);
        self.feed(Input::LockGranted(read), ctx);
    }

    /// What a read of the stored record says; a record found is adopted. `missing` is the
    /// error if there is none.
    fn read(
        &self,
        read: Result<Option<Record>, DownloadError>,
        missing: DownloadError,
    ) -> (Read, Ctx) {
        let (read, error) = match read {
            Ok(Some(rec)) => {
                let (state, error) = (rec.stored.state, rec.stored.failure());
                self.adopt(rec);
                (Read::Stored(state), error)
            }
            Ok(None) => (Read::Missing, Some(missing)),
            Err(e) => (Read::Unreadable, Some(e)),
        };
        (read, Ctx { error, lock: None })
    }

    /// Replaces what this tab believes by the stored record.
    fn adopt(&self, rec: Record) {
        let mut m = self.parts.borrow_mut();
        m.progress = stored_progress(&rec);
        m.record = rec.clone();
        if let Some(w) = m.writer.as_mut() {
            w.adopt(rec);
        }
    }

    /// Reads the record of a download another tab settled, then settles it here.
    fn adopt_then_settle(self: &Rc<Self>, error: Option<DownloadError>) {
        let cell = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(manager) = cell.manager.upgrade() {
                if let Ok(Some(rec)) = manager.load_record(&cell.id).await {
                    cell.adopt(rec);
                }
            }
            cell.feed(Input::Adopted, Ctx { error, lock: None });
            // Seen here complete: no later page announces it again.
            if cell.state() == State::Completed {
                cell.clear_unseen();
            }
        });
    }

    /// Applies an event posted by the tab that runs this download.
    pub fn apply_mirror(self: &Rc<Self>, kind: &str, field: &dyn Fn(&str) -> JsValue) {
        // A download this tab runs is the truth here.
        if !self.parts.borrow().life.follows_mirror() {
            return;
        }
        match kind {
            "progress" => {
                self.feed(Input::MirrorProgress, Ctx::default());
                if let Some(p) = progress_from(&field("progress")) {
                    self.parts.borrow_mut().progress = p;
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
            "source" => {
                let text = |k: &str| field(k).as_string();
                let mut m = self.parts.borrow_mut();
                m.record.content_type = text("contentType");
                m.record.disposition = text("disposition");
                m.record.stored.final_url = text("finalUrl");
            }
            "statechange" => {
                let state = field("state").as_string().and_then(|s| State::parse(&s));
                if let Some(state) = state {
                    let error = (state == State::Failed).then(|| error_from(&field("error")));
                    self.feed(Input::Mirror(state), Ctx { error, lock: None });
                }
            }
            _ => {}
        }
    }

    /// Stores the run's end, settles or parks the download, and gives its writer back; true
    /// when it is to queue again (resumed while the run wound down).
    async fn finish_run(self: &Rc<Self>, mut writer: Writer, end: RunEnd) -> bool {
        let live = self.parts.borrow_mut().live.take();
        let kind = match &end {
            RunEnd::Machine(Outcome::Completed) => End::Completed,
            RunEnd::Machine(Outcome::Failed(_)) => End::Failed,
            RunEnd::Machine(Outcome::Lost) => End::Lost,
            RunEnd::Stopped(reason) => End::Stopped(*reason),
            RunEnd::Handed => End::Handed,
        };
        let error = match &end {
            RunEnd::Machine(Outcome::Failed(e)) => Some(e.clone()),
            _ => None,
        };
        for state in self.feed(Input::RunEnding(kind), Ctx::default()).store_run {
            self.store_end(&mut writer, state, error.as_ref()).await;
        }
        match end {
            RunEnd::Machine(Outcome::Completed) => {
                let p = stored_progress(writer.record());
                self.parts.borrow_mut().progress = p;
                self.emit("progress", &[("progress", progress_value(&p))]);
            }
            RunEnd::Machine(Outcome::Lost) => {}
            // The stored bytes are being deleted.
            RunEnd::Stopped(StopReason::Cancel) => {}
            _ => self.keep_progress(live.as_ref(), &writer),
        }
        if !matches!(end, RunEnd::Stopped(StopReason::Cancel)) {
            let mut m = self.parts.borrow_mut();
            m.record = writer.record().clone();
            m.writer = Some(writer);
        }
        let out = self.feed(Input::RunEnded(kind), Ctx { error, lock: None });
        if out.read_stored {
            // Changed elsewhere (cancelled in another tab, or taken over): what is stored says
            // what it is now.
            if let Some(manager) = self.manager.upgrade() {
                let read = manager.load_record(&self.id).await;
                let (read, ctx) = self.read(read, DownloadError::aborted());
                self.feed(Input::Reread(read), ctx);
            }
        }
        out.requeue
    }

    /// Stores a run's end with its writer.
    async fn store_end(&self, writer: &mut Writer, state: State, error: Option<&DownloadError>) {
        let saved = writer.save(|r| r.stored.end_run(state, error)).await;
        let Err(se) = saved else { return };
        if state == State::Failed {
            // The failure stands; a reload will find the download running and try again.
            console_warn(&format!(
                "resumable-downloads: the failure of {} could not be stored: {}",
                self.id,
                se.to_download_error().message
            ));
        } else {
            // Paused here; a reload would continue it: say so on the download.
            self.parts.borrow_mut().error = Some(DownloadError::new(
                ErrorCode::Storage,
                format!(
                    "the pause could not be stored: {}",
                    se.to_download_error().message
                ),
            ));
        }
    }

    fn keep_progress(&self, live: Option<&Rc<RefCell<ProgressTracker>>>, w: &Writer) {
        let mut p = live.map_or_else(
            || stored_progress(w.record()),
            |t| t.borrow().snapshot(now_ms()),
        );
        p.transferred_bytes = w.record().stored.offset;
        self.parts.borrow_mut().progress = p;
    }

    /// `add()` found this download already stored (by another tab, or an earlier page):
    /// continue from the stored record.
    pub async fn adopt_stored(self: &Rc<Self>) {
        let Some(manager) = self.manager.upgrade() else {
            return;
        };
        let read = manager.load_record(&self.id).await;
        let vanished = DownloadError::new(ErrorCode::Storage, "the stored download vanished");
        let (read, ctx) = self.read(read, vanished);
        self.feed(Input::Found(read), ctx);
    }

    /// The download's record could not even be created (quota, storage failure).
    pub fn fail_to_store(self: &Rc<Self>, e: DownloadError) {
        self.feed(Input::StoreFailed, Ctx::with(e));
    }

    /// A restored download whose record says Background Fetch transfers it: watched.
    pub fn watch_in_background(self: &Rc<Self>) {
        self.feed(Input::InBackground, Ctx::default());
    }

    /// A download restored completed that no page saw complete (its service worker stored
    /// it): `complete` now, and the record no longer says so.
    pub fn announce_unseen(self: &Rc<Self>) {
        self.emit("complete", &[]);
        self.clear_unseen();
    }

    fn clear_unseen(self: &Rc<Self>) {
        let rec = {
            let mut m = self.parts.borrow_mut();
            if !m.record.stored.unseen {
                return;
            }
            m.record.stored.unseen = false;
            if let Some(w) = m.writer.as_mut() {
                w.stage(|r| r.stored.unseen = false);
            }
            m.record.clone()
        };
        if let Some(saving) = self
            .manager
            .upgrade()
            .and_then(|m| m.save_record_state(rec))
        {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = saving.await;
            });
        }
    }

    /// Pauses a queued or running download; its stored bytes stay and its slot frees.
    pub fn pause(self: &Rc<Self>) {
        self.feed(Input::Pause, Ctx::default());
    }

    /// Stops a run because storage went away; the download pauses with `STORAGE`.
    pub fn storage_lost(self: &Rc<Self>, why: &str) {
        let e = DownloadError::new(ErrorCode::Storage, why);
        self.feed(Input::StorageLost, Ctx::with(e));
    }

    /// A failed download gets a new `done` for its new run.
    fn renew_done(self: &Rc<Self>) {
        let (done, settle) = new_done(&self.swallow());
        let mut m = self.parts.borrow_mut();
        m.done = Some(done);
        m.done_settled = None;
        m.settle = settle;
        m.error = None;
    }

    /// Continues a paused or failed download from its stored bytes.
    pub fn resume(self: &Rc<Self>) {
        self.feed(Input::Resume, Ctx::default());
    }

    /// Continues the download with `response` as the answer to its next request, instead of
    /// fetching: validated against what is stored, and its body written, exactly as a fetched
    /// response's. A run under way here is stopped first, as by a pause (what it received is
    /// kept). One the run cannot use (another resource, another range) is judged by the usual
    /// rules, and the run goes on fetching.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a download another tab runs, or one that has settled.
    pub fn resume_with(self: &Rc<Self>, response: web_sys::Response) -> Result<(), DownloadError> {
        self.resume_with_as(response, false)
    }

    /// [`DownloadCell::resume_with`] the response of the download's own Background Fetch
    /// registration `registration_id` (the service worker's success event): its request
    /// carried the `If-Range` the record says, and its answer is judged so.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` as `resume_with`, and for another registration than the one the
    /// record names.
    pub fn resume_with_background_fetch(
        self: &Rc<Self>,
        registration_id: &str,
        response: web_sys::Response,
    ) -> Result<(), DownloadError> {
        if !self
            .parts
            .borrow()
            .record
            .stored
            .names_registration(registration_id)
        {
            return Err(DownloadError::invalid(
                "registration",
                format!(
                    "{} is not the Background Fetch of {} (paused or restarted since)",
                    Quoted(registration_id),
                    Quoted(&self.id)
                ),
            ));
        }
        self.resume_with_as(response, true)
    }

    fn resume_with_as(
        self: &Rc<Self>,
        response: web_sys::Response,
        vouched: bool,
    ) -> Result<(), DownloadError> {
        let refused = self.parts.borrow().life.refuses_given();
        if let Some(why) = refused {
            return Err(DownloadError::invalid(
                "download",
                format!("{} {why}", Quoted(&self.id)),
            ));
        }
        let named = self.registration().is_some();
        if self.parts.borrow().life.pauses_for_given() {
            self.pause();
        }
        let vouched = vouched && self.parts.borrow().record.stored.vouched();
        self.parts.borrow_mut().given = Some(Given { response, vouched });
        let lock = self.manager.upgrade().and_then(|m| m.lock_name(&self.id));
        let (Some(name), true) = (lock, named) else {
            self.feed(Input::TakeBack, Ctx::default());
            return Ok(());
        };
        // What Background Fetch fetched (the service worker's call): its lock is taken before
        // the other tabs hear of the run, so that none of them takes the download over first
        // and fetches what the response holds.
        let cell = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(mut wait) = LockWait::new(&name) {
                let guard = wait.granted().await;
                cell.parts.borrow_mut().lock = guard;
            }
            cell.feed(Input::TakeBack, Ctx::default());
            // Settled meanwhile (or closed): nothing runs, and the lock goes.
            if !cell.state().is_active() {
                cell.parts.borrow_mut().lock = None;
            }
        });
        Ok(())
    }

    /// Cancels: final (I10). Settles at once with `ABORTED`; the returned future completes
    /// when the stored bytes are deleted.
    pub fn cancel(self: &Rc<Self>) -> Option<LocalBoxFuture<'static, ()>> {
        self.cancel_with(DownloadError::aborted())
    }

    /// [`DownloadCell::cancel`], settling with `error` (a signal's reason as its cause).
    pub fn cancel_with(
        self: &Rc<Self>,
        error: DownloadError,
    ) -> Option<LocalBoxFuture<'static, ()>> {
        if self.state().is_settled() {
            return None;
        }
        let out = self.feed(Input::Cancel, Ctx::with(error));
        if out.forwarded {
            // The tab that runs it cancels it; this one settles when that tab says so.
            return Some(Box::pin(self.settled()));
        }
        let deleting = out.deleting;
        Some(Box::pin(async move {
            if let Some(d) = deleting {
                let _ = d.await;
            }
        }))
    }

    /// The manager is closing: a running download stops where it is. Its record keeps its
    /// state, so the next manager on this database resumes it. Its `done` rejects, since
    /// nothing will settle it through this handle.
    pub fn close(self: &Rc<Self>, err: DownloadError) {
        self.feed(Input::Close, Ctx::with(err));
    }

    /// What `close` lets go of: the signal, the live progress, `done` (rejected with `err`)
    /// and those waiting for it.
    fn release(&self, err: Option<&DownloadError>) {
        let settle = {
            let mut m = self.parts.borrow_mut();
            m.signal_listener = None;
            m.live = None;
            m.settle.take()
        };
        if let (Some(settle), Some(err)) = (settle, err) {
            let _ = settle.reject.call1(&JsValue::UNDEFINED, &error_to_js(err));
        }
        self.wake_settle_waiters();
    }

    pub fn resumable(&self) -> bool {
        self.parts.borrow().record.stored.resumable()
    }

    /// The Background Fetch registration the record names, if any.
    pub fn registration(&self) -> Option<String> {
        let m = self.parts.borrow();
        m.record.stored.handover.as_ref().map(|h| h.id.clone())
    }

    /// What `blob()` needs: the committed bytes of a completed download.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` unless completed; `STORAGE` if the stored bytes are gone.
    pub fn snapshot(&self) -> Result<(Snapshot, String), DownloadError> {
        let m = self.parts.borrow();
        if m.life.state() != State::Completed {
            return Err(DownloadError::invalid(
                "download",
                format!(
                    "is {}, not completed; the Blob exists once it completes",
                    m.life.state().as_str()
                ),
            ));
        }
        let mime = m
            .record
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let snapshot =
            m.writer.as_ref().map(Writer::snapshot).ok_or_else(|| {
                DownloadError::new(ErrorCode::Storage, "the stored bytes are gone")
            })?;
        Ok((snapshot, mime))
    }
}

/// Follows registration `id`'s progress into `tracker` (reported as the download's) until
/// it ends; `None` when the watch was stopped.
async fn follow_registration(
    cell: &Weak<DownloadCell>,
    id: &str,
    token: &StopToken,
    tracker: Rc<RefCell<ProgressTracker>>,
) -> Option<Ended> {
    let weak = cell.clone();
    let mut seen = 0;
    let watching = crate::web::background::watch(id, BACKGROUND_POLL_MS, move |n| {
        let Some(cell) = weak.upgrade() else { return };
        let due = tracker
            .borrow_mut()
            .on_bytes(n.saturating_sub(seen), now_ms());
        seen = n;
        if let Some(p) = due {
            cell.report_progress(p);
        }
    });
    or_stop(token, Box::pin(watching)).await.ok()
}

/// The progress figures of stored bytes.
pub(crate) fn stored_progress(rec: &Record) -> Progress {
    let mut p = ProgressTracker::new(0, rec.stored.offset);
    p.set_total(rec.stored.total());
    p.snapshot(0.0)
}

impl Report for Rc<DownloadCell> {
    fn url(&self) -> &str {
        &self.url
    }

    fn take_given(&self) -> Option<Given> {
        self.parts.borrow_mut().given.take()
    }

    fn background_plan(&self) -> Result<BackgroundPlan, String> {
        if let Some(why) = self.background_refused() {
            return Err(why);
        }
        let host = self.manager.upgrade().ok_or("the manager was released")?;
        if let Some(why) = host.background_unavailable() {
            return Err(why);
        }
        let title = {
            let m = self.parts.borrow();
            let r = &m.record;
            r.title.clone().or_else(|| r.filename.clone())
        }
        .unwrap_or_else(|| crate::core::naming::default_filename(&self.url));
        Ok(BackgroundPlan {
            id: host.background_id(&self.id),
            title,
            icons: host.background_icons(),
        })
    }

    fn refuse_background(&self, why: String) {
        self.parts.borrow_mut().background_refused = Some(why);
    }

    fn record(&self, rec: &Record) {
        let changed = {
            let old = &self.parts.borrow().record;
            (&old.content_type, &old.disposition, &old.stored.final_url)
                != (&rec.content_type, &rec.disposition, &rec.stored.final_url)
        };
        self.set_record(rec.clone());
        if changed {
            self.mirror(
                "source",
                &[
                    ("contentType", opt_str(&rec.content_type)),
                    ("disposition", opt_str(&rec.disposition)),
                    ("finalUrl", opt_str(&rec.stored.final_url)),
                ],
            );
        }
    }

    fn prepare(
        &self,
        reason: RequestReason,
        attempt: u32,
    ) -> Option<LocalBoxFuture<'static, Result<Prepared, DownloadError>>> {
        let hook = self.manager.upgrade()?.prepare_hook()?;
        Some((hook.0)(RequestCall {
            id: self.id.clone(),
            url: self.url.clone(),
            attempt,
            reason,
            download: self.handle(),
        }))
    }

    fn progress(&self, p: Progress) {
        self.report_progress(p);
    }

    fn restarted(&self, reason: Restart, wasted: u64) {
        self.emit_restarted(reason, wasted);
    }

    fn retry(&self, error: &DownloadError, attempt: u32, delay_ms: u64) {
        self.emit_retry(error, attempt, delay_ms);
    }
}
