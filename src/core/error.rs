//! The one error type of the crate and its stable codes.
//!
//! Each failure has exactly one [`ErrorCode`]. The code strings are part of the public
//! contract (`DownloadError.code` in JS) and never change.

use std::any::Any;
use std::fmt::{self, Write as _};
use std::rc::Rc;

/// Why a download failed. The string form ([`ErrorCode::as_str`]) is stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The connection failed, was reset or dropped, or the browser is offline.
    Network,
    /// No body byte arrived for `timeouts.stall` ms.
    Stalled,
    /// No response head arrived within `timeouts.headers` ms.
    HeadersTimeout,
    /// The whole download exceeded `timeouts.total` ms.
    Deadline,
    /// The server answered with a status that is not a success.
    HttpStatus,
    /// The server asked to wait (429/503 with Retry-After) longer than the policy allows.
    RateLimited,
    /// The response is malformed or inconsistent (framing, Content-Range, length).
    BadResponse,
    /// The final SHA-256 differs from the expected integrity value.
    Integrity,
    /// Storage quota exceeded.
    Quota,
    /// IndexedDB is unavailable or failing.
    Storage,
    /// Cancelled by the caller (`cancel()` or the caller's `AbortSignal`).
    Aborted,
    /// The caller passed a bad URL or bad options.
    InvalidArgument,
    /// The manager's `prepareRequest` hook threw, rejected, returned something that is not a
    /// request description, or did not settle within `timeouts.headers`.
    PrepareRequest,
    /// The caller's `sink` refused a write or its close, or the download would have to start
    /// over when bytes already written to the sink cannot be taken back.
    Sink,
    /// The server answered, but not to this page: its CORS headers refuse the page's origin
    /// (`Access-Control-Allow-Origin`) or the preflight of the request's headers
    /// (`Access-Control-Allow-Headers`). Retrying cannot help.
    Cors,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::Network,
        ErrorCode::Stalled,
        ErrorCode::HeadersTimeout,
        ErrorCode::Deadline,
        ErrorCode::HttpStatus,
        ErrorCode::RateLimited,
        ErrorCode::BadResponse,
        ErrorCode::Integrity,
        ErrorCode::Quota,
        ErrorCode::Storage,
        ErrorCode::Aborted,
        ErrorCode::InvalidArgument,
        ErrorCode::PrepareRequest,
        ErrorCode::Sink,
        ErrorCode::Cors,
    ];

    /// The stable string exposed to JS as `DownloadError.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Network => "NETWORK",
            ErrorCode::Stalled => "STALLED",
            ErrorCode::HeadersTimeout => "HEADERS_TIMEOUT",
            ErrorCode::Deadline => "DEADLINE",
            ErrorCode::HttpStatus => "HTTP_STATUS",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::BadResponse => "BAD_RESPONSE",
            ErrorCode::Integrity => "INTEGRITY",
            ErrorCode::Quota => "QUOTA",
            ErrorCode::Storage => "STORAGE",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::PrepareRequest => "PREPARE_REQUEST",
            ErrorCode::Sink => "SINK",
            ErrorCode::Cors => "CORS",
        }
    }

    /// The code whose [`as_str`](Self::as_str) is `s`, if any.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// True for the three timeout causes.
    pub const fn is_timeout(self) -> bool {
        matches!(
            self,
            ErrorCode::Stalled | ErrorCode::HeadersTimeout | ErrorCode::Deadline
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed download or a rejected call: a code, a human-readable message, and the HTTP
/// details where they apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadError {
    /// The stable code.
    pub code: ErrorCode,
    /// What happened, for people. Not stable; match on `code`.
    pub message: String,
    /// The HTTP status, for `HTTP_STATUS` and `RATE_LIMITED`.
    pub status: Option<u16>,
    /// The server's Retry-After, in milliseconds, when it sent one.
    pub retry_after_ms: Option<u64>,
    /// The platform error this one wraps (a JS `Error`, an `AbortSignal`'s `reason`), exposed
    /// to JS as `cause`.
    pub cause: Option<Cause>,
}

/// The platform's own error value that a [`DownloadError`] wraps, kept opaque so that the core
/// stays free of browser types: the JS layer stores a `JsValue` with [`Cause::new`] and reads
/// it back with [`Cause::downcast_ref`]. Two causes are equal when they are the same value.
#[derive(Clone)]
pub struct Cause(Rc<dyn Any>);

impl Cause {
    /// Wraps `value`.
    pub fn new(value: impl Any) -> Self {
        Cause(Rc::new(value))
    }

    /// The wrapped value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cause {}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cause(..)")
    }
}

impl DownloadError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DownloadError {
            code,
            message: message.into(),
            status: None,
            retry_after_ms: None,
            cause: None,
        }
    }

    /// Keeps the platform error this one wraps (see [`Cause`]); for example the `AbortSignal`'s
    /// `reason` of an `ABORTED` error, or the `TypeError` of a failed `fetch`.
    pub fn with_cause(mut self, cause: impl Any) -> Self {
        self.cause = Some(Cause::new(cause));
        self
    }

    /// `INVALID_ARGUMENT` for the named field.
    pub fn invalid(field: &str, problem: impl fmt::Display) -> Self {
        DownloadError::new(ErrorCode::InvalidArgument, format!("{field}: {problem}"))
    }

    /// `ABORTED`.
    pub fn aborted() -> Self {
        DownloadError::new(ErrorCode::Aborted, "the download was cancelled")
    }

    /// Adds the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds the server's Retry-After.
    pub fn with_retry_after_ms(mut self, retry_after_ms: Option<u64>) -> Self {
        self.retry_after_ms = retry_after_ms;
        self
    }

    /// True for `STALLED`, `HEADERS_TIMEOUT` and `DEADLINE`.
    pub fn is_timeout(&self) -> bool {
        self.code.is_timeout()
    }
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DownloadError {}

