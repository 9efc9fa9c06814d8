//! One request of a transfer and what its answer leads to: a 200 starts
//! the file (again), a 206 continues it, a 416 may say it is complete, a
//! 404 or 410 fails it, and anything else (429, 5xx, a transport error)
//! goes by cxg-http's retry policy.

use super::sidecar::Sidecar;
use super::Transfer;
use crate::hash::Hashes;
use crate::job::Job;
use crate::net::Net;
use cxg_http::{status_verdict, transport_verdict, Verdict};
use std::sync::atomic::Ordering;
use std::time::Duration;
use ureq::http::Response;
use ureq::Body;

/// What one request led to.
pub(super) enum Step {
    /// The file is complete on disk.
    Complete,
    /// Try again (after a wait unless bytes arrived): a dropped body, 5xx.
    Retry {
        msg: String,
        wait: Option<Duration>,
        unreachable: bool,
    },
    /// Start over from byte 0 (the remote file changed, the part is wrong).
    Restart(String),
    /// Give up on this file.
    Fail { msg: String, service: bool },
}

/// A failure of this file's own (disk, sidecar): give up on it.
impl From<String> for Step {
    fn from(msg: String) -> Step {
        Step::fail(msg)
    }
}

impl From<cxg_core::Error> for Step {
    fn from(e: cxg_core::Error) -> Step {
        Step::fail(e.msg)
    }
}

impl Step {
    /// Give up: a failure of this file, not of the service.
    pub fn fail(msg: impl Into<String>) -> Step {
        Step::Fail {
            msg: msg.into(),
            service: false,
        }
    }

    /// Try again after the backoff (or at once when bytes arrived).
    pub fn retry(msg: impl Into<String>) -> Step {
        Step::Retry {
            msg: msg.into(),
            wait: None,
            unreachable: false,
        }
    }

    /// A failed request, as cxg-http's policy judges it.
    fn of(verdict: Verdict, msg: String) -> Step {
        match verdict {
            Verdict::Retry { wait, unreachable } => Step::Retry {
                msg,
                wait,
                unreachable,
            },
            Verdict::TooLong(w) => Step::Fail {
                msg: msg + &Verdict::too_long_note(w),
                service: true,
            },
            Verdict::Fail => Step::fail(msg),
        }
    }
}

