//! cxg-split: one JSON value per line (what `jq -c '.[]'` prints) or one
//! file per value, from a JSON array or JSON Lines, streaming.

use clap::Parser;
use cxg_core::io::AtomicFile;
use cxg_core::{Error, Outcome, Result};
use cxg_json::names::{Template, Written};
use cxg_json::raw::shadow;
use cxg_json::stream::JsonStream;
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
    #[command(flatten)]
    pub json: cxg_core::cli::PrettyArgs,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
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
    let template = Template::parse(&args.name)?;
    let input = ctx.input(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let out = &mut ctx.out;
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
        let Some(at) = stream.next_emit(args.json.pretty, &mut buf)? else {
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
    Ok(Outcome::Complete)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod in_process {
    use super::*;

    fn split(flags: &[&str], stdin: &str) -> (i32, String, Vec<String>) {
        let mut argv = vec!["cxg-split"];
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).unwrap();
        cxg_core::ctx::run_memory(stdin.as_bytes(), |ctx| run(args, ctx))
    }

    /// Literal input → literal output (what `jq -c '.[]'` / `jq -c .` print,
    /// numbers as written), one line per case.
    #[test]
    fn yields() {
        let cases: [(&[&str], &str, i32, &str); 9] = [
            (
                &[],
                "[1, \"a\" ,{\"b\" : [ ]}]",
                0,
                "1\n\"a\"\n{\"b\":[]}\n",
            ),
            (&[], "[]", 0, ""),
            (&[], "", 0, ""),
            (&[], "{\"a\":1}\n{\"a\": 2}\n", 0, "{\"a\":1}\n{\"a\":2}\n"),
            (
                &[],
                "[1.50, 1E2, -0, 123456789012345678901234567890]",
                0,
                "1.50\n1E2\n-0\n123456789012345678901234567890\n",
            ),
            (&[], "[{\"z\":1,\"a\":2}]", 0, "{\"z\":1,\"a\":2}\n"),
            (
                &["--pretty"],
                "[{\"a\":[1]}]",
                0,
                "{\n  \"a\": [\n    1\n  ]\n}\n",
            ),
            (&[], "[1, 2", 2, ""),
            (&[], "[1] x", 2, ""),
        ];
        for (flags, input, code, want) in cases {
            let (got_code, out, warnings) = split(flags, input);
            assert_eq!(got_code, code, "{input:?}: {warnings:?}");
            if code == 0 {
                assert_eq!(out, want, "{input:?}");
            } else {
                assert!(
                    warnings.iter().any(|w| w.contains("stdin")),
                    "{input:?}: {warnings:?}"
                );
            }
        }
    }
}
