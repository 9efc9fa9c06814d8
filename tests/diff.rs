//! cxg-diff on generated snapshot pairs with known changes: a collection
//! added, a dataset removed, a dataset revised with a new cell count, a
//! schema migration of one collection, a metadata-only revision and a
//! tombstoned collection give exactly the expected records, from snapshot
//! folders, index arrays and JSON Lines alike; identical inputs give
//! nothing; the order of the input records does not matter.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A snapshot pair and what cxg-diff must say about it.
struct Pair {
    _t: TempDir,
    old: std::path::PathBuf,
    new: std::path::PathBuf,
    /// dataset_id -> (change, kind, collection_change)
    expect: BTreeMap<String, (String, String, String)>,
    revised_id: String,
    migrated_collection: String,
    metadata_collection: String,
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec(v).unwrap()).unwrap();
}

/// A fresh UUID-shaped id from a counter (deterministic).
fn uuid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

fn bump_url(v: &mut Value, dvid: &str) {
    for a in v["assets"].as_array_mut().unwrap() {
        let ft = a["filetype"].as_str().unwrap().to_lowercase();
        a["url"] = json!(format!(
            "https://datasets.cellxgene.cziscience.com/{dvid}.{ft}"
        ));
        a["filesize"] = json!(a["filesize"].as_i64().unwrap() + 1);
    }
}

fn pair() -> Pair {
    let t = TempDir::new();
    let old = t.join("old");
    generate(
        &old,
        &["--seed", "5", "--collections", "14", "--datasets", "90"],
    );
    let mut index: Vec<Value> = serde_json::from_slice(&read(&old.join("datasets.json")))
        .map(|v: Value| v.as_array().unwrap().clone())
        .unwrap();
    let mut colls: Vec<Value> = serde_json::from_slice(&read(&old.join("collections.json")))
        .map(|v: Value| v.as_array().unwrap().clone())
        .unwrap();
    // collections with at least two datasets, by id
    let mut by_coll: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &index {
        by_coll
            .entry(d["collection_id"].as_str().unwrap().into())
            .or_default()
            .push(d["dataset_id"].as_str().unwrap().into());
    }
    let big: Vec<String> = by_coll
        .iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        big.len() >= 4,
        "the generated snapshot needs 4 collections with 2+ datasets"
    );
    let (c_edit, c_mig, c_meta, c_tomb) = (&big[0], &big[1], &big[2], &big[3]);
    let rm_id = by_coll[c_edit][0].clone();
    let rev_id = by_coll[c_edit][1].clone();
    let mut expect = BTreeMap::new();
    let e = |c: &str, k: &str, cc: &str| (c.to_string(), k.to_string(), cc.to_string());

    // removed dataset, and a tombstoned collection (gone from both lists)
    expect.insert(rm_id.clone(), e("removed", "", ""));
    for id in &by_coll[c_tomb] {
        expect.insert(id.clone(), e("removed", "", "removed"));
    }
    index.retain(|d| d["dataset_id"] != rm_id.as_str() && d["collection_id"] != c_tomb.as_str());
    colls.retain(|c| c["collection_id"] != c_tomb.as_str());
    for c in colls.iter_mut() {
        if let Some(ds) = c["datasets"].as_array_mut() {
            ds.retain(|d| d["dataset_id"] != rm_id.as_str());
        }
    }
    let mut n = 1;
    for d in index.iter_mut() {
        let id = d["dataset_id"].as_str().unwrap().to_string();
        let cid = d["collection_id"].as_str().unwrap().to_string();
        if id == rev_id {
            // a content revision: new version, 100 more cells
            let dvid = uuid(n);
            n += 1;
            d["dataset_version_id"] = json!(dvid);
            d["cell_count"] = json!(d["cell_count"].as_i64().unwrap() + 100);
            d["revised_at"] = json!("2026-11-20T00:00:00+00:00");
            bump_url(d, &dvid);
            expect.insert(id, e("revised", "content", ""));
        } else if cid == *c_mig {
            // a schema migration: new versions and URLs, content unchanged
            let dvid = uuid(n);
            n += 1;
            d["dataset_version_id"] = json!(dvid);
            d["schema_version"] = json!("9.0.0");
            d["revised_at"] = json!("2026-11-21T00:00:00+00:00");
            bump_url(d, &dvid);
            expect.insert(id, e("revised", "schema_migration", ""));
        } else if cid == *c_meta {
            d["collection_name"] = json!("A renamed collection");
            d["collection_version_id"] = json!(uuid(900));
            expect.insert(id, e("metadata", "", ""));
        }
    }
    for c in colls.iter_mut() {
        if c["collection_id"] == c_meta.as_str() {
            c["name"] = json!("A renamed collection");
            c["collection_version_id"] = json!(uuid(900));
        }
    }
    // a new collection with two datasets (copies of existing ones, new ids)
    let new_cid = uuid(800);
    let mut new_coll = colls[0].clone();
    new_coll["collection_id"] = json!(new_cid);
    new_coll["collection_version_id"] = json!(uuid(801));
    new_coll["datasets"] = json!([]);
    for k in 0..2 {
        let mut d = index[k].clone();
        let (did, dvid) = (uuid(810 + k as u32), uuid(820 + k as u32));
        d["dataset_id"] = json!(did);
        d["dataset_version_id"] = json!(dvid);
        d["collection_id"] = json!(new_cid);
        bump_url(&mut d, &dvid);
        expect.insert(did.clone(), e("added", "", "added"));
        new_coll["datasets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"dataset_id": did, "dataset_version_id": dvid}));
        index.push(d);
    }
    colls.push(new_coll);
    let new = t.join("new");
    std::fs::create_dir_all(&new).unwrap();
    write_json(&new.join("datasets.json"), &Value::Array(index));
    write_json(&new.join("collections.json"), &Value::Array(colls));
    Pair {
        _t: t,
        old,
        new,
        expect,
        revised_id: rev_id,
        migrated_collection: c_mig.clone(),
        metadata_collection: c_meta.clone(),
    }
}