/// A response header, trimmed.
pub fn header(r: &Response<Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// A Content-Range: first byte, last byte, total.
type Range = (Option<u64>, Option<u64>, Option<u64>);

/// `bytes a-b/t` → (Some(a), Some(b), Some(t)); `bytes */t` → (None, None, Some(t)).
pub fn content_range(h: Option<&str>) -> Option<Range> {
    let rest = h?.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    if span.trim() == "*" {
        return Some((None, None, total));
    }
    let (a, b) = span.trim().split_once('-')?;
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    if b < a {
        return None;
    }
    Some((Some(a), Some(b), total))
}

/// What an answer says, besides its body.
struct Answer {
    status: u16,
    etag: Option<String>,
    last_modified: Option<String>,
    range: Option<Range>,
    length: Option<u64>,
    retry_after: Option<String>,
}

impl Answer {
    fn of(r: &Response<Body>) -> Answer {
        Answer {
            status: r.status().as_u16(),
            etag: header(r, "etag"),
            last_modified: header(r, "last-modified"),
            range: content_range(header(r, "content-range").as_deref()),
            length: header(r, "content-length").and_then(|v| v.parse::<u64>().ok()),
            retry_after: header(r, "retry-after"),
        }
    }
}

/// The server's size is not the one expected.
fn mismatch(job: &Job, served: u64, expected: u64) -> Step {
    let said = if job.learned {
        "the server said at the start of the run"
    } else {
        "the input says"
    };
    Step::fail(format!(
        "size mismatch: the server has {served} bytes, {said} {expected}"
    ))
}

impl Transfer {
    /// One request, and its body streamed to disk.
    pub(super) fn attempt(&mut self, net: &Net, job: &Job) -> Step {
        net.requests.fetch_add(1, Ordering::Relaxed);
        self.attempts += 1;
        let resp = match self.request(net, job).call() {
            Ok(r) => r,
            Err(e) => return Step::of(transport_verdict(&e), e.to_string()),
        };
        let a = Answer::of(&resp);
        self.last_status = Some(a.status);
        if let Some(msg) =
            cxg_http::redirect_refused(a.status, header(&resp, "location").as_deref())
        {
            return Step::fail(msg);
        }
        match a.status {
            200 => self.whole(net, job, a, resp.into_body()),
            206 => self.rest(net, job, &a, resp.into_body()),
            416 => self.unsatisfiable(job, &a),
            404 => Step::fail("not found (404)"),
            410 => {
                Step::fail("removed from the server (410 Gone): this dataset version was withdrawn")
            }
            s => Step::of(
                status_verdict(s, a.retry_after.as_deref()),
                format!("HTTP {s}"),
            ),
        }
    }

    /// The request: the rest of the file when part of it is on disk (only
    /// if it is still the same file, when its ETag is a strong one).
    fn request(&self, net: &Net, job: &Job) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut req = net
            .agent
            .get(&job.url)
            .header("Accept-Encoding", "identity");
        if self.offset > 0 {
            req = req.header("Range", format!("bytes={}-", self.offset));
            if let Some(e) = self.meta.as_ref().and_then(|m| m.etag.as_deref()) {
                if !e.starts_with("W/") {
                    req = req.header("If-Range", e);
                }
            }
        }
        req
    }

    /// A 200: the whole file, from byte 0 (again, when a part was there).
    fn whole(&mut self, net: &Net, job: &Job, a: Answer, body: Body) -> Step {
        let total = match whole_size(job, &a) {
            Ok(t) => t,
            Err(s) => return s,
        };
        if let Some(s) = self.space_short(net, total) {
            return s;
        }
        if self.offset > 0 {
            net.diag
                .warn(format_args!("{}: {}", job.url, self.why_from_zero(&a)));
        }
        if let Err(s) = self.start(job, a, total) {
            return s;
        }
        self.stream(net, body, total)
    }

    /// Why a transfer that had bytes on disk got the whole file.
    fn why_from_zero(&self, a: &Answer) -> String {
        let old = self.meta.as_ref().and_then(|m| m.etag.as_ref());
        match (old, &a.etag) {
            (Some(o), Some(e)) if o != e => format!(
                "the file changed on the server since the partial download (ETag {e}, was {o}): starting again from byte 0"
            ),
            _ => "the server ignored Range (200 instead of 206): starting again from byte 0".into(),
        }
    }

    /// Start the file from byte 0, with the first response's resume state.
    fn start(&mut self, job: &Job, a: Answer, total: u64) -> Result<(), Step> {
        self.reset()?;
        let meta = Sidecar {
            url: job.url.clone(),
            size: Some(total),
            etag: a.etag,
            last_modified: a.last_modified,
        };
        meta.write(&self.side)?;
        self.form = self.etag_form(meta.etag.as_deref(), total);
        self.meta = Some(meta);
        self.hashes = Some(Hashes::new(&self.form));
        self.total = Some(total);
        Ok(())
    }

    /// A 206: the rest of the file, when it continues the bytes on disk.
    fn rest(&mut self, net: &Net, job: &Job, a: &Answer, body: Body) -> Step {
        let (last, total) = match self.check_range(job, a) {
            Ok(r) => r,
            Err(s) => return s,
        };
        self.total = Some(total);
        let etag = self.meta.as_ref().and_then(|m| m.etag.as_deref());
        self.form = self.etag_form(etag.map(str::to_string).as_deref(), total);
        if let Err(s) = self.hashes_at_offset() {
            return s;
        }
        self.stream(net, body, last + 1)
    }

    /// The last byte and the total of a 206 that continues the part on
    /// disk: from its end, of a file of the size and version begun.
    fn check_range(&self, job: &Job, a: &Answer) -> Result<(u64, u64), Step> {
        let Some((Some(first), Some(last), Some(t))) = a.range else {
            let msg = "a 206 answer without a usable Content-Range: starting again";
            return Err(Step::Restart(msg.into()));
        };
        if let Some(s) = job.size.filter(|&s| s != t) {
            return Err(mismatch(job, t, s));
        }
        let restart = |msg: String| Err(Step::Restart(msg));
        if first != self.offset {
            return restart(format!(
                "asked for bytes from {}, the server sent from {first}: starting again",
                self.offset
            ));
        }
        let Some(meta) = &self.meta else {
            return restart("no record of the first response: starting again".into());
        };
        // the total the first response announced (kept in the sidecar even
        // when the input gives no size): another total is another file,
        // whatever its ETag says
        if meta.size != Some(t) {
            return restart(format!(
                "the server's file now has {t} bytes, the partial download is of a file of {}: starting again",
                meta.size.map_or("unknown size".into(), |k| format!("{k} bytes"))
            ));
        }
        if last >= t {
            return restart(format!(
                "a Content-Range ending at byte {last} of a {t}-byte file: starting again"
            ));
        }
        let changed = match (&meta.etag, &a.etag) {
            (Some(x), Some(y)) => x != y,
            _ => matches!((&meta.last_modified, &a.last_modified), (Some(x), Some(y)) if x != y),
        };
        if changed {
            return restart(format!(
                "the file changed on the server since the partial download (ETag {} was {}): starting again",
                a.etag.as_deref().unwrap_or("-"),
                meta.etag.as_deref().unwrap_or("-")
            ));
        }
        Ok((last, t))
    }

    /// A 416: complete when the bytes on disk are the whole file begun.
    fn unsatisfiable(&mut self, job: &Job, a: &Answer) -> Step {
        let t = a.range.and_then(|c| c.2);
        match t {
            Some(t)
                if self.offset > 0
                    && t == self.offset
                    && job.size.is_none_or(|s| s == t)
                    && self.meta.as_ref().is_some_and(|m| m.size == Some(t)) =>
            {
                self.total = Some(t);
                let etag = self.meta.as_ref().and_then(|m| m.etag.clone());
                self.form = self.etag_form(etag.as_deref(), t);
                match self.hashes_at_offset() {
                    Ok(()) => Step::Complete,
                    Err(s) => s,
                }
            }
            Some(t) if self.offset > t => Step::Restart(format!(
                "the partial file has {} bytes, the server's file {t}: starting again",
                self.offset
            )),
            _ => Step::fail(format!(
                "HTTP 416 for bytes from {} (Content-Range {})",
                self.offset,
                t.map_or("missing".into(), |t| format!("*/{t}"))
            )),
        }
    }
}

