//! A newcomer's first hour (issue 11): numbers pass through untouched,
//! the index join fills every column, inputs from the wrong stage or a
//! misspelt --where are named once, --select, the Makefile's path safety
//! and age message, every make command in the README and docs/, and skips
//! that are counted (and fail under CI).
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::path::Path;
use std::process::Command;

const NUMBERS: &str = r#"[{"collection_id":"c1","f":1263392533.1979759,"big":123456789012345678901234567890,"e":1E2,"z":-0,"huge":1e400,"tiny":-2.5e-308,"datasets":[{"dataset_id":"d1","n":0.30000000000000004,"cell_count":98765432109876543210}]}]"#;

#[test]
fn split_copies_every_number_as_written() {
    let o = run("cxg-split", &[], Some(NUMBERS.as_bytes()));
    o.ok();
    let want = r#"{"collection_id":"c1","f":1263392533.1979759,"big":123456789012345678901234567890,"e":1E2,"z":-0,"huge":1e400,"tiny":-2.5e-308,"datasets":[{"dataset_id":"d1","n":0.30000000000000004,"cell_count":98765432109876543210}]}"#;
    assert_eq!(o.text(), format!("{want}\n"));
    // indented and per-file output keep them too
    let o = run("cxg-split", &["--pretty"], Some(NUMBERS.as_bytes()));
    o.ok();
    for n in [
        "1263392533.1979759",
        "123456789012345678901234567890",
        "1E2",
        "-0,",
        "1e400",
    ] {
        assert!(o.text().contains(n), "{n}: {}", o.text());
    }
    let t = TempDir::new();
    let dir = t.join("out");
    run(
        "cxg-split",
        &["--out-dir", dir.to_str().unwrap()],
        Some(NUMBERS.as_bytes()),
    )
    .ok();
    assert_eq!(
        String::from_utf8(read(&dir.join("collection_c1.json"))).unwrap(),
        format!("{want}\n")
    );
}

#[test]
fn datasets_copies_every_number_as_written() {
    let o = run("cxg-datasets", &[], Some(NUMBERS.as_bytes()));
    o.ok();
    assert_eq!(
        o.text(),
        "{\"dataset_id\":\"d1\",\"n\":0.30000000000000004,\"cell_count\":98765432109876543210,\"collection\":{\"collection_id\":\"c1\",\"f\":1263392533.1979759,\"big\":123456789012345678901234567890,\"e\":1E2,\"z\":-0,\"huge\":1e400,\"tiny\":-2.5e-308}}\n"
    );
    // values read by --where are the exact doubles: 1263392533.1979759 is
    // a different double from 1263392533.197976 (approximate parsing made them one)
    let o = run(
        "cxg-datasets",
        &["--where", ".collection.f < 1263392533.197976"],
        Some(NUMBERS.as_bytes()),
    );
    o.ok();
    assert_eq!(o.text().lines().count(), 1);
    // and cxg-tocsv prints the number as written
    let ds = run("cxg-datasets", &[], Some(NUMBERS.as_bytes())).stdout;
    let o = run(
        "cxg-tocsv",
        &[
            "--column",
            "f=.collection.f",
            "--column",
            "big=.cell_count",
            "--column",
            "huge=.collection.huge",
            "--select",
            "f,big,huge",
        ],
        Some(&ds),
    );
    o.ok();
    assert_eq!(
        o.text(),
        "f,big,huge\n1263392533.1979759,98765432109876543210,1e400\n"
    );
}

fn snapshot_datasets_jsonl(index: bool) -> Out {
    let snap = fixture("snapshot");
    let mut args = vec![];
    let idx = snap.join("datasets.json");
    if index {
        args.push("--index");
        args.push(idx.to_str().unwrap());
    }
    let cj = snap.join("collections.json");
    args.push(cj.to_str().unwrap());
    run("cxg-datasets", &args, None)
}

