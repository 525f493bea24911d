//! `/file`: the synthetic resource and its knobs.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_RANGES, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONNECTION,
    CONTENT_DISPOSITION, CONTENT_ENCODING, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE,
    LAST_MODIFIED, LOCATION, RANGE, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};

use crate::body::{BodySpec, ResponseBody, Segment};
use crate::conn::ConnShared;
use crate::knobs::{self, CrMode, EtagMode, Expose, FileKnobs};
use crate::log::{Counter, NewEntry, RequestLog};
use crate::query;
use crate::range::{self, Decision, RangeContext};
use crate::raw::{self, RawResponse};
use crate::server::{self, AppState};

/// `Access-Control-Expose-Headers` for `expose=all`.
pub(crate) const EXPOSE_ALL: &str = "Content-Length, Content-Range, Content-Encoding, Content-Type, \
                                     ETag, Last-Modified, Accept-Ranges, Retry-After, Content-Disposition";
/// Boundary of `multipart=1` responses.
pub(crate) const BOUNDARY: &str = "fixture-byteranges-boundary";
/// `lm=1` dates are this instant plus `seed` hours (2024-01-01T00:00:00Z).
const LM_EPOCH_SECS: u64 = 1_704_067_200;

/// Everything needed to send a `/file` response, through hyper or by hand.
#[derive(Debug)]
pub(crate) struct Plan {
    pub status: StatusCode,
    /// Every header except `Content-Length`.
    pub headers: HeaderMap,
    /// The `Content-Length` to declare; `None` for chunked bodies.
    pub content_length: Option<u64>,
    pub body: BodySpec,
    /// Resource offset of the first body byte, for the log.
    pub body_start: Option<u64>,
    /// Serialise the response by hand with this invalid framing.
    pub raw_cl: Option<knobs::ClMode>,
}

impl Plan {
    fn new(status: StatusCode, headers: HeaderMap, body: BodySpec) -> Self {
        Plan {
            status,
            headers,
            content_length: Some(body.len()),
            body,
            body_start: None,
            raw_cl: None,
        }
    }

    fn text(status: StatusCode, mut headers: HeaderMap, text: String) -> Self {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Plan::new(status, headers, BodySpec::bytes(text))
    }
}

/// The request fields `/file` looks at.
pub(crate) struct FileRequest<'a> {
    pub head: bool,
    pub raw_query: &'a str,
    pub range: Option<&'a str>,
    pub if_range: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    state: &AppState,
    conn: &Arc<ConnShared>,
) -> Response<ResponseBody> {
    let raw_query = req.uri().query().unwrap_or("");
    let headers = req.headers();
    let range = header_str(headers, &RANGE);
    let if_range = header_str(headers, &IF_RANGE);
    let authorization = header_str(headers, &AUTHORIZATION);
    let entry = state.log.record(NewEntry {
        tag: knobs::lenient_tag(raw_query),
        method: req.method().as_str().to_string(),
        query: raw_query.to_string(),
        range: range.map(str::to_string),
        if_range: if_range.map(str::to_string),
        authorization: authorization.map(str::to_string),
    });

    if req.method() == Method::OPTIONS {
        let response = server::preflight(headers, knobs::lenient_preflight(raw_query));
        entry.set_status(response.status().as_u16());
        let mut body = ResponseBody::new(BodySpec::default(), Some(entry), None);
        body.arm();
        return response.map(|_| body);
    }

    let head = req.method() == Method::HEAD;
    let (plan, delay) = match FileKnobs::parse(raw_query) {
        Err(e) => {
            let headers = cors_headers(knobs::lenient_cors(raw_query), &Expose::All);
            let plan = Plan::text(
                StatusCode::BAD_REQUEST,
                headers,
                format!("bad /file query: {e}\n"),
            );
            (plan, None)
        }
        Ok(_) if !(head || req.method() == Method::GET) => {
            let mut headers = cors_headers(knobs::lenient_cors(raw_query), &Expose::All);
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            let plan = Plan::text(
                StatusCode::METHOD_NOT_ALLOWED,
                headers,
                "method not allowed\n".to_string(),
            );
            (plan, None)
        }
        Ok(k) => {
            let request = FileRequest {
                head,
                raw_query,
                range,
                if_range,
                authorization,
            };
            (plan(&k, &request, &state.log), k.delay_headers)
        }
    };

    entry.set_status(plan.status.as_u16());
    entry.set_body_start(if head { None } else { plan.body_start });
    let spec = if head { BodySpec::default() } else { plan.body };
    let mut body = ResponseBody::new(spec, Some(entry), Some(Arc::clone(&conn.cut)));

    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }

    if let Some(mode) = plan.raw_cl {
        let len = plan.content_length.unwrap_or(0);
        let head_bytes = raw::render_head(plan.status, &plan.headers, mode, len);
        conn.install_raw(RawResponse {
            head: head_bytes,
            body,
        });
        // Discarded by the connection's IO wrapper; the raw response goes out instead.
        let mut placeholder = Response::new(ResponseBody::empty());
        placeholder
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return placeholder;
    }

    body.arm();
    server::build_response(plan.status, plan.headers, plan.content_length, body)
}

