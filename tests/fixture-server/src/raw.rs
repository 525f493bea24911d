//! Responses with invalid `Content-Length` framing (`cl=` knob), written by hand.
//!
//! hyper refuses to send a non-numeric `Content-Length`, two different ones, or
//! one that disagrees with the body, so these responses are serialised here and
//! written straight to the TCP stream, always with `Connection: close`.

use std::fmt::Write as _;
use std::pin::Pin;
use std::time::SystemTime;

use hyper::body::Body;
use hyper::header::HeaderMap;
use hyper::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::body::ResponseBody;
use crate::knobs::ClMode;

/// A fully prepared response that bypasses hyper.
pub(crate) struct RawResponse {
    pub head: Vec<u8>,
    pub body: ResponseBody,
}

/// How many body bytes a `cl` mode sends for a body of `len` bytes.
pub(crate) fn body_len(mode: ClMode, len: u64) -> u64 {
    match mode {
        ClMode::Short => len.saturating_sub(100),
        ClMode::Garbage | ClMode::Conflict | ClMode::Long => len,
    }
}

/// Serialises the status line and headers, with the `Content-Length` lines of
/// `mode` for a body whose real length is `len`.
pub(crate) fn render_head(
    status: StatusCode,
    headers: &HeaderMap,
    mode: ClMode,
    len: u64,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Unknown")
    );
    let _ = write!(
        head,
        "Date: {}\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    );
    let mut bytes = head.into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(title_case(name.as_str()).as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    let lengths = match mode {
        ClMode::Garbage => "Content-Length: abc\r\n".to_string(),
        ClMode::Conflict => format!("Content-Length: {len}\r\nContent-Length: {}\r\n", len + 7),
        ClMode::Short => format!("Content-Length: {}\r\n", body_len(mode, len)),
        ClMode::Long => format!("Content-Length: {}\r\n", len + 1000),
    };
    bytes.extend_from_slice(lengths.as_bytes());
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    bytes
}

/// `content-range` -> `Content-Range`, `etag` -> `ETag`.
fn title_case(name: &str) -> String {
    if name == "etag" {
        return "ETag".to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// Writes `raw` to `stream` and closes the connection. A failing body (a cut)
/// drops the connection without shutting it down cleanly.
pub(crate) async fn write(mut stream: TcpStream, mut raw: RawResponse) {
    raw.body.arm();
    if stream.write_all(&raw.head).await.is_err() {
        raw.body.abort();
        return;
    }
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut raw.body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if stream.write_all(&data).await.is_err() {
                    raw.body.abort();
                    return;
                }
            }
            Some(Err(_)) => return,
            None => break,
        }
    }
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{HeaderValue, CONTENT_TYPE};

    #[test]
    fn renders_each_mode() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let text =
            |mode| String::from_utf8(render_head(StatusCode::OK, &headers, mode, 500)).unwrap();

        let garbage = text(ClMode::Garbage);
        assert!(garbage.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(garbage.contains("\r\nContent-Type: application/octet-stream\r\n"));
        assert!(garbage.contains("\r\nContent-Length: abc\r\n"));
        assert!(garbage.ends_with("Connection: close\r\n\r\n"));
        assert!(
            text(ClMode::Conflict).contains("\r\nContent-Length: 500\r\nContent-Length: 507\r\n")
        );
        assert!(text(ClMode::Short).contains("\r\nContent-Length: 400\r\n"));
        assert!(text(ClMode::Long).contains("\r\nContent-Length: 1500\r\n"));
        assert_eq!(body_len(ClMode::Short, 500), 400);
        assert_eq!(body_len(ClMode::Short, 50), 0);
        assert_eq!(body_len(ClMode::Long, 500), 500);
    }

    #[test]
    fn title_cases_names() {
        assert_eq!(title_case("content-range"), "Content-Range");
        assert_eq!(title_case("etag"), "ETag");
        assert_eq!(
            title_case("access-control-allow-origin"),
            "Access-Control-Allow-Origin"
        );
    }
}
