//! cxg-datasets: the datasets of each collection, one per line, each with
//! its parent collection (without `datasets`) under the key `collection`.

use clap::Parser;
use cxg_core::io::{write_file_atomic, Input};
use cxg_core::{cli::warn, Error, Outcome, Result};
use cxg_json::jq::Program;
use cxg_json::names::{safe, Written};
use cxg_json::raw::{as_str, elements, emit, kind, members, object, Member};
use cxg_json::stream::{to_jq, JsonStream};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// How messages name a collection: by its id when it has one.
fn collection_name(cid: Option<&str>, fallback: &str) -> String {
    match cid {
        Some(id) => format!("collection {id} ({fallback})"),
        None => fallback.to_string(),
    }
}

fn member<'a>(ms: &[Member<'a>], key: &str) -> Option<Member<'a>> {
    ms.iter().find(|m| m.is(key)).copied()
}

fn str_field(ms: &[Member<'_>], key: &str) -> Option<String> {
    member(ms, key).and_then(|m| as_str(m.value))
}

/// The saved index: dataset_id -> the record's compact JSON.
fn load_index(path: &Path) -> Result<HashMap<String, Vec<u8>>> {
    let input = Input::open(Some(path))?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let mut map = HashMap::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let Some(at) = stream.next_emit(false, &mut buf)? else {
            break;
        };
        let place = stream.place(at);
        let ms = members(&buf)
            .ok_or_else(|| Error::input(format!("{place}: expected a dataset object")))?;
        if member(&ms, "datasets").is_some() && member(&ms, "dataset_id").is_none() {
            return Err(Error::input(format!(
                "{place}: --index: this is a collection, not a dataset: the index is what `cxg-fetch datasets` saves (GET /datasets)"
            )));
        }
        let id = str_field(&ms, "dataset_id").ok_or_else(|| {
            Error::input(format!(
                "{place}: --index: the record has no string dataset_id"
            ))
        })?;
        map.entry(id).or_insert_with(|| buf.clone());
    }
    Ok(map)
}

/// `--where` failures, grouped by message, in the order first seen.
#[derive(Default)]
struct Failures {
    order: Vec<String>,
    by_msg: HashMap<String, (usize, Vec<String>)>,
    total: usize,
}

impl Failures {
    fn add(&mut self, msg: String, who: String) {
        self.total += 1;
        let e = self.by_msg.entry(msg.clone()).or_insert_with(|| {
            self.order.push(msg);
            (0, Vec::new())
        });
        e.0 += 1;
        if e.1.len() < 3 {
            e.1.push(who);
        }
    }
}

/// One output line: the dataset (merged with its full record when there
/// is one) plus `collection`, replacing a `collection` key in place as
/// jq's `+` does.
fn dataset_line(d: &[Member<'_>], full: Option<&[Member<'_>]>, col_json: &[u8], out: &mut Vec<u8>) {
    let col = Member {
        key_json: b"\"collection\"",
        value: col_json,
    };
    let Some(full) = full else {
        // the common case, written straight: the dataset's text, then the collection
        if !d.iter().any(|m| m.is("collection")) {
            out.push(b'{');
            for m in d {
                out.extend_from_slice(m.key_json);
                out.push(b':');
                out.extend_from_slice(m.value);
                out.push(b',');
            }
            out.extend_from_slice(b"\"collection\":");
            out.extend_from_slice(col_json);
            out.push(b'}');
            return;
        }
        let ms: Vec<Member<'_>> = d
            .iter()
            .map(|m| if m.is("collection") { col } else { *m })
            .collect();
        return object(&ms, out);
    };
    let mut ms: Vec<Member<'_>> = Vec::with_capacity(d.len() + full.len() + 1);
    for m in d {
        ms.push(*full.iter().find(|x| x.key_json == m.key_json).unwrap_or(m));
    }
    for m in full {
        if !d.iter().any(|x| x.key_json == m.key_json) {
            ms.push(*m);
        }
    }
    match ms.iter().position(|m| m.is("collection")) {
        Some(i) => ms[i] = col,
        None => ms.push(col),
    }
    object(&ms, out);
}

/// Run in the context `ctx`: its output (`-o`) was checked before this is
/// called, and records that could not be processed set the exit status.
pub fn run(args: Args, ctx: &mut cxg_core::Ctx) -> Result<()> {
    let outcome = run_in(args, ctx)?;
    ctx.diag.add_outcome(outcome);
    Ok(())
}

