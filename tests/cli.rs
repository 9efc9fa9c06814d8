//! What every tool owes a user: --help with examples and the shared
//! exit-code table, --version, stdin / `-` / FILE, a missing file, an
//! unknown flag, a closed stdout pipe, one-line errors without backtraces.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
        "| 129, 130, 143 | stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM: every temporary file the tool made was removed first |",
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
fn fetch_collection_does_not_wait_on_a_terminal() {
    // no ids and stdin a terminal: say how to give ids instead of hanging
    if Command::new("script").arg("--version").output().is_err() {
        skip("`script` is not installed (needed for a terminal)");
        return;
    }
    let t = TempDir::new();
    let cmd = format!(
        "{} --api-url {} collection",
        bin("cxg-fetch").display(),
        dead_url()
    );
    let o = sh(
        t.path(),
        &format!("timeout 10 script -qec '{cmd}' /dev/null || true"),
    );
    assert!(
        o.text()
            .contains("no collection ids: give them as arguments"),
        "{}",
        o.text()
    );
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

/// A small deterministic generator for mutations.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

const PIECES: &[u8] = b"{}[],:\"\\\n\xff\x00 0a-";

fn mutate(rng: &mut Lcg, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(b.len());
        match rng.below(5) {
            0 => b.truncate(at),
            1 => {
                let k = at.min(b.len().saturating_sub(1));
                b[k] = PIECES[rng.below(PIECES.len())];
            }
            2 => b.insert(at, PIECES[rng.below(PIECES.len())]),
            3 => {
                let end = (at + rng.below(40)).min(b.len());
                b.drain(at..end);
            }
            _ => {
                let from = rng.below(b.len());
                let end = (from + rng.below(60)).min(b.len());
                let piece = b[from..end].to_vec();
                b.splice(at..at, piece);
            }
        }
        if b.is_empty() {
            break;
        }
    }
    b
}

#[test]
fn no_panics_on_mangled_input() {
    // Mangled JSON and CSV: every tool answers with a status of the table
    // and a message, never a panic.
    let json_base = read(&fixture("awkward/collections.json"));
    let ds_base = read(&fixture("awkward/datasets.expected"));
    let csv_base = read(&fixture("awkward/tocsv_seed.expected.csv"));
    let t = TempDir::new();
    let index = t.join("index.json");
    std::fs::write(&index, b"[]").unwrap();
    let dead = dead_url();
    let mut rng = Lcg(7);
    for round in 0..60 {
        let cases: [(&str, Vec<&str>, Vec<u8>); 5] = [
            ("cxg-split", vec![], mutate(&mut rng, &json_base)),
            (
                "cxg-datasets",
                vec!["--where", ".tissue | length > 0"],
                mutate(&mut rng, &json_base),
            ),
            ("cxg-datasets", vec![], mutate(&mut rng, &ds_base)),
            (
                "cxg-tocsv",
                vec!["--preset", "full"],
                mutate(&mut rng, &ds_base),
            ),
            (
                "cxg-h5ad",
                vec![
                    "--index",
                    index.to_str().unwrap(),
                    "--api-url",
                    &dead,
                    "--retries",
                    "0",
                ],
                mutate(&mut rng, &csv_base),
            ),
        ];
        for (tool, args, input) in cases {
            let o = run(tool, &args, Some(&input));
            assert!(
                (0..=3).contains(&o.code) && !o.stderr.contains("panicked"),
                "round {round}: {tool} exited {} on {:?}\n{}",
                o.code,
                String::from_utf8_lossy(&input),
                o.stderr
            );
            if o.code != 0 {
                assert!(
                    o.stderr.starts_with(&format!("{tool}: ")),
                    "{tool}: {}",
                    o.stderr
                );
            }
        }
    }
}
