//! Reading the harvest folder: each file is optional, and a missing one is
//! `None` (the page says "not run yet"); a file that is there but cannot be
//! read or parsed stops the run (exit 2) naming it and the line.

use cxg_core::{At, Result};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// One dataset of `datasets.jsonl`, reduced to what the page shows.
#[derive(Debug, Clone, Default)]
pub struct Ds {
    pub id: String,
    pub title: String,
    pub collection_id: String,
    pub collection: String,
    pub organism: Vec<String>,
    pub tissue: Vec<String>,
    pub tissue_general: Vec<String>,
    pub disease: Vec<String>,
    pub assay: Vec<String>,
    pub stage: Vec<String>,
    pub sex: Vec<String>,
    pub cells: u64,
    pub month: String,
    pub filesize: Option<u64>,
}

/// One row of `h5ad/manifest.csv`.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub dataset_id: String,
    pub url: String,
    pub path: String,
    pub bytes: u64,
    pub status: String,
    pub reason: String,
}

/// Everything the page is made from; `None`: the file is absent.
#[derive(Debug, Default)]
pub struct Harvest {
    pub dir: PathBuf,
    pub datasets: Option<Vec<Ds>>,
    pub selected: Option<HashSet<String>>,
    pub select_args: Option<String>,
    pub selection_log: Option<Vec<String>>,
    pub manifest: Option<Vec<Fetched>>,
    pub obs: Option<Vec<Value>>,
    pub changes: Option<Vec<Value>>,
    pub provenance: Option<Value>,
}

pub fn harvest(dir: &Path) -> Result<Harvest> {
    if !dir.is_dir() {
        return Err(cxg_core::Error::input(format!(
            "'{}' is not a folder: give the harvest folder (make writes data/)",
            dir.display()
        )));
    }
    let f = |n: &str| dir.join(n);
    Ok(Harvest {
        dir: dir.to_path_buf(),
        datasets: opt(&f("datasets.jsonl"), |p| {
            Ok(typed::<Rec>(p)?.into_iter().map(dataset).collect())
        })?,
        selected: opt(&f("selected.jsonl"), |p| {
            Ok(typed::<Id>(p)?
                .into_iter()
                .map(|r| st(&r.dataset_id).unwrap_or_default())
                .collect())
        })?,
        select_args: opt(&f("select.args"), |p| Ok(text(p)?.trim().to_string()))?,
        selection_log: opt(&f("selection.log"), |p| {
            Ok(text(p)?.lines().map(str::to_string).collect())
        })?,
        manifest: opt(&f("h5ad/manifest.csv"), manifest)?,
        obs: opt(&f("obs.jsonl"), jsonl)?,
        changes: opt(&f("changes.jsonl"), jsonl)?,
        provenance: opt(&f("provenance.json"), |p| {
            serde_json::from_str(&text(p)?).at(p.display())
        })?,
    })
}

fn opt<T>(p: &Path, read: impl FnOnce(&Path) -> Result<T>) -> Result<Option<T>> {
    if p.exists() {
        read(p).map(Some)
    } else {
        Ok(None)
    }
}

fn text(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).at(p.display())
}

fn jsonl(p: &Path) -> Result<Vec<Value>> {
    let file = std::fs::File::open(p).at(p.display())?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.at(p.display())?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).at(format!("{}: line {}", p.display(), i + 1))?);
    }
    Ok(out)
}

fn manifest(p: &Path) -> Result<Vec<Fetched>> {
    let mut r = csv::Reader::from_path(p).at(p.display())?;
    let head = r.headers().at(p.display())?.clone();
    let col = |n: &str| head.iter().position(|h| h == n);
    let (id, url, path, bytes, status, reason) = (
        col("dataset_id"),
        col("url"),
        col("path"),
        col("bytes"),
        col("status"),
        col("reason"),
    );
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.at(p.display())?;
        let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").to_string();
        out.push(Fetched {
            dataset_id: get(id),
            url: get(url),
            path: get(path),
            bytes: get(bytes).parse().unwrap_or(0),
            status: get(status),
            reason: get(reason),
        });
    }
    Ok(out)
}

pub fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A JSON Lines file of records, parsed in parallel into `T` (only the
/// fields the page shows; serde skips the rest without building them).
fn typed<T: for<'de> Deserialize<'de> + Send>(p: &Path) -> Result<Vec<T>> {
    let bytes = std::fs::read(p).at(p.display())?;
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
        .collect();
    lines
        .par_iter()
        .map(|(i, l)| serde_json::from_slice(l).at(format!("{}: line {}", p.display(), i + 1)))
        .collect()
}

#[derive(Deserialize)]
struct Id {
    #[serde(default)]
    dataset_id: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CollRef {
    collection_id: Value,
    name: Value,
}

/// The fields of a `datasets.jsonl` record the page shows, each as JSON
/// (read leniently, as the other tools read them: a value of another type
/// is taken as absent); serde skips the other fields without building them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Rec {
    dataset_id: Value,
    title: Value,
    collection_id: Value,
    collection_name: Value,
    collection: Option<CollRef>,
    organism: Value,
    tissue: Value,
    tissue_general: Value,
    disease: Value,
    assay: Value,
    development_stage: Value,
    sex: Value,
    cell_count: Value,
    published_at: Value,
    assets: Value,
}

fn st(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The distinct labels of a facet (`[{label, ontology_term_id}]`), in order.
fn labels(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in v.as_array().into_iter().flatten() {
        let l = match t {
            Value::String(x) => x.clone(),
            _ => s(t, "label"),
        };
        if !l.is_empty() && !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

fn dataset(r: Rec) -> Ds {
    let coll = r.collection.unwrap_or_default();
    let h5ad = r.assets.as_array().and_then(|a| {
        a.iter()
            .find(|x| x.get("filetype").and_then(Value::as_str) == Some("H5AD"))
    });
    Ds {
        id: st(&r.dataset_id).unwrap_or_default(),
        title: st(&r.title).unwrap_or_default(),
        collection_id: st(&r.collection_id)
            .or(st(&coll.collection_id))
            .unwrap_or_default(),
        collection: st(&r.collection_name)
            .or(st(&coll.name))
            .unwrap_or_default(),
        organism: labels(&r.organism),
        tissue: labels(&r.tissue),
        tissue_general: labels(&r.tissue_general),
        disease: labels(&r.disease),
        assay: labels(&r.assay),
        stage: labels(&r.development_stage),
        sex: labels(&r.sex),
        cells: r.cell_count.as_u64().unwrap_or(0),
        month: st(&r.published_at)
            .unwrap_or_default()
            .chars()
            .take(7)
            .collect(),
        filesize: h5ad.and_then(|a| a.get("filesize")).and_then(Value::as_u64),
    }
}