/// Decides the response to a GET or HEAD of `/file`, updating the tag's counters.
pub(crate) fn plan(k: &FileKnobs, req: &FileRequest, log: &RequestLog) -> Plan {
    let mut headers = cors_headers(k.cors, &k.expose);
    if k.corp {
        // Lets a cross-origin-isolated page (COEP `require-corp`) load it in `no-cors` mode.
        headers.insert(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        );
    }
    if let Some(v) = &k.retry_after {
        headers.insert(RETRY_AFTER, value(v));
    }

    if let Some(refusal) = refusal(k, req, log) {
        return Plan::text(refusal.0, headers, format!("fixture: {}\n", refusal.1));
    }

    if k.redirects > 0 {
        let next = query::replace_param(req.raw_query, "redirects", &(k.redirects - 1).to_string());
        let path = match &k.redirect_name {
            Some(name) => format!("/file/{}", name.replace(' ', "%20")),
            None => "/file".to_owned(),
        };
        headers.insert(LOCATION, value(&format!("{path}?{next}")));
        return Plan::new(StatusCode::FOUND, headers, BodySpec::default());
    }

    if let Some(forced) = k.status {
        let n = log.bump(&k.tag, Counter::ForcedStatus);
        if forced.times.is_none_or(|t| n <= t) {
            let status =
                StatusCode::from_u16(forced.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Plan::text(
                status,
                headers,
                format!("fixture error body {}", forced.code),
            );
        }
    }

    let served = log.bump(&k.tag, Counter::Served);
    let seed = match k.change {
        Some(c) if served > c.after => c.seed2,
        _ => k.seed,
    };
    let size = k.size;
    let etag = format!("\"s{seed}-{size}\"");
    match k.etag {
        EtagMode::Strong => {
            headers.insert(ETAG, value(&etag));
        }
        EtagMode::Weak => {
            headers.insert(ETAG, value(&format!("W/{etag}")));
        }
        EtagMode::None => {}
    }
    let last_modified = k.last_modified.then(|| last_modified(seed));
    if let Some(lm) = &last_modified {
        headers.insert(LAST_MODIFIED, value(lm));
    }
    headers.insert(
        ACCEPT_RANGES,
        HeaderValue::from_static(if k.ranges { "bytes" } else { "none" }),
    );
    if let Some(d) = &k.disposition {
        headers.insert(CONTENT_DISPOSITION, value(d));
    }

    let ctx = RangeContext {
        size,
        ranges_enabled: k.ranges && k.ignore_range_after.is_none_or(|n| served <= n),
        if_range_mode: k.if_range,
        strong_etag: (k.etag == EtagMode::Strong).then_some(etag.as_str()),
        last_modified: last_modified.as_deref(),
        range_max: k.range_max,
    };
    let (start, end, partial) = match range::decide(req.range, req.if_range, &ctx) {
        Decision::NotSatisfiable => {
            headers.insert(CONTENT_RANGE, value(&format!("bytes */{size}")));
            return Plan::text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                headers,
                format!("range not satisfiable: the resource has {size} bytes\n"),
            );
        }
        Decision::Full => (0, size, false),
        Decision::Partial { start, end } => (start, end + 1, true),
    };

    let content = Segment::Generated { seed, start, end };
    let content_range = if partial {
        content_range(k.cr, start, end - 1, size)
    } else {
        None
    };
    let segments = if partial && k.multipart {
        headers.insert(
            CONTENT_TYPE,
            value(&format!("multipart/byteranges; boundary={BOUNDARY}")),
        );
        let mut prefix = format!("--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n");
        if let Some(cr) = &content_range {
            prefix.push_str(&format!("Content-Range: {cr}\r\n"));
        }
        prefix.push_str("\r\n");
        vec![
            Segment::Bytes(Bytes::from(prefix)),
            content,
            Segment::Bytes(Bytes::from(format!("\r\n--{BOUNDARY}--\r\n"))),
        ]
    } else {
        let content_type = k
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        headers.insert(CONTENT_TYPE, value(content_type));
        if let Some(cr) = &content_range {
            headers.insert(CONTENT_RANGE, value(cr));
        }
        vec![content]
    };

    let mut body = BodySpec {
        segments,
        throttle: k.throttle,
        chunked: k.chunked,
        ..BodySpec::default()
    };
    if k.gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        body.segments = vec![Segment::Bytes(Bytes::from(gzip(&body.materialize())))];
    } else if !req.head {
        let covers = |at: u64| start <= at && at < end;
        if let Some(s) = k.stall.filter(|s| covers(s.at)) {
            let n = log.bump(&k.tag, Counter::Stall);
            if s.times.is_none_or(|t| n <= t) {
                body.stall = Some((s.at, s.duration));
            }
        }
        if let Some(c) = k.cut.filter(|c| covers(c.at)) {
            let n = log.bump(&k.tag, Counter::Cut);
            if c.times.is_none_or(|t| n <= t) {
                body.cut = Some(c.at);
            }
        }
    }

    let len = body.len();
    if let Some(mode) = k.cl {
        body.limit = Some(raw::body_len(mode, len));
    }
    Plan {
        status: if partial {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        },
        headers,
        content_length: (!k.chunked).then_some(len),
        body,
        body_start: Some(start),
        raw_cl: k.cl,
    }
}

