//! In-process tests: arguments → exit status, stdout and warnings, one
//! line per case; and what the generated records hold.

use crate::args::Args;
use crate::collection::{timestamp, T0};
use crate::rng::Rng;
use crate::vocab::vocabulary;
use clap::Parser;
use cxg_catalog::facets::{Kind, FACETS};
use cxg_core::ctx::run_memory;
use serde_json::{json, Value};

fn args(argv: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("cxg-gen").chain(argv.iter().copied())).unwrap()
}

/// The arguments the committed sample is made with, but a removed one.
fn sample() -> Args {
    args(&[
        "--seed",
        "3",
        "--collections",
        "20",
        "--datasets",
        "100",
        "--unindexed",
        "2",
        "--gone",
        "1",
        "unused",
    ])
}

#[test]
fn runs_write_a_folder_or_refuse_before_writing() {
    let cases: &[(&[&str], i32, &[&str])] = &[
        // (arguments; T/ is a temporary folder holding a snapshot `snap` and a folder `other`)
        (&["--seed", "3", "--unindexed", "2", "--gone", "1", "T/s"], 0,
            &["wrote 'T/s': 20 collections, 100 datasets (97 in the index, 1 gone)"]),
        (&["--collections", "2", "--datasets", "3", "--assets", "--asset-bytes", "10", "T/s"], 0,
            &["wrote 'T/s': 2 collections, 3 datasets (3 in the index, 0 gone)", "wrote 3 H5AD files (143832 bytes) under 'T/s/assets'"]),
        (&["--collections", "300", "--datasets", "3000", "--list-only", "T/s"], 0,
            &["wrote 'T/s': 300 collections, 3000 datasets (3000 in the index, 0 gone)"]),
        (&["--force", "T/snap"], 0, &["wrote 'T/snap': 20 collections, 100 datasets (100 in the index, 0 gone)"]),
        (&["T/snap"], 2, &["'T/snap' already exists (use --force to replace a snapshot)"]),
        (&["--force", "T/other"], 2,
            &["'T/other' exists and does not look like a snapshot (no collections.json); not replacing it"]),
        (&["--datasets", "3", "--unindexed", "2", "--gone", "2", "T/s"], 2,
            &["--unindexed 2 and --gone 2 together exceed --datasets 3"]),
        (&["--assets", "--asset-bytes", "5000000000", "T/s"], 2,
            &["--asset-bytes 5000000000 is more than the limit of 4 GiB (larger files only as --sparse-assets, up to 64 GiB)"]),
        (&["--assets", "--sparse-assets", "--asset-bytes", "70000000000", "T/s"], 2,
            &["--asset-bytes 70000000000 is more than the limit of 64 GiB with --sparse-assets"]),
        (&["--datasets", "3", "--assets", "--asset-bytes", "1000", "--assume-free-bytes", "10", "T/s"], 2,
            &["not enough space for 'T/s': 3 asset files need 504501 bytes, 10 bytes are available"]),
    ];
    for (argv, code, warnings) in cases {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().display().to_string();
        std::fs::create_dir_all(t.path().join("other")).unwrap();
        std::fs::create_dir_all(t.path().join("snap")).unwrap();
        std::fs::write(t.path().join("snap/collections.json"), "[]").unwrap();
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.replacen("T/", &format!("{dir}/"), 1))
            .collect();
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let got = run_memory(b"", |ctx| crate::run(args(&argv), ctx));
        let hidden: Vec<String> = got.2.iter().map(|w| w.replace(&dir, "T")).collect();
        assert_eq!(
            (got.0, got.1.as_str(), hidden),
            (*code, "", warnings.iter().map(|w| w.to_string()).collect()),
            "{argv:?}"
        );
        // a refused run leaves nothing behind, not even its staging folder
        let mut left: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let made = if *code == 0 && !argv.iter().any(|a| a.ends_with("/snap")) {
            vec!["other", "s", "snap"]
        } else {
            vec!["other", "snap"]
        };
        assert_eq!(left, made, "{argv:?}");
    }
}

