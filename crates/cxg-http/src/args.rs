//! The HTTP options, declared once: [`NetArgs`] (retries, backoff, timeouts,
//! the request log) is what every tool that makes requests shares, and
//! [`HttpArgs`] adds what the API tools need besides (the base URL, the
//! largest body). cxg-download flattens [`NetArgs`] into its own options.
//! Every number is bounded, so no option can overflow a clock or a counter.

use std::path::PathBuf;

/// The production curation API.
pub(crate) const DEFAULT_API_URL: &str = "https://api.cellxgene.cziscience.com/curation/v1";

/// The options of every tool that makes requests. The help texts are the
/// API tools' wording; a tool whose requests mean something else (a file
/// transfer) rewords them with `mut_arg`, keeping names, bounds and
/// defaults.
#[derive(clap::Args, Clone, Debug)]
pub struct NetArgs {
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
    pub log_requests: Option<PathBuf>,
}

/// The HTTP options of the tools that talk to the API: the base URL,
/// [`NetArgs`], and the largest body accepted.
#[derive(clap::Args, Clone, Debug)]
pub struct HttpArgs {
    /// Base URL of the curation API (http or https)
    #[arg(long, env = "CXG_API_URL", default_value = DEFAULT_API_URL, value_name = "URL", help_heading = "Common options", global = true)]
    pub api_url: String,
    #[command(flatten)]
    pub net: NetArgs,
    /// Largest response body accepted, after decompression: bytes, or with K, M or G
    #[arg(long, default_value = "1G", value_name = "SIZE", value_parser = parse_size, help_heading = "Common options", global = true)]
    pub max_bytes: u64,
}

/// A size: plain bytes, or a number with K, M or G (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
}
