//! End-to-end checks of the fixture server over real TCP connections.

mod common;

use std::io::{BufReader, Read};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use flate2::read::GzDecoder;

#[test]
fn health() {
    let r = get("/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn full_get_headers_and_bytes() {
    let r = get("/file?size=100000&seed=9&tag=full");
    assert_eq!(r.status, 200);
    assert!(!r.truncated);
    assert_eq!(r.body, expected(9, 0, 100_000));
    assert_eq!(r.header("content-length"), Some("100000"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("etag"), Some("\"s9-100000\""));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some(
            "Content-Length, Content-Range, Content-Encoding, Content-Type, ETag, Last-Modified, \
             Accept-Ranges, Retry-After, Content-Disposition"
        )
    );
    assert_eq!(r.header("last-modified"), None);

    let entries = wait_log("full", |e| e.len() == 1 && e[0]["completed"] == true);
    let e = &entries[0];
    assert_eq!(e["method"], "GET");
    assert_eq!(e["status"], 200);
    assert_eq!(e["body_start"], 0);
    assert_eq!(e["bytes_sent"], 100_000);
    assert_eq!(e["aborted"], false);
    assert_eq!(e["query"], "size=100000&seed=9&tag=full");
    assert!(e["range"].is_null());
}

#[test]
fn head_has_get_headers_without_body() {
    let r = request("HEAD", "/file?size=5000&lm=1&seed=2&tag=head", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5000"));
    assert_eq!(r.header("etag"), Some("\"s2-5000\""));
    assert_eq!(
        r.header("last-modified"),
        Some("Mon, 01 Jan 2024 02:00:00 GMT")
    );
    assert!(r.body.is_empty());
    let entries = wait_log("head", |e| e.len() == 1 && e[0]["completed"] == true);
    assert_eq!(entries[0]["method"], "HEAD");
    assert_eq!(entries[0]["bytes_sent"], 0);

    let r = request("HEAD", "/file?size=5000&chunked=1", &[]);
    assert_eq!(r.header("content-length"), None);
}

#[test]
fn range_requests() {
    let target = "/file?size=10000&seed=3&tag=range";
    let r = get_range(target, "bytes=100-199");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/10000"));
    assert_eq!(r.header("content-length"), Some("100"));
    assert_eq!(r.body, expected(3, 100, 100));

    let r = get_range(target, "bytes=9990-");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 9990-9999/10000"));
    assert_eq!(r.body, expected(3, 9990, 10));

    let r = get_range(target, "bytes=-5");
    assert_eq!(r.header("content-range"), Some("bytes 9995-9999/10000"));
    assert_eq!(r.body, expected(3, 9995, 5));

    let r = get_range(target, "bytes=9000-20000");
    assert_eq!(r.header("content-range"), Some("bytes 9000-9999/10000"));
    assert_eq!(r.body.len(), 1000);

    // Multi-range and malformed headers are ignored.
    for h in ["bytes=0-1,5-6", "bytes=abc", "bytes=5-4", "lines=1-2"] {
        let r = get_range(target, h);
        assert_eq!(r.status, 200, "{h}");
        assert_eq!(r.body.len(), 10_000);
        assert_eq!(r.header("content-range"), None);
    }

    let entries = wait_log("range", |e| {
        e.len() == 8 && e.iter().all(|x| x["completed"] == true)
    });
    assert_eq!(entries[0]["range"], "bytes=100-199");
    assert_eq!(entries[0]["body_start"], 100);
    assert_eq!(entries[0]["bytes_sent"], 100);
    assert_eq!(entries[1]["body_start"], 9990);
}

#[test]
fn unsatisfiable_ranges() {
    let r = get_range("/file?size=1000&tag=416", "bytes=1000-");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000"));
    assert!(!r.body.is_empty());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let r = get_range("/file?size=0", "bytes=0-");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */0"));

    let r = get("/file?size=0");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.body.is_empty());

    let entries = wait_log("416", |e| e.len() == 1);
    assert_eq!(entries[0]["status"], 416);
    assert!(entries[0]["body_start"].is_null());
}

#[test]
fn if_range() {
    let target = "/file?size=1000&seed=4&lm=1";
    let range = ("Range", "bytes=10-19");
    let r = request("GET", target, &[range, ("If-Range", "\"s4-1000\"")]);
    assert_eq!(r.status, 206);
    let r = request(
        "GET",
        target,
        &[range, ("If-Range", "Fri, 01 Jan 2024 04:00:00 GMT")],
    );
    assert_eq!(r.status, 200, "wrong day name is a different string");
    let lm = get(target).header("last-modified").unwrap().to_string();
    let r = request("GET", target, &[range, ("If-Range", &lm)]);
    assert_eq!(r.status, 206);
    let r = request("GET", target, &[range, ("If-Range", "\"s5-1000\"")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected(4, 0, 1000));

    let weak = "/file?size=1000&seed=4&etag=weak";
    assert_eq!(get(weak).header("etag"), Some("W/\"s4-1000\""));
    let r = request("GET", weak, &[range, ("If-Range", "W/\"s4-1000\"")]);
    assert_eq!(r.status, 200);
    let r = request("GET", weak, &[range, ("If-Range", "\"s4-1000\"")]);
    assert_eq!(r.status, 200);

    let ignore = "/file?size=1000&seed=4&ifrange=ignore";
    let r = request("GET", ignore, &[range, ("If-Range", "\"nope\"")]);
    assert_eq!(r.status, 206);

    let none = "/file?size=1000&etag=none";
    let r = get_range(none, "bytes=0-0");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("etag"), None);
}

#[test]
fn ranges_disabled() {
    let r = get_range("/file?size=1000&ranges=0", "bytes=10-19");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("accept-ranges"), Some("none"));
    assert_eq!(r.body.len(), 1000);
    let r = get_range("/file?size=1000&ranges=0", "bytes=5000-");
    assert_eq!(r.status, 200);
}

