//! cxg-h5ad: append `cell_count` and `h5ad_url` to every row of the
//! harvester CSV. One `GET /datasets` (or a saved index) answers most rows;
//! the rest fall back to `GET /collections/{cid}/datasets/{did}` with
//! bounded concurrency. Every input row comes out, in order; a row that
//! could not be completed is named on stderr and the exit status says so.

use clap::Parser;
use cxg_catalog::ids::is_uuid;
use cxg_core::cli::OutputArgs;
use cxg_core::io::{
    create_subdir, csv_finish, csv_write_error, csv_writer, write_file_atomic, Input, Output,
};
use cxg_core::{At, Ctx, Error, Result};
use cxg_http::{Client, HttpArgs};
use cxg_json::stream::JsonStream;
use serde_json::Value;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const EXAMPLES: &str = "\
  # cell counts and H5AD links from one GET /datasets, joined on dataset_id
  cxg-h5ad all_datasets.csv -o all_datasets_h5ad.csv

  # offline, from a saved index; rows it lacks fall back to per-dataset calls
  cxg-fetch datasets -o datasets_index.json
  cxg-h5ad --index datasets_index.json all_datasets.csv > all_datasets_h5ad.csv

  # one call per row, as the old script did, 16 at a time; failures to a file
  cxg-h5ad --per-dataset -j 16 --failures failed.csv all_datasets.csv > out.csv

  # a tab-separated list of dataset ids (the collection comes from the index)
  cxg-h5ad --delimiter tab --index datasets_index.json ids.tsv

  # keep each per-dataset answer (for cxg-snapshot save --responses, so that
  # cxg-serve can replay the harvest offline)
  cxg-h5ad --index datasets_index.json --keep-responses responses all_datasets.csv > out.csv";

/// Append cell_count and h5ad_url (and with --extra more) to each CSV row.
#[derive(Parser, Debug)]
#[command(name = "cxg-h5ad", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// CSV with a dataset_id column, and collection_id for rows the index
    /// lacks (`-` or none: stdin)
    pub file: Option<PathBuf>,
    /// Field separator of the input: one character, or `tab`
    #[arg(short = 'd', long, default_value = ",", value_name = "CHAR", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Join against a saved `cxg-fetch datasets` response instead of GET /datasets
    #[arg(long, value_name = "FILE", conflicts_with = "per_dataset")]
    pub index: Option<PathBuf>,
    /// One GET /collections/{cid}/datasets/{did} per row (no index)
    #[arg(long)]
    pub per_dataset: bool,
    /// Per-dataset requests in flight at once
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Also append dataset_title, explorer_url, h5ad_filesize and rds_url
    #[arg(long)]
    pub extra: bool,
    /// Write rows that could not be completed to FILE as CSV
    /// (dataset_id,collection_id,status,reason)
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// Write the body of every accepted per-dataset answer, byte for byte,
    /// to DIR/collections/<collection_id>/datasets/<dataset_id>.json (the
    /// layout cxg-serve serves; rows answered by the index write nothing).
    /// DIR must be empty or absent: answers of an earlier run would pass for
    /// this one's. Answers refused (404, 410, wrong record) are not kept
    #[arg(long, env = "CXG_KEEP_RESPONSES", value_name = "DIR")]
    pub keep_responses: Option<PathBuf>,
    /// No summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

fn parse_delimiter(s: &str) -> std::result::Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!("'{s}': expected one ASCII character, or 'tab'")),
    }
}

/// What the API says about one dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    pub cell_count: String,
    pub h5ad_url: String,
    pub title: String,
    pub explorer_url: String,
    pub h5ad_filesize: String,
    pub rds_url: String,
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => (if *b { "TRUE" } else { "FALSE" }).into(),
        _ => String::new(),
    }
}

/// Extract the columns from a dataset object (index item or single GET).
pub fn info(d: &Value) -> Info {
    let asset = |t: &str| {
        d.get("assets").and_then(Value::as_array).and_then(|a| {
            a.iter()
                .find(|x| x.get("filetype").and_then(Value::as_str) == Some(t))
        })
    };
    let h5ad = asset("H5AD");
    Info {
        cell_count: scalar(d.get("cell_count")),
        h5ad_url: scalar(h5ad.and_then(|a| a.get("url"))),
        title: scalar(d.get("title")),
        explorer_url: scalar(d.get("explorer_url")),
        h5ad_filesize: scalar(h5ad.and_then(|a| a.get("filesize"))),
        rds_url: scalar(asset("RDS").and_then(|a| a.get("url"))),
    }
}

