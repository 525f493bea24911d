//! What a download's record says of its bytes and its lifecycle, as core values, and the rules
//! that change it: accepting a response, starting over, completing, cutting back to a good
//! prefix, ending a run, handing the request to Background Fetch and taking it back.
//!
//! The browser layer keeps a [`Stored`] inside its record and flattens it to JavaScript in one
//! codec; it never rebuilds or clears these fields itself.

use super::lifecycle::State;
use super::resume::{Identity, ResumeState};
use super::DownloadError;

/// A Background Fetch registration that transfers the download now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handover {
    /// The registration's id.
    pub id: String,
    /// Its request resumes the stored bytes with `If-Range` carrying the stored validator:
    /// its answer is judged by [`super::resume::decide_if_range`].
    pub if_range: bool,
}

/// The code and message of a download's last failure, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredError {
    /// The error code's string (`DownloadError.code`).
    pub code: String,
    /// The message.
    pub message: String,
}

impl StoredError {
    /// The stored form of `e`.
    pub fn of(e: &DownloadError) -> StoredError {
        StoredError {
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
        }
    }

    /// The error again (an unknown code reads as `STORAGE`).
    pub fn to_error(&self) -> DownloadError {
        use super::ErrorCode;
        DownloadError::new(
            ErrorCode::parse(&self.code).unwrap_or(ErrorCode::Storage),
            self.message.clone(),
        )
    }
}

/// The stored facts of one download that every rule about it reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// Bytes committed: a true prefix of the resource `identity` describes (I1).
    pub offset: u64,
    /// The resource, fixed by the first accepted response.
    pub identity: Option<Identity>,
    /// The URL the accepted response came from, when it is kept: a redirect's target, or the
    /// download's own URL. A URL `prepareRequest` gave (it may be signed) is never kept (I16).
    pub final_url: Option<String>,
    /// The server cannot be asked for ranges: ask for the whole resource.
    pub no_range: bool,
    /// The SRI value the file must match.
    pub integrity: Option<String>,
    /// The serialized hash state after `offset` bytes, when `integrity` is checked.
    pub hash: Option<Vec<u8>>,
    /// Restarts caused by an integrity mismatch.
    pub integrity_restarts: u32,
    /// The generation of the stored bytes; every restart starts a new one (I10).
    pub epoch: u32,
    /// Bytes discarded by restarts.
    pub wasted: u64,
    /// The lifecycle state (I14).
    pub state: State,
    /// The last failure, kept with a failed download.
    pub error: Option<StoredError>,
    /// Handed to Background Fetch where it can be (`add(url, { background: true })`).
    pub background: bool,
    /// The registration that transfers it now, if any.
    pub handover: Option<Handover>,
    /// Completed where no page showed it (a service worker): the next manager announces it.
    pub unseen: bool,
}

/// Where an accepted response came from, and what of it is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// The URL the response came from when it is not the one asked for (a redirect).
    pub redirect: Option<String>,
    /// What the record keeps as its final URL: the redirect's target, or the requested URL
    /// when that is the download's own; nothing for a URL `prepareRequest` gave.
    pub kept_url: Option<String>,
}

impl Source {
    /// The source of a response to `requested` that came from `answered`, for a download
    /// added with `url`.
    pub fn of(url: &str, requested: &str, answered: &str) -> Source {
        let redirect = (answered != requested).then(|| answered.to_owned());
        let kept_url = redirect
            .clone()
            .or_else(|| (requested == url).then(|| requested.to_owned()));
        Source { redirect, kept_url }
    }
}

impl Stored {
    /// A new download's facts: nothing stored yet, and stored as running from the start, so
    /// that a reload continues it whether or not it got a slot (queued and running are stored
    /// alike: see [`super::lifecycle::changes_stored`]).
    pub fn new(integrity: Option<String>, background: bool) -> Stored {
        Stored {
            integrity,
            background,
            state: State::Running,
            ..Stored::default()
        }
    }

    /// The resource's exact total, when known.
    pub fn total(&self) -> Option<u64> {
        self.identity.as_ref().and_then(|i| i.total)
    }

    /// True when the stored bytes can be continued with a range request.
    pub fn resumable(&self) -> bool {
        self.identity.as_ref().is_some_and(Identity::resumable)
    }

    /// The facts the resume decisions read, for a download added with `url`. A final URL
    /// equal to the download's own is no redirect.
    pub fn resume_state(&self, url: &str) -> ResumeState {
        ResumeState {
            offset: self.offset,
            identity: self.identity.clone(),
            redirect: self.final_url.clone().filter(|u| u != url),
            no_range: self.no_range,
            bad_partials: 0,
        }
    }

