//! The Snakemake workflow (workflow/Snakefile) against cxg-serve on
//! loopback: the same files as the Makefile route, a second run that does
//! nothing, the SLURM profile's dry run, and the commands of docs/workflow.md. The
//! tests need the pinned Snakemake in `.venv-workflow/` (`make
//! workflow-venv`, which `.ci/run` runs): without it they print
//! `skipped: ...`, and fail when CI is set.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's snakemake, when `make workflow-venv` has installed it and
/// it is not older than workflow/requirements.txt; otherwise the test is
/// skipped (a failure under CI).
fn snakemake() -> Option<PathBuf> {
    let venv = root().join(".venv-workflow");
    let stamp = venv.join(".installed");
    let exe = venv.join("bin/snakemake");
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let why = match (
        mtime(&stamp),
        mtime(&root().join("workflow/requirements.txt")),
    ) {
        (Some(s), Some(r)) if s >= r && exe.exists() => return Some(exe),
        (Some(_), _) => "is older than workflow/requirements.txt",
        (None, _) => "is absent",
    };
    skip(&format!(
        "{} {why}: run `make workflow-venv` (the pinned Snakemake)",
        stamp.display()
    ));
    None
}

/// A snakemake command on workflow/Snakefile run in `dir` (where
/// `.snakemake/` goes and `data/` lands, as make writes `data/` in its
/// folder), with the binaries built for these tests.
fn workflow(sm: &Path, dir: &Path, url: &str, profile: &str, config: &[&str]) -> Command {
    let mut c = Command::new(sm);
    c.arg("--snakefile")
        .arg(root().join("workflow/Snakefile"))
        .arg("--directory")
        .arg(dir)
        .arg("--workflow-profile")
        .arg(root().join("workflow/profiles").join(profile))
        .arg("--config")
        .arg(format!("api_url={url}"))
        .arg(format!("bin={}", bin_dir().display()))
        .args(config)
        // no user ontology folder, as for make_in: a test that wants one
        // says ontology=
        .env_remove("CXG_ONTOLOGY")
        .env("XDG_CACHE_HOME", dir.join("no-cache"));
    c
}

/// The local profile on 2 cores; `config` adds `--config` entries, `extra`
/// other arguments (targets, options).
fn run_local(sm: &Path, dir: &Path, url: &str, config: &[&str], extra: &[&str]) -> Out {
    let mut c = workflow(sm, dir, url, "local", config);
    c.args(["--cores", "2"]).args(extra);
    run_cmd(c, None)
}

/// The Makefile route run in `dir` (the repository's Makefile linked in,
/// as its targets call make again), so that both routes write `data/...`
/// and every path they record is the same text.
fn make_in(dir: &Path, targets: &[&str], url: &str, extra: &[&str]) -> Out {
    std::fs::create_dir_all(dir).unwrap();
    let link = dir.join("Makefile");
    if !link.exists() {
        std::os::unix::fs::symlink(root().join("Makefile"), &link).unwrap();
    }
    let mut c = Command::new("make");
    c.current_dir(dir)
        .arg("--no-print-directory")
        .args(targets)
        .arg(format!("BIN={}", bin_dir().display()))
        .arg("CARGO_BUILD=true")
        .arg(format!("API_URL={url}"))
        .args(extra)
        .env_remove("MAKEFLAGS")
        // no user ontology folder: a test that wants one says ONTOLOGY=
        .env_remove("CXG_ONTOLOGY")
        .env("XDG_CACHE_HOME", dir.join("no-cache"));
    run_cmd(c, None)
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// The folder the workflow keeps for itself beside the files make writes.
const WORKFLOW_ONLY: &str = "work/";

/// `ours` (the workflow's data/) holds every file `theirs` (make's data/)
/// holds, byte for byte, and nothing else but its own working folder.
fn assert_same_tree(theirs: &Path, ours: &Path) {
    // make's remembered choices (make workflow passes them on as config)
    let want: Vec<String> = files(theirs)
        .into_iter()
        .filter(|f| !f.starts_with("choices/"))
        .collect();
    let got: Vec<String> = files(ours)
        .into_iter()
        .filter(|f| !f.starts_with(WORKFLOW_ONLY))
        .collect();
    assert_eq!(got, want, "the workflow wrote other files than make");
    for f in &want {
        if f == "requests.jsonl" {
            assert_eq!(requests(&theirs.join(f)), requests(&ours.join(f)));
            continue;
        }
        assert!(
            read(&theirs.join(f)) == read(&ours.join(f)),
            "{f} differs from make's"
        );
    }
}

/// The request log's records without their times (`at`, `duration_ms`),
/// sorted: the same requests, whichever ran first.
fn requests(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = jsonl(&read(p))
        .into_iter()
        .map(|mut r| {
            let o = r.as_object_mut().unwrap();
            o.remove("at");
            o.remove("duration_ms");
            r.to_string()
        })
        .collect();
    v.sort();
    v
}

fn mtimes(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    files(dir)
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(dir.join(&f)).unwrap().modified().unwrap();
            (f, m)
        })
        .collect()
}