/// Read a datasets index (array or JSON Lines) into dataset_id -> Info.
/// A dataset_id that appears more than once keeps its last entry, and a
/// warning names the repeated ids.
fn load_index(ctx: &Ctx, name: &str, r: impl std::io::Read) -> Result<HashMap<String, Info>> {
    let mut s = JsonStream::new(name, r);
    let mut map = HashMap::new();
    let mut repeated: Vec<String> = Vec::new();
    while let Some((at, v)) = s.next_value()? {
        let Some(id) = v.get("dataset_id").and_then(Value::as_str) else {
            return Err(Error::input(format!(
                "{}: has no string dataset_id",
                s.place(at)
            )));
        };
        if map.insert(id.to_string(), info(&v)).is_some() {
            repeated.push(id.to_string());
        }
    }
    if map.is_empty() {
        return Err(Error::input(format!(
            "{name}: the index holds no datasets (an empty file or []): not a saved \
             `cxg-fetch datasets` response; without one every row would be one request"
        )));
    }
    if !repeated.is_empty() {
        repeated.sort();
        repeated.dedup();
        let shown: Vec<&str> = repeated.iter().take(10).map(String::as_str).collect();
        ctx.diag.warn(format_args!(
            "{name}: {} dataset_id{} appear more than once; the last entry of each is used: {}{}",
            repeated.len(),
            if repeated.len() == 1 { "" } else { "s" },
            shown.join(", "),
            if repeated.len() > 10 {
                format!(" and {} more", repeated.len() - 10)
            } else {
                String::new()
            }
        ));
    }
    Ok(map)
}

/// Why a row could not be completed.
#[derive(Debug, Clone)]
struct Failure {
    status: String,
    reason: String,
}

enum Lookup {
    Found(Info),
    Failed(Failure),
}

const APPENDED: [&str; 2] = ["cell_count", "h5ad_url"];
const EXTRA: [&str; 4] = ["dataset_title", "explorer_url", "h5ad_filesize", "rds_url"];

/// A progress line on stderr, only when stderr is a terminal.
struct Progress {
    on: bool,
    total: usize,
    done: AtomicUsize,
    start: Instant,
    last: std::sync::Mutex<Instant>,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            on: std::io::stderr().is_terminal() && total > 0,
            total,
            done: AtomicUsize::new(0),
            start: Instant::now(),
            last: std::sync::Mutex::new(Instant::now()),
        }
    }
    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.on {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed().as_millis() < 100 && done < self.total {
            return;
        }
        *last = Instant::now();
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta = (self.total - done) as f64 / rate.max(1e-9);
        eprint!(
            "\r{}: {done}/{} rows, {rate:.0}/s, ETA {eta:.0} s   ",
            cxg_core::cli::tool(),
            self.total
        );
        if done >= self.total {
            eprintln!();
        }
    }
}

fn fail(status: impl Into<String>, reason: impl Into<String>) -> Lookup {
    Lookup::Failed(Failure {
        status: status.into(),
        reason: reason.into(),
    })
}

/// Keep one accepted answer as `dir/collections/<cid>/datasets/<did>.json`.
/// Both ids are UUIDs (checked before the request), so no name can leave
/// `dir`; a symlink planted at any folder below `dir` is refused.
fn keep_response(dir: &Path, cid: &str, did: &str, body: &[u8]) -> Result<()> {
    if !is_uuid(cid) || !is_uuid(did) {
        return Err(Error::input(format!(
            "collection {cid}, dataset {did}: not UUIDs; no file kept"
        )));
    }
    let mut d = create_subdir(dir, "collections")?;
    for name in [cid, "datasets"] {
        d = create_subdir(&d, name)?;
    }
    write_file_atomic(&d.join(format!("{did}.json")), body)
}

