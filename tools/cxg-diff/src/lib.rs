//! cxg-diff: what changed between two harvests. Reads two dataset record
//! streams (JSON Lines as `cxg-datasets` writes, the `GET /datasets` index
//! array, or two snapshot folders) and writes one JSON line per changed
//! dataset, ordered by `dataset_id`: added, removed, revised (a new
//! `dataset_version_id`; a `schema_migration` or a `content` revision) or
//! metadata (same version, collection-level fields changed).
//!
//! Each input is streamed and reduced to a compact fingerprint per dataset
//! (ids, counts, asset URLs and sizes, term ids per facet), so memory grows
//! with the number of datasets, not with the bytes of the input.

mod compare;
mod confirm;
mod fp;
mod load;
mod side;
mod sniff;
mod write;

use clap::{Parser, ValueEnum};
use compare::Record;
use cxg_core::{Ctx, Error, Exit, Result};
use cxg_http::HttpArgs;
use side::Side;
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # what changed between the two newest harvests
  cxg-diff --newest data/snapshots -o changes.jsonl

  # two snapshot folders, two saved indexes, or two cxg-datasets outputs
  cxg-diff data/snapshots/20261101T060000Z data/snapshots/20261129T060000Z
  cxg-diff old/datasets_index.json new/datasets_index.json
  cxg-diff old/datasets.jsonl new/datasets.jsonl --format csv > changes.csv

  # only new and revised datasets, as a CSV cxg-h5ad completes with links
  cxg-diff --only added,revised --format csv OLD NEW | cxg-h5ad --index NEW/datasets_index.json

  # in a script: status 1 when anything changed, as git diff --exit-code
  cxg-diff --exit-code -q OLD NEW > /dev/null || echo changed

  # were the removed datasets tombstoned (410 Gone) or just left out?
  cxg-diff --only removed --confirm-removed OLD NEW";

const NOTES: &str = "\
Each output line: change (added|removed|revised|metadata), kind (revised
only: schema_migration|content), dataset_id, collection_id, collection_change
(added|removed when the whole collection came or went), old_/new_
dataset_version_id and revised_at, and fields: what changed, e.g.
{\"cell_count\":{\"old\":10,\"new\":12,\"delta\":2}, \"cell_type\":{\"added\":[..],
\"removed\":[..]}, \"assets.H5AD.url\":{\"old\":..,\"new\":..}}. A revision is a
schema_migration when schema_version changed and no cell count, title,
donor count, is_primary_data or ontology term did. A summary of counts goes
to stderr.";

/// Compare two harvests: added, removed, revised and metadata-only datasets.
#[derive(Parser, Debug)]
#[command(name = "cxg-diff", version,
    after_help = format!("{NOTES}\n\n{}", cxg_core::cli::after_help(EXAMPLES)))]
