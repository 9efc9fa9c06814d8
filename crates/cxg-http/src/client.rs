//! The client of the API tools: one agent ([`crate::agent`]), the retry
//! policy ([`crate::policy`]) on connection errors, timeouts, 429 and 5xx,
//! bodies read whole (at most `--max-bytes`), and the service taken as down
//! once it fails as a whole. 404 and 410 are never retried. Failures name
//! the method, URL, status and the `detail` of the problem+json body.

use crate::agent::{agent, is_loopback, BodyTimeout};
use crate::args::HttpArgs;
use crate::policy::{status_verdict, transport_verdict, Retry, Verdict};
use cxg_core::ctx::Diag;
use cxg_core::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A failed request, after retries.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub url: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What went wrong: the problem+json `detail`, or the transport error.
    pub msg: String,
    /// The host could not be reached at all.
    pub unreachable: bool,
    /// The service as a whole failed (unreachable, several requests in a
    /// row failing after their retries, or a body over `--max-bytes`):
    /// not a failure of one record. Tools stop with exit 3.
    pub service: bool,
    /// How many attempts were made.
    pub attempts: u32,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "GET {} failed: HTTP {s} {}", self.url, self.msg)?,
            None => write!(f, "GET {} failed: {}", self.url, self.msg)?,
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl HttpError {
    /// The error that ends a tool (exit 3), with a pointer to the offline
    /// demo when the host cannot be reached.
    pub fn into_error(self) -> Error {
        let mut msg = self.to_string();
        if self.unreachable {
            msg.push_str(OFFLINE_HINT);
        } else if self.service && self.status.is_some() {
            msg.push_str(DOWN_HINT);
        }
        Error::api(msg)
    }
}

/// What an unreachable API (refused connection, DNS failure, unreachable
/// network) is told, by every tool.
pub(crate) const OFFLINE_HINT: &str =
    "\n  the API host cannot be reached: check the network or --api-url \
     (CXG_API_URL).\n  To work offline, run 'make demo', or serve a saved \
     snapshot with 'cxg-serve DIR' and pass the URL it prints as --api-url.";

/// What a failing API (every request answered with 5xx or 429) is told.
pub(crate) const DOWN_HINT: &str =
    "\n  the API is failing as a whole: try again later (more --retries, a \
     longer --backoff-ms).\n  To work offline, run 'make demo', or serve a saved \
     snapshot with 'cxg-serve DIR' and pass the URL it prints as --api-url.";

/// One shared agent plus the retry policy.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    retry: Retry,
    max_bytes: u64,
    requests: AtomicU64,
    /// Set once the service as a whole failed (the host could not be
    /// reached, or [`SERVICE_DOWN_AFTER`] requests in a row failed after
    /// their retries): later requests then fail at once instead of
    /// retrying in vain.
    down: std::sync::Mutex<Option<Down>>,
    /// Requests in a row that failed after their retries with a 5xx, 429,
    /// timeout or connection error (reset by any answer).
    failing: AtomicU64,
    /// Answers in a row that the tool found unusable ([`Client::bad_answer`]).
    bad_in_a_row: AtomicU64,
    /// Where retry notices go: the run's diagnostics.
    diag: Diag,
    /// `--log-requests`: where each completed request is recorded.
    log: Option<crate::log::RequestLog>,
}

/// Why the service was taken as down, and the diagnosis later errors repeat.
#[derive(Debug, Clone)]
struct Down {
    why: String,
    status: Option<u16>,
    unreachable: bool,
}

/// After this many requests in a row fail for reasons of the service
/// (5xx, 429, timeouts, connection errors, each after its retries), the
/// service is taken as down: the tool stops with exit 3 instead of
/// failing record after record.
pub(crate) const SERVICE_DOWN_AFTER: u64 = 3;

