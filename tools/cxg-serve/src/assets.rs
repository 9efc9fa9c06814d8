//! Asset bytes: `GET /assets/<name>` serves `DIR/assets/<name>` as the
//! dataset file host does (CloudFront over S3): `Accept-Ranges: bytes`, an
//! `ETag` (from `DIR/assets/<name>.etag` when present, as `cxg-gen
//! --assets` writes it), `Last-Modified`, single `Range` requests answered
//! 206 or 416, `If-Range`, 404 for a missing file and 410 for the files of
//! removed datasets (`gone.json`). Bodies are streamed from disk, never
//! held in memory, so files of any size (sparse ones too) can be served.
//!
//! Test faults, on the requests that `--fail-match` selects: a body cut
//! mid-way (`--truncate` with `--fail-first`/`--fail-every`), Range ignored
//! (`--no-range`), a file one byte shorter than the index says
//! (`--wrong-size`), and a slow transfer (`--rate BYTES`).

use crate::http::{problem, respond};
use crate::State;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the file host's URLs are rewritten from, with `--local-assets`.
const PUBLIC_HOST: &str = "https://datasets.cellxgene.cziscience.com/";

/// What the request asked for, parsed from `Range: bytes=...`.
#[derive(Debug, PartialEq)]
enum Want {
    All,
    /// [start, end] inclusive, already clamped to the file.
    Part(u64, u64),
    Unsatisfiable,
}

/// Parse a single-range `Range` header against a file of `len` bytes.
/// Anything else (several ranges, another unit, junk) is ignored, as
/// RFC 9110 allows: the whole file is sent.
fn parse_range(h: Option<&str>, len: u64) -> Want {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Want::All;
    };
    if spec.contains(',') {
        return Want::All;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Want::All;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // suffix: the last N bytes
        return match b.parse::<u64>() {
            Ok(0) => Want::Unsatisfiable,
            Ok(_) if len == 0 => Want::Unsatisfiable,
            Ok(n) => Want::Part(len.saturating_sub(n), len - 1),
            Err(_) => Want::All,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return Want::All;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Want::All,
        }
    };
    if start >= len {
        Want::Unsatisfiable
    } else {
        Want::Part(start, end.min(len - 1))
    }
}

/// An HTTP date (IMF-fixdate) for `Last-Modified`.
fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// Answer `GET /assets/<name>` (with the request's `Range` and
/// `If-Range`); `log` is called with the status and a note (`bytes=A-B`,
/// ` truncated`) before anything is sent, so the request log is complete by
/// the time the client has the answer. Returns the plan that was carried
/// out: whether the connection may stay open.
pub(crate) fn serve(
    st: &State,
    name: &str,
    (range, if_range): (Option<&str>, Option<&str>),
    faults: Faults,
    w: &mut TcpStream,
    log: &dyn Fn(u16, &str),
) -> std::io::Result<bool> {
    let (mut file, len, etag, mtime) = match open(st, name, faults)? {
        Ok(found) => found,
        Err((status, detail)) => {
            log(status, "");
            respond(
                w,
                status,
                "application/problem+json",
                &problem(status, detail),
                &[],
            )?;
            return Ok(true);
        }
    };
    let mut want = if faults.no_range {
        Want::All
    } else {
        parse_range(range, len)
    };
    if if_range.is_some_and(|ir| ir.trim() != etag) {
        want = Want::All;
    }
    let mut extra = vec![
        ("Accept-Ranges", "bytes".to_string()),
        ("ETag", etag),
        ("Last-Modified", http_date(mtime)),
    ];
    let (status, start, count) = match want {
        Want::All => (200, 0, len),
        Want::Part(a, b) => {
            extra.push(("Content-Range", format!("bytes {a}-{b}/{len}")));
            (206, a, b - a + 1)
        }
        Want::Unsatisfiable => {
            extra.push(("Content-Range", format!("bytes */{len}")));
            log(416, "");
            let body = problem(416, "Range Not Satisfiable");
            respond(w, 416, "application/problem+json", &body, &extra)?;
            return Ok(true);
        }
    };
    let note = if count == 0 {
        "bytes=0".to_string()
    } else {
        format!("bytes={start}-{}", start + count - 1)
    };
    let truncated = if faults.truncate { " truncated" } else { "" };
    log(status, &format!(" {note}{truncated}"));
    send(w, &mut file, (status, start, count), &extra, faults)
}

/// An asset file that can be served, with the size it is served at, its
/// ETag and modification time; or the problem status and detail to answer.
type Found = (File, u64, String, SystemTime);

