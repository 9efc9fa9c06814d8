//! cxg-datasets: the datasets of each collection, one per line, each with
//! its parent collection (without `datasets`) under the key `collection`.

mod collection;
mod index;
mod layout;
mod report;

use clap::Parser;
use collection::Job;
use cxg_core::{At, Ctx, Result};
use cxg_json::jq::Where;
use cxg_json::raw::{Form, Tape};
use cxg_json::stream::JsonStream;
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # every dataset with its collection, one JSON object per line
  cxg-datasets collections.json > datasets.jsonl

  # the same from full collections (datasets with assets)
  cxg-fetch collection -j 8 < ids.txt | cxg-datasets

  # every dataset with its full record (cell counts, titles, assets) from
  # the saved GET /datasets index, joined on dataset_id
  cxg-fetch datasets -o datasets_index.json
  cxg-datasets --index datasets_index.json collections.json > datasets.jsonl

  # only human datasets
  cxg-datasets --where '.organism | any(.label == \"Homo sapiens\")' collections.json

  # the old per-collection folders: collection_<id>/{collection_<id>,datasets_<id>,dataset_<dvid>}.json
  cxg-datasets --out-dir data/by-collection --pretty collections.json > files.list

  # jq equivalent of the default output (slower; for JSON Lines input drop '.[] |'):
  jq -c '.[] | . as $c | (.datasets // [])[] | . + {collection: ($c | del(.datasets))}'";

/// The datasets of each collection, one per line, with their collection.
#[derive(Parser, Debug)]
#[command(name = "cxg-datasets", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Collections: a JSON array or JSON Lines (`-` or none: stdin)
    pub file: Option<PathBuf>,
    /// Keep only datasets for which this jq expression is truthy (it sees
    /// the output object: dataset fields plus `collection`); a dataset on
    /// which it fails is named on stderr, left out, and the exit status is 1
    #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true)]
    pub where_: Option<String>,
    /// Replace each dataset preview by its full record from this saved
    /// `GET /datasets` index (`cxg-fetch datasets`), joined on dataset_id:
    /// the preview's fields, then the record's (the record wins). Previews
    /// the index lacks stay as they are and are counted on stderr
    #[arg(long, value_name = "FILE", conflicts_with = "out_dir")]
    pub index: Option<PathBuf>,
    /// Write the old per-collection folder layout into DIR and list the
    /// files on stdout
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
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

/// Write the datasets of every collection read to the context's output
/// (checked before this is called); datasets on which `--where` fails are
/// named, left out, and counted.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    // Compile before reading any input, so a bad expression fails fast.
    let filter = args.where_.as_deref().map(Where::compile).transpose()?;
    let index = args.index.as_deref().map(index::Index::load).transpose()?;
    let input = ctx.input(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).at(format_args!("cannot create '{}'", dir.display()))?;
    }
    let mut job = Job::new(&args, filter, index);
    // Each collection is checked and re-emitted compact in one pass, its
    // members, datasets and their members recorded on the tape: numbers
    // and unknown fields pass through exactly as written, no tree is built.
    let mut buf = Vec::with_capacity(1 << 16);
    let mut tape = Tape::new(3);
    loop {
        buf.clear();
        let Some(at) = stream.next_emit(Form::Compact, &mut buf, Some(&mut tape))? else {
            break;
        };
        job.collection(tape.root(&buf), &stream.place(at), ctx)?;
    }
    job.finish(&ctx.diag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod in_process {
    use super::*;

    fn datasets(flags: &[&str], stdin: &str) -> (i32, String, Vec<String>) {
        let mut argv = vec!["cxg-datasets"];
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).unwrap();
        cxg_core::ctx::run_memory(stdin.as_bytes(), |ctx| run(args, ctx))
    }

    /// (options, input, exit status, output, a warning)
    type Case<'a> = (Vec<&'a str>, String, i32, String, &'a str);

    fn check(cases: Vec<Case>) {
        for (flags, input, code, want, warned) in cases {
            let (got_code, out, warnings) = datasets(&flags, &input);
            assert_eq!(got_code, code, "{flags:?} {input}: {warnings:?}");
            assert_eq!(out, want, "{flags:?} {input}");
            assert!(
                warned.is_empty() || warnings.iter().any(|w| w.contains(warned)),
                "{flags:?} {input}: {warnings:?}"
            );
        }
    }

    const C: &str = r#"{"collection_id":"c","name":"N","datasets":[{"dataset_id":"d1","n":1.50},{"dataset_id":"d2","organism":[{"label":"x"}]}],"z":0}"#;
    const D1: &str =
        r#"{"dataset_id":"d1","n":1.50,"collection":{"collection_id":"c","name":"N","z":0}}"#;
    const D2: &str = r#"{"dataset_id":"d2","organism":[{"label":"x"}],"collection":{"collection_id":"c","name":"N","z":0}}"#;

    /// Literal collections → literal dataset lines, one line per case.
    #[test]
    fn yields() {
        let own = r#"[{"collection_id":"c","datasets":[{"collection":1,"dataset_id":"d"}]}]"#;
        check(vec![
            (vec![], format!("[{C}]"), 0, format!("{D1}\n{D2}\n"), ""),
            (vec![], format!("{C}\n"), 0, format!("{D1}\n{D2}\n"), ""),
            (
                vec![],
                own.into(),
                0,
                r#"{"collection":{"collection_id":"c"},"dataset_id":"d"}"#.to_string() + "\n",
                "",
            ),
            (
                vec!["--pretty"],
                r#"[{"collection_id":"c","datasets":[{"n":1E2}]}]"#.into(),
                0,
                "{\n  \"n\": 1E2,\n  \"collection\": {\n    \"collection_id\": \"c\"\n  }\n}\n"
                    .into(),
                "",
            ),
            (
                vec![],
                r#"[{"collection_id":"e","datasets":null}]"#.into(),
                0,
                String::new(),
                "",
            ),
            (
                vec![],
                r#"[{"collection_id":"e","datasets":3}]"#.into(),
                2,
                String::new(),
                "collection e (stdin: line 1: array element 0): 'datasets' is number, not an array",
            ),
            (
                vec![],
                r#"[{"dataset_id":"d"}]"#.into(),
                2,
                String::new(),
                "this is a dataset",
            ),
        ]);
    }

    /// `--where`: numbers keep their text; a failure leaves the dataset out
    /// (exit 1), on every dataset ends the run, as a runaway does (exit 2).
    #[test]
    fn where_filters() {
        let w = |e| vec!["--where", e];
        check(vec![
            (w(".organism | length > 0"), format!("[{C}]"), 0, format!("{D2}\n"), ""),
            (w("(.n|tostring) == \"1.50\""), format!("[{C}]"), 0, format!("{D1}\n"), ""),
            (
                w(".organism | any(.label == \"x\")"),
                format!("[{C}]"),
                1,
                format!("{D2}\n"),
                "--where failed on 1 of 2 datasets, left out: cannot use null as iterable (array or object) (dataset d1)",
            ),
            (
                w(".nosuch | any(.)"),
                format!("[{C}]"),
                2,
                String::new(),
                "--where failed on every dataset (2)",
            ),
            (w(".a"), format!("[{C}]"), 0, String::new(), "--where kept 0 of 2 datasets"),
            (
                w("def f: 1 + f; f"),
                format!("[{C}]"),
                2,
                String::new(),
                "--where 'def f: 1 + f; f': \"recursion too deep",
            ),
        ]);
    }
}
