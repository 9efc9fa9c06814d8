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
        return ctx.out.write_all(text.as_bytes()).map_err(|e| ctx.out.error(e));
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