/// Validate a base URL: http or https, with a host; trailing `/` removed.
pub(crate) fn parse_base_url(url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::input(format!("--api-url '{url}': {why}"));
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(bad("only http:// and https:// URLs are supported"));
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| bad(&format!("not a valid URL ({e})")))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("a base URL cannot have a query string"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

thread_local! {
    /// Attempts made by the current thread's request (for the request log).
    static ATTEMPTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The status of the current thread's last answer (for the request log).
    static STATUS: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// How much of an error response's body is read (for its message).
const ERROR_BODY_MAX: u64 = 64 * 1024;

/// How one attempt ended.
enum Attempt {
    Done(Vec<u8>),
    Retry {
        msg: String,
        status: Option<u16>,
        unreachable: bool,
        wait: Option<std::time::Duration>,
    },
    Fail {
        msg: String,
        status: Option<u16>,
        /// The failure is the service's, not the record's.
        service: bool,
    },
}

impl Attempt {
    /// A failed attempt, as the policy's verdict says.
    fn of(verdict: Verdict, msg: String, status: Option<u16>) -> Attempt {
        match verdict {
            Verdict::Retry { wait, unreachable } => Attempt::Retry {
                msg,
                status,
                unreachable,
                wait,
            },
            Verdict::TooLong(w) => Attempt::Fail {
                msg: msg + &Verdict::too_long_note(w),
                status,
                service: true,
            },
            Verdict::Fail => Attempt::Fail {
                msg,
                status,
                service: false,
            },
        }
    }
}

/// Text for a problem+json (or any) error body: its `detail`, else
/// `title`, else the start of the body.
fn problem_detail(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["detail", "title", "message"] {
            if let Some(s) = v.get(key).and_then(|d| d.as_str()) {
                return s.to_string();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let short: String = text.chars().take(200).collect();
    if short.is_empty() {
        "(empty body)".into()
    } else {
        short
    }
}

/// The standard reason phrase of an HTTP status ("" when unknown): the one
/// table every tool (and cxg-serve) uses.
pub fn reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

impl Client {
    /// Build the client; `jobs` sizes the connection pool; retry notices
    /// and a request log that cannot be written are told to `diag`.
    pub fn new(args: &HttpArgs, jobs: usize, diag: Diag) -> Result<Client, Error> {
        let base = parse_base_url(&args.api_url)?;
        Ok(Client {
            agent: agent(&args.net, BodyTimeout::Total, jobs, is_loopback(&base)),
            base,
            retry: Retry::new(&args.net),
            max_bytes: args.max_bytes,
            requests: AtomicU64::new(0),
            down: std::sync::Mutex::new(None),
            failing: AtomicU64::new(0),
            bad_in_a_row: AtomicU64::new(0),
            log: match &args.net.log_requests {
                Some(p) => Some(crate::log::RequestLog::open(p, diag.clone())?),
                None => None,
            },
            diag,
        })
    }

    /// The base URL requests are made under.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// How many HTTP requests (attempts) this client has made.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn down_state(&self) -> Option<Down> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn attempt(&self, url: &str) -> Attempt {
        self.requests.fetch_add(1, Ordering::Relaxed);
        ATTEMPTS.with(|n| n.set(n.get() + 1));
        let mut resp = match self.agent.get(url).call() {
            Ok(r) => r,
            Err(e) => return Attempt::of(transport_verdict(&e), e.to_string(), None),
        };
        let status = resp.status().as_u16();
        STATUS.with(|s| s.set(status));
        if (200..300).contains(&status) {
            return self.read_body(resp.body_mut());
        }
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok());
        if let Some(msg) = crate::policy::redirect_refused(status, location) {
            return Attempt::of(Verdict::Fail, msg, Some(status));
        }
        // An error body only gives the message: its first 64 KiB are plenty
        // (a server answering errors with a huge body costs no memory).
        let mut head = Vec::new();
        let _ = std::io::Read::read_to_end(
            &mut std::io::Read::take(resp.body_mut().as_reader(), ERROR_BODY_MAX),
            &mut head,
        );
        let msg = format!("{}: {}", reason(status), problem_detail(&head));
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok());
        // 401, 403 (for an id already checked to be a UUID) and 407 are the
        // service refusing us, not a problem of one record: get_retrying
        // counts them towards SERVICE_DOWN_AFTER
        Attempt::of(status_verdict(status, retry_after), msg, Some(status))
    }

    /// The body of a 2xx answer, at most `--max-bytes`.
    fn read_body(&self, body: &mut ureq::Body) -> Attempt {
        let limit = self.max_bytes;
        match body.with_config().limit(limit).read_to_vec() {
            Ok(b) => Attempt::Done(b),
            Err(ureq::Error::BodyExceedsLimit(_)) => Attempt::Fail {
                msg: format!(
                    "the response body is larger than --max-bytes {limit} bytes (decompressed); \
                     raise --max-bytes if the API really serves that much"
                ),
                status: None,
                service: true,
            },
            Err(e) => Attempt::Retry {
                msg: format!("the response body could not be read ({e})"),
                status: None,
                unreachable: false,
                wait: None,
            },
        }
    }

    /// Count a request that failed for a reason of the service (its
    /// status, if any, is `status`); true (and the service marked down)
    /// once [`SERVICE_DOWN_AFTER`] did in a row.
    fn count_failure(&self, attempts: u32, status: Option<u16>) -> bool {
        let in_a_row = self.failing.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row >= SERVICE_DOWN_AFTER {
            self.mark_down(
                format!(
                    "the service failed {in_a_row} requests in a row (the last after {attempts} attempt{})",
                    if attempts == 1 { "" } else { "s" }
                ),
                status,
                false,
            );
            true
        } else {
            false
        }
    }

    /// The tool found a 2xx answer unusable (not the record asked for, not
    /// the expected shape): that counts like a failed request, and
    /// [`SERVICE_DOWN_AFTER`] in a row mark the service down. Returns the
    /// error to stop with, once it is down.
    pub fn bad_answer(&self, url: &str, why: &str) -> Option<HttpError> {
        let in_a_row = self.bad_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row < SERVICE_DOWN_AFTER {
            return None;
        }
        self.mark_down(
            format!("{in_a_row} answers in a row were not what was asked for"),
            Some(200),
            false,
        );
        Some(HttpError {
            url: url.to_string(),
            status: Some(200),
            msg: format!("answers are not what was asked for: {why}"),
            unreachable: false,
            service: true,
            attempts: 1,
        })
    }

    /// The tool found a 2xx answer to be the record asked for.
    pub fn good_answer(&self) {
        self.bad_in_a_row.store(0, Ordering::Relaxed);
    }

    /// Take the service as down (the first reason stays): later requests
    /// fail at once with the same diagnosis (status, unreachable) so that
    /// whichever error a tool reports carries the same hint.
    fn mark_down(&self, why: String, status: Option<u16>, unreachable: bool) {
        let mut d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        if d.is_none() {
            *d = Some(Down {
                why,
                status,
                unreachable,
            });
        }
    }

    /// GET `path` (relative to the base URL, starting with `/`) and return
    /// the body of a 2xx response, retrying as the policy says; with
    /// `--log-requests` the completed request is appended to the log.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, HttpError> {
        let Some(log) = &self.log else {
            return self.get_retrying(path);
        };
        let (started, clock) = (std::time::SystemTime::now(), std::time::Instant::now());
        ATTEMPTS.with(|n| n.set(0));
        let res = self.get_retrying(path);
        let url = format!("{}{path}", self.base);
        let err = res.as_ref().err().map(|e| e.to_string());
        log.record(&crate::log::Request {
            method: "GET",
            url: &url,
            status: match &res {
                Ok(_) => Some(STATUS.with(|s| s.get())),
                Err(e) => e.status,
            },
            attempts: ATTEMPTS.with(|n| n.get()),
            body: res.as_ref().ok().map(Vec::as_slice),
            streamed: None,
            started,
            duration: clock.elapsed(),
            error: err.as_deref(),
        });
        res
    }

    fn get_retrying(&self, path: &str) -> Result<Vec<u8>, HttpError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            if let Some(down) = self.down_state() {
                return Err(HttpError {
                    url,
                    status: down.status,
                    msg: format!("not attempted: {}", down.why),
                    unreachable: down.unreachable,
                    service: true,
                    attempts: attempt,
                });
            }
            attempt += 1;
            let (msg, status, unreachable, wait) = match self.attempt(&url) {
                Attempt::Done(body) => {
                    self.failing.store(0, Ordering::Relaxed);
                    return Ok(body);
                }
                Attempt::Fail {
                    msg,
                    status,
                    service,
                } => {
                    let service = self.failed_for_good(&msg, status, service, attempt);
                    return Err(HttpError {
                        url,
                        status,
                        msg,
                        unreachable: false,
                        service,
                        attempts: attempt,
                    });
                }
                Attempt::Retry {
                    msg,
                    status,
                    unreachable,
                    wait,
                } => (msg, status, unreachable, wait),
            };
            let Some(wait) = self.retry.wait(attempt, wait) else {
                let service = self.retries_spent(status, unreachable, attempt);
                return Err(HttpError {
                    url,
                    status,
                    msg,
                    unreachable,
                    service,
                    attempts: attempt,
                });
            };
            let what = match status {
                Some(s) => format!("HTTP {s} {msg}"),
                None => msg,
            };
            self.diag.warn(format_args!(
                "GET {url}: {what}; {}",
                self.retry.notice(attempt, wait)
            ));
            std::thread::sleep(wait);
        }
    }

    /// A request failed without a retry: whether that is the service's
    /// failure (it marks the service down, or counts towards it).
    fn failed_for_good(&self, msg: &str, status: Option<u16>, service: bool, attempt: u32) -> bool {
        // 401, 403 (for an id already checked to be a UUID) and 407 are the
        // service refusing us, not one record's fault
        let refused = matches!(status, Some(401 | 403 | 407));
        if service {
            self.mark_down(format!("an earlier request failed: {msg}"), status, false);
            true
        } else if refused {
            self.count_failure(attempt, status)
        } else {
            self.failing.store(0, Ordering::Relaxed);
            false
        }
    }

    /// A request failed after its retries: whether that is the service's
    /// failure (an unreachable host always is).
    fn retries_spent(&self, status: Option<u16>, unreachable: bool, attempt: u32) -> bool {
        if unreachable {
            self.mark_down(
                "the host could not be reached by an earlier request".into(),
                None,
                true,
            );
            true
        } else {
            self.count_failure(attempt, status)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::args::NetArgs;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080/curation/v1/").unwrap(),
            "http://127.0.0.1:8080/curation/v1"
        );
        assert!(parse_base_url("ftp://x/y").is_err());
        assert!(parse_base_url("file:///etc").is_err());
        assert!(parse_base_url("http://").is_err());
        assert!(parse_base_url("not a url").is_err());
        assert!(parse_base_url("http://h/x?y=1").is_err());
    }

    fn args(api_url: String) -> HttpArgs {
        HttpArgs {
            api_url,
            net: NetArgs {
                retries: 1,
                backoff_ms: 1,
                connect_timeout: 2,
                timeout: 2,
                log_requests: None,
            },
            max_bytes: 1 << 20,
        }
    }

    #[test]
    fn an_unreachable_host_stops_later_requests_at_once() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let ctx = cxg_core::Ctx::memory(b"");
        let base = format!("http://127.0.0.1:{port}/curation/v1");
        let c = Client::new(&args(base.clone()), 1, ctx.diag.clone()).unwrap();
        let first = c.get("/collections").unwrap_err();
        assert!(first.unreachable && first.attempts == 2, "{first}");
        assert_eq!(c.requests(), 2);
        // the retry notice goes to the run's diagnostics, not to stderr
        let notices = ctx.diag.messages();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].starts_with(&format!("GET {base}/collections: ")),
            "{notices:?}"
        );
        // the next request is not tried: no new attempt, same diagnosis
        let second = c.get("/datasets").unwrap_err();
        assert!(second.unreachable, "{second}");
        assert!(second.msg.starts_with("not attempted"), "{second}");
        assert_eq!(c.requests(), 2);
        assert!(second.into_error().msg.contains("make demo"));
    }

    /// A name that does not resolve (`.invalid` never does) is a host that
    /// cannot be reached, with the offline hint.
    #[test]
    fn a_failed_name_lookup_is_an_unreachable_host() {
        let diag = cxg_core::Ctx::memory(b"").diag;
        let c = Client::new(
            &args("http://nonexistent.invalid/curation/v1".into()),
            1,
            diag,
        )
        .unwrap();
        let e = c.get("/collections").unwrap_err();
        assert!(e.unreachable && e.service && e.attempts == 2, "{e}");
        assert!(e.into_error().msg.contains("cannot be reached"));
    }

    #[test]
    fn problem_details() {
        assert_eq!(
            problem_detail(
                br#"{"detail":"Resource has been removed","status":410,"title":"Gone"}"#
            ),
            "Resource has been removed"
        );
        assert_eq!(problem_detail(b""), "(empty body)");
        assert_eq!(problem_detail(b"<html>oops</html>"), "<html>oops</html>");
    }
}
