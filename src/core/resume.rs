//! Resume decisions: what to ask for, and what a response means for the stored bytes.
//!
//! The stored bytes are always a true prefix of one resource (I1). That resource is fixed by
//! the first accepted response: its strong validator (an ETag without `W/`, or a Last-Modified
//! provably strong), its total length, and an identity encoding. A later response is appended
//! only when it proves it is the same resource at the same offset (I2). Anything else either
//! starts over from 0 (I3, I9) or writes nothing (I7).
//!
//! Requests never carry `If-Range`: it is not a CORS-safelisted header, so every cross-origin
//! resume would pay a preflight. Instead each `206` is validated after the fact, as the
//! Background Fetch specification does: the Content-Range start and total and the validator
//! must match what is stored, or the body is not used. The first request asks for
//! `Range: bytes=0-`, which is safelisted, makes the browser ask for an identity encoding, and
//! so yields an exact total; a server that answers `200` instead is accepted as well.

use super::error::{DownloadError, ErrorCode, Quoted};
use super::headers::{
    is_identity_encoding, parse_content_length, parse_content_range, parse_etag, parse_http_date,
    parse_retry_after, ContentRange, ContentRangeError,
};
use super::response::{check_body_end, ResponseHead};

/// What identifies the resource whose prefix is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The strong ETag, in header form (quotes included).
    pub etag: Option<String>,
    /// `Last-Modified`, kept only when provably strong (see [`Identity::from_head`]).
    pub last_modified: Option<String>,
    /// The resource's total length, when known exactly.
    pub total: Option<u64>,
    /// The server showed it serves byte ranges (it sent a 206, or `Accept-Ranges: bytes`).
    pub ranges: bool,
}

impl Identity {
    /// The identity a response establishes. `total` is the exact length (from Content-Range,
    /// or from the Content-Length of an identity-encoded 200). A Last-Modified value counts only
    /// if the response's `Date` is at least one second later (RFC 9110 §8.8.2.2): otherwise the
    /// resource could have changed twice within that second.
    pub fn from_head(head: &ResponseHead, total: Option<u64>, partial: bool) -> Identity {
        let etag = parse_etag(head.etag.as_deref())
            .filter(|t| t.is_strong())
            .map(|t| t.to_header());
        let last_modified = head.last_modified.as_ref().filter(|lm| {
            let lm = parse_http_date(lm);
            let date = head.date.as_deref().and_then(parse_http_date);
            matches!((lm, date), (Some(lm), Some(date)) if date > lm)
        });
        let accepts_bytes = head
            .accept_ranges
            .as_deref()
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("bytes")));
        Identity {
            etag,
            last_modified: last_modified.cloned(),
            total,
            ranges: partial || accepts_bytes,
        }
    }

    /// True when a later range response can be proven to be the same resource.
    pub fn resumable(&self) -> bool {
        self.total.is_some() && self.ranges && (self.etag.is_some() || self.last_modified.is_some())
    }
}

/// The facts about a download that the decisions need. Everything but `bad_partials` is
/// persisted with the download's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeState {
    /// Bytes stored: a true prefix of the resource `identity` describes.
    pub offset: u64,
    /// Set by the first accepted response.
    pub identity: Option<Identity>,
    /// Where the server redirected the accepted response's request; `None` when it answered
    /// the URL that was asked for (the stored URL, or the one `prepareRequest` gave).
    pub redirect: Option<String>,
    /// The server cannot be asked for ranges (416 to `bytes=0-`, or a 206 without a usable
    /// Content-Range): ask for the whole resource.
    pub no_range: bool,
    /// Consecutive malformed answers to a resume request.
    pub bad_partials: u32,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The stored bytes are the whole resource: verify and finish without a request.
    Complete,
    /// Send a request, with `Range: bytes=<start>-` when `range_start` is set.
    Fetch {
        /// Start of the requested range.
        range_start: Option<u64>,
    },
}

/// Why the stored bytes are discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// The server answered a range request with the whole resource.
    RangeIgnored,
    /// The validator changed: the resource is a new version.
    ValidatorChanged,
    /// The total length changed.
    TotalChanged,
    /// The response came from a different URL than the stored bytes.
    SourceChanged,
    /// Repeated malformed partial responses.
    BadPartial,
    /// The server said the stored offset is past the end.
    Unsatisfiable,
    /// The stored bytes cannot be proven to belong to the resource (no strong validator, no
    /// total, or no range support), so they cannot be continued.
    NotResumable,
    /// The finished file did not match its integrity hash.
    Integrity,
}

impl Restart {
    /// A stable string for events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Restart::RangeIgnored => "range-ignored",
            Restart::ValidatorChanged => "validator-changed",
            Restart::TotalChanged => "total-changed",
            Restart::SourceChanged => "source-changed",
            Restart::BadPartial => "bad-partial",
            Restart::Unsatisfiable => "unsatisfiable",
            Restart::NotResumable => "not-resumable",
            Restart::Integrity => "integrity",
        }
    }
}

/// A response whose body is to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Where the body goes: the stored offset for a resume, 0 otherwise.
    pub offset: u64,
    /// Exact body length, when known.
    pub expected_len: Option<u64>,
    /// The resource identity after this response.
    pub identity: Identity,
    /// Set when the stored bytes must be discarded before writing (offset is then 0).
    pub restart: Option<Restart>,
    /// A full-body (200) response: its clean end proves completion even with no total.
    pub full_body: bool,
}

/// What a response head means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Write the body (see [`Accepted`]).
    Write(Accepted),
    /// Discard the stored bytes and ask again from 0; this body is not used.
    Refetch(Restart),
    /// Ask again without a `Range` header; nothing stored changes.
    RetryWithoutRange,
    /// Nothing is written; the attempt failed with this error.
    Fail(DownloadError),
}

