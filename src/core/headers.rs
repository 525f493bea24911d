//! Parsers for the response headers the engine relies on: `Content-Length`, `Content-Range`,
//! `Content-Encoding`, `ETag` and `Retry-After` (RFC 9110).
//!
//! They are strict: a value that does not match the grammar is `None` or an error, never a
//! guess. A header hidden by CORS reaches these functions as `None` (I13).
//!
//! Values come from `Headers.get()`, which joins repeated header lines with `", "`.

use std::time::{Duration, UNIX_EPOCH};

/// Parses `Content-Length` (RFC 9110 §8.6): `1*DIGIT`. A list of identical values, as produced
/// by repeated header lines, is accepted; conflicting values, garbage, signs and overflow give
/// `None` (length unknown).
pub fn parse_content_length(value: Option<&str>) -> Option<u64> {
    let mut result: Option<u64> = None;
    for part in value?.split(',') {
        let n = parse_digits(part.trim())?;
        match result {
            Some(prev) if prev != n => return None,
            _ => result = Some(n),
        }
    }
    result
}

/// `1*DIGIT` as a `u64`; `None` for anything else, including overflow.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A parsed `Content-Range` value in the `bytes` unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/complete` or `bytes first-last/*`. Inclusive bounds.
    Satisfied {
        /// Offset of the first byte in the body.
        first: u64,
        /// Offset of the last byte in the body (inclusive).
        last: u64,
        /// The resource's full length, when the server states it.
        complete_length: Option<u64>,
    },
    /// `bytes */complete`, sent with 416.
    Unsatisfied {
        /// The resource's full length.
        complete_length: u64,
    },
}

impl ContentRange {
    /// Number of body bytes a satisfied range announces.
    pub fn len(&self) -> u64 {
        match *self {
            ContentRange::Satisfied { first, last, .. } => last - first + 1,
            ContentRange::Unsatisfied { .. } => 0,
        }
    }

    /// True when no bytes are announced.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a `Content-Range` value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentRangeError {
    /// Not of the form `<unit> <range>`.
    Malformed,
    /// A unit other than `bytes`.
    NotBytes,
    /// `first > last`, or `last >= complete-length`.
    Inconsistent,
}

/// Parses `Content-Range` (RFC 9110 §14.4). Only the `bytes` unit is accepted, the unit is
/// case-insensitive, and a satisfied range must be internally consistent
/// (`first <= last < complete-length`).
///
/// # Errors
/// [`ContentRangeError`] says which rule the value breaks.
pub fn parse_content_range(value: &str) -> Result<ContentRange, ContentRangeError> {
    let value = value.trim();
    let (unit, rest) = value.split_once(' ').ok_or(ContentRangeError::Malformed)?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return if is_token(unit) && !rest.is_empty() {
            Err(ContentRangeError::NotBytes)
        } else {
            Err(ContentRangeError::Malformed)
        };
    }
    let (range, complete) = rest
        .trim_start()
        .split_once('/')
        .ok_or(ContentRangeError::Malformed)?;
    if range == "*" {
        let complete_length = parse_digits(complete).ok_or(ContentRangeError::Malformed)?;
        return Ok(ContentRange::Unsatisfied { complete_length });
    }
    let (first, last) = range.split_once('-').ok_or(ContentRangeError::Malformed)?;
    let first = parse_digits(first).ok_or(ContentRangeError::Malformed)?;
    let last = parse_digits(last).ok_or(ContentRangeError::Malformed)?;
    let complete_length = match complete {
        "*" => None,
        digits => Some(parse_digits(digits).ok_or(ContentRangeError::Malformed)?),
    };
    if first > last || complete_length.is_some_and(|c| last >= c) {
        return Err(ContentRangeError::Inconsistent);
    }
    Ok(ContentRange::Satisfied {
        first,
        last,
        complete_length,
    })
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// True when `Content-Encoding` is absent or says the body is not transformed. With any other
/// coding the browser decodes the body, so `Content-Length` does not count the bytes the
/// reader sees.
pub fn is_identity_encoding(value: Option<&str>) -> bool {
    match value {
        None => true,
        Some(v) => v
            .split(',')
            .map(str::trim)
            .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity")),
    }
}

/// An entity tag (RFC 9110 §8.8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityTag {
    /// `"opaque"`: usable to prove identity.
    Strong(String),
    /// `W/"opaque"`: never usable for a range request.
    Weak(String),
}

impl EntityTag {
    /// The header form, quotes included.
    pub fn to_header(&self) -> String {
        match self {
            EntityTag::Strong(t) => format!("\"{t}\""),
            EntityTag::Weak(t) => format!("W/\"{t}\""),
        }
    }

    /// True for a strong tag.
    pub fn is_strong(&self) -> bool {
        matches!(self, EntityTag::Strong(_))
    }
}

/// Parses one `ETag` value. Anything outside the grammar is `None`.
pub fn parse_etag(value: Option<&str>) -> Option<EntityTag> {
    let v = value?.trim();
    let (weak, quoted) = match v.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    // etagc = %x21 / %x23-7E / obs-text
    if !inner
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
    {
        return None;
    }
    Some(if weak {
        EntityTag::Weak(inner.to_owned())
    } else {
        EntityTag::Strong(inner.to_owned())
    })
}

