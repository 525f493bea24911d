//! The fixture HTTP server: connection handling and routing.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ALLOW,
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::body::{BodySpec, ResponseBody, Segment};
use crate::conn::{ConnIo, ConnShared};
use crate::log::RequestLog;
use crate::{file, query, raw};

/// Largest `/content` response.
const MAX_CONTENT_LEN: u64 = 16 * 1024 * 1024;

pub(crate) struct AppState {
    pub log: RequestLog,
}

/// The fixture server: `/file`, `/log`, `/log/clear`, `/health` and `/content`.
pub struct FixtureServer {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl FixtureServer {
    /// Binds the listening socket (port 0 picks an ephemeral port).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(FixtureServer {
            listener: TcpListener::bind(addr).await?,
            state: Arc::new(AppState {
                log: RequestLog::new(),
            }),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until the task is dropped.
    pub async fn run(self) {
        let state = self.state;
        accept_loop(self.listener, move |stream| {
            let state = Arc::clone(&state);
            async move { serve_connection(stream, state).await }
        })
        .await
    }
}

/// Accepts connections forever, serving each on its own task.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
            Err(e) => {
                // Typically EMFILE; back off instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

type RouteFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

async fn serve_connection(stream: TcpStream, state: Arc<AppState>) {
    let shared = Arc::new(ConnShared::default());
    let io = TokioIo::new(ConnIo::new(stream, Arc::clone(&shared)));
    let conn = Arc::clone(&shared);
    let service = service_fn(move |req: Request<Incoming>| -> RouteFuture {
        let state = Arc::clone(&state);
        let conn = Arc::clone(&conn);
        Box::pin(async move { Ok(route(req, &state, &conn).await) })
    });
    let Ok(parts) = http1::Builder::new()
        .serve_connection(io, service)
        .without_shutdown()
        .await
    else {
        return;
    };
    let mut io = parts.io.into_inner();
    match shared.take_raw() {
        Some(response) => raw::write(io.into_stream(), response).await,
        None => {
            let _ = io.shutdown().await;
        }
    }
}

async fn route(
    req: Request<Incoming>,
    state: &AppState,
    conn: &Arc<ConnShared>,
) -> Response<ResponseBody> {
    let path = req.uri().path();
    // `/file/<name>` is `/file` with a file name in its URL.
    if path == "/file" || path.starts_with("/file/") {
        return file::handle(req, state, conn).await;
    }
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return preflight(req.headers(), true);
    }
    let query = req.uri().query().unwrap_or("");
    let get = method == Method::GET || method == Method::HEAD;
    let response = match path {
        "/health" if get => text(StatusCode::OK, "ok"),
        "/log" if get => {
            let tag = query::lenient_get(query, "tag");
            json(&state.log.to_json(tag.as_deref()))
        }
        "/log/clear" if method == Method::POST => {
            let tag = query::lenient_get(query, "tag");
            let cleared = state.log.clear(tag.as_deref());
            json(&serde_json::json!({ "cleared": cleared }))
        }
        "/content" if get => content(query),
        "/health" | "/log" | "/content" | "/log/clear" => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            let allow = if path == "/log/clear" {
                "POST, OPTIONS"
            } else {
                "GET, HEAD, OPTIONS"
            };
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    if method == Method::HEAD {
        response.map(|_| ResponseBody::empty())
    } else {
        response
    }
}

/// `GET /content?seed=S&start=A&len=N`: raw resource bytes, for debugging.
fn content(raw_query: &str) -> Response<ResponseBody> {
    let parsed = query::parse_query(raw_query).and_then(|pairs| {
        let mut seed = 1;
        let mut start = 0;
        let mut len = None;
        for (key, value) in pairs {
            let number = value
                .parse::<u64>()
                .map_err(|_| format!("{key} must be an unsigned integer, got {value:?}"));
            match key.as_str() {
                "seed" => seed = number?,
                "start" => start = number?,
                "len" => len = Some(number?),
                _ => return Err(format!("unknown parameter {key:?}")),
            }
        }
        let len = len.ok_or("len is required")?;
        if len > MAX_CONTENT_LEN {
            return Err(format!("len must be <= {MAX_CONTENT_LEN}"));
        }
        let end = start.checked_add(len).ok_or("start + len overflows")?;
        Ok((seed, start, end))
    });
    match parsed {
        Ok((seed, start, end)) => {
            let spec = BodySpec {
                segments: vec![Segment::Generated { seed, start, end }],
                ..BodySpec::default()
            };
            let mut headers = common_headers();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let len = spec.len();
            build_response(
                StatusCode::OK,
                headers,
                Some(len),
                ResponseBody::new(spec, None, None),
            )
        }
        Err(e) => text(
            StatusCode::BAD_REQUEST,
            &format!("bad /content query: {e}\n"),
        ),
    }
}

/// The answer to a CORS preflight.
pub(crate) fn preflight(request_headers: &HeaderMap, cors: bool) -> Response<ResponseBody> {
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if cors {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        let allow_headers = request_headers
            .get(ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("*"));
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("0"));
    }
    build_response(StatusCode::NO_CONTENT, headers, None, ResponseBody::empty())
}

pub(crate) fn build_response(
    status: StatusCode,
    headers: HeaderMap,
    content_length: Option<u64>,
    body: ResponseBody,
) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    if let Some(len) = content_length {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    response
}

fn common_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers
}

fn text(status: StatusCode, text: &str) -> Response<ResponseBody> {
    let mut headers = common_headers();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let data = text.as_bytes().to_vec();
    let len = data.len() as u64;
    build_response(status, headers, Some(len), ResponseBody::from_bytes(data))
}

fn json(value: &serde_json::Value) -> Response<ResponseBody> {
    let mut headers = common_headers();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let data = serde_json::to_vec(value).unwrap_or_default();
    let len = data.len() as u64;
    build_response(
        StatusCode::OK,
        headers,
        Some(len),
        ResponseBody::from_bytes(data),
    )
}
