//! cxg-obs against the committed H5AD fixtures (written by anndata with
//! scripts/make_h5ad_fixtures.py; the expected summaries beside them were
//! computed by anndata itself): counts, labels, missing codes, int8/16/32
//! codes, the older 0.8 layout, bad files that fail alone, the manifest
//! input, --csv, -j, and --join. No Python is needed here.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::Value;
use std::path::PathBuf;

const GOOD: [&str; 8] = [
    "0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b",
    "wide_codes",
    "anndata08",
    "plain",
    "lzf",
    "anndata07_layout",
    "ids_only",
    "x_unreadable",
];
const FACETS: [&str; 9] = [
    "cell_type",
    "tissue",
    "disease",
    "assay",
    "sex",
    "development_stage",
    "self_reported_ethnicity",
    "suspension_type",
    "tissue_type",
];

fn h5(name: &str) -> PathBuf {
    fixture(&format!("h5ad/{name}.h5ad"))
}

fn list(names: &[&str]) -> Vec<u8> {
    names
        .iter()
        .map(|n| format!("{}\n", h5(n).display()))
        .collect::<String>()
        .into_bytes()
}

/// An object's entries in order (serde_json's map equality ignores order).
fn entries(v: &Value) -> Vec<(String, Value)> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_against_anndata(got: &Value, name: &str) {
    let want = json(&read(&fixture(&format!("h5ad/{name}.expected.json"))));
    assert_eq!(got["status"], "ok", "{name}: {}", got["error"]);
    assert_eq!(got["error"], Value::Null);
    for k in [
        "dataset_version_id",
        "schema_version",
        "n_cells",
        "normal_cell_count",
        "primary_cell_count",
        "donor_count",
    ] {
        assert_eq!(got[k], want[k], "{name}: {k}");
    }
    for f in FACETS {
        for part in ["counts", "labels"] {
            assert_eq!(
                entries(&got[part][f]),
                entries(&want[part][f]),
                "{name}: {part}.{f} (values and order)"
            );
        }
        assert_eq!(got["missing"][f], want["missing"][f], "{name}: missing.{f}");
    }
}

#[test]
fn summaries_match_anndata_for_every_layout() {
    let o = run("cxg-obs", &["-j", "2"], Some(&list(&GOOD)));
    o.ok()
        .stderr_has("8 files: 8 summarised, 0 failed, 0 manifest rows skipped");
    let recs = jsonl(&o.stdout);
    assert_eq!(recs.len(), 8);
    for (r, name) in recs.iter().zip(GOOD) {
        check_against_anndata(r, name);
    }
    // what the fixtures exercise, so that the comparison above means it
    let basic = &recs[0];
    assert!(
        basic["missing"]["cell_type"].as_u64().unwrap() > 0,
        "-1 codes"
    );
    let wide = json(&read(&fixture("h5ad/wide_codes.expected.json")));
    assert_eq!(
        wide["_written_by"]["layout"]["codes"]["cell_type_ontology_term_id"],
        "int16"
    );
    assert_eq!(
        wide["_written_by"]["layout"]["codes"]["assay_ontology_term_id"],
        "int32"
    );
    assert!(recs[1]["counts"]["cell_type"].as_object().unwrap().len() > 127);
    // wide_codes.h5ad is not named by its id: it comes from uns
    assert_eq!(
        recs[1]["dataset_version_id"],
        "7c1e2a44-9d0b-4f3e-b6a1-5e8d2c9f0b77"
    );
    // tissue_type is an exact tie: ids in byte order
    let tt: Vec<String> = entries(&basic["counts"]["tissue_type"])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(tt, ["organoid", "tissue"]);
    // every record has the same keys, in the same order
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(basic),
        [
            "dataset_version_id",
            "dataset_id",
            "path",
            "status",
            "error",
            "schema_version",
            "title",
            "uns_error",
            "n_cells",
            "normal_cell_count",
            "primary_cell_count",
            "donor_count",
            "missing_columns",
            "counts",
            "labels",
            "missing",
            "obsm",
            "extra_columns",
            "author_cell_type_column",
            "warnings"
        ]
    );
}

