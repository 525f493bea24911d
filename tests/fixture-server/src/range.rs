//! `Range` / `If-Range` handling (RFC 9110 sections 13.1.5 and 14).

use crate::knobs::IfRangeMode;

/// One byte-range-spec of a `Range: bytes=...` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// `bytes=a-b`
    FromTo(u64, u64),
    /// `bytes=a-`
    From(u64),
    /// `bytes=-n`
    Suffix(u64),
}

/// The outcome of matching a range against a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send the whole representation (200).
    Full,
    /// Send bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// 416 Range Not Satisfiable.
    NotSatisfiable,
}

/// Everything the range decision depends on besides the request headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RangeContext<'a> {
    pub size: u64,
    pub ranges_enabled: bool,
    pub if_range_mode: IfRangeMode,
    /// The current ETag when it is strong; weak ETags never satisfy If-Range.
    pub strong_etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    pub range_max: Option<u64>,
}

/// Parses a `Range` header value holding exactly one byte range.
///
/// Returns `None` for anything else (another unit, a syntax error, `a-b` with
/// `b < a`, or several ranges): such headers are ignored and the full
/// representation is sent.
pub(crate) fn parse_range(value: &str) -> Option<RangeSpec> {
    let value = value.trim();
    let (unit, set) = value.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    if set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (true, true) => None,
        (true, false) => Some(RangeSpec::Suffix(digits(last)?)),
        (false, true) => Some(RangeSpec::From(digits(first)?)),
        (false, false) => {
            let (a, b) = (digits(first)?, digits(last)?);
            (a <= b).then_some(RangeSpec::FromTo(a, b))
        }
    }
}

/// A run of ASCII digits; values beyond `u64::MAX` saturate (they only ever mean
/// "past the end").
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

impl RangeSpec {
    /// The inclusive byte range selected in a representation of `size` bytes, or
    /// `None` when the range is unsatisfiable.
    pub(crate) fn resolve(self, size: u64) -> Option<(u64, u64)> {
        if size == 0 {
            return None;
        }
        match self {
            RangeSpec::FromTo(a, b) => (a < size).then(|| (a, b.min(size - 1))),
            RangeSpec::From(a) => (a < size).then_some((a, size - 1)),
            RangeSpec::Suffix(0) => None,
            RangeSpec::Suffix(n) => Some((size - n.min(size), size - 1)),
        }
    }
}

/// Whether an `If-Range` value names the current representation: it must equal
/// the current strong ETag or the current `Last-Modified` date exactly.
pub(crate) fn if_range_matches(
    value: &str,
    strong_etag: Option<&str>,
    last_modified: Option<&str>,
) -> bool {
    let value = value.trim();
    if value.starts_with("W/") {
        return false;
    }
    strong_etag == Some(value) || last_modified == Some(value)
}

