//! cxg-split and cxg-datasets: golden files, parity with jq on fixtures,
//! the real capture and a generated document of tens of MB, unsafe names,
//! --where, the per-collection layout, and bad input.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::process::Command;

const JQ_DATASETS: &str =
    ".[] | . as $c | (.datasets // [])[] | . + {collection: ($c | del(.datasets))}";

fn awkward() -> std::path::PathBuf {
    fixture("awkward/collections.json")
}

fn jq(filter: &str, file: &std::path::Path) -> Vec<u8> {
    let mut c = Command::new("jq");
    c.arg("-c").arg(filter).arg(file);
    let o = run_cmd(c, None);
    o.ok();
    o.stdout
}

#[test]
fn split_golden() {
    let o = run("cxg-split", &[awkward().to_str().unwrap()], None);
    o.ok();
    assert_eq!(
        o.text(),
        String::from_utf8(read(&fixture("awkward/split.expected"))).unwrap()
    );
}

#[test]
fn datasets_golden() {
    let o = run("cxg-datasets", &[awkward().to_str().unwrap()], None);
    o.ok();
    assert_eq!(
        o.text(),
        String::from_utf8(read(&fixture("awkward/datasets.expected"))).unwrap()
    );
    // a dataset's own `collection` key is replaced in place, as jq's `+` does
    let lines = jsonl(&o.stdout);
    assert_eq!(lines.len(), 4);
    let last = &lines[3];
    assert_eq!(last["collection"]["name"], "Consortium only");
    let keys: Vec<_> = last.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["dataset_id", "dataset_version_id", "collection", "tissue"]
    );
}

#[test]
fn datasets_pretty_is_jq_dot() {
    // --pretty: the same values, indented as `jq .` prints them
    let o = run(
        "cxg-datasets",
        &["--pretty", awkward().to_str().unwrap()],
        None,
    );
    o.ok();
    let text = o.text();
    assert!(
        text.starts_with("{\n  \"assay\": [\n    {\n      \"label\": \"10x 3' v3\","),
        "{text}"
    );
    let golden: Vec<serde_json::Value> = jsonl(&read(&fixture("awkward/datasets.expected")));
    let pretty: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .map(|v| v.unwrap())
        .collect();
    assert_same(&pretty, &golden);
    if has_jq() {
        let mut c = Command::new("jq");
        c.arg(".").arg(fixture("awkward/datasets.expected"));
        assert_eq!(run_cmd(c, None).text(), text);
    }
}

#[test]
fn jsonl_input_gives_the_same_datasets() {
    let lines = read(&fixture("awkward/split.expected"));
    let a = run("cxg-datasets", &[], Some(&lines));
    a.ok();
    assert_eq!(a.stdout, read(&fixture("awkward/datasets.expected")));
}

#[test]
fn parity_with_jq_on_fixtures() {
    if !has_jq() {
        return;
    }
    for f in [awkward(), fixture("snapshot/collections.json")] {
        let ours = run("cxg-split", &[f.to_str().unwrap()], None);
        ours.ok();
        assert_same(&jsonl(&ours.stdout), &jsonl(&jq(".[]", &f)));
        let ours = run("cxg-datasets", &[f.to_str().unwrap()], None);
        ours.ok();
        assert_same(&jsonl(&ours.stdout), &jsonl(&jq(JQ_DATASETS, &f)));
    }
    // on the awkward fixture the bytes match too (escapes, DEL, unicode, key order)
    let f = awkward();
    assert_eq!(
        run("cxg-split", &[f.to_str().unwrap()], None).stdout,
        jq(".[]", &f)
    );
    assert_eq!(
        run("cxg-datasets", &[f.to_str().unwrap()], None).stdout,
        jq(JQ_DATASETS, &f)
    );
}

