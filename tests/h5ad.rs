//! cxg-h5ad against cxg-serve on loopback: index mode, index misses that
//! fall back, --per-dataset at -j 1 and -j 16, removed (410) and unknown
//! (404) datasets, injected faults that recover and that do not, bad ids,
//! missing columns, multi-line CSV fields, and reruns on its own output.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::Value;
use std::path::Path;

/// The harvester CSV of a snapshot (from its collections list).
fn check_against_truth(out: &[u8], input: &[u8], snapshot: &Path) {
    let (hi, rows_in) = csv_rows(input);
    let (h, rows) = csv_rows(out);
    assert_eq!(&h[..hi.len()], &hi[..]);
    assert_eq!(&h[hi.len()..], ["cell_count", "h5ad_url"]);
    assert_eq!(rows.len(), rows_in.len());
    let t = snapshot_truth(snapshot);
    let di = h.iter().position(|x| x == "dataset_id").unwrap();
    for (r, ri) in rows.iter().zip(&rows_in) {
        assert_eq!(&r[..hi.len()], &ri[..], "input cells changed");
        let (count, url) = &t[&r[di]];
        assert_eq!(
            (&r[hi.len()], &r[hi.len() + 1]),
            (count, url),
            "row {}",
            r[di]
        );
    }
}

#[test]
fn index_mode_joins_and_falls_back_for_misses() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let input = csv_of(&snap);
    let o = run("cxg-h5ad", &["--api-url", &s.url], Some(&input));
    o.ok().stderr_has("100 rows (97 with an H5AD url): 98 from the index, 2 per dataset, 0 failed; 3 HTTP requests");
    check_against_truth(&o.stdout, &input, &snap);
    let log = s.requests();
    assert_eq!(log.len(), 3);
    assert!(log[0].contains("GET /curation/v1/datasets 200"));
    assert!(log[1..]
        .iter()
        .all(|l| l.contains("/datasets/") && l.ends_with(" 200")));
}

#[test]
fn a_saved_index_works_offline() {
    let snap = fixture("snapshot");
    let input = csv_of(&snap);
    // an index holding every dataset: no request at all, against a dead URL
    let t = TempDir::new();
    let all = snapshot_datasets(&snap);
    let idx = t.join("index.json");
    std::fs::write(&idx, Value::Array(all).to_string()).unwrap();
    let o = run(
        "cxg-h5ad",
        &["--api-url", &dead_url(), "--index", idx.to_str().unwrap()],
        Some(&input),
    );
    o.ok().stderr_has("0 HTTP requests");
    check_against_truth(&o.stdout, &input, &snap);
    // the committed index lacks 2 datasets: those need the network
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &dead_url(),
            "--retries",
            "0",
            "--index",
            snap.join("datasets.json").to_str().unwrap(),
        ],
        Some(&input),
    );
    o.code(3).stderr_has("cannot be reached");
    assert!(o.stdout.is_empty());
}

#[test]
fn per_dataset_at_j1_and_j16_is_identical_to_index_mode() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let input = csv_of(&snap);
    let index = run("cxg-h5ad", &["--api-url", &s.url], Some(&input));
    let j1 = run(
        "cxg-h5ad",
        &["--api-url", &s.url, "--per-dataset", "-j", "1"],
        Some(&input),
    );
    let j16 = run(
        "cxg-h5ad",
        &["--api-url", &s.url, "--per-dataset", "-j", "16"],
        Some(&input),
    );
    j1.ok().stderr_has("100 HTTP requests");
    j16.ok();
    assert_eq!(j1.stdout, j16.stdout);
    assert_eq!(index.stdout, j16.stdout);
}

