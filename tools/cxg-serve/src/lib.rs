//! cxg-serve: a snapshot folder served as the read-only curation API on
//! 127.0.0.1, for offline demos, replaying a saved harvest, and testing
//! every network path of the other tools against a real HTTP server.
//!
//! A small HTTP/1.1 server on `std::net` (thread per connection,
//! keep-alive, GET only): the few routes it needs do not justify a server
//! crate, and it behaves predictably under concurrent clients.

mod assets;

use clap::Parser;
use cxg_catalog::ids::is_uuid;
use cxg_core::{cli::warn, Error, Outcome, Result};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EXAMPLES: &str = "\
  # serve the committed sample snapshot on a free port; the first line of
  # stdout is the base URL to pass to the other tools
  cxg-serve --port 0 tests/fixtures/snapshot

  # replay a saved harvest offline
  cxg-serve --port 8080 my-snapshot &
  cxg-fetch --api-url http://127.0.0.1:8080/curation/v1 collections

  # a flaky API for testing clients: 50 ms latency, every 5th request 503
  cxg-serve --port 0 --latency-ms 50 --fail-every 5 --fail-status 503 DIR

  # a hostile one: every answer about a dataset is another dataset's
  cxg-serve --port 0 --fail-every 1 --fault wrong-id --fail-match /datasets/ DIR

  # serve asset bytes too (cxg-gen --assets), with the index pointing at them;
  # the first two H5AD transfers are cut mid-way, all go at 1 MB/s
  cxg-gen --assets /tmp/snap
  cxg-serve --port 0 --local-assets --fail-match .h5ad --fail-first 2 --truncate --rate 1000000 /tmp/snap";

const LAYOUT: &str = "\
Snapshot folder layout:
  DIR/collections.json                          GET /curation/v1/collections
  DIR/datasets.json                             GET /curation/v1/datasets
    (or DIR/datasets_index.json, as a harvest snapshot holds it)
  DIR/collections/<cid>.json                    GET /curation/v1/collections/<cid>
  DIR/collections/<cid>/datasets/<did>.json     GET /curation/v1/collections/<cid>/datasets/<did>
  DIR/gone.json (optional)                      JSON array of ids answered 410 Gone
  DIR/assets/<name> (optional)                  GET /assets/<name>: file bytes, with Range
  DIR/assets/<name>.etag (optional)             its ETag (else one from size and mtime)
Missing resources answer 404 problem+json; ids that are not UUIDs 403, as the real API does.

Faults (--fault KIND, for the requests --fail-first/--fail-every pick):
  status       the --fail-status code with a problem+json body (default)
  truncate     200 with half the body, then the connection closes
  wrong-shape  200 with {\"error\": ...} instead of the record
  wrong-id     200 with the record's collection_id/dataset_id replaced
  endless      200 with a body that never ends
  gzip-bomb    200, gzip-encoded, expanding to --bomb-mib MiB
Idle connections close after --idle-timeout; a request head slower than
--head-timeout gets 408; a request line over 8 KiB 414; headers over 64 KiB 431.";

/// The kinds of injected fault, for testing clients against a hostile or
/// broken server.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An error status (--fail-status) with a problem+json body
    Status,
    /// 200 with half the body, then the connection closes
    Truncate,
    /// 200 with a JSON object that is not what was asked for: {"error": ...}
    WrongShape,
    /// 200 with the record, but its collection_id / dataset_id changed to
    /// another id
    WrongId,
    /// 200 with a body that never ends (no Content-Length; bytes until the
    /// client goes away)
    Endless,
    /// 200 with `Content-Encoding: gzip`: a small body that expands to
    /// --bomb-mib MiB
    GzipBomb,
}

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
    #[arg(long, default_value_t = 503, value_name = "CODE", value_parser = clap::value_parser!(u16).range(200..=599))]
    pub fail_status: u16,
    /// Send `Retry-After: SECS` with injected faults
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub retry_after: Option<u64>,
    /// Send Retry-After as an HTTP date (now + SECS) instead of seconds
    #[arg(long, requires = "retry_after")]
    pub retry_after_date: bool,
    /// What an injected fault is (see "Faults" below)
    #[arg(long, value_enum, default_value_t = Fault::Status, value_name = "KIND")]
    pub fault: Fault,
    /// Injected faults send a truncated 200 body (same as --fault truncate)
    #[arg(long)]
    pub truncate: bool,
    /// Size of the decompressed body that --fault gzip-bomb sends, in MiB
    #[arg(long, default_value_t = 1024, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub bomb_mib: u64,
    /// Close a kept-alive connection idle for this many seconds
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
    /// Answer 408 and close when a request head takes longer than this
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub head_timeout: u64,
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
    /// The gzip body of --fault gzip-bomb.
    bomb: Option<Vec<u8>>,
    requests: AtomicU64,
    matching: AtomicU64,
    connections: AtomicUsize,
    log: Option<Mutex<File>>,
}

