//! cxg-serve: a snapshot folder served as the read-only curation API on
//! 127.0.0.1, for offline demos, replaying a saved harvest, and testing
//! every network path of the other tools against a real HTTP server.
//!
//! A small HTTP/1.1 server on `std::net` (thread per connection,
//! keep-alive, GET only): the few routes it needs do not justify a server
//! crate, and it behaves predictably under concurrent clients.

mod answer;
mod args;
mod assets;
mod http;

use answer::{handle, log};
pub use args::Args;
use args::Fault;
use cxg_core::{At, Ctx, Error, Result};
use http::{problem, read_request, respond, Head};
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serve until killed (or until --lifetime is over): the base URL is
/// written once listening, then every connection gets its own thread.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    Server::start(args, ctx)?.serve()
}

/// What every connection shares: the options, the removed ids, and the
/// counters that decide which requests get a fault.
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

/// A server listening on 127.0.0.1 whose URL has been announced.
struct Server {
    listener: TcpListener,
    state: Arc<State>,
}

impl Server {
    /// Read the folder's `gone.json`, open the log, listen, and announce
    /// the base URL: on stdout or `-o FILE` (flushed or committed at once:
    /// the server runs until it is killed), in `--url-file`, and on stderr.
    fn start(args: Args, ctx: &mut Ctx) -> Result<Server> {
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
        let bomb = match args.fault {
            Fault::GzipBomb => Some(gzip_zeros(args.bomb_mib << 20)?),
            _ => None,
        };
        let log = match &args.log {
            Some(p) => Some(Mutex::new(
                File::options()
                    .create(true)
                    .append(true)
                    .open(p)
                    .at(format_args!("cannot open log '{}'", p.display()))?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .at(format_args!("cannot listen on 127.0.0.1:{}", args.port))?;
        let port = listener
            .local_addr()
            .at("cannot read the listening address")?
            .port();
        announce(&args, ctx, &format!("http://127.0.0.1:{port}/curation/v1"))?;
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
        Ok(Server { listener, state })
    }

    /// Accept connections for ever, each served on its own thread; beyond
    /// MAX_CONNECTIONS at once, a connection gets 503.
    fn serve(self) -> ! {
        loop {
            let Ok((stream, _)) = self.listener.accept() else {
                continue;
            };
            let st = Arc::clone(&self.state);
            if st.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                st.connections.fetch_sub(1, Ordering::SeqCst);
                let mut s = stream;
                let body = problem(503, "too many connections");
                let _ = respond(&mut s, 503, "application/problem+json", &body, &[]);
                continue;
            }
            std::thread::spawn(move || {
                let _ = serve_connection(&st, stream);
                st.connections.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

/// Say where the server listens, and start the --lifetime clock.
fn announce(args: &Args, ctx: &mut Ctx, url: &str) -> Result<()> {
    writeln!(ctx.out, "{url}").map_err(|e| ctx.out.error(e))?;
    ctx.out.finish()?;
    if let Some(f) = &args.url_file {
        cxg_core::io::write_file_atomic(f, format!("{url}\n").as_bytes())?;
    }
    ctx.diag
        .warn(format_args!("serving '{}' at {url}", args.dir.display()));
    if let Some(secs) = args.lifetime {
        let diag = ctx.diag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            diag.warn("lifetime over, exiting");
            std::process::exit(0);
        });
    }
    Ok(())
}

/// The ids `gone.json` lists (answered 410), if the folder has one.
fn load_gone(dir: &Path) -> Result<HashSet<String>> {
    let p = dir.join("gone.json");
    if !p.exists() {
        return Ok(HashSet::new());
    }
    let bytes = std::fs::read(&p).at(format_args!("cannot read '{}'", p.display()))?;
    let ids: Vec<String> = serde_json::from_slice(&bytes).at(format_args!(
        "'{}': expected a JSON array of ids",
        p.display()
    ))?;
    Ok(ids.into_iter().collect())
}

/// Gzip of `n` zero bytes, made once at start for --fault gzip-bomb.
fn gzip_zeros(n: u64) -> Result<Vec<u8>> {
    let place = "cannot build the gzip body";
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        enc.write_all(&zeros[..k]).at(place)?;
        left -= k as u64;
    }
    enc.finish().at(place)
}

/// Answer the requests of one connection until it closes, is refused, or
/// an answer ends it.
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
