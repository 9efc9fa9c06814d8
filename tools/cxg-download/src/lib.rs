//! cxg-download: verified, resumable, parallel H5AD downloads. Reads the
//! CSV that `cxg-h5ad` writes (or dataset records with `assets`), fetches
//! every H5AD into `--dir` with `-j` transfers in flight, and writes a
//! manifest row per input row, in input order: path, bytes, SHA-256,
//! status (`downloaded`, `resumed`, `present`, `failed`) and how the file
//! was verified. A file appears under its final name only complete and
//! checked; an interrupted run leaves `.part` files that the next run
//! continues with Range requests.

pub mod fetch;
pub mod hash;

use clap::Parser;
use cxg_core::cli::warn;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, AtomicFile, Input};
use cxg_core::{Error, Outcome, Result};
use cxg_json::stream::JsonStream;
use fetch::{Done, Job, Known, Net, Status};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    #[arg(short = 'j', long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Write the rows that failed to FILE as CSV (the manifest's columns)
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// Say what would be transferred (files, bytes, present) and transfer nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Re-hash files already present (and compare with --previous)
    #[arg(long)]
    pub verify: bool,
    /// A manifest of an earlier run: its SHA-256 of files still present,
    /// of the same size and unchanged since it was written (inode change
    /// time older than the manifest), is reused (no re-hash); --verify
    /// re-hashes and compares against it
    #[arg(long, value_name = "MANIFEST")]
    pub previous: Option<PathBuf>,
    /// No progress bar and no summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
    /// Free bytes to assume on DIR's filesystem (tests)
    #[arg(long, hide = true, env = "CXG_DOWNLOAD_FREE_BYTES")]
    pub assume_free_bytes: Option<u64>,
    /// Retries of a transfer that made no progress (connection error,
    /// timeout, 429, 5xx, dropped body); a transfer that made progress
    /// continues from the bytes on disk
    #[arg(
        long,
        default_value_t = 4,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..=100),
        help_heading = "Common options"
    )]
    pub retries: u32,
    /// First retry delay in milliseconds (doubles each retry, with jitter)
    #[arg(
        long,
        default_value_t = 500,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(0..=600_000),
        help_heading = "Common options"
    )]
    pub backoff_ms: u64,
    /// Seconds to wait for a connection
    #[arg(
        long,
        default_value_t = 15,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=3600),
        help_heading = "Common options"
    )]
    pub connect_timeout: u64,
    /// Seconds without any byte arriving (waiting for an answer, or in the
    /// middle of a body) before a request is given up and retried; a
    /// transfer that keeps receiving bytes may take as long as it needs
    #[arg(
        long,
        default_value_t = 300,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        help_heading = "Common options"
    )]
    pub timeout: u64,
    /// Append one JSON line per file transfer to FILE: URL, status,
    /// attempts, bytes, duration, SHA-256 of the file (provenance)
    #[arg(
        long,
        env = "CXG_LOG_REQUESTS",
        value_name = "FILE",
        help_heading = "Common options"
    )]
    pub log_requests: Option<PathBuf>,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

/// Manifest (and failures file) columns.
pub const COLUMNS: [&str; 10] = [
    "dataset_id",
    "dataset_version_id",
    "url",
    "path",
    "bytes",
    "sha256",
    "status",
    "verified_by",
    "etag",
    "reason",
];

/// One input row.
#[derive(Debug, Clone)]
struct Row {
    dataset_id: String,
    dataset_version_id: String,
    url: String,
    /// The file to get, or why the row cannot be processed.
    job: std::result::Result<Job, String>,
}

/// Check a URL and take its file name: http(s), basename `<uuid>.h5ad`.
pub fn file_name(url: &str) -> std::result::Result<String, String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!("'{url}' is not an http(s) URL"));
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("'{url}' is not a valid URL ({e})"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("'{url}' has no host"));
    }
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    match name.strip_suffix(".h5ad") {
        Some(stem) if cxg_catalog::ids::is_uuid(stem) => Ok(name.to_string()),
        _ => Err(format!(
            "the file name of '{url}' is not <uuid>.h5ad; nothing written"
        )),
    }
}

