//! cxg-split: one JSON value per line (what `jq -c '.[]'` prints) or one
//! file per value, from a JSON array or JSON Lines, streaming.

use clap::Parser;
use cxg_core::io::{AtomicFile, Input, Output};
use cxg_core::json::JsonStream;
use cxg_core::names::{Template, Written};
use cxg_core::raw::shadow;
use cxg_core::{Error, Outcome, Result};
use std::io::Write;
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # one collection per line, exactly what jq -c '.[]' prints
  cxg-split collections.json > collections.jsonl

  # one file per collection, as the old harvester laid them out; the paths
  # written are listed on stdout
  cxg-split --out-dir data/collections collections.json > data/collections.list

  # indented files named by another field
  cxg-fetch datasets | cxg-split --out-dir ds --name 'dataset_{dataset_version_id}.json' --pretty";

/// Split a JSON array (or JSON Lines) into one value per line or per file.
///
/// An array gives what `jq -c '.[]'` prints; JSON Lines input gives each
/// object again (what `jq -c .` prints), so the tool is idempotent.
#[derive(Parser, Debug)]
#[command(name = "cxg-split", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Input: a JSON array or JSON Lines (`-` or none: stdin)
    pub file: Option<PathBuf>,
    /// Write one file per element into DIR and list the paths on stdout
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// File name for each element; {field} takes a top-level string field
    #[arg(
        long,
        value_name = "TEMPLATE",
        default_value = "collection_{collection_id}.json"
    )]
    pub name: String,
    /// Indent the JSON (as `jq .` does)
    #[arg(long)]
    pub pretty: bool,
    /// Write the lines (or the list of files) to FILE, atomically
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let template = Template::parse(&args.name)?;
    let input = Input::open(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let mut out = Output::open(args.output.as_deref())?;
    let oname = out.name();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::input(format!("cannot create '{}': {e}", dir.display())))?;
    }
    let mut written = Written::default();
    // Each element is checked and re-emitted from its bytes: numbers and
    // unknown fields pass through exactly as written, no tree is built.
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        buf.clear();
        let Some(at) = stream.next_emit(args.pretty, &mut buf)? else {
            break;
        };
        buf.push(b'\n');
        let Some(dir) = &args.out_dir else {
            out.write_all(&buf).map_err(|e| Error::write(&oname, e))?;
            continue;
        };
        let what = stream.place(at);
        // the file name's fields, read without reading numbers
        let fields = shadow(&buf);
        let path = dir.join(template.render(&fields, &what)?);
        written.claim(&path, &what)?;
        let mut f = AtomicFile::create_unsynced(&path)?;
        let fname = format!("'{}'", path.display());
        f.write_all(&buf).map_err(|e| Error::write(&fname, e))?;
        f.commit()?;
        writeln!(out, "{}", path.display()).map_err(|e| Error::write(&oname, e))?;
    }
    out.finish()?;
    Ok(Outcome::Complete)
}