/// Open asset `name`: 403 for a name that could leave the folder, 404 for
/// what is not an asset (an ETag sidecar, a missing file, a folder), 410 for
/// the files of removed datasets (`gone.json`).
fn open(
    st: &State,
    name: &str,
    faults: Faults,
) -> std::io::Result<Result<Found, (u16, &'static str)>> {
    if cxg_core::paths::unsafe_name_reason(name).is_some() || name.starts_with('.') {
        return Ok(Err((403, "Invalid asset name")));
    }
    // the ETag sidecars are the server's own state, not assets
    if name.ends_with(".etag") {
        return Ok(Err((404, "Not found")));
    }
    let stem = name.split('.').next().unwrap_or_default();
    if st.gone.contains(stem) {
        return Ok(Err((410, "Resource has been removed")));
    }
    let path: PathBuf = st.args.dir.join("assets").join(name);
    let Ok(file) = File::open(&path) else {
        return Ok(Err((404, "Not found")));
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Err((404, "Not found")));
    }
    let mut len = meta.len();
    if faults.wrong_size {
        len = len.saturating_sub(1);
    }
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    let etag = match std::fs::read_to_string(path.with_file_name(format!("{name}.etag"))) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => format!(
            "\"{len:x}-{:x}\"",
            mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ),
    };
    Ok(Ok((file, len, etag, mtime)))
}

/// Send the head and `count` bytes of `file` from `start` (half of them,
/// then close, for a truncate fault).
fn send(
    w: &mut TcpStream,
    file: &mut File,
    (status, start, count): (u16, u64, u64),
    extra: &[(&str, String)],
    faults: Faults,
) -> std::io::Result<bool> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {count}\r\n",
        if status == 200 { "OK" } else { "Partial Content" }
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if faults.truncate {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    let send = if faults.truncate { count / 2 } else { count };
    file.seek(SeekFrom::Start(start))?;
    copy_paced(file, w, send, faults.rate)?;
    w.flush()?;
    if faults.truncate {
        let _ = w.shutdown(std::net::Shutdown::Both);
    }
    Ok(!faults.truncate)
}

/// The faults that apply to one asset request.
#[derive(Clone, Copy, Default)]
pub(crate) struct Faults {
    pub truncate: bool,
    pub no_range: bool,
    pub wrong_size: bool,
    /// Bytes per second, 0 = unlimited.
    pub rate: u64,
}

/// Copy `n` bytes from `r` to `w`, at most `rate` bytes per second.
fn copy_paced(r: &mut File, w: &mut TcpStream, n: u64, rate: u64) -> std::io::Result<()> {
    let chunk = if rate > 0 {
        (rate / 20).clamp(1, 256 * 1024)
    } else {
        256 * 1024
    };
    let mut buf = vec![0u8; chunk as usize];
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < n {
        let k = (n - sent).min(chunk) as usize;
        let got = r.read(&mut buf[..k])?;
        if got == 0 {
            // the file shrank under us: end the body short (the client sees it)
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "asset file shrank",
            ));
        }
        w.write_all(&buf[..got])?;
        sent += got as u64;
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            let el = started.elapsed();
            if due > el {
                std::thread::sleep(due - el);
            }
        }
    }
    Ok(())
}

/// With `--local-assets`: point the file host's URLs in a served JSON
/// document at this server (`"url":"https://datasets.cellxgene.cziscience.com/X"`
/// becomes `"url":"http://127.0.0.1:PORT/assets/X"`). Only `url` members
/// change; citations and other text that mention the host are left alone.
pub(crate) fn rewrite_urls(body: &[u8], local: &str) -> Vec<u8> {
    let host = PUBLIC_HOST.as_bytes();
    let mut out = Vec::with_capacity(body.len());
    let mut from = 0;
    let mut i = 0;
    while let Some(k) = find(&body[i..], host) {
        let at = i + k;
        let before = &body[..at];
        if before.ends_with(b"\"url\":\"") || before.ends_with(b"\"url\": \"") {
            out.extend_from_slice(&body[from..at]);
            out.extend_from_slice(local.as_bytes());
            from = at + host.len();
        }
        i = at + host.len();
    }
    out.extend_from_slice(&body[from..]);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Want::All);
        assert_eq!(parse_range(Some("bytes=0-"), 10), Want::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=4-"), 10), Want::Part(4, 9));
        assert_eq!(parse_range(Some("bytes=4-5"), 10), Want::Part(4, 5));
        assert_eq!(parse_range(Some("bytes=4-50"), 10), Want::Part(4, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Want::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Want::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Want::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=1-2,4-5"), 10), Want::All);
        assert_eq!(parse_range(Some("items=1-2"), 10), Want::All);
        assert_eq!(parse_range(Some("bytes=5-4"), 10), Want::All);
        let big = 5u64 << 30;
        assert_eq!(
            parse_range(Some(&format!("bytes={}-", big - 3)), big),
            Want::Part(big - 3, big - 1)
        );
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        assert_eq!(http_date(t), "Tue, 14 Jul 2026 03:33:20 GMT");
    }

    #[test]
    fn rewrites_only_url_members() {
        let body = br#"{"citation":"see https://datasets.cellxgene.cziscience.com/a.h5ad","assets":[{"url":"https://datasets.cellxgene.cziscience.com/a.h5ad"},{"url": "https://datasets.cellxgene.cziscience.com/b.rds"},{"url":"https://other.org/c"}]}"#;
        let out = rewrite_urls(body, "http://127.0.0.1:9/assets/");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"citation":"see https://datasets.cellxgene.cziscience.com/a.h5ad","assets":[{"url":"http://127.0.0.1:9/assets/a.h5ad"},{"url": "http://127.0.0.1:9/assets/b.rds"},{"url":"https://other.org/c"}]}"#
        );
    }
}
