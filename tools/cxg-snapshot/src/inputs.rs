//! What a save reads and records about a harvest: each file's size,
//! SHA-256 and record count, the request log, the tools' versions, the
//! ontology files, and the per-dataset answers of `--responses`.

use cxg_catalog::ids::is_uuid;
use cxg_core::ctx::Diag;
use cxg_core::digest::sha256_file;
use cxg_core::io::Input;
use cxg_core::{At, Error, Result};
use cxg_json::stream::JsonStream;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many records a file holds: array elements or JSON Lines values for
/// `.json`/`.jsonl`, rows for `.csv`, lines otherwise.
pub(crate) fn count_records(path: &Path) -> Result<u64> {
    let name = path.to_string_lossy();
    let input = Input::open(Some(path))?;
    let mut n = 0u64;
    if name.ends_with(".json") || name.ends_with(".jsonl") {
        let mut s = JsonStream::new(input.name, input.reader);
        while s.next_places(None)?.is_some() {
            n += 1;
        }
    } else if name.ends_with(".csv") {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input.reader);
        let mut rec = csv::ByteRecord::new();
        while r.read_byte_record(&mut rec).at(&input.name)? {
            n += 1;
        }
    } else {
        let mut r = std::io::BufReader::new(input.reader);
        let mut buf = Vec::new();
        while std::io::BufRead::read_until(&mut r, b'\n', &mut buf).at(&input.name)? > 0 {
            n += 1;
            buf.clear();
        }
    }
    Ok(n)
}

/// The schema_version of every dataset of an index, with counts.
pub(crate) fn schema_versions(path: &Path) -> Result<BTreeMap<String, u64>> {
    let input = Input::open(Some(path))?;
    let mut s = JsonStream::new(input.name, input.reader);
    let mut m = BTreeMap::new();
    while let Some((_, v)) = s.next_value()? {
        let k = v
            .get("schema_version")
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_string();
        *m.entry(k).or_insert(0) += 1;
    }
    Ok(m)
}

/// Size and SHA-256 of a file, or why it cannot be read.
fn hash(path: &Path) -> Result<(u64, String)> {
    sha256_file(path).at(format_args!("cannot read '{}'", path.display()))
}

/// A file's provenance entry: path, size, SHA-256 and record count.
pub(crate) fn file_entry(path: &Path) -> Result<Value> {
    let (bytes, sha) = hash(path)?;
    Ok(json!({
        "path": path.to_string_lossy(),
        "bytes": bytes,
        "sha256": sha,
        "records": count_records(path)?,
    }))
}

/// The request log's lines, sorted by URL then time (parallel requests
/// finish in any order; the provenance should not).
pub(crate) fn requests(path: &Path, diag: &Diag) -> Result<Vec<Value>> {
    if !path.exists() {
        diag.warn(format_args!(
            "no request log at '{}': provenance.json lists no requests \
             (a stage swapped for another command does not log them)",
            path.display()
        ));
        return Ok(Vec::new());
    }
    let input = Input::open(Some(path))?;
    let mut s = JsonStream::new(input.name, input.reader);
    let mut v = Vec::new();
    while let Some((_, r)) = s.next_value()? {
        v.push(r);
    }
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    v.sort_by_cached_key(|r| (text(r, "url"), text(r, "at")));
    Ok(v)
}

/// `NAME VERSION` of each cxg-* binary in `dir`.
pub(crate) fn tool_versions(dir: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return m;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        if !name.starts_with("cxg-") || name.contains('.') || !p.is_file() {
            continue;
        }
        let Ok(o) = std::process::Command::new(&p).arg("--version").output() else {
            continue;
        };
        let out = String::from_utf8_lossy(&o.stdout);
        if let Some(v) = out.trim().strip_prefix(&format!("{name} ")) {
            m.insert(name, v.to_string());
        }
    }
    m
}

/// An ontology file a selection used: the ontology and release its name
/// gives (`CL-ontology-v2026-03-26.json.zst`), size and SHA-256.
pub(crate) fn ontology_entry(path: &Path) -> Result<Value> {
    let name = crate::file_name(path);
    let stem = name
        .strip_suffix(".json.zst")
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(&name);
    let (ontology, release) = match stem.split_once("-ontology-") {
        Some((o, r)) => (Value::from(o), Value::from(r)),
        None => (Value::Null, Value::Null),
    };
    let (bytes, sha) = hash(path)?;
    Ok(json!({
        "file": name,
        "ontology": ontology,
        "release": release,
        "bytes": bytes,
        "sha256": sha,
    }))
}

/// The entries of folder `d`, sorted by name, with their own type (a
/// symlink is a symlink, not what it points to).
fn dir_entries(d: &Path) -> Result<Vec<(String, PathBuf, std::fs::FileType)>> {
    let place = || format!("cannot read the folder '{}'", d.display());
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).at(place())? {
        let e = e.at(place())?;
        let t = e
            .file_type()
            .at(format_args!("cannot read '{}'", e.path().display()))?;
        v.push((e.file_name().to_string_lossy().into_owned(), e.path(), t));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// The per-dataset answers in `dir` (`cxg-h5ad --keep-responses`), sorted:
/// (path relative to `dir`, file). Only regular files at
/// `collections/<uuid>/datasets/<uuid>.json`; anything else there (another
/// name, a symlink, which could lead out of `dir`) is named and refused.
pub(crate) fn responses(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(Error::input(format!(
            "--responses '{}' is not a folder",
            dir.display()
        )));
    }
    let mut found = Vec::new();
    let mut bad = Vec::new();
    walk(dir, "", &mut found, &mut bad)?;
    if !bad.is_empty() {
        return Err(refused(dir, &bad));
    }
    Ok(found)
}

/// One level of a `--responses` folder (`rel` is its path below the
/// top): what belongs there is kept (the answers) or walked into (the
/// folders above them); anything else is put in `bad`, in folder order.
fn walk(
    d: &Path,
    rel: &str,
    found: &mut Vec<(String, PathBuf)>,
    bad: &mut Vec<PathBuf>,
) -> Result<()> {
    let depth = if rel.is_empty() {
        0
    } else {
        rel.split('/').count()
    };
    for (name, p, t) in dir_entries(d)? {
        let belongs = match depth {
            0 => name == "collections" && t.is_dir(),
            1 => is_uuid(&name) && t.is_dir(),
            2 => name == "datasets" && t.is_dir(),
            _ => name.strip_suffix(".json").is_some_and(is_uuid) && t.is_file(),
        };
        if !belongs {
            bad.push(p);
            continue;
        }
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if depth == 3 {
            found.push((rel, p));
        } else {
            walk(&p, &rel, found, bad)?;
        }
    }
    Ok(())
}

/// The error naming what does not belong in a `--responses` folder.
fn refused(dir: &Path, bad: &[PathBuf]) -> Error {
    let shown: Vec<String> = bad
        .iter()
        .take(10)
        .map(|p| format!("'{}'", p.display()))
        .collect();
    Error::input(format!(
        "--responses '{}': only regular files collections/<uuid>/datasets/<uuid>.json \
         (as cxg-h5ad --keep-responses writes them) belong there; nothing saved because of \
         {}{}",
        dir.display(),
        shown.join(", "),
        if bad.len() > 10 {
            format!(" and {} more", bad.len() - 10)
        } else {
            String::new()
        }
    ))
}