/// Decides between 200, 206 and 416 for a request with the given `Range` and
/// `If-Range` header values (`None` when absent or not valid UTF-8).
pub(crate) fn decide(range: Option<&str>, if_range: Option<&str>, ctx: &RangeContext) -> Decision {
    if !ctx.ranges_enabled {
        return Decision::Full;
    }
    let Some(spec) = range.and_then(parse_range) else {
        return Decision::Full;
    };
    if ctx.if_range_mode == IfRangeMode::Honour {
        if let Some(value) = if_range {
            if !if_range_matches(value, ctx.strong_etag, ctx.last_modified) {
                return Decision::Full;
            }
        }
    }
    match spec.resolve(ctx.size) {
        None => Decision::NotSatisfiable,
        Some((start, end)) => {
            let end = match ctx.range_max {
                Some(max) => end.min(start.saturating_add(max - 1)),
                None => end,
            };
            Decision::Partial { start, end }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_ranges() {
        assert_eq!(parse_range("bytes=0-99"), Some(RangeSpec::FromTo(0, 99)));
        assert_eq!(parse_range("bytes=5-5"), Some(RangeSpec::FromTo(5, 5)));
        assert_eq!(parse_range("bytes=100-"), Some(RangeSpec::From(100)));
        assert_eq!(parse_range("bytes=-20"), Some(RangeSpec::Suffix(20)));
        assert_eq!(parse_range("Bytes = 1-2 "), Some(RangeSpec::FromTo(1, 2)));
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999"),
            Some(RangeSpec::FromTo(0, u64::MAX))
        );
    }

    #[test]
    fn ignores_malformed_and_multi_ranges() {
        for v in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=abc",
            "bytes=1-a",
            "bytes=a-1",
            "bytes=5-4",
            "bytes=+1-2",
            "bytes=1--2",
            "bytes=0-1,5-6",
            "bytes=0-1,",
            "items=0-1",
            "bytes 0-1",
        ] {
            assert_eq!(parse_range(v), None, "{v:?}");
        }
    }

    #[test]
    fn resolves_against_size() {
        assert_eq!(RangeSpec::FromTo(0, 99).resolve(50), Some((0, 49)));
        assert_eq!(RangeSpec::FromTo(49, 49).resolve(50), Some((49, 49)));
        assert_eq!(RangeSpec::FromTo(50, 60).resolve(50), None);
        assert_eq!(RangeSpec::From(10).resolve(50), Some((10, 49)));
        assert_eq!(RangeSpec::From(50).resolve(50), None);
        assert_eq!(RangeSpec::Suffix(10).resolve(50), Some((40, 49)));
        assert_eq!(RangeSpec::Suffix(80).resolve(50), Some((0, 49)));
        assert_eq!(RangeSpec::Suffix(0).resolve(50), None);
        assert_eq!(RangeSpec::From(0).resolve(0), None);
        assert_eq!(RangeSpec::Suffix(5).resolve(0), None);
    }

    fn ctx<'a>() -> RangeContext<'a> {
        RangeContext {
            size: 1000,
            ranges_enabled: true,
            if_range_mode: IfRangeMode::Honour,
            strong_etag: Some("\"s1-1000\""),
            last_modified: Some("Mon, 01 Jan 2024 01:00:00 GMT"),
            range_max: None,
        }
    }

    #[test]
    fn decides_status() {
        let c = ctx();
        assert_eq!(decide(None, None, &c), Decision::Full);
        assert_eq!(
            decide(Some("bytes=10-19"), None, &c),
            Decision::Partial { start: 10, end: 19 }
        );
        assert_eq!(
            decide(Some("bytes=1000-"), None, &c),
            Decision::NotSatisfiable
        );
        assert_eq!(decide(Some("bytes=0-1,3-4"), None, &c), Decision::Full);
        assert_eq!(decide(Some("garbage"), None, &c), Decision::Full);
        let off = RangeContext {
            ranges_enabled: false,
            ..c
        };
        assert_eq!(decide(Some("bytes=10-19"), None, &off), Decision::Full);
        assert_eq!(decide(Some("bytes=5000-"), None, &off), Decision::Full);
    }

    #[test]
    fn range_max_shortens_the_range() {
        let c = RangeContext {
            range_max: Some(100),
            ..ctx()
        };
        assert_eq!(
            decide(Some("bytes=10-"), None, &c),
            Decision::Partial {
                start: 10,
                end: 109
            }
        );
        assert_eq!(
            decide(Some("bytes=950-"), None, &c),
            Decision::Partial {
                start: 950,
                end: 999
            }
        );
    }

    #[test]
    fn if_range_rules() {
        let c = ctx();
        let r = Some("bytes=10-19");
        let partial = Decision::Partial { start: 10, end: 19 };
        assert_eq!(decide(r, Some("\"s1-1000\""), &c), partial);
        assert_eq!(
            decide(r, Some("Mon, 01 Jan 2024 01:00:00 GMT"), &c),
            partial
        );
        assert_eq!(decide(r, Some("\"s2-1000\""), &c), Decision::Full);
        assert_eq!(decide(r, Some("W/\"s1-1000\""), &c), Decision::Full);
        assert_eq!(
            decide(r, Some("Mon, 01 Jan 2024 02:00:00 GMT"), &c),
            Decision::Full
        );
        // A failed If-Range turns even an unsatisfiable range into a 200.
        assert_eq!(
            decide(Some("bytes=5000-"), Some("\"x\""), &c),
            Decision::Full
        );

        let weak = RangeContext {
            strong_etag: None,
            last_modified: None,
            ..c
        };
        assert_eq!(decide(r, Some("\"s1-1000\""), &weak), Decision::Full);

        let ignore = RangeContext {
            if_range_mode: IfRangeMode::Ignore,
            ..c
        };
        assert_eq!(decide(r, Some("\"nope\""), &ignore), partial);
    }
}