#[test]
fn removed_and_unknown_datasets_are_named_kept_as_removed_and_exit_0() {
    let t = TempDir::new();
    let snap = t.join("snap");
    generate(
        &snap,
        &[
            "--seed",
            "5",
            "--collections",
            "12",
            "--datasets",
            "60",
            "--gone",
            "2",
        ],
    );
    let gone: Vec<String> = serde_json::from_slice(&read(&snap.join("gone.json"))).unwrap();
    let s = Server::start(&snap, &[]);
    let mut input = csv_of(&snap);
    // a row whose dataset never existed (404); its collection is real
    let (h, rows) = csv_rows(&input);
    let mut extra = rows[0].clone();
    let di = h.iter().position(|x| x == "dataset_id").unwrap();
    extra[di] = "00000000-0000-4000-8000-00000000dead".into();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&extra).unwrap();
    input.extend(w.into_inner().unwrap());
    let failures = t.join("failures.csv");
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--failures",
            failures.to_str().unwrap(),
        ],
        Some(&input),
    );
    // removed datasets are news, not failures: warned, in the failures file, exit 0
    o.code(0)
        .stderr_lacks("could not be processed")
        .stderr_has("0 failed, 3 removed from the service");
    for id in &gone {
        o.stderr_has(&format!("dataset {id}"))
            .stderr_has("the dataset was removed (410 Gone)");
    }
    o.stderr_has("dataset 00000000-0000-4000-8000-00000000dead")
        .stderr_has("not found (404), removed");
    let (ho, out) = csv_rows(&o.stdout);
    assert_eq!(out.len(), 61, "every input row is kept");
    let cc = ho.iter().position(|x| x == "cell_count").unwrap();
    for r in &out {
        let failed = gone.contains(&r[di]) || r[di].ends_with("dead");
        assert_eq!(
            r[cc].is_empty() && r[cc + 1].is_empty(),
            failed,
            "{}",
            r[di]
        );
    }
    let (fh, frows) = csv_rows(&read(&failures));
    assert_eq!(fh, ["dataset_id", "collection_id", "status", "reason"]);
    assert_eq!(frows.len(), 3);
    let statuses: Vec<&str> = frows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(statuses, ["removed"; 3]);
    let reasons: Vec<&str> = frows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(reasons.iter().filter(|s| s.contains("410 Gone")).count(), 2);
    assert!(reasons.iter().any(|s| s.contains("(404)")));
    // removed datasets are not retried: 1 index + 3 per-dataset requests
    assert_eq!(s.requests().len(), 4);
}

#[test]
fn injected_faults_that_recover_give_the_fault_free_output() {
    let snap = fixture("snapshot");
    let input = csv_of(&snap);
    let clean = Server::start(&snap, &[]);
    let want = run(
        "cxg-h5ad",
        &["--api-url", &clean.url, "--per-dataset", "-j", "8"],
        Some(&input),
    );
    want.ok();
    // sequential requests: a retry is the request after a fault, so these
    // recover deterministically
    for fault in [
        vec!["--fail-every", "3", "--fail-status", "503"],
        vec![
            "--fail-every",
            "4",
            "--fail-status",
            "429",
            "--retry-after",
            "0",
        ],
        vec!["--fail-every", "5", "--truncate"],
    ] {
        let s = Server::start(&snap, &fault);
        let o = run(
            "cxg-h5ad",
            &[
                "--api-url",
                &s.url,
                "--per-dataset",
                "-j",
                "1",
                "--retries",
                "2",
                "--backoff-ms",
                "1",
            ],
            Some(&input),
        );
        o.ok();
        assert_eq!(o.stdout, want.stdout, "{fault:?}");
        assert!(s.requests().len() > 120, "{fault:?}: faults were injected");
    }
    // 16 at a time: the first 16 requests fail; no request can fail more
    // than 16 times, so 16 retries always recover, with one extra request
    // per fault
    let s = Server::start(&snap, &["--fail-first", "16", "--fail-status", "503"]);
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--per-dataset",
            "-j",
            "16",
            "--retries",
            "16",
            "--backoff-ms",
            "1",
        ],
        Some(&input),
    );
    o.ok();
    assert_eq!(o.stdout, want.stdout);
    assert_eq!(s.requests().len(), 116);
    // index mode with a flaky index request
    let s = Server::start(
        &snap,
        &["--fail-first", "2", "--fail-match", "/curation/v1/datasets"],
    );
    let o = run(
        "cxg-h5ad",
        &["--api-url", &s.url, "--backoff-ms", "1"],
        Some(&input),
    );
    o.ok();
    assert_eq!(o.stdout, want.stdout);
}