/// Parses `Retry-After` (RFC 9110 §10.2.3) into a wait in milliseconds: either
/// `delay-seconds` or an HTTP date, relative to `now_unix_ms`. A date in the past means
/// "now" (0). Malformed values give `None`.
pub fn parse_retry_after(value: Option<&str>, now_unix_ms: f64) -> Option<u64> {
    let v = value?.trim();
    if let Some(secs) = parse_digits(v) {
        return Some(secs.saturating_mul(1000));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    let when_ms = when
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    let now_ms = if now_unix_ms.is_finite() && now_unix_ms > 0.0 {
        now_unix_ms as u128
    } else {
        0
    };
    Some(u64::try_from(when_ms.saturating_sub(now_ms)).unwrap_or(u64::MAX))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn content_length_table() {
        let cases: &[(Option<&str>, Option<u64>)] = &[
            (None, None),
            (Some(""), None),
            (Some("0"), Some(0)),
            (Some("1048576"), Some(1_048_576)),
            (Some(" 42 "), Some(42)),
            (Some("42, 42"), Some(42)),
            (Some("42,42,42"), Some(42)),
            (Some("42, 49"), None),
            (Some("abc"), None),
            (Some("-1"), None),
            (Some("+5"), None),
            (Some("4 2"), None),
            (Some("1e6"), None),
            (Some("42,"), None),
            (Some("0x10"), None),
            (Some("18446744073709551615"), Some(u64::MAX)),
            (Some("18446744073709551616"), None),
            (Some("6442450944"), Some(6 * 1024 * 1024 * 1024)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_content_length(*input), *want, "{input:?}");
        }
    }

    #[test]
    fn content_range_table() {
        use ContentRange::*;
        use ContentRangeError::*;
        let cases: &[(&str, Result<ContentRange, ContentRangeError>)] = &[
            (
                "bytes 0-99/100",
                Ok(Satisfied {
                    first: 0,
                    last: 99,
                    complete_length: Some(100),
                }),
            ),
            (
                "bytes 50-99/*",
                Ok(Satisfied {
                    first: 50,
                    last: 99,
                    complete_length: None,
                }),
            ),
            (
                "BYTES 1-1/2",
                Ok(Satisfied {
                    first: 1,
                    last: 1,
                    complete_length: Some(2),
                }),
            ),
            (
                "bytes */1000",
                Ok(Unsatisfied {
                    complete_length: 1000,
                }),
            ),
            (
                "bytes 4294967296-6442450943/6442450944",
                Ok(Satisfied {
                    first: 1 << 32,
                    last: 6_442_450_943,
                    complete_length: Some(6_442_450_944),
                }),
            ),
            ("ooga-booga", Err(Malformed)),
            ("", Err(Malformed)),
            ("bytes 50-", Err(Malformed)),
            ("bytes 50-/100", Err(Malformed)),
            ("bytes -5/100", Err(Malformed)),
            ("bytes 0-99", Err(Malformed)),
            ("bytes a-b/c", Err(Malformed)),
            ("bytes */*", Err(Malformed)),
            ("items 0-99/100", Err(NotBytes)),
            ("bytes 500-400/1000", Err(Inconsistent)),
            ("bytes 0-999/999", Err(Inconsistent)),
            ("bytes 0-99/0", Err(Inconsistent)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_content_range(input), *want, "{input:?}");
        }
    }

    #[test]
    fn content_range_len() {
        let r = parse_content_range("bytes 10-19/100").unwrap();
        assert_eq!(r.len(), 10);
        assert!(!r.is_empty());
    }

    #[test]
    fn encoding_table() {
        assert!(is_identity_encoding(None));
        assert!(is_identity_encoding(Some("")));
        assert!(is_identity_encoding(Some("identity")));
        assert!(is_identity_encoding(Some("Identity")));
        assert!(!is_identity_encoding(Some("gzip")));
        assert!(!is_identity_encoding(Some("identity, br")));
        assert!(!is_identity_encoding(Some("x-gzip")));
    }

    #[test]
    fn etag_table() {
        assert_eq!(
            parse_etag(Some("\"abc\"")),
            Some(EntityTag::Strong("abc".into()))
        );
        assert_eq!(
            parse_etag(Some("W/\"abc\"")),
            Some(EntityTag::Weak("abc".into()))
        );
        assert_eq!(
            parse_etag(Some("\"\"")),
            Some(EntityTag::Strong(String::new()))
        );
        assert_eq!(parse_etag(Some("abc")), None);
        assert_eq!(parse_etag(Some("\"a\"b\"")), None);
        assert_eq!(parse_etag(Some("w/\"abc\"")), None);
        assert_eq!(parse_etag(None), None);
        assert_eq!(EntityTag::Weak("x".into()).to_header(), "W/\"x\"");
        assert!(EntityTag::Strong("x".into()).is_strong());
    }

    #[test]
    fn retry_after_table() {
        // 2015-10-21T07:28:00Z
        let now = 1_445_412_480_000.0;
        let cases: &[(Option<&str>, Option<u64>)] = &[
            (None, None),
            (Some("0"), Some(0)),
            (Some("120"), Some(120_000)),
            (Some(" 3 "), Some(3_000)),
            (Some("Wed, 21 Oct 2015 07:28:30 GMT"), Some(30_000)),
            (Some("Wed, 21 Oct 2015 07:00:00 GMT"), Some(0)),
            (Some("soon"), None),
            (Some("-5"), None),
            (Some("1.5"), None),
            (Some("99999999999999999999"), None),
            (Some("99999999999999999"), Some(u64::MAX)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_retry_after(*input, now), *want, "{input:?}");
        }
    }
}