#[test]
fn parity_with_jq_on_the_real_capture() {
    let Some(real) = realdata() else { return };
    if !has_jq() {
        return;
    }
    let f = real.join("collections-2024-02.json");
    let ours = run("cxg-split", &[f.to_str().unwrap()], None);
    ours.ok();
    let split = jsonl(&ours.stdout);
    assert_eq!(split.len(), 185);
    assert_same(&split, &jsonl(&jq(".[]", &f)));
    let ours = run("cxg-datasets", &[f.to_str().unwrap()], None);
    ours.ok();
    let ds = jsonl(&ours.stdout);
    assert_eq!(ds.len(), 1190);
    assert_same(&ds, &jsonl(&jq(JQ_DATASETS, &f)));
}

#[test]
fn parity_on_a_generated_document_of_tens_of_mb() {
    let t = TempDir::new();
    generate(
        &t.join("big"),
        &[
            "--seed",
            "9",
            "--collections",
            "3000",
            "--datasets",
            "25000",
            "--list-only",
        ],
    );
    let f = t.join("big/collections.json");
    assert!(std::fs::metadata(&f).unwrap().len() > 10_000_000);
    let split = run("cxg-split", &[f.to_str().unwrap()], None);
    split.ok();
    assert_eq!(split.text().lines().count(), 3000);
    let ds = run("cxg-datasets", &[f.to_str().unwrap()], None);
    ds.ok();
    assert_eq!(ds.text().lines().count(), 25000);
    if has_jq() {
        assert_same(&jsonl(&split.stdout), &jsonl(&jq(".[]", &f)));
        assert_same(&jsonl(&ds.stdout), &jsonl(&jq(JQ_DATASETS, &f)));
    }
}

