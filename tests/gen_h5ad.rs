//! The H5AD files of `cxg-gen --assets` are what their datasets' records
//! say: cxg-obs reads every one, and its cells, terms, labels, donors and
//! primary cells are the record's. Offline, the whole path runs on a
//! generated world: served, selected, downloaded, summarised.

use cxg_tests::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The facets cxg-obs counts that a record lists as `{label, ontology_term_id}`.
const TERM_FACETS: [&str; 7] = [
    "cell_type",
    "tissue",
    "disease",
    "assay",
    "sex",
    "development_stage",
    "self_reported_ethnicity",
];

/// A world with every awkward record of the generator among 18 datasets
/// (no cell count, no tissue, three tissues, organoids, an H5AD of
/// unknown size, one without an H5AD, some not all primary), one removed.
fn world(t: &TempDir) -> std::path::PathBuf {
    let s = t.join("s");
    generate(
        &s,
        &[
            "--seed",
            "11",
            "--collections",
            "4",
            "--datasets",
            "18",
            "--gone",
            "1",
            "--assets",
        ],
    );
    s
}

/// The served records by dataset_version_id.
fn records(snap: &Path) -> BTreeMap<String, Value> {
    snapshot_datasets(snap)
        .into_iter()
        .map(|d| {
            (
                d["dataset_version_id"].as_str().expect("dvid").to_string(),
                d,
            )
        })
        .collect()
}

fn h5ad_asset(d: &Value) -> Option<&Value> {
    d["assets"]
        .as_array()?
        .iter()
        .find(|a| a["filetype"] == "H5AD")
}

/// The keys of an object.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// One cxg-obs record agrees with the dataset's record `d`.
fn check(r: &Value, d: &Value) {
    let at = d["dataset_version_id"].as_str().unwrap_or_default();
    assert_eq!(r["status"], "ok", "{at}: {r}");
    let n = r["n_cells"].as_u64().expect("n_cells");
    if let Some(c) = d.get("cell_count") {
        assert_eq!(Some(n), c.as_u64(), "{at}: cell_count");
    }
    for f in TERM_FACETS {
        let terms = d
            .get(f)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ids: BTreeSet<String> = terms
            .iter()
            .map(|t| {
                t["ontology_term_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(keys(&r["counts"][f]), ids, "{at}: {f}");
        for t in &terms {
            let id = t["ontology_term_id"].as_str().unwrap_or_default();
            assert_eq!(r["labels"][f][id], t["label"], "{at}: {f} {id}");
        }
        let counted: u64 = r["counts"][f]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        // a facet the record does not list is missing in every cell
        assert_eq!(
            counted + r["missing"][f].as_u64().unwrap_or(0),
            n,
            "{at}: {f}"
        );
        assert_eq!(counted == 0, ids.is_empty(), "{at}: {f}");
    }
    let strings = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        keys(&r["counts"]["suspension_type"]),
        strings(&d["suspension_type"]),
        "{at}"
    );
    let kinds: BTreeSet<String> = d["tissue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["tissue_type"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        keys(&r["counts"]["tissue_type"]),
        kinds,
        "{at}: tissue_type"
    );
    assert_eq!(
        r["donor_count"].as_u64(),
        Some(d["donor_id"].as_array().map_or(0, Vec::len) as u64),
        "{at}: donors"
    );
    let not_all_primary = d["is_primary_data"]
        .as_array()
        .is_some_and(|a| a.contains(&Value::Bool(false)));
    let primary = r["primary_cell_count"].as_u64();
    match (not_all_primary, d.get("primary_cell_count")) {
        (true, Some(p)) => assert_eq!(primary, p.as_u64(), "{at}: primary"),
        _ if not_all_primary => assert!(primary < Some(n), "{at}: primary"),
        _ => assert_eq!(primary, Some(n), "{at}: primary"),
    }
    let normal = r["normal_cell_count"].as_u64().unwrap_or(0);
    let has_normal = r["counts"]["disease"].get("PATO:0000461").is_some();
    assert_eq!(normal > 0, has_normal, "{at}: normal");
    assert_eq!(r["schema_version"], d["schema_version"], "{at}");
    assert_eq!(r["title"], d["title"], "{at}");
}

/// cxg-obs on every generated file gives each record's counts, and every
/// file has the size its record claims.
#[test]
fn every_generated_h5ad_reads_as_its_record_says() {
    let t = TempDir::new();
    let snap = world(&t);
    let recs = records(&snap);
    let mut list = String::new();
    let mut files = 0;
    for (dvid, d) in &recs {
        let path = snap.join("assets").join(format!("{dvid}.h5ad"));
        let Some(a) = h5ad_asset(d) else {
            assert!(!path.exists(), "{dvid}: a file without an H5AD asset");
            continue;
        };
        let len = std::fs::metadata(&path).expect("the H5AD").len();
        if a["filesize"] != -1 {
            assert_eq!(a["filesize"].as_u64(), Some(len), "{dvid}: filesize");
        }
        list.push_str(&format!("{}\n", path.display()));
        files += 1;
    }
    // the world has every kind of record
    assert!(files >= 15, "{files}");
    assert!(recs.values().any(|d| d.get("cell_count").is_none()));
    assert!(recs.values().any(|d| d["tissue"] == serde_json::json!([])));
    assert!(recs.values().any(|d| h5ad_asset(d).is_none()));
    assert!(recs
        .values()
        .any(|d| h5ad_asset(d).is_some_and(|a| a["filesize"] == -1)));
    let o = run("cxg-obs", &["-q"], Some(list.as_bytes()));
    o.ok();
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), files);
    for r in &rows {
        let dvid = r["dataset_version_id"].as_str().expect("dvid");
        check(r, &recs[dvid]);
    }
}

/// Offline, the path a user takes: the generated world served with its
/// files, lung datasets selected, downloaded and verified, summarised by
/// cxg-obs from the manifest: each file as its record says.
#[test]
fn select_download_and_obs_run_offline_on_a_generated_world() {
    let t = TempDir::new();
    let snap = world(&t);
    let recs = records(&snap);
    let s = Server::start(&snap, &["--local-assets"]);
    let o = sh(
        t.path(),
        &format!(
            "cxg-fetch --api-url {} datasets > index.json
             cxg-select --no-ontology --tissue lung index.json > lung.jsonl
             cxg-download --dir h5ad lung.jsonl > manifest.csv
             cxg-obs manifest.csv > obs.jsonl",
            s.url
        ),
    );
    o.ok();
    let selected = jsonl(&read(&t.join("lung.jsonl")));
    assert!(!selected.is_empty());
    let rows = jsonl(&read(&t.join("obs.jsonl")));
    let with_files = selected.iter().filter(|d| h5ad_asset(d).is_some()).count();
    assert_eq!(rows.len(), with_files);
    for r in &rows {
        let dvid = r["dataset_version_id"].as_str().expect("dvid");
        check(r, &recs[dvid]);
        assert!(r["counts"]["tissue"].get("UBERON:0002048").is_some(), "{r}");
    }
}

/// docs/offline.md's generated world: every file summarised.
#[test]
fn the_docs_generated_world_runs() {
    let t = TempDir::new();
    for block in doc_sh("docs/offline.md", "## A generated world with files") {
        sh(t.path(), &block).ok();
    }
    let (h, rows) = csv_rows(&read(&t.join("world-obs.csv")));
    assert_eq!(
        h[..4],
        ["dataset_version_id", "dataset_id", "path", "status"]
    );
    assert_eq!(rows.len(), 17);
    assert!(rows.iter().all(|r| r[3] == "ok"), "{rows:?}");
}
