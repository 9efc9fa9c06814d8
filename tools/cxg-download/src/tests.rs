//! In-process table tests of what a run makes of its input without a
//! server: the rows read (CSV or JSON), the plan (what is present, what a
//! part continues), the dry run's manifest, and the checks made before any
//! work. Transfers are tested against cxg-serve in tests/download.rs.

#![allow(clippy::unwrap_used)]

use crate::{run, Args};
use clap::Parser;
use cxg_core::ctx::run_memory;
use std::path::{Path, PathBuf};

const A: &str = "0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11";
const B: &str = "1b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11";
const HEADER: &str =
    "dataset_id,dataset_version_id,url,path,bytes,sha256,status,verified_by,etag,reason";

/// `$A`, `$B` (two dataset version ids) and `$D` (the folder) spelled out.
fn expand(s: &str, dir: &Path) -> String {
    s.replace("$A", A)
        .replace("$B", B)
        .replace("$D", &dir.display().to_string())
}

/// Run cxg-download in-process on `stdin` with `--dir dir` (and 1 MB free
/// unless the arguments say otherwise).
fn download(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, Vec<String>) {
    let dir_s = dir.display().to_string();
    let mut a = vec!["cxg-download", "--dir", &dir_s];
    if !args.contains(&"--assume-free-bytes") {
        a.extend(["--assume-free-bytes", "1000000"]);
    }
    a.extend_from_slice(args);
    let args = Args::try_parse_from(a).unwrap();
    run_memory(expand(stdin, dir).as_bytes(), |ctx| run(args, ctx))
}