pub struct Args {
    /// The older harvest: a snapshot folder, an index array or JSON Lines (`-`: stdin)
    #[arg(required_unless_present = "newest", conflicts_with = "newest")]
    old: Option<PathBuf>,
    /// The newer harvest, in any of the same forms
    #[arg(required_unless_present = "newest")]
    new: Option<PathBuf>,
    /// Compare the two newest snapshot folders in DIR (as `make diff` does)
    #[arg(long, value_name = "DIR")]
    newest: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Only these changes, comma-separated: added,removed,revised,metadata,unchanged
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    only: Vec<Change>,
    /// Also list unchanged datasets (change: unchanged)
    #[arg(long)]
    all: bool,
    /// Exit with status 1 when there are differences (as `git diff --exit-code`)
    #[arg(long)]
    exit_code: bool,
    /// No summary on stderr
    #[arg(short, long)]
    quiet: bool,
    /// Ask the API about each removed dataset: removed_check is gone (410,
    /// tombstoned), not_found (404) or still_served (the index left it out)
    #[arg(long)]
    confirm_removed: bool,
    /// Compare even when one side holds no datasets (otherwise an error:
    /// an empty input would report every dataset added or removed)
    #[arg(long)]
    allow_empty: bool,
    /// Requests in flight at once for --confirm-removed
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N", value_parser = cxg_core::cli::jobs())]
    jobs: u16,
    #[command(flatten)]
    out: cxg_core::cli::OutputArgs,
    #[command(flatten)]
    http: HttpArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line
    Jsonl,
    /// A flat table with one row per change
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Change {
    Added,
    Removed,
    Revised,
    Metadata,
    Unchanged,
}

/// The two harvests to compare: OLD and NEW, or the two newest snapshot
/// folders of `--newest`.
fn sides(args: &Args) -> Result<(PathBuf, PathBuf)> {
    if let Some(dir) = &args.newest {
        let list = cxg_catalog::snapshots::list(dir)?;
        return match list.as_slice() {
            [.., a, b] => Ok((a.clone(), b.clone())),
            _ => Err(Error::input(format!(
                "--newest: '{}' holds {} snapshot folder{}; two are needed \
                 (each 'make refresh' adds one)",
                dir.display(),
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            ))),
        };
    }
    match (&args.old, &args.new) {
        (Some(a), Some(b)) => {
            if a.as_os_str() == "-" && b.as_os_str() == "-" {
                return Err(Error::input("OLD and NEW cannot both be stdin"));
            }
            Ok((a.clone(), b.clone()))
        }
        _ => Err(Error::input("give OLD and NEW, or --newest DIR")),
    }
}

/// An empty side would report every dataset of the other as added or
/// removed: refused unless `--allow-empty`.
fn refuse_empty(sides: [&Side; 2]) -> Result<()> {
    for side in sides {
        if side.datasets.is_empty() {
            return Err(Error::input(format!(
                "{} holds no datasets: refusing to report every dataset of the other \
                 side as added or removed (--allow-empty compares it anyway)",
                side.name
            )));
        }
    }
    Ok(())
}

/// Compare OLD and NEW into `ctx.out`; the summary, duplicate ids and
/// removals that could not be confirmed go to `ctx.diag`.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    let (a, b) = sides(&args)?;
    let (old, new, terms) = load::both(&a, &b, ctx)?;
    if !args.allow_empty {
        refuse_empty([&old, &new])?;
    }
    let all = args.all || args.only.contains(&Change::Unchanged);
    let (mut recs, unchanged) = compare::compare(&old, &new, &terms, all);
    if args.confirm_removed {
        confirm::removed(&args.http, usize::from(args.jobs), &mut recs, &ctx.diag)?;
    }
    if !args.quiet {
        write::summary(&old, &new, &recs, unchanged, &ctx.diag);
    }
    let shown: Vec<&Record> = recs
        .iter()
        .filter(|r| r.change != Change::Unchanged || all)
        .filter(|r| args.only.is_empty() || args.only.contains(&r.change))
        .collect();
    write::records(&shown, args.format, &mut ctx.out)?;
    let differences = shown.iter().any(|r| r.change != Change::Unchanged);
    if args.exit_code && differences && ctx.diag.failed() == 0 {
        // the output is complete: commit it, then exit 1 as git diff does
        ctx.out.finish()?;
        return Err(Error::new(Exit::Partial, "differences found (--exit-code)"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const A: &str = "0000000a-0000-4000-8000-00000000000a";
    const B: &str = "0000000b-0000-4000-8000-00000000000b";
    const C: &str = "0000000c-0000-4000-8000-00000000000c";

    /// OLD on stdin, NEW from a file: (exit status, output, warnings).
    fn diff(flags: &[&str], old: &str, new: &str) -> (i32, String, Vec<String>) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("cxg-diff-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("new-{n}.jsonl"));
        std::fs::write(&path, new).unwrap();
        let mut argv = vec!["cxg-diff"];
        argv.extend_from_slice(flags);
        argv.extend(["-", path.to_str().unwrap()]);
        let args = Args::try_parse_from(argv).unwrap();
        let got = cxg_core::ctx::run_memory(old.as_bytes(), |ctx| run(args, ctx));
        std::fs::remove_file(&path).unwrap();
        got
    }

    /// A dataset record of collection C: `{"dataset_id":ID,"collection_id":C,REST}`.
    fn rec(id: &str, rest: &str) -> String {
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(",{rest}")
        };
        format!("{{\"dataset_id\":\"{id}\",\"collection_id\":\"{C}\"{rest}}}\n")
    }

    /// Two small snapshots in, change records out, one line per case.
    #[test]
    fn change_records() {
        let v = |n: u8| format!(r#""dataset_version_id":"v{n}""#);
        let nulls = r#""old_revised_at":null,"new_revised_at":null"#;
        let cases: Vec<(&[&str], String, String, i32, String)> = vec![
            (&[], rec(A, &v(1)), rec(A, &v(1)), 0, String::new()),
            (&["--all"], rec(A, &v(1)), rec(A, &v(1)), 0, format!(
                r#"{{"change":"unchanged","dataset_id":"{A}","collection_id":"{C}","old_dataset_version_id":"v1","new_dataset_version_id":"v1",{nulls},"fields":{{}}}}"#) + "\n"),
            (&[], rec(A, ""), rec(A, "") + &rec(B, &v(2)), 0, format!(
                r#"{{"change":"added","dataset_id":"{B}","collection_id":"{C}","old_dataset_version_id":null,"new_dataset_version_id":"v2",{nulls}}}"#) + "\n"),
            (&[], rec(A, "") + &rec(B, ""), rec(B, ""), 0, format!(
                r#"{{"change":"removed","dataset_id":"{A}","collection_id":"{C}","old_dataset_version_id":null,"new_dataset_version_id":null,{nulls}}}"#) + "\n"),
            (&[], rec(A, &format!(r#"{},"cell_count":1"#, v(1))), rec(A, &format!(r#"{},"cell_count":3"#, v(2))), 0, format!(
                r#"{{"change":"revised","kind":"content","dataset_id":"{A}","collection_id":"{C}","old_dataset_version_id":"v1","new_dataset_version_id":"v2",{nulls},"fields":{{"cell_count":{{"old":1,"new":3,"delta":2}}}}}}"#) + "\n"),
            (&[], rec(A, &format!(r#"{},"schema_version":"5""#, v(1))), rec(A, &format!(r#"{},"schema_version":"6""#, v(2))), 0, format!(
                r#"{{"change":"revised","kind":"schema_migration","dataset_id":"{A}","collection_id":"{C}","old_dataset_version_id":"v1","new_dataset_version_id":"v2",{nulls},"fields":{{"schema_version":{{"old":"5","new":"6"}}}}}}"#) + "\n"),
            (&[], rec(A, r#""sex":[],"tissue":[{"ontology_term_id":"U:1"}]"#), rec(A, r#""tissue":[{"ontology_term_id":"U:1","tissue_type":"organoid"}],"sex":[{"label":"x","ontology_term_id":"P:1"}]"#), 0, format!(
                r#"{{"change":"metadata","dataset_id":"{A}","collection_id":"{C}","old_dataset_version_id":null,"new_dataset_version_id":null,{nulls},"fields":{{"sex":{{"added":["P:1"],"removed":[]}},"tissue":{{"added":["U:1 (organoid)"],"removed":["U:1"]}}}}}}"#) + "\n"),
            (&["--format", "csv"], rec(A, &format!(r#"{},"cell_count":1"#, v(1))), rec(A, &format!(r#"{},"cell_count":3,"title":"t""#, v(2))), 0, format!(
                "change,kind,dataset_id,collection_id,collection_change,old_dataset_version_id,new_dataset_version_id,old_revised_at,new_revised_at,old_cell_count,new_cell_count,cell_count_delta,fields,removed_check\nrevised,content,{A},{C},,v1,v2,,,1,3,2,cell_count;title,\n")),
            (&["--only", "removed", "--exit-code"], rec(A, ""), rec(A, "") + &rec(B, ""), 0, String::new()),
            (&["--exit-code"], rec(A, ""), rec(A, r#""title":"t""#), 1, format!(
                r#"{{"change":"metadata","dataset_id":"{A}","collection_id":"{C}","old_dataset_version_id":null,"new_dataset_version_id":null,{nulls},"fields":{{"title":{{"old":null,"new":"t"}}}}}}"#) + "\n"),
            (&[], rec(A, ""), "[1]".into(), 2, String::new()),
            (&[], rec(A, ""), rec(&A.to_uppercase(), ""), 0, String::new()),
            (&[], String::new(), rec(A, ""), 2, String::new()),
        ];
        for (flags, old, new, code, want) in cases {
            let (got_code, out, warnings) = diff(flags, &old, &new);
            assert_eq!(
                (got_code, out.as_str()),
                (code, want.as_str()),
                "{flags:?} {old} -> {new}: {warnings:?}"
            );
        }
    }

    /// Two snapshot folders (dataset index and collections.json): the
    /// collection's fields come from collections.json, and a collection
    /// that went is named.
    #[test]
    fn snapshot_folders() {
        let d = "0000000d-0000-4000-8000-00000000000d";
        let root = std::env::temp_dir().join(format!("cxg-diff-snap-{}", std::process::id()));
        let ds = |id: &str, c: &str| {
            format!(r#"{{"dataset_id":"{id}","collection_id":"{c}","dataset_version_id":"v1"}}"#)
        };
        let coll = |c: &str, name: &str| format!(r#"{{"collection_id":"{c}","name":"{name}"}}"#);
        for (side, index, colls) in [
            (
                "old",
                format!("[{},{}]", ds(A, C), ds(B, d)),
                format!("[{},{}]", coll(C, "x"), coll(d, "d")),
            ),
            (
                "new",
                format!("[{}]", ds(A, C)),
                format!("[{}]", coll(C, "y")),
            ),
        ] {
            std::fs::create_dir_all(root.join(side)).unwrap();
            std::fs::write(root.join(side).join("datasets_index.json"), index).unwrap();
            std::fs::write(root.join(side).join("collections.json"), colls).unwrap();
        }
        let (old, new) = (root.join("old"), root.join("new"));
        let args = Args::try_parse_from(["cxg-diff", old.to_str().unwrap(), new.to_str().unwrap()]);
        let (code, out, warnings) = cxg_core::ctx::run_memory(b"", |ctx| run(args.unwrap(), ctx));
        let nulls = r#""old_revised_at":null,"new_revised_at":null"#;
        assert_eq!(code, 0);
        assert_eq!(out, format!(
            "{{\"change\":\"metadata\",\"dataset_id\":\"{A}\",\"collection_id\":\"{C}\",\"old_dataset_version_id\":\"v1\",\"new_dataset_version_id\":\"v1\",{nulls},\"fields\":{{\"collection.name\":{{\"old\":\"x\",\"new\":\"y\"}}}}}}\n\
             {{\"change\":\"removed\",\"dataset_id\":\"{B}\",\"collection_id\":\"{d}\",\"collection_change\":\"removed\",\"old_dataset_version_id\":\"v1\",\"new_dataset_version_id\":null,{nulls}}}\n"
        ));
        assert!(warnings[0].ends_with(": 0 added, 1 removed, 0 revised (0 schema_migration, 0 content), 1 metadata, 0 unchanged"), "{warnings:?}");
        assert_eq!(
            warnings[1],
            format!("collection {d} removed with its 1 dataset")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// What goes to stderr: the summary (unless -q), duplicates, bad input.
    #[test]
    fn warnings() {
        let cases: Vec<(&[&str], String, String, &[&str])> = vec![
            (&[], rec(A, ""), rec(A, "") + &rec(B, ""), &[": 1 added, 0 removed, 0 revised (0 schema_migration, 0 content), 0 metadata, 1 unchanged"]),
            (&["-q"], rec(A, ""), rec(A, "") + &rec(B, ""), &[]),
            (&["-q"], rec(A, "") + &rec(A, r#""title":"t""#), rec(A, r#""title":"t""#), &["stdin: 1 dataset id appears more than once: 0000000a-0000-4000-8000-00000000000a; where their records differ"]),
            (&["-q"], rec(A, ""), "[1]".into(), &["line 1, column 2: invalid JSON in array element 0: invalid type: integer `1`, expected a dataset object"]),
            (&["-q"], rec(A, ""), rec("../x", ""), &["line 1 (element 0): dataset_id '../x' is not a UUID"]),
            (&["-q"], String::new(), rec(A, ""), &["stdin holds no datasets: refusing to report every dataset of the other side as added or removed (--allow-empty compares it anyway)"]),
            (&["-q", "--exit-code"], rec(A, ""), rec(B, ""), &["differences found (--exit-code)"]),
        ];
        for (flags, old, new, want) in cases {
            let (_, _, got) = diff(flags, &old, &new);
            assert_eq!(got.len(), want.len(), "{flags:?}: {got:?}");
            for (g, w) in got.iter().zip(want) {
                assert!(g.contains(w), "{flags:?}: {g:?} lacks {w:?}");
            }
        }
    }

    #[test]
    fn jobs_are_1_to_256() {
        let parse = |j: &str| Args::try_parse_from(["cxg-diff", "-j", j, "a", "b"]);
        for j in ["0", "257", "99999999999", "x"] {
            assert!(parse(j).is_err(), "-j {j}");
        }
        assert_eq!(parse("256").unwrap().jobs, 256);
    }
}
