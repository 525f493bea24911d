//! Progress arithmetic: bytes, total, percent, a smoothed rate and an ETA, throttled to one
//! report per interval.
//!
//! The reported total is only ever a number the body reader will actually reach. If more bytes
//! arrive than the announced total, the announcement was wrong and the total becomes unknown,
//! so the percentage can never pass 100.

/// One progress report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Bytes received so far, including bytes kept from earlier attempts.
    pub transferred_bytes: u64,
    /// The size of the whole resource, when known exactly.
    pub total_bytes: Option<u64>,
    /// `transferred / total × 100`, in `0..=100`, when the total is known.
    pub percent: Option<f64>,
    /// Smoothed transfer rate (exponentially weighted, time constant [`RATE_TAU_MS`]).
    pub bytes_per_second: f64,
    /// Seconds left at the current rate, when the total is known and the rate is not zero.
    pub eta_seconds: Option<f64>,
}

impl Progress {
    /// The figures of a download that transfers nothing here (it is not running, or another
    /// tab runs it): no rate, and an ETA only when nothing is left (0).
    pub fn at_rest(mut self) -> Progress {
        self.bytes_per_second = 0.0;
        self.eta_seconds = self
            .total_bytes
            .filter(|t| *t == self.transferred_bytes)
            .map(|_| 0.0);
        self
    }
}

/// Time constant of the rate's exponential smoothing.
pub const RATE_TAU_MS: f64 = 3000.0;
/// The rate is sampled over windows of at least this length, so that bursts of tiny chunks do
/// not dominate it.
pub const RATE_SAMPLE_MS: f64 = 250.0;

/// An exponentially weighted moving average of bytes per second.
#[derive(Clone, Debug, Default)]
struct RateMeter {
    sample_start_ms: Option<f64>,
    sample_bytes: u64,
    rate: Option<f64>,
}

impl RateMeter {
    fn start(&mut self, now_ms: f64) {
        self.sample_start_ms = Some(now_ms);
        self.sample_bytes = 0;
    }

    fn record(&mut self, bytes: u64, now_ms: f64) {
        let start = *self.sample_start_ms.get_or_insert(now_ms);
        self.sample_bytes = self.sample_bytes.saturating_add(bytes);
        let dt = now_ms - start;
        if dt >= RATE_SAMPLE_MS {
            self.rate = Some(self.blend(dt));
            self.start(now_ms);
        }
    }

    /// The rate if the open sample were closed now.
    fn blend(&self, dt_ms: f64) -> f64 {
        let inst = self.sample_bytes as f64 / (dt_ms / 1000.0);
        match self.rate {
            None => inst,
            Some(r) => r + (1.0 - (-dt_ms / RATE_TAU_MS).exp()) * (inst - r),
        }
    }

    fn rate_at(&self, now_ms: f64) -> f64 {
        match self.sample_start_ms {
            // A long open sample (few or no bytes lately) pulls the rate down as time passes.
            Some(start) if now_ms - start >= RATE_SAMPLE_MS => self.blend(now_ms - start),
            _ => self.rate.unwrap_or(0.0),
        }
    }
}

/// Tracks one download's progress and decides when a report is due.
#[derive(Clone, Debug)]
pub struct ProgressTracker {
    interval_ms: f64,
    transferred: u64,
    total: Option<u64>,
    rate: RateMeter,
    last_emit_ms: Option<f64>,
}

impl ProgressTracker {
    /// A tracker that reports at most once per `interval_ms` (0 = every chunk), starting
    /// from `already` stored bytes.
    pub fn new(interval_ms: u64, already: u64) -> Self {
        ProgressTracker {
            interval_ms: interval_ms as f64,
            transferred: already,
            total: None,
            rate: RateMeter::default(),
            last_emit_ms: None,
        }
    }

    /// Marks the start of a body transfer: the rate is measured from here, so time spent
    /// queued or waiting for headers does not count.
    pub fn start_transfer(&mut self, now_ms: f64) {
        self.rate.start(now_ms);
    }