/// Decides what to request next.
pub fn plan(s: &ResumeState) -> Plan {
    let resumable = s.identity.as_ref().is_some_and(Identity::resumable);
    match &s.identity {
        Some(id) if id.total == Some(s.offset) => Plan::Complete,
        _ if s.offset > 0 && resumable => Plan::Fetch {
            range_start: Some(s.offset),
        },
        _ if s.no_range => Plan::Fetch { range_start: None },
        _ => Plan::Fetch {
            range_start: Some(0),
        },
    }
}

fn bad(message: impl Into<String>) -> DownloadError {
    DownloadError::new(ErrorCode::BadResponse, message)
}

/// Decides what a response head means for the stored bytes. `range_start` is what was asked
/// for; `redirect` is where the server redirected the request (`None` when the URL asked for
/// answered). The identity is the resource, not the URL: a request URL that differs from the
/// last one (a re-signed URL) is judged by the same validator, total and range rules; only a
/// redirect that differs from the stored one is a change of source (I12).
pub fn decide(
    s: &ResumeState,
    range_start: Option<u64>,
    head: &ResponseHead,
    redirect: Option<&str>,
    now_unix_ms: f64,
) -> Decision {
    decide_if_range(s, range_start, head, redirect, now_unix_ms, false)
}

/// [`decide`] for a response whose request carried `If-Range` with the stored validator
/// (`vouched`): Background Fetch's requests, whose cross-origin responses reach the service
/// worker with only the CORS-safelisted headers (no `Content-Range`, no `ETag`). The server
/// then answers `206` only for the stored version, and `200` (the whole new version)
/// otherwise, so a `206` without a visible `Content-Range` is the stored resource when its
/// `Content-Length` is exactly what remains of the stored total; a visible `ETag` must still
/// match. A `206` that shows its `Content-Range` is judged as any.
pub fn decide_if_range(
    s: &ResumeState,
    range_start: Option<u64>,
    head: &ResponseHead,
    redirect: Option<&str>,
    now_unix_ms: f64,
    vouched: bool,
) -> Decision {
    let resuming = range_start.is_some_and(|n| n > 0);
    if vouched && resuming && head.status == 206 && head.content_range.is_none() {
        return vouched_partial(s, range_start.unwrap_or(0), head, redirect);
    }
    match head.status {
        200 => {
            if resuming && s.redirect.as_deref() != redirect {
                return Decision::Refetch(Restart::SourceChanged);
            }
            let total = if is_identity_encoding(head.content_encoding.as_deref()) {
                parse_content_length(head.content_length.as_deref())
            } else {
                None
            };
            let restart = (s.offset > 0).then_some(if resuming && vouched {
                // If-Range failed: another version.
                Restart::ValidatorChanged
            } else if resuming {
                Restart::RangeIgnored
            } else {
                Restart::NotResumable
            });
            Decision::Write(Accepted {
                offset: 0,
                expected_len: total,
                identity: Identity::from_head(head, total, false),
                restart,
                full_body: true,
            })
        }
        206 => decide_partial(s, range_start, head, redirect),
        416 if range_start == Some(0) && s.offset == 0 => Decision::RetryWithoutRange,
        // A 416 is never proof of completion (I6): the resource no longer has our offset.
        416 => Decision::Refetch(Restart::Unsatisfiable),
        st @ 201..=299 => Decision::Fail(bad(format!("unexpected status {st}")).with_status(st)),
        st => Decision::Fail(
            DownloadError::new(ErrorCode::HttpStatus, format!("the server answered {st}"))
                .with_status(st)
                .with_retry_after_ms(parse_retry_after(head.retry_after.as_deref(), now_unix_ms)),
        ),
    }
}

fn decide_partial(
    s: &ResumeState,
    range_start: Option<u64>,
    head: &ResponseHead,
    redirect: Option<&str>,
) -> Decision {
    let Some(start) = range_start else {
        return Decision::Fail(bad("a 206 answered a request without Range"));
    };
    let range = match partial_range(head, start) {
        Ok(range) => range,
        // At offset 0 an unusable partial response costs nothing to replace with a plain
        // request.
        Err(_) if start == 0 => return Decision::RetryWithoutRange,
        Err(message) => return Decision::Fail(bad(message)),
    };
    if start == 0 {
        return Decision::Write(Accepted {
            offset: 0,
            expected_len: Some(range.len),
            identity: Identity::from_head(head, Some(range.total), true),
            restart: (s.offset > 0).then_some(Restart::NotResumable),
            full_body: false,
        });
    }
    match same_resource(s, head, redirect, range.total) {
        Ok(stored) => Decision::Write(Accepted {
            offset: start,
            expected_len: Some(range.len),
            identity: stored.clone(),
            restart: None,
            full_body: false,
        }),
        Err(restart) => Decision::Refetch(restart),
    }
}

/// The one byte range a `206` carries.
struct PartialRange {
    /// Its length.
    len: u64,
    /// The resource's total length.
    total: u64,
}