/// Files written by anndata (the cxg-obs fixtures) that cxg-obs reads.
const H5ADS: [&str; 4] = [
    "plain.h5ad",
    "wide_codes.h5ad",
    "anndata08.h5ad",
    "0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b.h5ad",
];

/// A generated snapshot whose H5AD assets are real H5AD files (the
/// cxg-obs fixtures, in turn), served by cxg-serve --local-assets; their
/// ETags are left to the server. Returns the asset names, sorted.
fn h5ad_snapshot(dir: &Path, datasets: usize) -> Vec<String> {
    let names = h5ad_snapshot_of(dir, &["--seed", "5", "--collections", "3"], datasets);
    assert_eq!(names.len(), datasets, "every dataset has an H5AD");
    names
}

/// [`h5ad_snapshot`] from any cxg-gen seed and sizes.
fn h5ad_snapshot_of(dir: &Path, gen: &[&str], datasets: usize) -> Vec<String> {
    let n = datasets.to_string();
    let mut args = gen.to_vec();
    args.extend(["--datasets", &n, "--assets"]);
    generate(dir, &args);
    let mut names: Vec<String> = std::fs::read_dir(dir.join("assets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".h5ad"))
        .collect();
    names.sort();
    let mut sizes = std::collections::HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let a = dir.join("assets").join(name);
        let n = std::fs::copy(fixture(&format!("h5ad/{}", H5ADS[i % H5ADS.len()])), &a).unwrap();
        std::fs::remove_file(a.with_file_name(format!("{name}.etag"))).unwrap();
        sizes.insert(name.clone(), n);
    }
    // the served records state the real sizes of the files now served
    set_h5ad_sizes(dir, &sizes);
    names
}

/// In every JSON file of a snapshot, the `filesize` of each H5AD asset
/// whose url ends in a name of `sizes`.
fn set_h5ad_sizes(dir: &Path, sizes: &std::collections::HashMap<String, u64>) {
    fn walk(v: &mut serde_json::Value, sizes: &std::collections::HashMap<String, u64>) {
        match v {
            serde_json::Value::Object(o) => {
                let name = o
                    .get("url")
                    .and_then(|u| u.as_str())
                    .and_then(|u| u.rsplit('/').next())
                    .map(str::to_string);
                if o.get("filetype").and_then(|t| t.as_str()) == Some("H5AD") {
                    if let Some(n) = name.and_then(|n| sizes.get(&n)) {
                        o.insert("filesize".into(), (*n).into());
                    }
                }
                o.values_mut().for_each(|x| walk(x, sizes));
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, sizes)),
            _ => {}
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let mut v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                walk(&mut v, sizes);
                std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
            }
        }
    }
}

/// Every file make writes for the harvest, the downloads and the obs
/// summaries (the Makefile's own targets, in data/).
const MAKE_TARGETS: [&str; 2] = ["download", "obs"];

/// Asset requests in a server log (`N GET /assets/NAME STATUS ...`).
fn asset_gets(s: &Server) -> Vec<String> {
    s.requests()
        .into_iter()
        .filter(|l| l.contains(" /assets/"))
        .collect()
}

