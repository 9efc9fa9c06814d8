//! In-process table tests: a snapshots folder (or a save's files) →
//! exit status, stdout and warnings, one line per case.

use crate::{run, Args};
use clap::Parser;
use cxg_core::ctx::run_memory;
use std::path::Path;

/// Make `files` (path below `dir`, content) in `dir`; a content
/// `link:PATH` hard-links PATH (below `dir`) instead.
fn lay_out(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match content.strip_prefix("link:") {
            Some(target) => std::fs::hard_link(dir.join(target), &p).unwrap(),
            None => std::fs::write(&p, content).unwrap(),
        }
    }
}

/// Run cxg-snapshot in process with `argv`, where an argument `T/...`
/// is a path in the folder `t`, and `T` replaces `t` in output and
/// warnings.
fn snapshot(t: &Path, argv: &[&str]) -> (i32, String, String) {
    let t = t.display().to_string();
    let argv: Vec<String> = argv
        .iter()
        .map(|a| match a.strip_prefix("T/") {
            Some(rest) => format!("{t}/{rest}"),
            None => a.to_string(),
        })
        .collect();
    let args = Args::try_parse_from(std::iter::once("cxg-snapshot".into()).chain(argv)).unwrap();
    let (code, out, warnings) = run_memory(b"", |ctx| run(args, ctx));
    let hide = |s: &str| s.replace(&t, "T");
    (code, hide(&out), hide(&warnings.join("\n")))
}

/// Files of a snapshots folder: (path, content), as [`lay_out`] makes them.
type Layout<'a> = Vec<(String, &'a str)>;

/// Damage done to a snapshots folder in `T`.
type Damage = fn(&Path);

const C: &str = "6e2974ee-853a-4444-b781-01a428af919f";
const D: &str = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";

#[test]
fn list_shows_each_snapshot_and_names_the_damaged() {
    let s1 = "S/20260101T060000Z";
    let s2 = "S/20260102T060000Z-2";
    let head = "snapshot          date (UTC)           collections  datasets  size";
    let head2 = "snapshot            date (UTC)           collections  datasets  size  new";
    let cases: Vec<(Layout, i32, String, &str)> = vec![
        // (files, exit status, stdout, warnings)
        (vec![], 0, "snapshot  date (UTC)  collections  datasets  size  new\n".into(),
            "no snapshots in 'T/S' yet (each harvest adds one)"),
        (vec![(format!("{s1}/collections.json"), "[{},{}]"), (format!("{s1}/datasets_index.json"), "[{}]")], 0,
            format!("{head}   new\n20260101T060000Z  2026-01-01 06:00:00            2         1  11 B  11 B\n"), ""),
        // datasets.json as cxg-serve names it; a per-dataset answer counts in the size
        (vec![(format!("{s1}/collections.json"), "[]"), (format!("{s1}/datasets.json"), "[{},{},{}]"),
              (format!("{s1}/collections/{C}/datasets/{D}.json"), "{}")], 0,
            format!("{head}   new\n20260101T060000Z  2026-01-01 06:00:00            0         3  14 B  14 B\n"), ""),
        // no index: '-'; a file hard-linked from the first is not new in the second
        (vec![(format!("{s1}/collections.json"), "[1,2,3]"), (format!("{s2}/collections.json"), "link:S/20260101T060000Z/collections.json"),
              (format!("{s2}/notes.txt"), "a\nb\n")], 0,
            format!("{head2}\n20260101T060000Z    2026-01-01 06:00:00            3         -   7 B  7 B\n\
                     20260102T060000Z-2  2026-01-02 06:00:00            3         -  11 B  4 B\n"), ""),
        (vec![(format!("{s1}/collections.json"), "[1]"), (format!("{s2}/collections.json"), "[1,")], 1,
            format!("{head}  new\n20260101T060000Z  2026-01-01 06:00:00            1         -   3 B  3 B\n"),
            "snapshot 20260102T060000Z-2 is damaged: 'T/S/20260102T060000Z-2/collections.json': line 1: \
             unexpected end of input inside the top-level array (truncated JSON?)"),
        (vec![("S/.saving.999999999/x".into(), ""), (format!("{s1}/collections.json"), "[]")], 0,
            format!("{head}  new\n20260101T060000Z  2026-01-01 06:00:00            0         -   2 B  2 B\n"),
            "removed 'T/S/.saving.999999999', left by an interrupted save (no save holds the folder's lock)"),
    ];
    for (files, code, out, warnings) in cases {
        let t = tempfile::tempdir().unwrap();
        let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        lay_out(t.path(), &files);
        let got = snapshot(t.path(), &["list", "T/S"]);
        assert_eq!(got, (code, out, warnings.to_string()), "{files:?}");
    }
}

