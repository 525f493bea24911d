//! When received bytes that do not fill a chunk are committed anyway: once they have waited
//! `commitIntervalMs`, and when the page becomes hidden (the last moment a page that is about
//! to be frozen, discarded or reloaded can be sure to run). Without this, a reload loses every
//! byte of the chunk being filled, and a file smaller than a chunk starts over from 0.

/// The clock of the bytes waiting for a commit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlushClock {
    interval_ms: u64,
    /// When the oldest pending byte arrived.
    since: Option<f64>,
    hidden: bool,
}

impl FlushClock {
    /// Pending bytes are committed after `interval_ms`; 0 commits only whole chunks (and on
    /// hiding).
    pub fn new(interval_ms: u64) -> FlushClock {
        FlushClock {
            interval_ms,
            since: None,
            hidden: false,
        }
    }

    /// Bytes were added at `now`: `pending` bytes now wait, and `committed` says a whole chunk
    /// was committed meanwhile (what waits arrived after it).
    pub fn on_bytes(&mut self, pending: u64, committed: bool, now: f64) {
        if pending == 0 {
            self.since = None;
        } else if committed || self.since.is_none() {
            self.since = Some(now);
        }
    }

    /// The pending bytes were committed.
    pub fn on_commit(&mut self) {
        self.since = None;
    }

    /// The page's visibility changed to `hidden`; true when that is a change to hidden with
    /// bytes waiting, which should be committed now.
    pub fn on_visibility(&mut self, hidden: bool) -> bool {
        let became = hidden && !self.hidden;
        self.hidden = hidden;
        became && self.since.is_some()
    }

    /// When the pending bytes are due for a commit; `None` when nothing waits or only whole
    /// chunks are committed.
    pub fn due_at(&self) -> Option<f64> {
        let since = self.since.filter(|_| self.interval_ms > 0)?;
        Some(since + self.interval_ms as f64)
    }

    /// True when the pending bytes are due at `now`.
    pub fn due(&self, now: f64) -> bool {
        self.due_at().is_some_and(|at| now >= at)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bytes_are_due_an_interval_after_the_oldest_arrived() {
        let mut c = FlushClock::new(1000);
        assert_eq!(c.due_at(), None);
        c.on_bytes(10, false, 5.0);
        c.on_bytes(20, false, 600.0);
        assert_eq!(c.due_at(), Some(1005.0));
        assert!(!c.due(1004.0));
        assert!(c.due(1005.0));
        c.on_commit();
        assert_eq!(c.due_at(), None);
        // A whole chunk committed on the way: the rest waits from now.
        c.on_bytes(5, false, 2000.0);
        c.on_bytes(3, true, 2500.0);
        assert_eq!(c.due_at(), Some(3500.0));
        c.on_bytes(0, true, 2600.0);
        assert_eq!(c.due_at(), None);
    }

    #[test]
    fn an_interval_of_zero_commits_only_whole_chunks() {
        let mut c = FlushClock::new(0);
        c.on_bytes(10, false, 0.0);
        assert_eq!(c.due_at(), None);
        assert!(!c.due(f64::MAX));
        // Hiding still commits.
        assert!(c.on_visibility(true));
    }

    #[test]
    fn hiding_commits_once_and_only_what_waits() {
        let mut c = FlushClock::new(1000);
        assert!(!c.on_visibility(true), "nothing waits");
        assert!(!c.on_visibility(false));
        c.on_bytes(10, false, 0.0);
        assert!(c.on_visibility(true));
        assert!(!c.on_visibility(true), "already hidden");
        assert!(!c.on_visibility(false));
        assert!(c.on_visibility(true));
    }

    proptest! {
        /// Due exactly when bytes wait and the oldest of them (since the last commit) has
        /// waited the interval: never with nothing pending, never later.
        #[test]
        fn due_exactly_when_the_oldest_pending_byte_has_waited_the_interval(
            steps in proptest::collection::vec((0u64..100, any::<bool>(), 0.0f64..100.0, 0.0f64..3000.0), 1..40),
            interval in 1u64..2000,
        ) {
            let mut c = FlushClock::new(interval);
            let mut now = 0.0;
            let mut oldest: Option<f64> = None;
            for (pending, committed, dt, probe) in steps {
                now += dt;
                c.on_bytes(pending, committed, now);
                if pending == 0 {
                    oldest = None;
                } else if committed || oldest.is_none() {
                    oldest = Some(now);
                }
                let at = now + probe;
                let want = oldest.is_some_and(|t| at - t >= interval as f64);
                prop_assert_eq!(c.due(at), want);
            }
        }
    }
}