fn parse_size(s: &str) -> std::result::Result<Option<u64>, String> {
    match s.trim() {
        "" | "-1" => Ok(None),
        t => t
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("h5ad_filesize '{t}' is not a number of bytes")),
    }
}

fn row(
    dataset_id: String,
    dvid: String,
    url: String,
    size: std::result::Result<Option<u64>, String>,
) -> Row {
    let job = if url.is_empty() {
        Err("no H5AD url (h5ad_url is empty)".to_string())
    } else {
        size.and_then(|size| {
            file_name(&url).map(|name| Job {
                url: url.clone(),
                name,
                size,
                learned: false,
            })
        })
    };
    Row {
        dataset_id,
        dataset_version_id: dvid,
        url,
        job,
    }
}

fn read_csv(name: &str, r: impl std::io::Read) -> Result<Vec<Row>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(r);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::input(format!("{name}: cannot read the CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let Some(ui) = col("h5ad_url") else {
        return Err(Error::input(format!(
            "{name}: expected an h5ad_url column (cxg-h5ad output) or JSON dataset records; found columns: {}",
            if header.is_empty() { "(none)".into() } else { header.join(", ") }
        )));
    };
    let (si, di, vi) = (
        col("h5ad_filesize"),
        col("dataset_id"),
        col("dataset_version_id"),
    );
    let mut rows = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| Error::input(format!("{name}: CSV record {}: {e}", k + 1)))?;
        let cell = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or_default().to_string();
        rows.push(row(
            cell(di),
            cell(vi),
            cell(Some(ui)),
            parse_size(&cell(si)),
        ));
    }
    Ok(rows)
}

fn read_json(name: &str, r: impl std::io::Read) -> Result<Vec<Row>> {
    let mut s = JsonStream::new(name, r);
    let mut rows = Vec::new();
    while let Some((at, v)) = s.next_value()? {
        if !v.is_object() {
            return Err(Error::input(format!(
                "{name}: line {}: element {} is not a dataset object",
                at.line, at.index
            )));
        }
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let h5ad = v.get("assets").and_then(Value::as_array).and_then(|a| {
            a.iter()
                .find(|x| x.get("filetype").and_then(Value::as_str) == Some("H5AD"))
        });
        let mut r = match h5ad {
            Some(a) => {
                let url = a.get("url").and_then(Value::as_str).unwrap_or_default();
                let size = match a.get("filesize") {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::Number(n)) => parse_size(&n.to_string()),
                    Some(other) => Err(format!("filesize {other} is not a number")),
                };
                row(
                    text("dataset_id"),
                    text("dataset_version_id"),
                    url.to_string(),
                    size,
                )
            }
            None => {
                let mut r = row(
                    text("dataset_id"),
                    text("dataset_version_id"),
                    String::new(),
                    Ok(None),
                );
                r.job = Err("the record has no H5AD asset".into());
                r
            }
        };
        if r.job.is_ok() && r.dataset_version_id.is_empty() {
            r.dataset_version_id = r
                .url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".h5ad")
                .to_string();
        }
        rows.push(r);
    }
    Ok(rows)
}

/// Read the input: JSON when it starts with `{` or `[`, else CSV.
fn read_rows(input: Input) -> Result<Vec<Row>> {
    let mut r = BufReader::with_capacity(1 << 16, input.reader);
    let first = loop {
        let buf = r
            .fill_buf()
            .map_err(|e| Error::input(format!("cannot read {}: {e}", input.name)))?;
        match buf.iter().position(|c| !c.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    };
    match first {
        None => Err(Error::input(format!("{}: the input is empty", input.name))),
        Some(b'{' | b'[') => read_json(&input.name, r),
        Some(_) => read_csv(&input.name, r),
    }
}

/// Rows of a previous manifest: path -> (bytes, sha256).
fn read_previous(p: &Path) -> Result<HashMap<String, Known>> {
    let input = Input::open(Some(p))?;
    // a file whose inode changed after this is hashed again (see Known)
    let written = std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input.reader);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::input(format!("{}: cannot read the CSV header: {e}", input.name)))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(pi), Some(bi), Some(hi)) = (col("path"), col("bytes"), col("sha256")) else {
        return Err(Error::input(format!(
            "{}: not a cxg-download manifest (needs path, bytes and sha256 columns)",
            input.name
        )));
    };
    let mut map = HashMap::new();
    for (k, rec) in rdr.records().enumerate() {
        let rec =
            rec.map_err(|e| Error::input(format!("{}: CSV record {}: {e}", input.name, k + 1)))?;
        let (Some(path), Some(bytes), Some(sha)) = (rec.get(pi), rec.get(bi), rec.get(hi)) else {
            continue;
        };
        if let (Ok(bytes), false) = (bytes.parse::<u64>(), sha.is_empty()) {
            map.insert(
                path.to_string(),
                Known {
                    bytes,
                    sha256: sha.to_string(),
                    written,
                },
            );
        }
    }
    Ok(map)
}

