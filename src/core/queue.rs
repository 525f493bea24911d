//! The download queue: at most `concurrency` downloads run; the rest wait in a fair order —
//! higher `priority` first, then first come, first served.
//!
//! The queue only decides who runs. The caller tells it when a download wants to run
//! ([`Queue::enqueue`]) and when it stops for any reason ([`Queue::remove`]: finished, failed,
//! paused, cancelled); each call returns the ids that may start now.

/// One waiting download.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Waiting {
    id: String,
    priority: i32,
    seq: u64,
}

/// Who runs and who waits.
#[derive(Clone, Debug)]
pub struct Queue {
    concurrency: usize,
    running: Vec<String>,
    waiting: Vec<Waiting>,
    next_seq: u64,
}

impl Queue {
    /// A queue running at most `concurrency` downloads (at least 1).
    pub fn new(concurrency: usize) -> Queue {
        Queue {
            concurrency: concurrency.max(1),
            running: Vec::new(),
            waiting: Vec::new(),
            next_seq: 0,
        }
    }

    /// The ids running now.
    pub fn running(&self) -> &[String] {
        &self.running
    }

    /// True if `id` is running.
    pub fn is_running(&self, id: &str) -> bool {
        self.running.iter().any(|r| r == id)
    }

    /// True if `id` waits for a slot.
    pub fn is_waiting(&self, id: &str) -> bool {
        self.waiting.iter().any(|w| w.id == id)
    }

    /// The waiting ids in the order they will start.
    pub fn waiting(&self) -> Vec<String> {
        let mut w = self.waiting.clone();
        w.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq)));
        w.into_iter().map(|w| w.id).collect()
    }

    /// `id` wants to run with `priority`. Returns the ids that start now (possibly `id`).
    /// A download already running or waiting keeps its place.
    pub fn enqueue(&mut self, id: &str, priority: i32) -> Vec<String> {
        if !self.is_running(id) && !self.is_waiting(id) {
            self.next_seq += 1;
            self.waiting.push(Waiting {
                id: id.to_owned(),
                priority,
                seq: self.next_seq,
            });
        }
        self.fill()
    }

    /// `id` stopped running or no longer wants to (finished, failed, paused, cancelled,
    /// removed). Returns the ids that start in the freed slot.
    pub fn remove(&mut self, id: &str) -> Vec<String> {
        self.running.retain(|r| r != id);
        self.waiting.retain(|w| w.id != id);
        self.fill()
    }

    /// Changes the limit. Running downloads are never stopped by a lower limit; they just
    /// are not replaced until the count is under it.
    pub fn set_concurrency(&mut self, concurrency: usize) -> Vec<String> {
        self.concurrency = concurrency.max(1);
        self.fill()
    }

    fn fill(&mut self) -> Vec<String> {
        let mut started = Vec::new();
        while self.running.len() < self.concurrency && !self.waiting.is_empty() {
            let next = (0..self.waiting.len())
                .min_by(|&a, &b| {
                    let (a, b) = (&self.waiting[a], &self.waiting[b]);
                    b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq))
                })
                .map(|i| self.waiting.remove(i));
            if let Some(w) = next {
                self.running.push(w.id.clone());
                started.push(w.id);
            }
        }
        started
    }
}