#[test]
fn the_index_join_fills_every_full_column() {
    // without the index: previews only, and cxg-tocsv names the empty columns
    let plain = snapshot_datasets_jsonl(false);
    plain.ok();
    let o = run("cxg-tocsv", &["--preset", "full"], Some(&plain.stdout));
    o.ok()
        .stderr_has("columns are empty in every row")
        .stderr_has("cell_count")
        .stderr_has("explorer_url")
        .stderr_has("cxg-datasets --index");
    // with the index: every dataset the index has gets its full record,
    // the two it lacks stay previews and are counted on stderr
    let joined = snapshot_datasets_jsonl(true);
    joined
        .ok()
        .stderr_has("2 of 100 datasets not in the index")
        .stderr_has("7b00f46f-0901-4173-a1d9-74fbf2c8171b");
    let rows = jsonl(&joined.stdout);
    assert_eq!(rows.len(), 100);
    let full = rows
        .iter()
        .filter(|r| r.get("explorer_url").is_some())
        .count();
    assert_eq!(full, 98);
    // the preview's fields first, key order kept, then the record's; the collection last
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "assay");
    assert_eq!(keys.last().unwrap().as_str(), "collection");
    assert!(keys.iter().any(|k| *k == "explorer_url"));
    let o = run("cxg-tocsv", &["--preset", "full"], Some(&joined.stdout));
    o.ok();
    assert!(!o.stderr.contains("empty in every row"), "{}", o.stderr);
    let (h, rows) = csv_rows(&o.stdout);
    for (i, name) in h.iter().enumerate() {
        if ["author_cell_type", "embedding"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            rows.iter().any(|r| !r[i].is_empty()),
            "column {name} is empty"
        );
    }
    // an index that is not one is refused
    let cj = fixture("snapshot/collections.json");
    run(
        "cxg-datasets",
        &["--index", cj.to_str().unwrap(), cj.to_str().unwrap()],
        None,
    )
    .code(2)
    .stderr_has("--index: this is a collection, not a dataset");
}

#[test]
fn a_misspelt_where_field_is_named_once_and_fails_when_it_fails_everywhere() {
    let cj = fixture("snapshot/collections.json");
    let o = run(
        "cxg-datasets",
        &[
            "--where",
            ".organsim | any(.label == \"Homo sapiens\")",
            cj.to_str().unwrap(),
        ],
        None,
    );
    o.code(2)
        .stderr_has("--where failed on 100 of 100 datasets, left out: cannot use null as iterable")
        .stderr_has("(dataset f099485f-8487-467e-95a9-6b98088810c7, ")
        .stderr_has("--where failed on every dataset (100)");
    assert_eq!(
        o.stderr.matches("cannot use null").count(),
        1,
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty());
    // a filter that keeps nothing says so
    let o = run(
        "cxg-datasets",
        &["--where", ".organsim == \"x\"", cj.to_str().unwrap()],
        None,
    );
    o.ok().stderr_has("--where kept 0 of 100 datasets");
}