/// How many jobs of `rule` a Snakemake log says it started (`rule R:` or
/// `localrule R:` alone on a line; a retry starts the job again).
fn jobs_of(log: &str, rule: &str) -> usize {
    let (a, b) = (format!("rule {rule}:"), format!("localrule {rule}:"));
    log.lines()
        .filter(|l| l.trim() == a || l.trim() == b)
        .count()
}

#[test]
fn the_workflow_writes_what_make_writes_and_a_second_run_does_nothing() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    let names = h5ad_snapshot(&snap, 6);
    let s = Server::start(&snap, &["--local-assets"]);
    make_in(&t.join("make"), &MAKE_TARGETS, &s.url, &[]).ok();
    let by_make = s.requests().len();
    let o = run_local(&sm, &t.join("wf"), &s.url, &[], &[]);
    o.ok();
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    // one download job per dataset, one obs job per file, each file once
    assert_eq!(jobs_of(&o.stderr, "download"), names.len(), "{}", o.stderr);
    assert_eq!(jobs_of(&o.stderr, "obs"), names.len(), "{}", o.stderr);
    let requests = s.requests().len() - by_make;
    assert_eq!(requests, by_make, "the same requests as make made");
    for n in &names {
        let a = read(&snap.join("assets").join(n));
        assert!(read(&t.join("wf/data/h5ad").join(n)) == a, "{n}");
    }

    // a second run has nothing to do: no job, no request, no file touched
    let stamps = mtimes(&t.join("wf/data"));
    let o = run_local(&sm, &t.join("wf"), &s.url, &[], &[]);
    o.ok();
    assert!(o.stderr.contains("Nothing to be done"), "{}", o.stderr);
    assert_eq!(s.requests().len() - by_make, requests);
    assert_eq!(mtimes(&t.join("wf/data")), stamps);
}

#[test]
fn the_harvest_alone_matches_make_on_the_sample_snapshot() {
    let Some(sm) = snakemake() else { return };
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    make_in(&t.join("make"), &["stages"], &s.url, &[]).ok();
    run_local(&sm, &t.join("wf"), &s.url, &[], &["harvest"]).ok();
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    // the Makefile's snapshot step takes the workflow's harvest as it is
    let before = s.requests().len();
    make_in(&t.join("wf"), &["snapshot"], &s.url, &[]).ok();
    assert_eq!(s.requests().len(), before, "nothing fetched again");
    let p = json(&read(&t.join("wf/data/provenance.json")));
    assert!(p.to_string().contains("/curation/v1/datasets"), "{p}");
    assert!(!t.join("wf/data/requests.jsonl").exists());
}

/// A selection with the ontology subset (descendants included), its text
/// ending in a quote so it goes in a --configfile as docs/workflow.md says: the
/// same selected.jsonl, select.args, CSVs and report as `make SELECT=...
/// ONTOLOGY=...` (the report's load times aside).
#[test]
fn a_selection_with_an_ontology_matches_make_select() {
    let Some(sm) = snakemake() else { return };
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    let select = "--tissue lung --organism 'Homo sapiens'";
    let ontology = fixture("ontology");
    make_in(
        &t.join("make"),
        &["stages"],
        &s.url,
        &[
            &format!("SELECT={select}"),
            &format!("ONTOLOGY={}", ontology.display()),
        ],
    )
    .ok();
    let conf = t.join("select.yaml");
    std::fs::write(&conf, format!("select: \"{select}\"\n")).unwrap();
    run_local(
        &sm,
        &t.join("wf"),
        &s.url,
        &[&format!("ontology={}", ontology.display())],
        &["harvest", "--configfile", conf.to_str().unwrap()],
    )
    .ok();
    let log = |d: &str| {
        let text = String::from_utf8(read(&t.join(d).join("data/selection.log"))).unwrap();
        let mut out = String::new();
        for l in text.lines() {
            // "(16 terms, index read in 1 ms)": times vary
            match l.rfind(" in ").filter(|_| l.ends_with(" ms)")) {
                Some(i) => out.push_str(&format!("{} in _ ms)", &l[..i])),
                None => out.push_str(l),
            }
            out.push('\n');
        }
        out
    };
    let (a, b) = (log("make"), log("wf"));
    assert!(a.contains("descendants"), "{a}");
    assert_eq!(a, b);
    for d in ["make", "wf"] {
        std::fs::remove_file(t.join(d).join("data/selection.log")).unwrap();
    }
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    assert_eq!(
        read(&t.join("wf/data/select.args")),
        format!("{select}\n").into_bytes()
    );
}

