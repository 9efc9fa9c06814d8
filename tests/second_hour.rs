//! The second hour (issue 22): the whole offline path as the README writes
//! it, against cxg-serve on the committed sample (real H5ADs) — a harvest
//! with a selection, a download bounded by MAX_DOWNLOAD, interrupted and
//! resumed, obs, a second harvest in which one selected dataset was
//! removed (410) and one revised, the diff, and the download and obs after
//! it — with no variable repeated after the first command: make remembers
//! SELECT and API_URL in data/choices/.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REMOVED: &str = "84a87330-fe9e-40af-9ab8-b04e0d1d279c";
const REVISED: &str = "8d08cd42-0770-45ba-9a05-3dab225da35f";
const OLD_VERSION: &str = "5ed70584-a08b-456f-9f4f-07829c3ce6c5";
const NEW_VERSION: &str = "5ed70584-a08b-456f-9f4f-07829c3c0001";

/// `make ARGS` in `dir` (the repository's Makefile linked there), as a user
/// types it: data/ is the default DATA; no ontology folder.
fn make_cmd(dir: &Path, args: &[&str]) -> Command {
    let link = dir.join("Makefile");
    if !link.exists() {
        std::os::unix::fs::symlink(root().join("Makefile"), &link).unwrap();
    }
    let mut c = Command::new("make");
    c.current_dir(dir)
        .arg("--no-print-directory")
        .arg(format!("BIN={}", bin_dir().display()))
        .arg("CARGO_BUILD=true")
        .args(args)
        .env_remove("MAKEFLAGS")
        .env_remove("CXG_ONTOLOGY")
        .env("XDG_CACHE_HOME", dir.join("cache"));
    c
}

fn make(dir: &Path, args: &[&str]) -> Out {
    run_cmd(make_cmd(dir, args), None)
}

/// cxg-serve on `port` (0: a free one) over `snap`, serving its assets.
fn serve(snap: &Path, port: u16, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin("cxg-serve"))
        .args([
            "--port",
            &port.to_string(),
            "--lifetime",
            "600",
            "--local-assets",
        ])
        .args(extra)
        .arg(snap)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &p);
        } else {
            std::fs::copy(e.path(), &p).unwrap();
        }
    }
}

/// The manifest's (dataset_id, status) pairs.
fn statuses(p: &Path) -> Vec<(String, String)> {
    let (h, rows) = csv_rows(&read(p));
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (d, s) = (col("dataset_id"), col("status"));
    rows.iter().map(|r| (r[d].clone(), r[s].clone())).collect()
}

