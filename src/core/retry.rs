//! The retry contract: which failures are retried, how long to wait before the next attempt,
//! and when to give up.
//!
//! This module owns three decisions and nothing else:
//!
//! - **Classification** ([`is_retryable`]): transient failures (network errors, stalls,
//!   headers timeouts, malformed responses, and the HTTP statuses 408, 429, 500, 502, 503 and
//!   504) are retried. Everything else fails the download at once: other 4xx statuses, a
//!   cancellation, a bad argument, the total deadline, quota, storage and integrity failures.
//! - **Delay** ([`backoff_delay`]): exponential backoff from [`RetryPolicy::backoff_ms`],
//!   doubling per attempt and capped at [`RetryPolicy::max_backoff_ms`], with "equal jitter"
//!   (a delay drawn from `[base / 2, base]`). A server's Retry-After on a retryable HTTP
//!   status replaces the backoff, up to [`RetryPolicy::max_retry_after_ms`].
//! - **Budget** ([`RetryState`]): at most [`RetryPolicy::limit`] retries in a row without
//!   progress. An attempt that stored at least one new byte starts a fresh run, so a
//!   download over a flaky link keeps going as long as it keeps moving. No wait may reach
//!   past the total deadline.
//!
//! Nothing here reads a clock or a random source: the caller passes `now_ms`, the deadline
//! and a uniform random number in `[0, 1)`, so every verdict is reproducible in tests.

use super::error::{DownloadError, ErrorCode};

/// HTTP statuses that signal a transient condition worth another attempt.
const RETRYABLE_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// How failed attempts are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most automatic retries in a row without progress; 0 never retries.
    pub limit: u32,
    /// Delay before the first retry, in milliseconds; it doubles with each further retry.
    pub backoff_ms: u64,
    /// Upper bound of the backoff delay, in milliseconds.
    pub max_backoff_ms: u64,
    /// Draw each delay from `[base / 2, base]` instead of waiting exactly `base`, so that
    /// many clients failing together do not retry in lockstep.
    pub jitter: bool,
    /// Longest server-requested wait (Retry-After) that is honoured, in milliseconds. A
    /// longer request fails the download with `RATE_LIMITED`.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            limit: 5,
            backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            jitter: true,
            max_retry_after_ms: 300_000,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this many ms. `attempt` is the 1-based number of this retry.
    Retry {
        /// How long to wait before the next attempt, in milliseconds.
        delay_ms: u64,
        /// The 1-based number of this retry within the current run without progress.
        attempt: u32,
    },
    /// Stop: the download fails with this error. It is the attempt's own error, except when
    /// the wait itself is the reason to stop (`RATE_LIMITED` or `DEADLINE`).
    GiveUp(DownloadError),
}

/// Retry bookkeeping of one download: the number of consecutive failures without progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryState {
    attempts: u32,
}

impl RetryState {
    /// A fresh state: no failures yet.
    pub fn new() -> Self {
        RetryState::default()
    }

    /// Consecutive retryable failures without progress counted so far, including the one
    /// that produced the last [`Verdict`].
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Called after an attempt failed with `err`; decides whether and when to try again.
    ///
    /// `made_progress`: the failed attempt stored at least one new byte. This resets the
    /// counter before this failure is counted, so the failure counts as attempt 1.
    /// `random` in `[0, 1)` drives the jitter. `now_ms` and `deadline_at` (absolute ms on the
    /// same clock) bound the wait: a retry that would start at or after the deadline is not
    /// scheduled.
    ///
    /// A non-retryable error gives up with the error unchanged and leaves the counter alone.
    pub fn on_failure(
        &mut self,
        policy: &RetryPolicy,
        err: &DownloadError,
        made_progress: bool,
        random: f64,
        now_ms: f64,
        deadline_at: Option<f64>,
    ) -> Verdict {
        if !is_retryable(err) {
            return Verdict::GiveUp(err.clone());
        }

        if made_progress {
            self.attempts = 0;
        }
        self.attempts = self.attempts.saturating_add(1);
        let attempt = self.attempts;
        if attempt > policy.limit {
            return Verdict::GiveUp(err.clone());
        }

        // Retry-After is honoured only where it means "come back later": on a retryable
        // HTTP status. A zero wait falls back to the normal backoff so the server is never
        // hammered.
        let retry_after = match err.retry_after_ms {
            Some(ra) if err.code == ErrorCode::HttpStatus && ra > 0 => Some(ra),
            _ => None,
        };

        let delay_ms = match retry_after {
            Some(ra) if ra > policy.max_retry_after_ms => {
                return Verdict::GiveUp(derived(
                    err,
                    ErrorCode::RateLimited,
                    format!(
                        "the server asked to wait {ra} ms, more than the allowed {} ms",
                        policy.max_retry_after_ms
                    ),
                ));
            }
            Some(ra) => ra,
            None => backoff_delay(policy, attempt, random),
        };

        if let Some(deadline) = deadline_at {
            if now_ms + delay_ms as f64 >= deadline {
                let verdict = match retry_after {
                    Some(ra) => derived(
                        err,
                        ErrorCode::RateLimited,
                        format!("the server asked to wait {ra} ms, which would pass the deadline"),
                    ),
                    None => derived(
                        err,
                        ErrorCode::Deadline,
                        format!("the next retry, in {delay_ms} ms, would pass the deadline"),
                    ),
                };
                return Verdict::GiveUp(verdict);
            }
        }

        Verdict::Retry { delay_ms, attempt }
    }