#[test]
fn bad_files_fail_alone_and_are_named() {
    let names = [
        "plain",
        "not_hdf5",
        "truncated",
        "missing_column",
        "zstd",
        "anndata08",
        "not_anndata",
    ];
    let mut input = list(&names);
    input.extend(b"/no/such/file.h5ad\n");
    let t = TempDir::new();
    let out = t.join("obs.jsonl");
    let o = run("cxg-obs", &["-o", out.to_str().unwrap()], Some(&input));
    o.code(1)
        .stderr_has("8 files: 3 summarised, 5 failed")
        .stderr_has("5 records could not be processed");
    let recs = jsonl(&read(&out));
    assert_eq!(recs.len(), 8, "one record per file, failed ones included");
    check_against_anndata(&recs[0], "plain");
    check_against_anndata(&recs[5], "anndata08");
    // a missing column is no failure: what needs it is null, and it is named
    let r = &recs[3];
    assert_eq!((&r["status"], &r["n_cells"]), (&"ok".into(), &300.into()));
    assert_eq!(r["donor_count"], Value::Null);
    assert_eq!(r["missing_columns"], serde_json::json!(["donor_id"]));
    assert!(r["primary_cell_count"].as_u64().is_some());
    let reasons = [
        (1, "not_hdf5", "not an HDF5 file"),
        (2, "truncated", "truncated: the file has"),
        (
            4,
            "zstd",
            "column 'obs/cell_type_ontology_term_id/codes': unsupported compression filter 32015 (Zstandard)",
        ),
        (6, "not_anndata", "no 'obs' group: not an AnnData file"),
        (7, "file", "cannot open"),
    ];
    for (i, name, why) in reasons {
        let r = &recs[i];
        assert_eq!(r["status"], "failed", "{name}");
        let err = r["error"].as_str().unwrap();
        assert!(err.contains(why), "{name}: {err}");
        assert_eq!(r["dataset_version_id"], name);
        for k in [
            "n_cells",
            "normal_cell_count",
            "counts",
            "labels",
            "missing",
        ] {
            assert_eq!(r[k], Value::Null, "{name}: {k}");
        }
        // named on stderr with the reason
        let path = r["path"].as_str().unwrap();
        o.stderr_has(&format!("'{path}': {err}"));
    }
}

#[test]
fn the_manifest_gives_ids_skips_failed_downloads_and_resolves_paths() {
    // run from another folder: the manifest's relative paths are taken
    // from --base
    let t = TempDir::new();
    let m = fixture("h5ad/manifest.csv");
    let o = sh(
        t.path(),
        &format!(
            "cxg-obs --base {} {}",
            fixture("h5ad").display(),
            m.display()
        ),
    );
    o.ok()
        .stderr_has(
            "row 3: dataset c4d3e2f1-a0b9-4c8d-9e7f-6a5b4c3d2e1f: the download failed; skipped",
        )
        .stderr_has("4 files: 4 summarised, 0 failed, 1 manifest row skipped");
    let recs = jsonl(&o.stdout);
    let (_, rows) = csv_rows(&read(&m));
    let rows: Vec<&Vec<String>> = rows.iter().filter(|r| r[6] != "failed").collect();
    assert_eq!(recs.len(), rows.len());
    for (r, row) in recs.iter().zip(rows) {
        assert_eq!(r["dataset_id"], row[0].as_str());
        assert_eq!(r["dataset_version_id"], row[1].as_str());
        assert_eq!(r["path"], row[3].as_str());
        assert_eq!(r["status"], "ok");
    }
    // stdin works the same (paths then relative to the current folder)
    let o2 = sh(&fixture("h5ad"), "cxg-obs < manifest.csv");
    o2.ok();
    assert_eq!(o2.stdout, o.stdout);
    // and so does the manifest as a file from its own folder
    let o3 = sh(&fixture("h5ad"), "cxg-obs manifest.csv");
    o3.ok();
    assert_eq!(o3.stdout, o.stdout);
}