/// A cell filter (make obs CELLS=..., config cells) with the ontology
/// subset: the same obs.jsonl and joined CSV, each record counting the
/// cells kept and naming the filter; CELLS is remembered.
#[test]
fn a_cell_filter_matches_make_obs_cells() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    h5ad_snapshot(&snap, 3);
    let s = Server::start(&snap, &["--local-assets"]);
    let cells = "--normal --primary --tissue lung --exclude-sex 'female'";
    let ontology = fixture("ontology");
    let onto = format!("ONTOLOGY={}", ontology.display());
    make_in(
        &t.join("make"),
        &MAKE_TARGETS,
        &s.url,
        &[&format!("CELLS={cells}"), &onto],
    )
    .ok()
    .stderr_has("--tissue lung: UBERON:0002048 'lung'");
    let conf = t.join("cells.yaml");
    std::fs::write(&conf, format!("cells: \"{cells}\"\n")).unwrap();
    run_local(
        &sm,
        &t.join("wf"),
        &s.url,
        &[&format!("ontology={}", ontology.display())],
        &["--configfile", conf.to_str().unwrap()],
    )
    .ok();
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    let recs = jsonl(&read(&t.join("wf/data/obs.jsonl")));
    assert_eq!(recs.len(), 3);
    for r in &recs {
        assert_eq!(
            r["filter"]["options"],
            serde_json::json!([
                "--tissue",
                "lung",
                "--exclude-sex",
                "female",
                "--primary",
                "--normal"
            ])
        );
        assert!(r["filtered_cell_count"].as_u64().is_some(), "{r}");
    }
    let head = String::from_utf8(read(&t.join("wf/data/all_datasets_obs.csv"))).unwrap();
    assert!(head
        .lines()
        .next()
        .unwrap()
        .ends_with("donor_count,filtered_cell_count,filtered_donor_count,age_unknown_cell_count"));
    assert_eq!(
        read(&t.join("make/data/choices/CELLS")),
        format!("{cells}\n").into_bytes()
    );
    // the remembered filter is recorded in provenance.json
    make_in(&t.join("make"), &["snapshot"], &s.url, &[]).ok();
    let p = json(&read(&t.join("make/data/provenance.json")));
    assert_eq!(p["choices"]["CELLS"], cells, "{p}");
}

/// A cell filter given to a later `make obs` is recorded in the working
/// provenance.json at once (everything else as the harvest wrote it), and
/// an obs without one removes it again. Make alone, no Snakemake.
#[test]
fn a_later_make_obs_records_its_filter_in_provenance_at_once() {
    let t = TempDir::new();
    let snap = t.join("snap");
    h5ad_snapshot(&snap, 2);
    let s = Server::start(&snap, &["--local-assets"]);
    let dir = t.join("make");
    make_in(&dir, &["harvest", "download"], &s.url, &[]).ok();
    let prov = || json(&read(&dir.join("data/provenance.json")));
    let harvest = prov();
    assert!(harvest.get("choices").is_none(), "{harvest}");
    make_in(&dir, &["obs"], &s.url, &["CELLS=--primary --sex male"]).ok();
    let mut p = prov();
    assert_eq!(p["choices"]["CELLS"], "--primary --sex male", "{p}");
    p.as_object_mut().unwrap().remove("choices");
    assert_eq!(p, harvest);
    make_in(&dir, &["obs"], &s.url, &["CELLS="]).ok();
    assert_eq!(prov(), harvest);
}

