//! A download's lifecycle state, as stored, shown and sent between tabs, and the rules that
//! read it back: what a restored record does, what a takeover continues, what expires.
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

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
}
