//! Provenance plumbing: the request log a networked tool appends to with
//! `--log-requests FILE` (one JSON object per line: when, which tool,
//! method, URL, status, attempts, bytes, duration, SHA-256 of the body),
//! SHA-256 of bytes and files, and UTC timestamps without a time crate.

use crate::cli::{tool, warn};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One completed request (after its retries), as written to the log.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// The final HTTP status; `None` when no answer came.
    pub status: Option<u16>,
    pub attempts: u32,
    /// The body of a successful answer (its length and SHA-256 are logged).
    pub body: Option<&'a [u8]>,
    /// Bytes and SHA-256 of a body that was not held in memory (streamed
    /// to a file); used when `body` is `None`.
    pub streamed: Option<(u64, &'a str)>,
    pub started: SystemTime,
    pub duration: Duration,
    /// Why the request failed, when it did.
    pub error: Option<&'a str>,
}

/// An append-only JSON Lines file of requests, shared by the threads of
/// one tool and by the tools of a pipeline (each line is one `write`).
#[derive(Debug)]
pub struct RequestLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl RequestLog {
    /// Open `path` for appending, creating it.
    pub fn open(path: &Path) -> Result<RequestLog> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::input(format!(
                    "--log-requests: cannot open '{}' for appending: {e}",
                    path.display()
                ))
            })?;
        Ok(RequestLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The JSON line for one request (without the newline).
    pub fn line(r: &Request) -> String {
        let (bytes, sha) = match (r.body, r.streamed) {
            (Some(b), _) => (Some(b.len() as u64), Some(sha256_hex(b))),
            (None, Some((n, h))) => (Some(n), Some(h.to_string())),
            (None, None) => (None, None),
        };
        let mut v = serde_json::json!({
            "at": utc_rfc3339(r.started),
            "tool": tool(),
            "method": r.method,
            "url": r.url,
            "status": r.status,
            "attempts": r.attempts,
            "bytes": bytes,
            "duration_ms": (r.duration.as_secs_f64() * 1e4).round() / 10.0,
            "sha256": sha,
        });
        if let (Some(e), Some(o)) = (r.error, v.as_object_mut()) {
            o.insert("error".into(), e.into());
        }
        v.to_string()
    }

    /// Append one request. A log that cannot be written is named on
    /// stderr (the request itself succeeded or failed on its own).
    pub fn record(&self, r: &Request) {
        let mut line = Self::line(r);
        line.push('\n');
        let res = match self.file.lock() {
            Ok(mut f) => f.write_all(line.as_bytes()),
            Err(_) => Err(std::io::Error::other("the log lock was poisoned")),
        };
        if let Err(e) = res {
            warn(format_args!(
                "--log-requests: cannot append to '{}': {e}; {} {} is not logged",
                self.path.display(),
                r.method,
                r.url
            ));
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256_bytes(bytes))
}

/// SHA-256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A SHA-256 computed as bytes go by (for streamed downloads and files).
#[derive(Default, Clone)]
pub struct Hasher {
    h: Sha256,
    n: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.h.update(bytes);
        self.n += bytes.len() as u64;
    }
    /// (bytes seen, lowercase hex SHA-256)
    pub fn finish(self) -> (u64, String) {
        (self.n, hex(&self.h.finalize()))
    }
}

/// Size and SHA-256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// Lowercase hex of a digest (or any bytes).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// (year, month, day) of a count of days since 1970-01-01, proleptic
/// Gregorian (Howard Hinnant's days-to-civil algorithm).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// (year, month, day, hour, minute, second, millisecond) in UTC.
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_date(days);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis(),
    )
}

/// `2026-11-29T08:01:02.123Z`
pub fn utc_rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// `20261129T080102Z`: a timestamp usable as a file name (no colons) that
/// sorts in time order.
pub fn utc_compact(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, _) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), (3, sha256_hex(b"abc")));
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_939_262_123);
        assert_eq!(utc_rfc3339(t), "2026-11-29T08:01:02.123Z");
        assert_eq!(utc_compact(t), "20261129T080102Z");
        assert_eq!(utc_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // a leap day
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc_compact(t), "20000229T000000Z");
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
    }

    #[test]
    fn a_log_line_has_every_field() {
        let r = Request {
            method: "GET",
            url: "http://127.0.0.1:1/curation/v1/datasets",
            status: Some(200),
            attempts: 2,
            body: Some(b"abc"),
            streamed: None,
            started: UNIX_EPOCH,
            duration: Duration::from_micros(12_345),
            error: None,
        };
        let v: serde_json::Value = serde_json::from_str(&RequestLog::line(&r)).unwrap();
        assert_eq!(v["status"], 200);
        assert_eq!(v["attempts"], 2);
        assert_eq!(v["bytes"], 3);
        assert_eq!(v["duration_ms"], 12.3);
        assert_eq!(v["sha256"], sha256_hex(b"abc"));
        assert_eq!(v["at"], "1970-01-01T00:00:00.000Z");
        assert!(v.get("error").is_none());
    }
}
