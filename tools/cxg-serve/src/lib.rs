//! cxg-serve: a snapshot folder served as the read-only curation API on
//! 127.0.0.1, for offline demos, replaying a saved harvest, and testing
//! every network path of the other tools against a real HTTP server.
//!
//! A small HTTP/1.1 server on `std::net` (thread per connection,
//! keep-alive, GET only): the few routes it needs do not justify a server
//! crate, and it behaves predictably under concurrent clients.

pub mod assets;

use clap::Parser;
use cxg_core::ids::is_uuid;
use cxg_core::{cli::warn, Error, Outcome, Result};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EXAMPLES: &str = "\
  # serve the committed sample snapshot on a free port; the first line of
  # stdout is the base URL to pass to the other tools
  cxg-serve --port 0 tests/fixtures/snapshot

  # replay a saved harvest offline
  cxg-serve --port 8080 my-snapshot &
  cxg-fetch --api-url http://127.0.0.1:8080/curation/v1 collections

  # a flaky API for testing clients: 50 ms latency, every 5th request 503
  cxg-serve --port 0 --latency-ms 50 --fail-every 5 --fail-status 503 DIR

  # serve asset bytes too (cxg-gen --assets), with the index pointing at them;
  # the first two H5AD transfers are cut mid-way, all go at 1 MB/s
  cxg-gen --assets /tmp/snap
  cxg-serve --port 0 --local-assets --fail-match .h5ad --fail-first 2 --truncate --rate 1000000 /tmp/snap";

const LAYOUT: &str = "\
Snapshot folder layout:
  DIR/collections.json                          GET /curation/v1/collections
  DIR/datasets.json                             GET /curation/v1/datasets
  DIR/collections/<cid>.json                    GET /curation/v1/collections/<cid>
  DIR/collections/<cid>/datasets/<did>.json     GET /curation/v1/collections/<cid>/datasets/<did>
  DIR/gone.json (optional)                      JSON array of ids answered 410 Gone
  DIR/assets/<name> (optional)                  GET /assets/<name>: file bytes, with Range
  DIR/assets/<name>.etag (optional)             its ETag (else one from size and mtime)
Missing resources answer 404 problem+json; ids that are not UUIDs 403, as the real API does.";

/// Serve a snapshot folder as the read-only curation API on 127.0.0.1.
#[derive(Parser, Debug, Clone)]
#[command(name = "cxg-serve", version, after_help = format!("{LAYOUT}\n\n{}", cxg_core::cli::after_help(EXAMPLES)))]
pub struct Args {
    /// Snapshot folder (see the layout below)
    pub dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Also write the base URL to this file (atomically) once listening
    #[arg(long, value_name = "FILE")]
    pub url_file: Option<PathBuf>,
    /// Delay every response by this many milliseconds
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Answer the first N matching requests with a fault
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fail_first: u64,
    /// Answer every Nth matching request with a fault
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fail_every: u64,
    /// Status of an injected fault (e.g. 503, 429, 500)
    #[arg(long, default_value_t = 503, value_name = "CODE")]
    pub fail_status: u16,
    /// Send `Retry-After: SECS` with injected faults
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,
    /// Injected faults send a truncated 200 body instead of an error status
    #[arg(long)]
    pub truncate: bool,
    /// Only requests whose path contains TEXT count for faults (injected ones
    /// and --no-range, --wrong-size, --rate)
    #[arg(long, value_name = "TEXT")]
    pub fail_match: Option<String>,
    /// Append one line per request to FILE: `N METHOD PATH STATUS`
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Exit by itself after this many seconds (a safety net for scripts)
    #[arg(long, value_name = "SECS")]
    pub lifetime: Option<u64>,
    /// Point the asset URLs of the served JSON at this server: a `url` of
    /// https://datasets.cellxgene.cziscience.com/NAME becomes
    /// http://127.0.0.1:PORT/assets/NAME (served from DIR/assets/NAME)
    #[arg(long)]
    pub local_assets: bool,
    /// Asset requests ignore Range and answer 200 with the whole file
    #[arg(long)]
    pub no_range: bool,
    /// Asset files are served one byte shorter than on disk (and than the index says)
    #[arg(long)]
    pub wrong_size: bool,
    /// Send asset bodies at most this many bytes per second (a slow transfer)
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub rate: u64,
}

struct State {
    args: Args,
    /// `http://127.0.0.1:PORT/assets/`, where asset bytes are served.
    asset_base: String,
    gone: HashSet<String>,
    requests: AtomicU64,
    matching: AtomicU64,
    connections: AtomicUsize,
    log: Option<Mutex<File>>,
}