/// Bytes in binary units, for messages.
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut i = 0;
    while x >= 1024.0 && i < U.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", U[i])
    }
}

/// What is on disk for a job before anything is transferred.
enum Plan {
    Present(u64),
    /// Bytes still to fetch (None: size unknown), and the bytes already in a `.part`.
    Fetch(Option<u64>, u64),
}

fn plan(dir: &Path, job: &Job) -> Plan {
    let dest = dir.join(&job.name);
    let final_len = std::fs::metadata(&dest)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if let (Some(l), Some(s)) = (final_len, job.size) {
        if l == s && l > 0 {
            return Plan::Present(l);
        }
    }
    let part = fetch::resumable_bytes(dir, job);
    match job.size {
        Some(s) if part > 0 => Plan::Fetch(Some(s.saturating_sub(part)), part),
        Some(s) => Plan::Fetch(Some(s), 0),
        None => Plan::Fetch(None, part),
    }
}

/// Run in the context `ctx`: its output (`-o`) was checked before this is
/// called, and records that could not be processed set the exit status.
pub fn run(args: Args, ctx: &mut cxg_core::Ctx) -> Result<()> {
    let outcome = run_in(args, ctx)?;
    ctx.diag.add_outcome(outcome);
    Ok(())
}

fn run_in(args: Args, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    let started = Instant::now();
    // -o (checked by the context) and --failures are checked before any
    // work (created at the end)
    if let Some(f) = &args.failures {
        cxg_core::io::plan_output(f)?;
    }
    let log = match &args.log_requests {
        Some(p) => Some(cxg_http::log::RequestLog::open(p)?),
        None => None,
    };
    let input = ctx.input(args.file.as_deref())?;
    let iname = input.name.clone();
    let rows = read_rows(input)?;
    let previous = match &args.previous {
        Some(p) => read_previous(p)?,
        None => HashMap::new(),
    };
    let dir = args.dir.clone();
    // One job per file name; later rows with the same URL share its result.
    let mut jobs: Vec<Job> = Vec::new();
    let mut slot: Vec<std::result::Result<usize, String>> = Vec::with_capacity(rows.len());
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        slot.push(match &r.job {
            Err(e) => Err(e.clone()),
            Ok(j) => match by_name.get(&j.name) {
                Some(&i) if jobs[i].url == j.url && jobs[i].size == j.size => Ok(i),
                Some(&i) => Err(format!(
                    "'{}' is also the file of another row with a different url or size ({})",
                    j.name, jobs[i].url
                )),
                None => {
                    by_name.insert(j.name.clone(), jobs.len());
                    jobs.push(j.clone());
                    Ok(jobs.len() - 1)
                }
            },
        });
    }
    let mut net = Net {
        agent: build_agent(&args, &jobs),
        retries: args.retries,
        backoff: Duration::from_millis(args.backoff_ms),
        down: Mutex::new(HashMap::new()),
        assume_free: args.assume_free_bytes,
        transferred: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        progress: None,
        log,
    };
    // Sizes the input does not give come from the index when one is given,
    // else they are asked of the server first, so that the free-space check
    // and `present` count them.
    if let Some(p) = &args.index {
        let sizes = index_sizes(ctx.input(Some(p))?)?;
        for j in jobs.iter_mut().filter(|j| j.size.is_none()) {
            j.size = sizes.get(&j.url).copied();
        }
    }
    learn_sizes(&net, &mut jobs, usize::from(args.jobs))?;
    // What is there already, and what remains to fetch.
    let plans: Vec<Plan> = jobs.iter().map(|j| plan(&dir, j)).collect();
    let (mut need, mut unknown, mut present, mut partial) = (0u64, 0usize, 0usize, 0u64);
    for p in &plans {
        match p {
            Plan::Present(_) => present += 1,
            Plan::Fetch(Some(n), part) => {
                need += n;
                partial += part;
            }
            Plan::Fetch(None, part) => {
                unknown += 1;
                partial += part;
            }
        }
    }
    let to_fetch = jobs.len() - present;
    let free = match args.assume_free_bytes {
        Some(n) => n,
        None => cxg_core::io::free_space(&dir).map_err(|e| {
            Error::input(format!(
                "cannot read the free space of '{}': {e}",
                dir.display()
            ))
        })?,
    };
    let bad_rows = slot.iter().filter(|s| s.is_err()).count();
    if args.dry_run || !args.quiet {
        warn(format_args!(
            "{} rows, {} files: {present} present, {to_fetch} to fetch ({} = {need} bytes{}{}), {bad_rows} rows with errors; {} free in '{}'",
            rows.len(),
            jobs.len(),
            human(need),
            if unknown > 0 { format!(" + {unknown} of unknown size") } else { String::new() },
            if partial > 0 { format!(", continuing from {} already in .part files", human(partial)) } else { String::new() },
            human(free),
            dir.display()
        ));
    }
    if need > free {
        return Err(Error::input(format!(
            "not enough space in '{}': {to_fetch} files need {need} bytes ({}), {free} bytes ({}) are available",
            dir.display(),
            human(need),
            human(free)
        )));
    }
    if args.dry_run {
        let mut results: Vec<Done> = Vec::with_capacity(jobs.len());
        for (j, p) in jobs.iter().zip(&plans) {
            results.push(match p {
                Plan::Present(l) => Done {
                    status: Status::Present,
                    bytes: Some(*l),
                    sha256: String::new(),
                    verified_by: "size".into(),
                    etag: String::new(),
                    reason: "dry run: already present".into(),
                    service: false,
                },
                Plan::Fetch(n, part) => {
                    let mut d = Done::failed("", j.size, false);
                    d.reason = match (n, part) {
                        (Some(n), 0) => format!("dry run: would download {n} bytes"),
                        (Some(n), p) => {
                            format!("dry run: would resume from byte {p} ({n} bytes left)")
                        }
                        (None, _) => "dry run: would download (size unknown)".into(),
                    };
                    d
                }
            });
        }
        // rows that cannot be processed are named, and the status says so
        let bad = write_outputs(ctx, &args, &rows, &slot, &results, true)?;
        return Ok(Outcome::of_failures(bad));
    }
    if !jobs.is_empty() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::input(format!("cannot create '{}': {e}", dir.display())))?;
    }
    net.progress = (!args.quiet && std::io::stderr().is_terminal() && to_fetch > 0).then(|| {
        let pb = indicatif::ProgressBar::with_draw_target(
            Some(need),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(format!("0/{to_fetch} files"));
        pb
    });
    let done_files = AtomicU64::new(0);
    let mut results: Vec<Option<Done>> = vec![None; jobs.len()];
    cxg_core::par::ordered_map(
        &jobs,
        usize::from(args.jobs),
        |i, j| {
            let path = dir.join(&j.name).to_string_lossy().into_owned();
            let d = fetch::fetch(&net, &dir, j, args.verify, previous.get(&path));
            if !matches!(plans[i], Plan::Present(_)) {
                let n = done_files.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = &net.progress {
                    p.set_message(format!("{n}/{to_fetch} files"));
                }
            }
            d
        },
        |i, d| {
            results[i] = Some(d);
            Ok(())
        },
    )?;
    if let Some(p) = &net.progress {
        p.finish_and_clear();
    }
    let results: Vec<Done> = results
        .into_iter()
        .map(|d| d.unwrap_or_else(|| Done::failed("internal: no result", None, false)))
        .collect();
    // The service failing as a whole: every transfer failed with 5xx/network.
    let tried: Vec<&Done> = results
        .iter()
        .filter(|d| d.status != Status::Present)
        .collect();
    if !tried.is_empty()
        && tried
            .iter()
            .all(|d| d.status == Status::Failed && d.service)
    {
        // The manifest of what was done (files present, rows failed) is
        // still written, and --failures, before the exit 3.
        write_outputs(ctx, &args, &rows, &slot, &results, false)?;
        ctx.finish()?;
        let down = net.down.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !down.is_empty() {
            let mut hosts: Vec<String> =
                down.iter().map(|(h, why)| format!("{h} ({why})")).collect();
            hosts.sort();
            return Err(Error::api(format!(
                "the file host cannot be reached: {}\n  check the network and the URLs in {iname}.\n  \
                 Partial files are kept; run the same command again to continue.\n  \
                 To work offline, run 'make demo', or serve a snapshot made with 'cxg-gen --assets' \
                 with 'cxg-serve --local-assets DIR'.",
                hosts.join(", ")
            )));
        }
        return Err(Error::api(format!(
            "every transfer failed ({} files) with server or network errors: the file host is failing; partial files are kept for the next run",
            tried.len()
        )));
    }
    let failed = write_outputs(ctx, &args, &rows, &slot, &results, false)?;
    if !args.quiet {
        let count = |s: Status| results.iter().filter(|d| d.status == s).count();
        let secs = started.elapsed().as_secs_f64();
        let moved = net.transferred.load(Ordering::Relaxed);
        warn(format_args!(
            "{} files: {} downloaded, {} resumed, {} present, {} failed; {moved} bytes transferred ({}) in {secs:.2} s ({}/s), {} requests",
            jobs.len(),
            count(Status::Downloaded),
            count(Status::Resumed),
            count(Status::Present),
            count(Status::Failed),
            human(moved),
            human((moved as f64 / secs.max(1e-3)) as u64),
            net.requests.load(Ordering::Relaxed)
        ));
    }
    Ok(Outcome::of_failures(failed))
}

