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

/// Flushes' worth of bytes a file that holds written bytes durably only when told to (a
/// caller's file written as a stream, where each time copies the file) gathers at least
/// before they are made durable.
pub const SYNC_FLUSHES: u64 = 16;

/// Whether the bytes written to such a file from `durable` (where it last held them
/// durably) to `end` are due to be made durable: once they reach [`SYNC_FLUSHES`] × `flush`
/// bytes and as many as the file held already. The copies then add up to less than twice
/// the file, and a reload refetches less than half of it (and less than the minimum while
/// it is small).
pub fn sync_due(durable: u64, end: u64, flush: u64) -> bool {
    end.saturating_sub(durable) >= durable.max(flush.saturating_mul(SYNC_FLUSHES))
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

    #[test]
    fn a_streamed_file_is_made_durable_at_doubling_sizes() {
        let flush = 1 << 20;
        let mut durable = 0;
        let mut syncs = Vec::new();
        for end in (flush..=1024 * flush).step_by(flush as usize) {
            if sync_due(durable, end, flush) {
                syncs.push(end / flush);
                durable = end;
            }
        }
        assert_eq!(syncs, [16, 32, 64, 128, 256, 512, 1024]);
        assert!(!sync_due(5, 5, flush), "nothing new");
    }

    proptest! {
        /// Whatever the write sizes, the durable points at least double once past the
        /// minimum, so the copies (one of the durable bytes each) add up to less than twice
        /// the file, and the bytes not durable stay under the minimum or half the file.
        #[test]
        fn streamed_file_copies_stay_under_twice_the_file(
            writes in proptest::collection::vec(1u64..5_000_000, 1..300),
            flush in 1u64..2_000_000,
        ) {
            let (mut durable, mut end, mut copied) = (0u64, 0u64, 0u64);
            for w in writes {
                end += w;
                if sync_due(durable, end, flush) {
                    copied += durable;
                    durable = end;
                }
                let min = flush * SYNC_FLUSHES;
                prop_assert!(end - durable < min.max(durable) + w);
            }
            prop_assert!(copied <= end);
        }


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
