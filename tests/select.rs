//! cxg-select on the hand-cut ontology fixture (tests/fixtures/ontology:
//! real terms of the guide's v1.11.1 files, UBERON compressed as published)
//! and the 14 records that use its terms: expansion through is_a and
//! part_of, --exact, labels, synonyms and case, excludes, AND/OR, unknown
//! and ambiguous values, zero matches, deprecated ids, no ontology, tissue
//! type spellings, preprints, cell counts, --where, byte-identical lines;
//! `make ontologies` against a loopback file server; the SELECT stage of
//! the Makefile; and the real release files when `make ontologies` has run.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

fn onto() -> PathBuf {
    fixture("ontology")
}

fn data() -> PathBuf {
    fixture("ontology/datasets.jsonl")
}

/// Run cxg-select with the fixture ontology on the fixture records.
fn sel(args: &[&str]) -> Out {
    let o = onto();
    let d = data();
    let mut a = vec!["--ontology", o.to_str().unwrap()];
    a.extend_from_slice(args);
    a.push(d.to_str().unwrap());
    run("cxg-select", &a, None)
}

/// The record numbers (last digits of dataset_id) of an output.
fn picked(o: &Out) -> Vec<u32> {
    jsonl(&o.stdout)
        .iter()
        .map(|v| {
            let id = v["dataset_id"].as_str().unwrap();
            id[id.len() - 12..].parse().unwrap()
        })
        .collect()
}

#[test]
fn a_tissue_matches_its_descendants_through_is_a_and_part_of() {
    let o = sel(&["--tissue", "lung"]);
    o.ok().stderr_has(
        "--tissue lung: UBERON:0002048 'lung' (UBERON v2026-04-01) and 5 descendants: 6 terms: 7 records",
    );
    // 1 lung, 2 lung parenchyma (part_of), 3 alveolus of lung (part_of),
    // 4 right lung (is_a), 5 pulmonary alveolus epithelium (distance 2),
    // 8 liver + lung, 9 lung organoid
    assert_eq!(picked(&o), [1, 2, 3, 4, 5, 8, 9]);
    o.stderr_has("14 records in, 7 out");
    // a parent term covers its children: respiration organ covers lung's
    assert_eq!(
        picked(&sel(&["--tissue", "respiration organ"])),
        [1, 2, 3, 4, 5, 8, 9]
    );
}

#[test]
fn exact_turns_expansion_off() {
    let o = sel(&["--exact", "--tissue", "lung"]);
    o.ok().stderr_has(
        "UBERON:0002048 'lung' (UBERON v2026-04-01), --exact: the term alone: 3 records",
    );
    assert_eq!(picked(&o), [1, 8, 9]);
}

#[test]
fn ids_labels_and_synonyms_match_without_regard_to_case() {
    let want = picked(&sel(&["--tissue", "lung"]));
    for v in [
        "UBERON:0002048",
        "uberon:0002048",
        "LUNG",
        "Pulmo",
        " lung ",
    ] {
        let o = sel(&["--tissue", v]);
        o.ok().stderr_has("UBERON:0002048 'lung'");
        assert_eq!(picked(&o), want, "{v}");
    }
}

#[test]
fn values_of_one_option_are_ored_and_options_anded() {
    // OR: covid or Alzheimer
    let o = sel(&["--disease", "COVID-19", "--disease", "MONDO:0004975"]);
    o.ok();
    // 14 carries the joined id "MONDO:0005061 || MONDO:0100096"
    assert_eq!(picked(&o), [3, 6, 7, 14]);
    // AND: ... and a 10x assay (10x technology's descendants)
    let o = sel(&[
        "--disease",
        "COVID-19",
        "--disease",
        "MONDO:0004975",
        "--assay",
        "10x technology",
    ]);
    assert_eq!(picked(&o), [6, 7, 14]);
    // AND with an organism (the subset's NCBITaxon file has Mus musculus)
    let o = sel(&["--organism", "Mus musculus", "--disease", "lung cancer"]);
    o.ok().stderr_has("--organism 'Mus musculus': NCBITaxon:10090 'Mus musculus' (NCBITaxon v2026-05-13) and 0 descendants: 1 term: 3 records");
    assert_eq!(picked(&o), [11]);
}

#[test]
fn an_exclude_removes_a_record_if_any_term_matches() {
    let o = sel(&["--exclude-assay", "spatial transcriptomics"]);
    o.ok().stderr_has(
        "EFO:0008994 'spatial transcriptomics' (EFO v3.90.0) and 2 descendants: 3 terms: 3 records",
    );
    // 4 Visium, 5 Slide-seqV2, 8 10x 3' v3 + Visium
    assert_eq!(picked(&o), [1, 2, 3, 6, 7, 9, 10, 11, 12, 13, 14]);
    // the issue's example
    let o = sel(&[
        "--organism",
        "Homo sapiens",
        "--tissue",
        "lung",
        "--disease",
        "normal",
        "--exclude-assay",
        "spatial transcriptomics",
    ]);
    assert_eq!(picked(&o), [1, 2, 9]);
    o.stderr_has("14 records in, 3 out");
}

#[test]
fn unknown_and_na_match_only_themselves() {
    let o = sel(&["--sex", "unknown"]);
    o.ok()
        .stderr_has("--sex unknown: the value 'unknown' itself (never expanded): 2 records");
    assert_eq!(picked(&o), [9, 14]);
    let o = sel(&["--suspension-type", "NA"]);
    assert_eq!(picked(&o), [4]);
    let o = sel(&["--self-reported-ethnicity", "na"]);
    assert_eq!(picked(&o), [5, 11, 13]);
}

#[test]
fn a_misspelt_value_is_an_error_with_suggestions_and_nothing_is_written() {
    let t = TempDir::new();
    let out = t.join("out.jsonl");
    let o = sel(&[
        "--tissue",
        "lugn",
        "--disease",
        "normal",
        "-o",
        out.to_str().unwrap(),
    ]);
    o.code(2).stderr_has(
        "--tissue lugn: no such value in UBERON v2026-04-01, CL v2026-03-26 nor in the data (did you mean 'lung'?)",
    );
    assert!(o.stdout.is_empty());
    assert!(t.names().is_empty(), "{:?}", t.names());
    // on stdout too: nothing, even for records that came before the end
    let o = sel(&["--disease", "normal", "--assay", "Smart-seq3"]);
    o.code(2).stderr_has("(did you mean 'Smart-seq2'?)");
    assert!(o.stdout.is_empty());
    // an exclude is checked the same way
    sel(&["--exclude-disease", "covid"])
        .code(2)
        .stderr_has("did you mean 'COVID-19'");
}

#[test]
fn a_label_of_two_ontologies_is_ambiguous() {
    let o = sel(&["--tissue", "Extravillous Trophoblast"]);
    o.code(2).stderr_has("ambiguous: the label of UBERON:0000426 'extravillous trophoblast' (UBERON v2026-04-01) and CL:0008036 'extravillous trophoblast' (CL v2026-03-26); give the id instead");
    assert!(o.stdout.is_empty());
    // the id settles it
    assert_eq!(picked(sel(&["--tissue", "UBERON:0000426"]).ok()), [12]);
    assert!(picked(sel(&["--tissue", "CL:0008036"]).ok()).is_empty());
}