fn per_dataset(client: &Client, cid: &str, did: &str, keep: Option<&Path>) -> Result<Lookup> {
    if !is_uuid(cid) || !is_uuid(did) {
        let bad = if is_uuid(cid) {
            format!("dataset_id '{did}'")
        } else {
            format!("collection_id '{cid}'")
        };
        return Ok(fail(
            "bad-id",
            format!("{bad} is not a UUID; no request made"),
        ));
    }
    let path = format!("/collections/{cid}/datasets/{did}");
    match client.get(&path) {
        Ok(body) => {
            let bad = match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.get("dataset_id").and_then(Value::as_str) == Some(did) => {
                    client.good_answer();
                    if let Some(dir) = keep {
                        keep_response(dir, cid, did, &body)?;
                    }
                    return Ok(Lookup::Found(info(&v)));
                }
                Ok(v) if v.is_object() => match v.get("dataset_id") {
                    Some(other) => format!("the answer is dataset {other}, not the one asked for"),
                    None => "the answer has no dataset_id: it is not a dataset".to_string(),
                },
                Ok(_) => "the response is not a JSON object".to_string(),
                Err(e) => format!("invalid JSON in the response: {e}"),
            };
            let url = format!("{}{path}", client.base());
            match client.bad_answer(&url, &bad) {
                Some(down) => Err(down.into_error()),
                None => Ok(fail("bad-response", bad)),
            }
        }
        Err(e) if e.service => Err(e.into_error()),
        Err(e) => {
            let status = e
                .status
                .map_or_else(|| "network".to_string(), |s| s.to_string());
            let reason = match e.status {
                Some(410) => format!("the dataset was removed (410 Gone): {}", e.msg),
                Some(404) => format!("not found (404): {}", e.msg),
                _ => e.to_string(),
            };
            Ok(fail(status, reason))
        }
    }
}

/// The input CSV: its header, the rows, and where the id columns are.
struct Table {
    header: Vec<String>,
    rows: Vec<csv::ByteRecord>,
    /// The collection_id column, when the CSV has one.
    ci: Option<usize>,
    di: usize,
}

impl Table {
    fn cell(&self, r: &csv::ByteRecord, i: usize) -> String {
        String::from_utf8_lossy(r.get(i).unwrap_or_default()).into_owned()
    }
}

/// Step 1: read the whole CSV (rows keep their order and every cell).
fn read_table(input: Input, delimiter: u8) -> Result<Table> {
    let name = input.name;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(input.reader);
    let headers = rdr
        .byte_headers()
        .at(format_args!("{name}: cannot read the CSV header"))?
        .clone();
    let header: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let Some(di) = col("dataset_id") else {
        let mut msg = format!(
            "{name}: expected a dataset_id column (and collection_id for rows the index lacks); found: {}",
            if header.is_empty() {
                "(none)".to_string()
            } else {
                header.join(", ")
            }
        );
        if delimiter != b'\t' && header.len() == 1 && header[0].contains('\t') {
            msg.push_str("\n  the header holds tabs: for a tab-separated file use --delimiter tab");
        }
        return Err(Error::input(msg));
    };
    let mut rows = Vec::new();
    for (k, rec) in rdr.byte_records().enumerate() {
        rows.push(rec.at(format_args!("{name}: CSV record {}", k + 1))?);
    }
    Ok(Table {
        ci: col("collection_id"),
        di,
        header,
        rows,
    })
}

/// Step 2: the index, from a file or one GET /datasets (none with
/// --per-dataset).
fn read_index(args: &Args, client: &Client, ctx: &mut Ctx) -> Result<HashMap<String, Info>> {
    if args.per_dataset {
        return Ok(HashMap::new());
    }
    if let Some(p) = &args.index {
        let inp = ctx.input(Some(p))?;
        return load_index(ctx, &inp.name, inp.reader);
    }
    let body = client.get("/datasets").map_err(|e| e.into_error())?;
    let name = format!("GET {}/datasets", client.base());
    load_index(ctx, &name, &body[..]).map_err(|e| Error::api(e.msg))
}

/// Step 3: every row's lookup, in row order: index hits at once, misses
/// through the per-dataset endpoint, all of them concurrently (a miss does
/// not hold back the rows after it).
fn look_up(
    t: &Table,
    index: &HashMap<String, Info>,
    client: &Client,
    jobs: usize,
    keep: Option<&Path>,
) -> Result<(Vec<Lookup>, usize)> {
    let progress = Progress::new(t.rows.len());
    let mut results: Vec<Option<Lookup>> = t
        .rows
        .iter()
        .map(|r| {
            index
                .get(&t.cell(r, t.di))
                .map(|i| Lookup::Found(i.clone()))
        })
        .collect();
    let from_index = results.iter().filter(|l| l.is_some()).count();
    for _ in 0..from_index {
        progress.tick();
    }
    let misses: Vec<usize> = (0..t.rows.len())
        .filter(|&k| results[k].is_none())
        .collect();
    cxg_core::par::ordered_map(
        &misses,
        jobs,
        |_, &k| {
            let r = &t.rows[k];
            let did = t.cell(r, t.di);
            let res = match t.ci {
                Some(ci) => per_dataset(client, &t.cell(r, ci), &did, keep),
                None => Ok(fail(
                    "not-in-index",
                    "the index lacks this dataset and the CSV has no collection_id column to ask the API with",
                )),
            };
            progress.tick();
            res
        },
        |n, r| {
            results[misses[n]] = Some(r?);
            Ok(())
        },
    )?;
    let results = results
        .into_iter()
        .map(|l| l.unwrap_or_else(|| fail("internal", "no result")))
        .collect();
    Ok((results, from_index))
}

