//! The one retry policy: which failures are worth another attempt (by the
//! HTTP status, or by ureq's error variant and the I/O error's kind, never
//! by message text), which mean the host cannot be reached at all, how long
//! to wait (exponential backoff with jitter, or the server's
//! `Retry-After`), and when to give up.

use crate::args::NetArgs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` we honour.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// The longest wait between two attempts from the backoff.
const MAX_BACKOFF: f64 = 30.0;

/// What a failed attempt calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again: after `wait` when the server asked for it
    /// (`Retry-After`), else after the backoff. `unreachable`: the host
    /// could not be reached at all (refused, no route, the name does not
    /// resolve, the connection timed out).
    Retry {
        wait: Option<Duration>,
        unreachable: bool,
    },
    /// The server asks to wait longer than [`MAX_RETRY_AFTER`]: it is not
    /// coming back soon, so retrying is pointless. A failure of the
    /// service, not of the request.
    TooLong(Duration),
    /// Not worth another attempt (a 4xx, a bad URL, ...).
    Fail,
}

impl Verdict {
    /// What a `TooLong` adds to the failure's message.
    pub fn too_long_note(wait: Duration) -> String {
        format!(
            " (the server asks to retry after {} s, more than the {} s waited at most)",
            wait.as_secs(),
            MAX_RETRY_AFTER.as_secs()
        )
    }
}

/// The verdict on an HTTP answer that is not a success: 429 and 5xx are
/// retried (after the `Retry-After` the server gives, when it gives one),
/// anything else is not.
pub fn status_verdict(status: u16, retry_after_header: Option<&str>) -> Verdict {
    if status != 429 && status < 500 {
        return Verdict::Fail;
    }
    let asked = retry_after_header.map(|v| retry_after(v, SystemTime::now()));
    match asked {
        Some(RetryAfter::TooLong(w)) => Verdict::TooLong(w),
        Some(RetryAfter::Wait(w)) => Verdict::Retry {
            wait: Some(w),
            unreachable: false,
        },
        Some(RetryAfter::Backoff) | None => Verdict::Retry {
            wait: None,
            unreachable: false,
        },
    }
}

/// The verdict on a request that got no answer: connection errors,
/// timeouts and protocol errors are retried; the host is unreachable when
/// the name did not resolve, the connection was refused or had no route,
/// or connecting timed out.
pub fn transport_verdict(e: &ureq::Error) -> Verdict {
    use std::io::ErrorKind as K;
    let (retry, unreachable) = match e {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => (true, true),
        ureq::Error::Io(io) => (
            true,
            crate::agent::is_lookup_failure(io)
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
    if retry {
        Verdict::Retry {
            wait: None,
            unreachable,
        }
    } else {
        Verdict::Fail
    }
}

/// Why a 3xx answer came back instead of being followed (the agent
/// follows http(s) redirects up to its limit): a Location with another
/// scheme (`file:`, `ftp:`) is refused, else there were too many. None for
/// an answer that is not a redirect.
pub fn redirect_refused(status: u16, location: Option<&str>) -> Option<String> {
    if !(300..400).contains(&status) || status == 304 {
        return None;
    }
    let Some(loc) = location else {
        return Some(format!("HTTP {status}: a redirect without a Location"));
    };
    let scheme = loc.split_once(':').map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
    });
    match scheme {
        Some(s) if !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https") => Some(format!(
            "HTTP {status}: a redirect to '{loc}': the scheme '{s}' is refused (only http and https redirects are followed)"
        )),
        _ => Some(format!(
            "HTTP {status}: too many redirects (the last to '{loc}')"
        )),
    }
}

/// How many times to retry and how long to wait: `--retries` and
/// `--backoff-ms`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub retries: u32,
    pub backoff: Duration,
}

impl Retry {
    pub fn new(args: &NetArgs) -> Retry {
        Retry {
            retries: args.retries,
            backoff: Duration::from_millis(args.backoff_ms),
        }
    }

    /// The wait before retry number `n` (1-based): the server's `asked`
    /// wait, else the backoff. `None` once the retries are spent.
    pub fn wait(&self, n: u32, asked: Option<Duration>) -> Option<Duration> {
        (n <= self.retries)
            .then(|| asked.unwrap_or_else(|| backoff_wait(self.backoff, n, jitter())))
    }

    /// The notice of retry `n` after `wait`: "retry 1 of 4 in 0.5 s".
    pub fn notice(&self, n: u32, wait: Duration) -> String {
        format!(
            "retry {n} of {} in {:.1} s",
            self.retries,
            wait.as_secs_f64()
        )
    }
}

static JITTER: AtomicU64 = AtomicU64::new(0);

/// A factor in [0.5, 1.0) from a splitmix64 sequence seeded by the clock.
pub(crate) fn jitter() -> f64 {
    let mut seed = JITTER.load(Ordering::Relaxed);
    if seed == 0 {
        seed = SystemTime::now()
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

/// What a `Retry-After` value asks for: delay-seconds or an HTTP date
/// (RFC 9110 10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryAfter {
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
pub(crate) fn retry_after(value: &str, now: SystemTime) -> RetryAfter {
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
pub(crate) fn backoff_wait(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let exp = 2f64.powi(attempt.saturating_sub(1).min(60) as i32);
    let secs = (base.as_secs_f64() * exp * jitter).clamp(0.0, MAX_BACKOFF);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs(MAX_BACKOFF as u64))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.5..1.0).contains(&j));
        }
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
    fn statuses() {
        let retry = |wait| Verdict::Retry {
            wait,
            unreachable: false,
        };
        // one line a case: status, Retry-After, verdict
        let cases = [
            (503, None, retry(None)),
            (429, Some("2"), retry(Some(Duration::from_secs(2)))),
            (500, Some("soon"), retry(None)),
            (502, Some("0"), retry(None)),
            (503, Some("600"), Verdict::TooLong(Duration::from_secs(600))),
            (404, None, Verdict::Fail),
            (410, Some("5"), Verdict::Fail),
            (403, None, Verdict::Fail),
            (416, None, Verdict::Fail),
        ];
        for (status, ra, want) in cases {
            assert_eq!(status_verdict(status, ra), want, "{status} {ra:?}");
        }
    }

    #[test]
    fn transport_failures_by_variant_and_kind() {
        use std::io::{Error as E, ErrorKind as K};
        let unreachable = Verdict::Retry {
            wait: None,
            unreachable: true,
        };
        let retry = Verdict::Retry {
            wait: None,
            unreachable: false,
        };
        let cases = [
            (ureq::Error::HostNotFound, unreachable),
            (ureq::Error::ConnectionFailed, unreachable),
            (ureq::Error::Io(E::from(K::ConnectionRefused)), unreachable),
            (ureq::Error::Io(E::from(K::HostUnreachable)), unreachable),
            (ureq::Error::Timeout(ureq::Timeout::Connect), unreachable),
            (ureq::Error::Timeout(ureq::Timeout::Resolve), unreachable),
            (ureq::Error::Io(E::from(K::ConnectionReset)), retry),
            (ureq::Error::Timeout(ureq::Timeout::RecvBody), retry),
            // the words of a lookup failure, without its type, are not one
            (
                ureq::Error::Io(E::other("failed to lookup address information")),
                retry,
            ),
            (ureq::Error::BadUri("x".into()), Verdict::Fail),
        ];
        for (e, want) in cases {
            assert_eq!(transport_verdict(&e), want, "{e:?}");
        }
    }

    #[test]
    fn the_retries_are_counted_and_the_asked_wait_wins() {
        let r = Retry {
            retries: 2,
            backoff: Duration::from_millis(100),
        };
        let w = r.wait(1, None).unwrap();
        assert!(w >= Duration::from_millis(50) && w < Duration::from_millis(100));
        assert_eq!(
            r.wait(2, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(r.wait(3, None), None);
        assert_eq!(
            r.notice(1, Duration::from_millis(1500)),
            "retry 1 of 2 in 1.5 s"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod redirect_tests {
    use super::*;

    /// Answers every request on the connection 302 to a file: URL, each
    /// after its whole head is read, until the client closes: closing
    /// with a request unread, or while the client reuses the connection,
    /// would reset it before the client reads the answer.
    fn answer_302(mut s: std::net::TcpStream) {
        use std::io::{Read, Write};
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut head = Vec::new();
        let mut b = [0u8; 4096];
        loop {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&b[..n]),
            }
            while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                head.drain(..end + 4);
                let _ = s.write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n",
                );
            }
        }
    }

    /// A one-redirect server on 127.0.0.1: every request is answered 302
    /// to `to`. The agent does not follow it, and says why.
    #[test]
    fn a_redirect_to_another_scheme_is_refused_by_name() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let s = s.unwrap();
                std::thread::spawn(move || answer_302(s));
            }
        });
        let args = crate::args::NetArgs {
            retries: 0,
            backoff_ms: 1,
            connect_timeout: 5,
            timeout: 5,
            log_requests: None,
        };
        let a = crate::agent(&args, crate::BodyTimeout::Total, 1, true);
        let r = a.get(&format!("http://127.0.0.1:{port}/x")).call().unwrap();
        let loc = r.headers().get("location").and_then(|v| v.to_str().ok());
        assert_eq!(
            redirect_refused(r.status().as_u16(), loc).unwrap(),
            "HTTP 302: a redirect to 'file:///etc/passwd': the scheme 'file' is refused (only http and https redirects are followed)"
        );
        assert_eq!(redirect_refused(200, None), None);
        assert_eq!(redirect_refused(304, None), None);
        assert_eq!(
            redirect_refused(301, Some("https://x.org/a")).unwrap(),
            "HTTP 301: too many redirects (the last to 'https://x.org/a')"
        );
        assert_eq!(
            redirect_refused(302, Some("/relative:path")).unwrap(),
            "HTTP 302: too many redirects (the last to '/relative:path')"
        );
    }
}
