//! The run over all files: each subset on a worker, its manifest row
//! written in input order, failures named, and one line of counts.

use crate::job::{self, Choose, Done};
use cxg_cells::input::Jobs;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer};
use cxg_core::{Ctx, Result};
use std::path::Path;
use std::time::Instant;

pub(crate) const HEADER: [&str; 8] = [
    "dataset_version_id",
    "path",
    "n_cells",
    "kept_cells",
    "bytes",
    "sha256",
    "status",
    "reason",
];

fn row(d: &Done) -> [String; 8] {
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    [
        d.id.clone(),
        d.path.clone(),
        num(d.n_cells),
        num(d.kept),
        num(d.bytes),
        d.sha256.clone(),
        d.status.to_string(),
        d.reason.clone(),
    ]
}

/// Subset every job into `dir` with `threads` workers.
pub(crate) fn run(
    jobs: &Jobs,
    threads: usize,
    dir: &Path,
    choose: &Choose,
    filter: &str,
    quiet: bool,
    ctx: &mut Ctx,
) -> Result<()> {
    let started = Instant::now();
    let mut names = std::collections::BTreeMap::new();
    for (i, j) in jobs.jobs.iter().enumerate() {
        names.entry(job::id_of(j)).or_insert(i);
    }
    let (mut counts, mut cells, mut kept) = ([0usize; 3], 0u64, 0u64);
    let out = &mut ctx.out;
    let diag = &ctx.diag;
    let name = out.name();
    let mut w = csv_writer(&mut *out);
    w.write_record(HEADER)
        .map_err(|e| csv_write_error(&name, e))?;
    let work = |i: usize, j: &cxg_cells::input::Job| {
        if names.get(&job::id_of(j)) != Some(&i) {
            let reason = format!(
                "another input file has the output name {}.h5ad",
                job::id_of(j)
            );
            return Done {
                id: job::id_of(j),
                status: "failed",
                reason,
                ..Done::default()
            };
        }
        job::run(j, jobs.known_sha256(j), dir, choose, filter)
    };
    cxg_core::par::ordered_map(&jobs.jobs, threads, work, |i, d| {
        cells += d.n_cells.unwrap_or(0);
        kept += d.kept.unwrap_or(0);
        match d.status {
            "ok" => counts[0] += 1,
            "empty" => counts[1] += 1,
            _ => {
                counts[2] += 1;
                diag.fail(format_args!("'{}': {}", jobs.jobs[i].path, d.reason));
            }
        }
        w.write_record(row(&d))
            .map_err(|e| csv_write_error(&name, e))
    })?;
    csv_finish(w, &name)?;
    if !quiet {
        let n = jobs.jobs.len();
        diag.warn(format_args!(
            "{n} file{}: {} written, {} empty, {} failed; {kept} of {cells} cells kept in {:.2} s",
            if n == 1 { "" } else { "s" },
            counts[0],
            counts[1],
            counts[2],
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}
