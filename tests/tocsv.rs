//! cxg-tocsv: golden files for both presets and custom columns, the
//! awkward cases, expression errors, deduplication, both input shapes,
//! the jq swap of docs/jq.md, and conformance on the real capture.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::process::Command;

fn datasets_of(file: &std::path::Path) -> Vec<u8> {
    let o = run("cxg-datasets", &[file.to_str().unwrap()], None);
    o.ok();
    o.stdout
}

fn awkward_datasets() -> Vec<u8> {
    datasets_of(&fixture("awkward/collections.json"))
}

#[test]
fn seed_and_full_golden() {
    let input = awkward_datasets();
    let o = run("cxg-tocsv", &[], Some(&input));
    o.ok();
    assert_eq!(
        o.text(),
        String::from_utf8(read(&fixture("awkward/tocsv_seed.expected.csv"))).unwrap()
    );
    let o = run("cxg-tocsv", &["--preset", "full"], Some(&input));
    o.ok();
    assert_eq!(
        o.text(),
        String::from_utf8(read(&fixture("awkward/tocsv_full.expected.csv"))).unwrap()
    );
}

#[test]
fn awkward_cases_in_cells() {
    let o = run(
        "cxg-tocsv",
        &["--preset", "full"],
        Some(&awkward_datasets()),
    );
    o.ok();
    let (h, rows) = csv_rows(&o.stdout);
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    assert_eq!(rows.len(), 4);
    // null publisher_metadata: empty author, journal, year, is_preprint
    for c in ["first_author", "journal", "year", "is_preprint"] {
        assert_eq!(rows[0][col(c)], "", "{c}");
    }
    // all tissues in API order, a comma and quotes inside a label
    assert_eq!(rows[0][col("tissue")], "lung | nose, \"inner\" | blood");
    assert_eq!(
        rows[0][col("tissue_ontology_term_id")],
        "UBERON:0002048 | UBERON:0000004 | UBERON:0000178"
    );
    // quotes, comma and a newline in a collection name survive the round trip
    assert_eq!(
        rows[0][col("collection_name")],
        "Atlas of \"human\" lung, airway & nose\nsecond line"
    );
    // empty tissue list, no organism
    assert_eq!(rows[1][col("tissue")], "");
    assert_eq!(rows[1][col("organism")], "");
    // consortium first author: its name; booleans as TRUE/FALSE; unicode kept
    assert_eq!(rows[2][col("first_author")], "Human Cell Atlas Consortium");
    assert_eq!(rows[2][col("is_preprint")], "TRUE");
    assert_eq!(rows[2][col("tissue")], "брain — 脑");
    assert_eq!(rows[3][col("first_author")], "Tabula Sapiens Consortium");
    assert_eq!(rows[3][col("is_preprint")], "FALSE");
    // constants
    assert_eq!(
        &rows[3][col("filter_normal")..=col("save_annotation")],
        ["TRUE", "euclidean", "TRUE", "TRUE", "TRUE"]
    );
}

#[test]
fn custom_columns_add_replace_and_round_trip() {
    let input = awkward_datasets();
    let o = run(
        "cxg-tocsv",
        &[
            "--column",
            "n_tissues=.tissue | length",
            "--column",
            "metric = \"cosine\"",
            "--column",
            "neg=-1",
        ],
        Some(&input),
    );
    o.ok();
    let (h, rows) = csv_rows(&o.stdout);
    assert_eq!(h.len(), 23);
    assert_eq!(&h[21..], ["n_tissues", "neg"]);
    assert_eq!(h[17], "metric");
    assert_eq!(
        (&rows[0][17][..], &rows[0][21][..], &rows[0][22][..]),
        ("cosine", "3", "-1")
    );
    // --list-columns is a valid --columns file that gives the same CSV
    let t = TempDir::new();
    let defs = t.join("my.columns");
    let o = run(
        "cxg-tocsv",
        &[
            "--preset",
            "full",
            "--list-columns",
            "-o",
            defs.to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    let a = run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(&input),
    );
    let b = run("cxg-tocsv", &["--preset", "full"], Some(&input));
    a.ok();
    assert_eq!(a.stdout, b.stdout);
    // a small hand-written file, with comments
    std::fs::write(
        &defs,
        "# two columns\nid = .dataset_id\n\ntitle = .collection.name // \"?\"\n",
    )
    .unwrap();
    let o = run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(&input),
    );
    o.ok();
    assert!(o
        .text()
        .starts_with("id,title\nd1000000-0000-4000-8000-000000000001,\"Atlas of"));
}

