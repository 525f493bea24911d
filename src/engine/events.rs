//! Manager-level listeners. They outlive any one download and receive events for every
//! download the manager owns.

use std::cell::{Cell, RefCell};

use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::web::js::console_error;

/// The event types, as the strings `on()` accepts.
pub const EVENT_TYPES: [&str; 7] = [
    "progress",
    "statechange",
    "complete",
    "error",
    "idle",
    "restarted",
    "retry",
];

struct Listener {
    id: u64,
    kind: &'static str,
    f: Function,
}

/// Registered listeners.
#[derive(Default)]
pub struct Events {
    listeners: RefCell<Vec<Listener>>,
    next_id: Cell<u64>,
}

impl Events {
    /// Adds a listener for `kind` (one of [`EVENT_TYPES`]); returns its id.
    pub fn add(&self, kind: &'static str, f: Function) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.listeners.borrow_mut().push(Listener { id, kind, f });
        id
    }

    /// Removes a listener; true if it was registered.
    pub fn remove(&self, id: u64) -> bool {
        let mut l = self.listeners.borrow_mut();
        let before = l.len();
        l.retain(|x| x.id != id);
        l.len() != before
    }

    /// Drops every listener.
    pub fn clear(&self) {
        self.listeners.borrow_mut().clear();
    }

    /// Calls each listener of `kind` with `event`. The list is copied first, so a listener may
    /// add or remove listeners. A listener that throws is reported and does not stop the others.
    pub fn emit(&self, kind: &str, event: &JsValue) {
        let targets: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.f.clone())
            .collect();
        for f in targets {
            if let Err(e) = f.call1(&JsValue::UNDEFINED, event) {
                console_error("resumable-downloads: an event listener threw", &e);
            }
        }
    }

    /// True when anyone listens for `kind` (saves building payloads nobody reads).
    pub fn has(&self, kind: &str) -> bool {
        self.listeners.borrow().iter().any(|l| l.kind == kind)
    }
}