/// Displays caller input quoted in a message: between `"`, with `"` and `\` escaped by a
/// backslash; tab, CR, LF and NUL as `\t`, `\r`, `\n`, `\0`; every other control character and
/// invisible format character ([`is_invisible_format`]) as `\u{hex}`, as `{:?}` writes them.
/// Everything else is shown as it is (accents, scripts, emoji), so that a message can neither
/// hide part of the input nor be reordered by it (`a\u{202E}gpj.exe`). `str`'s `Debug` would
/// also escape unassigned and other non-printable code points and leading combining marks; the
/// Unicode tables that takes would be carried in the module and buy nothing here.
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                '\0' => f.write_str("\\0")?,
                c if c.is_control() || is_invisible_format(c) => {
                    write!(f, "\\u{{{:x}}}", u32::from(c))?;
                }
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// Invisible format chars that can disguise text (`a\u{202E}gpj.exe` shows as `aexe.jpg`):
/// the Arabic letter mark, bidi marks, embeddings, overrides and isolates, zero-width chars,
/// line and paragraph separators, the byte order mark, interlinear annotation and tag chars.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Reads back what [`Quoted`] wrote.
    fn unquote(q: &str) -> Option<String> {
        let inner = q.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '"' {
                return None; // an unescaped quote would end the string early
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next()? {
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'n' => out.push('\n'),
                '0' => out.push('\0'),
                'u' => {
                    let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let hex = hex.strip_prefix('{')?;
                    out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                }
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn quoted_escapes_what_would_hide_or_reorder_text() {
        for (s, want) in [
            ("", r#""""#),
            ("abc", r#""abc""#),
            ("a\"b", r#""a\"b""#),
            ("it's", r#""it's""#),
            ("back\\slash", r#""back\\slash""#),
            ("tab\there\r\n", r#""tab\there\r\n""#),
            (
                "\0\u{1}\u{7f}\u{80}\u{9f}",
                r#""\0\u{1}\u{7f}\u{80}\u{9f}""#,
            ),
            ("caf\u{e9}", "\"caf\u{e9}\""),
            ("a\u{301}", "\"a\u{301}\""),
            ("\u{200b}zero width", r#""\u{200b}zero width""#),
            ("a\u{202e}gpj.exe", r#""a\u{202e}gpj.exe""#),
            ("\u{feff}bom", r#""\u{feff}bom""#),
            ("\u{2028}", r#""\u{2028}""#),
            ("\u{e0041}tag", r#""\u{e0041}tag""#),
            ("emoji \u{1f600}", "\"emoji \u{1f600}\""),
            ("\u{4e2d}\u{6587}", "\"\u{4e2d}\u{6587}\""),
        ] {
            assert_eq!(Quoted(s).to_string(), want, "{s:?}");
        }
    }

    #[test]
    fn quoted_writes_controls_as_debug_does() {
        for c in (0..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(Quoted(&s).to_string(), format!("{s:?}"));
        }
    }

    proptest! {
        /// Nothing invisible gets through, and the input can be read back exactly.
        #[test]
        fn quoted_shows_all_and_reads_back(s in any::<String>()) {
            let q = Quoted(&s).to_string();
            prop_assert!(!q.chars().any(|c| c.is_control() || is_invisible_format(c)), "{:?}", q);
            prop_assert_eq!(unquote(&q), Some(s));
        }
    }

    #[test]
    fn codes_are_distinct_upper_snake_case() {
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn parse_reverses_as_str() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
        }
        assert_eq!(ErrorCode::parse("network"), None);
        assert_eq!(ErrorCode::parse(""), None);
    }

    #[test]
    fn timeouts_are_the_three_timer_causes() {
        let timeouts: Vec<_> = ErrorCode::ALL.iter().filter(|c| c.is_timeout()).collect();
        assert_eq!(
            timeouts,
            [
                &ErrorCode::Stalled,
                &ErrorCode::HeadersTimeout,
                &ErrorCode::Deadline
            ]
        );
        assert!(!DownloadError::aborted().is_timeout());
    }

    #[test]
    fn a_cause_is_kept_through_clones_and_compared_by_identity() {
        let e = DownloadError::aborted().with_cause(String::from("reason"));
        let copy = e.clone();
        assert_eq!(copy, e);
        let cause = copy.cause.as_ref().expect("kept");
        assert_eq!(
            cause.downcast_ref::<String>().map(String::as_str),
            Some("reason")
        );
        assert!(cause.downcast_ref::<u32>().is_none());
        let other = DownloadError::aborted().with_cause(String::from("reason"));
        assert_ne!(
            other, e,
            "another value, even an equal one, is another cause"
        );
        assert_ne!(DownloadError::aborted(), e);
    }

    #[test]
    fn invalid_names_the_field() {
        let e = DownloadError::invalid("timeouts.stall", "must be a non-negative number");
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "INVALID_ARGUMENT: timeouts.stall: must be a non-negative number"
        );
    }
}
