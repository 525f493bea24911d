//! Parsers for the response headers the engine relies on: `Content-Length`, `Content-Range`,
//! `Content-Encoding`, `ETag` and `Retry-After` (RFC 9110).
//!
//! They are strict: a value that does not match the grammar is `None` or an error, never a
//! guess. A header hidden by CORS reaches these functions as `None` (I13).
//!
//! Values come from `Headers.get()`, which joins repeated header lines with `", "`.

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
    let when_ms = u128::from(parse_http_date(v)?) * 1000;
    let now_ms = if now_unix_ms.is_finite() && now_unix_ms > 0.0 {
        now_unix_ms as u128
    } else {
        0
    };
    Some(u64::try_from(when_ms.saturating_sub(now_ms)).unwrap_or(u64::MAX))
}

/// An HTTP date (RFC 9110 §5.6.7) as seconds since the Unix epoch: the IMF-fixdate form
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) or one of the obsolete RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms, with
/// surrounding whitespace ignored. The weekday must be the date's, the day must exist in its
/// month, and the year must be 1970 to 9999. A two-digit RFC 850 year below 70 is 20xx.
///
/// It accepts exactly the values the `httpdate` crate accepts (a property test checks this);
/// that crate is a test dependency only.
pub fn parse_http_date(s: &str) -> Option<u64> {
    if !s.is_ascii() {
        return None;
    }
    let b = s.trim().as_bytes();
    // Positions of the weekday, day, month, year, hour and the year's digit count.
    let (wday, day, mon, year, hour, year_len) = match b.len() {
        29 => (find3(WDAYS, &b[..3])?, 5, 8, 12, 17, 4),
        24 => (find3(WDAYS, &b[..3])?, 8, 4, 20, 11, 4),
        _ => {
            let (w, name) = WEEKDAYS
                .iter()
                .enumerate()
                .find(|(_, n)| b.len() == n.len() + 22 && b.starts_with(n.as_bytes()))?;
            let o = name.len();
            (w, o, o + 3, o + 7, o + 10, 2)
        }
    };
    let punct: &[(usize, &[u8])] = match b.len() {
        // `Www, dd Mmm yyyy hh:mm:ss GMT`
        29 => &[(3, b", "), (7, b" "), (11, b" "), (16, b" "), (25, b" GMT")],
        // `Www Mmm dd hh:mm:ss yyyy`
        24 => &[(3, b" "), (7, b" "), (10, b" "), (19, b" ")],
        // `Weekday, dd-Mmm-yy hh:mm:ss GMT`
        _ => &[(day + 2, b"-"), (day + 6, b"-"), (day + 18, b" GMT")],
    };
    if !punct.iter().all(|(at, p)| b[*at..].starts_with(p))
        || b[hour + 2] != b':'
        || b[hour + 5] != b':'
    {
        return None;
    }
    let mon = find3(MONTHS, &b[mon..mon + 3])? as u64 + 1;
    // asctime pads a one-digit day with a space.
    let day = match &b[day..day + 2] {
        [b' ', d] if b.len() == 24 => digits(&[*d])?,
        d => digits(d)?,
    };
    let mut year = digits(&b[year..year + year_len])?;
    if year_len == 2 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let (hour, min, sec) = (
        digits(&b[hour..hour + 2])?,
        digits(&b[hour + 3..hour + 5])?,
        digits(&b[hour + 6..hour + 8])?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_len = match mon {
        2 => 28 + u64::from(leap),
        m => 30 + ((m + m / 8) & 1),
    };
    if sec >= 60
        || min >= 60
        || hour >= 24
        || day == 0
        || day > month_len
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    const MONTH_STARTS: [u64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_days = (year - 1969) / 4 - (year - 1901) / 100 + (year - 1601) / 400;
    let days = (year - 1970) * 365
        + leap_days
        + MONTH_STARTS[mon as usize - 1]
        + u64::from(leap && mon > 2)
        + day
        - 1;
    // 1970-01-01 was a Thursday (index 3 from Monday).
    if (days + 3) % 7 != wday as u64 {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + min * 60 + sec)
}

const WEEKDAYS: [&str; 7] = [
    "Monday, ",
    "Tuesday, ",
    "Wednesday, ",
    "Thursday, ",
    "Friday, ",
    "Saturday, ",
    "Sunday, ",
];
const WDAYS: &[u8] = b"MonTueWedThuFriSatSun";
const MONTHS: &[u8] = b"JanFebMarAprMayJunJulAugSepOctNovDec";

/// The index of `name` among the three-letter names in `table`.
fn find3(table: &[u8], name: &[u8]) -> Option<usize> {
    table.chunks(3).position(|n| n == name)
}

/// A run of ASCII digits as a number (the runs here are at most four long).
fn digits(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

/// The names of `headers` that make a cross-origin request need a preflight: every header
/// that is not CORS-safelisted (Fetch: `Accept`, `Accept-Language`, `Content-Language`,
/// `Content-Type` of a form or plain text, and a `Range` of one `bytes` range, each with a
/// value of at most 128 bytes).
pub fn preflighted(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(name, value)| !safelisted(name, value))
        .map(|(name, _)| name.clone())
        .collect()
}

fn safelisted(name: &str, value: &str) -> bool {
    if value.len() > 128 {
        return false;
    }
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let plain = |v: &str| !v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f);
    if is("accept") || is("accept-language") || is("content-language") {
        return plain(value) && !value.bytes().any(|b| b"\"():<>?@[\\]{}".contains(&b));
    }
    if is("content-type") {
        let essence = value.split(';').next().unwrap_or("").trim();
        return [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
        ]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t));
    }
    if is("range") {
        return simple_range(value);
    }
    false
}