/// The range a `206` to `Range: bytes=<start>-` carries, when it is one usable range of
/// identity-encoded bytes starting at `start`, with a total, and a Content-Length (if any)
/// that agrees with it.
///
/// # Errors
/// Why it is not usable.
fn partial_range(head: &ResponseHead, start: u64) -> Result<PartialRange, String> {
    let content_type = head.content_type.as_deref().unwrap_or("");
    if content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/byteranges")
    {
        return Err("a multipart/byteranges response to a single range".into());
    }
    if !is_identity_encoding(head.content_encoding.as_deref()) {
        return Err("a compressed 206 response".into());
    }
    let Some(raw) = head.content_range.as_deref() else {
        return Err("a 206 without a visible Content-Range".into());
    };
    let (first, last, complete) = match parse_content_range(raw) {
        Ok(ContentRange::Satisfied {
            first,
            last,
            complete_length,
        }) => (first, last, complete_length),
        Ok(ContentRange::Unsatisfied { .. }) => {
            return Err(format!(
                "a 206 with an unsatisfied Content-Range {}",
                Quoted(raw)
            ))
        }
        Err(ContentRangeError::NotBytes) => {
            return Err(format!("a Content-Range in another unit: {}", Quoted(raw)))
        }
        Err(_) => return Err(format!("an invalid Content-Range {}", Quoted(raw))),
    };
    let Some(total) = complete else {
        return Err(format!("a Content-Range without a total: {}", Quoted(raw)));
    };
    if first != start {
        return Err(format!(
            "Content-Range starts at {first}, but {start} was asked for"
        ));
    }
    let len = last - first + 1;
    match parse_content_length(head.content_length.as_deref()) {
        Some(cl) if cl != len => Err(format!(
            "Content-Length {cl} disagrees with Content-Range {}",
            Quoted(raw)
        )),
        _ => Ok(PartialRange { len, total }),
    }
}

/// The stored resource, when a `206` from `redirect` with `total` continues it (I2): the
/// stored bytes are resumable, from the same source, of the same total, with the same strong
/// validator.
///
/// # Errors
/// Why the stored bytes are discarded instead.
fn same_resource<'a>(
    s: &'a ResumeState,
    head: &ResponseHead,
    redirect: Option<&str>,
    total: u64,
) -> Result<&'a Identity, Restart> {
    let Some(stored) = s.identity.as_ref().filter(|i| i.resumable()) else {
        return Err(Restart::NotResumable);
    };
    if s.redirect.as_deref() != redirect {
        return Err(Restart::SourceChanged);
    }
    if stored.total != Some(total) {
        return Err(Restart::TotalChanged);
    }
    let same = match (&stored.etag, &stored.last_modified) {
        (Some(etag), _) => parse_etag(head.etag.as_deref())
            .is_some_and(|t| t.is_strong() && &t.to_header() == etag),
        (None, Some(lm)) => head.last_modified.as_deref() == Some(lm.as_str()),
        (None, None) => false,
    };
    if !same {
        return Err(Restart::ValidatorChanged);
    }
    Ok(stored)
}

/// A `206` without a visible `Content-Range` to a request that carried `If-Range` with the
/// stored validator (see [`decide_if_range`]).
fn vouched_partial(
    s: &ResumeState,
    start: u64,
    head: &ResponseHead,
    redirect: Option<&str>,
) -> Decision {
    let Some(stored) = s.identity.as_ref().filter(|i| i.resumable()) else {
        return Decision::Refetch(Restart::NotResumable);
    };
    if s.redirect.as_deref() != redirect {
        return Decision::Refetch(Restart::SourceChanged);
    }
    if !is_identity_encoding(head.content_encoding.as_deref()) {
        return Decision::Fail(bad("a compressed 206 response"));
    }
    if let (Some(etag), Some(seen)) = (&stored.etag, parse_etag(head.etag.as_deref())) {
        if !seen.is_strong() || &seen.to_header() != etag {
            return Decision::Refetch(Restart::ValidatorChanged);
        }
    }
    let Some(total) = stored.total.filter(|t| *t > start) else {
        return Decision::Refetch(Restart::Unsatisfiable);
    };
    let len = total - start;
    match parse_content_length(head.content_length.as_deref()) {
        Some(cl) if cl == len => Decision::Write(Accepted {
            offset: start,
            expected_len: Some(len),
            identity: stored.clone(),
            restart: None,
            full_body: false,
        }),
        Some(cl) => Decision::Fail(bad(format!(
            "a 206 of {cl} bytes, but {len} remain after {start} of {total}"
        ))),
        None => Decision::Fail(bad(
            "a 206 without a visible Content-Range or Content-Length",
        )),
    }
}

/// Bookkeeping after a [`Decision::Fail`] with `BAD_RESPONSE` on a resume: after two in a row
/// the stored bytes are given up ("retry, then restart").
pub fn after_bad_partial(s: &mut ResumeState) -> Option<Restart> {
    s.bad_partials += 1;
    (s.bad_partials >= 2).then(|| {
        s.bad_partials = 0;
        Restart::BadPartial
    })
}

/// How a body ended, given the state after its bytes were stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// The resource is complete: `s.offset` is its total.
    Complete,
    /// A valid but short partial response ended cleanly: ask for the rest.
    Continue,
    /// The attempt failed.
    Failed(DownloadError),
}

