//! What every tool owes a user: --help with examples and the shared
//! exit-code table, --version, stdin / `-` / FILE, a missing file, an
//! unknown flag, a closed stdout pipe, one-line errors without backtraces.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const TOOLS: [&str; 7] = [
    "cxg-fetch",
    "cxg-split",
    "cxg-datasets",
    "cxg-tocsv",
    "cxg-h5ad",
    "cxg-serve",
    "cxg-gen",
];

#[test]
fn help_shows_examples_and_the_exit_code_table() {
    let table = "Exit status:\n  0  success: every record was processed\n  1  completed, but some records could not be processed (each named on stderr)\n  2  bad usage or bad input (file, JSON, CSV, expression, unsafe name)\n  3  the API or the network failed (after retries)";
    for t in TOOLS {
        let o = run(t, &["--help"], None);
        o.ok();
        let h = o.text();
        assert!(h.contains("Usage: "), "{t}");
        assert!(h.contains("Examples:\n  # "), "{t} has no examples");
        // every example line is indented and names a tool or a pipeline
        let ex = &h[h.find("Examples:\n").unwrap() + 10..h.find("Exit status:").unwrap()];
        assert!(
            ex.lines().all(|l| l.is_empty() || l.starts_with("  ")),
            "{t}:\n{ex}"
        );
        assert!(ex.contains(t), "{t}: examples do not use the tool");
        assert!(h.contains(table), "{t} lacks the exit-code table");
        let o = run(t, &["--version"], None);
        o.ok();
        assert!(
            o.text()
                .starts_with(&format!("{t} {}", env!("CARGO_PKG_VERSION"))),
            "{t}"
        );
    }
}

#[test]
fn readme_shows_the_same_exit_code_table() {
    let readme = String::from_utf8(read(&root().join("README.md"))).unwrap();
    for line in [
        "| 0 | success: every record was processed |",
        "| 1 | completed, but some records could not be processed (each named on stderr) |",
        "| 2 | bad usage or bad input (file, JSON, CSV, expression, unsafe name) |",
        "| 3 | the API or the network failed (after retries) |",
    ] {
        assert!(readme.contains(line), "README lacks {line}");
    }
}

#[test]
fn unknown_flags_are_usage_errors() {
    for t in TOOLS {
        let o = run(t, &["--no-such-flag"], None);
        o.code(2).stderr_has("--no-such-flag");
    }
}

#[test]
fn stdin_dash_and_file_give_the_same_output() {
    let f = fixture("snapshot/collections.json");
    let data = read(&f);
    for t in ["cxg-split", "cxg-datasets"] {
        let a = run(t, &[], Some(&data));
        let b = run(t, &["-"], Some(&data));
        let c = run(t, &[f.to_str().unwrap()], None);
        a.ok();
        assert_eq!(a.stdout, b.stdout);
        assert_eq!(a.stdout, c.stdout);
    }
}

#[test]
fn missing_files_are_named() {
    for t in ["cxg-split", "cxg-datasets", "cxg-tocsv", "cxg-h5ad"] {
        let o = run(t, &["/no/such/file.json"], None);
        o.code(2)
            .stderr_has(&format!("{t}: cannot open '/no/such/file.json'"));
        assert!(
            !o.stderr.contains("backtrace") && !o.stderr.contains("panicked"),
            "{}",
            o.stderr
        );
    }
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_0() {
    // a few MB of lines; the reader takes one line and goes away
    let t = TempDir::new();
    generate(
        &t.join("big"),
        &["--collections", "300", "--datasets", "3000"],
    );
    let f = t.join("big/collections.json");
    for tool in ["cxg-split", "cxg-datasets"] {
        let mut child = Command::new(bin(tool))
            .arg(&f)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with('{'));
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{tool}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{tool}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn output_files_are_atomic_on_failure() {
    // a bad record half-way: -o leaves nothing behind
    let t = TempDir::new();
    let out = t.join("out.jsonl");
    let input = b"[{\"a\":1},{\"a\":2},\n{\"a\": tru}]";
    let o = run("cxg-split", &["-o", out.to_str().unwrap()], Some(input));
    o.code(2).stderr_has("stdin: line 2");
    assert!(t.names().is_empty(), "{:?}", t.names());
}