/// The second snapshot: REMOVED gone from the index and answered 410,
/// REVISED with a new version (and its file under the new name).
fn second_harvest(snap: &Path) {
    let mut index: Vec<serde_json::Value> =
        serde_json::from_slice(&read(&snap.join("datasets.json"))).unwrap();
    index.retain(|d| d["dataset_id"] != REMOVED);
    std::fs::write(
        snap.join("datasets.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    std::fs::write(snap.join("gone.json"), format!("[\"{REMOVED}\"]")).unwrap();
    let mut files = vec![snap.join("datasets.json"), snap.join("collections.json")];
    files.extend(
        files_below(&snap.join("collections"))
            .iter()
            .map(|f| snap.join("collections").join(f)),
    );
    for f in files {
        let text = String::from_utf8(read(&f)).unwrap();
        std::fs::write(&f, text.replace(OLD_VERSION, NEW_VERSION)).unwrap();
    }
    for ext in [".h5ad", ".h5ad.etag"] {
        let a = snap.join("assets");
        std::fs::rename(
            a.join(format!("{OLD_VERSION}{ext}")),
            a.join(format!("{NEW_VERSION}{ext}")),
        )
        .unwrap();
    }
}

#[test]
fn the_offline_path_remembers_its_choices_and_survives_removals() {
    let t = TempDir::new();
    let snap = t.join("snap");
    copy_dir(&fixture("sample"), &snap);
    let work = t.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let data = work.join("data");
    // H5AD bodies at 50 kB/s, so that a download can be interrupted
    let (mut server, url) = serve(&snap, 0, &["--fail-match", ".h5ad", "--rate", "50000"]);
    let port: u16 = url["http://127.0.0.1:".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // 1. the harvest with a selection: the only command that names variables
    let select = "--organism 'Homo sapiens'";
    make(
        &work,
        &[&format!("SELECT={select}"), &format!("API_URL={url}")],
    )
    .ok();
    assert_eq!(jsonl(&read(&data.join("selected.jsonl"))).len(), 2);
    assert_eq!(
        read(&data.join("choices/SELECT")),
        format!("{select}\n").into_bytes()
    );
    assert_eq!(
        read(&data.join("choices/API_URL")),
        format!("{url}\n").into_bytes()
    );

    // 2. more than MAX_DOWNLOAD is refused before any transfer, the plan printed
    let o = make(&work, &["download", "MAX_DOWNLOAD=100K"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("2 rows, 2 files: 0 present, 2 to fetch (386.7 KiB = 395992 bytes)"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("more than --max-total 102400"),
        "{}",
        o.stderr
    );
    assert!(o.text().contains("without CONFIRM=yes"), "{}", o.text());
    assert!(!data.join("h5ad/manifest.csv").exists());

    // 3. download (the same 2 datasets: SELECT is remembered), interrupted
    let mut c = make_cmd(&work, &["download"]);
    c.process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    let part_bytes = || {
        std::fs::read_dir(data.join("h5ad"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
                    .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    while part_bytes() < 20_000 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no .part file grew");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pgid = child.id().to_string();
    Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(!data.join("h5ad/manifest.csv").exists());
    assert!(part_bytes() > 0, "the partial file is kept for the rerun");

    // ... and resumed: the rerun continues the .part files
    make(&work, &["download"]).ok();
    let m = statuses(&data.join("h5ad/manifest.csv"));
    assert_eq!(m.len(), 2);
    assert!(m.iter().any(|(_, s)| s == "resumed"), "{m:?}");
    assert!(
        m.iter().all(|(_, s)| s == "resumed" || s == "downloaded"),
        "{m:?}"
    );
    for f in files_below(&data.join("h5ad"))
        .iter()
        .filter(|f| f.ends_with(".h5ad"))
    {
        assert!(
            read(&data.join("h5ad").join(f)) == read(&snap.join("assets").join(f)),
            "{f}"
        );
    }

    // 4. obs
    make(&work, &["obs"]).ok();
    assert_eq!(jsonl(&read(&data.join("obs.jsonl"))).len(), 2);

    // 5. a second harvest, the same service a day later: one selected
    // dataset removed (410), one revised
    server.kill().unwrap();
    server.wait().unwrap();
    second_harvest(&snap);
    let (mut server, url2) = serve(&snap, port, &[]);
    assert_eq!(url2, url);
    let o = make(&work, &["refresh"]);
    o.ok();
    assert!(
        o.stderr.contains("the dataset was removed (410 Gone)"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("1 removed from the service"),
        "{}",
        o.stderr
    );
    let (_, fails) = csv_rows(&read(&data.join("h5ad_failures.csv")));
    assert_eq!(fails.len(), 1);
    assert_eq!(
        (fails[0][0].as_str(), fails[0][2].as_str()),
        (REMOVED, "removed")
    );
    assert_eq!(
        files_below(&data.join("snapshots"))
            .iter()
            .filter(|f| f.ends_with("provenance.json"))
            .count(),
        2
    );
    // the diff: the removal and the revision
    let changes = jsonl(&read(&data.join("changes.jsonl")));
    let change = |id: &str| {
        changes
            .iter()
            .find(|c| c["dataset_id"] == id)
            .map(|c| c["change"].clone())
    };
    assert_eq!(change(REMOVED), Some("removed".into()), "{changes:?}");
    assert_eq!(change(REVISED), Some("revised".into()), "{changes:?}");

    // 6. download and obs again: the new version is fetched, the removed
    // dataset's row is no_asset (not a failure), obs skips it
    make(&work, &["download"]).ok();
    let m = statuses(&data.join("h5ad/manifest.csv"));
    assert!(m.contains(&(REVISED.into(), "downloaded".into())), "{m:?}");
    assert!(m.contains(&(REMOVED.into(), "no_asset".into())), "{m:?}");
    assert!(data.join(format!("h5ad/{NEW_VERSION}.h5ad")).exists());
    make(&work, &["obs"]).ok();
    let obs = jsonl(&read(&data.join("obs.jsonl")));
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0]["dataset_version_id"], NEW_VERSION);
    make(&work, &["diff"]).ok();
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A choice given again with another value says what changed and redoes
/// the selection; not given, the kept one is used.
#[test]
fn a_new_choice_says_what_changed() {
    let t = TempDir::new();
    let (mut server, url) = serve(&fixture("sample"), 0, &[]);
    make(
        t.path(),
        &[
            "stages",
            "SELECT=--organism 'Homo sapiens'",
            &format!("API_URL={url}"),
        ],
    )
    .ok();
    let o = make(t.path(), &["stages", "SELECT=--organism 'Mus musculus'"]);
    o.ok();
    assert!(
        o.text().contains(
            "make: SELECT changed: '--organism 'Homo sapiens'' → '--organism 'Mus musculus''"
        ),
        "{}",
        o.text()
    );
    assert_eq!(jsonl(&read(&t.join("data/selected.jsonl"))).len(), 3);
    // not given: the kept one, nothing redone
    let o = make(t.path(), &["stages"]);
    o.ok();
    assert!(!o.text().contains("changed"), "{}", o.text());
    assert!(!o.text().contains("select:"), "{}", o.text());
    // the ontology folder is the user's, not the harvest's
    assert_eq!(
        read(&t.join("data/choices/ONTOLOGY")),
        format!("{}/cxg/ontology\n", t.join("cache").display()).into_bytes()
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The harvest CSV of the sample (as `make` writes all_datasets_h5ad.csv).
fn harvest_csv(dir: &Path) -> std::path::PathBuf {
    let index = fixture("sample/datasets.json");
    let rows = run("cxg-tocsv", &[index.to_str().unwrap()], None);
    let csv = dir.join("all_datasets_h5ad.csv");
    run(
        "cxg-h5ad",
        &[
            "--index",
            index.to_str().unwrap(),
            "-o",
            csv.to_str().unwrap(),
        ],
        Some(&rows.ok().stdout),
    )
    .ok();
    csv
}

/// Another stage's file given to cxg-obs or cxg-diff is one error (exit
/// 2) that says what was expected and what came: not one error per row,
/// not a JSON parse error at its first letter.
#[test]
fn another_stages_file_is_one_error_saying_what_was_expected() {
    let t = TempDir::new();
    let csv = harvest_csv(t.path());
    let csv = csv.to_str().unwrap();
    let o = run("cxg-obs", &[csv], None);
    o.code(2)
        .stderr_has("expected H5AD paths, one per line, or cxg-download's manifest (a CSV with a 'path' column); got a CSV with")
        .stderr_has("the harvest CSV: cxg-download --dir h5ad FILE -o manifest.csv");
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    // on stdin, and the index (JSON) too
    let o = run("cxg-obs", &[], Some(&read(Path::new(csv))));
    o.code(2).stderr_has("stdin: expected H5AD paths");
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    let index = fixture("sample/datasets.json");
    let o = run("cxg-obs", &[index.to_str().unwrap()], None);
    o.code(2).stderr_has("got JSON");
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    // an H5AD itself
    let h5 = files_below(&fixture("sample/assets"))
        .into_iter()
        .find(|f| f.ends_with(".h5ad"))
        .unwrap();
    let h5 = fixture("sample/assets").join(h5);
    let o = run("cxg-obs", &[h5.to_str().unwrap()], None);
    o.code(2)
        .stderr_has("got an HDF5 file itself; give its path instead");

    // cxg-diff: CSVs on either side, an H5AD
    let idx = index.to_str().unwrap();
    for args in [[csv, csv], [idx, csv], [csv, idx]] {
        let o = run("cxg-diff", &args, None);
        o.code(2)
            .stderr_has("expected dataset records: the JSON Lines cxg-datasets writes (datasets.jsonl), the GET /datasets index array (datasets_index.json) or a snapshot folder; got a CSV (its first line: 'collection_url,collection_id,")
            .stderr_lacks("found 'c'");
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    }
    let o = run("cxg-diff", &[idx, h5.to_str().unwrap()], None);
    o.code(2).stderr_has("got an HDF5 file (an H5AD?)");
}