/// Judges the end of a body (I6): complete only with a known total equal to the stored bytes
/// and a clean end, or the clean end of a whole-resource response.
pub fn on_body_end(
    s: &ResumeState,
    accepted: &Accepted,
    stream_end: Result<(), DownloadError>,
    received: u64,
) -> BodyEnd {
    if let Err(e) = stream_end.and_then(|()| check_body_end(accepted.expected_len, received)) {
        return BodyEnd::Failed(e);
    }
    match accepted.identity.total {
        Some(total) if s.offset == total => BodyEnd::Complete,
        Some(total) if s.offset < total && !accepted.full_body => BodyEnd::Continue,
        Some(total) => BodyEnd::Failed(bad(format!(
            "the body ended at {} of {total} bytes",
            s.offset
        ))),
        None if accepted.full_body => BodyEnd::Complete,
        None => BodyEnd::Failed(bad("a partial body without a total")),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LM: &str = "Mon, 01 Jan 2024 00:00:00 GMT";
    const DATE: &str = "Mon, 01 Jan 2024 00:00:10 GMT";

    fn head(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            ..ResponseHead::default()
        }
    }

    fn partial(first: u64, last: u64, total: u64, etag: &str) -> ResponseHead {
        ResponseHead {
            status: 206,
            content_length: Some((last - first + 1).to_string()),
            content_range: Some(format!("bytes {first}-{last}/{total}")),
            etag: Some(etag.into()),
            ..ResponseHead::default()
        }
    }

    fn stored(offset: u64, total: u64, etag: &str) -> ResumeState {
        ResumeState {
            offset,
            identity: Some(Identity {
                etag: Some(etag.into()),
                last_modified: None,
                total: Some(total),
                ranges: true,
            }),
            redirect: None,
            ..ResumeState::default()
        }
    }

    fn write_at(d: &Decision) -> Option<u64> {
        match d {
            Decision::Write(a) => Some(a.offset),
            _ => None,
        }
    }

    #[test]
    fn plan_table() {
        assert_eq!(
            plan(&ResumeState::default()),
            Plan::Fetch {
                range_start: Some(0)
            }
        );
        assert_eq!(
            plan(&stored(500, 1000, "\"a\"")),
            Plan::Fetch {
                range_start: Some(500)
            }
        );
        assert_eq!(plan(&stored(1000, 1000, "\"a\"")), Plan::Complete);
        let mut weak = stored(500, 1000, "\"a\"");
        weak.identity.as_mut().unwrap().etag = None;
        assert_eq!(
            plan(&weak),
            Plan::Fetch {
                range_start: Some(0)
            },
            "no validator: restart"
        );
        let no_range = ResumeState {
            no_range: true,
            ..ResumeState::default()
        };
        assert_eq!(plan(&no_range), Plan::Fetch { range_start: None });
        // A zero-byte resource, once accepted, is complete without another request.
        let empty = ResumeState {
            identity: Some(Identity {
                total: Some(0),
                ..Identity::default()
            }),
            ..ResumeState::default()
        };
        assert_eq!(plan(&empty), Plan::Complete);
    }

    /// What a service worker sees of a cross-origin Background Fetch `206`: only the
    /// CORS-safelisted headers.
    fn hidden_206(len: u64) -> ResponseHead {
        ResponseHead {
            status: 206,
            content_length: Some(len.to_string()),
            content_type: Some("application/octet-stream".into()),
            ..ResponseHead::default()
        }
    }

    #[test]
    fn a_vouched_206_without_its_content_range_is_the_stored_resource_by_its_length() {
        let s = stored(400, 1000, "\"v1\"");
        let judge =
            |h: &ResponseHead, vouched| decide_if_range(&s, Some(400), h, None, 0.0, vouched);
        // Exactly what remains: the stored version (the server checked If-Range).
        let Decision::Write(a) = judge(&hidden_206(600), true) else {
            panic!("not written")
        };
        assert_eq!(
            (a.offset, a.expected_len, a.restart),
            (400, Some(600), None)
        );
        assert_eq!(Some(&a.identity), s.identity.as_ref());
        // Without If-Range nothing proves it: unusable, as before.
        assert!(matches!(judge(&hidden_206(600), false), Decision::Fail(_)));
        // Another length, no length, a visible other ETag, a compressed body: never written.
        assert!(matches!(judge(&hidden_206(599), true), Decision::Fail(_)));
        assert!(matches!(judge(&hidden_206(601), true), Decision::Fail(_)));
        let mut none = hidden_206(600);
        none.content_length = None;
        assert!(matches!(judge(&none, true), Decision::Fail(_)));
        let mut other = hidden_206(600);
        other.etag = Some("\"v2\"".into());
        assert_eq!(
            judge(&other, true),
            Decision::Refetch(Restart::ValidatorChanged)
        );
        let mut same = hidden_206(600);
        same.etag = Some("\"v1\"".into());
        assert_eq!(write_at(&judge(&same, true)), Some(400));
        let mut gz = hidden_206(600);
        gz.content_encoding = Some("gzip".into());
        assert!(matches!(judge(&gz, true), Decision::Fail(_)));
        // A redirect elsewhere, or stored bytes that cannot be proven: not spliced.
        assert_eq!(
            decide_if_range(
                &s,
                Some(400),
                &hidden_206(600),
                Some("https://b/x"),
                0.0,
                true
            ),
            Decision::Refetch(Restart::SourceChanged)
        );
        let mut weak = stored(400, 1000, "\"v1\"");
        weak.identity.as_mut().unwrap().etag = None;
        assert_eq!(
            decide_if_range(&weak, Some(400), &hidden_206(600), None, 0.0, true),
            Decision::Refetch(Restart::NotResumable)
        );
        // A 200 to If-Range: another version, written from 0.
        let mut full = hidden_206(1000);
        full.status = 200;
        let Decision::Write(a) = judge(&full, true) else {
            panic!("not written")
        };
        assert_eq!((a.offset, a.restart), (0, Some(Restart::ValidatorChanged)));
        // A 206 that shows its Content-Range is judged by it, vouched or not.
        let mut shown = hidden_206(600);
        shown.content_range = Some("bytes 400-999/1200".into());
        assert_eq!(
            judge(&shown, true),
            Decision::Refetch(Restart::TotalChanged)
        );
    }

    proptest::proptest! {
        /// Vouched or not, a written 206 body lands exactly at the stored offset and ends
        /// exactly at the stored total: never a splice of another length.
        #[test]
        fn a_vouched_partial_is_written_only_where_it_fits(
            offset in 1u64..10_000, total in 1u64..10_000, len in 0u64..10_000, etag_seen in proptest::bool::ANY
        ) {
            let s = stored(offset, total, "\"v1\"");
            let mut h = hidden_206(len);
            if etag_seen { h.etag = Some("\"v1\"".into()); }
            if let Decision::Write(a) = decide_if_range(&s, Some(offset), &h, None, 0.0, true) {
                proptest::prop_assert_eq!(a.offset, offset);
                proptest::prop_assert_eq!(Some(a.offset + a.expected_len.unwrap()), Some(total));
            }
        }
    }

    #[test]
    fn first_partial_sets_the_identity() {
        let d = decide(
            &ResumeState::default(),
            Some(0),
            &partial(0, 999, 1000, "\"v1\""),
            None,
            0.0,
        );
        let Decision::Write(a) = d else {
            panic!("{d:?}")
        };
        assert_eq!(a.offset, 0);
        assert_eq!(a.expected_len, Some(1000));
        assert_eq!(a.identity.total, Some(1000));
        assert_eq!(a.identity.etag.as_deref(), Some("\"v1\""));
        assert!(a.identity.resumable());
        assert_eq!(a.restart, None);
    }

    #[test]
    fn valid_resume_appends_at_the_offset() {
        let d = decide(
            &stored(400, 1000, "\"v1\""),
            Some(400),
            &partial(400, 999, 1000, "\"v1\""),
            None,
            0.0,
        );
        assert_eq!(write_at(&d), Some(400));
    }

    #[test]
    fn case1_range_ignored_restarts_from_zero() {
        let mut h = head(200);
        h.content_length = Some("1000".into());
        h.etag = Some("\"v1\"".into());
        let Decision::Write(a) = decide(&stored(400, 1000, "\"v1\""), Some(400), &h, None, 0.0)
        else {
            panic!()
        };
        assert_eq!((a.offset, a.restart), (0, Some(Restart::RangeIgnored)));
        assert!(a.full_body);
    }

    #[test]
    fn case2_bad_content_range_writes_nothing() {
        for cr in [
            None,
            Some("ooga-booga"),
            Some("bytes 50-"),
            Some("items 400-999/1000"),
            Some("bytes */1000"),
        ] {
            let mut h = partial(400, 999, 1000, "\"v1\"");
            h.content_range = cr.map(str::to_owned);
            let d = decide(&stored(400, 1000, "\"v1\""), Some(400), &h, None, 0.0);
            assert!(
                matches!(&d, Decision::Fail(e) if e.code == ErrorCode::BadResponse),
                "{cr:?}: {d:?}"
            );
        }
    }

    #[test]
    fn case2_retry_then_restart() {
        let mut s = stored(400, 1000, "\"v1\"");
        assert_eq!(after_bad_partial(&mut s), None);
        assert_eq!(after_bad_partial(&mut s), Some(Restart::BadPartial));
        assert_eq!(s.bad_partials, 0);
    }

    #[test]
    fn case3_inconsistent_or_changed_totals_are_never_stitched() {
        let s = stored(400, 1000, "\"v1\"");
        let mut h = partial(400, 999, 1000, "\"v1\"");
        h.content_range = Some("bytes 500-400/1000".into());
        assert!(matches!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Fail(_)
        ));
        h.content_range = Some("bytes 400-999/999".into());
        assert!(matches!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Fail(_)
        ));
        let h = partial(400, 1000, 1001, "\"v1\"");
        assert_eq!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Refetch(Restart::TotalChanged)
        );
        // Starts elsewhere than asked.
        let h = partial(401, 999, 1000, "\"v1\"");
        assert!(matches!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Fail(_)
        ));
        // Content-Length disagrees with Content-Range.
        let mut h = partial(400, 999, 1000, "\"v1\"");
        h.content_length = Some("601".into());
        assert!(matches!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Fail(_)
        ));
    }

    #[test]
    fn case4_multipart_and_compressed_partials_write_nothing() {
        let s = stored(400, 1000, "\"v1\"");
        let mut h = partial(400, 999, 1000, "\"v1\"");
        h.content_type = Some("multipart/byteranges; boundary=x".into());
        assert!(matches!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Fail(_)
        ));
        let mut h = partial(400, 999, 1000, "\"v1\"");
        h.content_encoding = Some("gzip".into());
        assert!(matches!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Fail(_)
        ));
        // At offset 0 the same answers just mean "ask without Range".
        let mut h = partial(0, 999, 1000, "\"v1\"");
        h.content_type = Some("Multipart/ByteRanges; boundary=x".into());
        assert_eq!(
            decide(&ResumeState::default(), Some(0), &h, None, 0.0),
            Decision::RetryWithoutRange
        );
    }

    #[test]
    fn case5_changed_validator_refetches() {
        let s = stored(400, 1000, "\"v1\"");
        let h = partial(400, 999, 1000, "\"v2\"");
        assert_eq!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Refetch(Restart::ValidatorChanged)
        );
        let mut h = partial(400, 999, 1000, "\"v1\"");
        h.etag = None;
        assert_eq!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Refetch(Restart::ValidatorChanged)
        );
        let mut h = partial(400, 999, 1000, "\"v1\"");
        h.etag = Some("W/\"v1\"".into());
        assert_eq!(
            decide(&s, Some(400), &h, None, 0.0),
            Decision::Refetch(Restart::ValidatorChanged)
        );
    }

    #[test]
    fn case6_weak_etag_needs_a_strong_last_modified() {
        let mut h = partial(0, 999, 1000, "W/\"v1\"");
        let Decision::Write(a) = decide(&ResumeState::default(), Some(0), &h, None, 0.0) else {
            panic!()
        };
        assert_eq!(a.identity.etag, None);
        assert!(!a.identity.resumable());
        h.last_modified = Some(LM.into());
        h.date = Some(LM.into());
        let Decision::Write(a) = decide(&ResumeState::default(), Some(0), &h, None, 0.0) else {
            panic!()
        };
        assert!(
            !a.identity.resumable(),
            "Last-Modified equal to Date is not strong"
        );
        h.date = Some(DATE.into());
        let Decision::Write(a) = decide(&ResumeState::default(), Some(0), &h, None, 0.0) else {
            panic!()
        };
        assert!(a.identity.resumable());
        // Resume on the strong Last-Modified.
        let s = ResumeState {
            offset: 400,
            identity: Some(a.identity),
            redirect: None,
            ..ResumeState::default()
        };
        let mut r = partial(400, 999, 1000, "W/\"v1\"");
        r.last_modified = Some(LM.into());
        assert_eq!(write_at(&decide(&s, Some(400), &r, None, 0.0)), Some(400));
        r.last_modified = Some(DATE.into());
        assert_eq!(
            decide(&s, Some(400), &r, None, 0.0),
            Decision::Refetch(Restart::ValidatorChanged)
        );
    }

    #[test]
    fn case7_no_validators_is_not_resumable() {
        let mut h = head(200);
        h.content_length = Some("1000".into());
        h.accept_ranges = Some("bytes".into());
        let Decision::Write(a) = decide(&ResumeState::default(), Some(0), &h, None, 0.0) else {
            panic!()
        };
        assert!(!a.identity.resumable());
        let s = ResumeState {
            offset: 300,
            identity: Some(a.identity),
            ..ResumeState::default()
        };
        assert_eq!(
            plan(&s),
            Plan::Fetch {
                range_start: Some(0)
            }
        );
        let mut again = partial(0, 999, 1000, "\"x\"");
        again.etag = None;
        let Decision::Write(a) = decide(&s, Some(0), &again, None, 0.0) else {
            panic!()
        };
        assert_eq!((a.offset, a.restart), (0, Some(Restart::NotResumable)));
    }

    #[test]
    fn case9_short_partial_continues() {
        let s = stored(400, 1000, "\"v1\"");
        let Decision::Write(a) =
            decide(&s, Some(400), &partial(400, 599, 1000, "\"v1\""), None, 0.0)
        else {
            panic!()
        };
        let after = ResumeState { offset: 600, ..s };
        assert_eq!(on_body_end(&after, &a, Ok(()), 200), BodyEnd::Continue);
        assert_eq!(
            plan(&after),
            Plan::Fetch {
                range_start: Some(600)
            }
        );
    }

    #[test]
    fn body_end_needs_proof() {
        let s = stored(1000, 1000, "\"v1\"");
        let a = Accepted {
            offset: 0,
            expected_len: Some(1000),
            identity: s.identity.clone().unwrap(),
            restart: None,
            full_body: false,
        };
        assert_eq!(on_body_end(&s, &a, Ok(()), 1000), BodyEnd::Complete);
        let net = DownloadError::new(ErrorCode::Network, "reset");
        assert_eq!(
            on_body_end(&s, &a, Err(net.clone()), 1000),
            BodyEnd::Failed(net)
        );
        let short = ResumeState {
            offset: 999,
            ..s.clone()
        };
        assert!(
            matches!(on_body_end(&short, &a, Ok(()), 999), BodyEnd::Failed(e) if e.code == ErrorCode::Network)
        );
        // Unknown total: only a whole-resource response's clean end is proof.
        let unknown = Accepted {
            identity: Identity::default(),
            expected_len: None,
            full_body: true,
            ..a.clone()
        };
        assert_eq!(on_body_end(&s, &unknown, Ok(()), 1000), BodyEnd::Complete);
        let unknown_partial = Accepted {
            full_body: false,
            ..unknown
        };
        assert!(matches!(
            on_body_end(&s, &unknown_partial, Ok(()), 1000),
            BodyEnd::Failed(_)
        ));
    }

    #[test]
    fn case14_zero_byte_resource() {
        let mut h = head(416);
        h.content_range = Some("bytes */0".into());
        assert_eq!(
            decide(&ResumeState::default(), Some(0), &h, None, 0.0),
            Decision::RetryWithoutRange
        );
        let s = ResumeState {
            no_range: true,
            ..ResumeState::default()
        };
        assert_eq!(plan(&s), Plan::Fetch { range_start: None });
        let mut ok = head(200);
        ok.content_length = Some("0".into());
        let Decision::Write(a) = decide(&s, None, &ok, None, 0.0) else {
            panic!()
        };
        assert_eq!(on_body_end(&s, &a, Ok(()), 0), BodyEnd::Complete);
    }

    #[test]
    fn case_416_on_resume_is_never_completion() {
        let mut h = head(416);
        h.content_range = Some("bytes */400".into());
        assert_eq!(
            decide(&stored(400, 1000, "\"a\""), Some(400), &h, None, 0.0),
            Decision::Refetch(Restart::Unsatisfiable)
        );
    }

    #[test]
    fn redirect_to_another_source_is_not_a_resume() {
        let h = partial(400, 999, 1000, "\"v1\"");
        assert_eq!(
            decide(
                &stored(400, 1000, "\"v1\""),
                Some(400),
                &h,
                Some("other"),
                0.0
            ),
            Decision::Refetch(Restart::SourceChanged)
        );
        let mut s = stored(400, 1000, "\"v1\"");
        s.redirect = Some("cdn".into());
        // The same redirect resumes; another one, or none, is another source.
        assert_eq!(
            write_at(&decide(&s, Some(400), &h, Some("cdn"), 0.0)),
            Some(400)
        );
        for other in [None, Some("cdn2")] {
            assert_eq!(
                decide(&s, Some(400), &h, other, 0.0),
                Decision::Refetch(Restart::SourceChanged)
            );
            assert_eq!(
                decide(&s, Some(400), &head(200), other, 0.0),
                Decision::Refetch(Restart::SourceChanged)
            );
        }
    }

    #[test]
    fn gzip_200_has_no_total() {
        let mut h = head(200);
        h.content_length = Some("10".into());
        h.content_encoding = Some("gzip".into());
        let Decision::Write(a) = decide(&ResumeState::default(), Some(0), &h, None, 0.0) else {
            panic!()
        };
        assert_eq!((a.expected_len, a.identity.total), (None, None));
        assert!(!a.identity.resumable());
    }

    #[test]
    fn error_statuses() {
        let mut h = head(503);
        h.retry_after = Some("3".into());
        let Decision::Fail(e) = decide(&stored(400, 1000, "\"v1\""), Some(400), &h, None, 0.0)
        else {
            panic!()
        };
        assert_eq!(
            (e.code, e.status, e.retry_after_ms),
            (ErrorCode::HttpStatus, Some(503), Some(3000))
        );
        let Decision::Fail(e) = decide(&ResumeState::default(), Some(0), &head(204), None, 0.0)
        else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::BadResponse);
    }

    #[test]
    fn offsets_above_4_gib() {
        let big = 6u64 << 30;
        let s = stored((4u64 << 30) + 7, big, "\"v\"");
        let h = partial((4u64 << 30) + 7, big - 1, big, "\"v\"");
        assert_eq!(
            write_at(&decide(&s, Some((4u64 << 30) + 7), &h, None, 0.0)),
            Some((4u64 << 30) + 7)
        );
    }

    // ---- Property test: a simulated server, drops, reloads and resource changes ----

    fn content(seed: u64, size: u64) -> Vec<u8> {
        (0..size)
            .map(|o| {
                (o.wrapping_mul(31).wrapping_add(seed.wrapping_mul(0x9E37)) >> 3) as u8 ^ seed as u8
            })
            .collect()
    }

    #[derive(Clone, Copy, Debug)]
    enum Validators {
        StrongEtag,
        WeakEtagStrongLm,
        WeakEtagOnly,
        None,
    }

    #[derive(Clone, Copy, Debug)]
    enum Step {
        /// Answer normally; cut the body after this fraction (1.0 = whole) and maybe reload.
        Normal { cut: f64, reload: bool },
        /// The resource changes (new seed, maybe a new size).
        Change { resize: bool },
        /// Answer a range request with 200.
        IgnoreRange,
        /// A 206 with a garbage Content-Range.
        GarbageRange,
        /// A 206 that starts one byte late (body still from the asked offset).
        WrongStart,
        /// A short but valid 206 of at most n bytes.
        Short(u64),
        /// 503.
        Unavailable,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0.0f64..=1.0, any::<bool>()).prop_map(|(cut, reload)| Step::Normal { cut, reload }),
            1 => any::<bool>().prop_map(|resize| Step::Change { resize }),
            1 => Just(Step::IgnoreRange),
            1 => Just(Step::GarbageRange),
            1 => Just(Step::WrongStart),
            1 => (1u64..300).prop_map(Step::Short),
            1 => Just(Step::Unavailable),
        ]
    }

    struct Server {
        seed: u64,
        size: u64,
        validators: Validators,
        ranges: bool,
    }

    impl Server {
        fn head(&self, status: u16, first: u64, len: u64) -> ResponseHead {
            let tag = format!("\"s{}-{}\"", self.seed, self.size);
            let lm = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(1_700_000_000 + self.seed * 3600),
            );
            let date = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
            );
            let (etag, last_modified) = match self.validators {
                Validators::StrongEtag => (Some(tag), None),
                Validators::WeakEtagStrongLm => (Some(format!("W/{tag}")), Some(lm)),
                Validators::WeakEtagOnly => (Some(format!("W/{tag}")), None),
                Validators::None => (None, None),
            };
            ResponseHead {
                status,
                content_length: Some(len.to_string()),
                content_range: (status == 206)
                    .then(|| format!("bytes {first}-{}/{}", first + len - 1, self.size)),
                etag,
                last_modified,
                date: Some(date),
                accept_ranges: Some(if self.ranges { "bytes" } else { "none" }.into()),
                ..ResponseHead::default()
            }
        }
    }

    /// The client side: persisted bytes and state, plus what a reload loses.
    struct Client {
        state: ResumeState,
        stored: Vec<u8>,
        /// The seed of the resource the stored bytes belong to.
        identity_seed: Option<u64>,
        chunk: usize,
        wasted: u64,
    }

    impl Client {
        /// Runs one exchange with the server; returns true when complete.
        fn exchange(&mut self, server: &Server, step: Step) -> bool {
            let range_start = match plan(&self.state) {
                Plan::Complete => return true,
                Plan::Fetch { range_start } => range_start,
            };
            let want_range = server.ranges && range_start.is_some();
            let start = if want_range {
                range_start.unwrap_or(0)
            } else {
                0
            };
            let body_all = content(server.seed, server.size);
            let (head, body_start, body_len) = match step {
                Step::Unavailable => (
                    ResponseHead {
                        status: 503,
                        ..ResponseHead::default()
                    },
                    0,
                    0,
                ),
                _ if want_range && start >= server.size => {
                    let mut h = server.head(416, 0, 0);
                    h.content_range = Some(format!("bytes */{}", server.size));
                    (h, 0, 0)
                }
                Step::IgnoreRange => (server.head(200, 0, server.size), 0, server.size),
                _ if !want_range => (server.head(200, 0, server.size), 0, server.size),
                Step::GarbageRange => {
                    let mut h = server.head(206, start, server.size - start);
                    h.content_range = Some("ooga-booga".into());
                    (h, start, server.size - start)
                }
                Step::WrongStart => {
                    let mut h = server.head(206, start, server.size - start);
                    h.content_range = Some(format!(
                        "bytes {}-{}/{}",
                        start + 1,
                        server.size - 1,
                        server.size
                    ));
                    h.content_length = None;
                    (h, start, server.size - start)
                }
                Step::Short(n) => {
                    let len = n.min(server.size - start);
                    (server.head(206, start, len), start, len)
                }
                _ => (
                    server.head(206, start, server.size - start),
                    start,
                    server.size - start,
                ),
            };
            let decision = decide(&self.state, range_start, &head, None, 0.0);
            let accepted = match decision {
                Decision::Write(a) => a,
                Decision::Refetch(_) => {
                    self.discard();
                    return false;
                }
                Decision::RetryWithoutRange => {
                    self.state.no_range = true;
                    return false;
                }
                Decision::Fail(e) => {
                    if e.code == ErrorCode::BadResponse
                        && after_bad_partial(&mut self.state).is_some()
                    {
                        self.discard();
                    }
                    return false;
                }
            };
            if accepted.restart.is_some() || accepted.offset == 0 {
                self.discard();
            }
            assert_eq!(
                accepted.offset, self.state.offset,
                "writes only at the stored offset"
            );
            if accepted.offset > 0 {
                assert_eq!(
                    self.identity_seed,
                    Some(server.seed),
                    "appended a different resource"
                );
            }
            self.state.identity = Some(accepted.identity.clone());
            self.state.redirect = None;
            self.state.bad_partials = 0;
            self.identity_seed = Some(server.seed);
            let (cut, reload) = match step {
                Step::Normal { cut, reload } => (cut, reload),
                _ => (1.0, false),
            };
            let deliver = ((body_len as f64 * cut) as u64).min(body_len);
            let body = &body_all[body_start as usize..(body_start + deliver) as usize];
            // Chunks of `chunk` bytes are committed; a reload loses the uncommitted tail.
            let committed = if reload && deliver < body_len {
                body.len() / self.chunk * self.chunk
            } else {
                body.len()
            };
            self.stored.extend_from_slice(&body[..committed]);
            self.state.offset += committed as u64;
            let end = if deliver < body_len {
                Err(DownloadError::new(ErrorCode::Network, "cut"))
            } else {
                Ok(())
            };
            matches!(
                on_body_end(&self.state, &accepted, end, deliver),
                BodyEnd::Complete
            )
        }

        fn discard(&mut self) {
            self.wasted += self.state.offset;
            self.stored.clear();
            self.state.offset = 0;
            self.identity_seed = None;
        }

        /// I1: the stored bytes are a prefix of the resource they were accepted from.
        fn check_prefix(&self, seeds_sizes: &[(u64, u64)]) {
            if let Some(seed) = self.identity_seed {
                let size = seeds_sizes
                    .iter()
                    .rev()
                    .find(|(s, _)| *s == seed)
                    .unwrap()
                    .1;
                let want = content(seed, size);
                assert!(self.stored.len() as u64 <= size);
                assert_eq!(
                    &self.stored[..],
                    &want[..self.stored.len()],
                    "stored bytes are not a true prefix"
                );
            } else {
                assert!(self.stored.is_empty());
            }
        }
    }

    fn validators() -> impl Strategy<Value = Validators> {
        prop_oneof![
            3 => Just(Validators::StrongEtag),
            1 => Just(Validators::WeakEtagStrongLm),
            1 => Just(Validators::WeakEtagOnly),
            1 => Just(Validators::None),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        /// Over random sequences of responses, drops, reloads and resource changes, the stored
        /// bytes stay a true prefix of one resource (I1), completion is only claimed with proof
        /// (I6), and once the server behaves the download finishes with exactly the bytes of
        /// the final resource.
        #[test]
        fn resume_never_corrupts(
            size in 0u64..2000,
            validators in validators(),
            ranges in proptest::bool::weighted(0.8),
            chunk in 1usize..400,
            steps in proptest::collection::vec(step(), 0..25),
        ) {
            let mut server = Server { seed: 1, size, validators, ranges };
            let mut history = vec![(server.seed, server.size)];
            let mut client = Client { state: ResumeState::default(), stored: Vec::new(), identity_seed: None, chunk, wasted: 0 };
            let mut complete = false;
            for s in steps {
                if let Step::Change { resize } = s {
                    server.seed += 1;
                    if resize { server.size = (server.size * 3 / 2 + 1) % 2000; }
                    history.push((server.seed, server.size));
                    continue;
                }
                complete = client.exchange(&server, s);
                client.check_prefix(&history);
                if complete {
                    // I6: complete means the bytes are exactly the resource they came from.
                    let seed = client.identity_seed.unwrap_or(server.seed);
                    let size = history.iter().rev().find(|(s, _)| *s == seed).unwrap().1;
                    prop_assert_eq!(&client.stored, &content(seed, size));
                    break;
                }
            }
            if !complete {
                for _ in 0..20 {
                    if client.exchange(&server, Step::Normal { cut: 1.0, reload: false }) {
                        complete = true;
                        break;
                    }
                    client.check_prefix(&history);
                }
                prop_assert!(complete, "a well-behaved server always lets the download finish");
                prop_assert_eq!(&client.stored, &content(server.seed, server.size));
            }
        }
    }
}