#[test]
fn range_max_sends_short_206() {
    let r = get_range("/file?size=100000&range_max=1000", "bytes=500-");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 500-1499/100000"));
    assert_eq!(r.body, expected(1, 500, 1000));
}

#[test]
fn corrupt_content_range() {
    let cases = [
        ("missing", None),
        ("garbage", Some("ooga-booga")),
        ("open", Some("bytes 50-")),
        ("unit", Some("items 10-19/1000")),
        ("backwards", Some("bytes 500-400/1000")),
        ("total", Some("bytes 10-19/1001")),
        ("wrongstart", Some("bytes 11-19/1000")),
    ];
    for (mode, header) in cases {
        let r = get_range(&format!("/file?size=1000&cr={mode}"), "bytes=10-19");
        assert_eq!(r.status, 206, "{mode}");
        assert_eq!(r.header("content-range"), header, "{mode}");
        assert_eq!(r.body, expected(1, 10, 10), "{mode}");
    }
    // Only 206 responses are corrupted.
    let r = get("/file?size=1000&cr=garbage");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), None);
}

#[test]
fn multipart_byteranges() {
    let r = get_range("/file?size=1000&seed=2&multipart=1", "bytes=10-19");
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type");
    assert_eq!(r.header("content-range"), None);
    let prefix = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 10-19/1000\r\n\r\n"
    );
    let suffix = format!("\r\n--{boundary}--\r\n");
    let mut want = prefix.into_bytes();
    want.extend(expected(2, 10, 10));
    want.extend(suffix.into_bytes());
    assert_eq!(r.body, want);
    assert_eq!(
        r.header("content-length"),
        Some(want.len().to_string().as_str())
    );
}

#[test]
fn change_after_switches_resource() {
    let target = "/file?size=1000&seed=1&change_after=1&seed2=2&lm=1&tag=change";
    let first = request("HEAD", target, &[]);
    assert_eq!(first.header("etag"), Some("\"s1-1000\""));
    let second = get(target);
    assert_eq!(second.header("etag"), Some("\"s2-1000\""));
    assert_eq!(second.body, expected(2, 0, 1000));
    assert_ne!(
        first.header("last-modified"),
        second.header("last-modified")
    );
    // Resuming with the old validator now yields the new resource in full.
    let r = request(
        "GET",
        target,
        &[("Range", "bytes=500-"), ("If-Range", "\"s1-1000\"")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected(2, 0, 1000));
}

#[test]
fn forced_status_and_retry_after() {
    let target = "/file?size=100&status=503&status_times=2&retry_after=7&tag=status";
    for _ in 0..2 {
        let r = get(target);
        assert_eq!(r.status, 503);
        assert_eq!(r.text(), "fixture error body 503");
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.header("etag"), None);
    }
    let r = get(target);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected(1, 0, 100));
    assert_eq!(r.header("retry-after"), Some("7"));

    let r = get("/file?status=429");
    assert_eq!(r.status, 429);
    let r = get("/file?status=404");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "fixture error body 404");
}

