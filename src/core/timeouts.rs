//! Timeout bookkeeping for one transfer attempt: the headers timeout, the stall timeout and
//! the total deadline, each with its own cause.
//!
//! The shell owns one timer. It asks [`TimeoutClock::next_check`] when to wake, and on waking
//! calls [`TimeoutClock::check`] with the time it woke and the time it asked for. Every
//! verdict is made from recorded timestamps (when the fetch started, when the last chunk
//! arrived), never from the mere fact that a timer fired:
//!
//! - Time spent queued is not counted: the clock starts when the fetch starts.
//! - A timer that fires late means the page was throttled or frozen (a hidden tab), and
//!   during that time the page could not see bytes either. So a late timer never declares a
//!   stall or a headers timeout on its own: it grants one grace period with the event loop
//!   running, and only if no byte arrives within it is the stall real.
//! - The total deadline is wall-clock: it is what the caller asked for, throttled or not.

/// The three timeouts in milliseconds; 0 disables one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From the start of a fetch to its response head.
    pub headers_ms: u64,
    /// Longest gap between two body chunks (and from the head to the first chunk).
    pub stall_ms: u64,
    /// The whole download, from the moment it first starts running (not while queued).
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            headers_ms: 30_000,
            stall_ms: 30_000,
            total_ms: 0,
        }
    }
}

/// Which timeout expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No response head in time: `HEADERS_TIMEOUT`.
    Headers,
    /// No body byte in time: `STALLED`.
    Stall,
    /// The total deadline passed: `DEADLINE`.
    Deadline,
}

/// The verdict of a check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Check {
    /// Nothing expired; check again at this time (absolute ms), or never.
    WakeAt(Option<f64>),
    /// A timeout expired.
    Expired(Expiry),
}

/// A timer that fires this much later than asked is taken as evidence that the page was
/// throttled or frozen.
pub const LATE_SLACK_MS: f64 = 250.0;
/// Upper bound of the grace period granted after a late timer.
pub const MAX_GRACE_MS: f64 = 1_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Headers,
    Body,
}

/// Timeout state of one attempt.
#[derive(Clone, Debug)]
pub struct TimeoutClock {
    cfg: Timeouts,
    deadline_at: Option<f64>,
    phase: Phase,
    /// Start of the headers wait, or arrival of the last body chunk (or of the head).
    last_activity_ms: f64,
    /// Set when a late timer granted grace; cleared by any activity.
    grace_until: Option<f64>,
}

impl TimeoutClock {
    /// A clock for an attempt whose fetch starts at `now_ms`. `deadline_at` is the absolute
    /// end of the whole download (see [`deadline_from`]), shared by all its attempts.
    pub fn new(cfg: Timeouts, now_ms: f64, deadline_at: Option<f64>) -> Self {
        TimeoutClock {
            cfg,
            deadline_at,
            phase: Phase::Headers,
            last_activity_ms: now_ms,
            grace_until: None,
        }
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.cfg
    }

    /// The response head arrived: from now on the stall timeout applies.
    pub fn headers_received(&mut self, now_ms: f64) {
        self.phase = Phase::Body;
        self.activity(now_ms);
    }

    /// A body chunk arrived.
    pub fn chunk_received(&mut self, now_ms: f64) {
        self.activity(now_ms);
    }

    fn activity(&mut self, now_ms: f64) {
        self.last_activity_ms = self.last_activity_ms.max(now_ms);
        self.grace_until = None;
    }

    fn idle_limit(&self) -> Option<(f64, Expiry)> {
        let (ms, cause) = match self.phase {
            Phase::Headers => (self.cfg.headers_ms, Expiry::Headers),
            Phase::Body => (self.cfg.stall_ms, Expiry::Stall),
        };
        (ms > 0).then_some((ms as f64, cause))
    }