/// Replace the snapshot's time stamp (the target of `S/latest`) by `STAMP`.
fn unstamp(t: &Path, text: &str) -> String {
    match std::fs::read_link(t.join("S/latest")) {
        Ok(name) => text.replace(&*name.to_string_lossy(), "STAMP"),
        Err(_) => text.to_string(),
    }
}

#[test]
fn save_checks_every_file_before_storing_any() {
    let files = [
        ("a/collections.json", "[{}]"),
        ("a/datasets_index.json", "[{\"schema_version\":\"5.2.0\"}]"),
        ("b/collections.json", "[]"),
        ("a/provenance.json", "{}"),
        ("r/collections/x/datasets/y.json", "{}"),
        (&format!("ok/collections/{C}/datasets/{D}.json"), "{}"),
        ("broken.json", "[1,"),
        ("c/collections", "not a folder"),
    ];
    let cases: &[(&[&str], i32, &str)] = &[
        // (arguments after `save --into T/S`, exit status, warnings)
        (&["T/a/collections.json", "T/b/collections.json"], 2,
            "'T/b/collections.json': each file needs its own name, other than provenance.json"),
        (&["T/a/provenance.json"], 2,
            "'T/a/provenance.json': each file needs its own name, other than provenance.json"),
        (&["T/a"], 2, "'T/a' is not a file"),
        (&["T/missing.json"], 2, "'T/missing.json' is not a file"),
        (&["T/broken.json"], 2,
            "'T/broken.json': line 1: unexpected end of input inside the top-level array (truncated JSON?)"),
        (&["--responses", "T/a/collections.json", "T/a/collections.json"], 2,
            "--responses 'T/a/collections.json' is not a folder"),
        (&["--responses", "T/r", "T/a/collections.json"], 2,
            "--responses 'T/r': only regular files collections/<uuid>/datasets/<uuid>.json (as cxg-h5ad \
             --keep-responses writes them) belong there; nothing saved because of 'T/r/collections/x'"),
        (&["--responses", "T/ok", "T/c/collections"], 2,
            "a file named 'collections' cannot be saved with --responses (they are stored in the \
             snapshot's collections/ folder)"),
        (&["--ontology-file", "T/none-ontology-v1.json", "T/a/collections.json"], 2,
            "cannot read 'T/none-ontology-v1.json': No such file or directory (os error 2)"),
        (&["T/a/collections.json", "T/a/datasets_index.json"], 0,
            "saved T/S/STAMP (2 files, 32 new bytes stored, 0 requests in provenance.json)"),
        (&["--responses", "T/ok", "T/a/collections.json"], 0,
            "saved T/S/STAMP (2 files, 6 new bytes stored, 0 requests in provenance.json)"),
        (&["-q", "--requests", "T/no-log.jsonl", "T/a/collections.json"], 0,
            "no request log at 'T/no-log.jsonl': provenance.json lists no requests (a stage swapped \
             for another command does not log them)"),
    ];
    for (argv, code, warnings) in cases {
        let t = tempfile::tempdir().unwrap();
        lay_out(t.path(), &files);
        let argv: Vec<&str> = ["save", "--into", "T/S"]
            .iter()
            .chain(*argv)
            .copied()
            .collect();
        let (got_code, out, got) = snapshot(t.path(), &argv);
        assert_eq!(
            (got_code, out, unstamp(t.path(), &got)),
            (*code, String::new(), warnings.to_string()),
            "{argv:?}"
        );
        // a refused save makes no snapshot and leaves no staging folder
        if *code != 0 {
            let left: Vec<_> = std::fs::read_dir(t.path().join("S"))
                .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
                .unwrap_or_default();
            assert!(
                left.iter().all(|n| n == ".objects" || n == ".lock"),
                "{argv:?}: {left:?}"
            );
        }
    }
}

