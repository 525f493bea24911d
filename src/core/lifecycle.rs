//! A download's lifecycle state, as stored, shown and sent between tabs, and the rules that
//! read it back: what a restored record does, what a takeover continues, what expires.
//!
//! [`Lifecycle`] makes every decision about one download, without IO: the engine feeds it an
//! [`Input`] (a call of the page, an event of the queue, the run, the lock, storage or another
//! tab) and carries out the [`Effect`]s it returns, in order. Between inputs a download is
//! always in a phase that a call or an event leaves again; `cancel()` settles at once (or goes
//! to the tab that runs it); settled states are final except a failed one resumed; there is
//! one run at a time; and what a reload would continue is what is shown (I14).
//!
//! The state strings are part of the JavaScript contract (`download.state`) and of the stored
//! record; [`State::parse`] is the only place they are read back.

/// A download's lifecycle state. A stored state that cannot be read counts as `Paused`
/// (the default): the download waits rather than guessing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// Waiting for a slot.
    Queued,
    /// Transferring (in this tab or another).
    Running,
    /// Stopped by the user (or by storage going away); waits for `resume()`.
    #[default]
    Paused,
    /// Every byte stored and verified.
    Completed,
    /// Stopped by an error; the partial is kept and `resume()` continues it.
    Failed,
    /// Final: the stored bytes are deleted.
    Cancelled,
}

impl State {
    /// Every state, for tests and documentation.
    pub const ALL: [State; 6] = [
        State::Queued,
        State::Running,
        State::Paused,
        State::Completed,
        State::Failed,
        State::Cancelled,
    ];

    /// The JavaScript string.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Paused => "paused",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    /// The state a string names, or `None` for anything else.
    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Completed, failed and cancelled downloads do nothing more by themselves.
    pub const fn is_settled(self) -> bool {
        matches!(self, State::Completed | State::Failed | State::Cancelled)
    }

    /// Queued or running: the download has work to do.
    pub const fn is_active(self) -> bool {
        matches!(self, State::Queued | State::Running)
    }
}

/// True when showing `state` changes what is stored for a download whose stored state is
/// `stored` (I14). Queued and running are stored alike: a reload continues both.
pub fn changes_stored(stored: State, state: State) -> bool {
    stored != state && !(stored.is_active() && state.is_active())
}

/// What a manager that opens does with a download it restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restore {
    /// Nothing: it waits as it was stored (paused, failed, completed and seen).
    Keep,
    /// Completed where no page saw it (its service worker stored it): `complete` now.
    Announce,
    /// An earlier page handed it to Background Fetch: watch the registration.
    Watch,
    /// It was queued or running: it queues for a slot.
    Run,
    /// It was queued or running, and the manager was opened with `resumeOnOpen: false`: it
    /// is shown paused, and what is stored stays as it was.
    ShowPaused,
}

/// What a manager opened with `resume_on_open` does with a download stored in `stored`
/// state, naming a Background Fetch registration (`handed`), and `unseen`.
pub fn on_restore(stored: State, handed: bool, unseen: bool, resume_on_open: bool) -> Restore {
    match stored {
        State::Completed if unseen => Restore::Announce,
        s if s.is_active() && handed => Restore::Watch,
        s if s.is_active() && resume_on_open => Restore::Run,
        s if s.is_active() => Restore::ShowPaused,
        _ => Restore::Keep,
    }
}

/// The state a download read from storage starts in, in a manager that opens (a reload) or in
/// a tab that adopts it. A download that was queued or running continues (it queues for a
/// slot, I14); the others stay as they were.
pub fn restored(stored: State) -> State {
    match stored {
        State::Running | State::Queued => State::Queued,
        s => s,
    }
}

/// Whether a tab that has just been granted a download's lock (its writer went away) takes
/// it over: only a download that was left queued or running (I14). Paused, failed and
/// settled ones stay as they are.
pub fn takes_over(stored: State) -> bool {
    stored.is_active()
}

/// Whether a stored download is deleted when a manager opens: unfinished and untouched for
/// longer than `expire_after_ms` (0 = never). Completed downloads never expire: they are the
/// user's files.
pub fn expired(stored: State, updated_at_ms: f64, now_ms: f64, expire_after_ms: u64) -> bool {
    stored != State::Completed
        && expire_after_ms > 0
        && now_ms - updated_at_ms > expire_after_ms as f64
}

/// Downloads settled since the manager was last idle, for the batch notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Completed downloads.
    pub completed: u32,
    /// Failed downloads.
    pub failed: u32,
    /// Cancelled downloads.
    pub cancelled: u32,
}

impl Batch {
    /// Counts a settled download (other states count nothing).
    pub fn note(&mut self, state: State) {
        match state {
            State::Completed => self.completed += 1,
            State::Failed => self.failed += 1,
            State::Cancelled => self.cancelled += 1,
            _ => {}
        }
    }

    /// True when nothing settled.
    pub fn is_empty(&self) -> bool {
        self.completed + self.failed + self.cancelled == 0
    }

    /// The notification's body: `"3 completed, 1 failed"`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} completed", self.completed)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.cancelled > 0 {
            parts.push(format!("{} cancelled", self.cancelled));
        }
        parts.join(", ")
    }
}

/// Why a run is asked to stop (the engine's stop token carries the same reasons; the first
/// one asked for wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `cancel()`: final.
    Cancel,
    /// `pause()`.
    Pause,
    /// Storage went away.
    StorageLost,
    /// The manager closed.
    Close,
}

/// What a download is doing, as the lifecycle sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing: paused, or waiting for its record to be created or read.
    Idle,
    /// In line for a slot.
    Queued,
    /// A run holds the writer.
    Running {
        /// Asked to stop (the first reason asked for).
        stopping: Option<Stop>,
        /// Resumed while the run winds down: it queues again when the run has ended.
        requeue: bool,
    },
    /// Another tab runs it; this tab waits for its lock.
    Remote,
    /// The browser's Background Fetch transfers it; this tab watches the registration and
    /// holds no lock (the service worker that stores the response takes it).
    Background,
    /// Its run found the stored record changed elsewhere; reading it back.
    Reading,
    /// Another tab settled it in this state; reading the stored record before settling here.
    Adopting(State),
    /// Completed, failed or cancelled.
    Settled,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Every byte stored and verified.
    Completed,
    /// An error the run could not retry.
    Failed,
    /// The stored record changed elsewhere (cancelled in another tab, or taken over).
    Lost,
    /// Stopped as asked.
    Stopped(Stop),
    /// The transfer was handed to Background Fetch (the record says which registration).
    Handed,
}

/// The stored record, as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Deleted (cancelled elsewhere).
    Missing,
    /// Storage failed.
    Unreadable,
    /// Stored in this state.
    Stored(State),
}

/// A call forwarded to the tab that runs the download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `pause()`.
    Pause,
    /// `resume()`.
    Resume,
    /// `cancel()`.
    Cancel,
}

impl Command {
    /// The command's name in tab messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Cancel => "cancel",
        }
    }
}

