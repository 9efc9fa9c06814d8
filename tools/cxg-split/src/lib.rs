//! cxg-split: one JSON value per line (what `jq -c '.[]'` prints) or one
//! file per value, from a JSON array or JSON Lines, streaming.

use clap::Parser;
use cxg_core::io::{AtomicFile, Output};
use cxg_core::{At, Ctx, Result};
use cxg_json::names::{Template, Written};
use cxg_json::raw::{Form, Tape};
use cxg_json::stream::JsonStream;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Split the input into the context's output (checked before this is
/// called): one value per line, or one file per value listed there.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    let template = Template::parse(&args.name)?;
    let input = ctx.input(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).at(format_args!("cannot create '{}'", dir.display()))?;
    }
    let form = if args.json.pretty {
        Form::Pretty
    } else {
        Form::Compact
    };
    let mut files = Files {
        template,
        written: Written::default(),
        tape: Tape::new(1),
    };
    // Each element is checked and re-emitted from its bytes in one pass:
    // numbers and unknown fields pass through exactly as written, no tree
    // is built.
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        buf.clear();
        let tape = args.out_dir.is_some().then_some(&mut files.tape);
        let Some(at) = stream.next_emit(form, &mut buf, tape)? else {
            return Ok(());
        };
        buf.push(b'\n');
        match &args.out_dir {
            None => put(&mut ctx.out, &buf)?,
            Some(dir) => {
                let path = files.write(dir, &buf, &stream.place(at))?;
                put(&mut ctx.out, format!("{}\n", path.display()).as_bytes())?;
            }
        }
    }
}

fn put(out: &mut Output, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(|e| out.error(e))
}

/// The files of `--out-dir`: named by the template from each element's
/// fields, never two of one name.
struct Files {
    template: Template,
    written: Written,
    /// The element's members, recorded as it was written.
    tape: Tape,
}

impl Files {
    /// Write `text` (the element, whose members are on the tape) to its
    /// file in `dir`; `what` names the element. Returns the file's path.
    fn write(&mut self, dir: &Path, text: &[u8], what: &str) -> Result<PathBuf> {
        let path = dir.join(self.template.render(self.tape.root(text), what)?);
        self.written.claim(&path, what)?;
        let mut f = AtomicFile::create_unsynced(&path)?;
        f.write_all(text)
            .at(format_args!("cannot write '{}'", path.display()))?;
        f.commit()?;
        Ok(path)
    }
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

    /// With --out-dir: one file per element, named from its fields, the
    /// paths listed: (template, input, exit status, files and their text,
    /// a warning).
    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("cxg-split-unit-{}", std::process::id()));
        type Files<'a> = &'a [(&'a str, &'a str)];
        let cases: [(&str, &str, i32, Files, &str); 5] = [
            (
                "{id}.json",
                "[{\"id\":\"a\",\"n\":1.50},{\"id\":\"b\"}]",
                0,
                &[
                    ("a.json", "{\"id\":\"a\",\"n\":1.50}\n"),
                    ("b.json", "{\"id\":\"b\"}\n"),
                ],
                "",
            ),
            (
                "x_{id}",
                "{\"id\":\"q\\u0041\"}",
                0,
                &[("x_qA", "{\"id\":\"qA\"}\n")],
                "",
            ),
            (
                "{id}",
                "[{\"id\":\"../e\"}]",
                2,
                &[],
                "stdin: line 1: array element 0: id \"../e\"",
            ),
            ("{id}", "[{\"id\":7}]", 2, &[], "field 'id' is number"),
            (
                "{id}",
                "[{\"id\":\"s\"},\n{\"id\":\"s\"}]",
                2,
                &[("s", "{\"id\":\"s\"}\n")],
                "stdin: line 2: array element 1: ",
            ),
        ];
        for (name, input, code, files, warned) in cases {
            let _ = std::fs::remove_dir_all(&dir);
            let d = dir.to_str().unwrap();
            let (got_code, out, warnings) = split(&["--out-dir", d, "--name", name], input);
            assert_eq!(got_code, code, "{input}: {warnings:?}");
            let listed: String = files.iter().map(|(f, _)| format!("{d}/{f}\n")).collect();
            if code == 0 {
                assert_eq!(out, listed, "{input}");
            }
            for (f, text) in files {
                assert_eq!(
                    std::fs::read_to_string(dir.join(f)).unwrap(),
                    *text,
                    "{input}"
                );
            }
            assert!(
                warned.is_empty() || warnings.iter().any(|w| w.contains(warned)),
                "{input}: {warnings:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