    /// Called when a download succeeds or is restarted by the user: counter back to 0.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

/// True when `err` is a transient failure worth another attempt: `NETWORK`, `STALLED`,
/// `HEADERS_TIMEOUT`, `BAD_RESPONSE`, and `HTTP_STATUS` with status 408, 429, 500, 502, 503
/// or 504.
pub fn is_retryable(err: &DownloadError) -> bool {
    match err.code {
        ErrorCode::Network
        | ErrorCode::Stalled
        | ErrorCode::HeadersTimeout
        | ErrorCode::BadResponse => true,
        ErrorCode::HttpStatus => err
            .status
            .is_some_and(|status| RETRYABLE_STATUSES.contains(&status)),
        ErrorCode::Deadline
        | ErrorCode::RateLimited
        | ErrorCode::Integrity
        | ErrorCode::Quota
        | ErrorCode::Storage
        | ErrorCode::Aborted
        | ErrorCode::InvalidArgument
        | ErrorCode::PrepareRequest
        | ErrorCode::Sink
        | ErrorCode::Cors => false,
    }
}

/// The backoff before retry number `attempt` (1-based; 0 is treated as 1), in milliseconds.
///
/// The base is `backoff_ms * 2^(attempt - 1)`, saturating instead of overflowing, capped at
/// `max_backoff_ms`. Without jitter the delay is exactly the base. With jitter it is
/// `base / 2 + floor(random * (base - base / 2))`, which lies in `[base / 2, base]`. A
/// `random` outside `[0, 1)` (or NaN) is clamped into it.
pub fn backoff_delay(policy: &RetryPolicy, attempt: u32, random: f64) -> u64 {
    let base = base_delay(policy, attempt);
    if !policy.jitter {
        return base;
    }
    let half = base / 2;
    let span = base - half;
    let random = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    // The float product can round up to `span` for large spans; the bound holds regardless.
    let extra = ((random * span as f64).floor() as u64).min(span);
    half + extra
}

/// `backoff_ms * 2^(attempt - 1)`, saturating, capped at `max_backoff_ms`.
fn base_delay(policy: &RetryPolicy, attempt: u32) -> u64 {
    let exponent = attempt.max(1) - 1;
    let uncapped = if policy.backoff_ms == 0 {
        0
    } else if exponent >= u64::BITS {
        u64::MAX
    } else {
        policy.backoff_ms.saturating_mul(1u64 << exponent)
    };
    uncapped.min(policy.max_backoff_ms)
}

/// A new error with `code` and `message` that keeps the HTTP details of `err`.
fn derived(err: &DownloadError, code: ErrorCode, message: String) -> DownloadError {
    DownloadError {
        code,
        message,
        status: err.status,
        retry_after_ms: err.retry_after_ms,
        cause: err.cause.clone(),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn http(status: u16) -> DownloadError {
        DownloadError::new(ErrorCode::HttpStatus, format!("HTTP {status}")).with_status(status)
    }

    fn http_retry_after(status: u16, ms: u64) -> DownloadError {
        http(status).with_retry_after_ms(Some(ms))
    }

    fn network() -> DownloadError {
        DownloadError::new(ErrorCode::Network, "connection reset")
    }

    fn no_jitter() -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        }
    }