/// A selection that keeps no dataset: no download or obs job, and the
/// gathered files are what make writes for an empty CSV.
#[test]
fn an_empty_selection_gathers_what_make_writes() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    h5ad_snapshot(&snap, 3);
    let s = Server::start(&snap, &["--local-assets"]);
    let select =
        "--no-ontology --organism 'Homo sapiens' --exclude-organism 'Homo sapiens' --min-cells 1";
    make_in(
        &t.join("make"),
        &MAKE_TARGETS,
        &s.url,
        &[&format!("SELECT={select}")],
    )
    .ok();
    let o = run_local(
        &sm,
        &t.join("wf"),
        &s.url,
        &[&format!("select={select}")],
        &[],
    );
    o.ok();
    assert_eq!(jobs_of(&o.stderr, "download"), 0, "{}", o.stderr);
    assert_eq!(
        csv_rows(&read(&t.join("wf/data/h5ad/manifest.csv")))
            .1
            .len(),
        0
    );
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    assert!(asset_gets(&s).is_empty());
}

/// A dataset the index gives no H5AD is news, not a failure: cxg-download
/// keeps its row as `no_asset` (exit 0), make and the workflow keep it in
/// the manifest and not in failures.csv; both runs succeed, with every
/// other file complete and obs.jsonl as make obs writes it.
#[test]
fn a_dataset_without_an_h5ad_is_a_no_asset_row_as_in_make() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    // seed 9, 20 datasets: one has no H5AD asset
    let names = h5ad_snapshot_of(&snap, &["--seed", "9", "--collections", "5"], 20);
    assert_eq!(names.len(), 19);
    let s = Server::start(&snap, &["--local-assets"]);
    make_in(&t.join("make"), &["download"], &s.url, &[]).ok();
    make_in(&t.join("make"), &["obs"], &s.url, &[]).ok();
    let o = run_local(&sm, &t.join("wf"), &s.url, &[], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        !o.stderr.contains("could not be downloaded"),
        "{}",
        o.stderr
    );
    assert_eq!(
        jobs_of(&o.stderr, "download"),
        20,
        "not retried: {}",
        o.stderr
    );
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    let failures = csv_rows(&read(&t.join("wf/data/h5ad/failures.csv"))).1;
    assert_eq!(failures.len(), 0);
    let (h, rows) = csv_rows(&read(&t.join("wf/data/h5ad/manifest.csv")));
    let st = h.iter().position(|c| c == "status").expect("status");
    assert_eq!(rows.iter().filter(|r| r[st] == "no_asset").count(), 1);
}

#[test]
fn a_download_that_fails_once_is_retried_by_the_engine() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    let names = h5ad_snapshot(&snap, 3);
    // the first request for one file fails; cxg-download does not retry
    // (--retries 0), so its job fails and the engine runs it again
    let s = Server::start(
        &snap,
        &[
            "--local-assets",
            "--fail-first",
            "1",
            "--fail-match",
            &names[1],
        ],
    );
    let o = run_local(
        &sm,
        &t.join("wf"),
        &s.url,
        &["download_args=--retries 0"],
        &[],
    );
    o.ok();
    assert_eq!(
        jobs_of(&o.stderr, "download"),
        names.len() + 1,
        "{}",
        o.stderr
    );
    let gets: Vec<String> = asset_gets(&s)
        .into_iter()
        .filter(|l| l.contains(&names[1]))
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[0].contains(" 503"), "{gets:?}");
    // the same server, its one fault spent: make's files are the same
    make_in(&t.join("make"), &MAKE_TARGETS, &s.url, &[]).ok();
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
}

