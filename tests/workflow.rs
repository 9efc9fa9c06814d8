//! The Snakemake workflow (workflow/Snakefile) against cxg-serve on
//! loopback: the same files as the Makefile route, a second run that does
//! nothing, the SLURM profile's dry run, and the README's commands. The
//! tests need the pinned Snakemake in `.venv-workflow/` (`make
//! workflow-venv`, which `.ci/run` runs): without it they print
//! `skipped: ...`, and fail when CI is set.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's snakemake, when `make workflow-venv` has installed it and
/// it is not older than workflow/requirements.txt.
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
    let msg = format!(
        "{} {why}: run `make workflow-venv` (the pinned Snakemake)",
        venv.display()
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set, so this test must not skip: {msg}"
    );
    eprintln!("skipped: {msg}");
    None
}

/// A snakemake command on workflow/Snakefile, its working folder (where
/// `.snakemake/` goes) `dir`, the files under `data`, the binaries built
/// for these tests.
fn workflow(sm: &Path, dir: &Path, data: &Path, url: &str, profile: &str) -> Command {
    let mut c = Command::new(sm);
    c.arg("--snakefile")
        .arg(root().join("workflow/Snakefile"))
        .arg("--directory")
        .arg(dir)
        .arg("--workflow-profile")
        .arg(root().join("workflow/profiles").join(profile))
        .arg("--config")
        .arg(format!("api_url={url}"))
        .arg(format!("data={}", data.display()))
        .arg(format!("bin={}", bin_dir().display()));
    c
}

fn run_local(sm: &Path, dir: &Path, data: &Path, url: &str, extra: &[&str]) -> Out {
    let mut c = workflow(sm, dir, data, url, "local");
    c.args(["--cores", "2"]).args(extra);
    run_cmd(c, None)
}

fn make_stages(data: &Path, url: &str, extra: &[&str]) -> Out {
    let mut c = Command::new("make");
    c.current_dir(root())
        .arg("--no-print-directory")
        .arg("stages")
        .arg(format!("BIN={}", bin_dir().display()))
        .arg("CARGO_BUILD=true")
        .arg(format!("DATA={}", data.display()))
        .arg(format!("API_URL={url}"))
        .args(extra);
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

/// Folders the workflow keeps for itself beside the files `make` writes.
const WORKFLOW_ONLY: [&str; 1] = ["work/"];

/// `ours` (the workflow) holds every file `theirs` (make) holds, byte for
/// byte (collections.list names its own folder), and nothing else but its
/// own working folders.
fn assert_same_tree(theirs: &Path, ours: &Path) {
    let want = files(theirs);
    let got: Vec<String> = files(ours)
        .into_iter()
        .filter(|f| !WORKFLOW_ONLY.iter().any(|w| f.starts_with(w)))
        .collect();
    assert_eq!(got, want, "the workflow wrote other files than make");
    for f in &want {
        let a = read(&theirs.join(f));
        let b = read(&ours.join(f));
        if f == "collections.list" {
            let a = String::from_utf8(a).unwrap();
            let b = String::from_utf8(b).unwrap();
            let theirs = format!("{}/", theirs.display());
            let ours = format!("{}/", ours.display());
            assert_eq!(a.replace(&theirs, ""), b.replace(&ours, ""), "{f}");
        } else {
            assert!(a == b, "{f} differs from make's");
        }
    }
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

#[test]
fn the_workflow_writes_what_make_writes_and_a_second_run_does_nothing() {
    let Some(sm) = snakemake() else { return };
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let t = TempDir::new();
    make_stages(&t.join("make"), &s.url, &[]).ok();
    let by_make = s.requests().len();
    let o = run_local(&sm, t.path(), &t.join("wf"), &s.url, &[]);
    o.ok();
    assert_same_tree(&t.join("make"), &t.join("wf"));
    let requests = s.requests().len() - by_make;
    assert_eq!(requests, by_make, "the same requests as make made");

    // a second run has nothing to do: no job, no request, no file touched
    let stamps = mtimes(&t.join("wf"));
    let o = run_local(&sm, t.path(), &t.join("wf"), &s.url, &[]);
    o.ok();
    assert!(o.stderr.contains("Nothing to be done"), "{}", o.stderr);
    assert_eq!(s.requests().len() - by_make, requests);
    assert_eq!(mtimes(&t.join("wf")), stamps);
}

#[test]
fn the_slurm_profile_passes_a_dry_run_without_sbatch() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let mut c = workflow(&sm, t.path(), &t.join("data"), &dead_url(), "slurm");
    c.arg("-n");
    let o = run_cmd(c, None);
    o.ok();
    let text = format!("{}{}", o.text(), o.stderr);
    assert!(text.contains("This was a dry-run"), "{text}");
    assert!(text.contains("slurm_partition=normal"), "{text}");
    // a dry run writes nothing
    assert!(!t.join("data").exists());
}