#[test]
fn a_valid_value_that_selects_nothing_is_named() {
    let o = sel(&[
        "--tissue-type",
        "cell line",
        "--disease",
        "cancer",
        "--exact",
    ]);
    o.ok()
        .stderr_has("warning: --tissue-type 'cell line' matches no record")
        .stderr_has("warning: --disease cancer matches no record")
        .stderr_has("14 records in, 0 out");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_deprecated_id_is_followed_through_replaced_by() {
    let o = sel(&["--tissue", "UBERON:0000027"]);
    o.ok().stderr_has("warning: --tissue UBERON:0000027: UBERON:0000027 is deprecated in UBERON v2026-04-01; using its replacement UBERON:0001466 'pedal digit'");
    assert_eq!(picked(&o), [13]);
    let o = sel(&["--disease", "MONDO:0000002"]);
    o.ok().stderr_has(
        "MONDO:0000002 is deprecated in MONDO v2026-05-05; using its replacement MONDO:0009299",
    );
    assert_eq!(picked(&o), [13]);
}

#[test]
fn without_an_ontology_a_term_is_an_error_unless_no_ontology_says_so() {
    let d = data();
    // no ontology files: 'lung' cannot take in its parts; an error (exit 2),
    // nothing written, the loud warning first
    let o = run(
        "cxg-select",
        &["--tissue", "lung", d.to_str().unwrap()],
        None,
    );
    o.code(2)
        .stderr_has("warning: NO ONTOLOGY FILES (--ontology DIR or CXG_ONTOLOGY; make ontologies fetches them): descendants are NOT included")
        .stderr_has("--tissue lung (no ontology folder): without the ontology file, such a value matches only the records that name that very term, none of its descendants")
        .stderr_has("or give --no-ontology to select so on purpose");
    assert!(o.stdout.is_empty());
    // --no-ontology: on purpose, the values match the data
    let o = run(
        "cxg-select",
        &["--no-ontology", "--tissue", "lung", d.to_str().unwrap()],
        None,
    );
    o.ok().stderr_has("warning: NO ONTOLOGY FILES").stderr_has(
        "--tissue lung: as it appears in the data (no ontology loaded: no descendants): 3 records",
    );
    assert_eq!(picked(&o), [1, 8, 9]);
    let o = run(
        "cxg-select",
        &[
            "--no-ontology",
            "--tissue",
            "UBERON:0008946",
            d.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(picked(&o), [2]);
    // --no-ontology reads no folder, even the one CXG_ONTOLOGY names
    let mut c = Command::new(bin("cxg-select"));
    c.args(["--no-ontology", "--tissue", "lung", d.to_str().unwrap()])
        .env("CXG_ONTOLOGY", onto());
    assert_eq!(picked(&run_cmd(c, None)), [1, 8, 9]);
    // a value present nowhere in the data: exit 2, suggestions from the data
    let o = run(
        "cxg-select",
        &[
            "--no-ontology",
            "--tissue",
            "lung parenchym",
            d.to_str().unwrap(),
        ],
        None,
    );
    o.code(2).stderr_has(
        "--tissue 'lung parenchym': no such value in the data (did you mean 'lung parenchyma'",
    );
    // CXG_ONTOLOGY names the folder as --ontology does
    let mut c = Command::new(bin("cxg-select"));
    c.args(["--tissue", "lung", d.to_str().unwrap()])
        .env("CXG_ONTOLOGY", onto());
    let o = run_cmd(c, None);
    o.ok().stderr_has("and 5 descendants");
    assert_eq!(picked(&o).len(), 7);
}

#[test]
fn old_and_new_tissue_type_spellings_are_both_accepted() {
    for v in [
        "cell culture",
        "primary cell culture",
        "Primary Cell Culture",
    ] {
        let o = sel(&["--tissue-type", v]);
        o.ok()
            .stderr_has("'cell culture' or 'primary cell culture': 2 records");
        assert_eq!(picked(&o), [10, 11], "{v}");
    }
    assert_eq!(
        picked(&sel(&["--exclude-tissue-type", "tissue"])),
        [9, 10, 11]
    );
    // a cell-culture tissue is a CL term: T cell covers alpha-beta T cell
    assert_eq!(picked(&sel(&["--tissue", "T cell"])), [10, 11]);
}

#[test]
fn preprints_cell_counts_and_where() {
    let o = sel(&["--no-preprints"]);
    o.ok().stderr_has(
        "--no-preprints: 2 preprints removed; 2 records of unknown preprint status kept",
    );
    assert_eq!(picked(&o), [1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]);
    let o = sel(&["--min-cells", "2000"]);
    // record 1 says 5.0e3; 5 has no cell_count
    o.ok().stderr_has(
        "--min-cells 2000: 7 records with fewer cells removed; 1 record without cell_count kept",
    );
    assert_eq!(picked(&o), [1, 4, 5, 6, 7, 8, 13]);
    let o = sel(&[
        "--where",
        ".suspension_type | index(\"nucleus\")",
        "--tissue",
        "lung",
    ]);
    assert_eq!(picked(&o), [2]);
    // an expression that fails on a record: named, left out, exit 1
    let o = sel(&["--where", ".cell_count + \"x\""]);
    o.code(1)
        .stderr_has("--where failed on dataset 00000000-0000-4000-8000-000000000001");
    sel(&["--where", ".a | ("])
        .code(2)
        .stderr_has("--where: syntax error");
}

#[test]
fn selected_lines_are_written_byte_for_byte() {
    let input = read(&data());
    let lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // no selection: the input itself
    let o = run("cxg-select", &[], Some(&input));
    o.ok().stderr_has("14 records in, 14 out");
    assert_eq!(o.stdout, input);
    // record 1 has a number and spaces a re-serialiser would change
    let o = sel(&["--tissue", "lung", "--exact"]);
    let out: Vec<&[u8]> = o
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(out, [lines[0], lines[7], lines[8]]);
    assert!(String::from_utf8_lossy(out[0]).contains("\"cell_count\": 5.0e3 "));
    // an array (such as the GET /datasets index), pretty-printed: one line
    // per record, strings and numbers as written
    let mut arr = b"[\n".to_vec();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            arr.extend_from_slice(b",\n");
        }
        arr.extend_from_slice(l);
    }
    arr.extend_from_slice(b"\n]\n");
    let pretty = serde_json::to_vec_pretty(&json(&arr)).unwrap();
    let o = run(
        "cxg-select",
        &["--no-ontology", "--tissue", "brain"],
        Some(&pretty),
    );
    o.ok();
    let got = jsonl(&o.stdout);
    assert_eq!(got.len(), 1);
    assert_same(&got, &[json(lines[5])]);
    assert_eq!(o.stdout.iter().filter(|&&b| b == b'\n').count(), 1);
}

#[test]
fn bad_input_and_bad_folders_are_named() {
    let t = TempDir::new();
    let o = run(
        "cxg-select",
        &["--no-ontology", "--tissue", "lung"],
        Some(b"{\"tissue\":[{\"label\":\"lung\"}]}\n{\"tissue\":"),
    );
    o.code(2).stderr_has("stdin: line 2");
    // a field an option reads with an unexpected type: that record is
    // named and left out (exit 1); a record that is no object: exit 2
    let o = run(
        "cxg-select",
        &["--no-ontology", "--tissue", "lung"],
        Some(b"{\"tissue\":\"lung\"}\n{\"tissue\":[{\"label\":\"lung\"}]}\n"),
    );
    o.code(1)
        .stderr_has("stdin: line 1: record 1: dataset ?: 'tissue' is not a list of ontology terms");
    run("cxg-select", &[], Some(b"[1]"))
        .code(2)
        .stderr_has("stdin: line 1: array element 0: not a dataset record");
    run("cxg-select", &["nonexistent.jsonl"], None)
        .code(2)
        .stderr_has("cannot open 'nonexistent.jsonl'");
    let missing = t.join("none");
    run(
        "cxg-select",
        &["--ontology", missing.to_str().unwrap(), "--tissue", "lung"],
        Some(b""),
    )
    .code(2)
    .stderr_has("does not exist");
    // a malformed ontology file is named with its place
    let bad = t.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("UBERON-ontology-v1.json"),
        "{\"UBERON:1\": {\"label\": 3}}",
    )
    .unwrap();
    run(
        "cxg-select",
        &["--ontology", bad.to_str().unwrap(), "--tissue", "lung"],
        Some(b""),
    )
    .code(2)
    .stderr_has("UBERON-ontology-v1.json': line 1, column");
    // a corrupt .zst
    std::fs::remove_file(bad.join("UBERON-ontology-v1.json")).unwrap();
    std::fs::write(
        bad.join("UBERON-ontology-v1.json.zst"),
        b"\x28\xb5\x2f\xfd garbage",
    )
    .unwrap();
    run(
        "cxg-select",
        &["--ontology", bad.to_str().unwrap(), "--tissue", "lung"],
        Some(b""),
    )
    .code(2)
    .stderr_has("zstd");
    // two versions of one ontology
    std::fs::write(bad.join("UBERON-ontology-v2.json"), "{}").unwrap();
    run(
        "cxg-select",
        &["--ontology", bad.to_str().unwrap(), "--tissue", "lung"],
        Some(b""),
    )
    .code(2)
    .stderr_has("holds two versions of UBERON");
    run("cxg-select", &["--no-such-flag"], None).code(2);
}