#[test]
fn a_failed_obs_job_keeps_the_download_and_a_rerun_fetches_nothing_again() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    let names = h5ad_snapshot(&snap, 3);
    // one file has an obs column no reader here decodes: its obs job fails, every time
    let n = std::fs::copy(
        fixture("h5ad/zstd.h5ad"),
        snap.join("assets").join(&names[2]),
    )
    .unwrap();
    set_h5ad_sizes(&snap, &[(names[2].clone(), n)].into_iter().collect());
    let s = Server::start(&snap, &["--local-assets"]);
    let wf = t.join("wf");
    let o = run_local(&sm, &wf, &s.url, &[], &[]);
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&names[2]), "{}", o.stderr);
    for n in &names {
        assert!(wf.join("data/h5ad").join(n).exists(), "{n} was not kept");
    }
    assert!(!wf.join("data/obs.jsonl").exists());
    assert!(
        wf.join("data/h5ad/manifest.csv").exists(),
        "the downloads are done"
    );
    assert_eq!(asset_gets(&s).len(), names.len());
    // the rerun tries the failed obs job again, and downloads nothing
    let o = run_local(&sm, &wf, &s.url, &[], &[]);
    assert_ne!(o.code, 0);
    assert_eq!(jobs_of(&o.stderr, "download"), 0, "{}", o.stderr);
    assert_eq!(
        jobs_of(&o.stderr, "obs"),
        2,
        "one job and its retry: {}",
        o.stderr
    );
    assert_eq!(asset_gets(&s).len(), names.len());
}

#[test]
fn a_run_interrupted_mid_way_and_rerun_finishes_only_what_is_missing() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    let names = h5ad_snapshot(&snap, 4);
    // one file crawls (plain.h5ad, 119,600 bytes at 20 kB/s); the others are instant
    let slow = &names[0];
    let s = Server::start(
        &snap,
        &["--local-assets", "--rate", "20000", "--fail-match", slow],
    );
    let wf = t.join("wf");
    let mut c = workflow(&sm, &wf, &s.url, "local", &[]);
    // its own process group, so that Ctrl-C can be sent as a terminal does
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.args(["--cores", "2"])
        .env_remove("RUST_BACKTRACE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let part = wf.join("data/h5ad").join(format!("{slow}.part"));
    let done = |n: &String| {
        wf.join("data/work/manifests")
            .join(n.replace(".h5ad", ".csv"))
            .exists()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !(names[1..].iter().all(done) && std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not get going"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Ctrl-C: SIGINT to snakemake and its jobs
    Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!wf.join(format!("data/h5ad/{slow}")).exists());
    assert!(part.exists(), "the partial download is the resume state");
    let before = asset_gets(&s).len();
    assert_eq!(before, names.len());

    // the rerun: the slow file continues from its .part, nothing else is fetched
    let o = run_local(&sm, &wf, &s.url, &[], &[]);
    o.ok();
    assert_eq!(jobs_of(&o.stderr, "download"), 1, "{}", o.stderr);
    let gets = asset_gets(&s);
    assert_eq!(gets.len(), before + 1, "{gets:?}");
    assert!(
        gets[before].contains(slow) && gets[before].contains(" 206"),
        "{gets:?}"
    );
    for n in &names {
        assert!(
            read(&wf.join("data/h5ad").join(n)) == read(&snap.join("assets").join(n)),
            "{n}"
        );
    }
    let manifest = String::from_utf8(read(&wf.join("data/h5ad/manifest.csv"))).unwrap();
    let (h, rows) = csv_rows(manifest.as_bytes());
    let st = h.iter().position(|c| c == "status").unwrap();
    let statuses: Vec<&str> = rows.iter().map(|r| r[st].as_str()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "resumed").count(),
        1,
        "{manifest}"
    );
    assert_eq!(jsonl(&read(&wf.join("data/obs.jsonl"))).len(), names.len());
}

#[test]
fn the_slurm_profile_passes_a_dry_run_without_sbatch() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let mut c = workflow(&sm, t.path(), &dead_url(), "slurm", &[]);
    c.arg("-n");
    let o = run_cmd(c, None);
    o.ok();
    let text = format!("{}{}", o.text(), o.stderr);
    assert!(text.contains("This was a dry-run"), "{text}");
    assert!(text.contains("slurm_partition=normal"), "{text}");
    // a dry run writes nothing
    assert!(!t.join("data").exists());
}

