//! HTTP/1.1 on a `TcpStream`, as much as a GET-only test server needs:
//! reading a request head within its deadlines and size limits, and
//! writing an answer with a body.

use crate::State;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The longest request line answered (414 beyond it).
const MAX_LINE: usize = 8 * 1024;
/// The most header bytes answered (431 beyond them).
const MAX_HEAD: usize = 64 * 1024;

pub(crate) struct Request {
    pub method: String,
    pub target: String,
    pub close: bool,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

/// Why a request head was not read.
pub(crate) enum Head {
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

/// One line of a request head, or what ends the head instead: the client
/// closed mid-line, the line is longer than `max` (`too_long` is the
/// answer), or the head deadline passed (408).
fn head_line(
    r: &mut impl BufRead,
    max: usize,
    too_long: (u16, &'static str),
) -> std::io::Result<Result<String, Head>> {
    match read_limited(r, max) {
        Ok(Some(l)) if l.ends_with('\n') => Ok(Ok(l)),
        Ok(Some(_)) => Ok(Err(Head::Closed)),
        Ok(None) => Ok(Err(Head::Refuse(too_long.0, too_long.1))),
        Err(e) if timed_out(&e) => Ok(Err(Head::Refuse(408, "the request head took too long"))),
        Err(e) => Err(e),
    }
}

/// Wait for the first byte of the next request (the keep-alive idle
/// time); false when the client closed or stayed idle.
fn first_byte(st: &State, stream: &TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    stream.set_read_timeout(Some(Duration::from_secs(st.args.idle_timeout)))?;
    let mut first = [0u8; 1];
    match (&mut &*stream).read(&mut first) {
        Ok(0) => Ok(false),
        Ok(_) => {
            buf.push(first[0]);
            Ok(true)
        }
        Err(e) if timed_out(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Read one request head: the first byte must come within the idle
/// timeout, the whole head within the head timeout. `buf` holds bytes of
/// the request already read, and keeps those of a pipelined next one.
pub(crate) fn read_request(
    st: &State,
    stream: &TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Head> {
    if buf.is_empty() && !first_byte(st, stream, buf)? {
        return Ok(Head::Closed);
    }
    let deadline = Deadline {
        stream,
        until: Instant::now() + Duration::from_secs(st.args.head_timeout),
    };
    let pre = std::mem::take(buf);
    let mut r = BufReader::new(std::io::Cursor::new(pre).chain(deadline));
    let line = match head_line(&mut r, MAX_LINE, (414, "the request line is too long"))? {
        Ok(l) => l,
        Err(head) => return Ok(head),
    };
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("");
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
        return Ok(Head::Refuse(400, "not an HTTP/1.x request line"));
    }
    let mut req = Request {
        method,
        target,
        close: version != "HTTP/1.1",
        range: None,
        if_range: None,
    };
    let content_length = match read_headers(&mut r, &mut req)? {
        Ok(n) => n,
        Err(head) => return Ok(head),
    };
    if content_length > 0 {
        // A GET-only server reads and drops a body, within the same deadline.
        if std::io::copy(&mut r.by_ref().take(content_length), &mut std::io::sink()).is_err() {
            return Ok(Head::Closed);
        }
    }
    // Bytes of a pipelined next request stay for the next call.
    buf.extend_from_slice(r.buffer());
    Ok(Head::Request(req))
}

/// Read the header lines up to the empty one, noting in `req` what the
/// server uses (Connection, Range, If-Range); returns the Content-Length.
fn read_headers(r: &mut impl BufRead, req: &mut Request) -> std::io::Result<Result<u64, Head>> {
    let mut content_length = 0u64;
    let mut total = 0;
    loop {
        let too_large = (431, "the request headers are too large");
        let h = match head_line(r, MAX_HEAD - total.min(MAX_HEAD), too_large)? {
            Ok(h) => h,
            Err(head) => return Ok(Err(head)),
        };
        total += h.len();
        let h = h.trim_end();
        if h.is_empty() {
            return Ok(Ok(content_length));
        }
        let Some((k, v)) = h.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("range") {
            req.range = Some(v.trim().to_string());
        } else if k.trim().eq_ignore_ascii_case("if-range") {
            req.if_range = Some(v.trim().to_string());
        }
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        if k == "connection" {
            req.close = v == "close";
        } else if k == "content-length" {
            content_length = v.parse().unwrap_or(0);
        }
    }
}

/// A problem+json body, as the curation API sends with an error status.
pub(crate) fn problem(status: u16, detail: &str) -> Vec<u8> {
    let title = match cxg_http::reason(status) {
        "" => "Error",
        r => r,
    };
    serde_json::json!({"detail": detail, "status": status, "title": title, "type": "about:blank"})
        .to_string()
        .into_bytes()
}

/// Send a whole answer: status line, headers (`extra` after the type and
/// length) and body.
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
