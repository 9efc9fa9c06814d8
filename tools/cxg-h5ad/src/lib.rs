//! cxg-h5ad: append `cell_count` and `h5ad_url` to every row of the
//! harvester CSV. One `GET /datasets` (or a saved index) answers most rows;
//! the rest fall back to `GET /collections/{cid}/datasets/{did}` with
//! bounded concurrency. Every input row comes out, in order; a row that
//! could not be completed is named on stderr and the exit status says so.

mod index;
mod lookup;
mod table;

use clap::Parser;
use cxg_core::cli::OutputArgs;
use cxg_core::{At, Ctx, Error, Result};
use cxg_http::{Client, HttpArgs};
use lookup::Lookup;
use std::path::{Path, PathBuf};
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
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N", value_parser = cxg_core::cli::jobs())]
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
    let table = table::read_table(input, args.delimiter)?;
    let jobs = usize::from(args.jobs);
    let client = Client::new(&args.http, jobs, ctx.diag.clone())?;
    let started = Instant::now();
    let index = index::read_index(&args, &client, ctx)?;
    let keep = args.keep_responses.as_deref();
    let (results, from_index) = lookup::look_up(&table, &index, &client, jobs, keep)?;
    let failures = table::write_rows(&table, &results, args.extra, ctx)?;
    if let Some(f) = failures_out {
        table::write_failures(f, &failures)?;
    }
    if !args.quiet {
        let removed = failures
            .iter()
            .filter(|f| f.2.status == lookup::REMOVED)
            .count();
        let n = table.rows.len();
        let with_url = results
            .iter()
            .filter(|l| matches!(l, Lookup::Found(i) if !i.h5ad_url.is_empty()))
            .count();
        ctx.diag.warn(format_args!(
            "{n} rows ({with_url} with an H5AD url): {from_index} from the index, {} per dataset, {} failed{}; {} HTTP requests in {:.2} s",
            n - from_index,
            failures.len() - removed,
            match removed {
                0 => String::new(),
                r => format!(", {r} removed from the service"),
            },
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