/// `make workflow-slurm` takes the site's partition and account from the
/// environment (SLURM_PARTITION, SLURM_ACCOUNT), not from an edit of the
/// tracked profile; the profile's other defaults are kept.
#[test]
fn make_workflow_slurm_takes_the_partition_and_account_from_the_environment() {
    let Some(_) = snakemake() else { return };
    let t = TempDir::new();
    let link = |from: &Path, to: &str| std::os::unix::fs::symlink(from, t.join(to)).unwrap();
    link(&root().join("Makefile"), "Makefile");
    link(&root().join("workflow"), "workflow");
    link(&root().join(".venv-workflow"), ".venv-workflow");
    let mut c = Command::new("make");
    c.current_dir(t.path())
        .args([
            "--no-print-directory",
            "workflow-slurm",
            "SNAKEMAKE_ARGS=-n",
        ])
        .arg(format!("API_URL={}", dead_url()))
        .env("BIN", bin_dir())
        .env("CARGO_BUILD", "true")
        .env("SLURM_PARTITION", "gpu-short")
        .env("SLURM_ACCOUNT", "proj42")
        .env("XDG_CACHE_HOME", t.join("cache"))
        .env_remove("CXG_ONTOLOGY")
        .env_remove("DATA")
        .env_remove("MAKEFLAGS");
    let o = run_cmd(c, None);
    o.ok();
    let text = format!("{}{}", o.text(), o.stderr);
    assert!(text.contains("This was a dry-run"), "{text}");
    assert!(text.contains("slurm_partition=gpu-short"), "{text}");
    assert!(text.contains("slurm_account=proj42"), "{text}");
    assert!(!text.contains("slurm_partition=normal"), "{text}");
    assert!(text.contains("mem_mb=2000"), "{text}");
}

/// Each job of `rule` in a Snakemake dry run: its `dvid` wildcard and
/// the value of resource `res`.
fn job_resources(log: &str, rule: &str, res: &str) -> Vec<(String, u64)> {
    let head = format!("rule {rule}:");
    log.split("\n\n")
        .filter(|b| b.lines().any(|l| l.trim() == head))
        .map(|b| {
            let field = |key: &str| {
                let i = b.find(key).unwrap_or_else(|| panic!("{key} in {b}")) + key.len();
                b[i..].split([',', '\n']).next().unwrap().trim().to_string()
            };
            let v = field(&format!("{res}="));
            (field("dvid="), v.parse().unwrap())
        })
        .collect()
}

/// After the catalogue stages and the checkpoint, the SLURM dry run lists
/// one download and one obs job per selected dataset, each sized from the
/// H5AD `filesize` of the index (the sample's run from 0.1 to 2.5 GB).
#[test]
fn the_slurm_dry_run_sizes_the_per_dataset_jobs_from_the_h5ad_filesize() {
    let Some(sm) = snakemake() else { return };
    let s = Server::start(&fixture("snapshot"), &[]);
    let t = TempDir::new();
    // (the test is about job sizes: the data's own terms, no ontology, on purpose)
    let sel = ["select=--no-ontology --organism 'Homo sapiens' --tissue lung"];
    run_local(&sm, t.path(), &s.url, &sel, &["data/work/rows"]).ok();
    let mut c = workflow(&sm, t.path(), &s.url, "slurm", &sel);
    c.arg("-n");
    let o = run_cmd(c, None);
    o.ok();
    let text = o.text() + &o.stderr;
    // the H5AD size of each dataset version, from the index, in MB (rounded up)
    let index = json(&read(&t.join("data/datasets_index.json")));
    let mb: std::collections::HashMap<String, u64> = index
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| {
            let a = d["assets"]
                .as_array()?
                .iter()
                .find(|a| a["filetype"] == "H5AD")?;
            let b = a["filesize"].as_u64()?;
            Some((
                d["dataset_version_id"].as_str()?.to_string(),
                b.div_ceil(1_000_000),
            ))
        })
        .collect();
    let (h, rows) = csv_rows(&read(&t.join("data/all_datasets_h5ad.csv")));
    assert_eq!(rows.len(), 5, "the selection");
    let vi = h.iter().position(|c| c == "dataset_version_id").unwrap();
    let mut want: Vec<String> = rows.iter().map(|r| r[vi].clone()).collect();
    want.sort();
    let check = |rule: &str, res: &str, f: &dyn Fn(u64) -> u64| {
        let mut got = job_resources(&text, rule, res);
        got.sort();
        let ids: Vec<String> = got.iter().map(|(d, _)| d.clone()).collect();
        assert_eq!(ids, want, "one {rule} job per selected dataset:\n{text}");
        for (dvid, v) in got {
            assert_eq!(v, f(mb[&dvid]), "{rule} {res} of {dvid} ({} MB)", mb[&dvid]);
        }
    };
    check("obs", "mem_mb", &|m| 1000 + m / 10);
    check("obs", "runtime", &|m| 5 + m / 2000);
    check("download", "runtime", &|m| 10 + m / 600);
    check("download", "downloads", &|_| 1);
    assert!(mb.values().any(|m| *m > 2000), "{mb:?}");
    assert!(!t.join("data/h5ad").exists(), "a dry run downloads nothing");
}