/// What happens to a download: the page's calls, and what its queue, run, lock, storage and
/// the other tabs report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Asks for a slot (a new or restored download, a takeover, a resume).
    RequestRun,
    /// `resume()`.
    Resume,
    /// `pause()`.
    Pause,
    /// `cancel()`.
    Cancel,
    /// The manager closes.
    Close,
    /// Storage went away.
    StorageLost,
    /// `add()` found the download stored already (by another tab or an earlier page).
    Found(Read),
    /// The download's record could not be created.
    StoreFailed,
    /// The queue granted a slot.
    SlotGranted,
    /// The run did not get the download's lock: another tab writes it.
    LockDenied,
    /// The run holds the lock and transfers.
    RunStarted,
    /// The run's transfer ended; its end is not stored yet.
    RunEnding(End),
    /// The run ended and gave its writer back.
    RunEnded(End),
    /// The stored record after a run that ended [`End::Lost`].
    Reread(Read),
    /// This tab got the lock of a download another tab ran; the stored record.
    LockGranted(Read),
    /// Another tab shows the download in this state.
    Mirror(State),
    /// Another tab reports progress.
    MirrorProgress,
    /// The record of a download another tab settled has been read.
    Adopted,
    /// A download found stored as handed to Background Fetch: this tab watches it.
    InBackground,
    /// Its Background Fetch failed, or ended without the download settling: it runs here.
    BackgroundEnded,
    /// A response was given to a download in Background Fetch (the service worker's
    /// `resumeWith` of the fetched response, or the page's): it runs here with it.
    TakeBack,
}

/// What the engine does, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Put the download in line for a slot.
    Enqueue,
    /// Take it out of line (or out of its slot).
    Dequeue,
    /// Start a run (a new stop token; the run takes the writer and any held lock).
    StartRun,
    /// Ask the run to stop.
    Stop(Stop),
    /// Wait for the download's lock (a new watch token).
    Watch,
    /// Stop waiting for it.
    Unwatch,
    /// Send the call to the tab that runs it.
    Forward(Command),
    /// Store this state (the writer is here).
    Store(State),
    /// The run stores this state with its writer before it ends.
    StoreRun(State),
    /// `statechange`.
    Show {
        /// The state before.
        from: State,
        /// The state now.
        to: State,
    },
    /// Settle: the error, `done`, `statechange`, `complete`/`error`, the batch count.
    Settle {
        /// The state before.
        from: State,
        /// The settled state.
        to: State,
    },
    /// A new `done` for a new run of a failed download.
    RenewDone,
    /// Forget the download's error.
    ClearError,
    /// The error the input came with becomes the download's error.
    SetError,
    /// Keep the manager alive (I15).
    Keep,
    /// Stop keeping it alive.
    DropKeep,
    /// Keep the lock the input came with until the next run.
    HoldLock,
    /// Release a held lock.
    DropLock,
    /// Forget the writer (the stored bytes are gone).
    DropWriter,
    /// Delete the stored bytes.
    Delete,
    /// `idle` if nothing is active any more.
    CheckIdle,
    /// The manager closed: `done` rejects, waiters wake.
    Release,
    /// Once the run's slot has freed, keep the run's lock and ask for a slot again.
    Requeue,
    /// Read the stored record back ([`Input::Reread`]).
    ReadStored,
    /// Read the stored record, then [`Input::Adopted`].
    AdoptStored,
    /// Watch the download's Background Fetch registration.
    WatchBackground,
    /// Stop watching it (the registration goes on).
    UnwatchBackground,
    /// Abort the registration, if it is still under way, and forget it in the record.
    AbortBackground,
}

/// The effects of one input.
pub type Effects = Vec<Effect>;

/// One download's lifecycle: every decision about its phase and state, without any IO.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    phase: Phase,
    state: State,
    stored: State,
    keep: bool,
    lock: bool,
    closed: bool,
}

impl Lifecycle {
    /// A download shown in `state` whose record is stored in `stored`.
    pub fn new(state: State, stored: State) -> Self {
        Lifecycle {
            phase: if state.is_settled() {
                Phase::Settled
            } else {
                Phase::Idle
            },
            state,
            stored,
            keep: false,
            lock: false,
            closed: false,
        }
    }

    /// The state the page sees.
    pub fn state(&self) -> State {
        self.state
    }

    /// The state stored, as far as this tab knows.
    pub fn stored(&self) -> State {
        self.stored
    }