/// `bytes=<first>-` or `bytes=<first>-<last>` with `first <= last`: the one form of `Range`
/// that needs no preflight.
fn simple_range(value: &str) -> bool {
    let Some(spec) = value.strip_prefix("bytes=") else {
        return false;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return false;
    };
    match (parse_digits(first), last) {
        (Some(_), "") => true,
        (Some(f), l) => parse_digits(l).is_some_and(|l| f <= l),
        (None, _) => false,
    }
}

/// Request headers with `fresh` over `headers`: a fresh header replaces every one of the
/// same name (names compare case-insensitively), and the others stay in their order.
pub fn overlay(headers: &mut Vec<(String, String)>, fresh: Vec<(String, String)>) {
    headers.retain(|(name, _)| !fresh.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
    headers.extend(fresh);
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn headers_that_need_a_preflight() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(preflighted(&h(&[
            ("Accept", "application/octet-stream"),
            ("accept-language", "en"),
            ("Range", "bytes=0-"),
            ("range", "bytes=5-9"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ]))
        .is_empty());
        assert_eq!(
            preflighted(&h(&[
                ("Authorization", "Bearer x"),
                ("Accept", "a"),
                ("X-Token", "1"),
                ("Range", "bytes=9-5"),
                ("Range", "bytes=0-1,4-5"),
                ("Content-Type", "application/json"),
                ("Accept", &"a".repeat(129)),
            ])),
            vec![
                "Authorization",
                "X-Token",
                "Range",
                "Range",
                "Content-Type",
                "Accept"
            ]
        );
    }

    #[test]
    fn overlay_replaces_headers_of_the_same_name_in_any_case() {
        let mut h = vec![
            ("Authorization".to_owned(), "old".to_owned()),
            ("X-A".to_owned(), "1".to_owned()),
            ("authorization".to_owned(), "older".to_owned()),
        ];
        overlay(&mut h, vec![("AUTHORIZATION".into(), "new".into())]);
        assert_eq!(
            h,
            vec![
                ("X-A".to_owned(), "1".to_owned()),
                ("AUTHORIZATION".to_owned(), "new".to_owned())
            ]
        );
        overlay(&mut h, Vec::new());
        assert_eq!(h.len(), 2);
    }

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

    /// The `httpdate` crate's answer, as seconds since the epoch.
    fn reference_date(s: &str) -> Option<u64> {
        let t = httpdate::parse_http_date(s).ok()?;
        Some(t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
    }

    #[test]
    fn http_date_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            ("Sun Nov  6 08:49:37 1994", Some(784_111_777)),
            ("  Sun Nov 06 08:49:37 1994\t", Some(784_111_777)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Thursday, 01-Jan-70 00:00:00 GMT", Some(0)),
            ("Friday, 01-Jan-38 00:00:00 GMT", Some(2_145_916_800)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("Tue, 29 Feb 2000 12:00:00 GMT", Some(951_825_600)),
            // Wrong weekday, a day the month lacks, out-of-range fields, the wrong zone.
            ("Mon, 06 Nov 1994 08:49:37 GMT", None),
            ("Thu, 29 Feb 2001 00:00:00 GMT", None),
            ("Wed, 31 Apr 2015 00:00:00 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 06 Nov 1994 08:60:00 GMT", None),
            ("Sun, 06 Nov 1994 08:49:60 GMT", None),
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 UTC", None),
            ("Sun, 6 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 nov 1994 08:49:37 GMT", None),
            ("Sun Nov 6  08:49:37 1994", None),
            ("Sunday, 06-Nov-1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT\u{a0}", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_http_date(input), *want, "{input:?}");
            assert_eq!(reference_date(input), *want, "reference: {input:?}");
        }
    }

    #[test]
    fn http_date_every_day_in_all_three_forms() {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        // Every day from 1970 to 2069 (the RFC 850 two-digit window), at a varying time of day.
        for day in 0..36_525u64 {
            let secs = day * 86_400 + (day * 7919) % 86_400;
            let imf = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            );
            assert_eq!(parse_http_date(&imf), Some(secs), "{imf}");
            // `Www, dd Mmm yyyy hh:mm:ss GMT`
            let (wday, dd, mon, yyyy, time) = (
                &imf[..3],
                &imf[5..7],
                &imf[8..11],
                &imf[12..16],
                &imf[17..25],
            );
            let long = WEEKDAYS[DAYS.iter().position(|d| *d == wday).unwrap()];
            let rfc850 = format!("{long}{dd}-{mon}-{} {time} GMT", &yyyy[2..]);
            let padded = dd
                .strip_prefix('0')
                .map_or(dd.to_owned(), |d| format!(" {d}"));
            let asctime = format!("{wday} {mon} {padded} {time} {yyyy}");
            for form in [&rfc850, &asctime] {
                assert_eq!(parse_http_date(form), Some(secs), "{form}");
                assert_eq!(reference_date(form), Some(secs), "reference: {form}");
            }
        }
    }

    /// Date-like strings: well-formed dates in the three forms with fields that may be out of
    /// range, with a byte sometimes replaced and whitespace sometimes added.
    fn date_like() -> impl Strategy<Value = String> {
        let wday =
            prop::sample::select(vec!["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Xyz"]);
        let mon = prop::sample::select(vec![
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            "jan",
        ]);
        (
            (wday, 0u32..34, mon, 0u32..10_000),
            (0u32..26, 0u32..62, 0u32..62, 0u8..3),
            (
                any::<prop::sample::Index>(),
                prop::sample::select(b" ,:-09GMTa\t\xc3".to_vec()),
                any::<bool>(),
            ),
            prop::sample::select(vec!["", " ", "\t", "\u{b}", "\u{a0}"]),
        )
            .prop_map(
                |((wday, day, mon, year), (h, m, s, form), (at, byte, mutate), pad)| {
                    let long = WEEKDAYS
                        .iter()
                        .find(|w| w.starts_with(wday))
                        .map_or("Xyzday, ", |w| *w);
                    let mut text = match form {
                        0 => format!("{wday}, {day:02} {mon} {year:04} {h:02}:{m:02}:{s:02} GMT"),
                        1 => format!(
                            "{long}{day:02}-{mon}-{:02} {h:02}:{m:02}:{s:02} GMT",
                            year % 100
                        ),
                        _ => format!("{wday} {mon} {day:>2} {h:02}:{m:02}:{s:02} {year:04}"),
                    }
                    .into_bytes();
                    if mutate {
                        let i = at.index(text.len());
                        text[i] = byte;
                    }
                    format!("{pad}{}{pad}", String::from_utf8_lossy(&text))
                },
            )
    }

    proptest! {
        #[test]
        fn http_date_matches_httpdate(s in date_like()) {
            prop_assert_eq!(parse_http_date(&s), reference_date(&s), "{:?}", s);
        }

        #[test]
        fn http_date_matches_httpdate_on_any_text(s in "\\PC{0,40}") {
            prop_assert_eq!(parse_http_date(&s), reference_date(&s), "{:?}", s);
        }
    }
}
