//! cxg-obs: cell-level summaries straight from H5AD files — cells that are
//! normal, primary, how many donors, and cells per cell type, tissue,
//! disease, assay, sex, development stage, ethnicity, suspension type and
//! tissue type — read from the `obs` table in pure Rust (no Python, no
//! system HDF5), never touching `X`. One JSON Lines record (or CSV row) per
//! file, in input order; a file that cannot be read is named on stderr and
//! gets a `failed` record, and the others go on.
//!
//! `--join CSV` adds the scalar columns to a harvester CSV instead.

pub mod h5ad;
pub mod lzf;

use clap::Parser;
use cxg_catalog::ids::is_uuid;
use cxg_core::cli::warn;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, Input};
use cxg_core::{Error, Outcome, Result};
use cxg_json::stream::JsonStream;
use h5ad::{Summary, FACETS};
use serde_json::{json, Map, Value};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const EXAMPLES: &str = "\
  # one JSON line per file, from the manifest cxg-download writes
  cxg-obs data/h5ad/manifest.csv > obs.jsonl

  # relative paths are taken from the current folder (where cxg-download
  # ran), or from --base: a harvest made in /srv/harvest, read from here
  cxg-obs --base /srv/harvest /srv/harvest/data/h5ad/manifest.csv > obs.jsonl

  # or from a list of paths, 4 files at a time, as a flat CSV
  ls data/h5ad/*.h5ad | cxg-obs -j 4 --csv > obs.csv

  # the cell types of one file, most cells first
  echo my.h5ad | cxg-obs | jq '.counts.cell_type'

  # add normal_cell_count, primary_cell_count and donor_count to the harvester CSV
  cxg-obs --join all_datasets_h5ad.csv obs.jsonl > all_datasets_obs.csv";

/// Summarise the cells of H5AD files from their obs table (never X).
#[derive(Parser, Debug)]
#[command(name = "cxg-obs", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// H5AD paths, one per line, or the manifest CSV of cxg-download (its
    /// `path` column; rows with status `failed` are skipped and counted).
    /// With --join: the JSON Lines this tool wrote. `-` or none: stdin
    pub file: Option<PathBuf>,
    /// Write a flat CSV: the scalar columns, and each facet as
    /// `id:count | id:count`, most cells first (ties by id)
    #[arg(long, conflicts_with = "join")]
    pub csv: bool,
    /// Files read at a time (default: the number of cores)
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Append normal_cell_count, primary_cell_count and donor_count to the
    /// rows of this CSV (joined on dataset_version_id; on dataset_id only
    /// for rows without a dataset_version_id), reading FILE as this tool's
    /// JSON Lines
    #[arg(long, value_name = "CSV")]
    pub join: Option<PathBuf>,
    /// Take relative paths (of the manifest or the list) from DIR. Default:
    /// the current folder, as cxg-download writes them relative to where it
    /// ran; never looked up anywhere else
    #[arg(long, value_name = "DIR")]
    pub base: Option<PathBuf>,
    /// No summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

/// One file to summarise.
#[derive(Debug, Clone)]
pub struct Job {
    /// As written in the input.
    pub path: String,
    /// Where it is read from.
    pub resolved: PathBuf,
    pub dataset_id: Option<String>,
    pub dataset_version_id: Option<String>,
    /// The manifest's `bytes`: the file must have this size.
    pub bytes: Option<String>,
}

/// The input: the files to read and the manifest rows skipped.
#[derive(Debug, Default)]
pub struct Jobs {
    pub jobs: Vec<Job>,
    pub skipped: usize,
}

/// Parse the input: a manifest CSV (a header with a `path` column) or
/// paths, one per line (blank lines and `#` comments ignored). Relative
/// paths are taken from `base` if given, else from the current folder —
/// one place, never a search.
pub fn parse_input(name: &str, text: &str, base: Option<&Path>) -> Result<Jobs> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let header: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first.as_bytes())
        .records()
        .next()
        .and_then(|r| r.ok())
        .map(|r| r.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let mut out = Jobs::default();
    if !header.iter().any(|h| h == "path") {
        for l in text.lines() {
            let p = l.trim_end_matches('\r');
            if p.trim().is_empty() || p.starts_with('#') {
                continue;
            }
            out.jobs.push(Job {
                path: p.to_string(),
                resolved: resolve(p, base),
                dataset_id: None,
                dataset_version_id: None,
                bytes: None,
            });
        }
        return Ok(out);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let col = |n: &str| header.iter().position(|h| h == n);
    let (pi, si, di, vi, bi) = (
        col("path"),
        col("status"),
        col("dataset_id"),
        col("dataset_version_id"),
        col("bytes"),
    );
    for (k, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| Error::input(format!("{name}: CSV record {}: {e}", k + 1)))?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let (dataset_id, dvid) = (cell(di), cell(vi));
        if cell(si).as_deref() == Some("failed") {
            warn(format_args!(
                "{name}: row {}: dataset {}: the download failed; skipped",
                k + 1,
                dvid.as_deref()
                    .or(dataset_id.as_deref())
                    .unwrap_or("(no id)")
            ));
            out.skipped += 1;
            continue;
        }
        let path = cell(pi).unwrap_or_default();
        out.jobs.push(Job {
            resolved: resolve(&path, base),
            path,
            dataset_id,
            dataset_version_id: dvid,
            bytes: cell(bi),
        });
    }
    Ok(out)
}

/// Where a path is read from: as written if absolute, else under `base`
/// (the current folder when none).
fn resolve(path: &str, base: Option<&Path>) -> PathBuf {
    match base {
        Some(b) if Path::new(path).is_relative() => b.join(path),
        _ => PathBuf::from(path),
    }
}

/// The file must be as long as the manifest says: cheap, and it catches a
/// path that resolves to another file.
fn check_bytes(job: &Job) -> std::result::Result<(), String> {
    let Some(want) = &job.bytes else {
        return Ok(());
    };
    let want: u64 = want
        .parse()
        .map_err(|_| format!("the manifest's bytes '{want}' is not a number"))?;
    let have = std::fs::metadata(&job.resolved)
        .map_err(|e| format!("cannot open {}: {e}", job.resolved.display()))?
        .len();
    if have != want {
        return Err(format!(
            "{} has {have} bytes, the manifest says {want}: not the file the manifest names",
            job.resolved.display()
        ));
    }
    Ok(())
}

thread_local! {
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// Summarise one file; a panic inside the HDF5 reader (a bug on a hostile
/// file) becomes this file's error instead of ending the run.
pub fn summarize_job(job: &Job) -> std::result::Result<Summary, String> {
    if job.path.is_empty() {
        return Err("the manifest row has no path".into());
    }
    check_bytes(job)?;
    QUIET_PANICS.with(|q| q.set(true));
    let r = std::panic::catch_unwind(|| h5ad::summarize(&job.resolved));
    QUIET_PANICS.with(|q| q.set(false));
    r.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!("the HDF5 reader failed on this file: {msg}"))
    })
}

fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET_PANICS.with(Cell::get) {
            default(info);
        }
    }));
}

/// The file's dataset_version_id: the manifest's, else a file name that is
/// a UUID (CELLxGENE names files so), else `uns/dataset_version_id`, else
/// the file name.
fn version_id(job: &Job, s: Option<&Summary>) -> String {
    if let Some(v) = &job.dataset_version_id {
        return v.clone();
    }
    let stem = Path::new(&job.path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".h5ad").unwrap_or(&stem).to_string();
    if is_uuid(&stem) {
        return stem;
    }
    s.and_then(|s| s.uns_dataset_version_id.clone())
        .unwrap_or(stem)
}

/// The JSON record of one file (every record has the same keys).
pub fn record(job: &Job, r: &std::result::Result<Summary, String>) -> Value {
    let mut m = Map::new();
    m.insert(
        "dataset_version_id".into(),
        json!(version_id(job, r.as_ref().ok())),
    );
    m.insert("dataset_id".into(), json!(job.dataset_id));
    m.insert("path".into(), json!(job.path));
    match r {
        Ok(s) => {
            m.insert("status".into(), json!("ok"));
            m.insert("error".into(), Value::Null);
            m.insert("schema_version".into(), json!(s.schema_version));
            m.insert("n_cells".into(), json!(s.n_cells));
            m.insert("normal_cell_count".into(), json!(s.normal_cell_count));
            m.insert("primary_cell_count".into(), json!(s.primary_cell_count));
            m.insert("donor_count".into(), json!(s.donor_count));
            let (mut counts, mut labels, mut missing) = (Map::new(), Map::new(), Map::new());
            for f in &s.facets {
                let c: Map<String, Value> = f
                    .items
                    .iter()
                    .map(|(id, n, _)| (id.clone(), json!(n)))
                    .collect();
                let l: Map<String, Value> = f
                    .items
                    .iter()
                    .map(|(id, _, l)| (id.clone(), json!(l)))
                    .collect();
                counts.insert(f.name.into(), Value::Object(c));
                labels.insert(f.name.into(), Value::Object(l));
                missing.insert(f.name.into(), json!(f.missing));
            }
            m.insert("counts".into(), Value::Object(counts));
            m.insert("labels".into(), Value::Object(labels));
            m.insert("missing".into(), Value::Object(missing));
        }
        Err(e) => {
            m.insert("status".into(), json!("failed"));
            m.insert("error".into(), json!(e));
            for k in [
                "schema_version",
                "n_cells",
                "normal_cell_count",
                "primary_cell_count",
                "donor_count",
                "counts",
                "labels",
                "missing",
            ] {
                m.insert(k.into(), Value::Null);
            }
        }
    }
    Value::Object(m)
}

const CSV_SCALARS: [&str; 10] = [
    "dataset_version_id",
    "dataset_id",
    "path",
    "status",
    "error",
    "schema_version",
    "n_cells",
    "normal_cell_count",
    "primary_cell_count",
    "donor_count",
];

/// The CSV row of one record: scalars, then each facet as `id:count | ...`.
pub fn csv_row(rec: &Value) -> Vec<String> {
    let mut row: Vec<String> = CSV_SCALARS
        .iter()
        .map(|k| match &rec[*k] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            v => v.to_string(),
        })
        .collect();
    for f in FACETS {
        row.push(match rec["counts"][f].as_object() {
            Some(m) => m
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" | "),
            None => String::new(),
        });
    }
    row
}

fn read_all(input: Input) -> Result<String> {
    let name = input.name.clone();
    let mut buf = Vec::new();
    input
        .reader
        .take(u64::MAX)
        .read_to_end(&mut buf)
        .map_err(|e| Error::input(format!("cannot read {name}: {e}")))?;
    String::from_utf8(buf).map_err(|_| Error::input(format!("{name}: not UTF-8 text")))
}

/// Run in the context `ctx`: its output (`-o`) was checked before this is
/// called, and records that could not be processed set the exit status.
pub fn run(args: Args, ctx: &mut cxg_core::Ctx) -> Result<()> {
    let outcome = run_in(args, ctx)?;
    ctx.diag.add_outcome(outcome);
    Ok(())
}

fn run_in(args: Args, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    if let Some(csv) = &args.join {
        return join(&args, csv, ctx);
    }
    install_panic_hook();
    // -o is checked before any work
    let input = ctx.input(args.file.as_deref())?;
    let mut out = &mut ctx.out;
    let name = input.name.clone();
    let text = read_all(input)?;
    let jobs = parse_input(&name, &text, args.base.as_deref())?;
    let started = Instant::now();
    let oname = out.name();
    let threads = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        usize::from,
    );
    let (mut failed, mut cells) = (0usize, 0u64);
    if args.csv {
        let mut w = csv_writer(&mut out);
        let mut header: Vec<&str> = CSV_SCALARS.to_vec();
        header.extend(FACETS);
        w.write_record(&header)
            .map_err(|e| csv_write_error(&oname, e))?;
        cxg_core::par::ordered_map(
            &jobs.jobs,
            threads,
            |_, j| summarize_job(j),
            |i, r| {
                let job = &jobs.jobs[i];
                note(job, &r, &mut failed, &mut cells);
                w.write_record(csv_row(&record(job, &r)))
                    .map_err(|e| csv_write_error(&oname, e))
            },
        )?;
        csv_finish(w, &oname)?;
    } else {
        cxg_core::par::ordered_map(
            &jobs.jobs,
            threads,
            |_, j| summarize_job(j),
            |i, r| {
                let job = &jobs.jobs[i];
                note(job, &r, &mut failed, &mut cells);
                let mut line = serde_json::to_vec(&record(job, &r))
                    .map_err(|e| Error::input(format!("cannot encode a record: {e}")))?;
                line.push(b'\n');
                out.write_all(&line).map_err(|e| Error::write(&oname, e))
            },
        )?;
    }
    if !args.quiet {
        let n = jobs.jobs.len();
        warn(format_args!(
            "{n} file{}: {} summarised, {failed} failed, {} manifest row{} skipped (download failed); {cells} cells in {:.2} s",
            if n == 1 { "" } else { "s" },
            n - failed,
            jobs.skipped,
            if jobs.skipped == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(Outcome::of_failures(failed))
}

fn note(job: &Job, r: &std::result::Result<Summary, String>, failed: &mut usize, cells: &mut u64) {
    match r {
        Ok(s) => *cells += s.n_cells,
        Err(e) => {
            *failed += 1;
            warn(format_args!("'{}': {e}", job.path));
        }
    }
}

/// The columns `--join` appends (replacing same-named ones, so a rerun on
/// its own output gives the same file).
pub const JOINED: [&str; 3] = ["normal_cell_count", "primary_cell_count", "donor_count"];

fn join(args: &Args, csv_path: &Path, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    let input = ctx.input(args.file.as_deref())?;
    let out = &mut ctx.out;
    // the records, by dataset_version_id and by dataset_id
    let jname = input.name.clone();
    let mut stream = JsonStream::new(&jname, input.reader);
    let mut records: Vec<Value> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    let (mut by_version, mut by_dataset) = (HashMap::new(), HashMap::new());
    while let Some((at, v)) = stream.next_value()? {
        let Some(dv) = v.get("dataset_version_id").and_then(Value::as_str) else {
            return Err(Error::input(format!(
                "{}: has no string dataset_version_id (not cxg-obs output?)",
                stream.place(at)
            )));
        };
        if by_version.insert(dv.to_string(), records.len()).is_some() {
            warn(format_args!(
                "{jname}: line {}: dataset_version_id {dv} repeats; the last record is used",
                at.line
            ));
        }
        if let Some(d) = v.get("dataset_id").and_then(Value::as_str) {
            by_dataset.insert(d.to_string(), records.len());
        }
        // keep only what the join needs, not the counts
        let keep: Map<String, Value> = ["status", "error"]
            .iter()
            .chain(JOINED.iter())
            .map(|k| (k.to_string(), v.get(*k).cloned().unwrap_or(Value::Null)))
            .collect();
        records.push(Value::Object(keep));
        versions.push(dv.to_string());
    }
    let cin = Input::open(Some(csv_path))?;
    let cname = cin.name.clone();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(cin.reader);
    let header: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| Error::input(format!("{cname}: cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let (vi, di) = (col("dataset_version_id"), col("dataset_id"));
    if vi.is_none() && di.is_none() {
        return Err(Error::input(format!(
            "{cname}: expected a dataset_version_id or dataset_id column; found: {}",
            header.join(", ")
        )));
    }
    let mut out_header = header.clone();
    let slots: Vec<usize> = JOINED
        .iter()
        .map(|n| match col(n) {
            Some(i) => i,
            None => {
                out_header.push((*n).to_string());
                out_header.len() - 1
            }
        })
        .collect();
    let oname = out.name();
    let mut w = csv_writer(out);
    let werr = |e| csv_write_error(&oname, e);
    w.write_record(&out_header).map_err(werr)?;
    let (mut rows, mut matched, mut unmatched, mut failed) = (0usize, 0usize, 0usize, 0usize);
    let mut mismatched = 0usize;
    for (k, rec) in rdr.byte_records().enumerate() {
        let rec = rec.map_err(|e| Error::input(format!("{cname}: CSV record {}: {e}", k + 1)))?;
        rows += 1;
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (dv, did) = (cell(vi), cell(di));
        // by version; by dataset only for a row that names no version (a
        // record of another version of the dataset must not be attached)
        let hit = if dv.is_empty() {
            by_dataset.get(&did)
        } else {
            by_version.get(&dv)
        }
        .map(|&i| &records[i]);
        let other_version = (hit.is_none() && !dv.is_empty())
            .then(|| by_dataset.get(&did))
            .flatten();
        let mut cells: Vec<Vec<u8>> = rec.iter().map(<[u8]>::to_vec).collect();
        cells.resize(out_header.len(), Vec::new());
        let id = if dv.is_empty() { &did } else { &dv };
        let values: Vec<String> = match hit {
            Some(r) if r["status"] == "ok" => {
                matched += 1;
                JOINED.iter().map(|c| r[*c].to_string()).collect()
            }
            Some(r) => {
                failed += 1;
                warn(format_args!(
                    "{cname}: row {} (dataset {id}): its file failed ({}); cells left empty",
                    k + 1,
                    r["error"].as_str().unwrap_or("no reason given")
                ));
                vec![String::new(); 3]
            }
            None if other_version.is_some() => {
                mismatched += 1;
                if mismatched <= 10 {
                    let have = other_version
                        .map(|&i| versions[i].as_str())
                        .unwrap_or_default();
                    warn(format_args!(
                        "{cname}: row {} (dataset {did}): no cxg-obs record of version {dv}, only of version {have}; cells left empty",
                        k + 1
                    ));
                }
                vec![String::new(); 3]
            }
            None => {
                unmatched += 1;
                warn(format_args!(
                    "{cname}: row {} (dataset {id}): no cxg-obs record; cells left empty",
                    k + 1
                ));
                vec![String::new(); 3]
            }
        };
        for (slot, v) in slots.iter().zip(values) {
            cells[*slot] = v.into_bytes();
        }
        w.write_record(&cells).map_err(werr)?;
    }
    csv_finish(w, &oname)?;
    if mismatched > 10 {
        warn(format_args!(
            "{cname}: {mismatched} rows in all have a record of another version only (the first 10 named above)"
        ));
    }
    if !args.quiet {
        warn(format_args!(
            "{rows} row{}: {matched} joined, {unmatched} without a record, {failed} whose file failed, {mismatched} with a record of another version only",
            if rows == 1 { "" } else { "s" }
        ));
    }
    Ok(Outcome::of_failures(failed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_or_manifest() {
        let j = parse_input("x", "a.h5ad\n\n# note\nb c.h5ad\n", None).unwrap();
        let p: Vec<&str> = j.jobs.iter().map(|j| j.path.as_str()).collect();
        assert_eq!(p, ["a.h5ad", "b c.h5ad"]);
        let m = "dataset_id,dataset_version_id,url,path,bytes,sha256,status\n\
                 d1,v1,u,x/a.h5ad,1,s,ok\nd2,v2,u,,0,,failed\nd3,v3,u,,0,,ok\n";
        let j = parse_input("m", m, None).unwrap();
        assert_eq!(j.skipped, 1);
        assert_eq!(j.jobs.len(), 2);
        assert_eq!(j.jobs[0].dataset_version_id.as_deref(), Some("v1"));
        assert_eq!(j.jobs[0].dataset_id.as_deref(), Some("d1"));
        assert_eq!(
            summarize_job(&j.jobs[1]).unwrap_err(),
            "the manifest row has no path"
        );
    }

    #[test]
    fn version_id_sources() {
        let job = |p: &str| Job {
            path: p.into(),
            resolved: p.into(),
            dataset_id: None,
            dataset_version_id: None,
            bytes: None,
        };
        let uuid = "0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b";
        assert_eq!(version_id(&job(&format!("d/{uuid}.h5ad")), None), uuid);
        assert_eq!(version_id(&job("d/other.h5ad"), None), "other");
    }
}
