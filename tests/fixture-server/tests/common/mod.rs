//! A small blocking HTTP/1.1 client that reports exactly what went over the
//! wire, and an in-process fixture server shared by the tests of one binary.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use fixture_server::server::FixtureServer;
use serde_json::Value;

pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The port of a fixture server running on a background runtime.
pub fn port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let server = FixtureServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .await
                    .expect("bind");
                tx.send(server.local_addr().expect("addr").port())
                    .expect("send port");
                server.run().await;
            });
        });
        rx.recv_timeout(IO_TIMEOUT).expect("server start")
    })
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// The status line and header lines exactly as received.
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The connection ended before the framing said the body was complete.
    pub truncated: bool,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect() -> TcpStream {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port())).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

pub fn send(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    close: bool,
) {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("write request");
}

/// One request on a fresh connection (`Connection: close`).
pub fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut stream = connect();
    send(&mut stream, method, target, headers, true);
    let mut reader = BufReader::new(stream);
    read_response(&mut reader, method == "HEAD")
}

pub fn get(target: &str) -> HttpResponse {
    request("GET", target, &[])
}

pub fn get_range(target: &str, range: &str) -> HttpResponse {
    request("GET", target, &[("Range", range)])
}

fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line) {
        Ok(0) => None,
        Ok(_) => Some(String::from_utf8_lossy(&line).into_owned()),
        Err(e) if is_timeout(&e) => panic!("timed out reading a line"),
        Err(_) => None,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Reads until `n` bytes or the end of the stream; `true` when all arrived.
fn read_up_to(reader: &mut impl Read, n: u64, out: &mut Vec<u8>) -> bool {
    let mut limited = (&mut *reader).take(n);
    let before = out.len();
    match limited.read_to_end(out) {
        Ok(_) => {}
        Err(e) if is_timeout(&e) => panic!("timed out reading a body"),
        Err(_) => {}
    }
    (out.len() - before) as u64 == n
}

/// Reads one response, framed by `Transfer-Encoding: chunked`, a single valid
/// `Content-Length`, or else the end of the connection.
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> HttpResponse {
    let status_line = read_line(reader).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut head = status_line;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader).expect("header line");
        head.push_str(&line);
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').expect("header colon");
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut response = HttpResponse {
        status,
        head,
        headers,
        body: Vec::new(),
        truncated: false,
    };
    if head_request || status == 204 || status == 304 {
        return response;
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let lengths = response.headers_named("content-length");
    let length = match lengths.as_slice() {
        [one] => one.parse::<u64>().ok(),
        _ => None,
    };
    let mut body = Vec::new();
    let complete = if chunked {
        read_chunked(reader, &mut body)
    } else if let Some(n) = length {
        read_up_to(reader, n, &mut body)
    } else {
        read_up_to(reader, u64::MAX, &mut body);
        true
    };
    response.body = body;
    response.truncated = !complete;
    response
}

fn read_chunked(reader: &mut impl BufRead, body: &mut Vec<u8>) -> bool {
    loop {
        let Some(line) = read_line(reader) else {
            return false;
        };
        let size_text = line.trim().split(';').next().unwrap_or("");
        let Ok(size) = u64::from_str_radix(size_text, 16) else {
            return false;
        };
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            loop {
                match read_line(reader) {
                    Some(l) if l.trim().is_empty() => return true,
                    Some(_) => {}
                    None => return false,
                }
            }
        }
        if !read_up_to(reader, size, body) {
            return false;
        }
        let mut crlf = Vec::new();
        if !read_up_to(reader, 2, &mut crlf) {
            return false;
        }
    }
}

/// Everything the server sends on a fresh connection until it closes it.
pub fn raw_exchange(method: &str, target: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut stream = connect();
    send(&mut stream, method, target, headers, true);
    let mut out = Vec::new();
    read_up_to(&mut stream, u64::MAX, &mut out);
    out
}

/// Splits a raw response into its head (as text) and body bytes.
pub fn split_raw(raw: &[u8]) -> (String, Vec<u8>) {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    (
        String::from_utf8_lossy(&raw[..at + 4]).into_owned(),
        raw[at + 4..].to_vec(),
    )
}

pub fn expected(seed: u64, start: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len as usize];
    fixture_server::fill(seed, start, &mut buf);
    buf
}

pub fn log(tag: &str) -> Vec<Value> {
    let r = get(&format!("/log?tag={tag}"));
    assert_eq!(r.status, 200);
    match serde_json::from_slice(&r.body).expect("log json") {
        Value::Array(entries) => entries,
        other => panic!("log is not an array: {other}"),
    }
}

/// Polls the log of `tag` until `done` holds (at most 5 s).
pub fn wait_log(tag: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let entries = log(tag);
        if done(&entries) {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "log of {tag} never settled: {entries:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
