//! Background Fetch decisions: whether a run's request is handed to the browser and with
//! what, and what a page does once the registration it watched has ended.

use super::lifecycle::{Input, Read, State};
use super::stored::Stored;

/// Why a resume from another origin is not handed to Background Fetch.
pub const CROSS_ORIGIN_RESUME: &str = "a resume of stored bytes from another origin cannot be \
    checked in the service worker (Background Fetch shows it a cross-origin response without \
    its Content-Range and ETag, and cannot send If-Range, which needs a preflight)";

/// Why a download whose registration ended with its record still active runs in the page.
pub const NOT_STORED: &str = "its Background Fetch ended without storing it (the service \
    worker did not handle it, or the request failed at once)";

/// A request to hand to Background Fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandedRequest {
    /// The stored offset it continues from (`Range: bytes=<n>-`); `None` asks for the whole
    /// resource.
    pub resume_at: Option<u64>,
    /// The validator it sends in `If-Range` (with `resume_at` only).
    pub if_range: Option<String>,
    /// The bytes the browser's UI expects (`downloadTotal`), when the total is known.
    pub download_total: Option<u64>,
}

/// Where a request that the run would send from `range_start` goes, for a download with
/// `stored` facts whose request URL is `cross_origin` to the page.
///
/// From 0 the request asks for the whole resource: a `200` shows its length to the service
/// worker, where a cross-origin `206` would hide its Content-Range. A resume carries
/// `If-Range` with the stored validator, so that the server's answer says whether the rest is
/// of the stored version ([`super::resume::decide_if_range`]); without a validator it is
/// fetched in the page.
///
/// # Errors
/// The request is fetched in the page: `Some(why)` when the download is to keep that reason
/// (its later runs stay in the page too), `None` when only this request is.
pub fn plan(
    range_start: Option<u64>,
    stored: &Stored,
    cross_origin: bool,
) -> Result<HandedRequest, Option<&'static str>> {
    let resume_at = range_start.filter(|n| *n > 0);
    let Some(at) = resume_at else {
        return Ok(HandedRequest {
            resume_at,
            if_range: None,
            download_total: stored.total(),
        });
    };
    if cross_origin {
        return Err(Some(CROSS_ORIGIN_RESUME));
    }
    let if_range = stored.if_range().ok_or(None)?.to_owned();
    Ok(HandedRequest {
        resume_at,
        if_range: Some(if_range),
        download_total: stored.total().map(|t| t.saturating_sub(at)),
    })
}

/// What a page does once the registration it watched has ended (not by a failure it saw,
/// nor by an abort), from the record read back: a record that is settled or paused was
/// stored so elsewhere (by the service worker, or another tab) and is shown so; no record
/// means it was cancelled; a record still active means nobody stored the response, and the
/// page fetches the rest, keeping the reason (`Some`) so that it does not hand it over again.
pub fn after_background(read: Read) -> (Input, Option<&'static str>) {
    match read {
        Read::Stored(state) if state.is_settled() || state == State::Paused => {
            (Input::Mirror(state), None)
        }
        Read::Missing => (Input::Mirror(State::Cancelled), None),
        Read::Stored(_) => (Input::BackgroundEnded, Some(NOT_STORED)),
        Read::Unreadable => (Input::BackgroundEnded, None),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::core::resume::Identity;

    fn stored(etag: Option<&str>, total: Option<u64>) -> Stored {
        Stored {
            identity: Some(Identity {
                etag: etag.map(str::to_owned),
                last_modified: None,
                total,
                ranges: true,
            }),
            ..Stored::default()
        }
    }

    #[test]
    fn a_request_from_zero_asks_for_the_whole_resource_from_any_origin() {
        for (start, cross) in [(Some(0), false), (None, true), (Some(0), true)] {
            assert_eq!(
                plan(start, &stored(Some("\"a\""), Some(10)), cross),
                Ok(HandedRequest {
                    resume_at: None,
                    if_range: None,
                    download_total: Some(10)
                })
            );
        }
        assert_eq!(
            plan(None, &Stored::default(), false).map(|r| r.download_total),
            Ok(None)
        );
    }

    #[test]
    fn a_resume_carries_the_stored_validator_and_expects_the_rest() {
        assert_eq!(
            plan(Some(4), &stored(Some("\"a\""), Some(10)), false),
            Ok(HandedRequest {
                resume_at: Some(4),
                if_range: Some("\"a\"".into()),
                download_total: Some(6)
            })
        );
        let mut by_date = stored(None, None);
        by_date.identity.as_mut().unwrap().last_modified = Some("D".into());
        assert_eq!(
            plan(Some(4), &by_date, false).map(|r| (r.if_range, r.download_total)),
            Ok((Some("D".into()), None))
        );
    }

    #[test]
    fn a_resume_without_a_validator_or_from_another_origin_stays_in_the_page() {
        assert_eq!(plan(Some(4), &stored(None, Some(10)), false), Err(None));
        assert_eq!(plan(Some(4), &Stored::default(), false), Err(None));
        assert_eq!(
            plan(Some(4), &stored(Some("\"a\""), Some(10)), true),
            Err(Some(CROSS_ORIGIN_RESUME))
        );
    }

    #[test]
    fn what_follows_a_registration_is_what_the_record_says() {
        for s in [
            State::Completed,
            State::Failed,
            State::Cancelled,
            State::Paused,
        ] {
            assert_eq!(after_background(Read::Stored(s)), (Input::Mirror(s), None));
        }
        assert_eq!(
            after_background(Read::Missing),
            (Input::Mirror(State::Cancelled), None)
        );
        for s in [State::Queued, State::Running] {
            assert_eq!(
                after_background(Read::Stored(s)),
                (Input::BackgroundEnded, Some(NOT_STORED))
            );
        }
        assert_eq!(
            after_background(Read::Unreadable),
            (Input::BackgroundEnded, None)
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// A request handed over asks for the whole resource from 0, or continues the
            /// stored bytes from the same origin with the stored validator and the rest of the
            /// total; nothing else is handed over.
            #[test]
            fn what_is_handed_over_is_a_whole_resource_or_a_validated_rest(
                start in proptest::option::of(0u64..100),
                etag: bool,
                last_modified: bool,
                total in proptest::option::of(0u64..200),
                cross: bool,
            ) {
                let s = Stored {
                    identity: Some(Identity {
                        etag: etag.then(|| "\"e\"".to_owned()),
                        last_modified: last_modified.then(|| "D".to_owned()),
                        total,
                        ranges: true,
                    }),
                    ..Stored::default()
                };
                match plan(start, &s, cross) {
                    Ok(h) => match h.resume_at {
                        None => {
                            prop_assert!(start.is_none_or(|n| n == 0));
                            prop_assert_eq!((h.if_range, h.download_total), (None, total));
                        }
                        Some(at) => {
                            prop_assert_eq!(Some(at), start);
                            prop_assert!(at > 0 && !cross);
                            prop_assert_eq!(h.if_range.as_deref(), s.if_range());
                            prop_assert!(h.if_range.is_some());
                            prop_assert_eq!(h.download_total, total.map(|t| t.saturating_sub(at)));
                        }
                    },
                    Err(why) => {
                        prop_assert!(start.is_some_and(|n| n > 0));
                        prop_assert_eq!(why.is_some(), cross);
                        prop_assert!(cross || s.if_range().is_none());
                    }
                }
            }
        }
    }
}