/// The snapshot `S/latest` points at.
fn latest(t: &Path) -> std::path::PathBuf {
    t.join("S")
        .join(std::fs::read_link(t.join("S/latest")).unwrap())
}

/// Overwrite a read-only stored file.
fn overwrite(p: &Path, bytes: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn verify_names_each_damaged_object_and_file() {
    let sha = cxg_core::digest::sha256_hex(b"[{}]");
    let cases: &[(Damage, i32, &str)] = &[
        // (damage done after a save of two files, exit status, warnings)
        (|_| {}, 0, "verified 2 stored objects and 1 snapshot: 0 damaged"),
        (|t| overwrite(&latest(t).join("collections.json"), "[{},{}]"), 1,
            "object 'T/S/.objects/OLD' is damaged: its SHA-256 is now NEW\n\
             snapshot file 'T/S/STAMP/collections.json' is damaged: its SHA-256 differs from provenance.json's\n\
             verified 2 stored objects and 1 snapshot: 2 damaged"),
        (|t| std::fs::write(latest(t).join("extra.json"), "[]").unwrap(), 1,
            "snapshot 'T/S/STAMP' is damaged: it holds 'T/S/STAMP/extra.json', which its provenance.json does not list\n\
             verified 2 stored objects and 1 snapshot: 1 damaged"),
        (|t| std::fs::remove_file(latest(t).join("datasets_index.json")).unwrap(), 1,
            "snapshot file 'T/S/STAMP/datasets_index.json' is missing (or reached through a symbolic link)\n\
             verified 2 stored objects and 1 snapshot: 1 damaged"),
        (|t| overwrite(&latest(t).join("provenance.json"), "{"), 1,
            "snapshot 'T/S/STAMP' is damaged: no readable provenance.json\n\
             verified 2 stored objects and 1 snapshot: 1 damaged"),
    ];
    for (damage, code, warnings) in cases {
        let t = tempfile::tempdir().unwrap();
        lay_out(
            t.path(),
            &[("collections.json", "[{}]"), ("datasets_index.json", "[]")],
        );
        let saved = snapshot(
            t.path(),
            &[
                "save",
                "-q",
                "--into",
                "T/S",
                "T/collections.json",
                "T/datasets_index.json",
            ],
        );
        assert_eq!(saved, (0, String::new(), String::new()));
        damage(t.path());
        let (got_code, out, got) = snapshot(t.path(), &["verify", "T/S"]);
        let want = warnings
            .replace("OLD", &sha)
            .replace("NEW", &cxg_core::digest::sha256_hex(b"[{},{}]"));
        assert_eq!(
            (got_code, out, unstamp(t.path(), &got)),
            (*code, String::new(), want)
        );
    }
}

#[test]
fn a_save_that_fetched_nothing_adds_no_snapshot() {
    let t = tempfile::tempdir().unwrap();
    lay_out(
        t.path(),
        &[
            ("collections.json", "[{}]"),
            (
                "requests.jsonl",
                "{\"url\":\"u\",\"at\":\"2026-01-01T00:00:00Z\"}\n",
            ),
        ],
    );
    let save = |extra: &[&str]| {
        let argv: Vec<&str> = ["save", "-q", "--into", "T/S", "--provenance", "T/prov.json"]
            .iter()
            .chain(extra)
            .chain(&["T/collections.json"])
            .copied()
            .collect();
        let (code, out, warnings) = snapshot(t.path(), &argv);
        (code, out, unstamp(t.path(), &warnings))
    };
    let nothing =
        "no new snapshot: nothing was fetched (no requests logged) and the raw files equal \
                   those of the newest snapshot, T/S/STAMP (--always saves one anyway)";
    assert_eq!(save(&[]), (0, String::new(), String::new()));
    let first = latest(t.path());
    assert_eq!(save(&[]), (0, String::new(), nothing.to_string()));
    assert_eq!(latest(t.path()), first);
    // --provenance names the snapshot that holds the files
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("prov.json")).unwrap()).unwrap();
    assert_eq!(
        prov["snapshot"],
        *first.file_name().unwrap().to_string_lossy()
    );
    assert_eq!(prov["stored"]["collections.json"]["records"], 1);
    // requests logged, or --always: a new one
    assert_eq!(
        save(&["--requests", "T/requests.jsonl"]),
        (0, String::new(), String::new())
    );
    assert_ne!(latest(t.path()), first);
    let second = latest(t.path());
    assert_eq!(save(&["--always"]), (0, String::new(), String::new()));
    assert_ne!(latest(t.path()), second);
    let listed = cxg_catalog::snapshots::list(&t.path().join("S")).unwrap();
    assert_eq!(listed.len(), 3);
}

