//! The HTTP client every tool shares: one ureq agent, timeouts, gzip, a
//! User-Agent naming the tool, and retries with exponential backoff and
//! jitter on connection errors, timeouts, 429 and 5xx (honouring
//! `Retry-After`). 404 and 410 are never retried. Failures name the method,
//! URL, status and the `detail` of the problem+json body.

use cxg_core::cli::{tool, warn};
use cxg_core::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The production curation API.
pub const DEFAULT_API_URL: &str = "https://api.cellxgene.cziscience.com/curation/v1";

/// The HTTP options common to every tool that talks to the API. Every
/// number is bounded, so no option can overflow a clock or a counter.
#[derive(clap::Args, Clone, Debug)]
pub struct HttpArgs {
    /// Base URL of the curation API (http or https)
    #[arg(long, env = "CXG_API_URL", default_value = DEFAULT_API_URL, value_name = "URL", help_heading = "Common options", global = true)]
    pub api_url: String,
    /// Retries of a request after a connection error, timeout, 429 or 5xx (0-100)
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100), help_heading = "Common options", global = true)]
    pub retries: u32,
    /// First retry delay in milliseconds, doubling each retry with jitter, at most 30 s (0-600000)
    #[arg(long, default_value_t = 500, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000), help_heading = "Common options", global = true)]
    pub backoff_ms: u64,
    /// Seconds to wait for a connection (1-3600)
    #[arg(long, default_value_t = 15, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Common options", global = true)]
    pub connect_timeout: u64,
    /// Seconds to wait for a response and its body; the lists are several MB (1-86400)
    #[arg(long, default_value_t = 300, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400), help_heading = "Common options", global = true)]
    pub timeout: u64,
    /// Append one JSON line per request to FILE: method, URL, status,
    /// attempts, bytes, duration, SHA-256 of the body (provenance)
    #[arg(
        long,
        env = "CXG_LOG_REQUESTS",
        value_name = "FILE",
        help_heading = "Common options",
        global = true
    )]
    pub log_requests: Option<std::path::PathBuf>,
    /// Largest response body accepted, after decompression: bytes, or with K, M or G
    #[arg(long, default_value = "1G", value_name = "SIZE", value_parser = parse_size, help_heading = "Common options", global = true)]
    pub max_bytes: u64,
}

/// A size: plain bytes, or a number with K, M or G (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("'{s}': the unit must be K, M, G or T")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (bytes, or a whole number with K, M, G or T)"))?;
    match n.checked_mul(mult) {
        Some(0) | None => Err(format!("'{s}': expected a size from 1 byte to 16 EiB")),
        Some(v) => Ok(v),
    }
}

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
pub const OFFLINE_HINT: &str =
    "\n  the API host cannot be reached: check the network or --api-url \
     (CXG_API_URL).\n  To work offline, run 'make demo', or serve a saved \
     snapshot with 'cxg-serve DIR' and pass the URL it prints as --api-url.";

/// What a failing API (every request answered with 5xx or 429) is told.
pub const DOWN_HINT: &str =
    "\n  the API is failing as a whole: try again later (more --retries, a \
     longer --backoff-ms).\n  To work offline, run 'make demo', or serve a saved \
     snapshot with 'cxg-serve DIR' and pass the URL it prints as --api-url.";

/// One shared agent plus the retry policy.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    retries: u32,
    backoff: Duration,
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
    /// Where retry notices go (stderr with the tool's prefix by default).
    notify: Box<dyn Fn(&str) + Send + Sync>,
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
pub const SERVICE_DOWN_AFTER: u64 = 3;

/// Validate a base URL: http or https, with a host; trailing `/` removed.
pub fn parse_base_url(url: &str) -> Result<String, Error> {
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

/// True when the URL's host is loopback (127.0.0.0/8, ::1, localhost):
/// such requests never go through a proxy from the environment.
pub fn is_loopback(base: &str) -> bool {
    let host = base.parse::<ureq::http::Uri>().ok().and_then(|u| {
        u.host()
            .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
    });
    match host.as_deref() {
        Some("localhost") => true,
        Some(h) => h
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false),
        None => false,
    }
}