#[test]
fn input_from_the_wrong_stage_names_the_tool_to_run_first() {
    let ds = fixture("snapshot/datasets.json");
    let o = run("cxg-datasets", &[ds.to_str().unwrap()], None);
    o.code(2)
        .stderr_has("array element 0: this is a dataset")
        .stderr_has("datasets go straight to cxg-tocsv");
    assert!(o.stdout.is_empty());
    let cj = fixture("snapshot/collections.json");
    let o = run("cxg-tocsv", &[cj.to_str().unwrap()], None);
    o.code(2).stderr_has("run cxg-datasets first");
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

#[test]
fn tocsv_select_picks_columns_by_name() {
    let joined = snapshot_datasets_jsonl(true);
    let o = run(
        "cxg-tocsv",
        &["--select", "dataset_id,cell_count,tissue"],
        Some(&joined.stdout),
    );
    o.ok();
    let (h, rows) = csv_rows(&o.stdout);
    assert_eq!(h, ["dataset_id", "cell_count", "tissue"]);
    assert_eq!(rows.len(), 100);
    // four records of the index have no cell_count
    assert_eq!(rows.iter().filter(|r| !r[1].is_empty()).count(), 94);
    run("cxg-tocsv", &["--select", "dataset_id,nosuch"], Some(b""))
        .code(2)
        .stderr_has("--select: no column named 'nosuch'; columns: collection_url,");
    // names given to --columns point to --select
    run("cxg-tocsv", &["--columns", "dataset_id,tissue"], Some(b""))
        .code(2)
        .stderr_has("use --select dataset_id,tissue");
}

fn make_in(dir: &Path, args: &[&str]) -> Out {
    let mut c = Command::new("make");
    c.current_dir(dir)
        .arg("--no-print-directory")
        .arg("-f")
        .arg(root().join("Makefile"))
        .arg(format!("BIN={}", bin_dir().display()))
        .arg("CARGO_BUILD=true")
        .args(args);
    run_cmd(c, None)
}

#[test]
fn make_refuses_paths_with_whitespace_before_anything_runs() {
    let t = TempDir::new();
    std::fs::create_dir_all(t.join("my")).unwrap();
    std::fs::write(t.join("my/keep"), "precious").unwrap();
    for var in ["DATA", "DEMO", "BIN", "SNAPSHOT", "PREFIX", "DESTDIR"] {
        let value = format!("{var}={}/my data/out", t.path().display());
        for target in ["stages", "clean", "install", "demo"] {
            let o = make_in(t.path(), &[target, &value]);
            o.code(2)
                .stderr_has(&format!("{var}=\""))
                .stderr_has("holds characters a path variable may not");
        }
    }
    make_in(t.path(), &["stages", "DATA=a'b"])
        .code(2)
        .stderr_has("holds characters a path variable may not");
    make_in(t.path(), &["stages", "DATA="])
        .code(2)
        .stderr_has("DATA is empty");
    // nothing was created or removed
    assert_eq!(t.names(), ["my"]);
    assert_eq!(read(&t.join("my/keep")), b"precious");
    // clean refuses to remove a folder that holds the repository, or /
    for bad in [".", "..", "/"] {
        make_in(
            &root(),
            &[
                "clean",
                &format!("DATA={bad}"),
                "DEMO=/nonexistent-cxg-demo",
            ],
        )
        .code(2)
        .stderr_has("refusing to remove");
    }
    assert!(root().join("Makefile").exists());
    // and removes an ordinary folder
    std::fs::create_dir_all(t.join("d/collections")).unwrap();
    make_in(
        t.path(),
        &[
            "clean",
            &format!("DATA={}", t.join("d").display()),
            &format!("DEMO={}", t.join("demo").display()),
        ],
    )
    .ok();
    assert!(!t.join("d").exists());
}

#[test]
fn make_run_twice_says_how_old_the_harvest_is() {
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    let data = t.join("data");
    let args = [
        format!("DATA={}", data.display()),
        format!("API_URL={}", s.url),
    ];
    let first = make_in(&root(), &[&args[0], &args[1]]);
    first.ok();
    assert!(
        first.text().contains("(fetched just now from"),
        "{}",
        first.text()
    );
    let files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut touch = Command::new("touch");
    touch.arg("-d").arg("3 hours ago").args(&files);
    run_cmd(touch, None).ok();
    let second = make_in(&root(), &[&args[0], &args[1]]);
    second.ok();
    let text = second.text();
    assert!(
        text.contains("from data fetched 3 hours ago")
            && text.contains("make refresh fetches anew"),
        "{text}"
    );
}

/// The target a `make` command line names: its first word that is not a
/// `VAR=value` (a quoted value may hold spaces), else the default, harvest.
fn make_target(cmd: &str) -> &str {
    let mut quote = None;
    let mut start = None;
    let mut words = Vec::new();
    for (i, c) in cmd.char_indices() {
        match (quote, c) {
            (None, ' ') => words.extend(start.take().map(|s| &cmd[s..i])),
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        if c != ' ' || quote.is_some() {
            start.get_or_insert(i);
        }
    }
    words.extend(start.map(|s| &cmd[s..]));
    words
        .into_iter()
        .skip(1)
        .find(|w| !w.contains('='))
        .unwrap_or("harvest")
}

#[test]
fn make_targets_are_read_past_quoted_values() {
    assert_eq!(make_target("make"), "harvest");
    assert_eq!(make_target("make obs"), "obs");
    assert_eq!(make_target("make DATA=/tmp/x PRESET=full"), "harvest");
    assert_eq!(
        make_target("make SELECT=\"--organism 'Homo sapiens' --tissue lung\""),
        "harvest"
    );
    assert_eq!(
        make_target("make workflow SELECT=\"--organism 'Homo sapiens'\""),
        "workflow"
    );
}

/// Every `make` command of the README and docs/ (in code blocks or inline
/// code), run against a local server; tests/docs.rs counts on this test to
/// run the `sh` blocks that hold only `make` commands.
#[test]
fn every_make_command_in_the_docs_runs() {
    let cmds = doc_make_commands();
    assert!(cmds.len() >= 12, "{cmds:?}");
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    // make download fetches the files the harvest links to: from a snapshot
    // with file contents whose URLs point at its own server (--local-assets)
    let files = TempDir::new();
    generate(
        &files.join("s"),
        &[
            "--assets",
            "--seed",
            "11",
            "--collections",
            "3",
            "--datasets",
            "6",
        ],
    );
    let fs = Server::start(&files.join("s"), &["--local-assets"]);
    for (i, cmd) in cmds.iter().enumerate() {
        if cmd.contains("jq ") && !has_jq() {
            continue;
        }
        let target = make_target(cmd);
        // `make test` is what runs this test (and `make libs` a part of
        // it), lint and bench take minutes:
        // those are checked as a dry run (make -n), and so is
        // `make ontologies`, which needs the network (tests/select.rs runs
        // it against a loopback server)
        let dry = matches!(
            target,
            "test" | "libs" | "lint" | "bench" | "bench-download" | "ontologies"
        ) // the Snakemake commands need its venv; tests/workflow.rs runs them
            || cmd.contains("workflow");
        let api = if target == "download" {
            &fs.url
        } else {
            &s.url
        };
        let d = t.join(&format!("run{i}"));
        if target == "obs" {
            // make obs reads what cxg-download left: a manifest of H5ADs
            std::fs::create_dir_all(d.join("data/h5ad")).unwrap();
            let m = ["plain", "anndata08"]
                .iter()
                .map(|n| {
                    let f = fixture(&format!("h5ad/{n}.h5ad"));
                    // cxg-obs checks each file's size against `bytes`
                    let bytes = std::fs::metadata(&f).unwrap().len();
                    format!("d,{n},u,{},{bytes},s,ok\n", f.display())
                })
                .collect::<String>();
            std::fs::write(
                d.join("data/h5ad/manifest.csv"),
                format!("dataset_id,dataset_version_id,url,path,bytes,sha256,status\n{m}"),
            )
            .unwrap();
        }
        let script = format!(
            "{}{} BIN='{}' CARGO_BUILD=true DATA='{}/data' DEMO='{}/demo' DESTDIR='{}/dest' API_URL='{}'",
            if dry { "make -n" } else { "make" },
            &cmd.replace("http://127.0.0.1:PORT/curation/v1", api)[4..],
            bin_dir().display(),
            d.display(),
            d.display(),
            d.display(),
            api
        );
        // a selection runs with the test ontology subset, as after `make ontologies`
        let script = if cmd.contains("SELECT=") {
            format!("{script} ONTOLOGY='{}'", fixture("ontology").display())
        } else {
            script
        };
        let mut c = Command::new("bash");
        c.arg("-c").arg(&script).current_dir(root());
        let o = run_cmd(c, None);
        assert_eq!(o.code, 0, "{cmd}\n{script}\n{}", o.stderr);
        match target {
            "harvest" | "refresh" => {
                let text = o.text();
                assert!(text.contains("harvest complete"), "{cmd}: {text}");
                let (h, rows) = csv_rows(&read(&d.join("data/all_datasets_h5ad.csv")));
                if cmd.contains("SELECT=") {
                    assert!(
                        !rows.is_empty() && rows.len() < 100,
                        "{cmd}: {}",
                        rows.len()
                    );
                    let log = String::from_utf8(read(&d.join("data/selection.log"))).unwrap();
                    assert!(log.contains("ontology UBERON v2026-04-01"), "{log}");
                } else {
                    assert_eq!(rows.len(), 100, "{cmd}");
                }
                if cmd.contains("PRESET=full") {
                    assert_eq!(h.len(), 49, "{cmd}");
                    assert!(
                        !o.stderr.contains("empty in every row"),
                        "{cmd}: {}",
                        o.stderr
                    );
                }
            }
            "demo" => {
                assert!(d.join("demo/all_datasets_h5ad.csv").exists());
                // make demo ends with the page of its harvest, files and cells included
                assert!(d.join("demo/report.html").exists(), "{cmd}");
                assert!(d.join("demo/obs.jsonl").exists(), "{cmd}");
            }
            "obs" => assert!(d.join("data/all_datasets_obs.csv").exists(), "{cmd}"),
            "download" => assert!(d.join("data/h5ad/manifest.csv").exists(), "{cmd}"),
            "install" => assert!(std::fs::read_dir(d.join("dest")).is_ok(), "{cmd}"),
            _ => {}
        }
    }
}

/// Run only by `skips_are_recorded_and_fail_under_ci`, in a child process.
#[test]
fn skip_probe() {
    if std::env::var_os("CXG_SKIP_PROBE").is_some() {
        skip("probe: something is absent");
    }
}

#[test]
fn skips_are_recorded_and_fail_under_ci() {
    let t = TempDir::new();
    let log = t.join("skips");
    let exe = std::env::current_exe().unwrap();
    let probe = |ci: bool| {
        let mut c = Command::new(&exe);
        c.args(["--exact", "skip_probe", "--test-threads", "1"])
            .env("CXG_SKIP_PROBE", "1")
            .env("CXG_SKIP_LOG", &log)
            .env_remove("CI");
        if ci {
            c.env("CI", "true");
        }
        run_cmd(c, None)
    };
    probe(false).ok();
    assert_eq!(
        String::from_utf8(read(&log)).unwrap(),
        "skip_probe: probe: something is absent\n"
    );
    let o = probe(true);
    assert_ne!(o.code, 0);
    assert!(o.text().contains("cannot skip in CI"), "{}", o.text());
}

#[test]
fn make_test_counts_skips_apart_from_passes() {
    // scripts/test.sh with a stand-in cargo: 5 passed (one of which skipped), 1 ignored
    let t = TempDir::new();
    let fake = t.join("cargo");
    std::fs::write(
        &fake,
        "#!/usr/bin/env bash\n[ \"$1\" = build ] && exit 0\n\
         echo 'test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured'\n\
         echo 'test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured'\n\
         echo 'parity: jq is not installed' >> \"$CXG_SKIP_LOG\"\n",
    )
    .unwrap();
    let mut p = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(&fake, p).unwrap();
    let mut c = Command::new(root().join("scripts/test.sh"));
    c.env("CARGO", &fake).current_dir(root());
    let o = run_cmd(c, None);
    o.ok();
    let text = o.text();
    assert!(text.contains("  parity: jq is not installed"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("tests: 4 passed, 0 failed, 2 skipped"),
        "{text}"
    );
}

/// make test builds once: after `make` (target/release holds the tools) the
/// tests build and run in release against those binaries, not a second,
/// debug build of every crate; without them in debug; TEST_PROFILE chooses.
#[test]
fn make_test_reuses_makes_release_build() {
    let t = TempDir::new();
    let fake = t.join("cargo");
    let log = t.join("calls");
    std::fs::write(
        &fake,
        format!(
            "#!/usr/bin/env bash\necho \"$*\" >> '{}'\n[ \"$1\" = build ] && exit 0\n\
             echo 'test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured'\n",
            log.display()
        ),
    )
    .unwrap();
    let mut p = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(&fake, p).unwrap();
    let calls = |profile: Option<&str>| {
        let _ = std::fs::remove_file(&log);
        let mut c = Command::new(root().join("scripts/test.sh"));
        c.env("CARGO", &fake).current_dir(t.path());
        match profile {
            Some(p) => c.env("TEST_PROFILE", p),
            None => c.env_remove("TEST_PROFILE"),
        };
        let o = run_cmd(c, None);
        (o.code, std::fs::read_to_string(&log).unwrap_or_default())
    };
    let debug = "build --locked --workspace --bins\ntest --locked --workspace\n";
    let release =
        "build --locked --workspace --bins --release\ntest --locked --workspace --release\n";
    assert_eq!(calls(None), (0, debug.to_string()));
    std::fs::create_dir_all(t.join("target/release")).unwrap();
    std::fs::copy(&fake, t.join("target/release/cxg-fetch")).unwrap();
    assert_eq!(calls(None), (0, release.to_string()));
    assert_eq!(calls(Some("debug")), (0, debug.to_string()));
    assert_eq!(calls(Some("fast")).0, 2);
}