#[test]
fn split_out_dir_writes_one_file_per_element_and_lists_them() {
    let t = TempDir::new();
    let dir = t.join("out");
    let o = run(
        "cxg-split",
        &[
            "--out-dir",
            dir.to_str().unwrap(),
            awkward().to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    let listed: Vec<String> = o.text().lines().map(String::from).collect();
    assert_eq!(listed.len(), 6);
    assert_eq!(
        listed[0],
        format!(
            "{}/collection_11111111-1111-4111-8111-111111111111.json",
            dir.display()
        )
    );
    let golden_text = String::from_utf8(read(&fixture("awkward/split.expected"))).unwrap();
    let golden: Vec<&str> = golden_text.lines().collect();
    for (p, line) in listed.iter().zip(golden) {
        assert_eq!(
            String::from_utf8(read(std::path::Path::new(p))).unwrap(),
            format!("{line}\n")
        );
    }
    // --pretty and another name template
    let dir2 = t.join("pretty");
    let o = run(
        "cxg-split",
        &[
            "--out-dir",
            dir2.to_str().unwrap(),
            "--name",
            "{name}.json",
            "--pretty",
            awkward().to_str().unwrap(),
        ],
        None,
    );
    // collection 1's name has a newline: not a safe file name
    o.code(2)
        .stderr_has("array element 0")
        .stderr_has("control character");
    let d = fixture("snapshot/datasets.json");
    let o = run(
        "cxg-split",
        &[
            "--out-dir",
            dir2.to_str().unwrap(),
            "--name",
            "dataset_{dataset_version_id}.json",
            "--pretty",
            d.to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    let first = o.text().lines().next().unwrap().to_string();
    let text = String::from_utf8(read(std::path::Path::new(&first))).unwrap();
    assert!(text.starts_with("{\n  \"assay\": [\n    {\n"), "{text}");
}

#[test]
fn unsafe_names_are_refused_and_nothing_escapes_the_folder() {
    let t = TempDir::new();
    let dir = t.join("out");
    for (value, why) in [
        ("../escape", "path separator"),
        ("..", "'.' or '..'"),
        (".", "'.' or '..'"),
        ("", "empty"),
        ("a\\\\b", "path separator"),
        ("a\\u0000b", "control character"),
        ("/etc/passwd", "path separator"),
    ] {
        let input = format!("[{{\"collection_id\":\"ok-1\"}},{{\"collection_id\":\"{value}\"}}]");
        let o = run(
            "cxg-split",
            &[
                "--out-dir",
                dir.to_str().unwrap(),
                "--name",
                "{collection_id}",
            ],
            Some(input.as_bytes()),
        );
        o.code(2).stderr_has("array element 1").stderr_has(why);
    }
    assert_eq!(t.names(), ["out"]);
    let inside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(inside, ["ok-1"]);
    // a field that is missing or not a string
    let o = run(
        "cxg-split",
        &["--out-dir", dir.to_str().unwrap()],
        Some(b"[{\"collection_id\": 7}]"),
    );
    o.code(2).stderr_has("field 'collection_id' is number");
    let o = run(
        "cxg-split",
        &["--out-dir", dir.to_str().unwrap()],
        Some(b"[{\"id\": \"x\"}]"),
    );
    o.code(2).stderr_has("has no field 'collection_id'");
    // a template that would itself leave the folder
    run(
        "cxg-split",
        &[
            "--out-dir",
            dir.to_str().unwrap(),
            "--name",
            "../{collection_id}",
        ],
        Some(b"[]"),
    )
    .code(2)
    .stderr_has("path separator");
}

#[test]
fn two_elements_with_one_name_are_an_error() {
    let t = TempDir::new();
    let dir = t.join("out");
    let input = b"[{\"collection_id\":\"same\",\"v\":1},\n{\"collection_id\":\"same\",\"v\":2}]";
    let o = run(
        "cxg-split",
        &["--out-dir", dir.to_str().unwrap()],
        Some(input),
    );
    o.code(2)
        .stderr_has("line 2: array element 1")
        .stderr_has("duplicate name");
    // the first file is intact, not overwritten
    assert_eq!(
        read(&dir.join("collection_same.json")),
        b"{\"collection_id\":\"same\",\"v\":1}\n"
    );
}

#[test]
fn datasets_where_filters_with_a_jq_expression() {
    let f = awkward();
    let o = run(
        "cxg-datasets",
        &[
            "--where",
            "(.organism // []) | any(.label == \"Homo sapiens\")",
            f.to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    let v = jsonl(&o.stdout);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["dataset_id"], "d1000000-0000-4000-8000-000000000001");
    // the expression sees the collection too
    let o = run(
        "cxg-datasets",
        &[
            "--where",
            ".collection.publisher_metadata.is_preprint",
            f.to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    assert_eq!(jsonl(&o.stdout).len(), 1);
    // an expression starting with '-' is accepted
    let o = run(
        "cxg-datasets",
        &["--where", "-1 < 0", f.to_str().unwrap()],
        None,
    );
    o.ok();
    assert_eq!(jsonl(&o.stdout).len(), 4);
}

#[test]
fn a_bad_where_is_reported_before_input_is_read() {
    // stdin would be invalid JSON: the expression error must come first
    let o = run(
        "cxg-datasets",
        &["--where", ".organism | any(.label =="],
        Some(b"not json"),
    );
    o.code(2)
        .stderr_has("--where: syntax error at column")
        .stderr_has(".organism | any(.label ==");
    let o = run(
        "cxg-datasets",
        &["--where", "nosuch(.x)"],
        Some(b"not json"),
    );
    o.code(2).stderr_has("undefined filter 'nosuch'");
    // a runtime error names the dataset and the collection, leaves it out,
    // goes on with the rest and exits 1 (the last dataset has no organism)
    let o = run(
        "cxg-datasets",
        &["--where", ".organism | any(.label == \"Homo sapiens\")"],
        Some(&read(&awkward())),
    );
    o.code(1)
        .stderr_has(
            "--where failed on 1 of 4 datasets, left out: cannot use null as iterable (array or object) (dataset d6000000-0000-4000-8000-000000000004)",
        )
        .stderr_has("1 record could not be processed");
    assert_eq!(jsonl(&o.stdout).len(), 1);
}

#[test]
fn datasets_out_dir_reproduces_the_old_layout() {
    let t = TempDir::new();
    let dir = t.join("by");
    let o = run(
        "cxg-datasets",
        &[
            "--out-dir",
            dir.to_str().unwrap(),
            awkward().to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    let files: Vec<String> = o.text().lines().map(String::from).collect();
    let c1 = dir.join("collection_11111111-1111-4111-8111-111111111111");
    assert_eq!(
        files[0],
        c1.join("collection_11111111-1111-4111-8111-111111111111.json")
            .display()
            .to_string()
    );
    assert_eq!(
        files[1],
        c1.join("datasets_11111111-1111-4111-8111-111111111111.json")
            .display()
            .to_string()
    );
    assert_eq!(
        files[2],
        c1.join("dataset_e1000000-0000-4000-8000-000000000001.json")
            .display()
            .to_string()
    );
    // the collection file is the element as read, key order included
    let golden = std::str::from_utf8(&read(&fixture("awkward/split.expected")))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        String::from_utf8(read(std::path::Path::new(&files[0]))).unwrap(),
        golden + "\n"
    );
    let ds = json(&read(std::path::Path::new(&files[1])));
    assert_eq!(ds.as_array().unwrap().len(), 2);
    assert_eq!(
        json(&read(std::path::Path::new(&files[2])))["dataset_version_id"],
        "e1000000-0000-4000-8000-000000000001"
    );
    // collections without datasets still get their two files: 6 collections, 4 datasets
    assert_eq!(files.len(), 6 * 2 + 4);
    // unsafe ids
    let o = run(
        "cxg-datasets",
        &["--out-dir", dir.to_str().unwrap()],
        Some(b"[{\"collection_id\":\"../x\",\"datasets\":[]}]"),
    );
    o.code(2).stderr_has("path separator");
    let bad = b"[{\"collection_id\":\"c\",\"datasets\":[{\"dataset_version_id\":\"..\"}]}]";
    let o = run(
        "cxg-datasets",
        &["--out-dir", dir.to_str().unwrap()],
        Some(bad),
    );
    o.code(2)
        .stderr_has("collection c: datasets[0]: dataset_version_id");
}

#[test]
fn bad_input_names_the_input_and_the_place() {
    let cases: [(&[u8], &str); 7] = [
        (b"[{\"collection_id\":\"a\",\"datasets\":[]},\n{\"collection_id\":", "stdin: line 2, column 17: invalid JSON in array element 1: EOF while parsing a value (truncated JSON?)"),
        (b"42", "stdin: line 1: expected a JSON array or JSON Lines of objects, found '4'"),
        (b"\"text\"", "expected a JSON array or JSON Lines"),
        (b"[{\"name\":\"\xff\"}]", "stdin: line 1, column"),
        (b"[{}]\n[{}]", "after the end of the top-level array"),
        (b"{\"a\":1}\n42\n", "stdin: line 2: record 2: expected a JSON object"),
        (b"[{\"a\":1} {\"a\":2}]", "expected ',' or ']' after array element 0"),
    ];
    for tool in ["cxg-split", "cxg-datasets"] {
        for (input, msg) in cases {
            run(tool, &[], Some(input)).code(2).stderr_has(msg);
        }
    }
    // elements that must be objects
    run("cxg-datasets", &[], Some(b"[1]"))
        .code(2)
        .stderr_has("array element 0: expected a collection object, found number");
    run(
        "cxg-datasets",
        &[],
        Some(b"[{\"collection_id\":\"c\",\"datasets\":{}}]"),
    )
    .code(2)
    .stderr_has(
        "collection c (stdin: line 1: array element 0): 'datasets' is object, not an array",
    );
    run(
        "cxg-datasets",
        &[],
        Some(b"[{\"collection_id\":\"c\",\"datasets\":[1]}]"),
    )
    .code(2)
    .stderr_has("datasets[0] is number, not an object");
    // empty input is no records, not an error
    run("cxg-datasets", &[], Some(b"")).ok();
    run("cxg-split", &[], Some(b"[]")).ok();
}

#[test]
fn split_is_idempotent_on_its_own_output() {
    let golden = read(&fixture("awkward/split.expected"));
    let o = run("cxg-split", &[], Some(&golden));
    o.ok();
    assert_eq!(o.stdout, golden);
}