    /// Sets the resource's total, or `None` when unknown. A total below what was already
    /// received cannot be right and is dropped.
    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total.filter(|t| *t >= self.transferred);
    }

    /// Bytes received so far.
    pub fn transferred(&self) -> u64 {
        self.transferred
    }

    /// The known total.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Records `n` new bytes. Returns a report when one is due.
    pub fn on_bytes(&mut self, n: u64, now_ms: f64) -> Option<Progress> {
        self.transferred = self.transferred.saturating_add(n);
        if self.total.is_some_and(|t| self.transferred > t) {
            self.total = None;
        }
        self.rate.record(n, now_ms);
        let due = self
            .last_emit_ms
            .is_none_or(|last| now_ms - last >= self.interval_ms);
        due.then(|| self.emit(now_ms))
    }

    /// True when nothing was reported for `silence_ms` (a stall): a report is then due
    /// although no byte arrived, so that the decaying rate is seen.
    pub fn silent_for(&self, silence_ms: f64, now_ms: f64) -> bool {
        self.last_emit_ms
            .is_some_and(|last| now_ms - last >= silence_ms)
    }

    /// A report now, whatever the interval (start, completion, a state change).
    pub fn emit(&mut self, now_ms: f64) -> Progress {
        self.last_emit_ms = Some(now_ms);
        self.snapshot(now_ms)
    }

    /// The current figures, without counting as a report.
    pub fn snapshot(&self, now_ms: f64) -> Progress {
        let rate = self.rate.rate_at(now_ms).max(0.0);
        let percent = self.total.map(|t| {
            if t == 0 {
                100.0
            } else {
                (self.transferred as f64 / t as f64 * 100.0).min(100.0)
            }
        });
        let eta_seconds = match self.total {
            Some(t) if self.transferred >= t => Some(0.0),
            Some(t) if rate > 0.0 => Some((t - self.transferred) as f64 / rate),
            _ => None,
        };
        Progress {
            transferred_bytes: self.transferred,
            total_bytes: self.total,
            percent,
            bytes_per_second: rate,
            eta_seconds,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn at_rest_has_no_rate_and_an_eta_only_when_done() {
        let p = Progress {
            transferred_bytes: 5,
            total_bytes: Some(10),
            percent: Some(50.0),
            bytes_per_second: 100.0,
            eta_seconds: Some(0.05),
        };
        let rest = p.at_rest();
        assert_eq!((rest.bytes_per_second, rest.eta_seconds), (0.0, None));
        assert_eq!((rest.transferred_bytes, rest.percent), (5, Some(50.0)));
        let done = Progress {
            transferred_bytes: 10,
            ..p
        };
        assert_eq!(done.at_rest().eta_seconds, Some(0.0));
        let unknown = Progress {
            total_bytes: None,
            ..p
        };
        assert_eq!(unknown.at_rest().eta_seconds, None);
    }

    #[test]
    fn a_silent_transfer_is_due_a_report_and_its_rate_decays() {
        let mut t = ProgressTracker::new(100, 0);
        assert!(!t.silent_for(1000.0, 0.0), "nothing reported yet");
        t.start_transfer(0.0);
        for i in 1..=20 {
            t.on_bytes(10_000, f64::from(i) * 50.0);
        }
        let busy = t.emit(1000.0).bytes_per_second;
        assert!(busy > 0.0);
        assert!(!t.silent_for(1000.0, 1500.0));
        assert!(t.silent_for(1000.0, 2000.0));
        let stalled = t.emit(4000.0).bytes_per_second;
        assert!(stalled < busy / 2.0, "{busy} -> {stalled}");
    }
    use proptest::prelude::*;

    #[test]
    fn percent_and_eta_for_a_steady_transfer() {
        let mut p = ProgressTracker::new(0, 0);
        p.set_total(Some(10_000));
        p.start_transfer(0.0);
        let mut last = None;
        for i in 1..=40 {
            // 100 bytes every 100 ms = 1000 B/s
            last = p.on_bytes(100, i as f64 * 100.0);
        }
        let r = last.unwrap();
        assert_eq!(r.transferred_bytes, 4000);
        assert_eq!(r.percent, Some(40.0));
        assert!(
            (r.bytes_per_second - 1000.0).abs() < 1.0,
            "{}",
            r.bytes_per_second
        );
        let eta = r.eta_seconds.unwrap();
        assert!((eta - 6.0).abs() < 0.01, "{eta}");
    }

    #[test]
    fn throttles_to_the_interval() {
        let mut p = ProgressTracker::new(100, 0);
        let mut reports = 0;
        for ms in 0..1000 {
            if p.on_bytes(1, ms as f64).is_some() {
                reports += 1;
            }
        }
        assert_eq!(reports, 10);
    }

    #[test]
    fn unknown_total_has_no_percent_or_eta() {
        let mut p = ProgressTracker::new(0, 0);
        p.start_transfer(0.0);
        let r = p.on_bytes(500, 1000.0).unwrap();
        assert_eq!(r.total_bytes, None);
        assert_eq!(r.percent, None);
        assert_eq!(r.eta_seconds, None);
        assert!(r.bytes_per_second > 0.0);
    }

    #[test]
    fn overrun_makes_the_total_unknown() {
        let mut p = ProgressTracker::new(0, 0);
        p.set_total(Some(100));
        let r = p.on_bytes(100, 1.0).unwrap();
        assert_eq!(r.percent, Some(100.0));
        let r = p.on_bytes(1, 2.0).unwrap();
        assert_eq!(r.total_bytes, None);
        assert_eq!(r.percent, None);
    }

    #[test]
    fn zero_byte_resource_is_complete() {
        let mut p = ProgressTracker::new(0, 0);
        p.set_total(Some(0));
        let r = p.emit(0.0);
        assert_eq!(r.percent, Some(100.0));
        assert_eq!(r.eta_seconds, Some(0.0));
    }

    #[test]
    fn resumed_tracker_counts_stored_bytes() {
        let mut p = ProgressTracker::new(0, 600);
        p.set_total(Some(1000));
        let r = p.on_bytes(100, 10.0).unwrap();
        assert_eq!(r.transferred_bytes, 700);
        assert_eq!(r.percent, Some(70.0));
        p.set_total(Some(650));
        assert_eq!(p.total(), None, "a total below the stored bytes is dropped");
    }

    #[test]
    fn rate_decays_while_nothing_arrives() {
        let mut p = ProgressTracker::new(0, 0);
        p.start_transfer(0.0);
        for i in 1..=20 {
            p.on_bytes(1000, i as f64 * 100.0);
        }
        let busy = p.snapshot(2000.0).bytes_per_second;
        let idle = p.snapshot(12_000.0).bytes_per_second;
        assert!(busy > 9000.0, "{busy}");
        assert!(idle < busy * 0.1, "{idle} vs {busy}");
    }

    #[test]
    fn offsets_above_4_gib() {
        let mut p = ProgressTracker::new(0, 5 << 30);
        p.set_total(Some(6 << 30));
        let r = p.on_bytes(1 << 29, 1.0).unwrap();
        assert_eq!(r.transferred_bytes, (5 << 30) + (1 << 29));
        assert_eq!(r.percent, Some(5.5 / 6.0 * 100.0));
    }

    proptest! {
        #[test]
        fn percent_never_exceeds_100_and_bytes_never_go_back(
            total in proptest::option::of(0u64..10_000),
            chunks in proptest::collection::vec((0u64..3000, 0u32..500), 0..60),
            interval in 0u64..300,
        ) {
            let mut p = ProgressTracker::new(interval, 0);
            p.set_total(total);
            p.start_transfer(0.0);
            let mut now = 0.0;
            let mut prev = 0;
            for (n, dt) in chunks {
                now += dt as f64;
                let r = p.on_bytes(n, now).unwrap_or_else(|| p.snapshot(now));
                prop_assert!(r.transferred_bytes >= prev);
                prev = r.transferred_bytes;
                if let Some(pct) = r.percent {
                    prop_assert!((0.0..=100.0).contains(&pct));
                }
                if let Some(t) = r.total_bytes {
                    prop_assert!(r.transferred_bytes <= t);
                }
                prop_assert!(r.bytes_per_second.is_finite() && r.bytes_per_second >= 0.0);
                if let Some(eta) = r.eta_seconds {
                    prop_assert!(eta.is_finite() && eta >= 0.0);
                }
            }
        }
    }
}