    fn fail(state: &mut RetryState, policy: &RetryPolicy, err: &DownloadError) -> Verdict {
        state.on_failure(policy, err, false, 0.5, 0.0, None)
    }

    fn give_up(verdict: Verdict) -> DownloadError {
        match verdict {
            Verdict::GiveUp(err) => err,
            other => panic!("expected GiveUp, got {other:?}"),
        }
    }

    #[test]
    fn default_policy() {
        let p = RetryPolicy::default();
        assert_eq!(p.limit, 5);
        assert_eq!(p.backoff_ms, 1_000);
        assert_eq!(p.max_backoff_ms, 60_000);
        assert!(p.jitter);
        assert_eq!(p.max_retry_after_ms, 300_000);
        assert_eq!(RetryState::new().attempts(), 0);
    }

    #[test]
    fn classification_by_code() {
        let table = [
            (ErrorCode::Network, true),
            (ErrorCode::Stalled, true),
            (ErrorCode::HeadersTimeout, true),
            (ErrorCode::BadResponse, true),
            (ErrorCode::Deadline, false),
            (ErrorCode::RateLimited, false),
            (ErrorCode::Integrity, false),
            (ErrorCode::Quota, false),
            (ErrorCode::Storage, false),
            (ErrorCode::Aborted, false),
            (ErrorCode::InvalidArgument, false),
            (ErrorCode::PrepareRequest, false),
            (ErrorCode::Sink, false),
            (ErrorCode::Cors, false),
        ];
        assert_eq!(
            table.len() + 1,
            ErrorCode::ALL.len(),
            "every code but HTTP_STATUS"
        );
        for (code, retryable) in table {
            let err = DownloadError::new(code, "x");
            assert_eq!(is_retryable(&err), retryable, "{code}");
            // A status attached to a non-HTTP code changes nothing.
            assert_eq!(is_retryable(&err.with_status(503)), retryable, "{code}");
        }
    }

    #[test]
    fn classification_by_status() {
        let table = [
            (408, true),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (405, false),
            (410, false),
            (412, false),
            (416, false),
            (451, false),
            (501, false),
            (505, false),
            (507, false),
            (200, false),
            (206, false),
            (304, false),
        ];
        for (status, retryable) in table {
            assert_eq!(is_retryable(&http(status)), retryable, "{status}");
        }
        let no_status = DownloadError::new(ErrorCode::HttpStatus, "no status");
        assert!(!is_retryable(&no_status));
    }

    #[test]
    fn non_retryable_gives_up_unchanged() {
        let policy = RetryPolicy::default();
        let errors = [
            http(404),
            http(401),
            http(403),
            http(410),
            http_retry_after(404, 1_000),
            DownloadError::aborted(),
            DownloadError::invalid("url", "empty"),
            DownloadError::new(ErrorCode::Deadline, "too slow"),
            DownloadError::new(ErrorCode::Quota, "full"),
            DownloadError::new(ErrorCode::Storage, "idb"),
            DownloadError::new(ErrorCode::Integrity, "mismatch"),
            DownloadError::new(ErrorCode::RateLimited, "wait").with_status(429),
        ];
        for err in errors {
            let mut state = RetryState::new();
            for made_progress in [false, true] {
                let verdict = state.on_failure(&policy, &err, made_progress, 0.5, 0.0, None);
                assert_eq!(verdict, Verdict::GiveUp(err.clone()));
            }
            assert_eq!(state.attempts(), 0);
        }
    }

    #[test]
    fn not_found_is_never_retried() {
        let policy = RetryPolicy {
            limit: u32::MAX,
            ..RetryPolicy::default()
        };
        let mut state = RetryState::new();
        for _ in 0..10 {
            let verdict = state.on_failure(&policy, &http(404), true, 0.0, 0.0, None);
            assert_eq!(verdict, Verdict::GiveUp(http(404)));
        }
    }