    /// The URL the accepted response came from: the kept one, else (a URL `prepareRequest`
    /// gave, which is not kept) the download's own `url`; `None` before a response is
    /// accepted.
    pub fn answered_url(&self, url: &str) -> Option<String> {
        let accepted = self.identity.is_some();
        self.final_url
            .clone()
            .or_else(|| accepted.then(|| url.to_owned()))
    }

    /// The validator a request that continues the stored bytes sends in `If-Range`: the
    /// strong ETag, else the strong Last-Modified.
    pub fn if_range(&self) -> Option<&str> {
        let id = self.identity.as_ref()?;
        id.etag.as_deref().or(id.last_modified.as_deref())
    }

    /// A response was accepted: `identity` is the resource the bytes now belong to, and
    /// `source` where it came from.
    pub fn accept(&mut self, identity: Identity, source: Source) {
        self.identity = Some(identity);
        self.final_url = source.kept_url;
    }

    /// Starts over from 0 in a new epoch (I9): the identity and hash state go, and the
    /// `discarded` bytes (committed and under way) count as wasted. The rest stays: the
    /// download's options, its lifecycle state, `no_range` (a server that cannot serve
    /// ranges still cannot), and the integrity restarts counted so far.
    pub fn restart(&mut self, discarded: u64) {
        self.epoch += 1;
        self.offset = 0;
        self.hash = None;
        self.identity = None;
        self.final_url = None;
        self.wasted += discarded;
    }

    /// The stored bytes shrink to the first `offset`, with `hash` the hash state after them.
    pub fn cut(&mut self, offset: u64, hash: Option<Vec<u8>>) {
        self.offset = offset.min(self.offset);
        self.hash = hash;
    }

    /// Every byte is stored and verified (I6): the total is what is stored, the download is
    /// completed, and `unseen` when no page showed it complete.
    pub fn complete(&mut self, seen: bool) {
        self.identity.get_or_insert_with(Identity::default).total = Some(self.offset);
        self.state = State::Completed;
        self.error = None;
        self.unseen = !seen;
    }

    /// A run ends in `state` (paused, failed, queued again): a failure keeps its error.
    pub fn end_run(&mut self, state: State, error: Option<&DownloadError>) {
        self.state = state;
        if state == State::Failed {
            self.error = error.map(StoredError::of);
        }
    }

    /// A run starts: stored running, naming no registration (this run writes it).
    pub fn start_run(&mut self) {
        self.state = State::Running;
        self.handover = None;
    }

    /// True when a run must store its start before its first byte (I14): the stored state
    /// is not active (a resume after a pause or a failure), or the download asks for
    /// Background Fetch, whose stored registration may be older than what this tab believes.
    pub fn run_needs_store(&self) -> bool {
        !self.state.is_active() || self.background
    }

    /// The request goes to the registration `id`; `if_range` says it carries the stored
    /// validator.
    pub fn hand_over(&mut self, id: String, if_range: bool) {
        self.handover = Some(Handover { id, if_range });
    }

    /// The record names no registration any more.
    pub fn take_back(&mut self) {
        self.handover = None;
    }

    /// True when the registration `id` is the one that transfers the download now.
    pub fn names_registration(&self, id: &str) -> bool {
        self.handover.as_ref().is_some_and(|h| h.id == id)
    }

    /// True when a response of its registration was asked for with the stored validator in
    /// `If-Range`, and is to be judged so.
    pub fn vouched(&self) -> bool {
        self.handover.as_ref().is_some_and(|h| h.if_range)
    }