#[test]
fn gzip_body_decodes_to_content() {
    let r = get("/file?size=300000&seed=6&gzip=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let mut plain = Vec::new();
    GzDecoder::new(&r.body[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, expected(6, 0, 300_000));

    let r = get_range("/file?size=300000&seed=6&gzip=1", "bytes=1000-1999");
    assert_eq!(r.status, 206);
    let mut plain = Vec::new();
    GzDecoder::new(&r.body[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, expected(6, 1000, 1000));
}

#[test]
fn chunked_transfer() {
    let r = get("/file?size=200000&seed=8&chunked=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert!(!r.truncated);
    assert_eq!(r.body, expected(8, 0, 200_000));
}

#[test]
fn redirects_are_followed_hop_by_hop() {
    let r = get("/file?size=10&redirects=2&tag=redir");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/file?size=10&redirects=1&tag=redir")
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = get(r.header("location").unwrap());
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/file?size=10&redirects=0&tag=redir")
    );
    let r = get(r.header("location").unwrap());
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected(1, 0, 10));
    let entries = wait_log("redir", |e| e.len() == 3);
    let statuses: Vec<_> = entries
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [302, 302, 200]);
}

#[test]
fn cors_knobs_and_preflight() {
    let r = get("/file?size=10&cors=0");
    assert_eq!(r.status, 200);
    assert!(!r.head.to_ascii_lowercase().contains("access-control-"));

    let r = get("/file?size=10&expose=none");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-expose-headers"), None);

    let r = get("/file?size=10&expose=ETag%2CContent-Range");
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag,Content-Range")
    );

    let r = request(
        "OPTIONS",
        "/file?size=10&tag=preflight",
        &[
            ("Origin", "http://127.0.0.1:1"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range,if-range"),
        ],
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("range,if-range")
    );
    assert_eq!(r.header("access-control-max-age"), Some("0"));
    let r = request("OPTIONS", "/health", &[]);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-headers"), Some("*"));
    let entries = wait_log("preflight", |e| e.len() == 1);
    assert_eq!(entries[0]["method"], "OPTIONS");
    assert_eq!(entries[0]["status"], 204);
    assert_eq!(entries[0]["completed"], true);
}

#[test]
fn cut_at_truncates_the_body() {
    let target = "/file?size=1000000&seed=5&cut_at=300000&cut_times=1&tag=cut";
    let r = get(target);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("1000000"));
    assert!(r.truncated);
    assert_eq!(r.body.len(), 300_000);
    assert_eq!(r.body, expected(5, 0, 300_000));

    // cut_times=1: the next request that covers the offset is served in full.
    let r = get_range(target, "bytes=300000-");
    assert_eq!(r.status, 206);
    assert!(!r.truncated);
    assert_eq!(r.body, expected(5, 300_000, 700_000));

    let entries = wait_log("cut", |e| e.len() == 2 && e[1]["completed"] == true);
    assert_eq!(entries[0]["aborted"], true);
    assert_eq!(entries[0]["completed"], false);
    assert_eq!(entries[0]["bytes_sent"], 300_000);
    assert_eq!(entries[1]["bytes_sent"], 700_000);
    assert_eq!(entries[1]["body_start"], 300_000);

    // The offset is absolute: a range starting after it is not affected, a
    // range covering it is cut at the same resource offset.
    let always = "/file?size=1000000&seed=5&cut_at=300000";
    let r = get_range(always, "bytes=400000-");
    assert!(!r.truncated);
    let r = get_range(always, "bytes=200000-");
    assert!(r.truncated);
    assert_eq!(r.body, expected(5, 200_000, 100_000));

    // A chunked body is cut without its terminating chunk.
    let r = get("/file?size=100000&cut_at=5000&chunked=1");
    assert!(r.truncated);
    assert_eq!(r.body.len(), 5000);
}

