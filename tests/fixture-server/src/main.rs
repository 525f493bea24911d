//! `fixture-server`: the HTTP fixture for the browser download tests.
//!
//! ```text
//! fixture-server [--port N] [--port-file PATH]
//!                [--static-root DIR [--static-port N] [--static-port-file PATH]]
//! ```

use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fixture_server::server::FixtureServer;
use fixture_server::static_files::StaticServer;

const USAGE: &str = "usage: fixture-server [--port N] [--port-file PATH] \
                     [--static-root DIR [--static-port N] [--static-port-file PATH]]";

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    port: u16,
    port_file: Option<PathBuf>,
    static_root: Option<PathBuf>,
    static_port: u16,
    static_port_file: Option<PathBuf>,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut args = Args::default();
    let mut static_options = false;
    while let Some(arg) = argv.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Ok(Parsed::Help);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--port" => args.port = port(&value()?)?,
            "--port-file" => args.port_file = Some(value()?.into()),
            "--static-root" => args.static_root = Some(value()?.into()),
            "--static-port" => {
                args.static_port = port(&value()?)?;
                static_options = true;
            }
            "--static-port-file" => {
                args.static_port_file = Some(value()?.into());
                static_options = true;
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if static_options && args.static_root.is_none() {
        return Err("--static-port and --static-port-file need --static-root".into());
    }
    Ok(Parsed::Run(args))
}

fn port(value: &str) -> Result<u16, String> {
    value.parse().map_err(|_| format!("invalid port {value:?}"))
}

/// Writes `port` to `path` atomically: readers see either no file or the whole number.
fn write_port_file(path: &Path, port: u16) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "port file path has no file name",
        )
    })?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    fs::write(&tmp, format!("{port}\n"))?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fixture-server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixture-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> io::Result<()> {
    let localhost = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let server = FixtureServer::bind(localhost(args.port)).await?;
    let port = server.local_addr()?.port();
    let static_server = match &args.static_root {
        Some(root) => Some(StaticServer::bind(localhost(args.static_port), root.clone()).await?),
        None => None,
    };

    // Both listeners are bound (connections queue from now on). The fixture's
    // port file is written last, so once it exists everything is ready.
    if let Some(s) = &static_server {
        let static_port = s.local_addr()?.port();
        if let Some(path) = &args.static_port_file {
            write_port_file(path, static_port)?;
        }
        println!("static server listening on http://127.0.0.1:{static_port}/");
    }
    if let Some(path) = &args.port_file {
        write_port_file(path, port)?;
    }
    println!("fixture server listening on http://127.0.0.1:{port}");
    io::stdout().flush()?;

    let fixture = tokio::spawn(server.run());
    let statics = static_server.map(|s| tokio::spawn(s.run()));
    shutdown_signal().await?;
    fixture.abort();
    if let Some(s) = statics {
        s.abort();
    }
    Ok(())
}

async fn shutdown_signal() -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        match parse_args(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(a) => Ok(a),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn parses_arguments() {
        assert_eq!(parse(&[]).unwrap(), Args::default());
        let a = parse(&[
            "--port",
            "8080",
            "--port-file=/tmp/p",
            "--static-root",
            "www",
            "--static-port",
            "0",
            "--static-port-file",
            "/tmp/s",
        ])
        .unwrap();
        assert_eq!(a.port, 8080);
        assert_eq!(a.port_file, Some("/tmp/p".into()));
        assert_eq!(a.static_root, Some("www".into()));
        assert_eq!(a.static_port_file, Some("/tmp/s".into()));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--static-port", "1"]).is_err());
        assert!(parse(&["--help"]).is_err());
    }

    #[test]
    fn port_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("fixture-port-file-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("port");
        write_port_file(&path, 1234).unwrap();
        write_port_file(&path, 5678).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "5678\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
