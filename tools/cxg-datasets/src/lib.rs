//! cxg-datasets: the datasets of each collection, one per line, each with
//! its parent collection (without `datasets`) under the key `collection`.

use clap::Parser;
use cxg_core::io::{write_file_atomic, Input, Output};
use cxg_core::jq::{to_val, Program, Val};
use cxg_core::json::{type_name, write_compact, write_line, write_pretty, JsonStream};
use cxg_core::names::{safe, Written};
use cxg_core::{cli::warn, Error, Outcome, Result};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # every dataset with its collection, one JSON object per line
  cxg-datasets collections.json > datasets.jsonl

  # the same from full collections (datasets with assets)
  cxg-fetch collection -j 8 < ids.txt | cxg-datasets

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
    /// Write the old per-collection folder layout into DIR and list the
    /// files on stdout
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Indent the JSON (as `jq .` does)
    #[arg(long)]
    pub pretty: bool,
    /// Write to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn collection_name(c: &Value, fallback: &str) -> String {
    match c.get("collection_id").and_then(Value::as_str) {
        Some(id) => format!("collection {id} ({fallback})"),
        None => fallback.to_string(),
    }
}

pub fn run(args: Args) -> Result<Outcome> {
    // Compile before reading any input, so a bad expression fails fast.
    let filter = match &args.where_ {
        Some(code) => Some(Program::compile(code, "--where")?),
        None => None,
    };
    let input = Input::open(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let mut out = Output::open(args.output.as_deref())?;
    let oname = out.name();
    let mut written = Written::default();
    let mut failed = 0usize;
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::input(format!("cannot create '{}': {e}", dir.display())))?;
    }
    while let Some((at, mut c)) = stream.next_value()? {
        let place = stream.place(at);
        let Value::Object(map) = &mut c else {
            return Err(Error::input(format!(
                "{place}: expected a collection object, found {}",
                type_name(&c)
            )));
        };
        // Where `datasets` stood, to put it back in the same place when the
        // collection file of the --out-dir layout is written.
        let slot = map
            .keys()
            .position(|k| k == "datasets")
            .unwrap_or(map.len());
        let datasets = match map.shift_remove("datasets") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(Error::input(format!(
                    "{}: 'datasets' is {}, not an array",
                    collection_name(&c, &place),
                    type_name(&other)
                )))
            }
        };
        // `c` is now the collection without `datasets`, key order kept.
        let col_json = {
            let mut b = Vec::new();
            write_compact(&mut b, &c).map_err(|e| Error::write("a buffer", e))?;
            b
        };
        let col_val = filter.as_ref().map(|_| to_val(&c));
        let mut kept = Vec::new();
        for (k, d) in datasets.into_iter().enumerate() {
            if !d.is_object() {
                return Err(Error::input(format!(
                    "{}: datasets[{k}] is {}, not an object",
                    collection_name(&c, &place),
                    type_name(&d)
                )));
            }
            if let (Some(p), Some(cv)) = (&filter, &col_val) {
                let mut dv = to_val(&d);
                if let Val::Obj(m) = &mut dv {
                    std::rc::Rc::make_mut(m).insert(Val::utf8_str("collection"), cv.clone());
                }
                let keep = match p.is_truthy(dv) {
                    Ok(k) => k,
                    Err(e) if cxg_core::jq::is_recursion_error(&e) => {
                        // the expression's fault, not the record's
                        return Err(Error::input(format!(
                            "--where '{}': {e}",
                            args.where_.as_deref().unwrap_or_default()
                        )));
                    }
                    Err(e) => {
                        // named and skipped; the exit status says so
                        let id = d.get("dataset_id").and_then(Value::as_str).unwrap_or("?");
                        warn(format_args!(
                            "--where failed on dataset {id} of {}: {e}",
                            collection_name(&c, &place)
                        ));
                        failed += 1;
                        false
                    }
                };
                if !keep {
                    continue;
                }
            }
            kept.push(d);
        }
        match &args.out_dir {
            None => {
                for d in kept {
                    write_dataset(&mut out, d, &c, &col_json, args.pretty)
                        .map_err(|e| Error::write(&oname, e))?;
                }
            }
            Some(dir) => {
                let files =
                    write_layout(dir, &mut c, slot, kept, &place, args.pretty, &mut written)?;
                for f in files {
                    writeln!(out, "{}", f.display()).map_err(|e| Error::write(&oname, e))?;
                }
            }
        }
    }
    out.finish()?;
    Ok(if failed == 0 {
        Outcome::Complete
    } else {
        Outcome::Partial(failed)
    })
}

/// Write `d + {collection: c}`. When the dataset has no `collection` key
/// (always, for API data) the collection's JSON, serialized once per
/// collection, is spliced in before the closing brace.
fn write_dataset(
    out: &mut Output,
    mut d: Value,
    c: &Value,
    col_json: &[u8],
    pretty: bool,
) -> std::io::Result<()> {
    let has_key = d.get("collection").is_some();
    if pretty || has_key {
        if let Value::Object(m) = &mut d {
            m.insert("collection".into(), c.clone());
        }
        return write_line(out, &d, pretty);
    }
    let mut buf = Vec::with_capacity(1024 + col_json.len());
    write_compact(&mut buf, &d)?;
    buf.pop(); // the closing '}'
    if buf.len() > 1 {
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"collection\":");
    buf.extend_from_slice(col_json);
    buf.extend_from_slice(b"}\n");
    out.write_all(&buf)
}

fn to_json(v: &Value, pretty: bool) -> Vec<u8> {
    let mut b = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = if pretty {
        write_pretty(&mut b, v)
    } else {
        write_compact(&mut b, v)
    };
    b.push(b'\n');
    b
}

/// The old per-collection layout. Returns the files written.
fn write_layout(
    dir: &Path,
    c: &mut Value,
    slot: usize,
    datasets: Vec<Value>,
    place: &str,
    pretty: bool,
    written: &mut Written,
) -> Result<Vec<PathBuf>> {
    let cid = c
        .get("collection_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::input(format!(
                "{place}: the collection has no string collection_id"
            ))
        })?
        .to_string();
    safe(&cid, &format!("{place}: collection_id"))?;
    let cdir = cxg_core::io::create_subdir(dir, &format!("collection_{cid}"))?;
    let mut names = Vec::new();
    for (k, d) in datasets.iter().enumerate() {
        let dvid = d
            .get("dataset_version_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::input(format!(
                    "collection {cid}: datasets[{k}] has no string dataset_version_id"
                ))
            })?;
        let what = format!("collection {cid}: datasets[{k}]: dataset_version_id");
        safe(dvid, &what)?;
        let p = cdir.join(format!("dataset_{dvid}.json"));
        written.claim(&p, &what)?;
        names.push(p);
    }
    let cpath = cdir.join(format!("collection_{cid}.json"));
    let dpath = cdir.join(format!("datasets_{cid}.json"));
    written.claim(&cpath, &format!("{place}: collection_id"))?;
    written.claim(&dpath, &format!("{place}: collection_id"))?;
    let arr = Value::Array(datasets);
    write_file_atomic(&dpath, &to_json(&arr, pretty))?;
    if let Value::Array(datasets) = &arr {
        for (d, p) in datasets.iter().zip(&names) {
            write_file_atomic(p, &to_json(d, pretty))?;
        }
    }
    if let Value::Object(m) = c {
        m.shift_insert(slot.min(m.len()), "datasets".into(), arr);
    }
    write_file_atomic(&cpath, &to_json(c, pretty))?;
    let mut files = vec![cpath, dpath];
    files.extend(names);
    Ok(files)
}