/// `choose` sets or removes a choice in place and keeps everything else;
/// a file that is not a provenance.json is refused, unchanged.
#[test]
fn choose_records_a_later_choice_in_place() {
    const P: &str = "{\n  \"snapshot\": \"S\",\n  \"requests\": [],\n  \"outputs\": {\n    \"a.csv\": 1\n  }\n}\n";
    const WITH: &str = "{\n  \"snapshot\": \"S\",\n  \"choices\": {\n    \"SELECT\": \"--tissue lung\",\n    \"CELLS\": \"--primary\"\n  },\n  \"n\": 2\n}\n";
    #[rustfmt::skip]
    let cases: [(&str, &[&str], i32, &str, &str); 7] = [
        (P, &["CELLS=--normal --primary"], 0,
         "{\n  \"snapshot\": \"S\",\n  \"requests\": [],\n  \"outputs\": {\n    \"a.csv\": 1\n  },\n  \"choices\": {\n    \"CELLS\": \"--normal --primary\"\n  }\n}\n", ""),
        (WITH, &["CELLS=--normal"], 0,
         "{\n  \"snapshot\": \"S\",\n  \"choices\": {\n    \"SELECT\": \"--tissue lung\",\n    \"CELLS\": \"--normal\"\n  },\n  \"n\": 2\n}\n", ""),
        (WITH, &["CELLS=", "SELECT="], 0, "{\n  \"snapshot\": \"S\",\n  \"n\": 2\n}\n", ""),
        (P, &["CELLS="], 0, P, ""),
        ("{\"outputs\": {}}\n", &["CELLS=x"], 2, "{\"outputs\": {}}\n",
         "'T/p.json': not a provenance.json (one object with a \"snapshot\" key, as cxg-snapshot save --provenance writes)"),
        ("{\"snapshot\": \"S\"} {}\n", &["CELLS=x"], 2, "{\"snapshot\": \"S\"} {}\n",
         "'T/p.json': more than one JSON value; a provenance.json holds one object"),
        ("{\"snapshot\": \"S\"", &["CELLS=x"], 2, "{\"snapshot\": \"S\"", "'T/p.json'"),
    ];
    for (before, choices, code, after, warning) in cases {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("p.json"), before).unwrap();
        let mut argv = vec!["choose", "--provenance", "T/p.json"];
        argv.extend(choices);
        let (c, out, w) = snapshot(t.path(), &argv);
        assert_eq!(
            (c, out.as_str()),
            (code, ""),
            "{choices:?} on {before}: {w}"
        );
        assert!(w.starts_with(warning), "{choices:?} on {before}: {w}");
        let now = std::fs::read_to_string(t.path().join("p.json")).unwrap();
        assert_eq!(now, after, "{choices:?} on {before}");
    }
    let t = tempfile::tempdir().unwrap();
    let (c, _, w) = snapshot(
        t.path(),
        &["choose", "--provenance", "T/none.json", "CELLS=x"],
    );
    assert_eq!(c, 2, "{w}");
    assert!(w.contains("T/none.json"), "{w}");
}