/// H5AD url -> filesize from a datasets index (sizes of -1 or absent are
/// left out).
fn index_sizes(input: Input) -> Result<HashMap<String, u64>> {
    let mut s = JsonStream::new(input.name.clone(), input.reader);
    let mut sizes = HashMap::new();
    while let Some((_, v)) = s.next_value()? {
        let assets = v.get("assets").and_then(Value::as_array);
        for a in assets.into_iter().flatten() {
            if a.get("filetype").and_then(Value::as_str) != Some("H5AD") {
                continue;
            }
            if let (Some(u), Some(n)) = (
                a.get("url").and_then(Value::as_str),
                a.get("filesize").and_then(Value::as_u64),
            ) {
                sizes.insert(u.to_string(), n);
            }
        }
    }
    if sizes.is_empty() {
        return Err(Error::input(format!(
            "{}: the index holds no H5AD asset with a size (not a saved `cxg-fetch datasets` response?)",
            input.name
        )));
    }
    Ok(sizes)
}

/// Ask the server the size of every file the input gives none for (in
/// parallel, one request each; a host that cannot be reached is not asked
/// again).
fn learn_sizes(net: &Net, jobs: &mut [Job], threads: usize) -> Result<()> {
    let unknown: Vec<usize> = (0..jobs.len())
        .filter(|&i| jobs[i].size.is_none())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let dead: Mutex<std::collections::HashSet<String>> = Mutex::default();
    let mut sizes: Vec<Option<u64>> = vec![None; unknown.len()];
    let view: Vec<Job> = unknown.iter().map(|&i| jobs[i].clone()).collect();
    cxg_core::par::ordered_map(
        &view,
        threads,
        |_, j| {
            let host = fetch::host_key(&j.url);
            if dead
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&host)
            {
                return None;
            }
            match fetch::probe_size(net, j) {
                Ok(s) => s,
                Err(()) => {
                    dead.lock().unwrap_or_else(|e| e.into_inner()).insert(host);
                    None
                }
            }
        },
        |k, s| {
            sizes[k] = s;
            Ok(())
        },
    )?;
    for (&i, s) in unknown.iter().zip(sizes) {
        if s.is_some() {
            jobs[i].size = s;
            jobs[i].learned = true;
        }
    }
    Ok(())
}