    /// What it is doing.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Why a response given to the download (`resumeWith`) is refused, if it is: another tab
    /// runs it (and fetches its bytes), or it has settled for good.
    pub fn refuses_given(&self) -> Option<&'static str> {
        match self.state() {
            _ if self.is_remote() => Some("runs in another tab, which fetches its bytes"),
            State::Completed | State::Cancelled => Some("has settled"),
            _ => None,
        }
    }

    /// True when a given response first pauses the run under way here (what it received is
    /// kept): the response answers the next run's request.
    pub fn pauses_for_given(&self) -> bool {
        self.state() == State::Running && !self.in_background()
    }

    /// Another tab runs it.
    pub fn is_remote(&self) -> bool {
        self.phase == Phase::Remote
    }

    /// Background Fetch transfers it.
    pub fn in_background(&self) -> bool {
        self.phase == Phase::Background
    }

    /// Whether the manager is kept alive for it.
    pub fn keeps_manager(&self) -> bool {
        self.keep
    }

    /// Whether a lock is held for its next run.
    pub fn holds_lock(&self) -> bool {
        self.lock
    }

    /// Whether another tab's reports apply: not once closed, nor while this tab runs or queues
    /// it (or reads back what its run left), nor once settled (a failed download may be resumed elsewhere).
    pub fn follows_mirror(&self) -> bool {
        !self.closed
            && !matches!(
                self.phase,
                Phase::Running { .. } | Phase::Queued | Phase::Reading
            )
            && (!self.state.is_settled() || self.state == State::Failed)
    }

    /// Shows a download restored from another tab's record as paused until that tab says more.
    pub fn show_paused_silently(&mut self) {
        if !self.state.is_settled() {
            self.state = State::Paused;
        }
    }

    /// Applies `input`; returns what the engine has to do.
    pub fn step(&mut self, input: Input) -> Effects {
        let mut fx = Vec::new();
        match input {
            Input::RequestRun => self.request_run(&mut fx),
            Input::Resume => self.resume(&mut fx),
            Input::Pause => self.pause(&mut fx),
            Input::Cancel => self.cancel(&mut fx),
            Input::Close => self.close(&mut fx),
            Input::StorageLost => self.storage_lost(&mut fx),
            Input::Found(read) => self.found(read, &mut fx),
            Input::StoreFailed => {
                self.rest();
                self.settle(State::Failed, &mut fx);
            }
            Input::SlotGranted => {
                if self.phase == Phase::Queued {
                    self.phase = Phase::Running {
                        stopping: None,
                        requeue: false,
                    };
                    // The run takes the held lock.
                    self.lock = false;
                    fx.push(Effect::StartRun);
                } else {
                    fx.push(Effect::Dequeue);
                }
            }
            Input::LockDenied => self.lock_denied(&mut fx),
            Input::RunStarted => {
                if let Phase::Running { stopping: None, .. } = self.phase {
                    self.show(State::Running, &mut fx);
                    // The run stores an inactive state as running before any byte (I14).
                    if !self.stored.is_active() {
                        self.stored = State::Running;
                    }
                }
            }
            Input::RunEnding(end) => self.run_ending(end, &mut fx),
            Input::RunEnded(end) => self.run_ended(end, &mut fx),
            Input::Reread(read) => {
                if self.phase == Phase::Reading {
                    self.phase = Phase::Idle;
                    self.show_stored(read, &mut fx);
                }
            }
            Input::LockGranted(read) => self.lock_granted(read, &mut fx),
            Input::Mirror(state) => self.mirror(state, &mut fx),
            Input::MirrorProgress => {
                if self.follows_mirror() {
                    self.become_remote(&mut fx);
                }
            }
            Input::Adopted => {
                if let Phase::Adopting(to) = self.phase {
                    self.phase = Phase::Idle;
                    self.rest();
                    self.settle(to, &mut fx);
                }
            }
            // (Only a download stored as active can be in Background Fetch: a pause or a
            // settle forgets the registration.)
            Input::InBackground => {
                if self.phase == Phase::Idle
                    && self.stored.is_active()
                    && !self.state.is_settled()
                    && !self.closed
                {
                    self.phase = Phase::Background;
                    self.show(State::Running, &mut fx);
                    fx.push(Effect::WatchBackground);
                }
            }
            Input::BackgroundEnded => {
                if self.phase == Phase::Background {
                    self.phase = Phase::Idle;
                    fx.push(Effect::UnwatchBackground);
                    self.request_run(&mut fx);
                }
            }
            Input::TakeBack => {
                if self.phase == Phase::Background {
                    self.phase = Phase::Idle;
                    fx.push(Effect::UnwatchBackground);
                    fx.push(Effect::AbortBackground);
                    fx.push(Effect::ClearError);
                    self.request_run(&mut fx);
                } else {
                    self.resume(&mut fx);
                }
            }
        }
        fx
    }

    /// A settled download that nothing runs rests in [`Phase::Settled`].
    fn rest(&mut self) {
        if self.state.is_settled() && !matches!(self.phase, Phase::Running { .. }) {
            self.phase = Phase::Settled;
        }
    }

    fn show(&mut self, to: State, fx: &mut Effects) {
        if self.state.is_settled() || self.state == to {
            return;
        }
        let from = std::mem::replace(&mut self.state, to);
        fx.push(Effect::Show { from, to });
    }

    fn store(&mut self, to: State, fx: &mut Effects) {
        if self.stored == to || (self.stored.is_active() && to.is_active()) {
            return;
        }
        self.stored = to;
        fx.push(Effect::Store(to));
    }

    fn keep(&mut self, fx: &mut Effects) {
        if !self.keep {
            self.keep = true;
            fx.push(Effect::Keep);
        }
    }

    fn drop_keep(&mut self, fx: &mut Effects) {
        if self.keep {
            self.keep = false;
            fx.push(Effect::DropKeep);
        }
    }

    fn drop_lock(&mut self, fx: &mut Effects) {
        if self.lock {
            self.lock = false;
            fx.push(Effect::DropLock);
        }
    }

    fn stop(&mut self, reason: Stop, fx: &mut Effects) {
        if let Phase::Running { stopping, .. } = &mut self.phase {
            stopping.get_or_insert(reason);
            fx.push(Effect::Stop(reason));
        }
    }

    fn stop_watching(&mut self, fx: &mut Effects) {
        match self.phase {
            Phase::Remote => fx.push(Effect::Unwatch),
            Phase::Background => fx.push(Effect::UnwatchBackground),
            _ => return,
        }
        self.phase = Phase::Idle;
    }

    /// Waits as `queued` for a slot; a run winding down (paused a moment ago) queues again
    /// when it has ended.
    fn request_run(&mut self, fx: &mut Effects) {
        if self.closed || self.state.is_settled() {
            return;
        }
        match &mut self.phase {
            Phase::Idle => {
                self.phase = Phase::Queued;
                self.keep(fx);
                self.show(State::Queued, fx);
                self.store(State::Queued, fx);
                fx.push(Effect::Enqueue);
            }
            Phase::Running {
                stopping: Some(_),
                requeue,
            } => {
                *requeue = true;
                self.keep(fx);
                self.show(State::Queued, fx);
            }
            _ => {}
        }
    }

    fn resume(&mut self, fx: &mut Effects) {
        if self.is_remote() {
            fx.push(Effect::Forward(Command::Resume));
            return;
        }
        match self.state {
            State::Failed => self.renew(fx),
            // Paused and resumed again before the pause took effect: the run goes on.
            State::Paused | State::Queued | State::Running => {}
            State::Completed | State::Cancelled => return,
        }
        fx.push(Effect::ClearError);
        self.request_run(fx);
    }

    /// A failed download starts over as paused, with a new `done`.
    fn renew(&mut self, fx: &mut Effects) {
        fx.push(Effect::RenewDone);
        self.state = State::Paused;
        if self.phase == Phase::Settled {
            self.phase = Phase::Idle;
        }
    }

    fn pause(&mut self, fx: &mut Effects) {
        if self.is_remote() {
            fx.push(Effect::Forward(Command::Pause));
            return;
        }
        match &mut self.phase {
            Phase::Queued => {
                self.phase = Phase::Idle;
                self.drop_keep(fx);
                self.drop_lock(fx);
                self.show(State::Paused, fx);
                fx.push(Effect::Dequeue);
                self.store(State::Paused, fx);
            }
            Phase::Running { requeue, .. } => {
                *requeue = false;
                self.stop(Stop::Pause, fx);
                self.show(State::Paused, fx);
            }
            // Background Fetch cannot pause: its registration is aborted, the stored prefix
            // kept, and `resume()` continues it (in the page, or handed over again).
            Phase::Background => {
                self.stop_watching(fx);
                fx.push(Effect::AbortBackground);
                self.show(State::Paused, fx);
                self.store(State::Paused, fx);
            }
            _ => return,
        }
        fx.push(Effect::CheckIdle);
    }

    fn storage_lost(&mut self, fx: &mut Effects) {
        match &mut self.phase {
            Phase::Running { requeue, .. } => {
                *requeue = false;
                self.stop(Stop::StorageLost, fx);
            }
            Phase::Queued => {
                self.phase = Phase::Idle;
                self.drop_keep(fx);
                self.drop_lock(fx);
            }
            _ => return,
        }
        if !self.state.is_settled() {
            fx.push(Effect::SetError);
            self.show(State::Paused, fx);
        }
        fx.push(Effect::Dequeue);
    }

    /// Final (I10): settles at once, unless another tab runs it (that tab cancels it, and
    /// says so).
    fn cancel(&mut self, fx: &mut Effects) {
        if self.state.is_settled() {
            return;
        }
        if self.is_remote() {
            fx.push(Effect::Forward(Command::Cancel));
            return;
        }
        if self.phase == Phase::Background {
            self.stop_watching(fx);
            fx.push(Effect::AbortBackground);
        }
        self.stop(Stop::Cancel, fx);
        fx.push(Effect::DropWriter);
        self.drop_lock(fx);
        // The delete transaction exists before any later write can.
        fx.push(Effect::Delete);
        self.settle(State::Cancelled, fx);
    }

    /// Settles once; a run still winding down ends by itself.
    fn settle(&mut self, to: State, fx: &mut Effects) {
        if self.state.is_settled() {
            return;
        }
        self.stop_watching(fx);
        let running = matches!(self.phase, Phase::Running { .. });
        if !running {
            self.phase = Phase::Settled;
        }
        let from = std::mem::replace(&mut self.state, to);
        fx.push(Effect::Settle { from, to });
        if !running {
            fx.push(Effect::Dequeue);
        }
        fx.push(Effect::CheckIdle);
        self.drop_keep(fx);
    }

    /// The manager closes: a run stops where it is and the stored state stays, so that the
    /// next manager continues it.
    fn close(&mut self, fx: &mut Effects) {
        self.closed = true;
        if self.state.is_settled() {
            return;
        }
        match &mut self.phase {
            Phase::Running { requeue, .. } => {
                *requeue = false;
                self.stop(Stop::Close, fx);
            }
            Phase::Remote => fx.push(Effect::Unwatch),
            // Its registration goes on in the browser; the next manager watches it again.
            Phase::Background => fx.push(Effect::UnwatchBackground),
            _ => {}
        }
        if !matches!(self.phase, Phase::Running { .. }) {
            self.phase = Phase::Idle;
        }
        self.state = State::Paused;
        self.drop_lock(fx);
        fx.push(Effect::Release);
        self.drop_keep(fx);
    }

    /// Another tab writes the download: this tab mirrors it, waiting for its lock, if it was
    /// to run it.
    fn lock_denied(&mut self, fx: &mut Effects) {
        let Phase::Running { requeue, .. } = self.phase else {
            return;
        };
        self.drop_keep(fx);
        self.phase = Phase::Idle;
        self.rest();
        if (requeue || self.state == State::Queued) && !self.state.is_settled() {
            self.become_remote(fx);
        }
    }

    fn become_remote(&mut self, fx: &mut Effects) {
        match self.phase {
            // The service worker (or another tab) now writes what Background Fetch fetched.
            Phase::Idle | Phase::Background => {
                if self.phase == Phase::Background {
                    fx.push(Effect::UnwatchBackground);
                }
                self.phase = Phase::Remote;
                self.show(State::Running, fx);
                fx.push(Effect::Watch);
            }
            Phase::Remote => self.show(State::Running, fx),
            _ => {}
        }
    }

    /// A handover to Background Fetch that a stop (or a resume) overtook counts as the stop:
    /// its registration is aborted.
    fn handed(&self, end: End, fx: &mut Effects) -> End {
        match (end, self.phase) {
            (
                End::Handed,
                Phase::Running {
                    stopping: Some(r), ..
                },
            ) => {
                fx.push(Effect::AbortBackground);
                End::Stopped(r)
            }
            (End::Handed, Phase::Running { requeue: true, .. }) => {
                fx.push(Effect::AbortBackground);
                End::Stopped(Stop::Pause)
            }
            _ => end,
        }
    }

    fn run_ending(&mut self, end: End, fx: &mut Effects) {
        let Phase::Running { requeue, .. } = self.phase else {
            return;
        };
        // (Aborted when the run has ended, if it still counts as a stop then.)
        let end = self.handed(end, &mut Vec::new());
        match end {
            // The partial is kept (I8): the user may resume.
            End::Failed => {
                self.stored = State::Failed;
                fx.push(Effect::StoreRun(State::Failed));
            }
            End::Stopped(Stop::Pause) if !requeue => {
                self.stored = State::Paused;
                fx.push(Effect::StoreRun(State::Paused));
            }
            _ => {}
        }
    }

    fn run_ended(&mut self, end: End, fx: &mut Effects) {
        let Phase::Running { requeue, .. } = self.phase else {
            return;
        };
        let end = self.handed(end, fx);
        self.phase = Phase::Idle;
        match end {
            End::Handed if !self.state.is_settled() && !self.closed => {
                // The browser transfers it; the manager need not stay for it.
                self.phase = Phase::Background;
                self.drop_keep(fx);
                fx.push(Effect::WatchBackground);
            }
            End::Handed if self.state.is_settled() => self.phase = Phase::Settled,
            End::Completed | End::Failed => {
                self.phase = Phase::Settled;
                let to = match end {
                    End::Completed => State::Completed,
                    _ => State::Failed,
                };
                self.settle(to, fx);
            }
            End::Lost if !self.state.is_settled() => {
                // Changed elsewhere: what is stored says what it is now.
                self.phase = Phase::Reading;
                fx.push(Effect::ReadStored);
            }
            _ if self.state.is_settled() => self.phase = Phase::Settled,
            _ if requeue => fx.push(Effect::Requeue),
            End::Stopped(reason) => {
                // Paused again while its end was stored for a resume: stored now (I14).
                if reason == Stop::Pause && !self.closed {
                    self.store(State::Paused, fx);
                }
                self.drop_keep(fx);
            }
            _ => self.drop_keep(fx),
        }
    }

    /// Shows a stored record's state on an idle download: settled ones settle, others pause.
    fn show_stored(&mut self, read: Read, fx: &mut Effects) {
        match read {
            Read::Missing => {
                fx.push(Effect::DropWriter);
                self.settle(State::Cancelled, fx);
            }
            Read::Unreadable => {
                fx.push(Effect::SetError);
                self.drop_keep(fx);
                self.show(State::Paused, fx);
            }
            Read::Stored(s) => {
                self.stored = s;
                if s.is_settled() {
                    self.settle(s, fx);
                } else {
                    self.drop_keep(fx);
                    self.show(State::Paused, fx);
                    fx.push(Effect::CheckIdle);
                }
            }
        }
    }

    /// The lock of a download another tab ran: it continues here if it was left active.
    fn lock_granted(&mut self, read: Read, fx: &mut Effects) {
        if self.phase != Phase::Remote {
            return;
        }
        self.phase = Phase::Idle;
        match read {
            Read::Stored(s) if takes_over(s) => {
                self.stored = s;
                self.lock = true;
                fx.push(Effect::HoldLock);
                self.request_run(fx);
            }
            _ => self.show_stored(read, fx),
        }
    }

    fn found(&mut self, read: Read, fx: &mut Effects) {
        if self.state.is_settled() {
            return;
        }
        match read {
            Read::Stored(s) => {
                self.stored = s;
                self.phase = Phase::Idle;
                if restored(s) == State::Queued {
                    self.request_run(fx);
                } else {
                    self.show_stored(read, fx);
                    fx.push(Effect::Dequeue);
                }
            }
            Read::Missing | Read::Unreadable => {
                self.phase = Phase::Settled;
                self.settle(State::Failed, fx);
            }
        }
    }

    fn mirror(&mut self, to: State, fx: &mut Effects) {
        if !self.follows_mirror() {
            return;
        }
        match to {
            State::Running | State::Queued => {
                if self.state == State::Failed {
                    self.renew(fx);
                }
                self.become_remote(fx);
            }
            State::Paused => {
                self.stop_watching(fx);
                self.show(State::Paused, fx);
            }
            State::Cancelled => {
                self.stop_watching(fx);
                fx.push(Effect::DropWriter);
                self.settle(State::Cancelled, fx);
            }
            State::Completed | State::Failed => {
                self.stop_watching(fx);
                // The stored record (its chunks, its final size) comes from storage first.
                self.phase = Phase::Adopting(to);
                fx.push(Effect::AdoptStored);
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn a_given_response_is_refused_by_a_remote_or_final_download() {
        let l = |state: State, stored: State| Lifecycle::new(state, stored);
        assert_eq!(l(State::Paused, State::Paused).refuses_given(), None);
        assert_eq!(l(State::Failed, State::Failed).refuses_given(), None);
        for s in [State::Completed, State::Cancelled] {
            assert_eq!(l(s, s).refuses_given(), Some("has settled"));
        }
        let mut remote = l(State::Queued, State::Running);
        remote.step(Input::RequestRun);
        remote.step(Input::SlotGranted);
        remote.step(Input::LockDenied);
        assert!(remote.is_remote());
        assert!(remote
            .refuses_given()
            .is_some_and(|w| w.contains("another tab")));
        let mut running = l(State::Queued, State::Running);
        running.step(Input::RequestRun);
        running.step(Input::SlotGranted);
        running.step(Input::RunStarted);
        assert_eq!(running.state(), State::Running);
        assert!(running.pauses_for_given());
        assert!(!l(State::Paused, State::Paused).pauses_for_given());
    }

    #[test]
    fn queued_and_running_are_stored_alike() {
        use State::*;
        for stored in State::ALL {
            for state in State::ALL {
                let same = stored == state || (stored.is_active() && state.is_active());
                assert_eq!(
                    changes_stored(stored, state),
                    !same,
                    "{stored:?} -> {state:?}"
                );
            }
        }
        assert!(!changes_stored(Running, Queued));
        assert!(changes_stored(Running, Paused));
    }

    #[test]
    fn a_restored_download_continues_what_its_record_says() {
        use State::*;
        assert_eq!(on_restore(Completed, false, true, true), Restore::Announce);
        assert_eq!(on_restore(Completed, false, false, true), Restore::Keep);
        for active in [Queued, Running] {
            assert_eq!(on_restore(active, true, false, true), Restore::Watch);
            assert_eq!(on_restore(active, true, false, false), Restore::Watch);
            assert_eq!(on_restore(active, false, false, true), Restore::Run);
            assert_eq!(on_restore(active, false, false, false), Restore::ShowPaused);
        }
        for stopped in [Paused, Failed, Cancelled] {
            for (handed, unseen, resume) in [(false, false, true), (true, true, false)] {
                assert_eq!(on_restore(stopped, handed, unseen, resume), Restore::Keep);
            }
        }
    }

    #[test]
    fn strings_round_trip_and_nothing_else_parses() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for bad in ["", "Running", "done", "paused ", "null"] {
            assert_eq!(State::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn restore_table() {
        let table = [
            (State::Running, State::Queued),
            (State::Queued, State::Queued),
            (State::Paused, State::Paused),
            (State::Failed, State::Failed),
            (State::Completed, State::Completed),
            (State::Cancelled, State::Cancelled),
        ];
        for (stored, expected) in table {
            assert_eq!(restored(stored), expected, "{stored:?}");
        }
    }

    #[test]
    fn only_active_downloads_are_taken_over() {
        for s in State::ALL {
            assert_eq!(takes_over(s), s.is_active(), "{s:?}");
        }
    }

    #[test]
    fn expiry_rules() {
        let day = 86_400_000u64;
        let now = 100.0 * day as f64;
        let old = now - 8.0 * day as f64;
        let fresh = now - day as f64;
        for s in [State::Running, State::Paused, State::Failed, State::Queued] {
            assert!(expired(s, old, now, 7 * day), "{s:?}");
            assert!(!expired(s, fresh, now, 7 * day), "{s:?}");
            assert!(!expired(s, old, now, 0), "0 means never");
        }
        assert!(!expired(State::Completed, old, now, 7 * day));
    }

    #[test]
    fn batch_summary() {
        let mut b = Batch::default();
        assert!(b.is_empty());
        b.note(State::Completed);
        b.note(State::Completed);
        b.note(State::Running);
        assert_eq!(b.summary(), "2 completed");
        b.note(State::Failed);
        b.note(State::Cancelled);
        assert_eq!(b.summary(), "2 completed, 1 failed, 1 cancelled");
        assert!(!b.is_empty());
    }

    mod machine {
        use super::super::*;
        use proptest::prelude::*;
        use Effect as E;
        use Input as I;

        /// A download restored as `state` (its record stored so), asking for a slot if queued.
        fn restored_as(stored: State) -> (Lifecycle, Effects) {
            let mut l = Lifecycle::new(restored(stored), stored);
            let fx = if l.state() == State::Queued {
                l.step(I::RequestRun)
            } else {
                Vec::new()
            };
            (l, fx)
        }

        fn queued() -> Lifecycle {
            restored_as(State::Paused).0.resumed()
        }

        impl Lifecycle {
            fn resumed(mut self) -> Self {
                self.step(I::Resume);
                self
            }
            fn then(mut self, input: Input) -> Self {
                self.step(input);
                self
            }
        }

        fn running() -> Lifecycle {
            queued().then(I::SlotGranted).then(I::RunStarted)
        }

        fn remote() -> Lifecycle {
            queued().then(I::SlotGranted).then(I::LockDenied)
        }

        fn show(from: State, to: State) -> Effect {
            E::Show { from, to }
        }

        fn settle(from: State, to: State) -> Effect {
            E::Settle { from, to }
        }

        #[test]
        fn request_and_resume() {
            let (l, fx) = restored_as(State::Running);
            assert_eq!(fx, vec![E::Keep, E::Enqueue]);
            assert_eq!((l.phase(), l.state()), (Phase::Queued, State::Queued));

            let mut l = restored_as(State::Paused).0;
            let fx = l.step(I::Resume);
            assert_eq!(
                fx,
                vec![
                    E::ClearError,
                    E::Keep,
                    show(State::Paused, State::Queued),
                    E::Store(State::Queued),
                    E::Enqueue
                ]
            );
            // Already queued: nothing more.
            assert_eq!(l.step(I::Resume), vec![E::ClearError]);
            assert_eq!(l.step(I::RequestRun), vec![]);

            let mut l = restored_as(State::Failed).0;
            let fx = l.step(I::Resume);
            assert_eq!(fx[..2], [E::RenewDone, E::ClearError]);
            assert!(fx.contains(&show(State::Paused, State::Queued)));
            assert!(fx.contains(&E::Store(State::Queued)));
            for s in [State::Completed, State::Cancelled] {
                assert_eq!(restored_as(s).0.step(I::Resume), vec![], "{s:?}");
            }
        }

        #[test]
        fn slot_and_run() {
            let mut l = queued();
            assert_eq!(l.step(I::SlotGranted), vec![E::StartRun]);
            assert_eq!(
                l.step(I::SlotGranted),
                vec![E::Dequeue],
                "one run at a time"
            );
            assert_eq!(
                l.step(I::RunStarted),
                vec![show(State::Queued, State::Running)]
            );
            assert_eq!(l.step(I::RunEnding(End::Completed)), vec![]);
            assert_eq!(
                l.step(I::RunEnded(End::Completed)),
                vec![
                    settle(State::Running, State::Completed),
                    E::Dequeue,
                    E::CheckIdle,
                    E::DropKeep
                ]
            );
            let mut l = running();
            assert_eq!(
                l.step(I::RunEnding(End::Failed)),
                vec![E::StoreRun(State::Failed)]
            );
            l.step(I::RunEnded(End::Failed));
            assert_eq!((l.phase(), l.state()), (Phase::Settled, State::Failed));
        }

        #[test]
        fn pause_queued_and_running() {
            let mut l = queued();
            assert_eq!(
                l.step(I::Pause),
                vec![
                    E::DropKeep,
                    show(State::Queued, State::Paused),
                    E::Dequeue,
                    E::Store(State::Paused),
                    E::CheckIdle
                ]
            );
            let mut l = running();
            assert_eq!(
                l.step(I::Pause),
                vec![
                    E::Stop(Stop::Pause),
                    show(State::Running, State::Paused),
                    E::CheckIdle
                ]
            );
            assert_eq!(
                l.step(I::RunEnding(End::Stopped(Stop::Pause))),
                vec![E::StoreRun(State::Paused)]
            );
            assert_eq!(
                l.step(I::RunEnded(End::Stopped(Stop::Pause))),
                vec![E::DropKeep]
            );
            assert_eq!((l.phase(), l.state()), (Phase::Idle, State::Paused));
            assert_eq!(restored_as(State::Paused).0.step(I::Pause), vec![]);
        }

        #[test]
        fn pause_then_resume_in_one_tick_requeues_after_the_run() {
            let mut l = running();
            l.step(I::Pause);
            assert_eq!(
                l.step(I::Resume),
                vec![E::ClearError, show(State::Paused, State::Queued)]
            );
            assert_eq!(l.step(I::RunEnding(End::Stopped(Stop::Pause))), vec![]);
            assert_eq!(
                l.step(I::RunEnded(End::Stopped(Stop::Pause))),
                vec![E::Requeue]
            );
            assert!(l.keeps_manager());
            assert_eq!(l.step(I::RequestRun), vec![E::Enqueue]);
            assert_eq!(l.phase(), Phase::Queued);
        }

        #[test]
        fn paused_again_while_the_pause_is_stored() {
            let mut l = running().then(I::Pause).resumed();
            // Resumed: the run's end stores nothing, it queues again...
            assert_eq!(l.step(I::RunEnding(End::Stopped(Stop::Pause))), vec![]);
            // ...but paused once more before it has ended: paused is stored after all.
            l.step(I::Pause);
            assert_eq!(
                l.step(I::RunEnded(End::Stopped(Stop::Pause))),
                vec![E::Store(State::Paused), E::DropKeep]
            );
            assert_eq!((l.phase(), l.state()), (Phase::Idle, State::Paused));
        }

        #[test]
        fn cancel_settles_at_once() {
            let mut l = running();
            assert_eq!(
                l.step(I::Cancel),
                vec![
                    E::Stop(Stop::Cancel),
                    E::DropWriter,
                    E::Delete,
                    settle(State::Running, State::Cancelled),
                    E::CheckIdle,
                    E::DropKeep
                ]
            );
            assert_eq!(l.step(I::Cancel), vec![]);
            assert_eq!(l.step(I::RunEnded(End::Stopped(Stop::Cancel))), vec![]);
            assert_eq!(l.phase(), Phase::Settled);
            let mut l = queued();
            let fx = l.step(I::Cancel);
            assert!(fx.contains(&E::Dequeue) && fx.contains(&E::Delete));
            assert_eq!(l.step(I::Cancel), vec![]);
        }

        fn handed() -> Lifecycle {
            running()
                .then(I::RunEnding(End::Handed))
                .then(I::RunEnded(End::Handed))
        }

        #[test]
        fn a_run_hands_over_to_background_fetch() {
            let mut l = running();
            assert_eq!(
                l.step(I::RunEnding(End::Handed)),
                vec![],
                "nothing to store"
            );
            assert_eq!(
                l.step(I::RunEnded(End::Handed)),
                vec![E::DropKeep, E::WatchBackground]
            );
            assert_eq!((l.phase(), l.state()), (Phase::Background, State::Running));
            assert!(l.in_background() && !l.keeps_manager() && !l.holds_lock());
            assert!(l.follows_mirror());
            // Already running: resume() does nothing, and nothing starts a run here.
            assert_eq!(l.step(I::Resume), vec![E::ClearError]);
            assert_eq!(l.step(I::RequestRun), vec![]);
        }

        #[test]
        fn a_handover_overtaken_by_a_stop_aborts_the_registration() {
            let mut l = running().then(I::Pause);
            assert_eq!(
                l.step(I::RunEnding(End::Handed)),
                vec![E::StoreRun(State::Paused)]
            );
            let fx = l.step(I::RunEnded(End::Handed));
            assert_eq!(fx[0], E::AbortBackground);
            assert_eq!((l.phase(), l.state()), (Phase::Idle, State::Paused));

            // Paused and resumed before the run ended: it runs again, in the page.
            let mut l = running().then(I::Pause).resumed();
            l.step(I::RunEnding(End::Handed));
            assert_eq!(
                l.step(I::RunEnded(End::Handed)),
                vec![E::AbortBackground, E::Requeue]
            );

            // Cancelled while handing over: settled already, the registration aborted.
            let mut l = running().then(I::Cancel);
            l.step(I::RunEnding(End::Handed));
            assert_eq!(l.step(I::RunEnded(End::Handed)), vec![E::AbortBackground]);
            assert_eq!((l.phase(), l.state()), (Phase::Settled, State::Cancelled));

            // The manager closed meanwhile: the registration goes on for the next one.
            let mut l = running().then(I::Close);
            l.step(I::RunEnding(End::Handed));
            let fx = l.step(I::RunEnded(End::Handed));
            assert!(!fx.contains(&E::WatchBackground), "{fx:?}");
            assert_eq!(fx[0], E::AbortBackground, "a close is a stop too: {fx:?}");
        }

        #[test]
        fn pause_and_cancel_in_background_abort_the_registration() {
            let mut l = handed();
            assert_eq!(
                l.step(I::Pause),
                vec![
                    E::UnwatchBackground,
                    E::AbortBackground,
                    show(State::Running, State::Paused),
                    E::Store(State::Paused),
                    E::CheckIdle
                ]
            );
            assert_eq!((l.phase(), l.stored()), (Phase::Idle, State::Paused));
            let mut l = handed();
            let fx = l.step(I::Cancel);
            assert_eq!(
                fx[..3],
                [E::UnwatchBackground, E::AbortBackground, E::DropWriter]
            );
            assert!(fx.contains(&E::Delete));
            assert_eq!((l.phase(), l.state()), (Phase::Settled, State::Cancelled));
        }

        #[test]
        fn a_background_download_ends_in_the_page_or_as_the_service_worker_says() {
            // Failed (or gone unsettled): it runs in the page.
            let mut l = handed();
            assert_eq!(
                l.step(I::BackgroundEnded),
                vec![
                    E::UnwatchBackground,
                    E::Keep,
                    show(State::Running, State::Queued),
                    E::Enqueue
                ]
            );
            // The service worker stores the response: this tab follows it, then adopts what
            // it stored.
            let mut l = handed();
            assert_eq!(
                l.step(I::Mirror(State::Queued)),
                vec![E::UnwatchBackground, E::Watch]
            );
            assert!(l.is_remote());
            assert_eq!(
                l.step(I::Mirror(State::Completed)),
                vec![E::Unwatch, E::AdoptStored]
            );
            l.step(I::Adopted);
            assert_eq!(l.state(), State::Completed);
            // Restored as handed over: watched, not run.
            let mut l = restored_as(State::Paused).0;
            l.stored = State::Running;
            assert_eq!(
                l.step(I::InBackground),
                vec![show(State::Paused, State::Running), E::WatchBackground]
            );
            assert_eq!(l.step(I::InBackground), vec![], "watched once");
            // A response given to it: it runs here with it.
            let fx = l.step(I::TakeBack);
            assert_eq!(
                fx[..3],
                [E::UnwatchBackground, E::AbortBackground, E::ClearError]
            );
            assert!(fx.contains(&E::Enqueue));
            // Closing leaves the registration to the browser.
            let mut l = handed();
            let fx = l.step(I::Close);
            assert_eq!(fx[0], E::UnwatchBackground);
            assert!(!fx.contains(&E::AbortBackground));
        }

        #[test]
        fn a_remote_download_forwards_calls() {
            let mut l = remote();
            assert_eq!((l.phase(), l.state()), (Phase::Remote, State::Running));
            assert!(!l.keeps_manager());
            for (input, c) in [
                (I::Pause, Command::Pause),
                (I::Resume, Command::Resume),
                (I::Cancel, Command::Cancel),
            ] {
                assert_eq!(l.step(input), vec![E::Forward(c)]);
            }
        }

        #[test]
        fn lock_denied_mirrors_only_what_was_to_run() {
            let mut l = queued().then(I::SlotGranted);
            assert_eq!(
                l.step(I::LockDenied),
                vec![E::DropKeep, show(State::Queued, State::Running), E::Watch]
            );
            let mut l = queued().then(I::SlotGranted).then(I::Pause);
            l.step(I::LockDenied);
            assert_eq!((l.phase(), l.state()), (Phase::Idle, State::Paused));
            let mut l = queued().then(I::SlotGranted).then(I::Pause).resumed();
            l.step(I::LockDenied);
            assert_eq!((l.phase(), l.state()), (Phase::Remote, State::Running));
        }

        #[test]
        fn takeover_continues_only_active_downloads() {
            for s in State::ALL {
                let mut l = remote();
                let fx = l.step(I::LockGranted(Read::Stored(s)));
                let expected = match s {
                    State::Queued | State::Running => (Phase::Queued, State::Queued),
                    State::Paused => (Phase::Idle, State::Paused),
                    settled => (Phase::Settled, settled),
                };
                assert_eq!((l.phase(), l.state()), expected, "{s:?}");
                assert_eq!(fx.contains(&E::HoldLock), s.is_active(), "{s:?}");
                assert_eq!(l.holds_lock(), s.is_active());
            }
            let mut l = remote();
            l.step(I::LockGranted(Read::Missing));
            assert_eq!(l.state(), State::Cancelled);
            let mut l = remote();
            assert!(l
                .step(I::LockGranted(Read::Unreadable))
                .contains(&E::SetError));
            assert_eq!((l.phase(), l.state()), (Phase::Idle, State::Paused));
            // Not waiting for it any more: nothing.
            assert_eq!(
                queued().step(I::LockGranted(Read::Stored(State::Running))),
                vec![]
            );
        }

        #[test]
        fn a_lost_run_reads_back_what_is_stored() {
            let mut l = running();
            assert_eq!(l.step(I::RunEnded(End::Lost)), vec![E::ReadStored]);
            assert_eq!(l.phase(), Phase::Reading);
            l.step(I::Reread(Read::Stored(State::Running)));
            assert_eq!((l.phase(), l.state()), (Phase::Idle, State::Paused));
            assert!(!l.keeps_manager());
            let mut l = running().then(I::RunEnded(End::Lost));
            l.step(I::Reread(Read::Missing));
            assert_eq!(l.state(), State::Cancelled);
        }

        #[test]
        fn mirror_table() {
            let table = [
                (State::Running, Phase::Remote, State::Running),
                (State::Queued, Phase::Remote, State::Running),
                (State::Paused, Phase::Idle, State::Paused),
                (State::Cancelled, Phase::Settled, State::Cancelled),
                (
                    State::Completed,
                    Phase::Adopting(State::Completed),
                    State::Running,
                ),
            ];
            for (to, phase, state) in table {
                let mut l = remote();
                l.step(I::Mirror(to));
                assert_eq!((l.phase(), l.state()), (phase, state), "{to:?}");
            }
            let mut l = remote().then(I::Mirror(State::Completed));
            l.step(I::Adopted);
            assert_eq!((l.phase(), l.state()), (Phase::Settled, State::Completed));
            // A failed download resumed in another tab.
            let mut l = restored_as(State::Failed).0;
            assert_eq!(
                l.step(I::Mirror(State::Running)),
                vec![E::RenewDone, show(State::Paused, State::Running), E::Watch]
            );
            // This tab's own run is the truth.
            for l in [queued(), running()] {
                for to in State::ALL {
                    assert_eq!(l.clone().step(I::Mirror(to)), vec![], "{to:?}");
                }
            }
            let mut l = restored_as(State::Paused).0;
            assert_eq!(
                l.step(I::MirrorProgress),
                vec![show(State::Paused, State::Running), E::Watch]
            );
        }

        #[test]
        fn close_keeps_the_stored_state() {
            let mut l = running();
            let fx = l.step(I::Close);
            assert_eq!(fx, vec![E::Stop(Stop::Close), E::Release, E::DropKeep]);
            assert_eq!(l.state(), State::Paused);
            assert!(l.stored().is_active());
            assert_eq!(l.step(I::RunEnding(End::Stopped(Stop::Close))), vec![]);
            assert_eq!(l.step(I::RunEnded(End::Stopped(Stop::Close))), vec![]);
            assert_eq!(l.step(I::Resume), vec![E::ClearError], "closed: no new run");
            let mut l = remote();
            assert_eq!(l.step(I::Close), vec![E::Unwatch, E::Release]);
        }

        #[test]
        fn storage_lost_pauses() {
            let mut l = queued();
            assert_eq!(
                l.step(I::StorageLost),
                vec![
                    E::DropKeep,
                    E::SetError,
                    show(State::Queued, State::Paused),
                    E::Dequeue
                ]
            );
            let mut l = running();
            let fx = l.step(I::StorageLost);
            assert_eq!(fx[0], E::Stop(Stop::StorageLost));
            assert_eq!(restored_as(State::Paused).0.step(I::StorageLost), vec![]);
        }

        #[test]
        fn found_stored() {
            let mut l = Lifecycle::new(State::Queued, State::Queued);
            let fx = l.step(I::Found(Read::Stored(State::Paused)));
            assert_eq!(
                fx,
                vec![show(State::Queued, State::Paused), E::CheckIdle, E::Dequeue]
            );
            let mut l = Lifecycle::new(State::Queued, State::Queued);
            assert_eq!(
                l.step(I::Found(Read::Stored(State::Running))),
                vec![E::Keep, E::Enqueue]
            );
            let mut l = Lifecycle::new(State::Queued, State::Queued);
            l.step(I::Found(Read::Unreadable));
            assert_eq!((l.phase(), l.state()), (Phase::Settled, State::Failed));
            let mut l = Lifecycle::new(State::Queued, State::Queued);
            l.step(I::StoreFailed);
            assert_eq!((l.phase(), l.state()), (Phase::Settled, State::Failed));
        }

        /// Where the run, queue, lock wait and reads of the model stand, to offer only the
        /// events that can happen.
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        enum Run {
            #[default]
            None,
            /// Waiting for its lock.
            Locking,
            Transferring,
            /// Stopped before it transferred anything.
            Stopped(Stop),
            /// Storing its end.
            Ending(End),
        }

        #[derive(Default)]
        struct World {
            queued: bool,
            run: Run,
            watching: bool,
            reading: bool,
            adopting: bool,
            /// Its Background Fetch registration is watched.
            background: bool,
        }

        const READS: [Read; 8] = [
            Read::Missing,
            Read::Unreadable,
            Read::Stored(State::Queued),
            Read::Stored(State::Running),
            Read::Stored(State::Paused),
            Read::Stored(State::Completed),
            Read::Stored(State::Failed),
            Read::Stored(State::Cancelled),
        ];

        impl World {
            /// What can happen now; `pick` chooses a variant (a read, a state).
            fn possible(&self, l: &Lifecycle, pick: usize) -> Vec<Input> {
                let mut v = vec![
                    I::Pause,
                    I::Resume,
                    I::Cancel,
                    I::Pause,
                    I::Resume,
                    I::StorageLost,
                    I::Mirror(State::ALL[pick % 6]),
                    I::MirrorProgress,
                    I::InBackground,
                    I::TakeBack,
                ];
                if self.background {
                    v.push(I::BackgroundEnded);
                }
                if pick % 13 == 0 {
                    v.push(I::Close);
                }
                if self.queued {
                    v.push(I::SlotGranted);
                }
                match self.run {
                    Run::None => {}
                    Run::Locking => {
                        v.push(I::LockDenied);
                        v.push(I::RunStarted);
                    }
                    Run::Transferring => {
                        let ends = [End::Completed, End::Failed, End::Lost, End::Handed];
                        v.push(I::RunEnding(ends[pick % 4]));
                        if let Phase::Running {
                            stopping: Some(r), ..
                        } = l.phase()
                        {
                            v.push(I::RunEnding(End::Stopped(r)));
                            v.push(I::RunEnding(End::Stopped(r)));
                        }
                    }
                    Run::Stopped(r) => v.push(I::RunEnding(End::Stopped(r))),
                    Run::Ending(end) => v.push(I::RunEnded(end)),
                }
                if self.watching {
                    v.push(I::LockGranted(READS[pick % 8]));
                }
                if self.reading {
                    v.push(I::Reread(READS[pick % 8]));
                }
                if self.adopting {
                    v.push(I::Adopted);
                }
                v
            }

            fn note(&mut self, input: Input, fx: &Effects, l: &Lifecycle) {
                match input {
                    I::LockDenied => self.run = Run::None,
                    // A run stopped before it got its lock goes straight to its end.
                    I::RunStarted => {
                        self.run = match l.phase() {
                            Phase::Running {
                                stopping: Some(r), ..
                            } => Run::Stopped(r),
                            _ => Run::Transferring,
                        }
                    }
                    I::RunEnding(end) => self.run = Run::Ending(end),
                    I::RunEnded(_) => self.run = Run::None,
                    I::LockGranted(_) => self.watching = false,
                    I::Reread(_) => self.reading = false,
                    I::Adopted => self.adopting = false,
                    // The manager's queue closes with it.
                    I::Close => self.queued = false,
                    _ => {}
                }
                for e in fx {
                    match e {
                        E::Enqueue => self.queued = true,
                        E::Dequeue => self.queued = false,
                        E::StartRun => {
                            assert_eq!(self.run, Run::None, "one run at a time");
                            self.queued = false;
                            self.run = Run::Locking;
                        }
                        E::Watch => self.watching = true,
                        E::Unwatch => self.watching = false,
                        E::WatchBackground => {
                            assert!(!self.background, "one watcher at a time");
                            self.background = true;
                        }
                        E::UnwatchBackground => {
                            assert!(self.background, "unwatched what was not watched");
                            self.background = false;
                        }
                        E::ReadStored => self.reading = true,
                        E::AdoptStored => self.adopting = true,
                        _ => {}
                    }
                }
            }
        }

        /// Invariants that hold between inputs.
        fn check(l: &Lifecycle, w: &World) {
            let p = l.phase();
            let s = l.state();
            let waiting_run = matches!(p, Phase::Running { stopping: None, .. });
            let requeues = matches!(p, Phase::Running { requeue: true, .. });
            // Reading a record back ends with an event, whatever is shown meanwhile.
            let reading = matches!(p, Phase::Reading | Phase::Adopting(_));
            match s {
                _ if reading => {}
                State::Queued => assert!(
                    p == Phase::Queued || waiting_run || requeues || p == Phase::Adopting(s),
                    "queued but {p:?}"
                ),
                State::Running => assert!(
                    waiting_run
                        || p == Phase::Remote
                        || p == Phase::Background
                        || p == Phase::Reading
                        || matches!(p, Phase::Adopting(_)),
                    "running but {p:?}"
                ),
                State::Paused => assert!(
                    matches!(
                        p,
                        Phase::Idle
                            | Phase::Reading
                            | Phase::Adopting(_)
                            | Phase::Running {
                                stopping: Some(_),
                                requeue: false
                            }
                    ),
                    "paused but {p:?}"
                ),
                _ => assert!(
                    matches!(
                        p,
                        Phase::Settled
                            | Phase::Adopting(_)
                            | Phase::Running {
                                stopping: Some(_),
                                ..
                            }
                    ),
                    "{s:?} but {p:?}"
                ),
            }
            if let Phase::Running {
                stopping: Some(_), ..
            } = p
            {
                assert_ne!(s, State::Running);
            }
            // I15: the manager is kept alive exactly while there is work to do here.
            let work = p == Phase::Queued
                || (matches!(p, Phase::Running { .. }) && !s.is_settled() && !l.closed);
            // (While the record of a lost run is read back, the run's hold lasts.)
            if !reading {
                assert_eq!(l.keeps_manager(), work, "keep in {p:?} {s:?}");
            }
            if l.holds_lock() {
                assert_eq!(p, Phase::Queued);
            }
            // The model's view agrees with the machine's.
            assert_eq!(w.queued, p == Phase::Queued, "queue in {p:?}");
            assert_eq!(w.run != Run::None, matches!(p, Phase::Running { .. }));
            assert_eq!(w.watching, p == Phase::Remote);
            assert_eq!(w.background, p == Phase::Background);
            if p == Phase::Background {
                assert!(
                    l.stored().is_active() && !l.holds_lock(),
                    "background {:?}",
                    l.stored()
                );
            }
            // I14: what this tab queues or runs is stored active (a run winding down stores
            // its end; resumed meanwhile, it stores `queued` when it queues again).
            let ending = matches!(w.run, Run::Ending(_));
            if p == Phase::Queued || (waiting_run && !ending) {
                assert!(l.stored().is_active(), "{s:?} stored {:?}", l.stored());
            }
        }

        fn start(kind: usize) -> (Lifecycle, Effects) {
            match kind % 8 {
                k @ 0..=5 => restored_as(State::ALL[k]),
                6 => {
                    let mut l = Lifecycle::new(State::Queued, State::Queued);
                    let fx = l.step(I::RequestRun);
                    (l, fx)
                }
                _ => {
                    let mut l = Lifecycle::new(State::Queued, State::Queued);
                    let fx = l.step(I::Found(READS[kind / 8 % 8]));
                    (l, fx)
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]
            #[test]
            fn random_sequences_keep_the_invariants(
                kind in 0usize..64,
                steps in proptest::collection::vec((0usize..64, 0usize..64, 1usize..5), 1..60)
            ) {
                let (mut l, fx) = start(kind);
                let mut w = World::default();
                w.note(I::RequestRun, &fx, &l);
                check(&l, &w);
                for (choice, pick, burst) in steps {
                    // Several inputs in a row, as several calls in one tick.
                    for n in 0..burst {
                        let possible = w.possible(&l, pick + n);
                        let input = possible[(choice + n * 7) % possible.len()];
                        let before = l.clone();
                        let mut fx = l.step(input);
                        if std::env::var_os("LIFECYCLE_TRACE").is_some() {
                            eprintln!("{input:?} -> {fx:?} => {:?} {:?}", l.phase(), l.state());
                        }
                        w.note(input, &fx, &l);
                        if fx.contains(&E::Requeue) {
                            // The engine asks for a slot once the run's slot has freed.
                            let more = l.step(I::RequestRun);
                            w.note(I::RequestRun, &more, &l);
                            fx.extend(more);
                        }
                        let (from, to) = (before.state(), l.state());
                        // (2) cancel settles at once, unless another tab runs it.
                        if input == I::Cancel && !from.is_settled() {
                            if before.is_remote() {
                                prop_assert_eq!(&fx, &vec![E::Forward(Command::Cancel)]);
                            } else {
                                prop_assert_eq!(to, State::Cancelled);
                            }
                        }
                        // (3) settled is final, except a failed download resumed (here or
                        // in another tab).
                        if from.is_settled() && to != from {
                            prop_assert_eq!(from, State::Failed);
                            prop_assert!(matches!(
                                input,
                                I::Resume | I::TakeBack | I::Mirror(State::Running | State::Queued)
                            ), "{:?} left {:?}", input, from);
                        }
                        // (4) at most one run.
                        if fx.contains(&E::StartRun) {
                            prop_assert!(!matches!(before.phase(), Phase::Running { .. }), "StartRun in {:?}", before.phase());
                        }
                        // (5) a pause that took effect here is stored.
                        let paused_here = matches!(
                            (input, before.phase()),
                            (I::Pause, Phase::Queued)
                                | (I::RunEnded(End::Stopped(Stop::Pause)), Phase::Running { .. })
                        );
                        // (Closing keeps what is stored for the next manager.)
                        let parked = l.state() == State::Paused && l.phase() == Phase::Idle;
                        if paused_here && parked && !l.closed {
                            prop_assert_eq!(l.stored(), State::Paused);
                        }
                        check(&l, &w);
                    }
                }
            }
        }
    }
}
