//! The second hour (issue 22): the whole offline path as the README writes
//! it ("The same with make, and a second harvest"), against cxg-serve on
//! the committed sample (real H5ADs) — a harvest with a selection, a
//! download (bounded by MAX_DOWNLOAD, then interrupted and resumed), obs, a
//! second harvest in which one selected dataset was removed (410) and one
//! revised, the diff, and the download and obs after it — with no variable
//! repeated after the first command: make remembers SELECT and API_URL in
//! data/choices/.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `make ARGS` in `dir` (the repository's Makefile linked there), as a user
/// types it: data/ is the default DATA; no ontology folder.
fn make_cmd(dir: &Path, args: &[&str]) -> Command {
    link_makefile(dir);
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

fn link_makefile(dir: &Path) {
    let link = dir.join("Makefile");
    if !link.exists() {
        std::os::unix::fs::symlink(root().join("Makefile"), &link).unwrap();
    }
}

fn make(dir: &Path, args: &[&str]) -> Out {
    run_cmd(make_cmd(dir, args), None)
}

/// A `make` command line of the README, run by bash as typed (quotes,
/// comments) in `dir`, with the test binaries and the ontology subset as
/// the user's ontology folder (as after `make ontologies`).
fn readme_make(dir: &Path, cmd: &str) -> Command {
    assert!(is_make(cmd), "{cmd}");
    link_makefile(dir);
    let mut c = Command::new("bash");
    c.current_dir(dir)
        .arg("-c")
        .arg(format!(
            "make --no-print-directory BIN='{}' CARGO_BUILD=true{}",
            bin_dir().display(),
            &cmd[4..]
        ))
        .env_remove("MAKEFLAGS")
        .env("CXG_ONTOLOGY", fixture("ontology"))
        .env("XDG_CACHE_HOME", dir.join("cache"));
    c
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

/// The sample's dataset records (its datasets.json).
fn sample_index() -> Vec<Value> {
    serde_json::from_slice(&read(&fixture("sample/datasets.json"))).unwrap()
}

/// The sample record of the human dataset of this tissue.
fn human(tissue: &str) -> Value {
    sample_index()
        .into_iter()
        .find(|d| d["tissue"][0]["label"] == tissue && d["organism"][0]["label"] == "Homo sapiens")
        .unwrap()
}

/// The H5AD size the record states.
fn h5ad_size(d: &Value) -> u64 {
    d["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filetype"] == "H5AD")
        .unwrap()["filesize"]
        .as_u64()
        .unwrap()
}

/// What a later harvest finds: one dataset removed (gone from the index,
/// answered 410), one revised (a new version, its file under the new name).
struct Later {
    removed: String,
    revised: String,
    old_version: String,
    new_version: String,
}

impl Later {
    fn new() -> Later {
        let (gone, rev) = (human("alveolus of lung"), human("lung parenchyma"));
        let old = rev["dataset_version_id"].as_str().unwrap().to_string();
        Later {
            removed: gone["dataset_id"].as_str().unwrap().into(),
            revised: rev["dataset_id"].as_str().unwrap().into(),
            new_version: format!("{}0001", &old[..old.len() - 4]),
            old_version: old,
        }
    }

    /// Make `snap` that later snapshot.
    fn apply(&self, snap: &Path) {
        let mut index: Vec<Value> =
            serde_json::from_slice(&read(&snap.join("datasets.json"))).unwrap();
        index.retain(|d| d["dataset_id"] != self.removed.as_str());
        std::fs::write(
            snap.join("datasets.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        std::fs::write(snap.join("gone.json"), format!("[\"{}\"]", self.removed)).unwrap();
        let mut files = vec![snap.join("datasets.json"), snap.join("collections.json")];
        files.extend(
            files_below(&snap.join("collections"))
                .iter()
                .map(|f| snap.join("collections").join(f)),
        );
        for f in files {
            let text = String::from_utf8(read(&f)).unwrap();
            std::fs::write(&f, text.replace(&self.old_version, &self.new_version)).unwrap();
        }
        for ext in [".h5ad", ".h5ad.etag"] {
            let a = snap.join("assets");
            std::fs::rename(
                a.join(format!("{}{ext}", self.old_version)),
                a.join(format!("{}{ext}", self.new_version)),
            )
            .unwrap();
        }
    }
}

/// Bytes in the .part files of `dir`.
fn part_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum::<u64>()
        })
        .unwrap_or(0)
}

/// Run `cmd` (a README make command) and stop it with Ctrl-C (SIGINT to
/// its process group) once its downloads have written 20 kB.
fn interrupted(work: &Path, cmd: &str) {
    let h5ad = work.join("data/h5ad");
    let mut c = readme_make(work, cmd);
    c.process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    while part_bytes(&h5ad) < 20_000 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no .part file grew");
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(!h5ad.join("manifest.csv").exists());
    assert!(
        part_bytes(&h5ad) > 0,
        "the partial file is kept for the rerun"
    );
}