    #[test]
    fn limit_reached_after_exactly_limit_retries() {
        for limit in [1u32, 2, 5, 8] {
            let policy = RetryPolicy {
                limit,
                ..no_jitter()
            };
            let mut state = RetryState::new();
            for n in 1..=limit {
                match fail(&mut state, &policy, &network()) {
                    Verdict::Retry { attempt, .. } => assert_eq!(attempt, n),
                    other => panic!("limit {limit}, retry {n}: {other:?}"),
                }
            }
            assert_eq!(
                fail(&mut state, &policy, &network()),
                Verdict::GiveUp(network())
            );
            assert_eq!(state.attempts(), limit + 1);
        }
    }

    #[test]
    fn limit_zero_gives_up_on_first_failure() {
        let policy = RetryPolicy {
            limit: 0,
            ..RetryPolicy::default()
        };
        for err in [network(), http(503), http_retry_after(429, 10)] {
            let mut state = RetryState::new();
            let verdict = state.on_failure(&policy, &err, true, 0.5, 0.0, None);
            assert_eq!(verdict, Verdict::GiveUp(err));
        }
    }

    #[test]
    fn progress_resets_the_counter() {
        let policy = RetryPolicy {
            limit: 2,
            ..no_jitter()
        };
        let mut state = RetryState::new();
        for _ in 0..10 {
            let verdict = state.on_failure(&policy, &network(), true, 0.5, 0.0, None);
            assert_eq!(
                verdict,
                Verdict::Retry {
                    delay_ms: 1_000,
                    attempt: 1
                }
            );
        }

        // Two failures without progress, then one with progress: a fresh run.
        let mut state = RetryState::new();
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry { attempt: 1, .. }
        ));
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry { attempt: 2, .. }
        ));
        let verdict = state.on_failure(&policy, &network(), true, 0.5, 0.0, None);
        assert!(matches!(verdict, Verdict::Retry { attempt: 1, .. }));
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry { attempt: 2, .. }
        ));
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::GiveUp(_)
        ));
    }

    #[test]
    fn reset_clears_the_counter() {
        let policy = RetryPolicy {
            limit: 1,
            ..no_jitter()
        };
        let mut state = RetryState::new();
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::GiveUp(_)
        ));
        state.reset();
        assert_eq!(state.attempts(), 0);
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry { attempt: 1, .. }
        ));
    }

    #[test]
    fn delays_double_and_cap() {
        let policy = RetryPolicy {
            limit: 20,
            ..no_jitter()
        };
        let expected = [
            1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
        ];
        for (i, &want) in expected.iter().enumerate() {
            assert_eq!(
                backoff_delay(&policy, i as u32 + 1, 0.5),
                want,
                "attempt {}",
                i + 1
            );
        }
        let mut state = RetryState::new();
        for (i, &want) in expected.iter().enumerate() {
            let verdict = fail(&mut state, &policy, &http(503));
            assert_eq!(
                verdict,
                Verdict::Retry {
                    delay_ms: want,
                    attempt: i as u32 + 1
                }
            );
        }
    }

    #[test]
    fn attempt_zero_is_attempt_one() {
        for jitter in [false, true] {
            let policy = RetryPolicy {
                jitter,
                ..RetryPolicy::default()
            };
            for random in [0.0, 0.3, 0.999] {
                assert_eq!(
                    backoff_delay(&policy, 0, random),
                    backoff_delay(&policy, 1, random)
                );
            }
        }
    }

    #[test]
    fn jitter_is_equal_jitter() {
        let policy = RetryPolicy::default();
        // attempt 3: base 4000, half 2000, span 2000.
        assert_eq!(backoff_delay(&policy, 3, 0.0), 2_000);
        assert_eq!(backoff_delay(&policy, 3, 0.25), 2_500);
        assert_eq!(backoff_delay(&policy, 3, 0.5), 3_000);
        assert_eq!(backoff_delay(&policy, 3, 0.9999), 3_999);
        // Odd base: half rounds down, span rounds up.
        let odd = RetryPolicy {
            backoff_ms: 3,
            ..RetryPolicy::default()
        };
        assert_eq!(backoff_delay(&odd, 1, 0.0), 1);
        assert_eq!(backoff_delay(&odd, 1, 0.99), 2);
        // Out-of-range randomness is clamped, never panics, stays in bounds.
        assert_eq!(backoff_delay(&policy, 3, -1.0), 2_000);
        assert_eq!(backoff_delay(&policy, 3, f64::NAN), 2_000);
        assert_eq!(backoff_delay(&policy, 3, 7.0), 4_000);
        assert_eq!(backoff_delay(&policy, 3, f64::INFINITY), 4_000);
    }

    #[test]
    fn huge_attempts_do_not_overflow() {
        let uncapped = RetryPolicy {
            backoff_ms: u64::MAX / 3,
            max_backoff_ms: u64::MAX,
            jitter: false,
            ..RetryPolicy::default()
        };
        assert_eq!(backoff_delay(&uncapped, 2, 0.5), (u64::MAX / 3) * 2);
        for attempt in [3, 63, 64, 65, 1_000, u32::MAX] {
            assert_eq!(
                backoff_delay(&uncapped, attempt, 0.5),
                u64::MAX,
                "{attempt}"
            );
        }
        for attempt in [7, 63, 64, 65, 1_000, u32::MAX] {
            let jittered = backoff_delay(&RetryPolicy::default(), attempt, 0.999_999);
            assert!(
                (30_000..=60_000).contains(&jittered),
                "{attempt}: {jittered}"
            );
            assert_eq!(backoff_delay(&no_jitter(), attempt, 0.5), 60_000);
        }
        let jittered = RetryPolicy {
            jitter: true,
            ..uncapped
        };
        let d = backoff_delay(&jittered, u32::MAX, 0.999_999_999);
        assert!(d >= u64::MAX / 2);

        let zero = RetryPolicy {
            backoff_ms: 0,
            ..uncapped
        };
        assert_eq!(backoff_delay(&zero, u32::MAX, 0.5), 0);

        // The counter itself saturates.
        let policy = RetryPolicy {
            limit: u32::MAX,
            ..no_jitter()
        };
        let mut state = RetryState {
            attempts: u32::MAX - 1,
        };
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry {
                attempt: u32::MAX,
                delay_ms: 60_000
            }
        ));
        assert!(matches!(
            fail(&mut state, &policy, &network()),
            Verdict::Retry { .. }
        ));
        assert_eq!(state.attempts(), u32::MAX);
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let policy = RetryPolicy::default();
        for status in [429, 503, 500, 502, 504, 408] {
            for ra in [1, 1_500, 120_000, 300_000] {
                let mut state = RetryState::new();
                let verdict = state.on_failure(
                    &policy,
                    &http_retry_after(status, ra),
                    false,
                    0.99,
                    0.0,
                    None,
                );
                assert_eq!(
                    verdict,
                    Verdict::Retry {
                        delay_ms: ra,
                        attempt: 1
                    },
                    "{status} {ra}"
                );
            }
        }
    }

    #[test]
    fn retry_after_zero_uses_backoff() {
        let policy = no_jitter();
        let mut state = RetryState::new();
        for want in [1_000, 2_000, 4_000] {
            let verdict = fail(&mut state, &policy, &http_retry_after(503, 0));
            assert!(matches!(verdict, Verdict::Retry { delay_ms, .. } if delay_ms == want));
        }
    }

    #[test]
    fn retry_after_ignored_on_non_http_errors() {
        let policy = no_jitter();
        let err = network().with_retry_after_ms(Some(999_999_999));
        let mut state = RetryState::new();
        assert_eq!(
            fail(&mut state, &policy, &err),
            Verdict::Retry {
                delay_ms: 1_000,
                attempt: 1
            }
        );
    }

    #[test]
    fn huge_retry_after_is_rate_limited() {
        let policy = RetryPolicy::default();
        let err = http_retry_after(429, 300_001);
        let mut state = RetryState::new();
        let out = give_up(fail(&mut state, &policy, &err));
        assert_eq!(out.code, ErrorCode::RateLimited);
        assert_eq!(out.status, Some(429));
        assert_eq!(out.retry_after_ms, Some(300_001));
        assert!(out.message.contains("300001 ms"), "{}", out.message);
        assert!(out.message.contains("300000 ms"), "{}", out.message);
    }

    #[test]
    fn retry_after_counts_against_the_limit() {
        let policy = RetryPolicy {
            limit: 2,
            ..RetryPolicy::default()
        };
        let err = http_retry_after(429, 10);
        let mut state = RetryState::new();
        assert!(matches!(
            fail(&mut state, &policy, &err),
            Verdict::Retry {
                delay_ms: 10,
                attempt: 1
            }
        ));
        assert!(matches!(
            fail(&mut state, &policy, &err),
            Verdict::Retry {
                delay_ms: 10,
                attempt: 2
            }
        ));
        assert_eq!(fail(&mut state, &policy, &err), Verdict::GiveUp(err));
    }

    #[test]
    fn retry_after_past_deadline_is_rate_limited() {
        let policy = RetryPolicy::default();
        let err = http_retry_after(503, 5_000);
        let mut state = RetryState::new();
        let out = give_up(state.on_failure(&policy, &err, false, 0.5, 10_000.0, Some(15_000.0)));
        assert_eq!(out.code, ErrorCode::RateLimited);
        assert_eq!(out.status, Some(503));
        assert_eq!(out.retry_after_ms, Some(5_000));
        assert!(out.message.contains("deadline"), "{}", out.message);

        // Just before the deadline is fine.
        let mut state = RetryState::new();
        let verdict = state.on_failure(&policy, &err, false, 0.5, 10_000.0, Some(15_000.5));
        assert_eq!(
            verdict,
            Verdict::Retry {
                delay_ms: 5_000,
                attempt: 1
            }
        );
    }

    #[test]
    fn backoff_past_deadline_is_deadline() {
        let policy = no_jitter();
        let mut state = RetryState::new();
        let err = http(502);
        let out = give_up(state.on_failure(&policy, &err, false, 0.5, 500.0, Some(1_500.0)));
        assert_eq!(out.code, ErrorCode::Deadline);
        assert_eq!(out.status, Some(502));
        assert_eq!(out.retry_after_ms, None);
        assert!(out.message.contains("deadline"), "{}", out.message);

        // A zero Retry-After falls back to backoff, so the deadline verdict is DEADLINE.
        let mut state = RetryState::new();
        let err = http_retry_after(503, 0);
        let out = give_up(state.on_failure(&policy, &err, false, 0.5, 500.0, Some(1_000.0)));
        assert_eq!(out.code, ErrorCode::Deadline);
        assert_eq!(out.retry_after_ms, Some(0));

        let mut state = RetryState::new();
        let verdict = state.on_failure(&policy, &network(), false, 0.5, 500.0, Some(1_501.0));
        assert_eq!(
            verdict,
            Verdict::Retry {
                delay_ms: 1_000,
                attempt: 1
            }
        );
    }

    #[test]
    fn limit_is_checked_before_the_wait() {
        // Once the budget is spent, the attempt's own error is reported, not a wait problem.
        let policy = RetryPolicy {
            limit: 0,
            ..RetryPolicy::default()
        };
        let err = http_retry_after(429, 10_000_000);
        let mut state = RetryState::new();
        assert_eq!(
            state.on_failure(&policy, &err, false, 0.5, 0.0, Some(1.0)),
            Verdict::GiveUp(err)
        );
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            0u32..10,
            prop_oneof![0u64..10_000, any::<u64>()],
            prop_oneof![0u64..1_000_000, any::<u64>()],
            any::<bool>(),
            0u64..1_000_000,
        )
            .prop_map(
                |(limit, backoff_ms, max_backoff_ms, jitter, max_retry_after_ms)| RetryPolicy {
                    limit,
                    backoff_ms,
                    max_backoff_ms,
                    jitter,
                    max_retry_after_ms,
                },
            )
    }

    fn retryable_error() -> impl Strategy<Value = DownloadError> {
        prop_oneof![
            Just(network()),
            Just(DownloadError::new(ErrorCode::Stalled, "stalled")),
            Just(DownloadError::new(ErrorCode::HeadersTimeout, "headers")),
            Just(DownloadError::new(ErrorCode::BadResponse, "bad")),
            proptest::sample::select(RETRYABLE_STATUSES.to_vec()).prop_map(http),
        ]
    }

    proptest! {
        #[test]
        fn jittered_delay_within_bounds(
            policy in any_policy(),
            attempt in any::<u32>(),
            random in 0.0f64..1.0,
        ) {
            let base = backoff_delay(&RetryPolicy { jitter: false, ..policy }, attempt, random);
            let delay = backoff_delay(&RetryPolicy { jitter: true, ..policy }, attempt, random);
            prop_assert!(delay >= base / 2, "{delay} < {base}/2");
            prop_assert!(delay <= base);
            prop_assert!(delay <= policy.max_backoff_ms);
            prop_assert!(backoff_delay(&policy, attempt, random) <= policy.max_backoff_ms);
        }

        #[test]
        fn jitter_is_monotone_in_random(
            policy in any_policy(),
            attempt in 0u32..100,
            a in 0.0f64..1.0,
            b in 0.0f64..1.0,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(backoff_delay(&policy, attempt, lo) <= backoff_delay(&policy, attempt, hi));
        }

        #[test]
        fn base_is_monotone_in_attempt(
            policy in any_policy(),
            attempt in any::<u32>(),
            step in 0u32..100,
        ) {
            let policy = RetryPolicy { jitter: false, ..policy };
            let later = attempt.saturating_add(step);
            prop_assert!(backoff_delay(&policy, attempt, 0.0) <= backoff_delay(&policy, later, 0.0));
        }

        #[test]
        fn runs_without_progress_give_up_after_limit(
            policy in any_policy(),
            errors in proptest::collection::vec(retryable_error(), 1..20),
            random in 0.0f64..1.0,
        ) {
            let mut state = RetryState::new();
            for (i, err) in errors.iter().enumerate() {
                let n = i as u32 + 1;
                let verdict = state.on_failure(&policy, err, false, random, 0.0, None);
                prop_assert_eq!(state.attempts(), n);
                if n > policy.limit {
                    prop_assert_eq!(verdict, Verdict::GiveUp(err.clone()));
                } else {
                    match verdict {
                        Verdict::Retry { attempt, delay_ms } => {
                            prop_assert_eq!(attempt, n);
                            prop_assert_eq!(delay_ms, backoff_delay(&policy, n, random));
                        }
                        other => prop_assert!(false, "retry {} gave up: {:?}", n, other),
                    }
                }
            }
        }

        #[test]
        fn progress_always_earns_a_retry(
            policy in any_policy(),
            errors in proptest::collection::vec(retryable_error(), 1..30),
        ) {
            prop_assume!(policy.limit >= 1);
            let mut state = RetryState::new();
            for err in &errors {
                let verdict = state.on_failure(&policy, err, true, 0.5, 0.0, None);
                let is_first_retry = matches!(verdict, Verdict::Retry { attempt: 1, .. });
                prop_assert!(is_first_retry, "{:?}", verdict);
            }
        }

        #[test]
        fn retry_after_verdicts(
            policy in any_policy(),
            status in proptest::sample::select(RETRYABLE_STATUSES.to_vec()),
            ra in 1u64..2_000_000,
            now in 0.0f64..1e9,
            deadline in proptest::option::of(0.0f64..2e9),
        ) {
            prop_assume!(policy.limit >= 1);
            let err = http_retry_after(status, ra);
            let mut state = RetryState::new();
            let verdict = state.on_failure(&policy, &err, false, 0.5, now, deadline);
            let past_deadline = deadline.is_some_and(|d| now + ra as f64 >= d);
            if ra > policy.max_retry_after_ms || past_deadline {
                let out = give_up(verdict);
                prop_assert_eq!(out.code, ErrorCode::RateLimited);
                prop_assert_eq!(out.status, Some(status));
                prop_assert_eq!(out.retry_after_ms, Some(ra));
            } else {
                prop_assert_eq!(verdict, Verdict::Retry { delay_ms: ra, attempt: 1 });
            }
        }

        #[test]
        fn a_scheduled_retry_never_reaches_the_deadline(
            policy in any_policy(),
            err in retryable_error(),
            random in 0.0f64..1.0,
            now in 0.0f64..1e9,
            budget in 0.0f64..1e7,
        ) {
            let deadline = now + budget;
            let mut state = RetryState::new();
            match state.on_failure(&policy, &err, false, random, now, Some(deadline)) {
                Verdict::Retry { delay_ms, .. } => prop_assert!(now + (delay_ms as f64) < deadline),
                Verdict::GiveUp(out) => {
                    if policy.limit == 0 {
                        prop_assert_eq!(out, err);
                    } else {
                        prop_assert_eq!(out.code, ErrorCode::Deadline);
                        prop_assert_eq!(out.status, err.status);
                    }
                }
            }
        }
    }
}