#[test]
fn a_manifest_row_never_reads_another_file() {
    // from a folder holding a different plain.h5ad, without --base: the
    // relative paths are taken from here, and the size check refuses the
    // stranger instead of summarising it; nothing is looked up beside the
    // manifest
    let t = TempDir::new();
    std::fs::copy(h5("anndata08"), t.join("plain.h5ad")).unwrap();
    let m = fixture("h5ad/manifest.csv");
    let o = sh(t.path(), &format!("cxg-obs {}", m.display()));
    o.code(1)
        .stderr_has("4 files: 0 summarised, 4 failed")
        .stderr_has("'plain.h5ad': plain.h5ad has 252048 bytes, the manifest says 143944: not the file the manifest names");
    let recs = jsonl(&o.stdout);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        assert_eq!(r["status"], "failed", "{r}");
    }
    assert!(
        recs[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot open 0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b.h5ad"),
        "{}",
        recs[0]
    );
    // the size is checked with --base too, and a bytes cell that is not a
    // number is that row's error
    let t2 = TempDir::new();
    std::fs::copy(h5("plain"), t2.join("a.h5ad")).unwrap();
    std::fs::copy(h5("plain"), t2.join("b.h5ad")).unwrap();
    let man = t2.join("m.csv");
    std::fs::write(
        &man,
        "dataset_id,dataset_version_id,path,bytes,status
         d1,v1,a.h5ad,143943,downloaded
d2,v2,b.h5ad,lots,downloaded
d3,v3,a.h5ad,143944,cached
",
    )
    .unwrap();
    let o = run(
        "cxg-obs",
        &["--base", t2.path().to_str().unwrap(), man.to_str().unwrap()],
        None,
    );
    o.code(1).stderr_has("3 files: 1 summarised, 2 failed");
    let recs = jsonl(&o.stdout);
    let a = t2.join("a.h5ad");
    assert_eq!(
        recs[0]["error"],
        format!(
            "{} has 143944 bytes, the manifest says 143943: not the file the manifest names",
            a.display()
        )
    );
    assert_eq!(
        recs[1]["error"],
        "the manifest's bytes 'lots' is not a number"
    );
    let plain = json(&read(&fixture("h5ad/plain.expected.json")));
    assert_eq!(recs[2]["status"], "ok");
    assert_eq!(recs[2]["n_cells"], plain["n_cells"]);
    assert_eq!(recs[2]["counts"], plain["counts"]);
}

#[test]
fn csv_joins_each_facet_most_cells_first() {
    let o = run("cxg-obs", &["--csv"], Some(&list(&GOOD[..2])));
    o.ok();
    let (h, rows) = csv_rows(&o.stdout);
    assert_eq!(
        &h[..15],
        [
            "dataset_version_id",
            "dataset_id",
            "path",
            "status",
            "error",
            "schema_version",
            "n_cells",
            "normal_cell_count",
            "primary_cell_count",
            "donor_count",
            "title",
            "uns_error",
            "missing_columns",
            "obsm",
            "author_cell_type_column"
        ]
    );
    assert_eq!(&h[15..], FACETS);
    for (row, name) in rows.iter().zip(GOOD) {
        let want = json(&read(&fixture(&format!("h5ad/{name}.expected.json"))));
        assert_eq!(row[6], want["n_cells"].to_string());
        assert_eq!(row[7], want["normal_cell_count"].to_string());
        assert_eq!(row[9], want["donor_count"].to_string());
        for (i, f) in FACETS.iter().enumerate() {
            let joined: Vec<String> = entries(&want["counts"][f])
                .into_iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            assert_eq!(row[15 + i], joined.join(" | "), "{name}: {f}");
        }
    }
}