/// A row that could not be completed: dataset_id, collection_id, why.
type Failed = (String, String, Failure);

/// Step 4: write every row in input order, the appended columns filled
/// (or empty for a failed row, which is named on stderr). Returns the
/// failures as (dataset_id, collection_id, failure).
fn write_rows(t: &Table, results: &[Lookup], extra: bool, ctx: &mut Ctx) -> Result<Vec<Failed>> {
    // Appended columns replace same-named input columns, so a rerun on
    // this tool's own output gives the same file.
    let mut names: Vec<&str> = APPENDED.to_vec();
    if extra {
        names.extend(EXTRA);
    }
    let mut out_header = t.header.clone();
    let slots: Vec<usize> = names
        .iter()
        .map(|n| match t.header.iter().position(|h| h == n) {
            Some(i) => i,
            None => {
                out_header.push((*n).to_string());
                out_header.len() - 1
            }
        })
        .collect();
    let oname = ctx.out.name();
    let mut w = csv_writer(&mut ctx.out);
    let werr = |e| csv_write_error(&oname, e);
    w.write_record(&out_header).map_err(werr)?;
    let mut failures = Vec::new();
    for (r, l) in t.rows.iter().zip(results) {
        let mut cells: Vec<Vec<u8>> = r.iter().map(<[u8]>::to_vec).collect();
        cells.resize(out_header.len(), Vec::new());
        let values: Vec<String> = match l {
            Lookup::Found(i) => {
                let all = [
                    &i.cell_count,
                    &i.h5ad_url,
                    &i.title,
                    &i.explorer_url,
                    &i.h5ad_filesize,
                    &i.rds_url,
                ];
                all[..names.len()].iter().map(|s| s.to_string()).collect()
            }
            Lookup::Failed(f) => {
                let did = t.cell(r, t.di);
                let cid = t.ci.map(|ci| t.cell(r, ci)).unwrap_or_default();
                ctx.diag.fail(format_args!(
                    "dataset {did} (collection {}): {} ({})",
                    if cid.is_empty() { "?" } else { &cid },
                    f.reason,
                    f.status
                ));
                failures.push((did, cid, f.clone()));
                vec![String::new(); names.len()]
            }
        };
        for (slot, v) in slots.iter().zip(values) {
            cells[*slot] = v.into_bytes();
        }
        w.write_record(&cells).map_err(werr)?;
    }
    csv_finish(w, &oname)?;
    Ok(failures)
}

/// Step 5: the failures file (just the header when every row was done).
fn write_failures(out: Output, failures: &[Failed]) -> Result<()> {
    let fname = out.name();
    let mut fw = csv_writer(out);
    let ferr = |e| csv_write_error(&fname, e);
    fw.write_record(["dataset_id", "collection_id", "status", "reason"])
        .map_err(ferr)?;
    for (did, cid, f) in failures {
        fw.write_record([did, cid, &f.status, &f.reason])
            .map_err(ferr)?;
    }
    csv_finish(fw, &fname)?.finish()
}

/// `--keep-responses DIR`: created, and empty (answers of an earlier run
/// would pass for this one's).
fn check_keep_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).at(format_args!(
        "--keep-responses: cannot create '{}'",
        dir.display()
    ))?;
    let held = std::fs::read_dir(dir)
        .at(format_args!(
            "--keep-responses: cannot read '{}'",
            dir.display()
        ))?
        .count();
    if held > 0 {
        return Err(Error::input(format!(
            "--keep-responses: '{}' is not empty: answers of an earlier run would pass for this one's (empty it, or name a new folder)",
            dir.display()
        )));
    }
    Ok(())
}