#[test]
fn stall_pauses_then_continues() {
    let target = "/file?size=100000&stall_at=50000&stall_ms=1000&stall_times=1&tag=stall";
    let started = Instant::now();
    let r = get(target);
    let elapsed = started.elapsed();
    assert_eq!(r.body, expected(1, 0, 100_000));
    assert!(elapsed >= Duration::from_millis(990), "{elapsed:?}");

    // While stalled, the bytes before the offset have arrived.
    let mut stream = connect();
    send(
        &mut stream,
        "GET",
        "/file?size=100000&stall_at=50000&stall_ms=2000",
        &[],
        true,
    );
    let mut reader = BufReader::new(stream);
    let started = Instant::now();
    let mut got = vec![0u8; 50_000];
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        head.push(line.clone());
        if line == "\r\n" {
            break;
        }
    }
    reader.read_exact(&mut got).unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(got, expected(1, 0, 50_000));

    // stall_times=1: the second request does not stall.
    let started = Instant::now();
    get(target);
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[test]
fn throttle_paces_the_body() {
    let started = Instant::now();
    let r = get("/file?size=60000&throttle=100000");
    let elapsed = started.elapsed();
    assert_eq!(r.body, expected(1, 0, 60_000));
    // 60 kB at 100 kB/s: about 0.6 s (the first piece goes at once).
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
}

#[test]
fn delay_headers() {
    let started = Instant::now();
    let r = get("/file?size=10&delay_headers_ms=200");
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(190));
}

#[test]
fn client_disconnect_is_logged_as_aborted() {
    let mut stream = connect();
    send(
        &mut stream,
        "GET",
        "/file?size=50000000&throttle=2000000&tag=gone",
        &[],
        true,
    );
    let mut buf = vec![0u8; 200_000];
    stream.read_exact(&mut buf).unwrap();
    drop(stream);
    let entries = wait_log("gone", |e| e.len() == 1 && e[0]["aborted"] == true);
    let e = &entries[0];
    assert_eq!(e["completed"], false);
    let sent = e["bytes_sent"].as_u64().unwrap();
    assert!(sent > 100_000 && sent < 50_000_000, "{sent}");
    // The count no longer moves.
    thread::sleep(Duration::from_millis(200));
    assert_eq!(log("gone")[0]["bytes_sent"], sent);
}

#[test]
fn bytes_sent_updates_while_streaming() {
    let mut stream = connect();
    send(
        &mut stream,
        "GET",
        "/file?size=400000&throttle=400000&tag=live",
        &[],
        true,
    );
    let entries = wait_log("live", |e| {
        e.len() == 1 && e[0]["bytes_sent"].as_u64().unwrap() > 0 && e[0]["completed"] == false
    });
    assert_eq!(entries[0]["aborted"], false);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    wait_log("live", |e| {
        e[0]["completed"] == true && e[0]["bytes_sent"] == 400_000
    });
}

#[test]
fn cl_garbage_and_conflict_reach_the_client() {
    let raw = raw_exchange("GET", "/file?size=1000&seed=3&cl=garbage&tag=clg", &[]);
    let (head, body) = split_raw(&raw);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Length: abc\r\n"), "{head}");
    assert_eq!(head.matches("\r\nContent-Length:").count(), 1);
    assert!(head.contains("\r\nConnection: close\r\n"));
    assert!(head.contains("\r\nETag: \"s3-1000\"\r\n"));
    assert_eq!(body, expected(3, 0, 1000));

    let raw = raw_exchange(
        "GET",
        "/file?size=1000&seed=3&cl=conflict",
        &[("Range", "bytes=0-99")],
    );
    let (head, body) = split_raw(&raw);
    assert!(
        head.starts_with("HTTP/1.1 206 Partial Content\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nContent-Length: 100\r\nContent-Length: 107\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nContent-Range: bytes 0-99/1000\r\n"),
        "{head}"
    );
    assert_eq!(body, expected(3, 0, 100));

    let entries = wait_log("clg", |e| e.len() == 1 && e[0]["completed"] == true);
    assert_eq!(entries[0]["bytes_sent"], 1000);
}

