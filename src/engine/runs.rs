//! Run accounting: how many runs are in progress, and who waits for them all to end
//! (`close()` resolves when the last one has committed).

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

/// The runs of one manager.
#[derive(Clone, Default)]
pub(crate) struct Runs(Rc<RefCell<Inner>>);

#[derive(Default)]
struct Inner {
    active: u32,
    idle_waiters: Vec<futures::channel::oneshot::Sender<()>>,
}

/// Held by a running download task; dropping it tells the manager the run has ended.
pub(crate) struct RunGuard(Rc<RefCell<Inner>>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let waiters = {
            let mut r = self.0.borrow_mut();
            r.active -= 1;
            if r.active > 0 {
                return;
            }
            std::mem::take(&mut r.idle_waiters)
        };
        for w in waiters {
            let _ = w.send(());
        }
    }
}

impl Runs {
    /// Counts a run until the returned guard drops.
    pub fn start(&self) -> RunGuard {
        self.0.borrow_mut().active += 1;
        RunGuard(self.0.clone())
    }

    /// Resolves once no run is in progress.
    pub fn ended(&self) -> impl Future<Output = ()> {
        let rx = {
            let mut r = self.0.borrow_mut();
            (r.active > 0).then(|| {
                let (tx, rx) = futures::channel::oneshot::channel();
                r.idle_waiters.push(tx);
                rx
            })
        };
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }
}
