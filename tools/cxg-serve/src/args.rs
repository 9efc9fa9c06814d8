//! The command line: the snapshot folder, the port, and the faults a
//! test can inject.

use clap::Parser;
use cxg_core::cli::OutputArgs;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # serve the committed sample snapshot on a free port; the first line of
  # stdout is the base URL to pass to the other tools
  cxg-serve --port 0 tests/fixtures/snapshot

  # replay a saved harvest offline
  cxg-serve --port 8080 my-snapshot &
  cxg-fetch --api-url http://127.0.0.1:8080/curation/v1 collections

  # a flaky API for testing clients: 50 ms latency, every 5th request 503
  cxg-serve --port 0 --latency-ms 50 --fail-every 5 --fail-status 503 DIR

  # a hostile one: every answer about a dataset is another dataset's
  cxg-serve --port 0 --fail-every 1 --fault wrong-id --fail-match /datasets/ DIR

  # serve asset bytes too (cxg-gen --assets), with the index pointing at them;
  # the first two H5AD transfers are cut mid-way, all go at 1 MB/s
  cxg-gen --assets /tmp/snap
  cxg-serve --port 0 --local-assets --fail-match .h5ad --fail-first 2 --truncate --rate 1000000 /tmp/snap";

const LAYOUT: &str = "\
Snapshot folder layout:
  DIR/collections.json                          GET /curation/v1/collections
  DIR/datasets.json                             GET /curation/v1/datasets
    (or DIR/datasets_index.json, as a harvest snapshot holds it)
  DIR/collections/<cid>.json                    GET /curation/v1/collections/<cid>
  DIR/collections/<cid>/datasets/<did>.json     GET /curation/v1/collections/<cid>/datasets/<did>
  DIR/gone.json (optional)                      JSON array of ids answered 410 Gone
  DIR/assets/<name> (optional)                  GET /assets/<name>: file bytes, with Range
  DIR/assets/<name>.etag (optional)             its ETag (else one from size and mtime)
Missing resources answer 404 problem+json; ids that are not UUIDs 403, as the real API does.

Faults (--fault KIND, for the requests --fail-first/--fail-every pick):
  status       the --fail-status code with a problem+json body (default)
  truncate     200 with half the body, then the connection closes
  wrong-shape  200 with {\"error\": ...} instead of the record
  wrong-id     200 with the record's collection_id/dataset_id replaced
  endless      200 with a body that never ends
  gzip-bomb    200, gzip-encoded, expanding to --bomb-mib MiB
Idle connections close after --idle-timeout; a request head slower than
--head-timeout gets 408; a request line over 8 KiB 414; headers over 64 KiB 431.";

/// The kinds of injected fault, for testing clients against a hostile or
/// broken server.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// An error status (--fail-status) with a problem+json body
    Status,
    /// 200 with half the body, then the connection closes
    Truncate,
    /// 200 with a JSON object that is not what was asked for: {"error": ...}
    WrongShape,
    /// 200 with the record, but its collection_id / dataset_id changed to
    /// another id
    WrongId,
    /// 200 with a body that never ends (no Content-Length; bytes until the
    /// client goes away)
    Endless,
    /// 200 with `Content-Encoding: gzip`: a small body that expands to
    /// --bomb-mib MiB
    GzipBomb,
}

/// Serve a snapshot folder as the read-only curation API on 127.0.0.1.
#[derive(Parser, Debug, Clone)]
#[command(name = "cxg-serve", version, after_help = format!("{LAYOUT}\n\n{}", cxg_core::cli::after_help(EXAMPLES)))]
pub struct Args {
    /// Snapshot folder (see the layout below)
    pub(crate) dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Also write the base URL to this file (atomically) once listening
    #[arg(long, value_name = "FILE")]
    pub(crate) url_file: Option<PathBuf>,
    /// Delay every response by this many milliseconds
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub(crate) latency_ms: u64,
    /// Answer the first N matching requests with a fault
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) fail_first: u64,
    /// Answer every Nth matching request with a fault
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) fail_every: u64,
    /// Status of an injected fault (e.g. 503, 429, 500)
    #[arg(long, default_value_t = 503, value_name = "CODE", value_parser = clap::value_parser!(u16).range(200..=599))]
    pub(crate) fail_status: u16,
    /// Send `Retry-After: SECS` with injected faults
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub(crate) retry_after: Option<u64>,
    /// Send Retry-After as an HTTP date (now + SECS) instead of seconds
    #[arg(long, requires = "retry_after")]
    pub(crate) retry_after_date: bool,
    /// What an injected fault is (see "Faults" below)
    #[arg(long, value_enum, default_value_t = Fault::Status, value_name = "KIND")]
    pub(crate) fault: Fault,
    /// Injected faults send a truncated 200 body (same as --fault truncate)
    #[arg(long)]
    pub(crate) truncate: bool,
    /// Size of the decompressed body that --fault gzip-bomb sends, in MiB
    #[arg(long, default_value_t = 1024, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub(crate) bomb_mib: u64,
    /// Close a kept-alive connection idle for this many seconds
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) idle_timeout: u64,
    /// Answer 408 and close when a request head takes longer than this
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) head_timeout: u64,
    /// Only requests whose path contains TEXT count for faults (injected ones
    /// and --no-range, --wrong-size, --rate)
    #[arg(long, value_name = "TEXT")]
    pub(crate) fail_match: Option<String>,
    /// Append one line per request to FILE: `N METHOD PATH STATUS`
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    /// Exit by itself after this many seconds (a safety net for scripts)
    #[arg(long, value_name = "SECS")]
    pub(crate) lifetime: Option<u64>,
    /// Point the asset URLs of the served JSON at this server: a `url` of
    /// https://datasets.cellxgene.cziscience.com/NAME becomes
    /// http://127.0.0.1:PORT/assets/NAME (served from DIR/assets/NAME)
    #[arg(long)]
    pub(crate) local_assets: bool,
    /// Asset requests ignore Range and answer 200 with the whole file
    #[arg(long)]
    pub(crate) no_range: bool,
    /// Asset files are served one byte shorter than on disk (and than the index says)
    #[arg(long)]
    pub(crate) wrong_size: bool,
    /// Send asset bodies at most this many bytes per second (a slow transfer)
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub(crate) rate: u64,
    // where the base URL goes (stdout or -o FILE), once listening
    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// The base URL is written to stdout, or to `-o FILE` once listening. A
/// closed stdout is no error: the URL can go to --url-file instead.
impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&Path> {
        self.out.output.as_deref()
    }

    fn writes_stdout(&self) -> bool {
        false
    }
}