fn build_agent(args: &Args, jobs: &[Job]) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(format!(
            "cxg-download/{} (cxg harvester for CZ CELLxGENE Discover)",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout_connect(Some(Duration::from_secs(args.connect_timeout.max(1))))
        .timeout_recv_response(Some(Duration::from_secs(args.timeout.max(1))))
        // an idle limit, not a total one: each read may wait --timeout, a
        // body that keeps flowing may last as long as it needs
        .timeout_recv_body(None)
        .timeout_per_read(Some(Duration::from_secs(args.timeout.max(1))))
        .max_idle_connections_per_host(usize::from(args.jobs).max(2))
        .max_idle_connections(usize::from(args.jobs).max(2) * 2);
    if !jobs.is_empty() && jobs.iter().all(|j| cxg_http::is_loopback(&j.url)) {
        // never send loopback traffic through a proxy from the environment
        cfg = cfg.proxy(None);
    }
    cfg.build().into()
}

/// Write the manifest (every row, input order) and `--failures`; name each
/// failed row on stderr. Returns the number of failed rows.
fn write_outputs(
    ctx: &mut cxg_core::Ctx,
    args: &Args,
    rows: &[Row],
    slot: &[std::result::Result<usize, String>],
    results: &[Done],
    dry: bool,
) -> Result<usize> {
    let oname = ctx.out.name();
    let mut w = csv_writer(&mut ctx.out);
    let werr = |e| csv_write_error(&oname, e);
    w.write_record(COLUMNS).map_err(werr)?;
    let mut failed_rows: Vec<Vec<String>> = Vec::new();
    for (k, (r, s)) in rows.iter().zip(slot).enumerate() {
        let (path, d) = match s {
            Ok(i) => {
                let j = r.job.as_ref().map(|j| j.name.clone()).unwrap_or_default();
                (
                    args.dir.join(j).to_string_lossy().into_owned(),
                    results[*i].clone(),
                )
            }
            Err(e) => (String::new(), Done::failed(e.clone(), None, false)),
        };
        let status = if dry && d.status == Status::Failed && s.is_ok() {
            "would-fetch"
        } else {
            d.status.as_str()
        };
        let cells = vec![
            r.dataset_id.clone(),
            r.dataset_version_id.clone(),
            r.url.clone(),
            path,
            d.bytes.map(|b| b.to_string()).unwrap_or_default(),
            d.sha256.clone(),
            status.to_string(),
            d.verified_by.clone(),
            d.etag.trim_matches('"').to_string(),
            d.reason.clone(),
        ];
        if status == "failed" {
            let who = if r.dataset_version_id.is_empty() {
                format!("row {}", k + 1)
            } else {
                format!("dataset version {} (row {})", r.dataset_version_id, k + 1)
            };
            warn(format_args!("{who}: {}", d.reason));
            failed_rows.push(cells.clone());
        }
        w.write_record(&cells).map_err(werr)?;
    }
    csv_finish(w, &oname)?;
    if let Some(p) = &args.failures {
        let fname = format!("'{}'", p.display());
        let mut fw = csv_writer(AtomicFile::create(p)?);
        let ferr = |e| csv_write_error(&fname, e);
        fw.write_record(COLUMNS).map_err(ferr)?;
        for c in &failed_rows {
            fw.write_record(c).map_err(ferr)?;
        }
        csv_finish(fw, &fname)?.commit()?;
    }
    Ok(failed_rows.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_from_urls() {
        let id = "0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11";
        assert_eq!(
            file_name(&format!(
                "https://datasets.cellxgene.cziscience.com/{id}.h5ad"
            ))
            .unwrap(),
            format!("{id}.h5ad")
        );
        assert!(file_name(&format!("https://x.org/{id}.rds")).is_err());
        assert!(file_name("https://x.org/../../etc/passwd").is_err());
        assert!(file_name(&format!("https://x.org/{id}.h5ad/..")).is_err());
        assert!(file_name(&format!("ftp://x.org/{id}.h5ad")).is_err());
        assert!(file_name(&format!("file:///{id}.h5ad")).is_err());
        assert!(file_name("https://x.org/").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("").unwrap(), None);
        assert_eq!(parse_size("-1").unwrap(), None);
        assert_eq!(parse_size("5000000000").unwrap(), Some(5_000_000_000));
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("-2").is_err());
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(10), "10 B");
    }
}
