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
        stamp.display()
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set, so this test must not skip: {msg}"
    );
    eprintln!("skipped: {msg}");
    None
}

/// A snakemake command on workflow/Snakefile run in `dir` (where
/// `.snakemake/` goes and `data/` lands, as make writes `data/` in its
/// folder), with the binaries built for these tests.
fn workflow(sm: &Path, dir: &Path, url: &str, profile: &str) -> Command {
    let mut c = Command::new(sm);
    c.arg("--snakefile")
        .arg(root().join("workflow/Snakefile"))
        .arg("--directory")
        .arg(dir)
        .arg("--workflow-profile")
        .arg(root().join("workflow/profiles").join(profile))
        .arg("--config")
        .arg(format!("api_url={url}"))
        .arg(format!("bin={}", bin_dir().display()));
    c
}

fn run_local(sm: &Path, dir: &Path, url: &str, extra: &[&str]) -> Out {
    let mut c = workflow(sm, dir, url, "local");
    c.args(["--cores", "2"]).args(extra);
    run_cmd(c, None)
}

/// The Makefile route run in `dir` (`make -f` the repository's Makefile),
/// so that both routes write `data/...` and every path they record is
/// the same text.
fn make_in(dir: &Path, target: &str, url: &str, extra: &[&str]) -> Out {
    std::fs::create_dir_all(dir).unwrap();
    let mut c = Command::new("make");
    c.current_dir(dir)
        .arg("--no-print-directory")
        .arg("-f")
        .arg(root().join("Makefile"))
        .arg(target)
        .arg(format!("BIN={}", bin_dir().display()))
        .arg("CARGO_BUILD=true")
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

/// The folder the workflow keeps for itself beside the files make writes.
const WORKFLOW_ONLY: &str = "work/";

/// `ours` (the workflow's data/) holds every file `theirs` (make's data/)
/// holds, byte for byte, and nothing else but its own working folder.
fn assert_same_tree(theirs: &Path, ours: &Path) {
    let want = files(theirs);
    let got: Vec<String> = files(ours)
        .into_iter()
        .filter(|f| !f.starts_with(WORKFLOW_ONLY))
        .collect();
    assert_eq!(got, want, "the workflow wrote other files than make");
    for f in &want {
        assert!(
            read(&theirs.join(f)) == read(&ours.join(f)),
            "{f} differs from make's"
        );
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
    make_in(&t.join("make"), "stages", &s.url, &[]).ok();
    let by_make = s.requests().len();
    let o = run_local(&sm, &t.join("wf"), &s.url, &[]);
    o.ok();
    assert_same_tree(&t.join("make/data"), &t.join("wf/data"));
    let requests = s.requests().len() - by_make;
    assert_eq!(requests, by_make, "the same requests as make made");

    // a second run has nothing to do: no job, no request, no file touched
    let stamps = mtimes(&t.join("wf/data"));
    let o = run_local(&sm, &t.join("wf"), &s.url, &[]);
    o.ok();
    assert!(o.stderr.contains("Nothing to be done"), "{}", o.stderr);
    assert_eq!(s.requests().len() - by_make, requests);
    assert_eq!(mtimes(&t.join("wf/data")), stamps);
}

#[test]
fn the_slurm_profile_passes_a_dry_run_without_sbatch() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let mut c = workflow(&sm, t.path(), &dead_url(), "slurm");
    c.arg("-n");
    let o = run_cmd(c, None);
    o.ok();
    let text = format!("{}{}", o.text(), o.stderr);
    assert!(text.contains("This was a dry-run"), "{text}");
    assert!(text.contains("slurm_partition=normal"), "{text}");
    // a dry run writes nothing
    assert!(!t.join("data").exists());
}

/// The README's "Scale out" section, run as written in a folder laid out
/// like a clone (the Makefile, workflow/, the venv and target/release
/// linked in), against cxg-serve: the laptop block for real, the SLURM
/// block as a dry run (`-n` appended to its snakemake line).
#[test]
fn the_readme_workflow_section_runs() {
    let Some(_) = snakemake() else { return };
    let readme = String::from_utf8(read(&root().join("README.md"))).unwrap();
    let start = readme.find("## Scale out").unwrap();
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").unwrap() + 3];
    let mut script = String::new();
    let mut rest = section;
    let mut blocks = 0;
    while let Some(i) = rest.find("```sh\n") {
        let body = &rest[i + 6..];
        let end = body.find("```").unwrap();
        for line in body[..end].lines() {
            script.push_str(line);
            if line.contains("profiles/slurm") {
                script.push_str(" -n");
            }
            script.push('\n');
        }
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert_eq!(blocks, 2, "a laptop block and a SLURM block");
    let t = TempDir::new();
    let link = |from: &Path, to: &str| std::os::unix::fs::symlink(from, t.join(to)).unwrap();
    link(&root().join("Makefile"), "Makefile");
    link(&root().join("workflow"), "workflow");
    link(&root().join(".venv-workflow"), ".venv-workflow");
    std::fs::create_dir(t.join("target")).unwrap();
    link(&bin_dir(), "target/release");
    let s = Server::start(&fixture("snapshot"), &[]);
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
    assert!(t.join("data/all_datasets_h5ad.csv").exists());
    let text = format!("{}{}", o.text(), o.stderr);
    assert!(text.contains("Nothing to be done"), "{text}");
    assert!(text.contains("This was a dry-run"), "{text}");
    assert!(!t.join("cxg-data").exists(), "a dry run writes nothing");
}
