//! The request log a networked tool appends to with `--log-requests FILE`
//! (one JSON object per line: when, which tool, method, URL, status,
//! attempts, bytes, duration, SHA-256 of the body): provenance plumbing.

use cxg_core::cli::tool;
use cxg_core::ctx::Diag;
use cxg_core::digest::sha256_hex;
use cxg_core::error::{At, Result};
use cxg_core::time::utc_rfc3339;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

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
pub struct RequestLog {
    path: PathBuf,
    file: Mutex<File>,
    /// Where a line that cannot be appended is named.
    diag: Diag,
}

impl RequestLog {
    /// Open `path` for appending, creating it; a request that cannot be
    /// logged is named on `diag`.
    pub fn open(path: &Path, diag: Diag) -> Result<RequestLog> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .at(format_args!(
                "--log-requests: cannot open '{}' for appending",
                path.display()
            ))?;
        Ok(RequestLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            diag,
        })
    }

    /// The JSON line for one request (without the newline).
    pub(crate) fn line(r: &Request) -> String {
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

    /// Append one request. A log that cannot be written is named on the
    /// run's diagnostics (the request itself succeeded or failed on its own).
    pub fn record(&self, r: &Request) {
        let mut line = Self::line(r);
        line.push('\n');
        let res = match self.file.lock() {
            Ok(mut f) => f.write_all(line.as_bytes()),
            Err(_) => Err(std::io::Error::other("the log lock was poisoned")),
        };
        if let Err(e) = res {
            self.diag.warn(format_args!(
                "--log-requests: cannot append to '{}': {e}; {} {} is not logged",
                self.path.display(),
                r.method,
                r.url
            ));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn request() -> Request<'static> {
        Request {
            method: "GET",
            url: "http://127.0.0.1:1/curation/v1/datasets",
            status: Some(200),
            attempts: 2,
            body: Some(b"abc"),
            streamed: None,
            started: UNIX_EPOCH,
            duration: Duration::from_micros(12_345),
            error: None,
        }
    }

    #[test]
    fn a_log_line_has_every_field() {
        let v: serde_json::Value = serde_json::from_str(&RequestLog::line(&request())).unwrap();
        assert_eq!(v["status"], 200);
        assert_eq!(v["attempts"], 2);
        assert_eq!(v["bytes"], 3);
        assert_eq!(v["duration_ms"], 12.3);
        assert_eq!(v["sha256"], sha256_hex(b"abc"));
        assert_eq!(v["at"], "1970-01-01T00:00:00.000Z");
        assert!(v.get("error").is_none());
    }

    /// A line that cannot be appended (a full disk) is named on the run's
    /// diagnostics, where an in-process test sees it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_line_that_cannot_be_appended_is_a_warning() {
        let ctx = cxg_core::Ctx::memory(b"");
        let log = RequestLog::open(Path::new("/dev/full"), ctx.diag.clone()).unwrap();
        log.record(&request());
        let w = ctx.diag.messages();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("--log-requests: cannot append to '/dev/full': ")
                && w[0].ends_with("; GET http://127.0.0.1:1/curation/v1/datasets is not logged"),
            "{w:?}"
        );
    }
}