const MAX_CONNECTIONS: usize = 512;
const MAX_HEAD: usize = 64 * 1024;

pub fn run(args: Args) -> Result<Outcome> {
    if !args.dir.is_dir() {
        return Err(Error::input(format!(
            "'{}' is not a folder (expected a snapshot folder with collections.json)",
            args.dir.display()
        )));
    }
    let gone = load_gone(&args.dir)?;
    let log = match &args.log {
        Some(p) => Some(Mutex::new(
            File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| Error::input(format!("cannot open log '{}': {e}", p.display())))?,
        )),
        None => None,
    };
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
        .map_err(|e| Error::input(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::input(format!("cannot read the listening address: {e}")))?
        .port();
    let url = format!("http://127.0.0.1:{port}/curation/v1");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")
            .and_then(|_| out.flush())
            .map_err(|e| Error::write("stdout", e))?;
    }
    if let Some(f) = &args.url_file {
        cxg_core::io::write_file_atomic(f, format!("{url}\n").as_bytes())?;
    }
    warn(format_args!("serving '{}' at {url}", args.dir.display()));
    if let Some(secs) = args.lifetime {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            warn("lifetime over, exiting");
            std::process::exit(0);
        });
    }
    let state = Arc::new(State {
        args,
        asset_base: format!("http://127.0.0.1:{port}/assets/"),
        gone,
        requests: AtomicU64::new(0),
        matching: AtomicU64::new(0),
        connections: AtomicUsize::new(0),
        log,
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let st = Arc::clone(&state);
        if st.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            st.connections.fetch_sub(1, Ordering::SeqCst);
            let mut s = stream;
            let _ = respond(
                &mut s,
                503,
                "application/problem+json",
                &problem(503, "too many connections"),
                &[],
                false,
            );
            continue;
        }
        std::thread::spawn(move || {
            let _ = serve_connection(&st, stream);
            st.connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(Outcome::Complete)
}

fn load_gone(dir: &Path) -> Result<HashSet<String>> {
    let p = dir.join("gone.json");
    if !p.exists() {
        return Ok(HashSet::new());
    }
    let bytes = std::fs::read(&p)
        .map_err(|e| Error::input(format!("cannot read '{}': {e}", p.display())))?;
    let ids: Vec<String> = serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(format!(
            "'{}': expected a JSON array of ids: {e}",
            p.display()
        ))
    })?;
    Ok(ids.into_iter().collect())
}

struct Request {
    method: String,
    target: String,
    close: bool,
    range: Option<String>,
    if_range: Option<String>,
}

/// Read one request head; `None` when the client closed the connection.
fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    let mut total = 0;
    if r.by_ref().take(MAX_HEAD as u64).read_line(&mut line)? == 0 || !line.ends_with('\n') {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("");
    let mut close = version != "HTTP/1.1";
    let mut content_length = 0usize;
    let (mut range, mut if_range) = (None, None);
    loop {
        let mut h = String::new();
        let n = r.by_ref().take(MAX_HEAD as u64).read_line(&mut h)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            } else if k.trim().eq_ignore_ascii_case("if-range") {
                if_range = Some(v.trim().to_string());
            }
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            if k == "connection" {
                close = v == "close";
            } else if k == "content-length" {
                content_length = v.parse().unwrap_or(0);
            }
        }
    }
    if content_length > 0 {
        std::io::copy(
            &mut r.by_ref().take(content_length as u64),
            &mut std::io::sink(),
        )?;
    }
    Ok(Some(Request {
        method,
        target,
        close,
        range,
        if_range,
    }))
}

fn serve_connection(st: &State, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    while let Some(req) = read_request(&mut r)? {
        let keep = handle(st, &req, &mut w)?;
        if req.close || !keep {
            break;
        }
    }
    Ok(())
}

pub(crate) fn problem(status: u16, detail: &str) -> Vec<u8> {
    let title = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Not Allowed",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    serde_json::json!({"detail": detail, "status": status, "title": title, "type": "about:blank"})
        .to_string()
        .into_bytes()
}

