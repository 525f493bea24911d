//! What a response head and a finished body mean for a download: accept, or fail with which
//! code. The facts come from the browser layer; nothing here touches the network.

use super::error::{DownloadError, ErrorCode};
use super::headers::{is_identity_encoding, parse_content_length, parse_retry_after};

/// The parts of a response head the engine decides on. Header values are as the page sees
/// them: `None` when absent or hidden by CORS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP status.
    pub status: u16,
    /// `Content-Length`.
    pub content_length: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    /// `Content-Range`.
    pub content_range: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Disposition` (visible cross-origin only when exposed).
    pub content_disposition: Option<String>,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
    /// `Date` (visible cross-origin only when exposed).
    pub date: Option<String>,
    /// `Accept-Ranges`.
    pub accept_ranges: Option<String>,
}

/// An accepted response to a whole-resource request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptedBody {
    /// How many bytes the body reader will yield, when that is known exactly: the
    /// `Content-Length` of an identity-encoded body. A compressed body is decoded by the
    /// browser, so its `Content-Length` is the wrong measure and this is `None`.
    pub expected_len: Option<u64>,
}

/// Decides whether a response to a plain `GET` (no `Range`) carries the resource.
///
/// Only `200` does. Any other status fails with `HTTP_STATUS` and the status; the server's
/// `Retry-After` travels with the error. The body of a refused response is never read.
///
/// # Errors
/// `HTTP_STATUS` for every status but 200; `BAD_RESPONSE` for a 2xx that is not a full body.
pub fn accept_full_response(
    head: &ResponseHead,
    now_unix_ms: f64,
) -> Result<AcceptedBody, DownloadError> {
    match head.status {
        200 => {
            let expected_len = if is_identity_encoding(head.content_encoding.as_deref()) {
                parse_content_length(head.content_length.as_deref())
            } else {
                None
            };
            Ok(AcceptedBody { expected_len })
        }
        s @ (201..=299) => Err(DownloadError::new(
            ErrorCode::BadResponse,
            format!("expected 200 with the whole resource, got {s}"),
        )
        .with_status(s)),
        s => Err(
            DownloadError::new(ErrorCode::HttpStatus, format!("the server answered {s}"))
                .with_status(s)
                .with_retry_after_ms(parse_retry_after(head.retry_after.as_deref(), now_unix_ms)),
        ),
    }
}

/// Decides whether a body stream that ended cleanly after `received` bytes is whole.
///
/// # Errors
/// `NETWORK` when fewer bytes than announced arrived (the connection ended early);
/// `BAD_RESPONSE` when more arrived than announced.
pub fn check_body_end(expected_len: Option<u64>, received: u64) -> Result<(), DownloadError> {
    match expected_len {
        Some(n) if received < n => Err(DownloadError::new(
            ErrorCode::Network,
            format!("the body ended after {received} of {n} bytes"),
        )),
        Some(n) if received > n => Err(DownloadError::new(
            ErrorCode::BadResponse,
            format!("the body has {received} bytes but Content-Length said {n}"),
        )),
        _ => Ok(()),
    }
}

/// Checks a chunk against the announced length before it is kept, so that nothing past the
/// declared end is stored (I7).
///
/// # Errors
/// `BAD_RESPONSE` when the chunk would take the body past `expected_len`.
pub fn check_chunk(
    expected_len: Option<u64>,
    received_before: u64,
    chunk_len: u64,
) -> Result<(), DownloadError> {
    match expected_len {
        Some(n)
            if received_before
                .checked_add(chunk_len)
                .is_none_or(|end| end > n) =>
        {
            Err(DownloadError::new(
                ErrorCode::BadResponse,
                format!("the body runs past its Content-Length of {n} bytes"),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn head(status: u16, cl: Option<&str>, ce: Option<&str>) -> ResponseHead {
        ResponseHead {
            status,
            content_length: cl.map(str::to_owned),
            content_encoding: ce.map(str::to_owned),
            ..ResponseHead::default()
        }
    }

    #[test]
    fn accepts_200_with_length() {
        let got = accept_full_response(&head(200, Some("1000"), None), 0.0).unwrap();
        assert_eq!(got.expected_len, Some(1000));
    }

    #[test]
    fn compressed_length_is_not_the_body_length() {
        for ce in ["gzip", "br", "deflate", "gzip, identity"] {
            let got = accept_full_response(&head(200, Some("1000"), Some(ce)), 0.0).unwrap();
            assert_eq!(got.expected_len, None, "{ce}");
        }
        let got = accept_full_response(&head(200, Some("1000"), Some("identity")), 0.0).unwrap();
        assert_eq!(got.expected_len, Some(1000));
    }

    #[test]
    fn garbage_or_conflicting_length_is_unknown() {
        for cl in ["abc", "10, 17", "-1", ""] {
            let got = accept_full_response(&head(200, Some(cl), None), 0.0).unwrap();
            assert_eq!(got.expected_len, None, "{cl}");
        }
    }

    #[test]
    fn error_statuses_fail_with_status() {
        for s in [
            301, 304, 400, 401, 403, 404, 410, 416, 429, 500, 502, 503, 504,
        ] {
            let e = accept_full_response(&head(s, Some("10"), None), 0.0).unwrap_err();
            assert_eq!(e.code, ErrorCode::HttpStatus, "{s}");
            assert_eq!(e.status, Some(s));
        }
        for s in [201, 204, 206] {
            let e = accept_full_response(&head(s, Some("10"), None), 0.0).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadResponse, "{s}");
        }
    }

    #[test]
    fn retry_after_travels_with_the_error() {
        let mut h = head(503, None, None);
        h.retry_after = Some("7".into());
        let e = accept_full_response(&h, 0.0).unwrap_err();
        assert_eq!(e.retry_after_ms, Some(7000));
    }

    #[test]
    fn body_end_table() {
        assert!(check_body_end(None, 0).is_ok());
        assert!(check_body_end(None, 12345).is_ok());
        assert!(check_body_end(Some(10), 10).is_ok());
        assert!(check_body_end(Some(0), 0).is_ok());
        assert_eq!(
            check_body_end(Some(10), 9).unwrap_err().code,
            ErrorCode::Network
        );
        assert_eq!(
            check_body_end(Some(10), 11).unwrap_err().code,
            ErrorCode::BadResponse
        );
    }

    #[test]
    fn chunk_past_the_end_is_refused() {
        assert!(check_chunk(Some(10), 0, 10).is_ok());
        assert!(check_chunk(Some(10), 5, 5).is_ok());
        assert_eq!(
            check_chunk(Some(10), 5, 6).unwrap_err().code,
            ErrorCode::BadResponse
        );
        assert!(check_chunk(None, u64::MAX - 1, 10).is_ok());
        assert_eq!(
            check_chunk(Some(u64::MAX), u64::MAX, 1).unwrap_err().code,
            ErrorCode::BadResponse
        );
    }
}
