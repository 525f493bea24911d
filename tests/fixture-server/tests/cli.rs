//! Runs the `fixture-server` binary: port files, the static server, shutdown.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fixture-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_port(path: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            assert!(text.ends_with('\n'), "partial port file {text:?}");
            return text.trim().parse().expect("port number");
        }
        assert!(
            Instant::now() < deadline,
            "no port file at {}",
            path.display()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends one request and returns the whole raw response.
fn exchange(port: u16, method: &str, target: &str) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn status(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or("")
}

fn has_header(response: &str, line: &str) -> bool {
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    head.lines().any(|l| l.eq_ignore_ascii_case(line))
}

#[test]
fn serves_fixture_and_static_files_and_stops_on_sigterm() {
    let dir = temp_dir("run");
    let www = dir.join("www");
    fs::create_dir_all(www.join("pkg")).unwrap();
    fs::write(www.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    fs::write(www.join("pkg/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    fs::write(www.join("pkg/app.js"), "export {};").unwrap();
    fs::write(dir.join("secret.txt"), "secret").unwrap();
    let port_file = dir.join("port");
    let static_port_file = dir.join("static-port");

    let child = Command::new(env!("CARGO_BIN_EXE_fixture-server"))
        .arg("--port")
        .arg("0")
        .arg("--port-file")
        .arg(&port_file)
        .arg("--static-root")
        .arg(&www)
        .arg("--static-port-file")
        .arg(&static_port_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fixture-server");
    let mut child = Process(child);

    let port = wait_port(&port_file);
    let static_port = wait_port(&static_port_file);
    assert_ne!(port, static_port);

    let health = exchange(port, "GET", "/health");
    assert_eq!(status(&health), "200");
    assert!(health.ends_with("ok"));

    let index = exchange(static_port, "GET", "/");
    assert_eq!(status(&index), "200");
    assert!(has_header(&index, "content-type: text/html; charset=utf-8"));
    assert!(has_header(&index, "cache-control: no-store"));
    assert!(index.ends_with("<!doctype html><title>t</title>"));

    let wasm = exchange(static_port, "GET", "/pkg/app_bg.wasm");
    assert_eq!(status(&wasm), "200");
    assert!(has_header(&wasm, "content-type: application/wasm"));
    let js = exchange(static_port, "HEAD", "/pkg/app.js");
    assert!(has_header(&js, "content-type: text/javascript"));
    assert!(has_header(&js, "content-length: 10"));
    assert!(js.ends_with("\r\n\r\n"));

    assert_eq!(
        status(&exchange(static_port, "GET", "/../secret.txt")),
        "403"
    );
    assert_eq!(
        status(&exchange(static_port, "GET", "/%2e%2e/secret.txt")),
        "403"
    );
    assert_eq!(status(&exchange(static_port, "GET", "/missing.js")), "404");
    assert_eq!(status(&exchange(static_port, "POST", "/")), "405");

    let pid = child.0.id().to_string();
    // The shell's built-in `kill`, so no procps is needed.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let exit = loop {
        if let Some(exit) = child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not exit on SIGTERM");
        thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "{exit:?}");

    let mut stdout = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        stdout.contains(&format!(
            "fixture server listening on http://127.0.0.1:{port}\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "static server listening on http://127.0.0.1:{static_port}/\n"
        )),
        "{stdout}"
    );
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rejects_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_fixture-server"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
}