fn diff(args: &[&str]) -> Out {
    run("cxg-diff", args, None)
}

fn p(p: &Path) -> String {
    p.display().to_string()
}

/// The (change, kind, collection_change) of each output record by id,
/// checking the output is ordered by dataset_id.
fn summary(recs: &[Value]) -> BTreeMap<String, (String, String, String)> {
    let ids: Vec<&str> = recs
        .iter()
        .map(|r| r["dataset_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "records are not ordered by dataset_id");
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    recs.iter()
        .map(|r| {
            (
                s(&r["dataset_id"]),
                (s(&r["change"]), s(&r["kind"]), s(&r["collection_change"])),
            )
        })
        .collect()
}

#[test]
fn snapshot_folders_give_exactly_the_known_changes() {
    let pr = pair();
    let o = diff(&[&p(&pr.old), &p(&pr.new)]);
    o.ok();
    let recs = jsonl(&o.stdout);
    assert_eq!(summary(&recs), pr.expect);
    let by_id: BTreeMap<&str, &Value> = recs
        .iter()
        .map(|r| (r["dataset_id"].as_str().unwrap(), r))
        .collect();
    // the content revision names the cell count with its delta and the new URL
    let rev = by_id[pr.revised_id.as_str()];
    assert_eq!(rev["fields"]["cell_count"]["delta"], 100);
    assert!(rev["fields"]["assets.H5AD.url"]["new"]
        .as_str()
        .unwrap()
        .ends_with(".h5ad"));
    assert_ne!(rev["old_dataset_version_id"], rev["new_dataset_version_id"]);
    // a migration says schema_version, and no content field
    for r in recs.iter().filter(|r| r["kind"] == "schema_migration") {
        assert_eq!(r["collection_id"], pr.migrated_collection.as_str());
        assert_eq!(r["fields"]["schema_version"]["new"], "9.0.0");
        assert!(r["fields"].get("cell_count").is_none(), "{r}");
    }
    // metadata-only: same version, the collection's name and version changed
    for r in recs.iter().filter(|r| r["change"] == "metadata") {
        assert_eq!(r["collection_id"], pr.metadata_collection.as_str());
        assert_eq!(r["old_dataset_version_id"], r["new_dataset_version_id"]);
        let keys: BTreeSet<&str> = r["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["collection.collection_version_id", "collection.name"])
        );
        assert_eq!(
            r["fields"]["collection.name"]["new"],
            "A renamed collection"
        );
    }
    // the summary counts each change and names the collections that came and went
    let n = |c: &str| pr.expect.values().filter(|v| v.0 == c).count();
    o.stderr_has(&format!(
        "{} added, {} removed, {} revised",
        n("added"),
        n("removed"),
        n("revised")
    ))
    .stderr_has(&format!("collection {} added", uuid(800)))
    .stderr_has("removed with its");
}

#[test]
fn index_arrays_and_shuffled_json_lines_give_the_same_records() {
    let pr = pair();
    let t = TempDir::new();
    let folders = diff(&[&p(&pr.old), &p(&pr.new)]);
    let arrays = diff(&[
        &p(&pr.old.join("datasets.json")),
        &p(&pr.new.join("datasets.json")),
    ]);
    arrays.ok();
    assert_eq!(summary(&jsonl(&arrays.stdout)), pr.expect);
    // the index carries name and version of the collection, so the same bytes
    assert_eq!(folders.stdout, arrays.stdout);
    // JSON Lines in reverse and rotated order: byte-identical output
    for (side, name) in [(&pr.old, "old.jsonl"), (&pr.new, "new.jsonl")] {
        let v = json(&read(&side.join("datasets.json")));
        let mut lines: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.to_string())
            .collect();
        lines.reverse();
        lines.rotate_left(7);
        std::fs::write(t.join(name), lines.join("\n") + "\n").unwrap();
    }
    let shuffled = diff(&[&p(&t.join("old.jsonl")), &p(&t.join("new.jsonl"))]);
    shuffled.ok();
    assert_eq!(shuffled.stdout, arrays.stdout);
    // and one side on stdin
    let stdin = run(
        "cxg-diff",
        &["-", &p(&pr.new.join("datasets.json"))],
        Some(&read(&t.join("old.jsonl"))),
    );
    assert_eq!(stdin.ok().stdout, arrays.stdout);
}

#[test]
fn identical_inputs_give_nothing_and_exit_code_tells_differences() {
    let pr = pair();
    let same = diff(&["--exit-code", &p(&pr.old), &p(&pr.old)]);
    same.ok();
    assert!(same.stdout.is_empty());
    same.stderr_has("0 added, 0 removed, 0 revised (0 schema_migration, 0 content), 0 metadata");
    // --all lists the unchanged ones
    let all = diff(&["--all", "-q", &p(&pr.old), &p(&pr.old)]);
    let recs = jsonl(&all.ok().stdout);
    assert!(!recs.is_empty() && recs.iter().all(|r| r["change"] == "unchanged"));
    assert!(all.stderr.is_empty());
    let only = diff(&["--only", "unchanged", "-q", &p(&pr.old), &p(&pr.old)]);
    assert!(
        only.ok().stdout == all.stdout,
        "--only unchanged lists what --all does"
    );
    // differences: status 1 with --exit-code, 0 without
    diff(&["--exit-code", "-q", &p(&pr.old), &p(&pr.new)]).code(1);
    diff(&["-q", &p(&pr.old), &p(&pr.new)]).ok();
}

#[test]
fn csv_and_only_select_rows_for_a_re_download() {
    let pr = pair();
    let t = TempDir::new();
    let o = diff(&[
        "--format",
        "csv",
        "--only",
        "added,revised",
        "-o",
        &p(&t.join("changed.csv")),
        &p(&pr.old),
        &p(&pr.new),
    ]);
    o.ok();
    let (h, rows) = csv_rows(&read(&t.join("changed.csv")));
    assert_eq!(h[..4], ["change", "kind", "dataset_id", "collection_id"]);
    let want: BTreeSet<&str> = pr
        .expect
        .iter()
        .filter(|(_, v)| v.0 == "added" || v.0 == "revised")
        .map(|(k, _)| k.as_str())
        .collect();
    let got: BTreeSet<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(got, want);
    let rev = rows.iter().find(|r| r[2] == pr.revised_id).unwrap();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    assert_eq!(rev[col("cell_count_delta")], "100");
    assert!(rev[col("fields")].contains("cell_count"));
    // cxg-h5ad completes the rows with the links to fetch again
    let h5 = run(
        "cxg-h5ad",
        &[
            "--index",
            &p(&pr.new.join("datasets.json")),
            &p(&t.join("changed.csv")),
        ],
        None,
    );
    let (hh, hrows) = csv_rows(&h5.ok().stdout);
    let url = hh.iter().position(|x| x == "h5ad_url").unwrap();
    assert_eq!(hrows.len(), want.len());
    assert!(hrows.iter().all(|r| r[url].ends_with(".h5ad")));
}

#[test]
fn newest_compares_the_two_newest_snapshot_folders() {
    let pr = pair();
    let t = TempDir::new();
    let snaps = t.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    let one = diff(&["--newest", &p(&snaps)]);
    one.code(2).stderr_has("two are needed");
    for (name, src) in [
        ("20261101T000000Z", &pr.old),
        ("20261102T000000Z", &pr.old),
        ("20261103T000000Z", &pr.new),
    ] {
        let d = snaps.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["collections.json", "datasets.json"] {
            std::fs::copy(src.join(f), d.join(f)).unwrap();
        }
    }
    std::fs::create_dir_all(snaps.join("not-a-snapshot")).unwrap();
    let o = diff(&["--newest", &p(&snaps)]);
    assert_eq!(summary(&jsonl(&o.ok().stdout)), pr.expect);
}

#[test]
fn bad_input_is_named_with_its_place() {
    let t = TempDir::new();
    let good = t.join("good.jsonl");
    std::fs::write(
        &good,
        format!(
            "{{\"dataset_id\":\"{}\",\"dataset_version_id\":\"x\"}}\n",
            uuid(1)
        ),
    )
    .unwrap();
    let bad = t.join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{{\"dataset_id\":\"{}\"}}\n{{\"dataset_id\":\"../x\"}}\n",
            uuid(2)
        ),
    )
    .unwrap();
    diff(&[&p(&good), &p(&bad)])
        .code(2)
        .stderr_has("line 2")
        .stderr_has("'../x' is not a UUID");
    let trunc = t.join("trunc.json");
    std::fs::write(&trunc, "[{\"dataset_id\":").unwrap();
    diff(&[&p(&good), &p(&trunc)])
        .code(2)
        .stderr_has("trunc.json");
    std::fs::write(t.join("num.json"), "[1]").unwrap();
    diff(&[&p(&good), &p(&t.join("num.json"))])
        .code(2)
        .stderr_has("expected a dataset object");
    diff(&[&p(&good), &p(t.path())])
        .code(2)
        .stderr_has("without datasets_index.json");
    // -o is not left half-written after an input error
    diff(&["-o", &p(&t.join("out.jsonl")), &p(&good), &p(&bad)]).code(2);
    assert!(!t.join("out.jsonl").exists());
    assert_eq!(
        t.names(),
        ["bad.jsonl", "good.jsonl", "num.json", "trunc.json"]
    );
}

#[test]
fn cxg_datasets_lines_compare_publisher_metadata_links_and_consortia() {
    let t = TempDir::new();
    let rec = |journal: &str, consortia: Value| {
        json!({"dataset_id": uuid(1), "dataset_version_id": uuid(2), "cell_count": 5,
               "collection": {"collection_id": uuid(3), "collection_version_id": uuid(4),
                              "name": "N", "doi": null, "links": [],
                              "publisher_metadata": {"journal": journal}, "consortia": consortia}})
        .to_string()
    };
    std::fs::write(t.join("a.jsonl"), rec("Cell", json!([])) + "\n").unwrap();
    std::fs::write(t.join("b.jsonl"), rec("Nature", json!(["HCA"])) + "\n").unwrap();
    let o = diff(&[&p(&t.join("a.jsonl")), &p(&t.join("b.jsonl"))]);
    let recs = jsonl(&o.ok().stdout);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["change"], "metadata");
    assert_eq!(
        recs[0]["fields"],
        json!({"collection.publisher_metadata": {"old": {"journal": "Cell"}, "new": {"journal": "Nature"}},
               "collection.consortia": {"old": [], "new": ["HCA"]}})
    );
}

