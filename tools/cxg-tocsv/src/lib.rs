//! cxg-tocsv: datasets (JSON) to the harvester CSV. Every column is
//! `name = jq expression`, evaluated with jaq on each dataset; the built-in
//! sets are such definitions too. One row per dataset_id (the most recent
//! version wins), RFC 4180, byte-identical for the same input.

// Building a jq value per record allocates many small strings and maps:
// mimalloc makes that about a third of the time it takes with the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod columns;
mod fast;
mod row;
mod rows;

use clap::{Parser, ValueEnum};
use cxg_core::{Ctx, Error, Result};
use cxg_json::raw::Tape;
use cxg_json::stream::{JsonStream, Pos};
use rayon::prelude::*;
use row::{make_row, realize, Compiled, RowError};
use rows::Rows;
use std::io::Write;
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # the harvester CSV from collections (21 columns, as all_datasets.csv)
  cxg-datasets collections.json | cxg-tocsv > all_datasets.csv

  # straight from the datasets index, with every column
  cxg-fetch datasets | cxg-tocsv --preset full -o datasets.csv

  # add a column, replace one, and see the definitions in use
  cxg-tocsv --column 'n_cells=.cell_count' --column 'year=.collection.publisher_metadata.published_year // \"\"' datasets.jsonl
  cxg-tocsv --preset full --list-columns > my.columns   # edit, then:
  cxg-tocsv --columns my.columns datasets.jsonl

  # pick columns of the preset by name, in this order (as csvcut -c / xsv select)
  cxg-tocsv --preset full --select dataset_id,cell_count,tissue datasets.jsonl";

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// the 21 columns of the old harvester's all_datasets.csv
    Seed,
    /// seed plus titles, counts, every facet with its term ids, links, sizes
    Full,
}

/// Datasets (JSON array or JSON Lines) to CSV, columns defined as jq expressions.
#[derive(Parser, Debug)]
#[command(name = "cxg-tocsv", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Datasets: cxg-datasets output or GET /datasets items (`-` or none: stdin)
    pub file: Option<PathBuf>,
    /// Built-in column set
    #[arg(long, value_enum, default_value = "seed")]
    pub preset: Preset,
    /// Column definitions file (`name = expr` per line, `#` comments);
    /// replaces the preset
    #[arg(long, value_name = "FILE")]
    pub columns: Option<PathBuf>,
    /// Keep only these columns, in this order: names of the columns in use
    /// (preset, --columns, --column) or of the `full` preset
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Add a column, or replace the one with the same name (repeatable)
    #[arg(long = "column", value_name = "NAME=EXPR", allow_hyphen_values = true)]
    pub column: Vec<String>,
    /// Print the column definitions in use (a valid --columns file) and exit
    #[arg(long)]
    pub list_columns: bool,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

const BATCH: usize = 512;

/// Up to [`BATCH`] records: where each started, its text (checked), and
/// its members' places.
fn read_batch<R: std::io::Read>(stream: &mut JsonStream<R>) -> Result<Vec<(Pos, Vec<u8>, Tape)>> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut tape = Tape::new(1);
    while batch.len() < BATCH {
        let Some((at, raw)) = stream.next_places(Some(&mut tape))? else {
            break;
        };
        batch.push((at, raw.to_vec(), tape.clone()));
    }
    Ok(batch)
}

/// Write the CSV of the datasets read to the context's output (checked
/// before this is called); records that give no row are named and counted.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    let cols = columns::columns_for(&args)?;
    if args.list_columns {
        let text = columns::list_columns(&cols);
        return ctx
            .out
            .write_all(text.as_bytes())
            .map_err(|e| ctx.out.error(e));
    }
    // Compile every column before reading any input.
    let programs: Vec<Compiled> = cols.into_iter().map(row::compile).collect::<Result<_>>()?;
    let input = ctx.input(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let mut rows = Rows::default();
    let mut batch = read_batch(&mut stream)?;
    while !batch.is_empty() {
        // Build this batch's rows in parallel while the next one is read.
        let placer = stream.placer();
        let (built, next): (Vec<_>, _) = rayon::join(
            || {
                batch
                    .par_iter()
                    .map_init(
                        || realize(&programs),
                        |fasts, (at, raw, tape)| {
                            make_row(&programs, fasts, raw, tape, &|| placer.place(*at))
                        },
                    )
                    .collect()
            },
            || read_batch(&mut stream),
        );
        batch = next?;
        for r in built {
            match r {
                Err(RowError::Stage(e)) => return Err(Error::input(e)),
                Err(RowError::Record(e)) => ctx.diag.fail(e),
                Ok(row) => rows.add(row),
            }
        }
    }
    rows.report(&programs, &ctx.diag);
    rows.write(&programs, &mut ctx.out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod in_process {
    use super::*;

    fn tocsv(flags: &[&str], stdin: &str) -> (i32, String, Vec<String>) {
        let mut argv = vec!["cxg-tocsv"];
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).unwrap();
        cxg_core::ctx::run_memory(stdin.as_bytes(), |ctx| run(args, ctx))
    }

    /// Literal datasets → literal CSV, one line per case: (options, input,
    /// exit status, output, a warning).
    #[test]
    fn yields() {
        let cases: Vec<(Vec<&str>, &str, i32, &str, &str)> = vec![
            (
                vec!["--select", "dataset_id"],
                r#"{"dataset_id":"a","n":1.50}"#,
                0,
                "dataset_id\na\n",
                "",
            ),
            (
                vec!["--column", "n=.n", "--select", "dataset_id,n"],
                "[{\"dataset_id\":\"a\",\"n\":1.50},{\"dataset_id\":\"b\",\"n\":1E2}]",
                0,
                "dataset_id,n\na,1.50\nb,1E2\n",
                "",
            ),
            (
                vec!["--column", "t=.t", "--select", "dataset_id,t"],
                r#"{"dataset_id":"a","t":["x, y","z"]}"#,
                0,
                "dataset_id,t\na,\"x, y | z\"\n",
                "",
            ),
            (
                vec!["--column", "o=.o", "--select", "dataset_id,o"],
                "{\"dataset_id\":\"a\",\"o\":{}}\n{\"dataset_id\":\"b\",\"o\":true}",
                1,
                "dataset_id,o\nb,TRUE\n",
                "stdin: line 1: record 1 (dataset_id a): column 'o' gave an object",
            ),
            (
                vec!["--column", "x=def g: [g]; g", "--select", "dataset_id,x"],
                r#"{"dataset_id":"a"}"#,
                2,
                "",
                "column 'x': \"recursion too deep",
            ),
            (
                vec![],
                r#"[{"collection_id":"c","datasets":[]}]"#,
                2,
                "",
                "array element 0: this is a collection",
            ),
            (
                vec![],
                "{\"dataset_id\":\"a\",\"n\":tru}",
                2,
                "",
                "stdin: line 1, column 26: invalid JSON in record 1: expected ident",
            ),
            (
                vec!["--columns", "/dev/null"],
                "",
                2,
                "",
                "no columns defined",
            ),
        ];
        for (flags, input, code, want, warned) in cases {
            let (got_code, out, warnings) = tocsv(&flags, input);
            assert_eq!(got_code, code, "{flags:?} {input}: {warnings:?}");
            assert_eq!(out, want, "{flags:?} {input}");
            assert!(
                warned.is_empty() || warnings.iter().any(|w| w.contains(warned)),
                "{flags:?} {input}: {warnings:?}"
            );
        }
    }
}