/// A snapshot written by a run into a temporary folder, read back.
struct Written {
    _t: tempfile::TempDir,
    dir: std::path::PathBuf,
    list: Vec<Value>,
    index: Vec<Value>,
    objects: Vec<Value>,
    gone: Vec<Value>,
}

fn read_json(p: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn write(mut a: Args) -> Written {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("s");
    a.out_dir = dir.clone();
    let got = run_memory(b"", |ctx| crate::run(a, ctx));
    assert_eq!(got.0, 0, "{got:?}");
    let mut objects = Vec::new();
    for c in std::fs::read_dir(dir.join("collections")).unwrap() {
        let ds = c.unwrap().path().join("datasets");
        for d in std::fs::read_dir(ds).into_iter().flatten() {
            objects.push(read_json(&d.unwrap().path()));
        }
    }
    // an array, or none when the file is not written (--list-only, no --gone)
    let array = |name: &str| match dir.join(name) {
        p if p.exists() => read_json(&p).as_array().unwrap().clone(),
        _ => vec![],
    };
    Written {
        list: array("collections.json"),
        index: array("datasets.json"),
        gone: array("gone.json"),
        objects,
        dir,
        _t: t,
    }
}

/// Every entry under `dir` (folders too, so an empty one counts), sorted
/// by path, with each file's SHA-256: equal digests, equal folders.
fn folder_digest(dir: &std::path::Path, skip: &str) -> String {
    fn walk(dir: &std::path::Path, rel: &str, out: &mut Vec<(String, Option<String>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = format!("{rel}/{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                out.push((rel.clone(), None));
                walk(&e.path(), &rel, out);
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                out.push((rel, Some(cxg_core::digest::sha256_hex(&bytes))));
            }
        }
    }
    let mut all = Vec::new();
    walk(dir, ".", &mut all);
    all.retain(|(p, _)| skip.is_empty() || !p.starts_with(skip));
    all.sort();
    let text: String = all
        .iter()
        .map(|(p, h)| match h {
            Some(h) => format!("{p}\n{h}  -\n"),
            None => format!("{p}/\n"),
        })
        .collect();
    cxg_core::digest::sha256_hex(text.as_bytes())
}

/// The bytes of the snapshot for the same arguments never change: the
/// digests were taken from the generator that built the whole snapshot
/// in memory (before it streamed its files), with the shell line
/// `find . -mindepth 1 | LC_ALL=C sort | while read -r p; do if [ -d "$p" ];
/// then echo "$p/"; else echo "$p"; sha256sum < "$p"; fi; done | sha256sum`
/// (assets/ left out: only the JSON is compared). A small sort budget
/// (`--sort-bytes`) spills the index in many runs: the same bytes.
#[test]
fn the_same_arguments_give_the_same_bytes_as_ever() {
    let cases = [
        (
            "--seed 3 --collections 20 --datasets 100 --unindexed 2 --gone 1",
            "989f41e47b007a7d31793973fd72ace4edfd8924787a5afdb6c0a30b84fb53ab",
        ),
        (
            "--seed 7 --collections 60 --datasets 700 --unindexed 30 --gone 5 --sort-bytes 50000",
            "c57700a871e1a45104e159e89f358c7596ea0b294a0e8bd5ade5d3095e80a505",
        ),
        (
            "--seed 5 --collections 1 --datasets 300 --gone 3 --sort-bytes 1",
            "057e5fd72c77473a3d3cccc5d869548658318fdb78751f0b85d2c0922dd4b435",
        ),
        (
            "--seed 9 --collections 300 --datasets 1000 --list-only --gone 2",
            "9e4de433dce807e767f985c1888626b3d8c7058d76101a87537fb88fdf1242cb",
        ),
        (
            // (the H5AD sizes follow the files written since they are H5ADs)
            "--seed 3 --datasets 20 --assets --unindexed 1 --gone 1",
            "a4e606fbd80fee88c56c6c8ffd70af5868b7ecd4080c61233d78aa544b8081bc",
        ),
        (
            "--seed 4 --collections 8 --datasets 0",
            "6621d63e7ddd8bcb1494fd31b236e2cb132c171f698c37597853accbf281cd2a",
        ),
    ];
    for (line, want) in cases {
        let mut argv: Vec<&str> = line.split_whitespace().collect();
        argv.push("unused");
        let w = write(args(&argv));
        assert_eq!(folder_digest(&w.dir, "./assets"), want, "{line}");
    }
}

/// The asset files too: the same arguments, the same H5AD bytes.
#[test]
fn the_same_arguments_give_the_same_asset_files() {
    let argv = [
        "--seed",
        "3",
        "--collections",
        "2",
        "--datasets",
        "4",
        "--assets",
        "u",
    ];
    let a = write(args(&argv));
    let b = write(args(&argv));
    assert_eq!(folder_digest(&a.dir, ""), folder_digest(&b.dir, ""));
    assert!(a.dir.join("assets").read_dir().unwrap().count() >= 6);
}

#[test]
fn deterministic_and_consistent() {
    let a = write(sample());
    let b = write(sample());
    assert_eq!(folder_digest(&a.dir, ""), folder_digest(&b.dir, ""));
    let listed: usize = a
        .list
        .iter()
        .map(|c| {
            c.get("datasets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(listed, 100);
    assert_eq!(a.gone.len(), 1);
    assert_eq!(a.objects.len(), 99);
    assert_eq!(a.index.len(), 97);
    assert!(a.list[4].get("datasets").is_none());
    assert_eq!(a.list[5]["datasets"], json!([]));
    assert!(a.list[1]["publisher_metadata"].is_null());
    for ix in &a.index {
        assert!(ix.get("collection_id").is_some() && ix.get("embeddings").is_none());
        assert!(ix.get("__cid").is_none());
    }
    // no sort runs left behind
    assert!(!a.dir.join(".index-runs").exists());
}

/// Every facet of the catalogue's table is in the generated datasets,
/// with terms of the facet's ontologies (or the schema's `unknown` and
/// `na`) and values of its vocabulary: a facet added to the table fails
/// here until the generator makes it.
#[test]
fn datasets_carry_every_facet_of_the_catalogue() {
    let snap = write(sample());
    assert!(!vocabulary("suspension_type", Kind::Strings).is_empty());
    for f in &FACETS {
        let mut seen = 0;
        for d in &snap.objects {
            for v in d
                .get(f.field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                seen += 1;
                match f.kind {
                    Kind::Terms => {
                        let id = v["ontology_term_id"].as_str().unwrap();
                        let prefix = id.split(':').next().unwrap();
                        assert!(
                            f.ontologies.contains(&prefix) || ["unknown", "na"].contains(&id),
                            "{}: {id}",
                            f.option
                        );
                        assert!(v["label"].is_string(), "{}: {v}", f.option);
                    }
                    Kind::TissueType => {
                        let t = v["tissue_type"].as_str().unwrap();
                        assert!(f.vocabulary.contains(&t), "{}: {t}", f.option);
                    }
                    Kind::Strings => {
                        let s = v.as_str().unwrap();
                        assert!(f.vocabulary.contains(&s), "{}: {s}", f.option);
                    }
                }
            }
        }
        assert!(seen > 0, "no dataset has facet {}", f.option);
    }
}

#[test]
fn uuids_and_timestamps() {
    let mut r = Rng::new(1);
    for _ in 0..100 {
        assert!(cxg_catalog::ids::is_uuid(&r.uuid()));
    }
    assert_eq!(timestamp(T0 + 3661, 5), "2019-01-01T01:01:01.000005+00:00");
}