#[test]
fn output_is_identical_at_any_j_and_across_runs() {
    let mut names: Vec<&str> = GOOD.to_vec();
    names.extend(["zstd", "not_hdf5", "truncated"]);
    names.extend(GOOD);
    let input = list(&names);
    let a = run("cxg-obs", &["-j", "1"], Some(&input));
    let b = run("cxg-obs", &["-j", "8"], Some(&input));
    let c = run("cxg-obs", &["-j", "8"], Some(&input));
    a.code(1);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(b.stdout, c.stdout);
    let a = run("cxg-obs", &["--csv", "-j", "1"], Some(&input));
    let b = run("cxg-obs", &["--csv", "-j", "3"], Some(&input));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn join_adds_the_scalars_to_the_harvester_csv() {
    let t = TempDir::new();
    let obs = t.join("obs.jsonl");
    let o = run(
        "cxg-obs",
        &[
            "-o",
            obs.to_str().unwrap(),
            "--base",
            fixture("h5ad").to_str().unwrap(),
            fixture("h5ad/manifest.csv").to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    let csv = t.join("all_datasets_h5ad.csv");
    // matched by dataset_version_id; another version of a dataset with a
    // record (revised since: its counts must not be attached); no record
    // at all; by dataset_id for a row without a version; a quoted
    // multi-line cell survives
    std::fs::write(
        &csv,
        "collection_id,dataset_id,dataset_version_id,title,cell_count\n\
         c1,5e1c7f0a-2b3d-4c5e-8f6a-7b8c9d0e1f2a,0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b,\"two\nlines\",2000\n\
         c1,3b9d2e71-6c4a-4f8b-9e0d-1a2b3c4d5e6f,00000000-0000-4000-8000-000000000001,b,3000\n\
         c2,00000000-0000-4000-8000-0000000000aa,00000000-0000-4000-8000-0000000000bb,c,7\n\
         c1,3b9d2e71-6c4a-4f8b-9e0d-1a2b3c4d5e6f,,d,3000\n",
    )
    .unwrap();
    let out = t.join("all_datasets_obs.csv");
    let j = run(
        "cxg-obs",
        &[
            "--join",
            csv.to_str().unwrap(),
            obs.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    j.ok()
        .stderr_has("row 3 (dataset 00000000-0000-4000-8000-0000000000bb): no cxg-obs record")
        .stderr_has(
            "row 2 (dataset 3b9d2e71-6c4a-4f8b-9e0d-1a2b3c4d5e6f): no cxg-obs record of version \
             00000000-0000-4000-8000-000000000001, only of version 7c1e2a44-9d0b-4f3e-b6a1-5e8d2c9f0b77; cells left empty",
        )
        .stderr_has("4 rows: 2 joined, 1 without a record, 0 whose file failed, 1 with a record of another version only");
    let (h, rows) = csv_rows(&read(&out));
    assert_eq!(
        &h[5..],
        ["normal_cell_count", "primary_cell_count", "donor_count"]
    );
    let basic = json(&read(&fixture(&format!("h5ad/{}.expected.json", GOOD[0]))));
    let wide = json(&read(&fixture("h5ad/wide_codes.expected.json")));
    let want = |v: &Value| {
        vec![
            v["normal_cell_count"].to_string(),
            v["primary_cell_count"].to_string(),
            v["donor_count"].to_string(),
        ]
    };
    assert_eq!(rows[0][3], "two\nlines");
    assert_eq!(rows[0][5..], want(&basic));
    assert_eq!(rows[1][5..], ["", "", ""]);
    assert_eq!(rows[2][5..], ["", "", ""]);
    assert_eq!(rows[3][5..], want(&wide));
    // a rerun on its own output replaces the columns: same file
    let again = run(
        "cxg-obs",
        &["--join", out.to_str().unwrap(), obs.to_str().unwrap()],
        None,
    );
    again.ok();
    assert_eq!(again.stdout, read(&out));
    // a failed file's row is named, left empty, and the status says so
    let bad = t.join("bad.jsonl");
    let b = run(
        "cxg-obs",
        &["-o", bad.to_str().unwrap()],
        Some(&list(&["not_hdf5"])),
    );
    b.code(1);
    let idcsv = t.join("ids.csv");
    std::fs::write(&idcsv, "dataset_version_id\nnot_hdf5\n").unwrap();
    let j = run(
        "cxg-obs",
        &["--join", idcsv.to_str().unwrap(), bad.to_str().unwrap()],
        None,
    );
    j.code(1)
        .stderr_has("row 1 (dataset not_hdf5): its file failed (not an HDF5 file");
    // a CSV without either id column is bad input
    std::fs::write(&idcsv, "a,b\n1,2\n").unwrap();
    run(
        "cxg-obs",
        &["--join", idcsv.to_str().unwrap(), obs.to_str().unwrap()],
        None,
    )
    .code(2)
    .stderr_has("expected a dataset_version_id or dataset_id column");
}

#[test]
fn make_obs_summarises_the_manifest_and_joins_the_harvest() {
    // a harvest of the committed snapshot, then "downloads": the fixture
    // files under the ids of the first two datasets, plus a failed one
    let t = TempDir::new();
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let data = t.join("data");
    let args = |target: &str| {
        vec![
            target.to_string(),
            format!("DATA={}", data.display()),
            format!("API_URL={}", s.url),
        ]
    };
    make(&args("stages")).ok();
    let (h, rows) = csv_rows(&read(&data.join("all_datasets_h5ad.csv")));
    let (di, vi) = (
        h.iter().position(|x| x == "dataset_id").unwrap(),
        h.iter().position(|x| x == "dataset_version_id").unwrap(),
    );
    std::fs::create_dir_all(data.join("h5ad")).unwrap();
    let mut manifest = String::from("dataset_id,dataset_version_id,url,path,bytes,sha256,status\n");
    for (row, name) in rows.iter().zip(["plain", "anndata08"]) {
        let dv = &row[vi];
        let dest = data.join(format!("h5ad/{dv}.h5ad"));
        std::fs::copy(h5(name), &dest).unwrap();
        manifest.push_str(&format!(
            "{},{dv},u,{},{},s,downloaded\n",
            row[di],
            dest.display(),
            std::fs::metadata(&dest).unwrap().len()
        ));
    }
    manifest.push_str(&format!("{},{},u,,,,failed\n", rows[2][di], rows[2][vi]));
    std::fs::write(data.join("h5ad/manifest.csv"), manifest).unwrap();
    let o = make(&args("obs"));
    o.ok()
        .stderr_has("2 files: 2 summarised, 0 failed, 1 manifest row skipped")
        .stderr_has(&format!(
            "{} rows: 2 joined, {} without a record",
            rows.len(),
            rows.len() - 2
        ));
    let recs = jsonl(&read(&data.join("obs.jsonl")));
    assert_eq!(recs.len(), 2);
    let (ho, out) = csv_rows(&read(&data.join("all_datasets_obs.csv")));
    assert_eq!(&ho[..h.len()], &h[..]);
    assert_eq!(
        &ho[h.len()..],
        ["normal_cell_count", "primary_cell_count", "donor_count"]
    );
    assert_eq!(out.len(), rows.len());
    for (k, name) in ["plain", "anndata08"].iter().enumerate() {
        let want = json(&read(&fixture(&format!("h5ad/{name}.expected.json"))));
        assert_eq!(out[k][h.len()], want["normal_cell_count"].to_string());
        assert_eq!(out[k][h.len() + 2], want["donor_count"].to_string());
        assert_eq!(recs[k]["dataset_version_id"], rows[k][vi].as_str());
    }
    assert!(out[2..]
        .iter()
        .all(|r| r[h.len()..].iter().all(String::is_empty)));
    // a file that fails: make stops, and neither output is left half-made
    std::fs::write(data.join(format!("h5ad/{}.h5ad", rows[0][vi])), b"not hdf5").unwrap();
    std::fs::remove_file(data.join("obs.jsonl")).unwrap();
    std::fs::remove_file(data.join("all_datasets_obs.csv")).unwrap();
    let o = make(&args("obs"));
    assert_ne!(o.code, 0);
    o.stderr_has("has 8 bytes, the manifest says");
    assert!(!data.join("obs.jsonl").exists());
    assert!(!data.join("all_datasets_obs.csv").exists());
    let left: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn mangled_files_fail_alone_without_a_panic() {
    // flipped bytes and cuts at many places in two fixtures: every file
    // gets a record, nothing panics or aborts, the run completes
    let t = TempDir::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let mut input = String::new();
    let mut count = 0;
    for name in ["plain", "lzf"] {
        let base = read(&h5(name));
        for k in 0..40 {
            let mut data = base.clone();
            if k % 4 == 3 {
                data.truncate(next(base.len()));
            } else {
                for _ in 0..(1 + next(8)) {
                    // mostly early bytes: the metadata lives there
                    let at = if next(2) == 0 {
                        next(4096)
                    } else {
                        next(data.len())
                    };
                    data[at] = next(256) as u8;
                }
            }
            let p = t.join(&format!("{name}-{k}.h5ad"));
            std::fs::write(&p, &data).unwrap();
            input.push_str(&format!("{}\n", p.display()));
            count += 1;
        }
    }
    let o = run("cxg-obs", &["-j", "2"], Some(input.as_bytes()));
    assert!(
        o.code == 0 || o.code == 1,
        "status {}: {}",
        o.code,
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    let recs = jsonl(&o.stdout);
    assert_eq!(recs.len(), count);
    for r in &recs {
        assert!(r["status"] == "ok" || r["error"].is_string(), "{r}");
    }
}

#[test]
fn a_file_declaring_huge_sizes_fails_alone_without_allocating_them() {
    // a few KB whose _index and codes claim 10^12 cells, stretched to
    // 10 GB (sparse) so its length no longer gives the claim away: that
    // file's error, the files around it are summarised
    let t = TempDir::new();
    let huge = t.join("huge.h5ad");
    std::fs::copy(h5("huge_claims"), &huge).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(10 << 30)
        .unwrap();
    let input = format!(
        "{}\n{}\n{}\n",
        h5("plain").display(),
        huge.display(),
        h5("anndata08").display()
    );
    let o = run("cxg-obs", &["-j", "1"], Some(input.as_bytes()));
    o.code(1).stderr_has("3 files: 2 summarised, 1 failed");
    assert!(!o.stderr.contains("memory allocation"), "{}", o.stderr);
    let recs = jsonl(&o.stdout);
    assert_eq!(recs.len(), 3);
    check_against_anndata(&recs[0], "plain");
    check_against_anndata(&recs[2], "anndata08");
    assert_eq!(recs[1]["status"], "failed");
    assert_eq!(
        recs[1]["error"],
        "column 'obs/cell_type_ontology_term_id/codes': declares 1000000000000 values but stores only 1000"
    );
}

#[test]
fn two_dimensional_codes_are_an_unsupported_layout() {
    // plain.h5ad with its cell type codes reshaped to n/2 x 2: as many
    // values as cells, but not one per cell
    let o = run("cxg-obs", &[], Some(&list(&["codes_2d"])));
    o.code(1);
    let recs = jsonl(&o.stdout);
    assert_eq!(recs[0]["status"], "failed");
    assert_eq!(
        recs[0]["error"],
        "column 'obs/cell_type_ontology_term_id/codes': unsupported layout: shape [250, 2], expected one dimension (one value per cell)"
    );
}

#[test]
fn join_names_the_first_ten_rows_whose_record_is_another_version() {
    let t = TempDir::new();
    let obs = t.join("obs.jsonl");
    run(
        "cxg-obs",
        &[
            "-o",
            obs.to_str().unwrap(),
            "--base",
            fixture("h5ad").to_str().unwrap(),
            fixture("h5ad/manifest.csv").to_str().unwrap(),
        ],
        None,
    )
    .ok();
    // twelve revised versions of a dataset whose record is of version 0a3e…
    let mut text = String::from("dataset_id,dataset_version_id\n");
    for i in 0..12 {
        text.push_str(&format!(
            "5e1c7f0a-2b3d-4c5e-8f6a-7b8c9d0e1f2a,00000000-0000-4000-8000-0000000000{i:02}\n"
        ));
    }
    let csv = t.join("revised.csv");
    std::fs::write(&csv, text).unwrap();
    let o = run(
        "cxg-obs",
        &["--join", csv.to_str().unwrap(), obs.to_str().unwrap()],
        None,
    );
    // as for rows without a record: named, left empty, status 0
    o.ok()
        .stderr_has("row 10 (dataset 5e1c7f0a-2b3d-4c5e-8f6a-7b8c9d0e1f2a): no cxg-obs record of version 00000000-0000-4000-8000-000000000009, only of version 0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b")
        .stderr_has("12 rows in all have a record of another version only (the first 10 named above)")
        .stderr_has("12 rows: 0 joined, 0 without a record, 0 whose file failed, 12 with a record of another version only");
    assert!(!o.stderr.contains("row 11 "), "{}", o.stderr);
    let (_, rows) = csv_rows(&o.stdout);
    assert_eq!(rows.len(), 12);
    for r in &rows {
        assert_eq!(r[2..], ["", "", ""]);
    }
}

#[test]
fn a_label_column_that_links_to_itself_is_an_error_not_empty_labels() {
    // plain.h5ad whose obs/cell_type is a soft link to itself: it is in
    // obs's column-order, so its absence is not "a file with ids only"
    let o = run(
        "cxg-obs",
        &[],
        Some(&list(&["self_link_label", "ids_only"])),
    );
    o.code(1).stderr_has("2 files: 1 summarised, 1 failed");
    let recs = jsonl(&o.stdout);
    assert_eq!(recs[0]["status"], "failed");
    assert_eq!(
        recs[0]["error"],
        "column 'obs/cell_type' is in obs's column-order but cannot be opened (a soft link that does not resolve?)"
    );
    // a file without label columns still has empty labels
    check_against_anndata(&recs[1], "ids_only");
}

/// The files of tests/fixtures/h5ad/any, by name (their expected.json).
fn any_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture("h5ad/any"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".expected.json").map(String::from)
        })
        .collect();
    names.sort();
    names
}

/// One record against anndata's, field by field (maps in order).
fn check_any(got: &Value, want: &Value, name: &str) {
    assert_eq!(got["status"], "ok", "{name}: {}", got["error"]);
    for (k, w) in want.as_object().unwrap() {
        match k.as_str() {
            k if k.starts_with('_') => {}
            "uns_damaged" => {
                let damaged = got["uns_error"] != Value::Null;
                assert_eq!(
                    damaged,
                    w.as_bool().unwrap(),
                    "{name}: {}",
                    got["uns_error"]
                );
            }
            "counts" | "labels" | "missing" => {
                for (f, wf) in w.as_object().unwrap() {
                    match wf {
                        Value::Object(_) => {
                            assert_eq!(entries(&got[k][f]), entries(wf), "{name}: {k}.{f}")
                        }
                        _ => assert_eq!(&got[k][f], wf, "{name}: {k}.{f}"),
                    }
                }
            }
            "extra_columns" => assert_eq!(entries(&got[k]), entries(w), "{name}: {k}"),
            _ => assert_eq!(&got[k], w, "{name}: {k}"),
        }
    }
}

/// Any AnnData, any schema: CELLxGENE's schema example files (2.0 to 7.0),
/// anndata's archive files (0.7.0, 0.7.8, 0.11.4, and 0.5.0's compound
/// obs), and layouts written with anndata (no CELLxGENE column, schema 2's
/// ethnicity, bools as categories, a damaged uns) agree with anndata on
/// every field: n_cells, counts, labels, missing, nulls and
/// missing_columns, obsm keys, extra columns and their distinct values,
/// the author cell-type column, schema_version and title.
#[test]
fn any_anndata_of_any_schema_matches_anndata_field_by_field() {
    let names = any_names();
    assert!(names.len() >= 14, "{names:?}");
    let paths: Vec<String> = names
        .iter()
        .map(|n| format!("{}\n", fixture(&format!("h5ad/any/{n}.h5ad")).display()))
        .collect();
    let o = run("cxg-obs", &["-j", "2"], Some(paths.concat().as_bytes()));
    o.ok().stderr_has(&format!(
        "{} files: {} summarised, 0 failed",
        names.len(),
        names.len()
    ));
    // the damaged uns is named on stderr, and in its record
    o.stderr_has("uns_damaged.h5ad': uns is damaged: 'uns/schema_version': unsupported compression filter 32015");
    let recs = jsonl(&o.stdout);
    assert_eq!(recs.len(), names.len());
    for (r, n) in recs.iter().zip(&names) {
        let want = json(&read(&fixture(&format!("h5ad/any/{n}.expected.json"))));
        check_any(r, &want, n);
    }
    // what the fixtures exercise, so that the comparison means it
    let by = |n: &str| &recs[names.iter().position(|x| x == n).unwrap()];
    let s2 = by("schema2_0_0_example");
    assert_eq!(s2["schema_version"], "2.0.0");
    assert!(!s2["counts"]["self_reported_ethnicity"]
        .as_object()
        .unwrap()
        .is_empty());
    assert_eq!(
        s2["missing_columns"],
        serde_json::json!(["suspension_type", "tissue_type", "donor_id"])
    );
    let own = by("study_own");
    assert_eq!(own["n_cells"], 400);
    assert_eq!(own["author_cell_type_column"], "cell_type_original");
    assert_eq!(
        own["obsm"],
        serde_json::json!(["X_pca", "X_tsne", "X_umap"])
    );
    // categories ['True', 'False'] with ~30% of codes 1: read by values,
    // most cells are primary; read by codes, a minority would be
    assert!(
        by("bool_true_false")["primary_cell_count"]
            .as_u64()
            .unwrap()
            > 125
    );
    assert_eq!(
        by("anndata_v0_7_0")["obsm"],
        serde_json::json!(["array", "df", "sparse"])
    );
}

/// The pinned files are the ones SOURCES.csv names (size and SHA-256).
#[test]
fn files_written_by_others_are_pinned() {
    use sha2::{Digest, Sha256};
    let (h, rows) = csv_rows(&read(&fixture("h5ad/any/SOURCES.csv")));
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let mut real = 0;
    for r in &rows {
        if r[col("kind")] != "real" {
            continue;
        }
        real += 1;
        let bytes = read(&fixture(&format!("h5ad/any/{}.h5ad", r[col("name")])));
        assert_eq!(
            bytes.len().to_string(),
            r[col("bytes")],
            "{}",
            r[col("name")]
        );
        let sum: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sum, r[col("sha256")], "{}", r[col("name")]);
        assert_eq!(r[col("commit")].len(), 40);
    }
    assert!(real >= 8);
}

/// A FIFO in the list is named and refused at once, never opened (opening
/// one for reading would wait for a writer forever).
#[cfg(unix)]
#[test]
fn a_fifo_in_the_list_is_an_error_naming_it_not_a_hang() {
    let t = TempDir::new();
    let fifo = t.join("pipe.h5ad");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // a watchdog: were the FIFO opened, this writer would end the wait
    let f2 = fifo.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(30));
        let _ = std::fs::OpenOptions::new().write(true).open(f2);
    });
    bin("cxg-obs"); // built before the clock starts
    let started = std::time::Instant::now();
    let input = format!("{}\n{}\n", h5("plain").display(), fifo.display());
    let o = run("cxg-obs", &[], Some(input.as_bytes()));
    assert!(
        started.elapsed().as_secs() < 25,
        "cxg-obs waited on the FIFO"
    );
    o.code(1).stderr_has(&format!(
        "'{}': is a FIFO (named pipe), not an H5AD file; not read",
        fifo.display()
    ));
    let recs = jsonl(&o.stdout);
    assert_eq!(recs[0]["status"], "ok");
    assert_eq!(recs[1]["status"], "failed");
    // in a manifest with a size, it is named as a FIFO too (not as a size
    // that differs)
    let manifest = format!("dataset_id,path,bytes\nd1,{},5\n", fifo.display());
    let o = run("cxg-obs", &[], Some(manifest.as_bytes()));
    assert!(
        started.elapsed().as_secs() < 25,
        "cxg-obs waited on the FIFO"
    );
    o.code(1).stderr_has("is a FIFO (named pipe)");
}
