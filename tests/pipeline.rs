//! End to end: the Makefile pipeline against cxg-serve (counts, every
//! dataset once, every h5ad_url equal to the snapshot's asset), stages
//! swapped for jq, a failing stage that leaves no partial target and a
//! rerun that completes, byte-identical reruns, `make demo`, the README's
//! example and the tour of docs/.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::path::Path;
use std::process::Command;

fn stages(data: &Path, url: &str, extra: &[&str]) -> Out {
    let mut a = vec![
        "stages".to_string(),
        format!("DATA={}", data.display()),
        format!("API_URL={url}"),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    make(&a)
}

const FILES: [&str; 7] = [
    "collections.json",
    "collections.jsonl",
    "collections.list",
    "datasets.jsonl",
    "all_datasets.csv",
    "datasets_index.json",
    "all_datasets_h5ad.csv",
];

#[test]
fn the_pipeline_on_a_generated_snapshot() {
    let t = TempDir::new();
    let snap = t.join("snap");
    generate(
        &snap,
        &[
            "--seed",
            "11",
            "--collections",
            "40",
            "--datasets",
            "300",
            "--unindexed",
            "5",
        ],
    );
    let s = Server::start(&snap, &[]);
    let data = t.join("data");
    stages(&data, &s.url, &[]).ok();
    for f in FILES {
        assert!(data.join(f).exists(), "{f}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // counts: 40 collections (40 files), 300 datasets, 300 rows
    assert_eq!(
        String::from_utf8(read(&data.join("collections.list")))
            .unwrap()
            .lines()
            .count(),
        40
    );
    assert_eq!(
        String::from_utf8(read(&data.join("datasets.jsonl")))
            .unwrap()
            .lines()
            .count(),
        300
    );
    let (h, rows) = csv_rows(&read(&data.join("all_datasets_h5ad.csv")));
    assert_eq!(rows.len(), 300);
    let di = h.iter().position(|x| x == "dataset_id").unwrap();
    let ui = h.iter().position(|x| x == "h5ad_url").unwrap();
    // every dataset exactly once, with the snapshot's own H5AD asset url
    let mut seen = std::collections::HashSet::new();
    let urls = snapshot_truth(&snap);
    for r in &rows {
        assert!(seen.insert(r[di].clone()), "{} twice", r[di]);
        assert_eq!(r[ui], urls[&r[di]].1, "{}", r[di]);
    }
    assert_eq!(seen.len(), urls.len());
    // 2 list requests + 5 index misses
    assert_eq!(s.requests().len(), 7);
    // a rerun has nothing to do
    let before = std::fs::metadata(data.join("all_datasets_h5ad.csv"))
        .unwrap()
        .modified()
        .unwrap();
    stages(&data, &s.url, &[]).ok();
    assert_eq!(s.requests().len(), 7);
    assert_eq!(
        std::fs::metadata(data.join("all_datasets_h5ad.csv"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
}

#[test]
fn stages_swapped_for_jq_give_the_same_csv() {
    if !has_jq() {
        return;
    }
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let t = TempDir::new();
    let ours = t.join("ours");
    let theirs = t.join("jq");
    stages(&ours, &s.url, &[]).ok();
    stages(
        &theirs,
        &s.url,
        &[
            "SPLIT=jq -c '.[]'",
            "DATASETS=jq -c '. as $$c | (.datasets // [])[] | . + {collection: ($$c | del(.datasets))}'",
        ],
    )
    .ok();
    for f in ["all_datasets.csv", "all_datasets_h5ad.csv"] {
        assert_eq!(read(&ours.join(f)), read(&theirs.join(f)), "{f}");
    }
}

#[test]
fn a_failing_stage_leaves_no_partial_target_and_a_rerun_completes() {
    let snap = fixture("snapshot");
    // the datasets index never succeeds
    let bad = Server::start(
        &snap,
        &[
            "--fail-every",
            "1",
            "--fail-status",
            "503",
            "--fail-match",
            "/curation/v1/datasets",
        ],
    );
    let t = TempDir::new();
    let data = t.join("data");
    let fetch = format!(
        "FETCH={} --retries 1 --backoff-ms 1 --api-url {}",
        bin("cxg-fetch").display(),
        bad.url
    );
    let o = stages(&data, &bad.url, &[&fetch]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("HTTP 503 Service Unavailable: injected fault (after 2 attempts)"),
        "{}",
        o.stderr
    );
    assert!(!data.join("datasets_index.json").exists());
    assert!(!data.join("all_datasets_h5ad.csv").exists());
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    drop(bad);
    // the server goes down: h5ad fails for its index misses
    std::fs::write(
        data.join("datasets_index.json"),
        read(&snap.join("datasets.json")),
    )
    .unwrap();
    let h5ad = format!(
        "H5AD={} --retries 0 --api-url {}",
        bin("cxg-h5ad").display(),
        dead_url()
    );
    let o = stages(&data, &dead_url(), &[&h5ad]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("cannot be reached"), "{}", o.stderr);
    assert!(!data.join("all_datasets_h5ad.csv").exists());
    std::fs::remove_file(data.join("datasets_index.json")).unwrap();
    // rerun with a healthy server: only what is missing is redone
    let good = Server::start(&snap, &[]);
    stages(&data, &good.url, &[]).ok();
    assert!(data.join("all_datasets_h5ad.csv").exists());
    let log = good.requests();
    assert!(
        log.iter().all(|l| !l.contains("/collections?")),
        "collections were fetched again: {log:?}"
    );
    assert!(log[0].contains("/curation/v1/datasets "));
}

#[test]
fn two_runs_give_byte_identical_outputs() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let t = TempDir::new();
    stages(&t.join("a"), &s.url, &[]).ok();
    stages(&t.join("b"), &s.url, &["JOBS=1"]).ok();
    for f in FILES {
        if f == "collections.list" {
            continue; // it names the output folder
        }
        assert_eq!(
            read(&t.join("a").join(f)),
            read(&t.join("b").join(f)),
            "{f}"
        );
    }
}

#[test]
fn make_demo_runs_offline_and_says_what_it_made() {
    let t = TempDir::new();
    let demo = t.join("demo");
    let o = make(&["demo".into(), format!("DEMO={}", demo.display())]);
    o.ok();
    let text = o.text();
    assert!(text.contains("collections: 3"), "{text}");
    assert!(text.contains("datasets:    10"), "{text}");
    assert!(text.contains("10 rows (10 with an H5AD url)"), "{text}");
    assert!(text.contains("(10 H5AD files, manifest.csv)"), "{text}");
    assert!(demo.join("all_datasets_h5ad.csv").exists());
    assert_eq!(jsonl(&read(&demo.join("obs.jsonl"))).len(), 10);
}

/// The README's lung example, offline with `make demo`: the three human
/// lung datasets, normal (lung, lung parenchyma, alveolus of lung), with
/// the ontology subset when the user has no ontology folder (make's test
/// environment has none), downloaded and summarised: 1,800 cells.
#[test]
fn make_demo_gives_the_readmes_lung_answer() {
    let select = "--organism 'Homo sapiens' --tissue lung --disease normal";
    assert!(
        readme_says(&format!("`make demo SELECT=\"{select}\"`")),
        "the README's demo command changed"
    );
    assert!(readme_says(
        "\"lung\", \"lung parenchyma\" and \"alveolus of lung\", 1,800 cells"
    ));
    let t = TempDir::new();
    let demo = t.join("demo");
    let o = make(&[
        "demo".into(),
        format!("DEMO={}", demo.display()),
        format!("SELECT={select}"),
    ]);
    o.ok();
    let text = o.text();
    assert!(text.contains("no ontology files in"), "{text}");
    assert!(text.contains("selected:    3 (SELECT="), "{text}");
    let mut tissues: Vec<String> = jsonl(&read(&demo.join("selected.jsonl")))
        .iter()
        .map(|d| d["tissue"][0]["label"].as_str().unwrap().to_string())
        .collect();
    tissues.sort();
    assert_eq!(tissues, ["alveolus of lung", "lung", "lung parenchyma"]);
    let obs = jsonl(&read(&demo.join("obs.jsonl")));
    let cells: u64 = obs.iter().map(|r| r["n_cells"].as_u64().unwrap()).sum();
    assert_eq!((obs.len(), cells), (3, 1800));
}

#[test]
fn make_help_lists_targets_and_variables() {
    let o = make(&["help".into()]);
    o.ok();
    for w in [
        "harvest:", "demo:", "test:", "bench:", "install:", "refresh:", "API_URL=", "SPLIT",
    ] {
        assert!(o.text().contains(w), "{w}: {}", o.text());
    }
}

#[test]
fn make_install_honours_prefix_and_destdir() {
    let t = TempDir::new();
    let o = make(&[
        "install".into(),
        format!("DESTDIR={}", t.path().display()),
        "PREFIX=/opt/cxg".into(),
    ]);
    o.ok();
    for tool in TOOLS {
        assert!(t.join(&format!("opt/cxg/bin/{tool}")).exists(), "{tool}");
    }
}

/// The tour of docs/harvest.md and the pages that continue it, as one
/// script in one folder (later pages read what earlier ones wrote), in a
/// folder laid out like the repository; blocks that call jq only where it
/// is installed. The `make` blocks of those pages are run by
/// tests/first_hour.rs.
#[test]
fn the_docs_tour_runs() {
    let mut blocks = doc_sh("docs/harvest.md", "## A tour");
    blocks.extend(doc_sh("docs/select.md", "## By hand"));
    blocks.extend(doc_sh("docs/obs.md", "## Examples"));
    blocks.extend(doc_sh("docs/obs.md", "## Files it cannot read"));
    blocks.extend(doc_sh("docs/jq.md", "## The jq programs the tools replace"));
    blocks.extend(doc_sh("docs/offline.md", "## Serving a snapshot folder"));
    blocks.extend(doc_sh("docs/history.md", "## Provenance"));
    blocks.extend(doc_sh("docs/download.md", "## Offline"));
    let mut script = String::from("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    let jq = blocks.iter().any(|b| b.contains("jq ")) && has_jq();
    for block in &blocks {
        if block.contains("jq ") && !jq {
            continue;
        }
        script.push_str(block);
    }
    let t = TempDir::new();
    std::os::unix::fs::symlink(root().join("tests"), t.join("tests")).unwrap();
    // the tour's first line puts target/release on PATH: here it is the
    // binaries under test, and nothing else of ours is on PATH
    std::fs::create_dir_all(t.join("target")).unwrap();
    std::os::unix::fs::symlink(bin_dir(), t.join("target/release")).unwrap();
    assert!(script.contains("export PATH=\"$PWD/target/release:$PATH\""));
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(t.path());
    let o = run_cmd(c, None);
    o.ok();
    assert!(t.join("all_datasets_h5ad.csv").exists());
    // the --column example fills its column, and --select its cell counts
    let (h, rows) = csv_rows(&read(&t.join("full.csv")));
    let i = h.iter().position(|x| x == "mean_genes").unwrap();
    assert!(rows.iter().filter(|r| !r[i].is_empty()).count() >= 90);
    assert!(
        !o.stderr.contains("cell_count, primary_cell_count"),
        "{}",
        o.stderr
    );
    assert!(
        o.text().contains("dataset_id,cell_count,tissue\n"),
        "{}",
        o.text()
    );
}

/// The README's select, download and summarise example, as written, in a
/// folder laid out like the repository (the tests/ fixtures and
/// target/release, here the binaries under test).
#[test]
fn the_readme_example_runs() {
    let blocks = doc_sh("README.md", "## Select, download, summarise");
    let script = format!(
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}",
        blocks.concat()
    );
    assert!(script.contains("export PATH=\"$PWD/target/release:$PATH\""));
    let t = TempDir::new();
    std::os::unix::fs::symlink(root().join("tests"), t.join("tests")).unwrap();
    std::fs::create_dir_all(t.join("target")).unwrap();
    std::os::unix::fs::symlink(bin_dir(), t.join("target/release")).unwrap();
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(t.path());
    let o = run_cmd(c, None);
    o.ok();
    // the seven human datasets of the sample: selected, downloaded, summarised
    let (_, rows) = csv_rows(&read(&t.join("manifest.csv")));
    assert_eq!(rows.len(), 7, "{}", o.stderr);
    assert!(rows
        .iter()
        .all(|r| r[6] == "downloaded" && r[7] == "size+etag"));
    let obs = jsonl(&read(&t.join("obs.jsonl")));
    assert_eq!(obs.len(), 7);
    assert!(obs
        .iter()
        .all(|r| r["status"] == "ok" && r["n_cells"].as_u64() > Some(0)));
    let (h, rows) = csv_rows(&read(&t.join("selected_obs.csv")));
    let donors = h.iter().position(|c| c == "donor_count").unwrap();
    assert!(rows.iter().all(|r| !r[donors].is_empty()), "{rows:?}");
    // what the last line prints: each dataset with its three counts
    assert!(
        o.text()
            .starts_with("dataset_id,normal_cell_count,primary_cell_count,donor_count\n"),
        "{}",
        o.text()
    );
    assert_eq!(o.text().lines().count(), 8, "{}", o.text());
    assert!(
        readme_says("each of the seven human datasets"),
        "the README's count changed"
    );
}

fn readme_says(text: &str) -> bool {
    doc_text("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .contains(text)
}

#[test]
fn an_interrupted_stage_leaves_no_temporary_file() {
    use std::os::unix::process::CommandExt;
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    let data = t.join("data");
    // a stage that writes part of its output, then hangs
    let mut child = Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "stages", "CARGO_BUILD=true"])
        .arg(format!("BIN={}", bin_dir().display()))
        .arg(format!("DATA={}", data.display()))
        .arg(format!("API_URL={}", s.url))
        // the stage says when it has written part of its output and is
        // waiting (exec: the sleep is the stage, as a tool would be; a
        // signal that came while `head` ran could leave the shell going on
        // to a full 60 s sleep and a clean exit, and make would rename it)
        .arg(format!(
            "SPLIT=sh -c 'head -c 100; : > {}; exec sleep 60'",
            t.join("ready").display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("make");
    let tmp = data.join("collections.jsonl.tmp");
    let ready = t.join("ready");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !(ready.exists() && std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0) > 0) {
        assert!(std::time::Instant::now() < until, "the stage never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Ctrl-C reaches the whole foreground process group
    let pgid = child.id().to_string();
    let ok = Command::new("kill")
        .args(["-s", "INT", "--", &format!("-{pgid}")])
        .status()
        .expect("kill");
    assert!(ok.success());
    let status = child.wait().expect("wait");
    assert!(!status.success());
    let left: Vec<String> = std::fs::read_dir(&data)
        .expect("data")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n == "collections.jsonl")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The commands of docs/ that read data/: the offline replay of a saved
/// harvest (history.md) and the by-hand runs of a failed stage
/// (troubleshooting.md), in a folder laid out as `make` leaves it.
#[test]
fn the_docs_replay_and_troubleshooting_commands_run() {
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    let data = t.join("data");
    make(&[
        format!("DATA={}", data.display()),
        format!("API_URL={}", s.url),
    ])
    .ok();
    let first = read(&data.join("all_datasets_h5ad.csv"));

    // history.md: `cxg-serve --port 0 data/snapshots/latest` replays the harvest
    let serve = commands(&doc_sh("docs/history.md", "## Replaying a harvest").concat());
    assert_eq!(serve, ["cxg-serve --port 0 data/snapshots/latest"]);
    let folder = serve[0].strip_prefix("cxg-serve --port 0 ").unwrap();
    let replay = Server::start(&t.join(folder), &[]);
    let again = t.join("again");
    make(&[
        format!("DATA={}", again.display()),
        format!("API_URL={}", replay.url),
    ])
    .ok();
    assert_eq!(read(&again.join("all_datasets_h5ad.csv")), first);

    // troubleshooting.md: cxg-h5ad and cxg-obs run by hand
    let cmds =
        commands(&doc_sh("docs/troubleshooting.md", "### Keeping what did complete").concat());
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    // what make download leaves: a manifest of H5AD files
    std::fs::create_dir_all(data.join("h5ad")).unwrap();
    let rows: String = ["plain", "anndata08"]
        .iter()
        .map(|n| {
            let f = fixture(&format!("h5ad/{n}.h5ad"));
            let bytes = std::fs::metadata(&f).unwrap().len();
            format!("d,{n},u,{},{bytes},s,ok\n", f.display())
        })
        .collect();
    std::fs::write(
        data.join("h5ad/manifest.csv"),
        format!("dataset_id,dataset_version_id,url,path,bytes,sha256,status\n{rows}"),
    )
    .unwrap();
    for cmd in &cmds {
        let out = cmd.split(" -o ").nth(1).unwrap().trim();
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(cmd)
            .current_dir(t.path())
            .env(
                "PATH",
                format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap()),
            )
            // anything not in the index is asked of the loopback server
            .env("CXG_API_URL", &s.url);
        let o = run_cmd(c, None);
        assert_eq!(o.code, 0, "{cmd}: {}", o.stderr);
        let written = read(&t.join(out));
        if cmd.starts_with("cxg-h5ad") {
            assert_eq!(written, first, "{cmd}");
        } else {
            assert_eq!(jsonl(&written).len(), 2, "{cmd}");
        }
    }
}

/// The per-dataset answers folder: a symbolic link planted there is removed
/// itself, never the folder it points to; and a swapped H5AD stage that
/// knows nothing of --keep-responses still runs (it comes by environment).
#[test]
fn the_responses_folder_is_never_followed_and_a_swapped_h5ad_stage_runs() {
    let t = TempDir::new();
    let snap = t.join("snap");
    // datasets the index lacks: cxg-h5ad asks for them one by one
    generate(
        &snap,
        &[
            "--seed",
            "5",
            "--collections",
            "4",
            "--datasets",
            "20",
            "--unindexed",
            "5",
        ],
    );
    let s = Server::start(&snap, &[]);
    let data = t.join("data");
    stages(&data, &s.url, &[]).ok();
    let kept = data.join("responses");
    assert!(!files_below(&kept).is_empty());
    let victim = t.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "mine").unwrap();
    std::fs::remove_dir_all(&kept).unwrap();
    std::os::unix::fs::symlink(&victim, &kept).unwrap();
    std::fs::remove_file(data.join("all_datasets_h5ad.csv")).unwrap();
    stages(&data, &s.url, &[]).ok();
    assert_eq!(read(&victim.join("keep.txt")), b"mine");
    assert!(std::fs::symlink_metadata(&kept).unwrap().is_dir());
    assert!(!files_below(&kept).is_empty());
    // a stage that refuses options it does not know
    let strict = t.join("strict-h5ad");
    std::fs::write(
        &strict,
        format!(
            "#!/bin/sh\nfor a; do [ \"$a\" = --keep-responses ] && {{ echo 'unknown option' >&2; exit 9; }}; done\nexec '{}' --api-url '{}' \"$@\"\n",
            bin("cxg-h5ad").display(),
            s.url
        ),
    )
    .unwrap();
    std::fs::set_permissions(&strict, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::remove_file(data.join("all_datasets_h5ad.csv")).unwrap();
    stages(&data, &s.url, &[&format!("H5AD={}", strict.display())]).ok();
}
