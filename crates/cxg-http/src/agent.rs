//! The one agent builder: timeouts from [`NetArgs`], a User-Agent naming
//! the tool, a connection pool sized for the tool's parallel requests, no
//! proxy for loopback traffic, and a name resolver whose failures carry
//! their own type, so that a name that does not resolve is recognised as a
//! host that cannot be reached without reading the message.

use crate::args::NetArgs;
use std::fmt;
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// How long a response body may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTimeout {
    /// `--timeout` for the whole body (API answers of a few MB).
    Total,
    /// `--timeout` between two reads: a body that keeps flowing may take as
    /// long as it needs (file transfers of many GB).
    Idle,
}

/// The agent of a tool: `jobs` requests in flight at once; `loopback`
/// when every URL it will ask is on this machine (then a proxy from the
/// environment is never used).
pub fn agent(args: &NetArgs, body: BodyTimeout, jobs: usize, loopback: bool) -> ureq::Agent {
    let timeout = Some(Duration::from_secs(args.timeout.max(1)));
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(format!(
            "{}/{} (cxg harvester for CZ CELLxGENE Discover)",
            cxg_core::cli::tool(),
            env!("CARGO_PKG_VERSION")
        ))
        .timeout_connect(Some(Duration::from_secs(args.connect_timeout.max(1))))
        .timeout_recv_response(timeout)
        .max_idle_connections_per_host(jobs.max(3))
        .max_idle_connections(jobs.max(3) * 2)
        // a redirect that is not followed (too many, or to a scheme other
        // than http(s)) comes back as the 3xx answer, which
        // [`crate::redirect_refused`] explains
        .max_redirects_will_error(false);
    cfg = match body {
        BodyTimeout::Total => cfg.timeout_recv_body(timeout),
        BodyTimeout::Idle => cfg.timeout_recv_body(None).timeout_per_read(timeout),
    };
    if loopback {
        cfg = cfg.proxy(None);
    }
    ureq::Agent::with_parts(cfg.build(), DefaultConnector::new(), Lookup::default())
}

/// True when the URL's host is loopback (127.0.0.0/8, ::1, localhost):
/// such requests never go through a proxy from the environment.
pub fn is_loopback(url: &str) -> bool {
    let host = url.parse::<ureq::http::Uri>().ok().and_then(|u| {
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

/// ureq's resolver, with the I/O error of a failed lookup (which std
/// reports with no kind of its own) wrapped in [`LookupFailed`].
#[derive(Debug, Default)]
struct Lookup(DefaultResolver);

impl Resolver for Lookup {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.0.resolve(uri, config, timeout).map_err(|e| match e {
            ureq::Error::Io(io) => {
                ureq::Error::Io(std::io::Error::new(io.kind(), LookupFailed(io)))
            }
            other => other,
        })
    }
}

/// A name lookup that failed; it reads as the error it wraps.
#[derive(Debug)]
struct LookupFailed(std::io::Error);

impl fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LookupFailed {}

/// True for the I/O error of a failed name lookup (by its type).
pub(crate) fn is_lookup_failure(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<LookupFailed>())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::policy::{transport_verdict, Verdict};

    fn net() -> NetArgs {
        NetArgs {
            retries: 0,
            backoff_ms: 1,
            connect_timeout: 5,
            timeout: 5,
            log_requests: None,
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:1/a"));
        assert!(is_loopback("http://localhost:1/a"));
        assert!(is_loopback("http://[::1]:1/a"));
        assert!(!is_loopback(crate::args::DEFAULT_API_URL));
    }

    /// `.invalid` never resolves (RFC 6761): the lookup fails, is known as
    /// a lookup failure by its type, reads as the resolver's own message,
    /// and the host counts as unreachable.
    #[test]
    fn a_name_that_does_not_resolve_is_a_host_that_cannot_be_reached() {
        for body in [BodyTimeout::Total, BodyTimeout::Idle] {
            let a = agent(&net(), body, 1, false);
            let e = a.get("http://nonexistent.invalid/x").call().unwrap_err();
            let ureq::Error::Io(io) = &e else {
                panic!("not an I/O error: {e:?}")
            };
            assert!(is_lookup_failure(io), "{e:?}");
            assert!(!e.to_string().contains("LookupFailed"), "{e}");
            assert_eq!(
                transport_verdict(&e),
                Verdict::Retry {
                    wait: None,
                    unreachable: true
                }
            );
        }
    }

    #[test]
    fn a_refused_connection_is_a_host_that_cannot_be_reached() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let a = agent(&net(), BodyTimeout::Total, 1, true);
        let e = a
            .get(&format!("http://127.0.0.1:{port}/"))
            .call()
            .unwrap_err();
        assert!(
            matches!(
                transport_verdict(&e),
                Verdict::Retry {
                    unreachable: true,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