/// `Content-Range` for bytes `a..=b` of `size`, corrupted as `cr` asks.
/// The credential checks (`auth_uses`, `sig_uses`, `expires`): a refusal's status and reason.
fn refusal(
    k: &FileKnobs,
    req: &FileRequest,
    log: &RequestLog,
) -> Option<(StatusCode, &'static str)> {
    if let Some(uses) = k.auth_uses {
        let Some(auth) = req.authorization else {
            return Some((StatusCode::UNAUTHORIZED, "no Authorization"));
        };
        if log.bump_use(&k.tag, &format!("auth:{auth}")) > uses {
            return Some((StatusCode::UNAUTHORIZED, "the token has expired"));
        }
    }
    if let Some(uses) = k.sig_uses {
        let Some(sig) = &k.sig else {
            return Some((StatusCode::FORBIDDEN, "the URL is not signed"));
        };
        if log.bump_use(&k.tag, &format!("sig:{sig}")) > uses {
            return Some((StatusCode::FORBIDDEN, "the signature has expired"));
        }
    }
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if k.expires.is_some_and(|t| now_ms > t) {
        return Some((StatusCode::FORBIDDEN, "the URL has expired"));
    }
    None
}

fn content_range(cr: Option<CrMode>, a: u64, b: u64, size: u64) -> Option<String> {
    Some(match cr {
        None => format!("bytes {a}-{b}/{size}"),
        Some(CrMode::Missing) => return None,
        Some(CrMode::Garbage) => "ooga-booga".to_string(),
        Some(CrMode::Open) => "bytes 50-".to_string(),
        Some(CrMode::Unit) => format!("items {a}-{b}/{size}"),
        Some(CrMode::Backwards) => format!("bytes 500-400/{size}"),
        Some(CrMode::Total) => format!("bytes {a}-{b}/{}", u128::from(size) + 1),
        Some(CrMode::WrongStart) => format!("bytes {}-{b}/{size}", u128::from(a) + 1),
    })
}

/// `Last-Modified` for `seed`: 2024-01-01T00:00:00Z plus `seed` hours.
/// Seeds are limited to [`knobs::MAX_LM_SEED`] when `lm=1`.
fn last_modified(seed: u64) -> String {
    let secs = LM_EPOCH_SECS + seed.min(knobs::MAX_LM_SEED) * 3600;
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 2), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn cors_headers(cors: bool, expose: &Expose) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if cors {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        match expose {
            Expose::All => {
                headers.insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSE_ALL),
                );
            }
            Expose::None => {}
            Expose::List(list) => {
                headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, value(list));
            }
        }
    }
    headers
}