#[test]
fn cl_short_and_long() {
    let raw = raw_exchange("GET", "/file?size=1000&cl=short", &[]);
    let (head, body) = split_raw(&raw);
    assert!(head.contains("\r\nContent-Length: 900\r\n"), "{head}");
    assert_eq!(body, expected(1, 0, 900));

    let raw = raw_exchange("GET", "/file?size=1000&cl=long", &[]);
    let (head, body) = split_raw(&raw);
    assert!(head.contains("\r\nContent-Length: 2000\r\n"), "{head}");
    assert_eq!(body, expected(1, 0, 1000));

    let raw = raw_exchange("HEAD", "/file?size=1000&cl=garbage", &[]);
    let (head, body) = split_raw(&raw);
    assert!(head.contains("\r\nContent-Length: abc\r\n"), "{head}");
    assert!(body.is_empty());
}

#[test]
fn cl_raw_response_on_a_reused_connection() {
    let mut stream = connect();
    send(&mut stream, "GET", "/file?size=100&seed=2", &[], false);
    let mut reader = BufReader::new(stream);
    let first = read_response(&mut reader, false);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, expected(2, 0, 100));

    send(
        reader.get_mut(),
        "GET",
        "/file?size=100&seed=2&cl=garbage",
        &[],
        false,
    );
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw).unwrap();
    let (head, body) = split_raw(&raw);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Length: abc\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("content-length: 0"),
        "{head}"
    );
    assert_eq!(body, expected(2, 0, 100));
}

#[test]
fn keep_alive_serves_sequential_requests() {
    let mut stream = connect();
    let mut responses = Vec::new();
    for i in 0..5u64 {
        send(
            &mut stream,
            "GET",
            &format!("/file?size=70000&seed={i}"),
            &[],
            false,
        );
        let mut reader = BufReader::new(&mut stream);
        responses.push(read_response(&mut reader, false));
        assert!(reader.buffer().is_empty());
    }
    for (i, r) in responses.iter().enumerate() {
        assert_eq!(r.body, expected(i as u64, 0, 70_000));
    }
}

#[test]
fn concurrent_large_downloads() {
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            thread::spawn(move || {
                let size = 4 * 1024 * 1024 + i;
                let r = get(&format!("/file?size={size}&seed={}", 100 + i));
                assert_eq!(r.status, 200);
                assert_eq!(r.body.len() as u64, size);
                assert!(r.body == expected(100 + i, 0, size));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn bad_knobs_are_rejected() {
    let r = get("/file?size=abc&tag=bad");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("size"), "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = get("/file?bogus=1");
    assert_eq!(r.status, 400);
    let r = request("POST", "/file?size=1", &[("Content-Length", "0")]);
    assert_eq!(r.status, 405);
    let entries = wait_log("bad", |e| e.len() == 1);
    assert_eq!(entries[0]["status"], 400);
}

#[test]
fn content_endpoint() {
    let r = get("/content?seed=7&start=13&len=1000");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, expected(7, 13, 1000));
    assert_eq!(get("/content?len=99999999").status, 400);
    assert_eq!(get("/content?seed=x&len=1").status, 400);
    assert_eq!(get("/content").status, 400);
}

#[test]
fn log_filter_and_clear() {
    get("/file?size=1&tag=clear-a");
    get("/file?size=1&tag=clear-a&change_after=1&seed2=2");
    get("/file?size=1&tag=clear-b");
    assert_eq!(log("clear-a").len(), 2);
    let r = request("POST", "/log/clear?tag=clear-a", &[("Content-Length", "0")]);
    assert_eq!(r.status, 200);
    assert!(log("clear-a").is_empty());
    assert_eq!(log("clear-b").len(), 1);
    // Counters were reset too: the first request after clearing uses seed.
    let r = get("/file?size=1&tag=clear-a&change_after=1&seed2=2");
    assert_eq!(r.header("etag"), Some("\"s1-1\""));
    let all = get("/log");
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&all.body).unwrap();
    assert!(entries.iter().any(|e| e["tag"] == "clear-b"));
    assert_eq!(all.header("content-type"), Some("application/json"));
    assert_eq!(request("GET", "/log/clear", &[]).status, 405);
}

#[test]
fn unknown_path_is_404() {
    assert_eq!(get("/nope").status, 404);
}
