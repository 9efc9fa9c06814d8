//! The command line. The HTTP options are cxg-http's [`NetArgs`] (the
//! names, bounds and defaults every requesting tool shares), worded here
//! for file transfers: a retry concerns a transfer that made no progress,
//! and `--timeout` is the longest wait without a byte (an API tool's is
//! the whole answer's).

use clap::Parser;
use cxg_http::NetArgs;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # every H5AD of the harvest into data/h5ad/, 8 at a time, with a manifest
  cxg-download --dir data/h5ad -j 8 data/all_datasets_h5ad.csv -o data/h5ad/manifest.csv

  # what would be transferred, and is there room for it
  cxg-download --dir data/h5ad --dry-run data/all_datasets_h5ad.csv

  # interrupted? the same command again continues where it stopped
  cxg-download --dir data/h5ad data/all_datasets_h5ad.csv -o data/h5ad/manifest.csv

  # re-hash the files on disk and compare with the last manifest
  cxg-download --dir data/h5ad --verify --previous data/h5ad/manifest.csv data/all_datasets_h5ad.csv

  # straight from the datasets index: only lung datasets, chosen with jq
  cxg-fetch datasets | jq -c '.[] | select(any(.tissue[]; .label == \"lung\"))' | cxg-download --dir lung";

const RETRIES: &str = "Retries of a transfer that made no progress (connection error, \
    timeout, 429, 5xx, dropped body); a transfer that made progress continues from the bytes on disk";
const BACKOFF: &str = "First retry delay in milliseconds (doubles each retry, with jitter)";
const CONNECT: &str = "Seconds to wait for a connection";
const TIMEOUT: &str = "Seconds without any byte arriving (waiting for an answer, or in the \
    middle of a body) before a request is given up and retried; a transfer that keeps \
    receiving bytes may take as long as it needs";
const LOG: &str = "Append one JSON line per file transfer to FILE: URL, status, attempts, \
    bytes, duration, SHA-256 of the file (provenance)";

/// Download the H5AD files of a CSV or of dataset records, verified and resumable.
///
/// Sizes the input does not give are asked of the server first (one
/// `Range: bytes=0-0` request per file), so that the free-space check and
/// `present` count them. A host that cannot be reached fails its own rows
/// (exit 1); exit 3 (every transfer failed for the service's reasons)
/// still writes the manifest (-o) and --failures, so that what is present
/// and what failed stays on record.
#[derive(Parser, Debug)]
#[command(name = "cxg-download", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
#[command(
    mut_arg("retries", |a| a.help(RETRIES)),
    mut_arg("backoff_ms", |a| a.help(BACKOFF)),
    mut_arg("connect_timeout", |a| a.help(CONNECT)),
    mut_arg("timeout", |a| a.help(TIMEOUT)),
    mut_arg("log_requests", |a| a.help(LOG))
)]
pub struct Args {
    /// cxg-h5ad CSV (an h5ad_url column; h5ad_filesize, dataset_id and
    /// dataset_version_id when present) or JSON (array or lines) of dataset
    /// records with assets; `-` or none: stdin
    pub file: Option<PathBuf>,
    /// A saved datasets index (`cxg-fetch datasets`): sizes the input lacks
    /// are taken from its H5AD assets (matched by URL), so no request is
    /// needed to learn them
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// Folder the files go into, named <dataset_version_id>.h5ad as in the URL
    #[arg(long, default_value = "h5ad", value_name = "DIR")]
    pub dir: PathBuf,
    /// Files in flight at once
    #[arg(short = 'j', long, default_value_t = 4, value_name = "N", value_parser = cxg_core::cli::jobs())]
    pub jobs: u16,
    /// Write the rows that failed to FILE as CSV (the manifest's columns)
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// Say what would be transferred (files, bytes, present) and transfer nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse to start (exit 2, nothing transferred) when the bytes still
    /// to fetch exceed SIZE (bytes, or with a unit: 500M, 50G, 2T; powers
    /// of 1024); the plan is printed first. `make download` passes its
    /// MAX_DOWNLOAD (50G) unless CONFIRM=yes
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_total: Option<u64>,
    /// Re-hash files already present (and compare with --previous)
    #[arg(long)]
    pub verify: bool,
    /// A manifest of an earlier run: its SHA-256 of files still present,
    /// of the same size and unchanged since it was written (inode change
    /// time older than the manifest), is reused (no re-hash); --verify
    /// re-hashes and compares against it
    #[arg(long, value_name = "MANIFEST")]
    pub previous: Option<PathBuf>,
    /// What a plain-MD5 ETag that the bytes do not match means. auto: the
    /// file is transferred once more; the same SHA-256 twice means the
    /// host's ETags are not MD5s of the content (S3 SSE-KMS, some copies):
    /// the file is kept (verified_by size+repeat) and that host's ETags are
    /// not checked again in this run. strict: the file fails. off: ETags
    /// are never checked
    #[arg(long, value_enum, default_value_t = EtagCheck::Auto, value_name = "POLICY")]
    pub etag_check: EtagCheck,
    /// No progress bar and no summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
    /// Free bytes to assume on DIR's filesystem (tests)
    #[arg(long, hide = true, env = "CXG_DOWNLOAD_FREE_BYTES")]
    pub assume_free_bytes: Option<u64>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `--etag-check`: how far an ETag is trusted to be the content's MD5.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagCheck {
    /// Check; on a plain-MD5 mismatch transfer once more and compare
    Auto,
    /// Check; a mismatch fails the file
    Strict,
    /// Never check ETags
    Off,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&Path> {
        self.out.output.as_deref()
    }
}

/// A size: bytes, or a number with a unit K, M, G, T (powers of 1024; an
/// optional B or iB after it, any case).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let lower = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, shift) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 10),
        Some('m') => (&lower[..lower.len() - 1], 20),
        Some('g') => (&lower[..lower.len() - 1], 30),
        Some('t') => (&lower[..lower.len() - 1], 40),
        _ => (lower, 0),
    };
    let bad = || format!("'{t}' is not a size (bytes, or a number with K, M, G or T: 50G)");
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    Ok((n * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        for (s, want) in [
            ("0", Some(0)),
            ("1234", Some(1234)),
            ("50G", Some(50 << 30)),
            ("50GB", Some(50 << 30)),
            ("1.5k", Some(1536)),
            ("2TiB", Some(2 << 40)),
            ("10 M", Some(10 << 20)),
            ("G", None),
            ("-1", None),
            ("5X", None),
        ] {
            assert_eq!(parse_size(s).ok(), want, "{s}");
        }
    }
}