#[test]
fn verbose_names_each_file_version_and_sha256() {
    let o = sel(&["--verbose", "--tissue", "lung", "--disease", "normal"]);
    o.ok();
    for f in [
        "UBERON-ontology-v2026-04-01.json.zst",
        "CL-ontology-v2026-03-26.json",
        "MONDO-ontology-v2026-05-05.json",
        "PATO-ontology-v2025-05-14.json",
    ] {
        let sum = sh(&onto(), &format!("sha256sum {f} | cut -d' ' -f1"));
        let sum = sum.text();
        let line = o
            .stderr
            .lines()
            .find(|l| l.contains(f))
            .unwrap_or_else(|| panic!("{f} not named:\n{}", o.stderr));
        assert!(line.contains(&format!("sha256 {}", sum.trim())), "{line}");
    }
    // only the ontologies the options need are read
    assert!(!o.stderr.contains("EFO-ontology"), "{}", o.stderr);
}

/// A loopback HTTP server for the files of `dir` (GET only), as the
/// release files are served; stops with the test process.
fn file_server(dir: &Path) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(s.try_clone().unwrap());
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = dir.join(path.trim_start_matches('/'));
            let _ = match std::fs::read(&file) {
                Ok(b) if !path.contains("..") => s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| s.write_all(&b)),
                _ => s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn make_ontologies_downloads_and_verifies_the_pinned_files() {
    let t = TempDir::new();
    // served as <url>/<tag>/ontology-assets/<file>
    let srv = t.join("srv");
    let assets = srv.join("v9/ontology-assets");
    std::fs::create_dir_all(&assets).unwrap();
    let names = [
        "CL-ontology-v2026-03-26.json",
        "PATO-ontology-v2025-05-14.json",
        "UBERON-ontology-v2026-04-01.json.zst",
    ];
    let mut pins = String::from("# test pins\ntag v9\n");
    for n in names {
        std::fs::copy(onto().join(n), assets.join(n)).unwrap();
        let sum = sh(&assets, &format!("sha256sum {n} | cut -d' ' -f1")).text();
        pins.push_str(&format!("{}  {n}\n", sum.trim()));
    }
    let pin = t.join("pins");
    std::fs::write(&pin, &pins).unwrap();
    let url = file_server(&srv);
    let dest = t.join("onto");
    // an older version of CL already there goes
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("CL-ontology-v2025-01-01.json"), "{}").unwrap();
    let args = |pin: &Path| {
        vec![
            "ontologies".to_string(),
            format!("ONTOLOGY={}", dest.display()),
            format!("ONTOLOGY_URL={url}"),
            format!("ONTOLOGY_PINS={}", pin.display()),
        ]
    };
    let o = make(&args(&pin));
    o.ok()
        .stderr_has("CL-ontology-v2026-03-26.json: downloaded from GitHub, SHA-256 verified")
        .stderr_has("removed CL-ontology-v2025-01-01.json")
        // and indexed, once
        .stderr_has("indexed UBERON v2026-04-01 in ")
        .stderr_has(": 3 ontology files: 3 indexed now, 0 already indexed");
    for n in names {
        assert_eq!(read(&dest.join(n)), read(&onto().join(n)));
    }
    assert_eq!(
        String::from_utf8(read(&dest.join("RELEASE"))).unwrap(),
        "v9\n"
    );
    let sums = String::from_utf8(read(&dest.join("SHA256SUMS"))).unwrap();
    assert_eq!(
        sums,
        pins.lines()
            .skip(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    // the .zst stays as published (cxg-select reads it, through its index)
    assert!(!dest.join("UBERON-ontology-v2026-04-01.json").exists());
    let d = data();
    let o = run(
        "cxg-select",
        &[
            "--verbose",
            "--ontology",
            dest.to_str().unwrap(),
            "--tissue",
            "lung",
            d.to_str().unwrap(),
        ],
        None,
    );
    o.ok()
        .stderr_has("UBERON-ontology-v2026-04-01.json.zst' sha256")
        .stderr_has("index read in ")
        .stderr_lacks("indexed UBERON");
    assert_eq!(picked(&o), [1, 2, 3, 4, 5, 8, 9]);
    assert!(dest
        .join(".index/UBERON-ontology-v2026-04-01.json.zst.idx")
        .exists());
    // a second run downloads and indexes nothing
    make(&args(&pin))
        .ok()
        .stderr_has("CL-ontology-v2026-03-26.json: present, SHA-256 verified")
        .stderr_has(": 3 ontology files: 0 indexed now, 3 already indexed");
    // a plain .json of a pinned .zst (an earlier make ontologies made
    // them) goes, and so does an index of a file that went
    std::fs::write(dest.join("UBERON-ontology-v2026-04-01.json"), "{}").unwrap();
    std::fs::write(
        dest.join(".index/UBERON-ontology-v2026-04-01.json.idx"),
        "x",
    )
    .unwrap();
    make(&args(&pin))
        .ok()
        .stderr_has("removed UBERON-ontology-v2026-04-01.json (not the pinned file of UBERON)");
    assert!(!dest.join("UBERON-ontology-v2026-04-01.json").exists());
    assert!(!dest
        .join(".index/UBERON-ontology-v2026-04-01.json.idx")
        .exists());
    assert!(dest.join("UBERON-ontology-v2026-04-01.json.zst").exists());
    // a file whose bytes differ from the pin is refused and not kept
    std::fs::remove_file(dest.join("PATO-ontology-v2025-05-14.json")).unwrap();
    std::fs::write(
        assets.join("PATO-ontology-v2025-05-14.json"),
        "{\"tampered\":1}",
    )
    .unwrap();
    let o = make(&args(&pin));
    assert_ne!(o.code, 0);
    o.stderr_has("PATO-ontology-v2025-05-14.json: SHA-256 ")
        .stderr_has("the download was not kept");
    assert!(!dest.join("PATO-ontology-v2025-05-14.json").exists());
    assert!(std::fs::read_dir(&dest).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
    // a file the server lacks
    let pin2 = t.join("pins2");
    std::fs::write(
        &pin2,
        format!("tag v9\n{}  EFO-ontology-v1.json.zst\n", "0".repeat(64)),
    )
    .unwrap();
    let o = make(&args(&pin2));
    assert_ne!(o.code, 0);
    o.stderr_has("cannot download");
    // a malformed pin file
    std::fs::write(&pin2, "tag v9\nabc  ../../etc/passwd\n").unwrap();
    make(&args(&pin2))
        .stderr_has("line 2: expected 'SHA256  <NAME>-ontology-<VERSION>.json[.zst]'");
}

#[test]
fn make_ontologies_takes_the_files_from_the_release_wheel_when_github_fails() {
    let t = TempDir::new();
    let srv = t.join("srv");
    std::fs::create_dir_all(srv.join("pkg")).unwrap();
    let names = [
        "CL-ontology-v2026-03-26.json",
        "UBERON-ontology-v2026-04-01.json.zst",
    ];
    let mut pins = String::from("tag v9\n");
    for n in names {
        let sum = sh(&onto(), &format!("sha256sum {n} | cut -d' ' -f1")).text();
        pins.push_str(&format!("{}  {n}\n", sum.trim()));
    }
    // a wheel as PyPI serves it: the files under cellxgene_ontology_guide/data/
    let whl = srv.join("pkg/guide-1.0-py3-none-any.whl");
    sh(
        &onto(),
        &format!(
            "python3 -c 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], \"w\", zipfile.ZIP_DEFLATED) as z:\n    [z.write(f, \"cellxgene_ontology_guide/data/\" + f) for f in sys.argv[2:]]' '{}' {}",
            whl.display(),
            names.join(" ")
        ),
    )
    .ok();
    let whl_sum = sh(
        &srv,
        "sha256sum pkg/guide-1.0-py3-none-any.whl | cut -d' ' -f1",
    )
    .text();
    let url = file_server(&srv);
    let pin = t.join("pins");
    let write_pins = |sum: &str| {
        std::fs::write(
            &pin,
            format!(
                "{pins}wheel {url}/pkg/guide-1.0-py3-none-any.whl {}\n",
                sum.trim()
            ),
        )
        .unwrap()
    };
    write_pins(&whl_sum);
    let dest = t.join("onto");
    let args = |source: &str| {
        vec![
            "ontologies".to_string(),
            format!("ONTOLOGY={}", dest.display()),
            // no such tag on this server: every GitHub download fails
            format!("ONTOLOGY_URL={url}/github"),
            format!("ONTOLOGY_PINS={}", pin.display()),
            format!("ONTOLOGY_SOURCE={source}"),
        ]
    };
    // GitHub alone: the failure is the answer
    let o = make(&args("github"));
    assert_ne!(o.code, 0);
    o.stderr_has("cannot download").stderr_lacks("wheel");
    // auto: GitHub, then the wheel, once
    let o = make(&args("auto"));
    o.ok()
        .stderr_has("taking the files from the release's PyPI wheel instead")
        .stderr_has("UBERON-ontology-v2026-04-01.json.zst: downloaded from PyPI, SHA-256 verified")
        .stderr_has("CL-ontology-v2026-03-26.json: downloaded from PyPI, SHA-256 verified");
    assert_eq!(o.stderr.matches("downloading ").count(), 1, "{}", o.stderr);
    for n in names {
        assert_eq!(read(&dest.join(n)), read(&onto().join(n)));
    }
    // nothing of the wheel is left behind
    let left: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".index")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // pypi: straight to the wheel; a wheel with other bytes is refused
    std::fs::remove_file(dest.join(names[0])).unwrap();
    write_pins(&"0".repeat(64));
    let o = make(&args("pypi"));
    assert_ne!(o.code, 0, "{}", o.stderr);
    o.stderr_has("the wheel's SHA-256 is ")
        .stderr_lacks("cannot download");
    assert!(!dest.join(names[0]).exists());
    write_pins(&whl_sum);
    make(&args("pypi"))
        .ok()
        .stderr_has("CL-ontology-v2026-03-26.json: downloaded from PyPI");
    // a wheel that lacks a pinned file
    std::fs::write(
        &pin,
        format!(
            "{}{}  EFO-ontology-v1.json.zst\nwheel {url}/pkg/guide-1.0-py3-none-any.whl {}\n",
            pins,
            "0".repeat(64),
            whl_sum.trim()
        ),
    )
    .unwrap();
    let o = make(&args("pypi"));
    assert_ne!(o.code, 0, "{}", o.stderr);
    o.stderr_has("the wheel holds no cellxgene_ontology_guide/data/EFO-ontology-v1.json.zst");
    // without unzip, Python's zipfile reads the wheel; with neither, say so
    std::fs::write(
        &pin,
        format!(
            "{pins}wheel {url}/pkg/guide-1.0-py3-none-any.whl {}\n",
            whl_sum.trim()
        ),
    )
    .unwrap();
    let tools = t.join("bin");
    std::fs::create_dir_all(&tools).unwrap();
    for tool in [
        "bash",
        "awk",
        "sha256sum",
        "cut",
        "mkdir",
        "rm",
        "mv",
        "curl",
        "basename",
        "cat",
    ] {
        let p = sh(t.path(), &format!("command -v {tool}")).text();
        std::os::unix::fs::symlink(p.trim(), tools.join(tool)).unwrap();
    }
    let script = |path: &str| {
        std::fs::remove_dir_all(&dest).unwrap();
        let mut c = Command::new(tools.join("bash"));
        c.arg(root().join("scripts/ontologies.sh"))
            .env("PATH", path)
            .env("DIR", &dest)
            .env("PINS", &pin)
            .env("ONTOLOGY_SOURCE", "pypi");
        run_cmd(c, None)
    };
    let o = script(tools.to_str().unwrap());
    assert_ne!(o.code, 0);
    o.stderr_has("reading the wheel needs unzip or python3");
    let py = sh(t.path(), "python3 -c 'import sys; print(sys.executable)'").text();
    std::os::unix::fs::symlink(py.trim(), tools.join("python3")).unwrap();
    let o = script(tools.to_str().unwrap());
    assert_eq!(o.code, 0, "{}", o.stderr);
    for n in names {
        assert_eq!(read(&dest.join(n)), read(&onto().join(n)));
    }
    // and says which file the wheel lacks
    std::fs::write(
        &pin,
        format!(
            "{pins}{}  EFO-ontology-v1.json.zst\nwheel {url}/pkg/guide-1.0-py3-none-any.whl {}\n",
            "0".repeat(64),
            whl_sum.trim()
        ),
    )
    .unwrap();
    let o = script(tools.to_str().unwrap());
    assert_eq!(o.code, 3, "{}", o.stderr);
    o.stderr_has("the wheel holds no cellxgene_ontology_guide/data/EFO-ontology-v1.json.zst");
    // a bad source, a bad wheel line
    make(&args("ftp")).stderr_has("ONTOLOGY_SOURCE is 'ftp'; expected auto, github or pypi");
    std::fs::write(&pin, format!("{pins}wheel file:///etc/passwd abc\n")).unwrap();
    make(&args("auto")).stderr_has("line 4: expected 'wheel URL SHA256'");
}

#[test]
fn the_committed_pins_name_one_release_and_valid_hashes() {
    let pins = String::from_utf8(read(&root().join("scripts/ontologies.pin"))).unwrap();
    assert!(pins.lines().any(|l| l == "tag ontology-assets-v1.11.1"));
    // the PyPI wheel of the same release, for networks that reach only PyPI
    let wheel: Vec<&str> = pins
        .lines()
        .find(|l| l.starts_with("wheel "))
        .unwrap()
        .split(' ')
        .collect();
    assert!(
        wheel[1].starts_with("https://files.pythonhosted.org/")
            && wheel[1].ends_with("/cellxgene_ontology_guide-1.11.1-py3-none-any.whl"),
        "{wheel:?}"
    );
    assert_eq!(wheel[2].len(), 64);
    let files: Vec<&str> = pins
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("tag ") && !l.starts_with("wheel "))
        .map(|l| {
            let (h, f) = l.split_once("  ").unwrap();
            assert!(
                h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()),
                "{l}"
            );
            f
        })
        .collect();
    for n in [
        "UBERON",
        "CL",
        "MONDO",
        "EFO",
        "PATO",
        "HANCESTRO",
        "HsapDv",
        "MmusDv",
        "NCBITaxon",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.starts_with(&format!("{n}-ontology-"))),
            "{n}"
        );
    }
}