    /// The error a failed download was stored with.
    pub fn failure(&self) -> Option<DownloadError> {
        (self.state == State::Failed).then(|| self.error.clone().unwrap_or_default().to_error())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::core::ErrorCode;

    fn identity() -> Identity {
        Identity {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Tue, 01 Dec 2026 00:00:00 GMT".into()),
            total: Some(100),
            ranges: true,
        }
    }

    fn running(offset: u64) -> Stored {
        let mut s = Stored::new(Some("sha256-x".into()), false);
        s.accept(
            identity(),
            Source::of("https://a/f", "https://a/f", "https://a/f"),
        );
        s.offset = offset;
        s.hash = Some(vec![1, 2, 3]);
        s.state = State::Running;
        s
    }

    #[test]
    fn source_keeps_redirects_and_the_downloads_own_url_only() {
        let own = Source::of("https://a/f", "https://a/f", "https://a/f");
        assert_eq!(own.redirect, None);
        assert_eq!(own.kept_url.as_deref(), Some("https://a/f"));
        let redirected = Source::of("https://a/f", "https://a/f", "https://cdn/f");
        assert_eq!(redirected.redirect.as_deref(), Some("https://cdn/f"));
        assert_eq!(redirected.kept_url.as_deref(), Some("https://cdn/f"));
        // A signed URL from prepareRequest is sent, never kept (I16).
        let signed = Source::of("https://a/f", "https://a/f?sig=1", "https://a/f?sig=1");
        assert_eq!(signed, Source::default());
        let signed_redirect = Source::of("https://a/f", "https://a/f?sig=1", "https://cdn/f");
        assert_eq!(signed_redirect.kept_url.as_deref(), Some("https://cdn/f"));
    }

    #[test]
    fn resume_state_reads_a_kept_own_url_as_no_redirect() {
        let s = running(40);
        let r = s.resume_state("https://a/f");
        assert_eq!(
            (r.offset, r.redirect, r.identity),
            (40, None, Some(identity()))
        );
        let mut moved = running(40);
        moved.accept(
            identity(),
            Source::of("https://a/f", "https://a/f", "https://cdn/f"),
        );
        assert_eq!(
            moved.resume_state("https://a/f").redirect.as_deref(),
            Some("https://cdn/f")
        );
        assert_eq!(Stored::default().resume_state("u").identity, None);
    }

    #[test]
    fn the_answered_url_is_the_kept_one_else_the_downloads_own_once_accepted() {
        assert_eq!(Stored::default().answered_url("https://a/f"), None);
        let mut s = running(1);
        assert_eq!(
            s.answered_url("https://a/f").as_deref(),
            Some("https://a/f")
        );
        s.final_url = None;
        assert_eq!(
            s.answered_url("https://a/g").as_deref(),
            Some("https://a/g")
        );
        s.final_url = Some("https://cdn/f".into());
        assert_eq!(
            s.answered_url("https://a/f").as_deref(),
            Some("https://cdn/f")
        );
    }

    #[test]
    fn restart_clears_the_resource_and_counts_what_it_discards() {
        let mut s = running(40);
        s.no_range = true;
        s.integrity_restarts = 1;
        s.restart(64);
        assert_eq!(s.epoch, 1);
        assert_eq!(
            (s.offset, s.hash.clone(), s.identity.clone()),
            (0, None, None)
        );
        assert_eq!((s.final_url.clone(), s.wasted), (None, 64));
        // What the download is and what was learnt of the server stay.
        assert_eq!(s.integrity.as_deref(), Some("sha256-x"));
        assert!(s.no_range);
        assert_eq!((s.integrity_restarts, s.state), (1, State::Running));
        s.restart(10);
        assert_eq!((s.epoch, s.wasted), (2, 74));
    }

    #[test]
    fn complete_fixes_the_total_at_what_is_stored() {
        let mut s = running(100);
        s.error = Some(StoredError::of(&DownloadError::new(
            ErrorCode::Network,
            "x",
        )));
        s.complete(true);
        assert_eq!(
            (s.total(), s.state, s.error.clone(), s.unseen),
            (Some(100), State::Completed, None, false)
        );
        // A full body of unknown length: its clean end fixed the total.
        let mut unknown = Stored::new(None, false);
        unknown.identity = Some(Identity::default());
        unknown.offset = 7;
        unknown.complete(false);
        assert_eq!((unknown.total(), unknown.unseen), (Some(7), true));
    }

    #[test]
    fn the_validator_sent_is_the_etag_else_the_last_modified() {
        let mut s = running(10);
        assert_eq!(s.if_range(), Some("\"v1\""));
        s.identity.as_mut().unwrap().etag = None;
        assert_eq!(s.if_range(), Some("Tue, 01 Dec 2026 00:00:00 GMT"));
        s.identity.as_mut().unwrap().last_modified = None;
        assert_eq!(s.if_range(), None);
        assert_eq!(Stored::default().if_range(), None);
    }

    #[test]
    fn resumable_needs_an_accepted_identity_that_proves_itself() {
        assert!(running(10).resumable());
        assert!(!Stored::default().resumable());
        let mut weak = running(10);
        weak.identity.as_mut().unwrap().etag = None;
        weak.identity.as_mut().unwrap().last_modified = None;
        assert!(!weak.resumable());
    }

    #[test]
    fn cut_never_grows_the_prefix() {
        let mut s = running(40);
        s.cut(16, None);
        assert_eq!((s.offset, s.hash.clone()), (16, None));
        s.cut(30, Some(vec![9]));
        assert_eq!((s.offset, s.hash.clone()), (16, Some(vec![9])));
    }

    #[test]
    fn a_run_end_keeps_the_error_of_a_failure_only() {
        let e = DownloadError::new(ErrorCode::HttpStatus, "404");
        let mut s = running(10);
        s.end_run(State::Failed, Some(&e));
        assert_eq!(s.failure(), Some(e.clone()));
        let mut p = running(10);
        p.end_run(State::Paused, Some(&e));
        assert_eq!(
            (p.state, p.error.clone(), p.failure()),
            (State::Paused, None, None)
        );
        // A failure stored without its error reads as STORAGE, never as success.
        let mut bare = running(0);
        bare.state = State::Failed;
        assert_eq!(bare.failure().map(|e| e.code), Some(ErrorCode::Storage));
    }

    #[test]
    fn a_run_stores_its_start_unless_the_stored_state_already_says_it_runs() {
        let mut s = running(0);
        assert!(!s.run_needs_store());
        s.state = State::Queued;
        assert!(!s.run_needs_store());
        for stopped in [State::Paused, State::Failed, State::Completed] {
            s.state = stopped;
            assert!(s.run_needs_store(), "{stopped:?}");
        }
        s.state = State::Running;
        s.background = true;
        assert!(
            s.run_needs_store(),
            "a background download is stored naming no registration"
        );
        s.hand_over("r".into(), true);
        s.start_run();
        assert_eq!((s.state, s.handover.clone()), (State::Running, None));
    }

    #[test]
    fn a_handover_names_its_registration_and_whether_it_is_vouched_for() {
        let mut s = running(10);
        assert!(!s.names_registration("r") && !s.vouched());
        s.hand_over("r".into(), false);
        assert!(s.names_registration("r") && !s.names_registration("q") && !s.vouched());
        s.hand_over("r".into(), true);
        assert!(s.vouched());
        s.take_back();
        assert!(!s.names_registration("r") && !s.vouched());
    }

    mod sequences {
        use super::*;
        use proptest::prelude::*;

        /// What happens to a download's record over its life.
        #[derive(Clone, Debug)]
        enum Op {
            /// A response of this total (or unknown) is accepted.
            Accept(Option<u64>),
            /// This many more bytes are committed (at most the rest of a known total).
            Commit(u64),
            /// The stored bytes are discarded; the commits under way held this many more.
            Restart(u64),
            /// A recount keeps this part (per mille) of the stored bytes.
            Cut(u16),
            /// The last byte is stored and verified.
            Complete,
            /// A run ends failed or paused.
            End(bool),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                proptest::option::of(0u64..5000).prop_map(Op::Accept),
                (0u64..3000).prop_map(Op::Commit),
                (0u64..3000).prop_map(Op::Restart),
                (0u16..=1000).prop_map(Op::Cut),
                Just(Op::Complete),
                any::<bool>().prop_map(Op::End),
            ]
        }

        proptest! {
            /// Whatever happens: the stored bytes never pass a known total, a restart starts a
            /// new epoch from nothing and counts what it discards, a completion fixes the
            /// total at what is stored, and what the download is (its integrity value) never
            /// changes.
            #[test]
            fn a_record_keeps_its_invariants(ops in proptest::collection::vec(op(), 0..60)) {
                let mut s = Stored::new(Some("sha256-x".into()), false);
                let (mut epoch, mut wasted) = (0, 0);
                for op in ops {
                    match op {
                        Op::Accept(total) => {
                            if s.offset == 0 {
                                let identity = Identity { total, ..Identity::default() };
                                s.accept(identity, Source::of("u", "u", "u"));
                            }
                        }
                        Op::Commit(n) => {
                            let room = s.total().map_or(n, |t| t.saturating_sub(s.offset));
                            s.offset += n.min(room);
                            s.hash = Some(vec![1]);
                        }
                        Op::Restart(under_way) => {
                            let discarded = s.offset + under_way;
                            s.restart(discarded);
                            epoch += 1;
                            wasted += discarded;
                            prop_assert_eq!((s.offset, s.identity.clone()), (0, None));
                            prop_assert_eq!((s.hash.clone(), s.final_url.clone()), (None, None));
                        }
                        Op::Cut(keep) => {
                            let before = s.offset;
                            s.cut(before * u64::from(keep) / 1000, None);
                            prop_assert!(s.offset <= before);
                        }
                        Op::Complete => {
                            s.complete(true);
                            prop_assert_eq!(s.total(), Some(s.offset));
                            prop_assert_eq!(s.state, State::Completed);
                        }
                        Op::End(failed) => {
                            let e = DownloadError::new(crate::core::ErrorCode::Network, "x");
                            let state = if failed { State::Failed } else { State::Paused };
                            s.end_run(state, Some(&e));
                            prop_assert_eq!(s.failure().is_some(), failed);
                        }
                    }
                    prop_assert_eq!((s.epoch, s.wasted), (epoch, wasted));
                    if let Some(total) = s.total() {
                        prop_assert!(s.offset <= total, "{} past {}", s.offset, total);
                    }
                    prop_assert_eq!(s.resume_state("u").offset, s.offset);
                    prop_assert_eq!(s.integrity.as_deref(), Some("sha256-x"));
                }
            }
        }
    }
}