/// The size of a 200's file: its Content-Length (which must be the size
/// expected, when one is), else the size expected; never 0.
fn whole_size(job: &Job, a: &Answer) -> Result<u64, Step> {
    if let (Some(s), Some(c)) = (job.size, a.length) {
        if s != c {
            return Err(mismatch(job, c, s));
        }
    }
    let Some(total) = a.length.or(job.size) else {
        return Err(Step::fail(
            "the size cannot be checked: no Content-Length and no filesize",
        ));
    };
    if total == 0 {
        return Err(Step::fail(
            "the server sent an empty file (0 bytes): an H5AD is never empty",
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        let cases: [(Option<&str>, Option<Range>); 7] = [
            (Some("bytes 5-9/10"), Some((Some(5), Some(9), Some(10)))),
            (Some("bytes */10"), Some((None, None, Some(10)))),
            (Some("bytes 0-0/*"), Some((Some(0), Some(0), None))),
            (
                Some("bytes 5999999990-5999999999/6000000000"),
                Some((
                    Some(5_999_999_990),
                    Some(5_999_999_999),
                    Some(6_000_000_000),
                )),
            ),
            (Some("bytes 9-5/10"), None),
            (Some("items 0-1/2"), None),
            (None, None),
        ];
        for (h, want) in cases {
            assert_eq!(content_range(h), want, "{h:?}");
        }
    }
}
