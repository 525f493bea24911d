//! The request log behind `/log`, and the per-tag request counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::{json, Value};

const NO_BODY_START: u64 = u64::MAX;

/// Locks a mutex, ignoring poisoning (the protected data stays consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One logged request. The response fields are updated while the body streams.
#[derive(Debug)]
pub(crate) struct Entry {
    seq: u64,
    tag: String,
    method: String,
    query: String,
    range: Option<String>,
    if_range: Option<String>,
    authorization: Option<String>,
    t_ms: u64,
    status: AtomicU16,
    body_start: AtomicU64,
    bytes_sent: AtomicU64,
    completed: AtomicBool,
    aborted: AtomicBool,
}

impl Entry {
    pub(crate) fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub(crate) fn set_body_start(&self, start: Option<u64>) {
        self.body_start
            .store(start.unwrap_or(NO_BODY_START), Ordering::Relaxed);
    }

    pub(crate) fn add_sent(&self, n: u64) {
        self.bytes_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self, completed: bool) {
        if completed {
            self.completed.store(true, Ordering::Release);
        } else {
            self.aborted.store(true, Ordering::Release);
        }
    }

    fn to_json(&self) -> Value {
        let status = self.status.load(Ordering::Relaxed);
        let body_start = self.body_start.load(Ordering::Relaxed);
        json!({
            "seq": self.seq,
            "tag": self.tag,
            "method": self.method,
            "query": self.query,
            "range": self.range,
            "if_range": self.if_range,
            "authorization": self.authorization,
            "status": (status != 0).then_some(status),
            "body_start": (body_start != NO_BODY_START).then_some(body_start),
            "bytes_sent": self.bytes_sent.load(Ordering::Relaxed),
            "completed": self.completed.load(Ordering::Acquire),
            "aborted": self.aborted.load(Ordering::Acquire),
            "t_ms": self.t_ms,
        })
    }
}

/// What is known about a request when it arrives.
pub(crate) struct NewEntry {
    pub tag: String,
    pub method: String,
    pub query: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub authorization: Option<String>,
}

/// Per-tag counters that drive the `*_times` and `change_after` knobs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    /// GET/HEAD requests answered from the resource (200, 206, 416).
    Served,
    /// GET/HEAD requests that carried a `status` knob.
    ForcedStatus,
    /// GET requests whose body covers the `stall_at` offset.
    Stall,
    /// GET requests whose body covers the `cut_at` offset.
    Cut,
}

#[derive(Debug, Default)]
struct TagCounters {
    served: u64,
    forced_status: u64,
    stall: u64,
    cut: u64,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Arc<Entry>>,
    counters: HashMap<String, TagCounters>,
    /// Uses of each credential (`sig` value, `Authorization` value) per tag.
    uses: HashMap<(String, String), u64>,
    next_seq: u64,
}

pub(crate) struct RequestLog {
    started: Instant,
    inner: Mutex<Inner>,
}

impl RequestLog {
    pub(crate) fn new() -> Self {
        RequestLog {
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn record(&self, new: NewEntry) -> Arc<Entry> {
        let t_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut inner = lock(&self.inner);
        inner.next_seq += 1;
        let entry = Arc::new(Entry {
            seq: inner.next_seq,
            tag: new.tag,
            method: new.method,
            query: new.query,
            range: new.range,
            if_range: new.if_range,
            authorization: new.authorization,
            t_ms,
            status: AtomicU16::new(0),
            body_start: AtomicU64::new(NO_BODY_START),
            bytes_sent: AtomicU64::new(0),
            completed: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
        });
        inner.entries.push(Arc::clone(&entry));
        entry
    }

    /// Increments a counter of `tag` and returns its new value, so the first
    /// request counted gets 1.
    pub(crate) fn bump(&self, tag: &str, counter: Counter) -> u64 {
        let mut inner = lock(&self.inner);
        let counters = inner.counters.entry(tag.to_string()).or_default();
        let slot = match counter {
            Counter::Served => &mut counters.served,
            Counter::ForcedStatus => &mut counters.forced_status,
            Counter::Stall => &mut counters.stall,
            Counter::Cut => &mut counters.cut,
        };
        *slot += 1;
        *slot
    }

    /// Counts one more use of credential `key` (a `sig` or an `Authorization` value) under
    /// `tag` and returns the count, so its first use gets 1.
    pub(crate) fn bump_use(&self, tag: &str, key: &str) -> u64 {
        let mut inner = lock(&self.inner);
        let slot = inner
            .uses
            .entry((tag.to_string(), key.to_string()))
            .or_default();
        *slot += 1;
        *slot
    }

    /// The entries of `tag` (or all entries), oldest first.
    pub(crate) fn to_json(&self, tag: Option<&str>) -> Value {
        let inner = lock(&self.inner);
        Value::Array(
            inner
                .entries
                .iter()
                .filter(|e| tag.is_none_or(|t| e.tag == t))
                .map(|e| e.to_json())
                .collect(),
        )
    }

    /// Forgets the entries and counters of `tag` (or of every tag); returns the
    /// number of entries removed.
    pub(crate) fn clear(&self, tag: Option<&str>) -> usize {
        let mut inner = lock(&self.inner);
        let before = inner.entries.len();
        match tag {
            Some(t) => {
                inner.entries.retain(|e| e.tag != t);
                inner.counters.remove(t);
                inner.uses.retain(|(tag, _), _| tag != t);
            }
            None => {
                inner.entries.clear();
                inner.counters.clear();
                inner.uses.clear();
            }
        }
        before - inner.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(tag: &str) -> NewEntry {
        NewEntry {
            tag: tag.into(),
            method: "GET".into(),
            query: format!("tag={tag}"),
            range: Some("bytes=0-".into()),
            if_range: None,
            authorization: None,
        }
    }

    #[test]
    fn records_and_filters_by_tag() {
        let log = RequestLog::new();
        let a = log.record(new("a"));
        log.record(new("b"));
        a.set_status(206);
        a.set_body_start(Some(5));
        a.add_sent(10);
        a.add_sent(5);
        a.finish(true);
        let all = log.to_json(None);
        assert_eq!(all.as_array().unwrap().len(), 2);
        let only_a = log.to_json(Some("a"));
        let e = &only_a[0];
        assert_eq!(e["seq"], 1);
        assert_eq!(e["status"], 206);
        assert_eq!(e["body_start"], 5);
        assert_eq!(e["bytes_sent"], 15);
        assert_eq!(e["completed"], true);
        assert_eq!(e["aborted"], false);
        assert_eq!(e["range"], "bytes=0-");
        assert!(e["if_range"].is_null());
        let b = &log.to_json(Some("b"))[0];
        assert!(b["status"].is_null());
        assert!(b["body_start"].is_null());
    }

    #[test]
    fn counters_are_per_tag_and_cleared() {
        let log = RequestLog::new();
        assert_eq!(log.bump("a", Counter::Served), 1);
        assert_eq!(log.bump("a", Counter::Served), 2);
        assert_eq!(log.bump("a", Counter::Cut), 1);
        assert_eq!(log.bump("b", Counter::Served), 1);
        log.record(new("a"));
        log.record(new("b"));
        assert_eq!(log.clear(Some("a")), 1);
        assert_eq!(log.bump("a", Counter::Served), 1);
        assert_eq!(log.bump("b", Counter::Served), 2);
        assert_eq!(log.clear(None), 1);
        assert_eq!(log.bump("b", Counter::Served), 1);
    }
}