/// Append the columns to every row of the CSV and write it to the
/// context's output (checked before this is called, like --failures here).
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    let failures_out = match &args.failures {
        Some(p) if Some(p) == args.out.output.as_ref() => {
            return Err(Error::input(format!(
                "--failures '{}' is also -o: give them different files",
                p.display()
            )))
        }
        Some(p) => Some(ctx.extra_output(p)?),
        None => None,
    };
    if let Some(dir) = &args.keep_responses {
        check_keep_dir(dir)?;
    }
    let input = ctx.input(args.file.as_deref())?;
    let table = read_table(input, args.delimiter)?;
    let jobs = usize::from(args.jobs);
    let client = Client::new(&args.http, jobs)?.with_notify(ctx.diag.clone());
    let started = Instant::now();
    let index = read_index(&args, &client, ctx)?;
    let keep = args.keep_responses.as_deref();
    let (results, from_index) = look_up(&table, &index, &client, jobs, keep)?;
    let failures = write_rows(&table, &results, args.extra, ctx)?;
    if let Some(f) = failures_out {
        write_failures(f, &failures)?;
    }
    if !args.quiet {
        let n = table.rows.len();
        let with_url = results
            .iter()
            .filter(|l| matches!(l, Lookup::Found(i) if !i.h5ad_url.is_empty()))
            .count();
        ctx.diag.warn(format_args!(
            "{n} rows ({with_url} with an H5AD url): {from_index} from the index, {} per dataset, {} failed; {} HTTP requests in {:.2} s",
            n - from_index,
            failures.len(),
            client.requests(),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn info_from_assets() {
        let d = json!({"cell_count": 12, "title": "T", "explorer_url": "E",
            "assets": [{"filetype": "RDS", "url": "r", "filesize": 1}, {"filetype": "H5AD", "url": "h", "filesize": -1}]});
        assert_eq!(
            info(&d),
            Info {
                cell_count: "12".into(),
                h5ad_url: "h".into(),
                title: "T".into(),
                explorer_url: "E".into(),
                h5ad_filesize: "-1".into(),
                rds_url: "r".into()
            }
        );
        assert_eq!(
            info(&json!({"assets": null, "cell_count": null})),
            Info::default()
        );
    }

    /// Literal CSV in, literal CSV out, joined through a literal index (no
    /// request is made: every row is in it, or fails without a collection).
    #[test]
    fn joins_rows_in_process() {
        let dir = std::env::temp_dir().join(format!("cxg-h5ad-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let index = dir.join("index.json");
        let d1 = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
        let d2 = "fa8d0451-4377-4177-9d5b-3c408f64d941";
        std::fs::write(
            &index,
            format!(
                r#"[{{"dataset_id":"{d1}","cell_count":656,"assets":[{{"filetype":"H5AD","url":"u1"}}]}},
                   {{"dataset_id":"{d2}","cell_count":7,"assets":[]}},
                   {{"dataset_id":"{d2}","cell_count":8,"assets":[]}}]"#
            ),
        )
        .unwrap();
        let args = |extra: &[&str]| {
            let mut a = vec!["cxg-h5ad", "--quiet", "--api-url", "http://127.0.0.1:9/v1"];
            a.extend_from_slice(&["--index", index.to_str().unwrap()]);
            a.extend_from_slice(extra);
            Args::try_parse_from(a).unwrap()
        };
        // (options, input, exit status, output, a warning)
        let cases: Vec<(Vec<&str>, String, i32, String, &str)> = vec![
            (
                vec![],
                format!("dataset_id,x\n{d1},\"a,b\"\n{d2},\n"),
                0,
                format!("dataset_id,x,cell_count,h5ad_url\n{d1},\"a,b\",656,u1\n{d2},,8,\n"),
                "appear more than once",
            ),
            (
                vec!["-d", "tab"],
                format!("dataset_id\tcell_count\n{d1}\t1\nmissing\t2\n"),
                1,
                format!("dataset_id,cell_count,h5ad_url\n{d1},656,u1\nmissing,,\n"),
                "dataset missing (collection ?)",
            ),
            (
                vec![],
                "dataset\n1\n".to_string(),
                2,
                String::new(),
                "expected a dataset_id column",
            ),
        ];
        for (extra, input, code, want, warned) in cases {
            let (got_code, out, warnings) =
                cxg_core::ctx::run_memory(input.as_bytes(), |ctx| run(args(&extra), ctx));
            assert_eq!(got_code, code, "{input}: {warnings:?}");
            assert_eq!(out, want, "{input}");
            assert!(warnings.iter().any(|w| w.contains(warned)), "{warnings:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