pub(crate) fn respond(
    w: &mut TcpStream,
    status: u16,
    ctype: &str,
    body: &[u8],
    extra: &[(&str, String)],
    truncate: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if truncate {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    if truncate {
        w.write_all(&body[..body.len() / 2])?;
        w.flush()?;
        return w.shutdown(std::net::Shutdown::Both);
    }
    w.write_all(body)?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// What a request resolves to before faults are applied.
enum Route {
    File(PathBuf),
    Problem(u16, String),
}

fn route(st: &State, path: &str, query: &str) -> Route {
    let dir = &st.args.dir;
    let Some(rest) = path.strip_prefix("/curation/v1/") else {
        return Route::Problem(404, "The requested URL was not found on the server.".into());
    };
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let bad_id = |id: &str| Route::Problem(403, format!("Invalid collection or dataset id: {id}"));
    match segs.as_slice() {
        ["collections"] => {
            if query
                .split('&')
                .any(|kv| kv.eq_ignore_ascii_case("visibility=PRIVATE"))
            {
                return Route::Problem(403, "PRIVATE collections need an access token".into());
            }
            Route::File(dir.join("collections.json"))
        }
        ["datasets"] => Route::File(dir.join("datasets.json")),
        ["collections", cid] => {
            if !is_uuid(cid) {
                return bad_id(cid);
            }
            if st.gone.contains(*cid) {
                return Route::Problem(410, "Resource has been removed".into());
            }
            Route::File(dir.join("collections").join(format!("{cid}.json")))
        }
        ["collections", cid, "datasets", did] => {
            for id in [cid, did] {
                if !is_uuid(id) {
                    return bad_id(id);
                }
            }
            if st.gone.contains(*cid) || st.gone.contains(*did) {
                return Route::Problem(410, "Resource has been removed".into());
            }
            Route::File(
                dir.join("collections")
                    .join(cid)
                    .join("datasets")
                    .join(format!("{did}.json")),
            )
        }
        _ => Route::Problem(404, "The requested URL was not found on the server.".into()),
    }
}

/// Answer one request; returns whether the connection may be kept open.
fn handle(st: &State, req: &Request, w: &mut TcpStream) -> std::io::Result<bool> {
    let n = st.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    if st.args.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(st.args.latency_ms));
    }
    let a = &st.args;
    let counts = a.fail_match.as_deref().is_none_or(|m| path.contains(m));
    let fault = counts && {
        let k = st.matching.fetch_add(1, Ordering::SeqCst) + 1;
        k <= a.fail_first || (a.fail_every > 0 && k % a.fail_every == 0)
    };
    if req.method == "GET" && !(fault && !a.truncate) {
        if let Some(name) = path.strip_prefix("/assets/") {
            let faults = assets::Faults {
                truncate: fault && a.truncate,
                no_range: counts && a.no_range,
                wrong_size: counts && a.wrong_size,
                rate: if counts { a.rate } else { 0 },
            };
            let plan = assets::serve(
                st,
                name,
                req.range.as_deref(),
                req.if_range.as_deref(),
                faults,
                w,
            );
            // log what was planned even when the client went away mid-body
            let (status, note, truncate) = match &plan {
                Ok(p) => (p.status, p.note.clone(), p.truncate),
                Err(_) => (0, "client gone".to_string(), false),
            };
            log_line(st, n, req, status, &note, truncate);
            return plan.map(|p| !p.truncate);
        }
    }
    let (status, body, ctype, truncate) = if req.method != "GET" {
        (
            405,
            problem(405, "Only GET is supported"),
            "application/problem+json",
            false,
        )
    } else if fault && !a.truncate {
        (
            a.fail_status,
            problem(a.fail_status, "injected fault"),
            "application/problem+json",
            false,
        )
    } else {
        match route(st, path, query) {
            Route::Problem(s, d) => (s, problem(s, &d), "application/problem+json", false),
            Route::File(p) => match std::fs::read(&p) {
                Ok(b) if a.local_assets => (
                    200,
                    assets::rewrite_urls(&b, &st.asset_base),
                    "application/json",
                    fault,
                ),
                Ok(b) => (200, b, "application/json", fault),
                Err(_) => (
                    404,
                    problem(404, "Not found"),
                    "application/problem+json",
                    false,
                ),
            },
        }
    };
    let mut extra = Vec::new();
    if fault && !a.truncate {
        if let Some(s) = a.retry_after {
            extra.push(("Retry-After", s.to_string()));
        }
    }
    log_line(st, n, req, status, "", truncate);
    respond(w, status, ctype, &body, &extra, truncate)?;
    Ok(!truncate)
}

/// One line of the request log: `N METHOD PATH STATUS[ bytes=A-B][ truncated]`.
fn log_line(st: &State, n: u64, req: &Request, status: u16, note: &str, truncate: bool) {
    if let Some(log) = &st.log {
        if let Ok(mut f) = log.lock() {
            let _ = writeln!(
                f,
                "{n} {} {} {status}{}{}",
                req.method,
                req.target,
                if note.is_empty() {
                    String::new()
                } else {
                    format!(" {note}")
                },
                if truncate { " truncated" } else { "" }
            );
        }
    }
}