#[test]
fn confirm_removed_asks_the_api_whether_each_removal_is_a_tombstone() {
    let pr = pair();
    let removed: Vec<&String> = pr
        .expect
        .iter()
        .filter(|(_, v)| v.0 == "removed")
        .map(|(k, _)| k)
        .collect();
    let lone = pr
        .expect
        .iter()
        .find(|(_, v)| v.0 == "removed" && v.2.is_empty())
        .map(|(k, _)| k.clone())
        .unwrap();
    let tomb: BTreeSet<String> = pr
        .expect
        .iter()
        .filter(|(_, v)| v.2 == "removed")
        .map(|(k, _)| k.clone())
        .collect();
    // the API: the tombstoned collection answers 410, the lone removed dataset 404
    let api = TempDir::new();
    for f in ["collections.json", "datasets.json"] {
        std::fs::copy(pr.new.join(f), api.join(f)).unwrap();
    }
    let old_index = json(&read(&pr.old.join("datasets.json")));
    let tomb_cid = old_index
        .as_array()
        .unwrap()
        .iter()
        .find(|d| tomb.contains(d["dataset_id"].as_str().unwrap()))
        .unwrap()["collection_id"]
        .clone();
    write_json(&api.join("gone.json"), &json!([tomb_cid]));
    let s = Server::start(api.path(), &[]);
    let log = api.join("requests.jsonl");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--confirm-removed".into(),
            "--only".into(),
            "removed".into(),
            "--api-url".into(),
            s.url.clone(),
            "--log-requests".into(),
            log.display().to_string(),
        ];
        v.extend(extra.iter().map(|x| x.to_string()));
        v.push(p(&pr.old));
        v.push(p(&pr.new));
        v
    };
    let a = args(&[]);
    let o = run(
        "cxg-diff",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    let recs = jsonl(&o.ok().stdout);
    assert_eq!(recs.len(), removed.len());
    for r in &recs {
        let id = r["dataset_id"].as_str().unwrap();
        let want = if tomb.contains(id) {
            "gone"
        } else {
            "not_found"
        };
        assert_eq!(r["removed_check"], want, "{r}");
    }
    assert_eq!(jsonl(&read(&log)).len(), removed.len());
    // the dataset is still served by its own GET: the index left it out
    let cid = old_index
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dataset_id"] == lone.as_str())
        .unwrap()["collection_id"]
        .as_str()
        .unwrap()
        .to_string();
    let src = pr
        .old
        .join(format!("collections/{cid}/datasets/{lone}.json"));
    let dst = api.join(&format!("collections/{cid}/datasets"));
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::copy(&src, dst.join(format!("{lone}.json"))).unwrap();
    let o = run(
        "cxg-diff",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    let recs = jsonl(&o.ok().stdout);
    let r = recs
        .iter()
        .find(|r| r["dataset_id"] == lone.as_str())
        .unwrap();
    assert_eq!(r["removed_check"], "still_served");
    // an API that is down is exit 3, not a record failure
    let dead = dead_url();
    let o = run(
        "cxg-diff",
        &[
            "--confirm-removed",
            "--retries",
            "0",
            "--api-url",
            &dead,
            &p(&pr.old),
            &p(&pr.new),
        ],
        None,
    );
    o.code(3);
}

#[test]
fn one_harvest_in_every_form_compares_equal() {
    let t = TempDir::new();
    let snap = t.join("snap");
    generate(
        &snap,
        &["--seed", "9", "--collections", "10", "--datasets", "50"],
    );
    // cxg-datasets lines (full records with their collection) against the
    // snapshot folder and the bare index: nothing changed
    let lines = run(
        "cxg-datasets",
        &[
            "--index",
            &p(&snap.join("datasets.json")),
            &p(&snap.join("collections.json")),
        ],
        None,
    );
    std::fs::write(t.join("datasets.jsonl"), &lines.ok().stdout).unwrap();
    for other in [snap.clone(), snap.join("datasets.json")] {
        for (a, b) in [
            (t.join("datasets.jsonl"), other.clone()),
            (other.clone(), t.join("datasets.jsonl")),
        ] {
            let o = diff(&["--exit-code", &p(&a), &p(&b)]);
            o.ok().stderr_has("0 metadata, 50 unchanged");
            assert!(o.stdout.is_empty());
        }
    }
}

/// A minimal dataset record for the tests below.
fn rec(id: &str, version: &str, revised_at: &str, cells: Value, size: Value) -> Value {
    json!({"dataset_id": id, "collection_id": uuid(900), "dataset_version_id": version,
           "revised_at": revised_at, "cell_count": cells,
           "assets": [{"filetype": "H5AD", "url": "https://x/a.h5ad", "filesize": size}]})
}

fn lines(v: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in v {
        out.extend(serde_json::to_vec(r).unwrap());
        out.push(b'\n');
    }
    out
}

#[test]
fn deltas_beyond_i64_never_panic_nor_wrap() {
    let t = TempDir::new();
    let (a, b) = (t.join("a.jsonl"), t.join("b.jsonl"));
    let id = uuid(1);
    std::fs::write(&a, lines(&[rec(&id, "v1", "2026", json!(-1), json!(-1))])).unwrap();
    std::fs::write(
        &b,
        lines(&[rec(&id, "v2", "2026", json!(i64::MAX), json!(i64::MAX))]),
    )
    .unwrap();
    let o = diff(&[&p(&a), &p(&b)]);
    let recs = jsonl(&o.ok().stdout);
    let f = &recs[0]["fields"];
    // i64::MAX - (-1) = 2^63: exact, not wrapped to i64::MIN
    assert_eq!(f["cell_count"]["delta"], json!(9223372036854775808u64));
    assert_eq!(
        f["assets.H5AD.filesize"]["delta"],
        json!(9223372036854775808u64)
    );
    // the other way: exactly i64::MIN
    let o = diff(&[&p(&b), &p(&a)]);
    let recs = jsonl(&o.ok().stdout);
    assert_eq!(
        recs[0]["fields"]["cell_count"]["delta"],
        json!(-9223372036854775808i64)
    );
    diff(&[&p(&b), &p(&a), "--format", "csv"]).ok();
}

#[test]
fn duplicates_choose_the_same_record_whatever_the_order_and_are_named() {
    let t = TempDir::new();
    let id = uuid(7);
    let other = uuid(8);
    let x = rec(&id, "v1", "2026-01-01", json!(10), json!(5));
    let y = rec(&id, "v1", "2026-01-01", json!(12), json!(5));
    let base = t.join("base.jsonl");
    std::fs::write(
        &base,
        lines(&[
            rec(&id, "v1", "2026-01-01", json!(11), json!(5)),
            rec(&other, "v1", "2026-01-01", json!(1), json!(1)),
        ]),
    )
    .unwrap();
    let (f1, f2) = (t.join("xy.jsonl"), t.join("yx.jsonl"));
    let o2 = rec(&other, "v1", "2026-01-01", json!(1), json!(1));
    std::fs::write(&f1, lines(&[x.clone(), o2.clone(), y.clone()])).unwrap();
    std::fs::write(&f2, lines(&[y, o2, x])).unwrap();
    let a = diff(&[&p(&base), &p(&f1)]);
    let b = diff(&[&p(&base), &p(&f2)]);
    assert_eq!(a.ok().stdout, b.ok().stdout);
    a.stderr_has("1 dataset id appears more than once")
        .stderr_has(&id);
    // the larger content (12 cells) is the one compared
    let recs = jsonl(&a.stdout);
    assert_eq!(recs[0]["fields"]["cell_count"]["new"], 12);
    // a later revised_at wins over larger content
    let z = rec(&id, "v1", "2026-02-01", json!(3), json!(5));
    let w = rec(&id, "v1", "2026-01-01", json!(99), json!(5));
    std::fs::write(&f1, lines(&[z.clone(), w.clone()])).unwrap();
    std::fs::write(&f2, lines(&[w, z])).unwrap();
    let a = diff(&[&p(&base), &p(&f1)]);
    let b = diff(&[&p(&base), &p(&f2)]);
    assert_eq!(a.stdout, b.stdout);
    let recs = jsonl(&a.stdout);
    let r = recs
        .iter()
        .find(|r| r["dataset_id"] == id.as_str())
        .unwrap();
    assert_eq!(r["fields"]["cell_count"]["new"], 3);

    // duplicate collection entries in a snapshot folder: the same choice either way
    let (s1, s2, s0) = (t.join("s1"), t.join("s2"), t.join("s0"));
    let idx = json!([rec(&id, "v1", "2026-01-01", json!(11), json!(5))]);
    let c = |name: &str| json!({"collection_id": uuid(900), "name": name});
    for (dir, colls) in [
        (&s0, json!([c("base")])),
        (&s1, json!([c("first"), c("second")])),
        (&s2, json!([c("second"), c("first")])),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        write_json(&dir.join("datasets_index.json"), &idx);
        write_json(&dir.join("collections.json"), &colls);
    }
    let a = diff(&[&p(&s0), &p(&s1)]);
    let b = diff(&[&p(&s0), &p(&s2)]);
    assert_eq!(a.ok().stdout, b.ok().stdout);
    a.stderr_has("1 collection id appears more than once")
        .stderr_has(&uuid(900));
    let recs = jsonl(&a.stdout);
    assert_eq!(recs[0]["fields"]["collection.name"]["new"], "second");
}

#[test]
fn ids_compare_case_insensitively_and_an_empty_side_is_an_error() {
    let t = TempDir::new();
    let id = "0000000a-0000-4000-8000-00000000000a";
    let a = t.join("a.jsonl");
    let b = t.join("b.jsonl");
    std::fs::write(&a, lines(&[rec(id, "v1", "2026", json!(1), json!(1))])).unwrap();
    std::fs::write(
        &b,
        lines(&[rec(&id.to_uppercase(), "v1", "2026", json!(1), json!(1))]),
    )
    .unwrap();
    let o = diff(&[&p(&a), &p(&b)]);
    assert!(o.ok().stdout.is_empty(), "{}", o.text());
    // an empty NEW (e.g. </dev/null) is refused, not "everything removed"
    let o = run("cxg-diff", &[&p(&a), "-"], Some(b""));
    o.code(2).stderr_has("holds no datasets");
    assert!(o.stdout.is_empty());
    diff(&["/dev/null", &p(&a)])
        .code(2)
        .stderr_has("--allow-empty");
    let o = run("cxg-diff", &["--allow-empty", &p(&a), "-"], Some(b""));
    assert_eq!(jsonl(&o.ok().stdout)[0]["change"], "removed");
}

#[test]
fn jobs_are_refused_outside_1_to_256_as_in_every_other_tool() {
    let t = TempDir::new();
    let a = t.join("a.jsonl");
    std::fs::write(
        &a,
        lines(&[rec(&uuid(1), "v1", "2026", json!(1), json!(1))]),
    )
    .unwrap();
    for j in ["0", "257", "99999999999", "x"] {
        let o = diff(&["-j", j, &p(&a), &p(&a)]);
        o.code(2);
        assert!(o.stdout.is_empty());
        // word for word what cxg-h5ad and cxg-obs say
        for other in ["cxg-h5ad", "cxg-obs"] {
            let r = run(other, &["-j", j], Some(b""));
            r.code(2);
            assert_eq!(o.stderr, r.stderr, "-j {j}: cxg-diff and {other}");
        }
    }
    for j in ["1", "256"] {
        diff(&["-j", j, &p(&a), &p(&a)]).ok();
    }
}