#[test]
fn faults_that_do_not_recover_fail_only_their_rows() {
    let snap = fixture("snapshot");
    let input = csv_of(&snap);
    let (h, rows) = csv_rows(&input);
    let di = h.iter().position(|x| x == "dataset_id").unwrap();
    let victim = rows[7][di].clone();
    let s = Server::start(
        &snap,
        &[
            "--fail-every",
            "1",
            "--fail-status",
            "503",
            "--fail-match",
            &victim,
        ],
    );
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--per-dataset",
            "--retries",
            "2",
            "--backoff-ms",
            "1",
        ],
        Some(&input),
    );
    o.code(1)
        .stderr_has(&format!("dataset {victim}"))
        .stderr_has("HTTP 503")
        .stderr_has("(after 3 attempts)");
    let (_, out) = csv_rows(&o.stdout);
    assert_eq!(out.len(), 100);
    let t = snapshot_truth(&snap);
    for r in &out {
        let want = if r[di] == victim {
            (String::new(), String::new())
        } else {
            t[&r[di]].clone()
        };
        assert_eq!((&r[21], &r[22]), (&want.0, &want.1), "{}", r[di]);
    }
    // the index itself failing for good is an API failure: exit 3, no output file
    let s = Server::start(&snap, &["--fail-every", "1", "--fail-status", "502"]);
    let t = TempDir::new();
    let out = t.join("out.csv");
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "-o",
            out.to_str().unwrap(),
        ],
        Some(&input),
    );
    o.code(3)
        .stderr_has("GET ")
        .stderr_has("/datasets failed: HTTP 502");
    assert!(t.names().is_empty());
}

#[test]
fn ids_that_are_not_uuids_are_row_errors_without_requests() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let input = "collection_id,dataset_id,note\n../../etc,passwd,x\n9a060f6a-80f0-4498-bc22-5ecebdfc4476,not-a-uuid,y\n";
    let o = run(
        "cxg-h5ad",
        &["--api-url", &s.url, "--per-dataset"],
        Some(input.as_bytes()),
    );
    o.code(1)
        .stderr_has("collection_id '../../etc' is not a UUID; no request made")
        .stderr_has("dataset_id 'not-a-uuid' is not a UUID");
    assert_eq!(o.text(), "collection_id,dataset_id,note,cell_count,h5ad_url\n../../etc,passwd,x,,\n9a060f6a-80f0-4498-bc22-5ecebdfc4476,not-a-uuid,y,,\n");
    assert!(s.requests().is_empty());
}

#[test]
fn missing_columns_and_unreadable_csv_exit_2() {
    let o = run(
        "cxg-h5ad",
        &["--api-url", &dead_url()],
        Some(b"collection,dataset\na,b\n"),
    );
    o.code(2)
        .stderr_has("expected a dataset_id column (and collection_id for rows the index lacks); found: collection, dataset");
    let o = run(
        "cxg-h5ad",
        &["--api-url", &dead_url()],
        Some(b"collection_id\tdataset_id\na\tb\n"),
    );
    o.code(2).stderr_has("use --delimiter tab");
    let o = run("cxg-h5ad", &["--api-url", &dead_url()], Some(b""));
    o.code(2).stderr_has("found: (none)");
    let o = run(
        "cxg-h5ad",
        &["--api-url", &dead_url()],
        Some(b"collection_id,dataset_id\na,b\nc,d,e\n"),
    );
    o.code(2).stderr_has("CSV record 2");
}