/// A folder of its own under the system's temporary folder, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("cxg-download-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A dry run, one line a case: the input, the exit status, the manifest
/// rows (after the header). Nothing is on disk (`$D` does not exist) and
/// every size is given, so no request is made.
#[test]
fn dry_runs_of_csv_and_json_inputs() {
    let cases: &[(&str, i32, &[&str])] = &[
        ("h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,1000\n", 0, &[",,http://h/$A.h5ad,$D/$A.h5ad,1000,,would-fetch,,,dry run: would download 1000 bytes"]),
        ("dataset_id,dataset_version_id,h5ad_url,h5ad_filesize\nd,$A,http://h/$A.h5ad,7\n", 0, &["d,$A,http://h/$A.h5ad,$D/$A.h5ad,7,,would-fetch,,,dry run: would download 7 bytes"]),
        // the same file twice: one job, two rows
        ("h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,5\nhttp://h/$A.h5ad,5\n", 0, &[",,http://h/$A.h5ad,$D/$A.h5ad,5,,would-fetch,,,dry run: would download 5 bytes", ",,http://h/$A.h5ad,$D/$A.h5ad,5,,would-fetch,,,dry run: would download 5 bytes"]),
        // the same file name from another URL
        ("h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,5\nhttp://g/$A.h5ad,5\n", 1, &[",,http://h/$A.h5ad,$D/$A.h5ad,5,,would-fetch,,,dry run: would download 5 bytes", ",,http://g/$A.h5ad,,,,failed,,,'$A.h5ad' is also the file of another row with a different url or size (http://h/$A.h5ad)"]),
        ("h5ad_url,h5ad_filesize\nhttp://h/x.h5ad,5\n", 1, &[",,http://h/x.h5ad,,,,failed,,,the file name of 'http://h/x.h5ad' is not <uuid>.h5ad; nothing written"]),
        ("h5ad_url,h5ad_filesize\nftp://h/$A.h5ad,5\n", 1, &[",,ftp://h/$A.h5ad,,,,failed,,,'ftp://h/$A.h5ad' is not an http(s) URL"]),
        ("h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,1.5\n", 1, &[",,http://h/$A.h5ad,,,,failed,,,h5ad_filesize '1.5' is not a number of bytes"]),
        // a row without an H5AD is counted apart (no_asset), not a failure
        ("h5ad_url,h5ad_filesize\n,5\n", 0, &[",,,,,,no_asset,,,no H5AD url (h5ad_url is empty)"]),
        (r#"{"dataset_id":"d","dataset_version_id":"$B","assets":[{"filetype":"RDS","url":"http://h/$B.rds"},{"filetype":"H5AD","url":"http://h/$B.h5ad","filesize":9}]}"#, 0, &["d,$B,http://h/$B.h5ad,$D/$B.h5ad,9,,would-fetch,,,dry run: would download 9 bytes"]),
        // no dataset_version_id: the URL's
        (r#"[{"dataset_id":"d","assets":[{"filetype":"H5AD","url":"http://h/$A.h5ad","filesize":9}]}]"#, 0, &["d,$A,http://h/$A.h5ad,$D/$A.h5ad,9,,would-fetch,,,dry run: would download 9 bytes"]),
        (r#"{"dataset_id":"d","dataset_version_id":"$B","assets":[]}"#, 0, &["d,$B,,,,,no_asset,,,the record has no H5AD asset"]),
        (r#"{"dataset_id":"d","assets":[{"filetype":"H5AD","url":"http://h/$A.h5ad","filesize":"9"}]}"#, 1, &[r#"d,,http://h/$A.h5ad,,,,failed,,,"filesize ""9"" is not a number""#]),
    ];
    let dir = std::env::temp_dir()
        .join("cxg-download-no-such-folder")
        .join("h5ad");
    for (input, code, rows) in cases {
        let (got, out, warnings) = download(&dir, &["--dry-run"], input);
        let mut want = vec![HEADER.to_string()];
        want.extend(rows.iter().map(|r| expand(r, &dir)));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            (got, lines),
            (*code, want.iter().map(String::as_str).collect()),
            "{input}\n{warnings:?}"
        );
    }
}

/// What is on disk counts: a complete file is present (checked by size),
/// a part with its sidecar is continued; the summary says so, and each row
/// that failed is named.
#[test]
fn a_dry_run_counts_what_is_on_disk() {
    let s = Scratch::new("plan");
    std::fs::write(s.0.join(format!("{A}.h5ad")), b"12345").unwrap();
    std::fs::write(s.0.join(format!("{B}.h5ad.part")), b"123").unwrap();
    let side =
        format!(r#"{{"url":"http://h/{B}.h5ad","size":8,"etag":null,"last_modified":null}}"#);
    std::fs::write(s.0.join(format!("{B}.h5ad.part.json")), side).unwrap();
    let input = "dataset_version_id,h5ad_url,h5ad_filesize\n$A,http://h/$A.h5ad,5\n$B,http://h/$B.h5ad,8\nv,http://h/x.h5ad,1\n";
    let (code, out, warnings) = download(&s.0, &["--dry-run"], input);
    let want = [
        HEADER,
        ",$A,http://h/$A.h5ad,$D/$A.h5ad,5,,present,size,,dry run: already present",
        ",$B,http://h/$B.h5ad,$D/$B.h5ad,8,,would-fetch,,,dry run: would resume from byte 3 (5 bytes left)",
        ",v,http://h/x.h5ad,,,,failed,,,the file name of 'http://h/x.h5ad' is not <uuid>.h5ad; nothing written",
    ];
    let want: Vec<String> = want.iter().map(|l| expand(l, &s.0)).collect();
    assert_eq!(code, 1);
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    let want_warnings = [
        "3 rows, 2 files: 1 present, 1 to fetch (5 B = 5 bytes, continuing from 3 B already in .part files), 1 rows with errors; 976.6 KiB free in '$D'",
        "dataset version v (row 3): the file name of 'http://h/x.h5ad' is not <uuid>.h5ad; nothing written",
    ];
    let want_warnings: Vec<String> = want_warnings.iter().map(|l| expand(l, &s.0)).collect();
    assert_eq!(warnings, want_warnings);
    // a dry run writes nothing to the folder
    let mut names: Vec<String> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
}

/// Checks made before any work, one line a case: arguments, input, the
/// exit status, the message.
#[test]
fn refused_before_any_work() {
    let s = Scratch::new("refused");
    let file = |n: &str| s.0.join(n).display().to_string();
    let (x, y) = (file("x.csv"), file("y.csv"));
    let same_spelled_otherwise = s.0.join(".").join("x.csv").display().to_string();
    let one_row = "h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,1000\n";
    let cases: Vec<(Vec<&str>, &str, i32, String)> = vec![
        (vec!["-o", &x, "--failures", &x], one_row, 2, format!("--failures '{x}' is also -o: give them different files")),
        (vec!["-o", &x, "--failures", &same_spelled_otherwise], one_row, 2, format!("--failures '{same_spelled_otherwise}' is also -o: give them different files")),
        (vec!["--assume-free-bytes", "10"], one_row, 2, "not enough space in '$D': 1 files need 1000 bytes (1000 B), 10 bytes (10 B) are available".into()),
        (vec![], "dataset_id,url\nx,y\n", 2, "stdin: expected an h5ad_url column (cxg-h5ad output) or JSON dataset records; found columns: dataset_id, url".into()),
        (vec![], " \n", 2, "stdin: the input is empty".into()),
        (vec![], "[1]", 2, "stdin: line 1: element 0 is not a dataset object".into()),
        (vec!["--previous", &y], one_row, 2, format!("cannot open '{y}'")),
    ];
    let dir = s.0.join("h5ad");
    for (args, input, code, msg) in cases {
        let (got, out, warnings) = download(&dir, &args, input);
        let msg = expand(&msg, &dir);
        assert_eq!(got, code, "{args:?}: {warnings:?}");
        assert_eq!(out, "", "{args:?}");
        assert!(
            warnings.iter().any(|w| w.starts_with(&msg)),
            "{args:?}: {warnings:?}, wanted {msg}"
        );
    }
    // nothing was made: no folder, no output, no failures file
    assert_eq!(std::fs::read_dir(&s.0).unwrap().count(), 0);
}

/// Outputs that are files the downloads write (final name, `.part`,
/// sidecar) or one another are refused before any work; the folder exists.
#[test]
fn outputs_that_are_files_the_run_writes_are_refused() {
    let s = Scratch::new("collide");
    let file = |n: &str| s.0.join(expand(n, &s.0)).display().to_string();
    let (fin, part, side, log) = (
        file("$A.h5ad"),
        file("$A.h5ad.part"),
        file("$A.h5ad.part.json"),
        file("log.jsonl"),
    );
    std::fs::write(&fin, b"the verified file").unwrap();
    let one_row = "h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,17\n";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["-o", &fin],
            format!("-o '{fin}' is '{fin}', a file the download of http://h/$A.h5ad writes"),
        ),
        (
            vec!["--failures", &part],
            format!("--failures '{part}' is '{part}', a file the download"),
        ),
        (
            vec!["--log-requests", &side],
            format!("--log-requests '{side}' is '{side}', a file the download"),
        ),
        (
            vec!["-o", &log, "--log-requests", &log],
            format!("--log-requests '{log}' is also -o"),
        ),
    ];
    for (args, msg) in cases {
        let (got, out, warnings) = download(&s.0, &args, one_row);
        let msg = expand(&msg, &s.0);
        assert_eq!(got, 2, "{args:?}: {warnings:?}");
        assert_eq!(out, "", "{args:?}");
        assert!(
            warnings.iter().any(|w| w.starts_with(&msg)),
            "{args:?}: {warnings:?}, wanted {msg}"
        );
    }
    assert_eq!(std::fs::read(&fin).unwrap(), b"the verified file");
    assert_eq!(std::fs::read_dir(&s.0).unwrap().count(), 1);
}

/// Dry runs of inputs that were misread: a version whose URL names
/// another version's file, sizes whose total overflows, a byte order mark.
#[test]
fn versions_that_disagree_overflowing_totals_and_a_bom() {
    let s = Scratch::new("misread");
    let d = s.0.join("h5ad");
    // the URL's file is B's, the row says A
    let input =
        "dataset_version_id,h5ad_url,h5ad_filesize\n$A,http://h/$B.h5ad,5\n$A,http://h/$A.h5ad,5\n";
    let (code, out, warnings) = download(&d, &["--dry-run"], input);
    assert_eq!(code, 1, "{warnings:?}");
    let row = expand(",$A,http://h/$B.h5ad,,,,failed,,,\"dataset_version_id $A but the URL names the file $B.h5ad of another version: refused, nothing written\"", &d);
    assert_eq!(out.lines().nth(1), Some(row.as_str()));
    assert!(
        warnings.iter().any(|w| w.starts_with(&expand(
            "dataset version $A (row 1): dataset_version_id $A but",
            &d
        ))),
        "{warnings:?}"
    );
    // two sizes of 2^63 wrap to zero in u64
    let big = "h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,9223372036854775808\nhttp://h/$B.h5ad,9223372036854775808\n";
    let (code, out, warnings) = download(&d, &["--dry-run"], big);
    assert_eq!((code, out.as_str()), (2, ""), "{warnings:?}");
    assert_eq!(
        warnings,
        ["the sizes of the files to fetch add up to more than 18446744073709551615 bytes: a size in the input is wrong"]
    );
    // JSON and CSV after a UTF-8 byte order mark
    let json = "\u{feff}[{\"dataset_version_id\":\"$A\",\"assets\":[{\"filetype\":\"H5AD\",\"url\":\"http://h/$A.h5ad\",\"filesize\":5}]}]";
    let csv = "\u{feff}dataset_version_id,h5ad_url,h5ad_filesize\n$A,http://h/$A.h5ad,5\n";
    for input in [json, csv] {
        let (code, out, warnings) = download(&d, &["--dry-run"], input);
        assert_eq!(code, 0, "{warnings:?}");
        let row = expand(
            ",$A,http://h/$A.h5ad,$D/$A.h5ad,5,,would-fetch,,,dry run: would download 5 bytes",
            &d,
        );
        assert_eq!(out.lines().nth(1), Some(row.as_str()), "{input}");
    }
}

/// `--max-total`: more bytes to fetch than the bound is refused before any
/// transfer (exit 2, the plan printed first); within it, the run goes on.
#[test]
fn max_total_bounds_what_is_fetched() {
    let dir = std::env::temp_dir()
        .join("cxg-download-no-such-folder")
        .join("h5ad");
    let input = "h5ad_url,h5ad_filesize\nhttp://h/$A.h5ad,2048\n,\n";
    let (code, out, warnings) = download(&dir, &["--dry-run", "--max-total", "1K"], input);
    assert_eq!((code, out.as_str()), (2, ""), "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "2 rows, 1 files: 0 present, 1 to fetch (2.0 KiB = 2048 bytes), 0 rows with errors;"
        ),
        "{warnings:?}"
    );
    assert!(
        warnings[0].ends_with("; 1 rows without an H5AD (no_asset)"),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("1 files need 2048 bytes (2.0 KiB), more than --max-total 1024 (1.0 KiB): nothing transferred")),
        "{warnings:?}"
    );
    let (code, _, warnings) = download(&dir, &["--dry-run", "--max-total", "2K"], input);
    assert_eq!(code, 0, "{warnings:?}");
}