/// The commands of docs/workflow.md, run as written in a folder laid out
/// like a clone (the Makefile, workflow/, the venv and target/release
/// linked in), against cxg-serve: the laptop block for real, the SLURM
/// block as a dry run (`-n` appended to its snakemake line).
#[test]
fn the_docs_workflow_commands_run() {
    let Some(_) = snakemake() else { return };
    let mut script = String::new();
    let mut blocks = 0;
    for block in doc_sh("docs/workflow.md", "") {
        for line in block.lines() {
            script.push_str(line);
            if line.contains("profiles/slurm") {
                script.push_str(" -n");
            }
            script.push('\n');
        }
        blocks += 1;
    }
    assert_eq!(blocks, 2, "a laptop block and a SLURM block");
    let t = TempDir::new();
    let link = |from: &Path, to: &str| std::os::unix::fs::symlink(from, t.join(to)).unwrap();
    link(&root().join("Makefile"), "Makefile");
    link(&root().join("workflow"), "workflow");
    link(&root().join(".venv-workflow"), ".venv-workflow");
    std::fs::create_dir(t.join("target")).unwrap();
    link(&bin_dir(), "target/release");
    let snap = t.join("snap");
    let names = h5ad_snapshot(&snap, 4);
    let s = Server::start(&snap, &["--local-assets"]);
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(t.path())
        .env("API_URL", &s.url)
        .env("BIN", bin_dir())
        .env("CARGO_BUILD", "true")
        .env_remove("DATA")
        .env_remove("MAKEFLAGS");
    let o = run_cmd(c, None);
    o.ok();
    assert!(t.join("data/all_datasets_obs.csv").exists());
    let text = format!("{}{}", o.text(), o.stderr);
    assert!(text.contains("Nothing to be done"), "{text}");
    assert_eq!(
        jobs_of(&text, "download"),
        names.len(),
        "each file once: {text}"
    );
    assert!(read(&t.join("data/select.args")).starts_with(b"--organism 'Homo sapiens'\n"));
    assert!(text.contains("This was a dry-run"), "{text}");
    assert!(!t.join("cxg-data").exists(), "a dry run writes nothing");
}

/// The subset rules (target `subsets`) write what `make subset` writes:
/// the same manifest (but its paths, which name each route's folder) and
/// the same H5AD files, byte for byte.
#[test]
fn the_subset_rules_match_make_subset() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    h5ad_snapshot(&snap, 3);
    let s = Server::start(&snap, &["--local-assets"]);
    make_in(
        &t.join("make"),
        &["download", "subset"],
        &s.url,
        &["CELLS=--primary"],
    )
    .ok();
    let conf = t.join("cells.yaml");
    std::fs::write(&conf, "cells: \"--primary\"\n").unwrap();
    run_local(
        &sm,
        &t.join("wf"),
        &s.url,
        &[],
        &["subsets", "--configfile", conf.to_str().unwrap()],
    )
    .ok();
    let rows = |dir: &str| -> Vec<String> {
        let text = String::from_utf8(read(&t.join(dir).join("data/subset/manifest.csv"))).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                let f: Vec<&str> = r.iter().collect();
                [&f[..1], &f[2..]].concat().join(",")
            })
            .collect()
    };
    let (m, w) = (rows("make"), rows("wf"));
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(m, w);
    assert!(m.iter().all(|r| r.contains(",ok,")), "{m:?}");
}