#[test]
fn make_select_runs_between_datasets_and_the_csv() {
    let t = TempDir::new();
    let d = t.join("data");
    std::fs::create_dir_all(d.join("ontology")).unwrap();
    for e in std::fs::read_dir(onto()).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.contains("-ontology-") {
            std::fs::copy(&p, d.join("ontology").join(&n)).unwrap();
        }
    }
    std::fs::copy(data(), d.join("datasets.jsonl")).unwrap();
    // the earlier stages, as if done (older than datasets.jsonl)
    sh(
        &d,
        "touch -d '2020-01-01' collections.json collections.jsonl datasets_index.json; touch datasets.jsonl",
    )
    .ok();
    let target = format!("{}/all_datasets.csv", d.display());
    let mk = |select: &str| {
        make(&[
            target.clone(),
            format!("DATA={}", d.display()),
            format!("SELECT={select}"),
            // the ontology folder of this DATA (make's default is the user's)
            format!("ONTOLOGY={}/ontology", d.display()),
        ])
    };
    // empty SELECT: every dataset
    mk("").ok();
    assert_eq!(read(&d.join("selected.jsonl")), read(&data()));
    assert_eq!(csv_rows(&read(&d.join("all_datasets.csv"))).1.len(), 14);
    let o = mk("--organism 'Homo sapiens' --tissue lung --disease normal --exclude-assay 'spatial transcriptomics'");
    o.ok();
    assert_eq!(csv_rows(&read(&d.join("all_datasets.csv"))).1.len(), 3);
    let log = String::from_utf8(read(&d.join("selection.log"))).unwrap();
    let sum = sh(
        &d.join("ontology"),
        "sha256sum UBERON-ontology-v2026-04-01.json.zst | cut -d' ' -f1",
    )
    .text();
    assert!(log.contains(&format!("ontology UBERON v2026-04-01: '{}/ontology/UBERON-ontology-v2026-04-01.json.zst' sha256 {}", d.display(), sum.trim())), "{log}");
    assert!(log.contains("14 records in, 3 out"), "{log}");
    // unchanged SELECT: nothing to redo
    let before = std::fs::metadata(d.join("selected.jsonl"))
        .unwrap()
        .modified()
        .unwrap();
    mk("--organism 'Homo sapiens' --tissue lung --disease normal --exclude-assay 'spatial transcriptomics'").ok();
    assert_eq!(
        std::fs::metadata(d.join("selected.jsonl"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    // a misspelt value stops make and keeps the old selection out of the CSV
    let o = mk("--tissue lugn");
    assert_ne!(o.code, 0);
    o.stderr_has("did you mean 'lung'");
    assert!(!d.join("selected.jsonl.tmp").exists());
    assert!(!d.join("all_datasets.csv.tmp").exists());
}

/// A folder of two fixture files (one compressed, one plain) in `t`.
fn uberon_and_pato(t: &TempDir) -> PathBuf {
    let dir = t.join("onto");
    std::fs::create_dir_all(&dir).unwrap();
    for n in [
        "UBERON-ontology-v2026-04-01.json.zst",
        "PATO-ontology-v2025-05-14.json",
    ] {
        std::fs::copy(onto().join(n), dir.join(n)).unwrap();
    }
    dir
}

#[test]
fn each_file_is_indexed_once_and_the_index_follows_the_file() {
    let t = TempDir::new();
    let dir = uberon_and_pato(&t);
    let d = data();
    let go = |extra: &[&str]| {
        let mut a = vec!["--ontology", dir.to_str().unwrap(), "--tissue", "lung"];
        a.extend_from_slice(extra);
        a.push(d.to_str().unwrap());
        run("cxg-select", &a, None)
    };
    let idx = dir.join(".index/UBERON-ontology-v2026-04-01.json.zst.idx");
    // first run: built and kept; the selection is the same either way
    let first = go(&[]);
    first.ok().stderr_has("indexed UBERON v2026-04-01 in ");
    assert!(idx.exists());
    let again = go(&["--verbose"]);
    again
        .ok()
        .stderr_lacks("indexed UBERON")
        .stderr_has("(18 terms, index read in ");
    assert_eq!(first.stdout, again.stdout);
    assert_eq!(picked(&again), [1, 2, 3, 4, 5, 8, 9]);
    // the file changes (another size): the index is made again
    let plain = sh(&onto(), "zstd -dc UBERON-ontology-v2026-04-01.json.zst").stdout;
    let edited = String::from_utf8(plain)
        .unwrap()
        .replace("\"lung parenchyma\"", "\"lung tissue proper\"");
    std::fs::write(dir.join("u.json"), &edited).unwrap();
    sh(
        &dir,
        "zstd -q -f u.json -o UBERON-ontology-v2026-04-01.json.zst && rm u.json",
    )
    .ok();
    go(&["--verbose"])
        .ok()
        .stderr_has("(the index there was made from an earlier state of the file)")
        .stderr_has("'lung' (UBERON v2026-04-01) and 5 descendants");
    // the same size and modification time, other bytes (an edit followed
    // by `touch -r`): the change time tells, and the index is made again
    let pato = dir.join("PATO-ontology-v2025-05-14.json");
    let normal = || {
        run(
            "cxg-select",
            &[
                "--ontology",
                dir.to_str().unwrap(),
                "--disease",
                "normal",
                d.to_str().unwrap(),
            ],
            None,
        )
    };
    normal().ok().stderr_has("PATO:0000461 'normal'");
    let meta = std::fs::metadata(&pato).unwrap();
    let text = String::from_utf8(read(&pato)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        &pato,
        text.replace("\"label\":\"normal\"", "\"label\":\"lamron\""),
    )
    .unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&pato).unwrap();
    f.set_modified(meta.modified().unwrap()).unwrap();
    drop(f);
    assert_eq!(std::fs::metadata(&pato).unwrap().len(), meta.len());
    normal()
        .ok()
        .stderr_has("(the index there was made from an earlier state of the file)")
        .stderr_lacks("PATO:0000461 'normal'");
    // a byte of the index itself damaged (just past its header): made again
    let mut ib = read(&idx);
    ib[500] ^= 0xff;
    std::fs::write(&idx, &ib).unwrap();
    let o = go(&[]);
    o.ok().stderr_has("(the index there was a damaged index)");
    assert_eq!(picked(&o), [1, 2, 3, 4, 5, 8, 9]);
    // damage in the descendants (read only when asked for): found by their
    // checksum when lung's are read, and the index is made again
    let mut ib = read(&idx);
    let last = ib.len() - 1;
    ib[last] ^= 0x01;
    std::fs::write(&idx, &ib).unwrap();
    let o = go(&[]);
    o.ok().stderr_has(
        "was a damaged index (found reading the descendants of UBERON:0002048): indexed UBERON v2026-04-01 again",
    );
    assert_eq!(picked(&o), [1, 2, 3, 4, 5, 8, 9]);
    go(&[]).ok().stderr_lacks("again").stderr_lacks("indexed");
    // not an index at all
    std::fs::write(&idx, "not an index").unwrap();
    go(&[])
        .ok()
        .stderr_has("(the index there was not an ontology index)");
    // a folder where the index cannot be kept: a file, or a planted link
    std::fs::remove_dir_all(dir.join(".index")).unwrap();
    std::fs::write(dir.join(".index"), "").unwrap();
    let o = go(&[]);
    o.ok()
        .stderr_has("warning: indexed UBERON v2026-04-01 in ")
        .stderr_has("but cannot keep the index: '");
    assert_eq!(picked(&o), [1, 2, 3, 4, 5, 8, 9]);
    std::fs::remove_file(dir.join(".index")).unwrap();
    let outside = t.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join(".index")).unwrap();
    go(&[])
        .ok()
        .stderr_has("is a symbolic link: refusing to write through it");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn prepare_index_dir_and_hostile_folders() {
    let t = TempDir::new();
    let dir = uberon_and_pato(&t);
    let dirs = dir.to_str().unwrap();
    let d = data();
    // --prepare indexes everything once, reads no records and writes nothing
    run("cxg-select", &["--ontology", dirs, "--prepare"], None)
        .ok()
        .stderr_has(": 2 ontology files: 2 indexed now, 0 already indexed");
    std::fs::write(t.join("precious"), "keep me").unwrap();
    for bad in [
        vec!["--prepare", "-o", t.join("precious").to_str().unwrap()],
        vec!["--prepare", "--exact"],
        vec!["--prepare", "--tissue", "lung"],
        vec!["--prepare", d.to_str().unwrap()],
    ] {
        let mut a = vec!["--ontology", dirs];
        a.extend(bad);
        run("cxg-select", &a, None)
            .code(2)
            .stderr_has("--prepare indexes the ontology folder and writes no records");
    }
    assert_eq!(read(&t.join("precious")), b"keep me");
    run("cxg-select", &["--prepare"], None)
        .code(2)
        .stderr_has("--prepare needs the ontology folder");
    // an index of a file no longer there, and an old temporary file, go
    let stale = dir.join(".index/MONDO-ontology-v2020-01-01.json.idx");
    std::fs::write(&stale, "old").unwrap();
    let tmp = dir.join(".index/.UBERON-ontology-v2026-04-01.json.zst.idx.abc123.tmp");
    std::fs::write(&tmp, "half").unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&tmp).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    drop(f);
    run("cxg-select", &["--ontology", dirs, "--prepare"], None)
        .ok()
        .stderr_has("0 indexed now, 2 already indexed; removed 2 stale index files");
    assert!(!stale.exists() && !tmp.exists());
    // a folder where nothing can be kept: --prepare says so, exit 1
    std::fs::remove_dir_all(dir.join(".index")).unwrap();
    std::fs::write(dir.join(".index"), "").unwrap();
    run("cxg-select", &["--ontology", dirs, "--prepare"], None)
        .code(1)
        .stderr_has("2 indexed now (2 could not be kept: see above)");
    // --index-dir (or CXG_ONTOLOGY_INDEX): indexes kept elsewhere
    let elsewhere = t.join("cache");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let o = run(
        "cxg-select",
        &[
            "--ontology",
            dirs,
            "--index-dir",
            elsewhere.to_str().unwrap(),
            "--tissue",
            "lung",
            d.to_str().unwrap(),
        ],
        None,
    );
    o.ok().stderr_has("indexed UBERON v2026-04-01");
    assert_eq!(picked(&o), [1, 2, 3, 4, 5, 8, 9]);
    assert!(elsewhere
        .join("UBERON-ontology-v2026-04-01.json.zst.idx")
        .exists());
    let mut c = Command::new(bin("cxg-select"));
    c.args(["--ontology", dirs, "--tissue", "lung", d.to_str().unwrap()])
        .env("CXG_ONTOLOGY_INDEX", &elsewhere);
    let o = run_cmd(c, None);
    o.ok().stderr_lacks("indexed");
    let under_a_file = t.join("precious/x");
    run(
        "cxg-select",
        &[
            "--ontology",
            dirs,
            "--index-dir",
            under_a_file.to_str().unwrap(),
            "--tissue",
            "lung",
        ],
        None,
    )
    .code(2)
    .stderr_has(&format!(
        "cannot create the index folder '{}'",
        under_a_file.display()
    ));
    // a new folder is made
    let fresh = t.join("cache2/deeper");
    run(
        "cxg-select",
        &[
            "--ontology",
            dirs,
            "--index-dir",
            fresh.to_str().unwrap(),
            "--tissue",
            "lung",
            d.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    assert!(fresh
        .join("UBERON-ontology-v2026-04-01.json.zst.idx")
        .exists());
    std::fs::remove_file(dir.join(".index")).unwrap();
    // a FIFO planted where the index goes is not opened (it would block)
    std::fs::create_dir_all(dir.join(".index")).unwrap();
    let fifo = dir.join(".index/UBERON-ontology-v2026-04-01.json.zst.idx");
    sh(t.path(), &format!("mkfifo '{}'", fifo.display())).ok();
    let o = sh(
        t.path(),
        &format!(
            "timeout 60 '{}' --ontology '{dirs}' --tissue lung '{}'",
            bin("cxg-select").display(),
            d.display()
        ),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stderr_has("(the index there was not a regular file)");
    assert!(std::fs::metadata(&fifo).unwrap().is_file());
    // a damaged .zst (its frame checksum differs) is refused, not indexed
    let zst = dir.join("UBERON-ontology-v2026-04-01.json.zst");
    let mut b = read(&zst);
    let at = b.len() - 1; // the frame's checksum
    b[at] ^= 0x01;
    std::fs::write(&zst, &b).unwrap();
    let o = run(
        "cxg-select",
        &["--ontology", dirs, "--tissue", "lung", d.to_str().unwrap()],
        None,
    );
    o.code(2)
        .stderr_has("UBERON-ontology-v2026-04-01.json.zst': corrupt zstd data");
    // the plain file and the .zst of one version: the .zst is read, and said
    std::fs::copy(onto().join("UBERON-ontology-v2026-04-01.json.zst"), &zst).unwrap();
    std::fs::write(dir.join("UBERON-ontology-v2026-04-01.json"), "{}").unwrap();
    run(
        "cxg-select",
        &["--ontology", dirs, "--tissue", "lung", d.to_str().unwrap()],
        None,
    )
    .ok()
    .stderr_has("holds UBERON v2026-04-01 twice")
    .stderr_has("reading the .json.zst (remove the other)");
}

/// The folder `make ontologies` fills, when it has run (CI runs it): the
/// Makefile's default, `$CXG_ONTOLOGY`, else `$XDG_CACHE_HOME/cxg/ontology`,
/// else `~/.cache/cxg/ontology`; or `data/ontology`, where it went before.
fn real_release() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")));
    let candidates = [
        env("CXG_ONTOLOGY"),
        cache.map(|c| c.join("cxg/ontology")),
        Some(root().join("data/ontology")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("UBERON-ontology-v2026-04-01.json.zst").exists());
    if found.is_none() {
        skip("the real ontology files are absent (run `make ontologies`)");
    }
    found
}

#[test]
fn the_real_release_files_load_and_expand() {
    let Some(dir) = real_release() else { return };
    let d = data();
    let o = run(
        "cxg-select",
        &[
            "--ontology",
            dir.to_str().unwrap(),
            "--verbose",
            "--tissue",
            "lung",
            "--disease",
            "cancer",
            "--exclude-assay",
            "spatial transcriptomics",
            "--assay",
            "EFO:0010183",
            d.to_str().unwrap(),
        ],
        None,
    );
    o.ok()
        .stderr_has("UBERON:0002048 'lung' (UBERON v2026-04-01) and 160 descendants")
        .stderr_has("MONDO:0004992 'cancer' (MONDO v2026-05-05) and 2271 descendants")
        .stderr_has("EFO:0008994 'spatial transcriptomics' (EFO v3.90.0) and 19 descendants")
        .stderr_has(
            "EFO:0010183 'single cell library construction' (EFO v3.90.0) and 101 descendants",
        );
    // every file read is one make ontologies verified (or decompressed from one)
    let sums = String::from_utf8(read(&dir.join("SHA256SUMS"))).unwrap();
    let hashed: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.contains(" sha256 "))
        .collect();
    assert_eq!(hashed.len(), 5, "{}", o.stderr);
    for l in hashed {
        let sum = l
            .split(" sha256 ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert!(sums.contains(sum), "{l} not in SHA256SUMS");
    }
    // the fixture's records resolve the same on the real files
    let fx = sel(&[
        "--tissue",
        "lung",
        "--disease",
        "cancer",
        "--exclude-assay",
        "spatial transcriptomics",
    ]);
    assert_eq!(picked(&o), picked(&fx));
    // organisms with descendants, from NCBITaxon (indexed by make
    // ontologies; a test build would take a minute to index its 844 MB)
    let o = run(
        "cxg-select",
        &[
            "--ontology",
            dir.to_str().unwrap(),
            "--organism",
            "human",
            "--organism",
            "NCBITaxon:10088",
            d.to_str().unwrap(),
        ],
        None,
    );
    o.ok()
        .stderr_has("--organism human: NCBITaxon:9606 'Homo sapiens' (NCBITaxon v2026-05-13) and 2 descendants")
        .stderr_has("--organism NCBITaxon:10088: NCBITaxon:10088 'Mus <genus>' (NCBITaxon v2026-05-13) and 125 descendants");
    // suggestions on the real files name the label meant, and a term
    // outside the facet's branch is named
    let real = |args: &[&str]| {
        let mut a = vec!["--ontology", dir.to_str().unwrap()];
        a.extend_from_slice(args);
        a.push(d.to_str().unwrap());
        run("cxg-select", &a, None)
    };
    real(&["--disease", "covid"])
        .code(2)
        .stderr_has("(did you mean 'COVID-19'");
    real(&["--tissue", "brian"])
        .code(2)
        .stderr_has("(did you mean 'brain'");
    real(&["--assay", "adult"]).ok().stderr_has(
        "EFO:0001272 'adult' is not a term CELLxGENE uses for --assay (those descend from EFO:0002772 or EFO:0010183)",
    );
    real(&["--development-stage", "adult"])
        .code(2)
        .stderr_lacks("a value for --assay");
    // a synonym of two taxa is refused, naming both
    let a = run(
        "cxg-select",
        &[
            "--ontology",
            dir.to_str().unwrap(),
            "--organism",
            "Mus",
            d.to_str().unwrap(),
        ],
        None,
    );
    a.code(2).stderr_has("--organism Mus: ambiguous: the synonym of NCBITaxon:10088 'Mus <genus>' (NCBITaxon v2026-05-13) and NCBITaxon:862507 'Mus <subgenus>'");
    let fx = sel(&["--organism", "Homo sapiens", "--organism", "Mus musculus"]);
    assert_eq!(picked(&o), picked(&fx));
}

/// A record of `n` bytes or so with one tissue entry.
fn big_record(i: usize, label: &str, n: usize) -> String {
    format!(
        "{{\"dataset_id\":\"{i:08}-0000-4000-8000-000000000000\",\"tissue\":[{{\"label\":\"{label}\",\"ontology_term_id\":\"X:{i}\",\"tissue_type\":\"tissue\"}}],\"pad\":\"{}\"}}\n",
        "p".repeat(n)
    )
}

/// The peak resident memory (VmHWM, kB) of a running process.
fn peak_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_value_found_only_in_the_data_does_not_hold_the_output_in_memory() {
    if !Path::new("/proc/self/status").exists() {
        assert!(std::env::var_os("CI").is_none(), "no /proc in CI");
        skip("no /proc to read a process's peak memory");
        return;
    }
    // 60 MB of lung records, then the one record that confirms 'zzzdata':
    // until then every selected record must be held back (a misspelt
    // value writes nothing), but in a file, not in memory.
    let t = TempDir::new();
    let input = t.join("in.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..600 {
        f.write_all(big_record(i, "lung", 100_000).as_bytes())
            .unwrap();
    }
    f.write_all(big_record(600, "zzzdata", 10).as_bytes())
        .unwrap();
    f.into_inner().unwrap().sync_all().unwrap();
    let mut child = Command::new(bin("cxg-select"))
        .args([
            "--no-ontology",
            "--tissue",
            "lung",
            "--exclude-tissue",
            "zzzdata",
        ])
        .arg(&input)
        .env_remove("CXG_ONTOLOGY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // The first byte comes once the value is confirmed, after the last
    // record was read; the tool then blocks on the full pipe, alive, with
    // its peak memory behind it.
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    let peak = peak_kb(child.id()).unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want: usize = (0..600).map(|i| big_record(i, "lung", 100_000).len()).sum();
    assert_eq!(rest.len() + 1, want);
    assert!(
        peak < 40_000,
        "peak memory {peak} kB for 60 MB of held output"
    );
    assert!(t.names() == ["in.jsonl"], "{:?}", t.names());
    // and a value in neither the ontologies nor the data still writes nothing
    let out = t.join("out.jsonl");
    let o = run(
        "cxg-select",
        &[
            "--no-ontology",
            "--tissue",
            "lung",
            "--exclude-tissue",
            "zzzmissing",
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    o.code(2)
        .stderr_has("--exclude-tissue zzzmissing: no such value");
    assert!(o.stdout.is_empty());
    assert!(t.names() == ["in.jsonl"], "{:?}", t.names());
}

#[test]
fn fields_no_option_uses_pass_through_whatever_their_type() {
    for rec in [
        r#"{"sex":"female"}"#,
        r#"{"cell_count":"5"}"#,
        r#"{"collection":"c1"}"#,
        r#"{"collection":{"publisher_metadata":{"is_preprint":"no"}}}"#,
        r#"{"cell_count":1e400}"#,
        r#"{"tissue":"lung","tissue":3,"organism":{"x":1}}"#,
    ] {
        let input = format!("{rec}\n");
        let o = run("cxg-select", &[], Some(input.as_bytes()));
        o.ok();
        assert_eq!(o.text(), input);
        // an option that does not read the field passes it too
        let o = run(
            "cxg-select",
            &["--suspension-type", "na", "--exact"],
            Some(input.as_bytes()),
        );
        assert_ne!(o.code, 2, "{rec}: {}", o.stderr);
    }
    // a field an option needs with an unexpected type: that record is
    // named and left out (exit 1); the others are selected
    let good = r#"{"dataset_id":"g","sex":[{"label":"female","ontology_term_id":"PATO:0000383"}],"cell_count":9,"collection":{"publisher_metadata":{"is_preprint":false}}}"#;
    for (args, bad, says) in [
        (
            &["--sex", "female"][..],
            r#"{"dataset_id":"b","sex":"female"}"#,
            "'sex'",
        ),
        (
            &["--min-cells", "5"][..],
            r#"{"dataset_id":"b","cell_count":"5"}"#,
            "'cell_count'",
        ),
        (
            &["--min-cells", "5"][..],
            r#"{"dataset_id":"b","cell_count":1e400}"#,
            "'cell_count'",
        ),
        (
            &["--no-preprints"][..],
            r#"{"dataset_id":"b","collection":"c1"}"#,
            "'collection'",
        ),
        (
            &["--no-preprints"][..],
            r#"{"dataset_id":"b","collection":{"publisher_metadata":{"is_preprint":"no"}}}"#,
            "'collection'",
        ),
    ] {
        let input = format!("{bad}\n{good}\n");
        let mut a = vec!["--no-ontology"];
        a.extend_from_slice(args);
        let o = run("cxg-select", &a, Some(input.as_bytes()));
        o.code(1)
            .stderr_has("stdin: line 1: record 1: dataset b: ")
            .stderr_has(says)
            .stderr_has("2 records in, 1 out");
        assert_eq!(o.text(), format!("{good}\n"));
    }
    // input of the wrong stage (collections) is named once: exit 2
    let o = run(
        "cxg-select",
        &["--no-ontology", "--sex", "female"],
        Some(b"{\"collection_id\":\"c\",\"datasets\":[]}\n"),
    );
    o.code(2)
        .stderr_has("this is a collection")
        .stderr_has("not a dataset: run cxg-datasets first");
}

#[test]
fn json_lines_are_copied_as_read_including_cr_and_spaces() {
    let input: &[u8] = b"{\"a\":1}\r\n  {\"b\": 2}\t\n\n{\"c\":3}";
    let o = run("cxg-select", &[], Some(input));
    o.ok().stderr_has("3 records in, 3 out");
    assert_eq!(o.stdout, b"{\"a\":1}\r\n  {\"b\": 2}\t\n{\"c\":3}\n");
    // a selection keeps the selected lines as read
    let input: &[u8] =
        b"{\"suspension_type\":[\"cell\"]}\r\n {\"suspension_type\":[\"nucleus\"]} \r\n";
    let o = run("cxg-select", &["--suspension-type", "nucleus"], Some(input));
    o.ok();
    assert_eq!(o.stdout, b" {\"suspension_type\":[\"nucleus\"]} \r\n");
    // a record over several lines is one compact line
    let o = run("cxg-select", &[], Some(b"{\"a\":\n  [1, 2]}\n{\"b\":1}\n"));
    o.ok();
    assert_eq!(o.stdout, b"{\"a\":[1,2]}\n{\"b\":1}\n");
    let help = run("cxg-select", &["--help"], None);
    assert!(help.text().contains("byte for byte"), "{}", help.text());
}

#[test]
fn tissue_and_tissue_type_hold_for_the_same_tissue_entry() {
    let lung = r#"{"label":"lung","ontology_term_id":"UBERON:0002048","tissue_type":"tissue"}"#;
    let lung_org =
        r#"{"label":"lung","ontology_term_id":"UBERON:0002048","tissue_type":"organoid"}"#;
    let brain_org =
        r#"{"label":"brain","ontology_term_id":"UBERON:0000955","tissue_type":"organoid"}"#;
    let input = format!(
        "{{\"dataset_id\":\"1\",\"tissue\":[{lung},{brain_org}]}}\n{{\"dataset_id\":\"2\",\"tissue\":[{lung_org}]}}\n"
    );
    let o = sel_on(
        &["--tissue", "lung", "--tissue-type", "organoid"],
        input.as_bytes(),
    );
    o.ok();
    let got: Vec<String> = jsonl(&o.stdout)
        .iter()
        .map(|v| v["dataset_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ["2"]);
    // each alone still matches any entry
    assert_eq!(
        jsonl(&sel_on(&["--tissue-type", "organoid"], input.as_bytes()).stdout).len(),
        2
    );
    let help = run("cxg-select", &["--help"], None);
    assert!(help.text().contains("same tissue entry"), "{}", help.text());
}

/// cxg-select with the fixture ontology on `input` (stdin).
fn sel_on(args: &[&str], input: &[u8]) -> Out {
    let o = onto();
    let mut a = vec!["--ontology", o.to_str().unwrap()];
    a.extend_from_slice(args);
    run("cxg-select", &a, Some(input))
}

#[test]
fn an_empty_cxg_ontology_is_unset() {
    // an empty CXG_ONTOLOGY names no folder (not the current one): the
    // value is refused for want of an ontology folder
    let mut c = Command::new(bin("cxg-select"));
    c.env("CXG_ONTOLOGY", "").args(["--sex", "female"]);
    let o = run_cmd(c, Some(b"{\"sex\":[{\"label\":\"female\"}]}\n"));
    o.code(2).stderr_has("--sex female (no ontology folder)");
    let mut c = Command::new(bin("cxg-select"));
    c.env("CXG_ONTOLOGY", "")
        .args(["--no-ontology", "--sex", "female"]);
    let o = run_cmd(c, Some(b"{\"sex\":[{\"label\":\"female\"}]}\n"));
    o.ok().stderr_has("no ontology loaded");
    assert_eq!(jsonl(&o.stdout).len(), 1);
}

#[test]
fn a_short_or_partial_value_gets_suggestions_from_every_loaded_ontology() {
    // 'pulmo' is a synonym of lung (UBERON), given to --disease
    let o = sel(&["--tissue", "lung", "--disease", "pulmo"]);
    o.code(2)
        .stderr_has("--disease pulmo: no such value")
        .stderr_has("UBERON:0002048 'lung'")
        .stderr_has("--tissue");
    // a partial label
    sel(&["--disease", "adenocarc"])
        .code(2)
        .stderr_has("did you mean 'lung adenocarcinoma', 'lung cancer'?");
    // a short misspelling
    sel(&["--tissue", "lng"])
        .code(2)
        .stderr_has("did you mean 'lung'");
}

#[test]
fn a_replacement_loop_is_named() {
    let t = TempDir::new();
    std::fs::write(
        t.join("UBERON-ontology-v1.json"),
        r#"{"UBERON:1":{"label":"a","ancestors":{},"deprecated":true,"replaced_by":"UBERON:2"},
            "UBERON:2":{"label":"b","ancestors":{},"deprecated":true,"replaced_by":"UBERON:1"}}"#,
    )
    .unwrap();
    let o = run(
        "cxg-select",
        &[
            "--ontology",
            t.path().to_str().unwrap(),
            "--tissue",
            "UBERON:1",
        ],
        Some(b""),
    );
    o.code(2)
        .stderr_has("replacement loop")
        .stderr_has("UBERON:1 -> UBERON:2 -> UBERON:1");
    assert!(!o.stderr.contains("the id alone"), "{}", o.stderr);
}

/// Dataset lines of two datasets whose `n` is 1.50 and 1.5, from the
/// collections array that cxg-datasets reads.
fn two_numbers() -> (&'static [u8], Vec<u8>) {
    let c = br#"[{"collection_id":"c","datasets":[{"dataset_id":"d1","n":1.50},{"dataset_id":"d2","n":1.5}]}]"#;
    let lines = run("cxg-datasets", &[], Some(c));
    lines.ok();
    (c, lines.stdout)
}

#[test]
fn where_reads_numbers_as_written_as_cxg_datasets_does() {
    let (c, lines) = two_numbers();
    let w = r#"(.n|tostring) == "1.50""#;
    let ds = run("cxg-datasets", &["--where", w], Some(c));
    let o = run("cxg-select", &["--where", w], Some(&lines));
    o.ok().stderr_has("2 records in, 1 out");
    assert_eq!(jsonl(&o.stdout)[0]["dataset_id"], "d1");
    assert_eq!(o.stdout, ds.ok().stdout);
}

#[test]
fn a_runaway_where_stops_the_run_with_exit_2_as_in_cxg_datasets() {
    let (c, lines) = two_numbers();
    for (tool, input) in [("cxg-datasets", c), ("cxg-select", &lines[..])] {
        let o = run(tool, &["--where", "def f: 1 + f; f"], Some(input));
        o.code(2)
            .stderr_has("recursion too deep")
            .stderr_has("--where 'def f: 1 + f; f'");
        assert!(!o.stderr.contains("records in"), "{tool}: {}", o.stderr);
    }
}