#[test]
fn expression_errors() {
    // compile errors name the column, before any input is read
    let o = run("cxg-tocsv", &["--column", "bad=.a | ("], Some(b"not json"));
    o.code(2).stderr_has("column 'bad': syntax error at column");
    let t = TempDir::new();
    let defs = t.join("c");
    std::fs::write(&defs, "a = .x\nnoequals\n").unwrap();
    run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(b""),
    )
    .code(2)
    .stderr_has("line 2");
    std::fs::write(&defs, "a = nosuch(1)\n").unwrap();
    run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(b""),
    )
    .code(2)
    .stderr_has("column 'a': undefined filter 'nosuch'");
    // runtime errors and wrong result types name the column and dataset_id;
    // the other rows are still written and the exit status is 1
    let input = b"{\"dataset_id\":\"ok\",\"o\":1}\n{\"dataset_id\":\"bad\",\"o\":{\"k\":1}}\n";
    let o = run(
        "cxg-tocsv",
        &[
            "--columns",
            "/dev/null",
            "--column",
            "id=.dataset_id",
            "--column",
            "o=.o",
        ],
        Some(input),
    );
    o.code(2).stderr_has("no columns defined");
    std::fs::write(&defs, "id = .dataset_id\no = .o\n").unwrap();
    let o = run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(input),
    );
    o.code(1)
        .stderr_has("(dataset_id bad): column 'o' gave an object");
    assert_eq!(o.text(), "id,o\nok,1\n");
    std::fs::write(&defs, "id = .dataset_id\no = .o[0]\n").unwrap();
    let o = run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(input),
    );
    o.code(1)
        .stderr_has("stdin: line 1: record 1 (dataset_id ok): column 'o': cannot index");
    // a record without dataset_id
    let o = run("cxg-tocsv", &[], Some(b"[{\"title\":\"x\"}]"));
    o.code(1)
        .stderr_has("stdin: line 1: array element 0: has no string dataset_id");
}

#[test]
fn one_row_per_dataset_id_most_recent_wins() {
    let input = br#"{"dataset_id":"a","dataset_version_id":"v1","revised_at":"2023-01-01T00:00:00+00:00","title":"old"}
{"dataset_id":"b","dataset_version_id":"w1","title":"only"}
{"dataset_id":"a","dataset_version_id":"v3","revised_at":"2024-01-01T00:00:00+00:00","title":"newest"}
{"dataset_id":"a","dataset_version_id":"v2","revised_at":"2023-06-01T00:00:00+00:00","title":"middle"}
{"dataset_id":"b","dataset_version_id":"w0","title":"same dates, lower version id"}
"#;
    let t = TempDir::new();
    let defs = t.join("c");
    std::fs::write(&defs, "id = .dataset_id\ntitle = .title\n").unwrap();
    let o = run(
        "cxg-tocsv",
        &["--columns", defs.to_str().unwrap()],
        Some(input),
    );
    o.ok().stderr_has("3 duplicate dataset rows dropped");
    assert_eq!(o.text(), "id,title\na,newest\nb,only\n");
}