fn run_in(args: Args, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    // Compile before reading any input, so a bad expression fails fast.
    let filter = match &args.where_ {
        Some(code) => Some(Program::compile(code, "--where")?),
        None => None,
    };
    let index = match &args.index {
        Some(p) => Some(load_index(p)?),
        None => None,
    };
    let input = ctx.input(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let out = &mut ctx.out;
    let oname = out.name();
    let mut written = Written::default();
    let mut fails = Failures::default();
    let (mut seen, mut kept_n) = (0usize, 0usize);
    let mut missing: (usize, Vec<String>) = (0, Vec::new());
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::input(format!("cannot create '{}': {e}", dir.display())))?;
    }
    // Each collection is checked and re-emitted from its bytes: numbers and
    // unknown fields pass through exactly as written, no tree is built.
    let mut buf = Vec::with_capacity(1 << 16);
    let mut line = Vec::with_capacity(1 << 14);
    loop {
        buf.clear();
        let Some(at) = stream.next_emit(false, &mut buf)? else {
            break;
        };
        let place = stream.place(at);
        let Some(c) = members(&buf) else {
            return Err(Error::input(format!(
                "{place}: expected a collection object, found {}",
                kind(&buf)
            )));
        };
        let cid = str_field(&c, "collection_id");
        let cname = collection_name(cid.as_deref(), &place);
        let slot = c.iter().position(|m| m.is("datasets"));
        let datasets = match slot.map(|i| c[i].value) {
            None => {
                if member(&c, "dataset_id").is_some() {
                    return Err(Error::input(format!(
                        "{place}: this is a dataset (it has dataset_id and no datasets), not a collection: \
                         cxg-datasets reads collections (cxg-fetch collections); datasets go straight to cxg-tocsv"
                    )));
                }
                Vec::new()
            }
            Some(b"null") => Vec::new(),
            Some(v) => elements(v).ok_or_else(|| {
                Error::input(format!("{cname}: 'datasets' is {}, not an array", kind(v)))
            })?,
        };
        // the collection without `datasets`, key order kept
        let rest: Vec<Member<'_>> = c.iter().filter(|m| !m.is("datasets")).copied().collect();
        let mut col_json = Vec::with_capacity(buf.len());
        object(&rest, &mut col_json);
        let mut kept: Vec<&[u8]> = Vec::new(); // for --out-dir
        for (k, d) in datasets.into_iter().enumerate() {
            let Some(dm) = members(d) else {
                return Err(Error::input(format!(
                    "{cname}: datasets[{k}] is {}, not an object",
                    kind(d)
                )));
            };
            seen += 1;
            let did = str_field(&dm, "dataset_id");
            let full_raw = match (&index, &did) {
                (Some(ix), Some(id)) => ix.get(id),
                _ => None,
            };
            if index.is_some() && full_raw.is_none() {
                missing.0 += 1;
                if missing.1.len() < 3 {
                    missing.1.push(
                        did.clone()
                            .unwrap_or_else(|| format!("{cname}: datasets[{k}]")),
                    );
                }
            }
            let full = full_raw.and_then(|r| members(r));
            line.clear();
            dataset_line(&dm, full.as_deref(), &col_json, &mut line);
            if let Some(p) = &filter {
                let v = to_jq(&line).map_err(|e| Error::input(format!("{cname}: {e}")))?;
                match p.is_truthy(v) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) if cxg_json::jq::is_recursion_error(&e) => {
                        // the expression's fault, not the record's
                        return Err(Error::input(format!(
                            "--where '{}': {e}",
                            args.where_.as_deref().unwrap_or_default()
                        )));
                    }
                    Err(e) => {
                        let who = match &did {
                            Some(id) => id.clone(),
                            None => format!("datasets[{k}] of {cname}"),
                        };
                        fails.add(e, who);
                        continue;
                    }
                }
            }
            kept_n += 1;
            if args.out_dir.is_some() {
                kept.push(d);
                continue;
            }
            let r = if args.json.pretty {
                let mut p = Vec::with_capacity(line.len() * 2);
                let _ = emit(&line, true, &mut p);
                p.push(b'\n');
                out.write_all(&p)
            } else {
                line.push(b'\n');
                out.write_all(&line)
            };
            r.map_err(|e| Error::write(&oname, e))?;
        }
        match &args.out_dir {
            None => {}
            Some(dir) => {
                let files = write_layout(
                    dir,
                    &c,
                    cid.as_deref(),
                    kept,
                    &place,
                    args.json.pretty,
                    &mut written,
                )?;
                for f in files {
                    writeln!(out, "{}", f.display()).map_err(|e| Error::write(&oname, e))?;
                }
            }
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if missing.0 > 0 {
        if let Some(p) = &args.index {
            warn(format_args!(
                "{} of {seen} dataset{} not in the index '{}', kept as previews (no cell_count, title, assets): {}{}",
                missing.0,
                plural(seen),
                p.display(),
                missing.1.join(", "),
                if missing.0 > missing.1.len() { ", ..." } else { "" }
            ));
        }
    }
    for msg in &fails.order {
        let (n, who) = &fails.by_msg[msg];
        warn(format_args!(
            "--where failed on {n} of {seen} dataset{}, left out: {msg} (dataset {}{})",
            plural(seen),
            who.join(", "),
            if *n > who.len() { ", ..." } else { "" }
        ));
    }
    if fails.total > 0 && fails.total == seen {
        return Err(Error::input(format!(
            "--where failed on every dataset ({seen}): the expression does not fit the data (a misspelt field? fields are those of `cxg-datasets` output, with the collection under .collection)"
        )));
    }
    if filter.is_some() && kept_n == 0 && seen > 0 {
        warn(format_args!(
            "--where kept 0 of {seen} dataset{}",
            plural(seen)
        ));
    }
    Ok(Outcome::of_failures(fails.total))
}

