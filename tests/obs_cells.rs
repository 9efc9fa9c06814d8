//! cxg-obs's cell filter (crates/cxg-cells) against the same filter written
//! in pandas over anndata's obs (scripts/make_obs_filter_expectations.py,
//! its numbers committed in tests/fixtures/h5ad/filters.expected.json) on
//! every committed fixture anndata reads, ages included; and what a filter
//! adds to the output (JSON, CSV, --join), a column it needs missing, the
//! errors before any file is read.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::Value;

fn h5ad_dir() -> std::path::PathBuf {
    fixture("h5ad")
}

/// The paths (relative to the fixture folder) as cxg-obs reads them.
fn paths(names: &[&str]) -> Vec<u8> {
    names
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>()
        .into_bytes()
}

fn obs(args: &[&str], files: &[&str]) -> Out {
    let base = h5ad_dir();
    let mut a = vec!["--base", base.to_str().unwrap()];
    a.extend_from_slice(args);
    run("cxg-obs", &a, Some(&paths(files)))
}

#[test]
fn filters_agree_with_pandas_over_anndata() {
    let Some(onto) = real_ontology() else { return };
    let want = json(&read(&h5ad_dir().join("filters.expected.json")));
    let release = String::from_utf8(read(&onto.join("RELEASE"))).unwrap();
    assert_eq!(
        release.trim(),
        want["ontology_release"],
        "the expectations were computed with another ontology release"
    );
    for case in want["cases"].as_array().unwrap() {
        let options: Vec<&str> = case["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let files: Vec<&str> = case["files"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut args = vec!["--ontology", onto.to_str().unwrap(), "-q"];
        args.extend(&options);
        let o = obs(&args, &files);
        o.ok();
        for rec in jsonl(&o.stdout) {
            let path = rec["path"].as_str().unwrap();
            let w = &case["files"][path];
            let at = format!("{options:?} on {path}");
            assert_eq!(rec["status"], "ok", "{at}: {}", rec["error"]);
            for k in [
                "filtered_cell_count",
                "filtered_donor_count",
                "age_unknown_cell_count",
            ] {
                assert_eq!(rec[k], w[k], "{at}: {k}");
            }
            match w.get("missing") {
                Some(cols) => {
                    for c in cols.as_array().unwrap() {
                        let named = rec["missing_columns"].as_array().unwrap();
                        assert!(named.contains(c), "{at}: {c} not in {named:?}");
                    }
                }
                None => {
                    for (facet, counts) in w["filtered_counts"].as_object().unwrap() {
                        assert_eq!(&rec["filtered_counts"][facet], counts, "{at}: {facet}");
                    }
                }
            }
            let mut given: Vec<&str> = rec["filter"]["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut asked = options.clone();
            given.sort_unstable();
            asked.sort_unstable();
            assert_eq!(given, asked, "{at}");
        }
    }
}

/// The fixture ontology has no HsapDv: ages cannot be told.
fn small_ontology() -> String {
    fixture("ontology").to_str().unwrap().to_string()
}

#[test]
fn bad_filters_stop_before_any_file_is_read() {
    let onto = small_ontology();
    obs(&["--ontology", &onto, "--min-age", "18"], &["plain.h5ad"])
        .code(2)
        .stderr_has("--min-age and --max-age need the HsapDv and MmusDv files");
    obs(&["--min-age", "30", "--max-age", "20"], &["plain.h5ad"])
        .code(2)
        .stderr_has("no age is at least 30 and younger than 20");
    obs(&["--min-age=-1"], &["plain.h5ad"])
        .code(2)
        .stderr_has("'-1' is not an age in years");
    obs(&["--ontology", &onto, "--tissue", "lugn"], &["plain.h5ad"])
        .code(2)
        .stderr_has("did you mean 'lung'");
    obs(&["--join", "x.csv", "--normal"], &[])
        .code(2)
        .stderr_has("give the cell filter when summarising");
}

#[test]
fn a_filter_adds_its_counts_and_names_itself() {
    let onto = small_ontology();
    let files = ["plain.h5ad", "any/study_own.h5ad", "not_hdf5.h5ad"];
    let args = [
        "--ontology",
        &onto,
        "--tissue",
        "lung",
        "--normal",
        "--primary",
    ];
    let o = obs(&args, &files);
    o.code(1)
        .stderr_has("--tissue lung: UBERON:0002048 'lung' (UBERON v2026-04-01) and ")
        .stderr_has("--tissue lung: 286 cells matched");
    // a value matched as written (no ontology) that no cell has
    obs(&["--tissue", "nowhere"], &["plain.h5ad"])
        .ok()
        .stderr_has("warning: --tissue nowhere matches no cell");
    let recs = jsonl(&o.stdout);
    let filter = &recs[0]["filter"];
    assert_eq!(
        filter["options"],
        serde_json::json!(["--tissue", "lung", "--primary", "--normal"])
    );
    assert!(filter["resolved"][0]
        .as_str()
        .unwrap()
        .starts_with("--tissue lung: UBERON:0002048 'lung'"));
    // plain: as pandas counts it (tests/fixtures/h5ad/filters.expected.json)
    assert!(recs[0]["filtered_cell_count"].as_u64().unwrap() > 0);
    assert_eq!(recs[0]["age_unknown_cell_count"], 0);
    // a file without the columns: null counts, the columns named
    assert_eq!(recs[1]["filtered_cell_count"], Value::Null);
    assert_eq!(recs[1]["filtered_counts"]["tissue"], Value::Null);
    let missing = recs[1]["missing_columns"].as_array().unwrap();
    for c in ["disease_ontology_term_id", "is_primary_data"] {
        assert!(missing.iter().any(|m| m == c), "{c}: {missing:?}");
    }
    // a failed file: the same keys, null, and the filter
    assert_eq!(recs[2]["status"], "failed");
    assert_eq!(recs[2]["filtered_cell_count"], Value::Null);
    assert_eq!(recs[2]["filter"], *filter);
    // without a filter, records are as before: no filter keys
    let plain = obs(&["-q"], &["plain.h5ad"]);
    let rec = &jsonl(&plain.ok().stdout)[0];
    for k in ["filter", "filtered_cell_count", "filtered_counts"] {
        assert!(rec.get(k).is_none(), "{k}");
    }
}

#[test]
fn csv_and_join_carry_the_filtered_counts() {
    let onto = small_ontology();
    let args = ["--ontology", &onto, "--tissue", "lung", "--normal", "-q"];
    let csv = obs(&[&args[..], &["--csv"]].concat(), &["plain.h5ad"]);
    let text = String::from_utf8(csv.ok().stdout.clone()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header = rdr.headers().unwrap().clone();
    let row = rdr.records().next().unwrap().unwrap();
    let col = |n: &str| row[header.iter().position(|h| h == n).unwrap()].to_string();
    assert_eq!(col("filter"), "--tissue lung --normal");
    let records = obs(&args, &["plain.h5ad"]);
    let rec = &jsonl(&records.ok().stdout)[0];
    assert_eq!(
        col("filtered_cell_count"),
        rec["filtered_cell_count"].to_string()
    );
    // --join appends them to a harvester CSV
    let dir = TempDir::new();
    let harvest = dir.path().join("h.csv");
    std::fs::write(&harvest, "dataset_version_id,x\nplain,1\n").unwrap();
    let jsonl_path = dir.path().join("obs.jsonl");
    std::fs::write(&jsonl_path, &records.stdout).unwrap();
    let joined = run(
        "cxg-obs",
        &[
            "--join",
            harvest.to_str().unwrap(),
            jsonl_path.to_str().unwrap(),
        ],
        None,
    );
    let out = String::from_utf8(joined.ok().stdout.clone()).unwrap();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "dataset_version_id,x,normal_cell_count,primary_cell_count,donor_count,filtered_cell_count,filtered_donor_count,age_unknown_cell_count"
    );
    assert!(lines.next().unwrap().starts_with(&format!(
        "plain,1,197,301,20,{},{},0",
        rec["filtered_cell_count"], rec["filtered_donor_count"]
    )));
}

/// docs/obs.md's examples of the filter run as written (the ages block
/// with the real ontology folder found, wherever it is).
#[test]
fn the_docs_examples_run() {
    let Some(onto) = real_ontology() else { return };
    for block in doc_sh("docs/obs.md", "## Counting the cells a study keeps") {
        let script = block.replace("~/.cache/cxg/ontology", onto.to_str().unwrap());
        let o = sh(&root(), &script);
        o.ok();
        let out = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(out.contains(",filtered_cell_count,"), "{out}");
        assert!(
            out.contains("plain,500,20,--tissue lung --primary --normal,")
                || out.contains("schema5_3_0_example,320,--min-age 18 --max-age 65,317,2,2"),
            "{out}"
        );
    }
}

/// A wrong filter value fails at once, before the list of files is read:
/// behind a producer that has not finished (or a terminal), cxg-obs does
/// not wait for the end of its input to say so. (Stdin is held open and
/// never written; the run must end on its own.)
#[test]
fn a_wrong_value_fails_before_the_input_ends() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin("cxg-obs"))
        .args(["--min-age", "30", "--max-age", "20"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let held = child.stdin.take();
    let mut waited = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if waited >= 600 {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    };
    drop(held);
    let Some(status) = status else {
        child.kill().unwrap();
        panic!("cxg-obs waited for its input to end before naming the wrong value");
    };
    assert_eq!(status.code(), Some(2));
    let out = child.wait_with_output().unwrap();
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no age is at least 30"));
}