#[test]
fn a_csv_of_dataset_ids_alone_is_joined_through_the_index() {
    let snap = fixture("snapshot");
    let truth = snapshot_truth(&snap);
    let (h, rows) = csv_rows(&csv_of(&snap));
    let di = h.iter().position(|c| c == "dataset_id").unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r[di].as_str()).collect();
    let tsv = format!(
        "dataset_id\tnote\n{}\n",
        ids.iter()
            .map(|i| format!("{i}\tx"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &dead_url(),
            "--delimiter",
            "tab",
            "--index",
            snap.join("datasets.json").to_str().unwrap(),
        ],
        Some(tsv.as_bytes()),
    );
    // rows the committed index lacks (it is stale on purpose) cannot be
    // asked for without a collection_id: named, and the exit status says so
    o.code(1).stderr_has("no collection_id column");
    let (oh, orows) = csv_rows(&o.stdout);
    assert_eq!(oh, ["dataset_id", "note", "cell_count", "h5ad_url"]);
    assert_eq!(orows.len(), ids.len());
    let mut filled = 0;
    for r in &orows {
        if let Some((count, url)) = truth.get(&r[0]) {
            if !r[3].is_empty() {
                assert_eq!((&r[2], &r[3]), (count, url));
                filled += 1;
            }
        }
    }
    assert!(filled > ids.len() / 2, "{filled} of {}", ids.len());
}

#[test]
fn multi_line_fields_pass_through_and_reruns_are_idempotent() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let (h, rows) = csv_rows(&csv_of(&snap));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut hh = h.clone();
    hh.push("notes".into());
    w.write_record(&hh).unwrap();
    for (i, r) in rows.iter().enumerate() {
        let mut r = r.clone();
        r.push(format!("line one, \"quoted\"\nline two {i}\r\nü"));
        w.write_record(&r).unwrap();
    }
    let input = w.into_inner().unwrap();
    let once = run("cxg-h5ad", &["--api-url", &s.url, "--extra"], Some(&input));
    once.ok();
    let (ho, out) = csv_rows(&once.stdout);
    assert_eq!(
        &ho[hh.len()..],
        [
            "cell_count",
            "h5ad_url",
            "dataset_title",
            "explorer_url",
            "h5ad_filesize",
            "rds_url"
        ]
    );
    let (_, rows_in) = csv_rows(&input);
    for (a, b) in out.iter().zip(&rows_in) {
        assert_eq!(&a[..hh.len()], &b[..]);
    }
    // its own output as input: the columns are replaced, not added again
    let twice = run(
        "cxg-h5ad",
        &["--api-url", &s.url, "--extra"],
        Some(&once.stdout),
    );
    twice.ok();
    assert_eq!(twice.stdout, once.stdout);
}

#[test]
fn progress_only_when_stderr_is_a_terminal() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let t = TempDir::new();
    std::fs::write(t.join("in.csv"), csv_of(&snap)).unwrap();
    // not a terminal: no progress line, only the summary
    let o = run(
        "cxg-h5ad",
        &["--api-url", &s.url, t.join("in.csv").to_str().unwrap()],
        None,
    );
    o.ok();
    assert!(!o.stderr.contains("ETA"), "{}", o.stderr);
    // --quiet: nothing at all
    let o = run(
        "cxg-h5ad",
        &[
            "--quiet",
            "--api-url",
            &s.url,
            t.join("in.csv").to_str().unwrap(),
        ],
        None,
    );
    o.ok();
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    // a terminal (util-linux `script` gives the command a pty)
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("`script` is not installed (needed for a terminal)");
        return;
    }
    let cmd = format!(
        "{} --api-url {} in.csv > out.csv",
        bin("cxg-h5ad").display(),
        s.url
    );
    let o = sh(t.path(), &format!("script -qec '{cmd}' /dev/null"));
    o.ok();
    let screen = o.text();
    assert!(
        screen.contains("100/100 rows") && screen.contains("ETA"),
        "{screen}"
    );
    assert_eq!(csv_rows(&read(&t.join("out.csv"))).1.len(), 100);
}