static JITTER: AtomicU64 = AtomicU64::new(0);

/// A factor in [0.5, 1.0) from a splitmix64 sequence seeded by the clock.
pub fn jitter() -> f64 {
    let mut seed = JITTER.load(Ordering::Relaxed);
    if seed == 0 {
        seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
    }
    let next = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    JITTER.store(next, Ordering::Relaxed);
    let mut z = next;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    0.5 + (z >> 11) as f64 / (1u64 << 53) as f64 * 0.5
}

thread_local! {
    /// Attempts made by the current thread's request (for the request log).
    static ATTEMPTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The status of the current thread's last answer (for the request log).
    static STATUS: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// The longest `Retry-After` we honour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How much of an error response's body is read (for its message).
const ERROR_BODY_MAX: u64 = 64 * 1024;

/// The longest wait between two attempts from the backoff.
const MAX_BACKOFF: f64 = 30.0;

enum Attempt {
    Done(Vec<u8>),
    Retry {
        msg: String,
        status: Option<u16>,
        unreachable: bool,
        wait: Option<Duration>,
    },
    Fail {
        msg: String,
        status: Option<u16>,
        /// The failure is the service's, not the record's.
        service: bool,
    },
}

/// What a `Retry-After` value asks for: delay-seconds or an HTTP date
/// (RFC 9110 10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long (more than zero, at most [`MAX_RETRY_AFTER`]).
    Wait(Duration),
    /// No usable wait (a date already past, zero, unreadable): the backoff
    /// applies, so a bad header cannot make a hot loop.
    Backoff,
    /// Longer than [`MAX_RETRY_AFTER`]: the server is not coming back soon,
    /// so retrying is pointless.
    TooLong(Duration),
}

/// Read a `Retry-After` value at time `now`.
pub fn retry_after(value: &str, now: std::time::SystemTime) -> RetryAfter {
    let v = value.trim();
    let wait = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // delay-seconds; more digits than a u64 holds is simply "very long"
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        match httpdate::parse_http_date(v) {
            Ok(when) => when.duration_since(now).unwrap_or(Duration::ZERO),
            Err(_) => return RetryAfter::Backoff,
        }
    };
    if wait.is_zero() {
        RetryAfter::Backoff
    } else if wait > MAX_RETRY_AFTER {
        RetryAfter::TooLong(wait)
    } else {
        RetryAfter::Wait(wait)
    }
}