/// Each cxg-obs record agrees with its dataset's record: cells, primary
/// cells, donors.
fn obs_agree(obs: &[Value], index: &[Value]) {
    for r in obs {
        let d = index
            .iter()
            .find(|d| d["dataset_version_id"] == r["dataset_version_id"])
            .unwrap_or_else(|| panic!("no record of {r}"));
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["n_cells"], d["cell_count"], "{r}");
        assert_eq!(r["primary_cell_count"], d["primary_cell_count"], "{r}");
        assert_eq!(
            r["donor_count"].as_u64().unwrap() as usize,
            d["donor_id"].as_array().unwrap().len(),
            "{r}"
        );
    }
}

/// The README's make path, run as written (its server on a free port, its
/// H5ADs slowed so that the download can be interrupted), with the checks
/// of each step's files.
#[test]
fn the_readmes_offline_path_remembers_its_choices_and_survives_removals() {
    let cmds =
        commands(&doc_sh("README.md", "## The same with make, and a second harvest").concat());
    let readme_url = "http://127.0.0.1:8768/curation/v1";
    assert_eq!(
        cmds[0],
        "target/release/cxg-serve --port 8768 --local-assets tests/fixtures/sample >/dev/null 2>&1 &"
    );
    let make_cmds: Vec<&str> = cmds[1..].iter().map(String::as_str).collect();
    let target = |c: &str| c.split_whitespace().nth(1).unwrap_or("").to_string();
    assert_eq!(
        make_cmds.iter().map(|c| target(c)).collect::<Vec<_>>(),
        ["SELECT=\"--organism", "download", "obs", "refresh", "diff"],
        "{make_cmds:?}"
    );
    // no variable after the first command
    assert!(make_cmds[1..]
        .iter()
        .all(|c| !c.split('#').next().unwrap().contains('=')));

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
    let readme = |i: usize| make_cmds[i].replace(readme_url, &url);
    let run_readme = |i: usize| run_cmd(readme_make(&work, &readme(i)), None);

    // 1. the harvest with a selection: the only command that names variables
    let o = run_readme(0);
    o.ok();
    let selected = jsonl(&read(&data.join("selected.jsonl")));
    let mut tissues: Vec<&str> = selected
        .iter()
        .map(|d| d["tissue"][0]["label"].as_str().unwrap())
        .collect();
    tissues.sort();
    assert_eq!(tissues, ["alveolus of lung", "lung", "lung parenchyma"]);
    assert!(selected
        .iter()
        .all(|d| d["organism"][0]["label"] == "Homo sapiens"
            && d["disease"]
                == serde_json::json!([{"label": "normal", "ontology_term_id": "PATO:0000461"}])));
    assert_eq!(
        read(&data.join("choices/SELECT")),
        b"--organism 'Homo sapiens' --tissue lung --disease normal\n".to_vec()
    );
    assert_eq!(
        read(&data.join("choices/API_URL")),
        format!("{url}\n").into_bytes()
    );
    let bytes: u64 = selected.iter().map(h5ad_size).sum();

    // 2. more than MAX_DOWNLOAD is refused before any transfer, the plan printed
    let o = make(&work, &["download", "MAX_DOWNLOAD=100K"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("3 rows, 3 files: 0 present, 3 to fetch (")
            && o.stderr.contains(&format!(" = {bytes} bytes)")),
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

    // 3. download (the same 3 datasets: SELECT is remembered), interrupted
    interrupted(&work, &readme(1));
    // ... and resumed: the rerun continues the .part files
    run_readme(1).ok();
    let m = statuses(&data.join("h5ad/manifest.csv"));
    assert_eq!(m.len(), 3);
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

    // 4. obs: one summary per file, agreeing with the records; 1,800 cells
    run_readme(2).ok();
    let obs = jsonl(&read(&data.join("obs.jsonl")));
    assert_eq!(obs.len(), 3);
    obs_agree(&obs, &selected);
    let cells: u64 = obs.iter().map(|r| r["n_cells"].as_u64().unwrap()).sum();
    assert_eq!(cells, 1800);
    let (h, rows) = csv_rows(&read(&data.join("all_datasets_obs.csv")));
    assert_eq!(rows.len(), 3);
    assert!(h.iter().any(|c| c == "donor_count"));

    // 5. a second harvest, the same service a day later: one selected
    // dataset removed (410), one revised
    server.kill().unwrap();
    server.wait().unwrap();
    let later = Later::new();
    later.apply(&snap);
    let (mut server, url2) = serve(&snap, port, &[]);
    assert_eq!(url2, url);
    let o = run_readme(3);
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
        (later.removed.as_str(), "removed")
    );
    assert_eq!(
        files_below(&data.join("snapshots"))
            .iter()
            .filter(|f| f.ends_with("provenance.json"))
            .count(),
        2
    );

    // 6. the diff: the removal and the revision, nothing else
    std::fs::remove_file(data.join("changes.jsonl")).unwrap();
    run_readme(4).ok();
    let changes = jsonl(&read(&data.join("changes.jsonl")));
    let change = |id: &str| {
        changes
            .iter()
            .find(|c| c["dataset_id"] == id)
            .map(|c| c["change"].clone())
    };
    assert_eq!(
        change(&later.removed),
        Some("removed".into()),
        "{changes:?}"
    );
    assert_eq!(
        change(&later.revised),
        Some("revised".into()),
        "{changes:?}"
    );
    assert_eq!(changes.len(), 2, "{changes:?}");

    // 7. download and obs again: the new version is fetched, the removed
    // dataset's row is no_asset (not a failure), obs skips it
    run_readme(1).ok();
    let m = statuses(&data.join("h5ad/manifest.csv"));
    assert!(
        m.contains(&(later.revised.clone(), "downloaded".into())),
        "{m:?}"
    );
    assert!(
        m.contains(&(later.removed.clone(), "no_asset".into())),
        "{m:?}"
    );
    assert!(data
        .join(format!("h5ad/{}.h5ad", later.new_version))
        .exists());
    run_readme(2).ok();
    let obs = jsonl(&read(&data.join("obs.jsonl")));
    assert_eq!(obs.len(), 2);
    assert!(obs
        .iter()
        .any(|r| r["dataset_version_id"] == later.new_version.as_str()));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Every file of the sample agrees with its dataset's record, as cxg-obs
/// reads it: cells, primary cells, donors, and the terms of each facet.
#[test]
fn the_samples_files_agree_with_their_records() {
    let index = sample_index();
    let list: String = index
        .iter()
        .map(|d| {
            let url = d["assets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["filetype"] == "H5AD")
                .unwrap()["url"]
                .as_str()
                .unwrap();
            let name = url.rsplit('/').next().unwrap();
            format!("{}\n", fixture("sample/assets").join(name).display())
        })
        .collect();
    let obs = jsonl(&run("cxg-obs", &["-q"], Some(list.as_bytes())).ok().stdout);
    assert_eq!(obs.len(), 10);
    obs_agree(&obs, &index);
    for (r, d) in obs.iter().zip(&index) {
        for facet in [
            "tissue",
            "disease",
            "assay",
            "cell_type",
            "sex",
            "development_stage",
            "self_reported_ethnicity",
        ] {
            let mut got: Vec<&String> = r["counts"][facet].as_object().unwrap().keys().collect();
            let mut want: Vec<String> = d[facet]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["ontology_term_id"].as_str().unwrap().to_string())
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want.iter().collect::<Vec<_>>(), "{facet}: {r}");
        }
        let normal = d["disease"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["label"] == "normal");
        assert_eq!(r["normal_cell_count"].as_u64() > Some(0), normal, "{r}");
    }
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
            "SELECT=--no-ontology --organism 'Homo sapiens'",
            &format!("API_URL={url}"),
        ],
    )
    .ok();
    let o = make(
        t.path(),
        &["stages", "SELECT=--no-ontology --organism 'Mus musculus'"],
    );
    o.ok();
    assert!(
        o.text().contains(
            "make: SELECT changed: '--no-ontology --organism 'Homo sapiens'' → '--no-ontology --organism 'Mus musculus''"
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
    // JSON Lines of another stage: cxg-obs's summaries, cxg-diff's changes
    let obs = t.join("obs.jsonl");
    let list = format!("{}\n", h5.display());
    let summary = run("cxg-obs", &["-q"], Some(list.as_bytes()));
    std::fs::write(&obs, &summary.ok().stdout).unwrap();
    let o = run("cxg-diff", &[obs.to_str().unwrap(), idx], None);
    o.code(2)
        .stderr_has("got cxg-obs's cell summaries (obs.jsonl), not a harvest");
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    let changes = t.join("changes.jsonl");
    let snap = fixture("snapshot");
    run(
        "cxg-diff",
        &[
            snap.to_str().unwrap(),
            idx,
            "-q",
            "-o",
            changes.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let o = run("cxg-diff", &[idx, changes.to_str().unwrap()], None);
    o.code(2)
        .stderr_has("got cxg-diff's own changes (changes.jsonl), not a harvest");
}