const MAX_CONNECTIONS: usize = 512;
/// The longest request line answered (414 beyond it).
const MAX_LINE: usize = 8 * 1024;
/// The most header bytes answered (431 beyond them).
const MAX_HEAD: usize = 64 * 1024;

pub fn run(args: Args) -> Result<Outcome> {
    if !args.dir.is_dir() {
        return Err(Error::input(format!(
            "'{}' is not a folder (expected a snapshot folder with collections.json)",
            args.dir.display()
        )));
    }
    let gone = load_gone(&args.dir)?;
    let mut args = args;
    if args.truncate {
        args.fault = Fault::Truncate;
    }
    let bomb = if args.fault == Fault::GzipBomb {
        Some(gzip_zeros(args.bomb_mib << 20)?)
    } else {
        None
    };
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
        bomb,
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

/// Gzip of `n` zero bytes, made once at start for --fault gzip-bomb.
fn gzip_zeros(n: u64) -> Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        enc.write_all(&zeros[..k])
            .map_err(|e| Error::input(format!("cannot build the gzip body: {e}")))?;
        left -= k as u64;
    }
    enc.finish()
        .map_err(|e| Error::input(format!("cannot build the gzip body: {e}")))
}

struct Request {
    method: String,
    target: String,
    close: bool,
    range: Option<String>,
    if_range: Option<String>,
}

/// Why a request head was not read.
enum Head {
    Request(Request),
    /// The client closed the connection (or stayed idle too long).
    Closed,
    /// Answer this status and close: 408 (too slow), 414, 431, 400.
    Refuse(u16, &'static str),
}

/// A reader that fails once its deadline has passed, however slowly the
/// bytes trickle in (one byte every few seconds cannot hold a connection).
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        (&mut &*self.stream).read(buf)
    }
}