    /// When the shell should next call [`check`](Self::check); `None` when no timeout is armed.
    pub fn next_check(&self) -> Option<f64> {
        let idle = self
            .idle_limit()
            .map(|(limit, _)| self.grace_until.unwrap_or(self.last_activity_ms + limit));
        match (idle, self.deadline_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Checks the timeouts at `now_ms`, for a timer that was due at `due_ms`.
    pub fn check(&mut self, now_ms: f64, due_ms: f64) -> Check {
        if self.deadline_at.is_some_and(|d| now_ms >= d) {
            return Check::Expired(Expiry::Deadline);
        }
        if let Some((limit, cause)) = self.idle_limit() {
            let idle_for = now_ms - self.last_activity_ms;
            if idle_for >= limit {
                match self.grace_until {
                    // Grace already granted with the event loop running, and still nothing.
                    Some(until) if now_ms >= until => return Check::Expired(cause),
                    Some(_) => {}
                    None if now_ms - due_ms > LATE_SLACK_MS => {
                        self.grace_until = Some(now_ms + limit.min(MAX_GRACE_MS));
                    }
                    None => return Check::Expired(cause),
                }
            }
        }
        Check::WakeAt(self.next_check())
    }
}

/// The absolute deadline of a download that first started running at `started_ms`.
pub fn deadline_from(cfg: &Timeouts, started_ms: f64) -> Option<f64> {
    (cfg.total_ms > 0).then_some(started_ms + cfg.total_ms as f64)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg(headers_ms: u64, stall_ms: u64, total_ms: u64) -> Timeouts {
        Timeouts {
            headers_ms,
            stall_ms,
            total_ms,
        }
    }

    /// Runs the clock like the shell does: wake exactly when asked.
    fn run_on_time(c: &mut TimeoutClock, until: f64) -> Option<(Expiry, f64)> {
        while let Some(t) = c.next_check() {
            if t > until {
                return None;
            }
            if let Check::Expired(e) = c.check(t, t) {
                return Some((e, t));
            }
        }
        None
    }

    #[test]
    fn headers_timeout_fires_on_time() {
        let mut c = TimeoutClock::new(cfg(1000, 5000, 0), 100.0, None);
        assert_eq!(c.next_check(), Some(1100.0));
        assert_eq!(c.check(1099.0, 1099.0), Check::WakeAt(Some(1100.0)));
        assert_eq!(c.check(1100.0, 1100.0), Check::Expired(Expiry::Headers));
    }

    #[test]
    fn stall_counts_from_the_last_chunk() {
        let mut c = TimeoutClock::new(cfg(1000, 500, 0), 0.0, None);
        c.headers_received(200.0);
        assert_eq!(c.next_check(), Some(700.0));
        c.chunk_received(600.0);
        // The timer set for 700 fires, sees the newer chunk, and re-arms.
        assert_eq!(c.check(700.0, 700.0), Check::WakeAt(Some(1100.0)));
        assert_eq!(c.check(1100.0, 1100.0), Check::Expired(Expiry::Stall));
    }

    #[test]
    fn slow_but_steady_never_stalls() {
        let mut c = TimeoutClock::new(cfg(1000, 500, 0), 0.0, None);
        c.headers_received(10.0);
        let mut now = 10.0;
        for _ in 0..1000 {
            now += 499.0;
            c.chunk_received(now);
            let due = c.next_check().unwrap();
            if due <= now {
                assert_eq!(c.check(now, due), Check::WakeAt(Some(now + 500.0)));
            }
        }
        assert_eq!(run_on_time(&mut c, now + 499.0), None);
    }

    #[test]
    fn deadline_is_wall_clock_and_wins() {
        let deadline = deadline_from(&cfg(0, 0, 2000), 50.0);
        assert_eq!(deadline, Some(2050.0));
        let mut c = TimeoutClock::new(cfg(0, 0, 2000), 1000.0, deadline);
        assert_eq!(c.next_check(), Some(2050.0));
        // Even a very late wake reports the deadline, not a grace period.
        assert_eq!(c.check(90_000.0, 2050.0), Check::Expired(Expiry::Deadline));
    }

    #[test]
    fn no_timeouts_means_no_timer() {
        let c = TimeoutClock::new(cfg(0, 0, 0), 0.0, None);
        assert_eq!(c.next_check(), None);
    }

    #[test]
    fn late_timer_grants_grace_instead_of_a_false_stall() {
        let mut c = TimeoutClock::new(cfg(1000, 5000, 0), 0.0, None);
        c.headers_received(0.0);
        // Timer due at 5000 fires at 65000: the tab was throttled.
        assert_eq!(c.check(65_000.0, 5000.0), Check::WakeAt(Some(66_000.0)));
        // Bytes that were buffered meanwhile arrive within the grace period.
        c.chunk_received(65_001.0);
        assert_eq!(c.check(66_000.0, 66_000.0), Check::WakeAt(Some(70_001.0)));
    }

    #[test]
    fn late_timer_then_nothing_is_a_real_stall() {
        let mut c = TimeoutClock::new(cfg(1000, 5000, 0), 0.0, None);
        c.headers_received(0.0);
        assert_eq!(c.check(65_000.0, 5000.0), Check::WakeAt(Some(66_000.0)));
        // Early wake inside the grace period: still waiting.
        assert_eq!(c.check(65_500.0, 65_500.0), Check::WakeAt(Some(66_000.0)));
        // Also late this time, but the event loop already ran once since the last byte.
        assert_eq!(c.check(125_000.0, 66_000.0), Check::Expired(Expiry::Stall));
    }

    #[test]
    fn late_timer_applies_to_headers_too() {
        let mut c = TimeoutClock::new(cfg(1000, 0, 0), 0.0, None);
        assert_eq!(c.check(30_000.0, 1000.0), Check::WakeAt(Some(31_000.0)));
        c.headers_received(30_010.0);
        assert_eq!(c.next_check(), None, "stall disabled, headers done");
    }

    #[test]
    fn grace_never_outlives_the_deadline() {
        let mut c = TimeoutClock::new(cfg(0, 5000, 0), 0.0, Some(60_500.0));
        c.headers_received(0.0);
        assert_eq!(c.check(60_000.0, 5000.0), Check::WakeAt(Some(60_500.0)));
        assert_eq!(
            c.check(60_500.0, 60_500.0),
            Check::Expired(Expiry::Deadline)
        );
    }

    proptest! {
        /// Whatever the chunk timing and timer lateness, a stall is only reported when the
        /// last chunk is at least `stall_ms` old, and a deadline only at or after it.
        #[test]
        fn verdicts_are_backed_by_timestamps(
            stall in 1u64..5000,
            total in proptest::option::of(1u64..100_000),
            events in proptest::collection::vec((0u32..4000, any::<bool>(), 0u32..70_000), 1..80),
        ) {
            let deadline = total.map(|t| t as f64);
            let mut c = TimeoutClock::new(cfg(0, stall, 0), 0.0, deadline);
            c.headers_received(0.0);
            let mut now = 0.0;
            let mut last_chunk = 0.0;
            for (dt, chunk, lateness) in events {
                now += dt as f64;
                if chunk {
                    c.chunk_received(now);
                    last_chunk = now;
                    continue;
                }
                let Some(due) = c.next_check() else { break };
                let woke = due.max(now) + lateness as f64;
                now = woke;
                match c.check(woke, due) {
                    Check::Expired(Expiry::Stall) => {
                        prop_assert!(woke - last_chunk >= stall as f64);
                        break;
                    }
                    Check::Expired(Expiry::Deadline) => {
                        prop_assert!(woke >= deadline.unwrap());
                        break;
                    }
                    Check::Expired(Expiry::Headers) => prop_assert!(false, "headers phase is over"),
                    Check::WakeAt(next) => prop_assert!(next.is_some()),
                }
            }
        }
    }
}