fn emit_file(v: &[u8], pretty: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(v.len() + 1);
    // `v` is compact JSON this tool wrote: re-emitting it cannot fail.
    let _ = emit(v, pretty, &mut b);
    b.push(b'\n');
    b
}

/// The old per-collection layout. Returns the files written.
fn write_layout(
    dir: &Path,
    c: &[Member<'_>],
    cid: Option<&str>,
    datasets: Vec<&[u8]>,
    place: &str,
    pretty: bool,
    written: &mut Written,
) -> Result<Vec<PathBuf>> {
    let cid = cid.ok_or_else(|| {
        Error::input(format!(
            "{place}: the collection has no string collection_id"
        ))
    })?;
    safe(cid, &format!("{place}: collection_id"))?;
    let cdir = cxg_core::io::create_subdir(dir, &format!("collection_{cid}"))?;
    let mut names = Vec::new();
    for (k, d) in datasets.iter().enumerate() {
        let dm = members(d).unwrap_or_default();
        let dvid = str_field(&dm, "dataset_version_id").ok_or_else(|| {
            Error::input(format!(
                "{place}: collection {cid}: datasets[{k}] has no string dataset_version_id"
            ))
        })?;
        let what = format!("{place}: collection {cid}: datasets[{k}]: dataset_version_id");
        safe(&dvid, &what)?;
        let p = cdir.join(format!("dataset_{dvid}.json"));
        written.claim(&p, &what)?;
        names.push(p);
    }
    let cpath = cdir.join(format!("collection_{cid}.json"));
    let dpath = cdir.join(format!("datasets_{cid}.json"));
    written.claim(&cpath, &format!("{place}: collection_id"))?;
    written.claim(&dpath, &format!("{place}: collection_id"))?;
    let mut arr = vec![b'['];
    for (i, d) in datasets.iter().enumerate() {
        if i > 0 {
            arr.push(b',');
        }
        arr.extend_from_slice(d);
    }
    arr.push(b']');
    write_file_atomic(&dpath, &emit_file(&arr, pretty))?;
    for (d, p) in datasets.iter().zip(&names) {
        write_file_atomic(p, &emit_file(d, pretty))?;
    }
    // the collection as read, its `datasets` (kept ones) where it stood
    let ds = Member {
        key_json: b"\"datasets\"",
        value: &arr,
    };
    let mut ms: Vec<Member<'_>> = c.to_vec();
    match ms.iter().position(|m| m.is("datasets")) {
        Some(i) => ms[i] = ds,
        None => ms.push(ds),
    }
    let mut col = Vec::new();
    object(&ms, &mut col);
    write_file_atomic(&cpath, &emit_file(&col, pretty))?;
    let mut files = vec![cpath, dpath];
    files.extend(names);
    Ok(files)
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

    /// Literal collections → literal dataset lines, one line per case.
    #[test]
    fn yields() {
        let c = r#"{"collection_id":"c","name":"N","datasets":[{"dataset_id":"d1","n":1.50},{"dataset_id":"d2","organism":[{"label":"x"}]}],"z":0}"#;
        let d1 =
            r#"{"dataset_id":"d1","n":1.50,"collection":{"collection_id":"c","name":"N","z":0}}"#;
        let d2 = r#"{"dataset_id":"d2","organism":[{"label":"x"}],"collection":{"collection_id":"c","name":"N","z":0}}"#;
        let cases: Vec<(Vec<&str>, String, i32, String)> = vec![
            (vec![], format!("[{c}]"), 0, format!("{d1}\n{d2}\n")),
            (vec![], format!("{c}\n"), 0, format!("{d1}\n{d2}\n")),
            (
                vec!["--where", ".organism | length > 0"],
                format!("[{c}]"),
                0,
                format!("{d2}\n"),
            ),
            (
                vec![],
                r#"[{"collection_id":"e","datasets":null}]"#.into(),
                0,
                String::new(),
            ),
            (
                vec![],
                r#"[{"collection_id":"e","datasets":3}]"#.into(),
                2,
                String::new(),
            ),
            (vec![], r#"[{"dataset_id":"d"}]"#.into(), 2, String::new()),
            (
                vec!["--where", "def f: 1 + f; f"],
                format!("[{c}]"),
                2,
                String::new(),
            ),
        ];
        for (flags, input, code, want) in cases {
            let (got_code, out, warnings) = datasets(&flags, &input);
            assert_eq!(got_code, code, "{flags:?} {input}: {warnings:?}");
            assert_eq!(out, want, "{flags:?} {input}");
        }
    }
}
