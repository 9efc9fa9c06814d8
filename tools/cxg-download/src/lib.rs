//! cxg-download: verified, resumable, parallel H5AD downloads. Reads the
//! CSV that `cxg-h5ad` writes (or dataset records with `assets`), fetches
//! every H5AD into `--dir` with `-j` transfers in flight, and writes a
//! manifest row per input row, in input order: path, bytes, SHA-256,
//! status (`downloaded`, `resumed`, `present`, `failed`) and how the file
//! was verified. A file appears under its final name only complete and
//! checked; an interrupted run leaves `.part` files that the next run
//! continues with Range requests.
//!
//! The modules, in the order of a run: [`args`], `input` (the rows),
//! `previous` (--previous), `plan` (jobs, what is on disk, free space, dry
//! run), `net` (the shared HTTP state of cxg-http, size probes, the
//! parallel transfers), `transfer` (one file), `hash`, `manifest` (the
//! manifest and --failures).

mod args;
mod hash;
mod input;
mod job;
mod manifest;
mod net;
mod outputs;
mod plan;
mod previous;
mod signature;
mod transfer;

pub use args::Args;

use cxg_core::{At, Ctx, Error, Result};
use job::{Done, Status};
use manifest::Report;
use net::Net;
use plan::{Plan, Totals, Work};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Download the files of the input into `--dir` and write the manifest to
/// the context's output (checked before this is called, like --failures
/// here); rows that failed are named and counted.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    let started = Instant::now();
    let input = ctx.input(args.file.as_deref())?;
    let iname = input.name.clone();
    let rows = input::read_rows(input)?;
    let mut work = Work::of(&rows);
    // before any work (and before --failures or the log is created)
    outputs::check(&args, &work.jobs)?;
    let failures = match &args.failures {
        Some(f) => Some(ctx.extra_output(f)?),
        None => None,
    };
    let log = match &args.net.log_requests {
        Some(p) => Some(cxg_http::log::RequestLog::open(p, ctx.diag.clone())?),
        None => None,
    };
    let previous = match &args.previous {
        Some(p) => previous::read_previous(p)?,
        None => HashMap::new(),
    };
    let no_asset = rows.iter().filter(|r| r.url.is_empty()).count();
    let mut net = Net::new(&args, &work.jobs, log, ctx.diag.clone());
    // Sizes the input does not give come from the index when one is given,
    // else they are asked of the server first, so that the free-space check
    // and `present` count them.
    if let Some(p) = &args.index {
        work.sizes_from(&input::index_sizes(ctx.input(Some(p))?)?);
    }
    net::learn_sizes(&net, &mut work.jobs, usize::from(args.jobs))?;
    let plans: Vec<Plan> = work.jobs.iter().map(|j| plan::plan(&args.dir, j)).collect();
    let totals = Totals::of(&plans)?;
    let free = plan::free_space(&args.dir, args.assume_free_bytes)?;
    if args.dry_run || !args.quiet {
        let bad = work.bad_rows() - no_asset;
        let line = totals.summary(rows.len(), work.jobs.len(), bad, free, &args.dir);
        ctx.diag
            .warn(format_args!("{line}{}", without_h5ad(no_asset)));
    }
    totals.check_bound(args.max_total)?;
    totals.check_space(free, &args.dir)?;
    let report = |results| Report {
        dir: &args.dir,
        rows: &rows,
        slot: &work.slot,
        results,
        dry: args.dry_run,
    };
    if args.dry_run {
        // rows that cannot be processed are named, and the status says so
        let results = plan::dry_run(&work.jobs, &plans);
        return report(&results).write(ctx, failures);
    }
    if !work.jobs.is_empty() {
        std::fs::create_dir_all(&args.dir)
            .at(format_args!("cannot create '{}'", args.dir.display()))?;
    }
    net.progress = net::progress_bar(args.quiet, &totals);
    let run = net::Run {
        dir: &args.dir,
        threads: usize::from(args.jobs),
        verify: args.verify,
        previous: &previous,
        plans: &plans,
        to_fetch: totals.to_fetch,
    };
    let results = net::transfer_all(&net, &work.jobs, &run)?;
    report(&results).write(ctx, failures)?;
    if let Some(e) = service_failed(&net, &results, &iname) {
        // the manifest of what was done (files present, rows failed) and
        // --failures are written before the exit 3
        ctx.finish()?;
        return Err(e);
    }
    if !args.quiet {
        let line = summary(&net, &results, started);
        ctx.diag
            .warn(format_args!("{line}{}", without_h5ad(no_asset)));
    }
    Ok(())
}

/// The error to stop with (exit 3) when every transfer failed for the
/// service's reasons (5xx, network): an unreachable host, or a failing one.
fn service_failed(net: &Net, results: &[Done], iname: &str) -> Option<Error> {
    let tried: Vec<&Done> = results
        .iter()
        .filter(|d| d.status != Status::Present)
        .collect();
    if tried.is_empty()
        || !tried
            .iter()
            .all(|d| d.status == Status::Failed && d.service)
    {
        return None;
    }
    let hosts = net.down_hosts();
    if hosts.is_empty() {
        return Some(Error::api(format!(
            "every transfer failed ({} files) with server or network errors: the file host is failing; partial files are kept for the next run",
            tried.len()
        )));
    }
    Some(Error::api(format!(
        "the file host cannot be reached: {}\n  check the network and the URLs in {iname}.\n  \
         Partial files are kept; run the same command again to continue.\n  \
         To work offline, run 'make demo', or serve a snapshot made with 'cxg-gen --assets' \
         with 'cxg-serve --local-assets DIR'.",
        hosts.join(", ")
    )))
}

/// Rows without an H5AD url, counted apart from the failed ones (status
/// `no_asset` in the manifest; not a failure).
fn without_h5ad(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!("; {n} rows without an H5AD (no_asset)"),
    }
}

/// The closing line: files by status, bytes, time, requests.
fn summary(net: &Net, results: &[Done], started: Instant) -> String {
    let count = |s: Status| results.iter().filter(|d| d.status == s).count();
    let secs = started.elapsed().as_secs_f64();
    let moved = net.transferred.load(Ordering::Relaxed);
    format!(
        "{} files: {} downloaded, {} resumed, {} present, {} failed; {moved} bytes transferred ({}) in {secs:.2} s ({}/s), {} requests",
        results.len(),
        count(Status::Downloaded),
        count(Status::Resumed),
        count(Status::Present),
        count(Status::Failed),
        plan::human(moved),
        plan::human((moved as f64 / secs.max(1e-3)) as u64),
        net.requests.load(Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests;
