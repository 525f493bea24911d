//! A minimal static file server for the test pages (a separate origin from the
//! fixture server, so the browser tests exercise CORS).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::body::ResponseBody;
use crate::query::percent_decode;
use crate::server::{accept_loop, build_response};

pub struct StaticServer {
    listener: TcpListener,
    root: Arc<PathBuf>,
}

impl StaticServer {
    /// Binds the listening socket for files under `root`.
    pub async fn bind(addr: SocketAddr, root: PathBuf) -> io::Result<Self> {
        Ok(StaticServer {
            listener: TcpListener::bind(addr).await?,
            root: Arc::new(root),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until the task is dropped.
    pub async fn run(self) {
        let root = self.root;
        accept_loop(self.listener, move |stream| {
            let root = Arc::clone(&root);
            async move { serve_connection(stream, root).await }
        })
        .await
    }
}

async fn serve_connection(stream: TcpStream, root: Arc<PathBuf>) {
    let service = service_fn(move |req: Request<Incoming>| {
        let root = Arc::clone(&root);
        async move { Ok::<_, Infallible>(handle(&req, &root).await) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    File(PathBuf),
    Forbidden,
    BadRequest,
}

/// Maps a request path to a file under `root`. `..` segments are refused, and
/// paths ending in `/` name the directory's `index.html`.
fn resolve(root: &Path, uri_path: &str) -> Resolved {
    let Ok(decoded) = percent_decode(uri_path, false) else {
        return Resolved::BadRequest;
    };
    if decoded.contains('\0') || decoded.contains('\\') {
        return Resolved::Forbidden;
    }
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Resolved::Forbidden,
            s => path.push(s),
        }
    }
    if decoded.ends_with('/') || decoded.is_empty() {
        path.push("index.html");
    }
    Resolved::File(path)
}

/// The `Content-Type` for a file name.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("json" | "map") => "application/json",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ts" | "txt") => "text/plain",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

async fn handle(req: &Request<Incoming>, root: &Path) -> Response<ResponseBody> {
    let head = req.method() == Method::HEAD;
    if !(head || req.method() == Method::GET) {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut path = match resolve(root, req.uri().path()) {
        Resolved::File(p) => p,
        Resolved::Forbidden => return text(StatusCode::FORBIDDEN, "forbidden\n"),
        Resolved::BadRequest => return text(StatusCode::BAD_REQUEST, "bad path\n"),
    };
    if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
        path.push("index.html");
    }
    match tokio::fs::read(&path).await {
        Ok(data) => {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            let len = data.len() as u64;
            let body = if head {
                ResponseBody::empty()
            } else {
                ResponseBody::from_bytes(data)
            };
            build_response(StatusCode::OK, headers, Some(len), body)
        }
        Err(_) => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    build_response(
        status,
        headers,
        Some(text.len() as u64),
        ResponseBody::from_bytes(text),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths() {
        let root = Path::new("/srv");
        assert_eq!(resolve(root, "/"), Resolved::File("/srv/index.html".into()));
        assert_eq!(
            resolve(root, "/a/b.js"),
            Resolved::File("/srv/a/b.js".into())
        );
        assert_eq!(
            resolve(root, "/a/"),
            Resolved::File("/srv/a/index.html".into())
        );
        assert_eq!(
            resolve(root, "/a%20b.txt"),
            Resolved::File("/srv/a b.txt".into())
        );
        assert_eq!(resolve(root, "/./x"), Resolved::File("/srv/x".into()));
        assert_eq!(resolve(root, "/../etc/passwd"), Resolved::Forbidden);
        assert_eq!(resolve(root, "/a/../../x"), Resolved::Forbidden);
        assert_eq!(resolve(root, "/%2e%2e/x"), Resolved::Forbidden);
        assert_eq!(resolve(root, "/a%2f..%2fx"), Resolved::Forbidden);
        assert_eq!(resolve(root, "/a%5cb"), Resolved::Forbidden);
        assert_eq!(resolve(root, "/%zz"), Resolved::BadRequest);
    }

    #[test]
    fn mime_types() {
        let ct = |p: &str| content_type(Path::new(p));
        assert_eq!(ct("index.html"), "text/html; charset=utf-8");
        assert_eq!(ct("a.js"), "text/javascript");
        assert_eq!(ct("a.mjs"), "text/javascript");
        assert_eq!(ct("a_bg.wasm"), "application/wasm");
        assert_eq!(ct("a.json"), "application/json");
        assert_eq!(ct("a.css"), "text/css");
        assert_eq!(ct("a.png"), "image/png");
        assert_eq!(ct("a.svg"), "image/svg+xml");
        assert_eq!(ct("a.d.ts"), "text/plain");
        assert_eq!(ct("blob"), "application/octet-stream");
    }
}
