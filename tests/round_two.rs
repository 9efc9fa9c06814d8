//! Issue 21, "nothing lost, round two" (all but the download side): saves
//! that share a snapshots folder across PID namespaces and finish out of
//! order, planted symlinks and other programs' files, shell-safe Makefile
//! and workflow values, runaway jq expressions, a read-write /dev/null as
//! stdout, and cxg-gen's memory. Real processes wherever the failure is a
//! process's.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The snapshot folders (not `latest`, not hidden) in `snaps`, by name.
fn snapshot_names(snaps: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('2'))
        .collect();
    v.sort();
    v
}

/// Wait until `f` holds (at most 30 s).
fn wait_for(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1500 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// The staging folders (`.saving.*`) in `snaps`.
fn staging(snaps: &Path) -> Vec<String> {
    std::fs::read_dir(snaps)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".saving."))
                .collect()
        })
        .unwrap_or_default()
}

/// A save of `file` into `snaps` that blocks, after its staging folder
/// exists, on reading the FIFO `fifo` (an `--output-file`), run through
/// `prefix` (say `unshare --pid --fork`).
fn blocked_save(prefix: &[&str], snaps: &Path, fifo: &Path, file: &Path) -> Child {
    let (cmd, pre) = match prefix.split_first() {
        Some((c, rest)) => (PathBuf::from(c), rest.to_vec()),
        None => (bin("cxg-snapshot"), Vec::new()),
    };
    let mut c = Command::new(cmd);
    c.args(pre);
    if !prefix.is_empty() {
        c.arg(bin("cxg-snapshot"));
    }
    c.args(["save", "-q", "--always", "--into"])
        .arg(snaps)
        .arg("--output-file")
        .arg(fifo)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

/// Let a save blocked on opening the FIFO `fifo` go on: open it for writing
/// (the save's open returns), put a regular file with the same bytes in its
/// place (for every later read), then write those bytes to the save.
fn release(fifo: &Path) {
    use std::io::Write;
    let real = fifo.with_extension("real");
    std::fs::write(&real, "a\n").unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    std::fs::rename(&real, fifo).unwrap();
    w.write_all(b"a\n").unwrap();
}

fn finish(child: Child) -> Out {
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Every snapshot holds its raw file and `verify` finds nothing damaged.
fn all_whole(snaps: &Path, want: usize) {
    let names = snapshot_names(snaps);
    assert_eq!(names.len(), want, "{names:?}");
    for n in &names {
        assert!(snaps.join(n).join("collections.json").is_file(), "{n}");
        assert!(snaps.join(n).join("provenance.json").is_file(), "{n}");
    }
    let s = snaps.display().to_string();
    run("cxg-snapshot", &["verify", &s], None).ok();
    assert!(staging(snaps).is_empty(), "{:?}", staging(snaps));
}

fn setup(t: &TempDir) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let a = t.join("a/collections.json");
    let b = t.join("b/collections.json");
    std::fs::create_dir_all(a.parent().unwrap()).unwrap();
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    std::fs::write(&a, "[{\"a\":1}]").unwrap();
    std::fs::write(&b, "[{\"b\":2}]").unwrap();
    let fifo = t.join("fifo.csv");
    sh(t.path(), &format!("mkfifo '{}'", fifo.display())).ok();
    (a, b, fifo, t.join("snaps"))
}

/// Cause 1: two saves in two PID namespaces (both are process 1 there):
/// the second must not take the first's live staging folder for one left
/// by an interrupted save.
#[test]
fn saves_from_two_pid_namespaces_keep_each_others_staging() {
    // as root, or else in a user namespace of its own (unprivileged)
    let prefixes: [&[&str]; 2] = [
        &["unshare", "--pid", "--fork"],
        &["unshare", "--user", "--map-root-user", "--pid", "--fork"],
    ];
    let works = |p: &[&str]| {
        Command::new(p[0])
            .args(&p[1..])
            .arg("true")
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let Some(ns) = prefixes.into_iter().find(|p| works(p)) else {
        skip("unshare --pid --fork is not available (util-linux, and root or user namespaces)");
        return;
    };
    let t = TempDir::new();
    let (a, b, fifo, snaps) = setup(&t);
    let first = blocked_save(ns, &snaps, &fifo, &a);
    wait_for("the first save's staging folder", || {
        !staging(&snaps).is_empty()
    });
    let mut c = Command::new(ns[0]);
    c.args(&ns[1..])
        .arg(bin("cxg-snapshot"))
        .args(["save", "-q", "--always", "--into"])
        .arg(&snaps)
        .arg(&b);
    run_cmd(c, None).ok();
    assert_eq!(
        staging(&snaps).len(),
        1,
        "the first save's staging folder is gone"
    );
    release(&fifo);
    finish(first).ok();
    all_whole(&snaps, 2);
}

/// Cause 2: the save that started first (an older snapshot name) finishes
/// last; `latest` still names the newest snapshot.
#[test]
fn latest_names_the_newest_snapshot_whatever_the_finishing_order() {
    let t = TempDir::new();
    let (a, b, fifo, snaps) = setup(&t);
    let slow = blocked_save(&[], &snaps, &fifo, &a);
    wait_for("the slow save's staging folder", || {
        !staging(&snaps).is_empty()
    });
    // a later second: a later snapshot name
    std::thread::sleep(Duration::from_millis(1100));
    let s = snaps.display().to_string();
    let bs = b.display().to_string();
    run(
        "cxg-snapshot",
        &["save", "-q", "--always", "--into", &s, &bs],
        None,
    )
    .ok();
    release(&fifo);
    finish(slow).ok();
    all_whole(&snaps, 2);
    let names = snapshot_names(&snaps);
    let latest = std::fs::read_link(snaps.join("latest")).unwrap();
    assert_eq!(latest, PathBuf::from(&names[1]), "{names:?}");
    // the newest is the fast save's (collections of b)
    assert_eq!(read(&snaps.join("latest/collections.json")), read(&b));
}

/// Cause 11: a symlink planted at `.objects` is refused, and nothing is
/// written where it points.
#[test]
fn a_planted_objects_symlink_is_refused() {
    let t = TempDir::new();
    let (a, _, _, snaps) = setup(&t);
    let elsewhere = t.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(&snaps).unwrap();
    std::os::unix::fs::symlink(&elsewhere, snaps.join(".objects")).unwrap();
    let s = snaps.display().to_string();
    let a = a.display().to_string();
    run("cxg-snapshot", &["save", "-q", "--into", &s, &a], None)
        .code(2)
        .stderr_has(".objects' is a symbolic link");
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    assert!(snapshot_names(&snaps).is_empty());
    assert!(staging(&snaps).is_empty());
}

/// Set `p`'s modification time `secs` seconds back.
fn age(p: &Path, secs: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

/// Cause 10: `--prepare --index-dir DIR` removes only the temporary files
/// it names itself; another program's hidden `.tmp` files stay.
#[test]
fn prepare_removes_only_its_own_temporary_files() {
    let t = TempDir::new();
    let onts = t.join("ontology");
    std::fs::create_dir_all(&onts).unwrap();
    let pato = "PATO-ontology-v2025-05-14.json";
    std::fs::copy(fixture(&format!("ontology/{pato}")), onts.join(pato)).unwrap();
    let idx = t.join("cache");
    std::fs::create_dir_all(&idx).unwrap();
    let theirs = [".editor-swap.tmp", ".download.json.tmp", ".x.idx.abc.tmp"];
    for n in theirs {
        std::fs::write(idx.join(n), "theirs").unwrap();
        age(&idx.join(n), 7200);
    }
    let ours = idx.join(format!(".{pato}.idx.a1B2c3D4.tmp"));
    std::fs::write(&ours, "half").unwrap();
    age(&ours, 7200);
    let fresh = idx.join(format!(".{pato}.idx.e5F6g7H8.tmp"));
    std::fs::write(&fresh, "being written").unwrap();
    run(
        "cxg-select",
        &[
            "--ontology",
            onts.to_str().unwrap(),
            "--index-dir",
            idx.to_str().unwrap(),
            "--prepare",
        ],
        None,
    )
    .ok()
    .stderr_has("removed 1 stale index file");
    for n in theirs {
        assert_eq!(read(&idx.join(n)), b"theirs", "{n}");
    }
    assert!(!ours.exists());
    assert!(fresh.exists());
}

/// Run make with the test binaries in `dir` (a copy of nothing: the
/// repository's Makefile by -f), no build.
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

/// Cause 12: a path variable holding anything but plain path characters is
/// refused, naming the variable, before anything runs: no command in it
/// runs, through a recipe or `make clean`'s realpath.
#[test]
fn make_refuses_path_variables_a_shell_would_run() {
    let t = TempDir::new();
    for bad in [
        "`touch PWNED`",
        "$$(touch PWNED)",
        ";touch PWNED",
        "|touch PWNED",
        "&touch PWNED",
        "<PWNED",
        ">PWNED",
        "a:b",
        "~x",
    ] {
        for var in ["DATA", "DEMO", "SNAPSHOTS", "ONTOLOGY"] {
            for target in ["clean", "stages", "demo"] {
                let value = format!("{var}=d{bad}");
                make_in(t.path(), &[target, &value])
                    .code(2)
                    .stderr_has(&format!("{var}=\""))
                    .stderr_has("holds characters a path variable may not");
                assert!(t.names().is_empty(), "{target} {value}: {:?}", t.names());
            }
        }
    }
    // the plain characters pass the guard
    make_in(t.path(), &["-n", "clean", "DATA=a/b_c-d+e,f@g.h"]).ok();
}

/// The pinned Snakemake of `make workflow-venv`, or a skip.
fn snakemake() -> Option<PathBuf> {
    let exe = root().join(".venv-workflow/bin/snakemake");
    if exe.exists() {
        return Some(exe);
    }
    skip("the pinned Snakemake is absent: run `make workflow-venv`");
    None
}

/// The workflow run in `dir` with `config` added, on 2 cores.
fn workflow(sm: &Path, dir: &Path, url: &str, config: &[&str], extra: &[&str]) -> Out {
    let mut c = Command::new(sm);
    c.arg("--snakefile")
        .arg(root().join("workflow/Snakefile"))
        .arg("--directory")
        .arg(dir)
        .arg("--workflow-profile")
        .arg(root().join("workflow/profiles/local"))
        .arg("--config")
        .arg(format!("api_url={url}"))
        .arg(format!("bin={}", bin_dir().display()))
        .args(config)
        .args(["--cores", "2"])
        .args(extra);
    run_cmd(c, None)
}

/// Cause 13: no value of the workflow's config runs as a command: `data`
/// reaches the download rule's message quoted (a row fails, so it runs),
/// and `select` and `download_args` are split and quoted again.
#[test]
fn workflow_config_values_never_run_as_commands() {
    let Some(sm) = snakemake() else { return };
    let t = TempDir::new();
    let snap = t.join("snap");
    // seed 9, 20 datasets: one has no H5AD asset, so one download row fails
    generate(
        &snap,
        &[
            "--seed",
            "9",
            "--collections",
            "5",
            "--datasets",
            "20",
            "--assets",
        ],
    );
    let s = Server::start(&snap, &["--local-assets"]);
    let wf = t.join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    let o = workflow(
        &sm,
        &wf,
        &s.url,
        &["data=d$(touch PWNED)"],
        &["d$(touch PWNED)/h5ad/manifest.csv"],
    );
    assert!(
        o.stderr.contains("the row is kept as failed in"),
        "{}",
        o.stderr
    );
    assert!(!wf.join("PWNED").exists(), "a command in config data ran");
    let harvest = t.join("harvest");
    std::fs::create_dir_all(&harvest).unwrap();
    for (key, value) in [
        ("select", "--exact $(touch PWNED)"),
        ("download_args", "--retries 1;touch PWNED"),
    ] {
        let config = format!("{key}={value}");
        workflow(
            &sm,
            &harvest,
            &s.url,
            &[&config],
            &["data/h5ad/manifest.csv"],
        );
        assert!(
            !harvest.join("PWNED").exists(),
            "a command in config {key} ran"
        );
    }
}

/// Cause 15: an expression of 10–24 KB that nests thousands deep is
/// refused with exit 2 and a message, by every tool that takes one, instead
/// of overflowing the stack (SIGABRT, 134); one at the limit still runs.
#[test]
fn deeply_nested_expressions_are_refused_not_a_crash() {
    let parens = format!("{}.a{}", "(".repeat(5000), ")".repeat(5000));
    let sums = vec!["1"; 6000].join("+");
    let pipes = vec!["."; 6000].join(" | ");
    let t = TempDir::new();
    let recs = t.join("d.jsonl");
    std::fs::write(&recs, "{\"dataset_id\":\"x\",\"a\":1}\n").unwrap();
    let coll = t.join("c.json");
    std::fs::write(
        &coll,
        "[{\"collection_id\":\"c\",\"datasets\":[{\"dataset_id\":\"x\"}]}]",
    )
    .unwrap();
    let (r, c) = (recs.to_str().unwrap(), coll.to_str().unwrap());
    for e in [&parens, &sums, &pipes] {
        let col = format!("x={e}");
        for (tool, args) in [
            ("cxg-select", vec!["--where", e, r]),
            ("cxg-tocsv", vec!["--column", &col, r]),
            ("cxg-datasets", vec!["--where", e, c]),
        ] {
            run(tool, &args, None)
                .code(2)
                .stderr_has("levels deep (brackets, and operators in a chain); at most 256");
        }
    }
    // at the limit: runs, on the tools' worker threads too
    let deep = format!("{}.a{}", "(".repeat(128), ")".repeat(128));
    let chain = format!("{deep} | {}", vec!["."; 127].join(" | "));
    run("cxg-select", &["--where", &chain, r], None).ok();
    run("cxg-tocsv", &["--column", &format!("x={chain}"), r], None).ok();
}

/// Cause 19: a stdout opened read-write on /dev/null (`1<>/dev/null`,
/// Python's `subprocess.DEVNULL`) is written to, not refused as closed.
#[test]
fn a_read_write_dev_null_stdout_is_accepted_by_every_tool() {
    let t = TempDir::new();
    let c = fixture("sample/collections.json");
    let c = c.display();
    let cmds = [
        format!("cxg-split '{c}'"),
        format!("cxg-datasets '{c}'"),
        format!("cxg-datasets '{c}' | cxg-tocsv"),
        format!("cxg-datasets '{c}' | cxg-select --no-ontology --organism 'Homo sapiens'"),
        format!("cxg-snapshot list '{}'", t.join("none").display()),
    ];
    for cmd in &cmds {
        sh(t.path(), &format!("{cmd} 1<>/dev/null"))
            .ok()
            .stderr_lacks("stdout");
    }
    let py = Command::new("python3").arg("-c").arg("1").status();
    if !py.is_ok_and(|s| s.success()) {
        skip("python3 is absent: subprocess.DEVNULL not tried");
        return;
    }
    let script = format!(
        "import subprocess, sys\n\
         r = subprocess.run([{:?}, {:?}], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
         sys.stderr.write(r.stderr.decode())\n\
         sys.exit(r.returncode)\n",
        bin("cxg-split").display().to_string(),
        fixture("sample/collections.json").display().to_string()
    );
    let mut py = Command::new("python3");
    py.arg("-c").arg(script);
    run_cmd(py, None).ok().stderr_lacks("stdout");
}

/// Cause 16: cxg-gen's memory is flat in the size of the snapshot. 5,000
/// datasets took about 380 MB when the whole snapshot was held in memory
/// (74 KB a dataset: it aborted under this limit, signal 6); written as a
/// stream they fit in a 150 MB address space (about 26 MB resident), and
/// the files agree.
#[test]
fn cxg_gen_writes_a_large_snapshot_in_bounded_memory() {
    let t = TempDir::new();
    let snap = t.join("big");
    sh(
        t.path(),
        &format!(
            "ulimit -v 150000 && exec cxg-gen --seed 42 --collections 600 --datasets 5000 \
             --unindexed 50 --gone 5 --sort-bytes 2000000 '{}'",
            snap.display()
        ),
    )
    .ok()
    .stderr_has("600 collections, 5000 datasets (4945 in the index, 5 gone)");
    let index: Vec<serde_json::Value> =
        serde_json::from_slice(&read(&snap.join("datasets.json"))).unwrap();
    assert_eq!(index.len(), 4945);
    // sorted as the API serves it (merged from several runs on disk):
    // (published_at, dataset_id), descending
    let key = |v: &serde_json::Value| {
        (
            v["published_at"].as_str().unwrap().to_string(),
            v["dataset_id"].as_str().unwrap().to_string(),
        )
    };
    assert!(index.windows(2).all(|w| key(&w[0]) > key(&w[1])));
    let objects: usize = std::fs::read_dir(snap.join("collections"))
        .unwrap()
        .filter_map(|c| std::fs::read_dir(c.unwrap().path().join("datasets")).ok())
        .map(Iterator::count)
        .sum();
    assert_eq!(objects, 4995);
    assert!(!snap.join(".index-runs").exists());
}
