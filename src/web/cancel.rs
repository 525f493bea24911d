//! [`StopToken`]: tells a running transfer to stop, and why. Every await in a transfer races
//! against it, so a stop takes effect at the next poll, whatever the transfer is waiting for.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Why a transfer is being stopped: the lifecycle's reasons (`crate::core::lifecycle::Stop`).
pub use crate::core::lifecycle::Stop as StopReason;

#[derive(Default)]
struct Inner {
    reason: Option<StopReason>,
    wakers: Vec<Waker>,
}

/// A shared stop flag with wakers. Clones share the flag.
#[derive(Clone, Default)]
pub struct StopToken(Rc<RefCell<Inner>>);

impl StopToken {
    /// Requests a stop. The first reason wins; later calls change nothing.
    pub fn stop(&self, reason: StopReason) {
        let wakers = {
            let mut inner = self.0.borrow_mut();
            if inner.reason.is_some() {
                return;
            }
            inner.reason = Some(reason);
            std::mem::take(&mut inner.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// The stop reason, if a stop was requested.
    pub fn reason(&self) -> Option<StopReason> {
        self.0.borrow().reason
    }

    /// Ready with the reason once a stop is requested.
    pub fn poll_stopped(&self, cx: &mut Context<'_>) -> Poll<StopReason> {
        let mut inner = self.0.borrow_mut();
        if let Some(r) = inner.reason {
            return Poll::Ready(r);
        }
        if !inner.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            inner.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