#[test]
fn index_items_are_understood_too() {
    let idx = read(&fixture("snapshot/datasets.json"));
    let o = run("cxg-tocsv", &["--preset", "full"], Some(&idx));
    o.ok();
    let (h, rows) = csv_rows(&o.stdout);
    let index = json(&idx);
    assert_eq!(rows.len(), index.as_array().unwrap().len());
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    for (r, d) in rows.iter().zip(index.as_array().unwrap()) {
        assert_eq!(
            r[col("collection_id")],
            d["collection_id"].as_str().unwrap()
        );
        assert_eq!(
            r[col("collection_name")],
            d["collection_name"].as_str().unwrap()
        );
        assert_eq!(
            r[col("collection_url")],
            format!(
                "https://cellxgene.cziscience.com/collections/{}",
                d["collection_id"].as_str().unwrap()
            )
        );
        let h5ad = d["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["filetype"] == "H5AD");
        assert_eq!(
            r[col("h5ad_url")],
            h5ad.map_or("", |a| a["url"].as_str().unwrap())
        );
    }
}

#[test]
fn same_input_same_bytes() {
    let input = datasets_of(&fixture("snapshot/collections.json"));
    let a = run("cxg-tocsv", &["--preset", "full"], Some(&input));
    let b = run("cxg-tocsv", &["--preset", "full"], Some(&input));
    a.ok();
    assert_eq!(a.stdout, b.stdout);
    assert!(!a.stdout.contains(&b'\r'));
}

/// The jq program docs/jq.md shows for the default columns.
fn doc_jq_program() -> String {
    let blocks = doc_sh("docs/jq.md", "## The jq programs the tools replace");
    let block = blocks
        .iter()
        .find(|b| b.starts_with("jq -r '[(.collection.collection_url"))
        .unwrap();
    let rest = &block["jq -r '".len()..];
    rest[..rest.find("' datasets.jsonl").unwrap()].to_string()
}

#[test]
fn the_docs_jq_program_gives_the_same_cells() {
    if !has_jq() {
        return;
    }
    let t = TempDir::new();
    let ds = t.join("datasets.jsonl");
    std::fs::write(&ds, datasets_of(&fixture("snapshot/collections.json"))).unwrap();
    let mut c = Command::new("jq");
    c.arg("-r").arg(doc_jq_program()).arg(&ds);
    let jq = run_cmd(c, None);
    jq.ok();
    let ours = run("cxg-tocsv", &[ds.to_str().unwrap()], None);
    ours.ok();
    let (_, rows) = csv_rows(&ours.stdout);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&jq.stdout[..]);
    let jq_rows: Vec<Vec<String>> = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows, jq_rows);
}

#[test]
fn conformance_on_the_real_capture() {
    let Some(real) = realdata() else { return };
    if !has_jq() {
        return;
    }
    let f = real.join("collections-2024-02.json");
    let o = run("cxg-tocsv", &[], Some(&datasets_of(&f)));
    o.ok();
    let (h, rows) = csv_rows(&o.stdout);
    assert_eq!(rows.len(), 1190);
    // an independent jq extraction of the same facts
    let prog = r#".[] | . as $c | $c.datasets[] | [$c.collection_id, .dataset_id, .dataset_version_id,
        (($c.publisher_metadata // {}).authors // [] | if length > 0 then (.[0].family // .[0].name) else "" end),
        (($c.publisher_metadata // {}).journal // ""),
        (($c.publisher_metadata // {}).published_year // "" | tostring),
        ([.tissue[].label] | join(" | ")), ([.disease[].label] | join(" | ")), ([.organism[].label] | join(" | "))]"#;
    let mut c = Command::new("jq");
    c.arg("-c").arg(prog).arg(&f);
    let jq = run_cmd(c, None);
    jq.ok();
    let facts: Vec<Vec<String>> = jsonl(&jq.stdout)
        .iter()
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(facts.len(), 1190);
    let cols = [
        "collection_id",
        "dataset_id",
        "dataset_version_id",
        "first_author",
        "journal",
        "year",
        "tissue",
        "disease",
        "organism",
    ];
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| h.iter().position(|x| x == c).unwrap())
        .collect();
    for (row, fact) in rows.iter().zip(&facts) {
        let ours: Vec<String> = idx.iter().map(|&i| row[i].clone()).collect();
        assert_eq!(&ours, fact);
    }
    // multi-tissue datasets keep every tissue (the old script kept the first)
    assert!(rows.iter().any(|r| r[idx[6]].contains(" | ")));
}