/// A header value from text already known to be valid (digits, quotes, or
/// knob values checked when parsing).
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &hyper::header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_for(
        query: &str,
        range: Option<&str>,
        if_range: Option<&str>,
        log: &RequestLog,
    ) -> Plan {
        let k = FileKnobs::parse(query).unwrap();
        let req = FileRequest {
            head: false,
            raw_query: query,
            range,
            if_range,
            authorization: None,
        };
        plan(&k, &req, log)
    }

    fn header<'a>(p: &'a Plan, name: &str) -> Option<&'a str> {
        p.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn with_auth(query: &str, auth: Option<&str>, log: &RequestLog) -> u16 {
        let k = FileKnobs::parse(query).unwrap();
        let req = FileRequest {
            head: false,
            raw_query: query,
            range: None,
            if_range: None,
            authorization: auth,
        };
        plan(&k, &req, log).status.as_u16()
    }

    #[test]
    fn signed_urls_and_tokens_expire_per_value() {
        let log = RequestLog::new();
        let q = |sig: &str| format!("tag=s&sig_uses=2&sig={sig}");
        let statuses: Vec<u16> = ["a", "a", "a", "b"]
            .iter()
            .map(|s| with_auth(&q(s), None, &log))
            .collect();
        assert_eq!(statuses, [200, 200, 403, 200]);
        assert_eq!(with_auth("tag=s&sig_uses=2", None, &log), 403);
        // Counted per tag.
        assert_eq!(with_auth("tag=t&sig_uses=2&sig=a", None, &log), 200);

        let q = "tag=u&auth_uses=1";
        assert_eq!(with_auth(q, None, &log), 401);
        assert_eq!(with_auth(q, Some("Bearer 1"), &log), 200);
        assert_eq!(with_auth(q, Some("Bearer 1"), &log), 401);
        assert_eq!(with_auth(q, Some("Bearer 2"), &log), 200);
        log.clear(Some("u"));
        assert_eq!(with_auth(q, Some("Bearer 1"), &log), 200);

        assert_eq!(with_auth("expires=1", None, &log), 403);
        assert_eq!(with_auth("expires=99999999999999", None, &log), 200);
    }

    #[test]
    fn full_and_partial() {
        let log = RequestLog::new();
        let p = plan_for("size=1000&seed=5", None, None, &log);
        assert_eq!(p.status, StatusCode::OK);
        assert_eq!(p.content_length, Some(1000));
        assert_eq!(header(&p, "etag"), Some("\"s5-1000\""));
        assert_eq!(header(&p, "accept-ranges"), Some("bytes"));
        assert_eq!(header(&p, "content-range"), None);

        let p = plan_for("size=1000&seed=5", Some("bytes=100-199"), None, &log);
        assert_eq!(p.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(header(&p, "content-range"), Some("bytes 100-199/1000"));
        assert_eq!(p.content_length, Some(100));
        assert_eq!(p.body_start, Some(100));
    }

    #[test]
    fn content_range_corruptions() {
        let cr = |m| content_range(Some(m), 10, 19, 100);
        assert_eq!(cr(CrMode::Missing), None);
        assert_eq!(cr(CrMode::Garbage).unwrap(), "ooga-booga");
        assert_eq!(cr(CrMode::Open).unwrap(), "bytes 50-");
        assert_eq!(cr(CrMode::Unit).unwrap(), "items 10-19/100");
        assert_eq!(cr(CrMode::Backwards).unwrap(), "bytes 500-400/100");
        assert_eq!(cr(CrMode::Total).unwrap(), "bytes 10-19/101");
        assert_eq!(cr(CrMode::WrongStart).unwrap(), "bytes 11-19/100");
    }

    #[test]
    fn last_modified_dates() {
        assert_eq!(last_modified(0), "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(last_modified(25), "Tue, 02 Jan 2024 01:00:00 GMT");
        // The largest accepted seed still formats.
        assert!(last_modified(knobs::MAX_LM_SEED).ends_with("GMT"));
    }

    #[test]
    fn change_after_switches_seed_per_tag() {
        let log = RequestLog::new();
        let q = "size=10&seed=1&change_after=1&seed2=2&tag=c&lm=1";
        let first = plan_for(q, None, None, &log);
        let second = plan_for(q, None, None, &log);
        assert_eq!(header(&first, "etag"), Some("\"s1-10\""));
        assert_eq!(header(&second, "etag"), Some("\"s2-10\""));
        assert_ne!(
            header(&first, "last-modified"),
            header(&second, "last-modified")
        );
        // Another tag counts separately.
        let other = plan_for(
            "size=10&seed=1&change_after=1&seed2=2&tag=d",
            None,
            None,
            &log,
        );
        assert_eq!(header(&other, "etag"), Some("\"s1-10\""));
    }

    #[test]
    fn stall_and_cut_apply_only_when_covered_and_counted() {
        let log = RequestLog::new();
        let q = "size=1000&cut_at=500&cut_times=1&stall_at=10&stall_ms=5&tag=s";
        // The range does not cover the cut: neither applies nor counts.
        let p = plan_for(q, Some("bytes=600-"), None, &log);
        assert_eq!(p.body.cut, None);
        assert_eq!(p.body.stall, None);
        let p = plan_for(q, None, None, &log);
        assert_eq!(p.body.cut, Some(500));
        assert_eq!(p.body.stall, Some((10, Duration::from_millis(5))));
        let p = plan_for(q, None, None, &log);
        assert_eq!(p.body.cut, None);
        assert!(p.body.stall.is_some());
    }

    #[test]
    fn ignore_range_after_serves_whole_resources_later() {
        let log = RequestLog::new();
        let q = "size=10&tag=i&ignore_range_after=1";
        let first = plan_for(q, Some("bytes=5-"), None, &log);
        assert_eq!(first.status, StatusCode::PARTIAL_CONTENT);
        let second = plan_for(q, Some("bytes=5-"), None, &log);
        assert_eq!(second.status, StatusCode::OK);
        assert_eq!(header(&second, "accept-ranges"), Some("bytes"));
    }

    #[test]
    fn forced_status_times() {
        let log = RequestLog::new();
        let q = "size=10&status=503&status_times=1&retry_after=3&tag=f";
        let p = plan_for(q, None, None, &log);
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&p, "retry-after"), Some("3"));
        assert_eq!(p.body.materialize(), b"fixture error body 503");
        let p = plan_for(q, None, None, &log);
        assert_eq!(p.status, StatusCode::OK);
        assert_eq!(header(&p, "retry-after"), Some("3"));
    }

    #[test]
    fn redirect_location_decrements() {
        let log = RequestLog::new();
        let p = plan_for("redirects=2&size=5&tag=r", None, None, &log);
        assert_eq!(p.status, StatusCode::FOUND);
        assert_eq!(
            header(&p, "location"),
            Some("/file?redirects=1&size=5&tag=r")
        );
        assert_eq!(p.content_length, Some(0));
        let q = "redirects=1&redirect_name=b.bin&tag=r";
        let p = plan_for(q, None, None, &log);
        assert_eq!(
            header(&p, "location"),
            Some("/file/b.bin?redirects=0&redirect_name=b.bin&tag=r")
        );
        assert!(FileKnobs::parse("redirect_name=../x").is_err());
    }

    #[test]
    fn cors_and_expose() {
        let log = RequestLog::new();
        let p = plan_for("size=1&cors=0", None, None, &log);
        assert!(p
            .headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control")));
        let p = plan_for("size=1&expose=none", None, None, &log);
        assert_eq!(header(&p, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&p, "access-control-expose-headers"), None);
        let p = plan_for("size=1", None, None, &log);
        assert_eq!(
            header(&p, "access-control-expose-headers"),
            Some(EXPOSE_ALL)
        );
        assert_eq!(header(&p, "cache-control"), Some("no-store"));
    }

    #[test]
    fn cl_short_limits_the_body() {
        let log = RequestLog::new();
        let p = plan_for("size=1000&cl=short", None, None, &log);
        assert_eq!(p.content_length, Some(1000));
        assert_eq!(p.body.len(), 900);
        assert_eq!(p.raw_cl, Some(knobs::ClMode::Short));
    }
}