/// The indices of `keys` in ascending order of their key (by `f64::total_cmp`), equal keys in
/// their original order: what a stable `sort_by` would give. A merge sort on indices, so that
/// the wasm module does not carry the code of `slice::sort_by`.
pub fn stable_order(keys: &[f64]) -> Vec<usize> {
    let n = keys.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut merged = order.clone();
    let mut width = 1;
    while width < n {
        for lo in (0..n).step_by(2 * width) {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j) = (lo, mid);
            for slot in &mut merged[lo..hi] {
                // The left run's head goes first unless the right one's is strictly smaller.
                if j == hi || (i < mid && keys[order[j]].total_cmp(&keys[order[i]]).is_ge()) {
                    *slot = order[i];
                    i += 1;
                } else {
                    *slot = order[j];
                    j += 1;
                }
            }
        }
        std::mem::swap(&mut order, &mut merged);
        width *= 2;
    }
    order
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_at_most_concurrency_fifo() {
        let mut q = Queue::new(2);
        assert_eq!(q.enqueue("a", 0), ["a"]);
        assert_eq!(q.enqueue("b", 0), ["b"]);
        assert!(q.enqueue("c", 0).is_empty());
        assert!(q.enqueue("d", 0).is_empty());
        assert_eq!(q.waiting(), ["c", "d"]);
        assert_eq!(q.remove("a"), ["c"]);
        assert_eq!(q.remove("b"), ["d"]);
        assert_eq!(q.running(), ["c", "d"]);
    }

    #[test]
    fn priority_goes_first_then_arrival() {
        let mut q = Queue::new(1);
        q.enqueue("running", 0);
        q.enqueue("low", -1);
        q.enqueue("first", 0);
        q.enqueue("urgent", 5);
        q.enqueue("second", 0);
        assert_eq!(q.waiting(), ["urgent", "first", "second", "low"]);
        assert_eq!(q.remove("running"), ["urgent"]);
    }

    #[test]
    fn pausing_a_running_download_frees_its_slot_and_waiting_ones_leave_the_line() {
        let mut q = Queue::new(1);
        q.enqueue("a", 0);
        q.enqueue("b", 0);
        q.enqueue("c", 0);
        assert_eq!(q.remove("b"), Vec::<String>::new(), "b was only waiting");
        assert_eq!(q.remove("a"), ["c"]);
        // Re-enqueued after a pause: back of the line.
        q.enqueue("a", 0);
        assert_eq!(q.waiting(), ["a"]);
    }

    #[test]
    fn enqueue_is_idempotent() {
        let mut q = Queue::new(1);
        q.enqueue("a", 0);
        q.enqueue("b", 0);
        assert!(q.enqueue("a", 9).is_empty());
        assert!(q.enqueue("b", 9).is_empty());
        assert_eq!(q.waiting(), ["b"]);
    }

    #[test]
    fn raising_concurrency_starts_more_lowering_stops_nothing() {
        let mut q = Queue::new(1);
        for id in ["a", "b", "c"] {
            q.enqueue(id, 0);
        }
        assert_eq!(q.set_concurrency(3), ["b", "c"]);
        assert!(q.set_concurrency(1).is_empty());
        assert_eq!(q.running().len(), 3);
        q.enqueue("d", 0);
        assert!(q.remove("a").is_empty(), "still above the limit");
        assert!(q.remove("b").is_empty());
        assert_eq!(q.remove("c"), ["d"]);
        assert_eq!(
            Queue::new(0).enqueue("x", 0),
            ["x"],
            "concurrency is at least 1"
        );
    }

    #[derive(Clone, Debug)]
    enum Op {
        Enqueue(u8, i8),
        Remove(u8),
        Limit(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..30, -2i8..3).prop_map(|(i, p)| Op::Enqueue(i, p)),
            3 => (0u8..30).prop_map(Op::Remove),
            1 => (0u8..6).prop_map(Op::Limit),
        ]
    }

    proptest! {
        /// The queue never runs more than the limit (unless the limit was lowered under running
        /// downloads), never leaves a slot idle while someone waits, never holds an id twice,
        /// and always starts the best waiting download.
        #[test]
        fn queue_invariants(limit in 1usize..6, ops in proptest::collection::vec(op(), 0..200)) {
            let mut q = Queue::new(limit);
            let mut limit = limit;
            for o in ops {
                let before = q.waiting();
                let before_running = q.running().len();
                let started = match o {
                    Op::Enqueue(i, p) => q.enqueue(&i.to_string(), i32::from(p)),
                    Op::Remove(i) => q.remove(&i.to_string()),
                    Op::Limit(l) => { limit = usize::from(l).max(1); q.set_concurrency(limit) }
                };
                // Started ids are the head of the previous line (plus a newcomer).
                let expected: Vec<String> = q.running().iter().filter(|r| started.contains(r)).cloned().collect();
                prop_assert_eq!(&started, &expected);
                for s in &started {
                    if let Some(pos) = before.iter().position(|w| w == s) {
                        prop_assert!(before[..pos].iter().all(|w| started.contains(w) || !q.is_waiting(w)));
                    }
                }
                if !started.is_empty() {
                    prop_assert!(q.running().len() <= limit.max(before_running));
                }
                prop_assert!(q.running().len() >= limit || q.waiting().is_empty(), "idle slot while someone waits");
                let mut all: Vec<String> = q.running().to_vec();
                all.extend(q.waiting());
                let n = all.len();
                all.sort();
                all.dedup();
                prop_assert_eq!(all.len(), n, "an id held twice");
            }
        }
    }

    #[test]
    fn stable_order_small() {
        assert_eq!(stable_order(&[]), Vec::<usize>::new());
        assert_eq!(stable_order(&[5.0]), [0]);
        assert_eq!(stable_order(&[3.0, 1.0, 2.0, 1.0, 3.0]), [1, 3, 2, 0, 4]);
        assert_eq!(
            stable_order(&[f64::NAN, 0.0, -0.0, f64::INFINITY]),
            [2, 1, 3, 0]
        );
    }

    proptest! {
        #[test]
        fn stable_order_is_a_stable_sort(keys in prop::collection::vec(
            prop_oneof![(0u8..8).prop_map(f64::from), any::<f64>()], 0..200)) {
            let mut want: Vec<usize> = (0..keys.len()).collect();
            want.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
            prop_assert_eq!(stable_order(&keys), want);
        }
    }
}