/// Read one line of at most `max` bytes; `Ok(None)` when it is longer.
fn read_limited(r: &mut impl BufRead, max: usize) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = r.take(max as u64 + 1).read_until(b'\n', &mut line)?;
    if n > max {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Read one request head: the first byte must come within the idle
/// timeout, the whole head within the head timeout.
fn read_request(st: &State, stream: &TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Head> {
    // Wait for the first byte of the next request (keep-alive idle time).
    if buf.is_empty() {
        stream.set_read_timeout(Some(Duration::from_secs(st.args.idle_timeout)))?;
        let mut first = [0u8; 1];
        match (&mut &*stream).read(&mut first) {
            Ok(0) => return Ok(Head::Closed),
            Ok(_) => buf.push(first[0]),
            Err(e) if timed_out(&e) => return Ok(Head::Closed),
            Err(e) => return Err(e),
        }
    }
    let deadline = Deadline {
        stream,
        until: Instant::now() + Duration::from_secs(st.args.head_timeout),
    };
    let pre = std::mem::take(buf);
    let mut r = BufReader::new(std::io::Cursor::new(pre).chain(deadline));
    let line = match read_limited(&mut r, MAX_LINE) {
        Ok(Some(l)) if l.ends_with('\n') => l,
        Ok(Some(_)) => return Ok(Head::Closed),
        Ok(None) => return Ok(Head::Refuse(414, "the request line is too long")),
        Err(e) if timed_out(&e) => return Ok(Head::Refuse(408, "the request head took too long")),
        Err(e) => return Err(e),
    };
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("");
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
        return Ok(Head::Refuse(400, "not an HTTP/1.x request line"));
    }
    let mut close = version != "HTTP/1.1";
    let mut content_length = 0u64;
    let mut total = 0;
    let (mut range, mut if_range) = (None, None);
    loop {
        let h = match read_limited(&mut r, MAX_HEAD - total.min(MAX_HEAD)) {
            Ok(Some(h)) if h.ends_with('\n') => h,
            Ok(Some(_)) => return Ok(Head::Closed),
            Ok(None) => return Ok(Head::Refuse(431, "the request headers are too large")),
            Err(e) if timed_out(&e) => {
                return Ok(Head::Refuse(408, "the request head took too long"))
            }
            Err(e) => return Err(e),
        };
        total += h.len();
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
        // A GET-only server reads and drops a body, within the same deadline.
        if std::io::copy(&mut r.by_ref().take(content_length), &mut std::io::sink()).is_err() {
            return Ok(Head::Closed);
        }
    }
    // Bytes of a pipelined next request stay for the next call.
    buf.extend_from_slice(r.buffer());
    Ok(Head::Request(Request {
        method,
        target,
        close,
        range,
        if_range,
    }))
}

fn serve_connection(st: &State, stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    // A client that never reads its answer cannot hold the connection (and
    // with 512 of them, the server) for longer than this.
    stream.set_write_timeout(Some(Duration::from_secs(st.args.head_timeout.max(30))))?;
    let mut w = stream.try_clone()?;
    let mut pending = Vec::new();
    loop {
        match read_request(st, &stream, &mut pending)? {
            Head::Closed => break,
            Head::Refuse(status, why) => {
                log(st, 0, "-", "-", status, "");
                let _ = respond(
                    &mut w,
                    status,
                    "application/problem+json",
                    &problem(status, why),
                    &[("Connection", "close".into())],
                );
                // A lingering close: drop what the client still sends (for a
                // second, at most 1 MiB) so that it reads the answer instead
                // of a connection reset.
                let _ = w.shutdown(std::net::Shutdown::Write);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = std::io::copy(&mut (&stream).take(1 << 20), &mut std::io::sink());
                break;
            }
            Head::Request(req) => {
                let keep = handle(st, &req, &mut w)?;
                if req.close || !keep {
                    break;
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn problem(status: u16, detail: &str) -> Vec<u8> {
    let title = match cxg_http::reason(status) {
        "" => "Error",
        r => r,
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
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        match cxg_http::reason(status) {
            "" => "Status",
            r => r,
        },
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// Send what a 200 fault sends; the connection is closed afterwards.
fn respond_fault(st: &State, w: &mut TcpStream, fault: Fault, body: &[u8]) -> std::io::Result<()> {
    match fault {
        Fault::Truncate => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            w.write_all(head.as_bytes())?;
            w.write_all(&body[..body.len() / 2])?;
        }
        Fault::Endless => {
            w.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[",
            )?;
            let chunk = b"{\"endless\":true},".repeat(4096);
            // Until the client goes away (a write fails), or an hour passed.
            let until = Instant::now() + Duration::from_secs(3600);
            while Instant::now() < until {
                w.write_all(&chunk)?;
            }
        }
        Fault::GzipBomb => {
            let bomb = st.bomb.as_deref().unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bomb.len()
            );
            w.write_all(head.as_bytes())?;
            w.write_all(bomb)?;
        }
        Fault::Status | Fault::WrongShape | Fault::WrongId => {}
    }
    w.flush()?;
    w.shutdown(std::net::Shutdown::Both)
}

/// The record with its `collection_id` and `dataset_id` (at the top level
/// and in `datasets`) replaced by another id.
fn wrong_id(body: &[u8]) -> Vec<u8> {
    const OTHER: &str = "00000000-0000-4000-8000-000000000000";
    fn swap(v: &mut serde_json::Value) {
        if let Some(o) = v.as_object_mut() {
            for k in ["collection_id", "dataset_id"] {
                if o.contains_key(k) {
                    o.insert(k.into(), OTHER.into());
                }
            }
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            match &mut v {
                serde_json::Value::Array(items) => items.iter_mut().for_each(swap),
                other => swap(other),
            }
            v.to_string().into_bytes()
        }
        Err(_) => body.to_vec(),
    }
}

pub(crate) fn log(st: &State, n: u64, method: &str, target: &str, status: u16, note: &str) {
    if let Some(log) = &st.log {
        if let Ok(mut f) = log.lock() {
            let _ = writeln!(f, "{n} {method} {target} {status}{note}");
        }
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
        ["datasets"] => {
            // a harvest snapshot (cxg-snapshot) names the index as it was fetched
            let plain = dir.join("datasets.json");
            let saved = dir.join("datasets_index.json");
            Route::File(if !plain.exists() && saved.exists() {
                saved
            } else {
                plain
            })
        }
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
    if req.method == "GET" && !(fault && a.fault == Fault::Status) {
        if let Some(name) = path.strip_prefix("/assets/") {
            let faults = assets::Faults {
                truncate: fault && a.fault == Fault::Truncate,
                no_range: counts && a.no_range,
                wrong_size: counts && a.wrong_size,
                rate: if counts { a.rate } else { 0 },
            };
            return assets::serve(
                st,
                name,
                req.range.as_deref(),
                req.if_range.as_deref(),
                faults,
                w,
                &|status, note| log(st, n, &req.method, &req.target, status, note),
            );
        }
    }
    let mut extra = Vec::new();
    let (status, body, ctype) = if req.method != "GET" {
        (
            405,
            problem(405, "Only GET is supported"),
            "application/problem+json",
        )
    } else if fault && a.fault == Fault::Status {
        if let Some(s) = a.retry_after {
            extra.push((
                "Retry-After",
                if a.retry_after_date {
                    httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(s))
                } else {
                    s.to_string()
                },
            ));
        }
        (
            a.fail_status,
            problem(a.fail_status, "injected fault"),
            "application/problem+json",
        )
    } else {
        match route(st, path, query) {
            Route::Problem(s, d) => (s, problem(s, &d), "application/problem+json"),
            Route::File(p) => match std::fs::read(&p) {
                Ok(b) if a.local_assets => (
                    200,
                    assets::rewrite_urls(&b, &st.asset_base),
                    "application/json",
                ),
                Ok(b) => (200, b, "application/json"),
                Err(_) => (404, problem(404, "Not found"), "application/problem+json"),
            },
        }
    };
    let fault = if fault && status == 200 {
        Some(a.fault)
    } else {
        None
    };
    let note = match fault {
        Some(Fault::Status) | None => String::new(),
        Some(f) => format!(" fault={f:?}"),
    };
    log(st, n, &req.method, &req.target, status, &note);
    match fault {
        Some(Fault::WrongShape) => {
            let body = br#"{"error":"injected fault: this is not the record asked for"}"#;
            respond(w, 200, "application/json", body, &extra)?;
            Ok(true)
        }
        Some(Fault::WrongId) => {
            respond(w, 200, "application/json", &wrong_id(&body), &extra)?;
            Ok(true)
        }
        Some(f @ (Fault::Truncate | Fault::Endless | Fault::GzipBomb)) => {
            let _ = respond_fault(st, w, f, &body);
            Ok(false)
        }
        Some(Fault::Status) | None => {
            respond(w, status, ctype, &body, &extra)?;
            Ok(true)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod route_tests {
    use super::*;

    /// Request target → what is served: a file of the snapshot, or a
    /// problem status. One line per case.
    #[test]
    fn routes() {
        let c = "6e2974ee-853a-4444-b781-01a428af919f";
        let d = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
        let g = "00000000-0000-4000-8000-00000000dead";
        let args = Args::try_parse_from(["cxg-serve", "SNAP"]).unwrap();
        let st = State {
            args,
            asset_base: String::new(),
            gone: [g.to_string()].into_iter().collect(),
            bomb: None,
            requests: AtomicU64::new(0),
            matching: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            log: None,
        };
        let file = |p: &str| format!("file SNAP/{p}");
        let cases = [
            (
                "/curation/v1/collections",
                "visibility=PUBLIC",
                file("collections.json"),
            ),
            ("/curation/v1/collections/", "", file("collections.json")),
            (
                "/curation/v1/collections",
                "visibility=PRIVATE",
                "403".into(),
            ),
            (
                "/curation/v1/datasets",
                "schema_version=5",
                file("datasets.json"),
            ),
            (
                &format!("/curation/v1/collections/{c}"),
                "",
                file(&format!("collections/{c}.json")),
            ),
            (
                &format!("/curation/v1/collections/{c}/datasets/{d}"),
                "",
                file(&format!("collections/{c}/datasets/{d}.json")),
            ),
            (&format!("/curation/v1/collections/{g}"), "", "410".into()),
            (
                &format!("/curation/v1/collections/{c}/datasets/{g}"),
                "",
                "410".into(),
            ),
            ("/curation/v1/collections/..%2Fx", "", "403".into()),
            (
                &format!("/curation/v1/collections/{c}/datasets/../x"),
                "",
                "404".into(),
            ),
            (
                &format!("/curation/v1/collections/{c}/datasets/.."),
                "",
                "403".into(),
            ),
            ("/curation/v1/other", "", "404".into()),
            ("/elsewhere", "", "404".into()),
        ];
        for (path, query, want) in cases {
            let got = match route(&st, path, query) {
                Route::File(p) => format!("file {}", p.display()),
                Route::Problem(s, _) => s.to_string(),
            };
            assert_eq!(got, want, "{path}?{query}");
        }
    }
}