/// The backoff before retry number `attempt` (1-based): `base` doubled
/// each time, times `jitter`, at most [`MAX_BACKOFF`] seconds. Saturates
/// instead of overflowing.
pub fn backoff_wait(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let exp = 2f64.powi(attempt.saturating_sub(1).min(60) as i32);
    let secs = (base.as_secs_f64() * exp * jitter).clamp(0.0, MAX_BACKOFF);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs(MAX_BACKOFF as u64))
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
    /// Build the client; `jobs` sizes the connection pool.
    pub fn new(args: &HttpArgs, jobs: usize) -> Result<Client, Error> {
        let base = parse_base_url(&args.api_url)?;
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(format!(
                "{}/{} (cxg harvester for CZ CELLxGENE Discover)",
                tool(),
                env!("CARGO_PKG_VERSION")
            ))
            .timeout_connect(Some(Duration::from_secs(args.connect_timeout.max(1))))
            .timeout_recv_response(Some(Duration::from_secs(args.timeout.max(1))))
            .timeout_recv_body(Some(Duration::from_secs(args.timeout.max(1))))
            .max_idle_connections_per_host(jobs.max(3))
            .max_idle_connections(jobs.max(3) * 2);
        if is_loopback(&base) {
            // Never send loopback traffic through a proxy from the environment.
            cfg = cfg.proxy(None);
        }
        Ok(Client {
            agent: cfg.build().into(),
            base,
            retries: args.retries,
            backoff: Duration::from_millis(args.backoff_ms),
            max_bytes: args.max_bytes,
            requests: AtomicU64::new(0),
            down: std::sync::Mutex::new(None),
            failing: AtomicU64::new(0),
            bad_in_a_row: AtomicU64::new(0),
            notify: Box::new(|m| warn(m)),
            log: match &args.log_requests {
                Some(p) => Some(crate::log::RequestLog::open(p)?),
                None => None,
            },
        })
    }

    /// Send retry notices to `f` instead of stderr.
    pub fn with_notify(mut self, diag: cxg_core::ctx::Diag) -> Client {
        self.notify = Box::new(move |m| diag.warn(m));
        self
    }

    /// The base URL requests are made under.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// How many HTTP requests (attempts) this client has made.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Why the service was taken as down, if it was.
    pub fn down(&self) -> Option<String> {
        self.down_state().map(|d| d.why)
    }

    fn down_state(&self) -> Option<Down> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn attempt(&self, url: &str) -> Attempt {
        self.requests.fetch_add(1, Ordering::Relaxed);
        ATTEMPTS.with(|n| n.set(n.get() + 1));
        let mut resp = match self.agent.get(url).call() {
            Ok(r) => r,
            Err(e) => return transport_failure(e),
        };
        let status = resp.status().as_u16();
        STATUS.with(|s| s.set(status));
        let limit = self.max_bytes;
        if (200..300).contains(&status) {
            let body = resp.body_mut().with_config().limit(limit).read_to_vec();
            return match body {
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
            };
        }
        // An error body only gives the message: its first 64 KiB are plenty
        // (a server answering errors with a huge body costs no memory).
        let mut head = Vec::new();
        let _ = std::io::Read::read_to_end(
            &mut std::io::Read::take(resp.body_mut().as_reader(), ERROR_BODY_MAX),
            &mut head,
        );
        let detail = problem_detail(&head);
        let msg = format!("{}: {detail}", reason(status));
        if status == 429 || status >= 500 {
            let ra = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(|v| retry_after(v, std::time::SystemTime::now()));
            match ra {
                Some(RetryAfter::TooLong(w)) => Attempt::Fail {
                    msg: format!(
                        "{msg} (the server asks to retry after {} s, more than the {} s waited at most)",
                        w.as_secs(),
                        MAX_RETRY_AFTER.as_secs()
                    ),
                    status: Some(status),
                    service: true,
                },
                Some(RetryAfter::Wait(w)) => Attempt::Retry {
                    msg,
                    status: Some(status),
                    unreachable: false,
                    wait: Some(w),
                },
                Some(RetryAfter::Backoff) | None => Attempt::Retry {
                    msg,
                    status: Some(status),
                    unreachable: false,
                    wait: None,
                },
            }
        } else {
            Attempt::Fail {
                msg,
                status: Some(status),
                // 401, 403 (for an id already checked to be a UUID) and 407
                // are the service refusing us, not a problem of one record:
                // they count towards SERVICE_DOWN_AFTER
                service: false,
            }
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
            match self.attempt(&url) {
                Attempt::Done(body) => {
                    self.failing.store(0, Ordering::Relaxed);
                    return Ok(body);
                }
                Attempt::Fail {
                    msg,
                    status,
                    service,
                } => {
                    // 401, 403 (for an id already checked to be a UUID) and
                    // 407 are the service refusing us, not one record's fault
                    let refused = matches!(status, Some(401 | 403 | 407));
                    let service = if service {
                        self.mark_down(format!("an earlier request failed: {msg}"), status, false);
                        true
                    } else if refused {
                        self.count_failure(attempt, status)
                    } else {
                        self.failing.store(0, Ordering::Relaxed);
                        false
                    };
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
                } => {
                    if attempt > self.retries {
                        let service = if unreachable {
                            self.mark_down(
                                "the host could not be reached by an earlier request".into(),
                                None,
                                true,
                            );
                            true
                        } else {
                            self.count_failure(attempt, status)
                        };
                        return Err(HttpError {
                            url,
                            status,
                            msg,
                            unreachable,
                            service,
                            attempts: attempt,
                        });
                    }
                    let wait =
                        wait.unwrap_or_else(|| backoff_wait(self.backoff, attempt, jitter()));
                    let what = match status {
                        Some(s) => format!("HTTP {s} {msg}"),
                        None => msg,
                    };
                    (self.notify)(&format!(
                        "GET {url}: {what}; retry {attempt} of {} in {:.1} s",
                        self.retries,
                        wait.as_secs_f64()
                    ));
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

/// True for the error a failed name lookup gives (std reports
/// getaddrinfo failures as an uncategorised I/O error).
fn is_lookup_failure(e: &std::io::Error) -> bool {
    e.to_string().contains("failed to lookup address")
}

fn transport_failure(e: ureq::Error) -> Attempt {
    use std::io::ErrorKind as K;
    let (retry, unreachable) = match &e {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => (true, true),
        ureq::Error::Io(io) => (
            true,
            is_lookup_failure(io)
                || matches!(
                    io.kind(),
                    K::ConnectionRefused
                        | K::AddrNotAvailable
                        | K::NetworkUnreachable
                        | K::HostUnreachable
                ),
        ),
        ureq::Error::Timeout(t) => (
            true,
            matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        ),
        ureq::Error::Protocol(_) => (true, false),
        _ => (false, false),
    };
    let msg = e.to_string();
    if retry {
        Attempt::Retry {
            msg,
            status: None,
            unreachable,
            wait: None,
        }
    } else {
        Attempt::Fail {
            msg,
            status: None,
            service: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
        assert!(is_loopback("http://127.0.0.1:1/a"));
        assert!(is_loopback("http://localhost:1/a"));
        assert!(is_loopback("http://[::1]:1/a"));
        assert!(!is_loopback(DEFAULT_API_URL));
    }

    #[test]
    fn an_unreachable_host_stops_later_requests_at_once() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let args = HttpArgs {
            api_url: format!("http://127.0.0.1:{port}/curation/v1"),
            retries: 1,
            backoff_ms: 1,
            connect_timeout: 2,
            timeout: 2,
            log_requests: None,
            max_bytes: 1 << 20,
        };
        let c = Client::new(&args, 1).unwrap();
        let first = c.get("/collections").unwrap_err();
        assert!(first.unreachable && first.attempts == 2, "{first}");
        assert_eq!(c.requests(), 2);
        // the next request is not tried: no new attempt, same diagnosis
        let second = c.get("/datasets").unwrap_err();
        assert!(second.unreachable, "{second}");
        assert!(second.msg.starts_with("not attempted"), "{second}");
        assert_eq!(c.requests(), 2);
        assert!(second.into_error().msg.contains("make demo"));
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.5..1.0).contains(&j));
        }
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

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let secs = |n| RetryAfter::Wait(Duration::from_secs(n));
        assert_eq!(retry_after("4", now), secs(4));
        assert_eq!(retry_after(" 120 ", now), secs(120));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:41 GMT", now), secs(4));
        // a date in the past, zero, or garbage: the backoff, never a hot loop
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            RetryAfter::Backoff
        );
        assert_eq!(retry_after("0", now), RetryAfter::Backoff);
        assert_eq!(retry_after("soon", now), RetryAfter::Backoff);
        assert_eq!(retry_after("-5", now), RetryAfter::Backoff);
        // too long to wait for: give up
        assert_eq!(
            retry_after("121", now),
            RetryAfter::TooLong(Duration::from_secs(121))
        );
        assert!(matches!(
            retry_after("999999999999999999999999", now),
            RetryAfter::TooLong(_)
        ));
        assert!(matches!(
            retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now),
            RetryAfter::TooLong(_)
        ));
    }

    #[test]
    fn backoff_saturates() {
        let b = Duration::from_millis(1);
        assert_eq!(backoff_wait(b, 1, 1.0), Duration::from_millis(1));
        assert_eq!(backoff_wait(b, 3, 0.5), Duration::from_millis(2));
        assert_eq!(backoff_wait(b, 100, 1.0), Duration::from_secs(30));
        assert_eq!(
            backoff_wait(Duration::from_secs(600), u32::MAX, 1.0),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1X").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn lookup_failures_count_as_unreachable() {
        let e = std::io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        );
        assert!(matches!(
            transport_failure(ureq::Error::Io(e)),
            Attempt::Retry {
                unreachable: true,
                ..
            }
        ));
        assert!(matches!(
            transport_failure(ureq::Error::HostNotFound),
            Attempt::Retry {
                unreachable: true,
                ..
            }
        ));
    }
}