#[test]
fn keep_responses_writes_the_per_dataset_answers_only() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let input = csv_of(&snap);
    let index: Vec<String> = snapshot_datasets(&snap)
        .iter()
        .map(|d| d["dataset_id"].as_str().unwrap().to_string())
        .collect();
    let saved: Value = serde_json::from_slice(&read(&snap.join("datasets.json"))).unwrap();
    let in_index: std::collections::HashSet<&str> = saved
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dataset_id"].as_str().unwrap())
        .collect();
    // the rows the saved index lacks, as (collection, dataset)
    let (h, rows) = csv_rows(&input);
    let (ci, di) = (
        h.iter().position(|x| x == "collection_id").unwrap(),
        h.iter().position(|x| x == "dataset_id").unwrap(),
    );
    let mut misses: Vec<String> = rows
        .iter()
        .filter(|r| !in_index.contains(r[di].as_str()))
        .map(|r| format!("collections/{}/datasets/{}.json", r[ci], r[di]))
        .collect();
    misses.sort();
    assert_eq!(misses.len(), 2);
    assert!(index.len() > in_index.len());

    let t = TempDir::new();
    let keep = t.join("responses");
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--index",
            snap.join("datasets.json").to_str().unwrap(),
            "--keep-responses",
            keep.to_str().unwrap(),
        ],
        Some(&input),
    );
    o.ok()
        .stderr_has("98 from the index, 2 per dataset, 0 failed");
    // one file per per-dataset row, byte for byte what the server sent;
    // none for the 98 rows the index answered
    assert_eq!(files_below(&keep), misses);
    for m in &misses {
        assert_eq!(read(&keep.join(m)), read(&snap.join(m)), "{m}");
    }

    // a 404 row writes nothing; a good one beside it does
    let c = "6e2974ee-853a-4444-b781-01a428af919f";
    let d = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
    let keep2 = t.join("two");
    let csv =
        format!("collection_id,dataset_id\n{c},{d}\n{c},00000000-0000-4000-8000-00000000dead\n");
    let o = keep_run(&s.url, &keep2, &csv);
    o.code(0).stderr_has("not found (404), removed");
    let want = format!("collections/{c}/datasets/{d}.json");
    assert_eq!(files_below(&keep2), std::slice::from_ref(&want));
    assert_eq!(read(&keep2.join(&want)), read(&snap.join(&want)));
}

/// cxg-h5ad per dataset against `url`, keeping its answers in `dir`.
fn keep_run(url: &str, dir: &Path, csv: &str) -> Out {
    run(
        "cxg-h5ad",
        &[
            "--api-url",
            url,
            "--per-dataset",
            "--keep-responses",
            dir.to_str().unwrap(),
        ],
        Some(csv.as_bytes()),
    )
}

#[cfg(unix)]
#[test]
fn keep_responses_refuses_a_folder_holding_a_planted_symlink() {
    let snap = fixture("snapshot");
    let s = Server::start(&snap, &[]);
    let c = "6e2974ee-853a-4444-b781-01a428af919f";
    let d = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
    let csv = format!("collection_id,dataset_id\n{c},{d}\n");
    for planted in ["collections", &format!("collections/{c}")] {
        let t = TempDir::new();
        let (keep, outside) = (t.join("responses"), t.join("outside"));
        std::fs::create_dir_all(&outside).unwrap();
        let link = keep.join(planted);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let o = keep_run(&s.url, &keep, &csv);
        // refused before any request: the folder must start empty (a link
        // planted while the run goes is refused as it is met: create_subdir)
        o.code(2).stderr_has("is not empty");
        assert!(files_below(&outside).is_empty(), "{planted}");
    }
}
