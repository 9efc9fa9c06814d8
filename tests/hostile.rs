//! Nothing lost, nothing escapes: output files under signals and odd
//! targets, hostile and broken servers, runaway expressions and sizes.
//! Every case runs the real binaries (against cxg-serve on 127.0.0.1 where
//! a server is involved) and sends real signals.

#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn snapshot() -> std::path::PathBuf {
    fixture("snapshot")
}

fn cid0() -> String {
    let v = json(&read(&snapshot().join("collections.json")));
    v[0]["collection_id"].as_str().unwrap().to_string()
}

/// Files (hidden ones included) in `dir`.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -s {sig} {pid}");
}

#[test]
fn devices_fifos_and_dev_stdout_are_written_directly() {
    let t = TempDir::new();
    let input = snapshot().join("collections.json");
    let inp = input.to_str().unwrap();
    // /dev/null stays a device (as root it used to become a regular file)
    run("cxg-split", &[inp, "-o", "/dev/null"], None).ok();
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // a FIFO is written into, not replaced
    let fifo = t.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let f2 = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read(f2).unwrap());
    run("cxg-split", &[inp, "-o", fifo.to_str().unwrap()], None).ok();
    let got = reader.join().unwrap();
    let want = run("cxg-split", &[inp], None).stdout;
    assert_eq!(got, want);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // -o /dev/stdout is stdout
    let o = run("cxg-split", &[inp, "-o", "/dev/stdout"], None);
    o.ok();
    assert_eq!(o.stdout, want);
    assert_eq!(entries(t.path()), ["pipe"]);
}

/// cxg-download's `--failures` is written as `-o` is: a device stays a
/// device and a FIFO is written into, not replaced by a regular file.
#[test]
fn download_failures_to_a_device_or_a_fifo_are_written_directly() {
    let t = TempDir::new();
    // a row with a URL that is not http(s) fails: nothing to transfer, the failures file has it
    let csv = b"dataset_id,h5ad_url\nx,ftp://h/x.h5ad\n";
    let download = |failures: &str| {
        let mut c = Command::new(bin("cxg-download"));
        c.args(["--dir", "h5ad", "--dry-run", "--failures", failures])
            .current_dir(t.path());
        run_cmd(c, Some(csv))
    };
    download("f.csv").code(1);
    let want = read(&t.join("f.csv"));
    assert!(String::from_utf8_lossy(&want).contains("is not an http(s) URL"));
    download("/dev/null").code(1);
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    let fifo = t.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let f2 = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read(f2).unwrap());
    download("pipe").code(1);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(reader.join().unwrap(), want);
}

#[test]
fn a_symlinked_output_replaces_its_target_and_stays_a_link() {
    let t = TempDir::new();
    std::fs::write(t.join("real.jsonl"), b"old\n").unwrap();
    std::os::unix::fs::symlink("real.jsonl", t.join("link.jsonl")).unwrap();
    let input = snapshot().join("collections.json");
    run(
        "cxg-split",
        &[
            input.to_str().unwrap(),
            "-o",
            t.join("link.jsonl").to_str().unwrap(),
        ],
        None,
    )
    .ok();
    assert!(std::fs::symlink_metadata(t.join("link.jsonl"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        read(&t.join("real.jsonl")),
        run("cxg-split", &[input.to_str().unwrap()], None).stdout
    );
    assert_eq!(entries(t.path()), ["link.jsonl", "real.jsonl"]);
}

#[test]
fn signals_remove_temp_files_and_exit_as_shells_expect() {
    for (sig, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let t = TempDir::new();
        let out = t.join("out.jsonl");
        let mut child = Command::new(bin("cxg-split"))
            .args(["-o", out.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // one record in, and the input kept open: the tool is mid-write
        stdin.write_all(b"{\"collection_id\":\"a\"}\n").unwrap();
        stdin.flush().unwrap();
        wait_for("the temporary file", || {
            entries(t.path()).iter().any(|n| n.ends_with(".tmp"))
        });
        kill(child.id(), sig);
        let status = child.wait().unwrap();
        drop(stdin);
        assert_eq!(status.code(), Some(code), "SIG{sig}");
        assert_eq!(
            entries(t.path()),
            Vec::<String>::new(),
            "SIG{sig} left files"
        );
    }
}

#[test]
fn a_tool_waiting_on_the_network_leaves_nothing_when_killed() {
    let s = Server::start(&snapshot(), &["--latency-ms", "30000"]);
    let t = TempDir::new();
    let mut child = Command::new(bin("cxg-fetch"))
        .args([
            "--api-url",
            &s.url,
            "-o",
            t.join("collections.json").to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    kill(child.id(), "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(entries(t.path()), Vec::<String>::new());
}

#[test]
fn output_paths_are_checked_before_any_request() {
    let s = Server::start(&snapshot(), &[]);
    let csv = csv_of(&snapshot());
    let t = TempDir::new();
    for extra in [
        vec!["-o", "/nonexistent-dir/out.csv"],
        vec!["--failures", "/nonexistent-dir/failed.csv"],
        vec!["-o", t.path().to_str().unwrap()],
    ] {
        let mut args = vec!["--api-url", s.url.as_str(), "--per-dataset"];
        args.extend(extra.iter().copied());
        let o = run("cxg-h5ad", &args, Some(&csv));
        o.code(2);
        assert!(
            o.stderr.contains("nonexistent-dir") || o.stderr.contains("is a folder"),
            "{}",
            o.stderr
        );
    }
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "-o", "/nonexistent-dir/c.json"],
        None,
    );
    o.code(2).stderr_has("nonexistent-dir");
    assert_eq!(s.requests(), Vec::<String>::new(), "no request may be made");
}

#[test]
fn a_closed_stdout_is_taken_as_dev_null() {
    // the Rust runtime reopens it on /dev/null read-write, which cannot be
    // told from a caller's own `1<>/dev/null` (see cxg_core::io::check_stdout)
    let t = TempDir::new();
    let input = snapshot().join("collections.json");
    let o = sh(
        t.path(),
        &format!("'{}' '{}' >&-", bin("cxg-split").display(), input.display()),
    );
    o.ok();
}

#[test]
fn out_dir_never_writes_through_a_planted_symlink() {
    let t = TempDir::new();
    let outside = t.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let out = t.join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink("../outside", out.join(format!("collection_{}", cid0()))).unwrap();
    let o = run(
        "cxg-datasets",
        &[
            "--out-dir",
            out.to_str().unwrap(),
            snapshot().join("collections.json").to_str().unwrap(),
        ],
        None,
    );
    o.code(2).stderr_has("symbolic link");
    assert_eq!(entries(&outside), Vec::<String>::new());
    // cxg-split replaces a planted file link instead of writing through it
    let out2 = t.join("out2");
    std::fs::create_dir(&out2).unwrap();
    std::fs::write(outside.join("victim"), b"keep").unwrap();
    std::os::unix::fs::symlink(
        "../outside/victim",
        out2.join(format!("collection_{}.json", cid0())),
    )
    .unwrap();
    run(
        "cxg-split",
        &[
            "--out-dir",
            out2.to_str().unwrap(),
            snapshot().join("collections.json").to_str().unwrap(),
        ],
        None,
    )
    .ok();
    assert_eq!(read(&outside.join("victim")), b"keep");
}

#[test]
fn bodies_over_max_bytes_end_with_exit_3() {
    let s = Server::start(&snapshot(), &[]);
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "--max-bytes", "1K", "datasets"],
        None,
    );
    o.code(3).stderr_has("--max-bytes 1024");
    assert!(o.stdout.is_empty());
    // a 1 MiB gzip body that expands to 64 MiB, and a body that never ends
    for fault in ["gzip-bomb", "endless"] {
        let s = Server::start(
            &snapshot(),
            &["--fail-every", "1", "--fault", fault, "--bomb-mib", "64"],
        );
        let t = TempDir::new();
        let out = t.join("c.json");
        let o = run(
            "cxg-fetch",
            &[
                "--api-url",
                &s.url,
                "--max-bytes",
                "4M",
                "-o",
                out.to_str().unwrap(),
            ],
            None,
        );
        o.code(3).stderr_has("larger than --max-bytes 4194304");
        assert_eq!(entries(t.path()), Vec::<String>::new(), "{fault}");
    }
}

#[test]
fn answers_that_are_not_the_record_asked_for_are_failures() {
    let cid = cid0();
    for fault in ["wrong-id", "wrong-shape"] {
        let s = Server::start(&snapshot(), &["--fail-every", "1", "--fault", fault]);
        let o = run(
            "cxg-fetch",
            &["--api-url", &s.url, "collection", &cid],
            None,
        );
        o.code(1).stderr_has(&format!("collection {cid}"));
        assert!(o.stdout.is_empty(), "{fault}: nothing written");
    }
    let csv = csv_of(&snapshot());
    // every per-dataset answer about another dataset: the service is broken
    let (s, o) = per_dataset_with(&csv, &["--fail-every", "1", "--fault", "wrong-id"]);
    o.code(3).stderr_has("not what was asked for");
    assert!(s.requests().len() < 10, "it did not stop early");
    // some answers about another dataset: failed rows, not blank ones
    let (_s, o) = per_dataset_with(&csv, &["--fail-every", "4", "--fault", "wrong-id"]);
    o.code(1)
        .stderr_has("bad-response")
        .stderr_has("not the one asked for");
}

#[test]
fn an_api_that_is_down_is_exit_3_early_not_a_row_per_failure() {
    let s = Server::start(
        &snapshot(),
        &[
            "--fail-every",
            "1",
            "--fail-status",
            "503",
            "--fail-match",
            "/datasets/",
        ],
    );
    let csv = csv_of(&snapshot());
    let rows = csv.iter().filter(|&&b| b == b'\n').count() - 1;
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--per-dataset",
            "-j",
            "2",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
        ],
        Some(&csv),
    );
    o.code(3)
        .stderr_has("failing as a whole")
        .stderr_has("make demo");
    let made = s.requests().len();
    assert!(
        made < 40 && made < rows,
        "{made} requests for {rows} rows: it did not stop early"
    );
}

/// Run `script` with no network at all (a fresh network namespace): a name
/// lookup fails at once and no packet leaves the machine.
fn without_network(script: &str) -> Option<Out> {
    let probe = Command::new("unshare").args(["--net", "true"]).status();
    if !matches!(probe, Ok(s) if s.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "unshare --net is needed in CI"
        );
        eprintln!("skipped: 'unshare --net' is not permitted here (needs root or user namespaces)");
        return None;
    }
    let mut c = Command::new("unshare");
    c.args(["--net", "bash", "-c", script]);
    Some(run_cmd(c, None))
}

#[test]
fn a_dns_failure_gets_the_same_offline_hint_as_a_refused_connection() {
    let url = "http://cxg-test-host.invalid/curation/v1";
    let fetch = bin("cxg-fetch");
    let Some(o) = without_network(&format!(
        "'{}' --api-url {url} --retries 1 --backoff-ms 1 datasets",
        fetch.display()
    )) else {
        return;
    };
    o.code(3)
        .stderr_has("cannot be reached")
        .stderr_has("make demo");
    let csv = "collection_id,dataset_id\n6e2974ee-853a-4444-b781-01a428af919f,781bd1e1-bddd-4d9c-aa52-e77450c51ed9\n";
    let Some(o) = without_network(&format!(
        "printf '{csv}' | '{}' --api-url {url} --retries 1 --backoff-ms 1 --per-dataset",
        bin("cxg-h5ad").display()
    )) else {
        return;
    };
    o.code(3).stderr_has("make demo");
    let work = TempDir::new();
    let Some(o) = without_network(&format!(
        "cd '{}' && printf 'h5ad_url\\nhttp://cxg-test-host.invalid/assets/0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad\\n' | '{}' --dir h5ad --retries 1 --backoff-ms 1",
        work.path().display(),
        bin("cxg-download").display()
    )) else {
        return;
    };
    o.code(3)
        .stderr_has("cannot be reached")
        .stderr_has("make demo");
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let s = Server::start(
        &snapshot(),
        &[
            "--fail-first",
            "1",
            "--retry-after",
            "3",
            "--retry-after-date",
        ],
    );
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "--backoff-ms", "1", "datasets"],
        None,
    );
    o.ok();
    // the wait printed comes from the date (2-3 s), not the 1 ms backoff
    let wait: f64 = o
        .stderr
        .split("retry 1 of 4 in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no retry notice: {}", o.stderr));
    assert!((1.0..=3.0).contains(&wait), "waited {wait} s: {}", o.stderr);
}

#[test]
fn numeric_options_are_bounded_and_never_panic() {
    let dead = dead_url();
    for args in [
        vec!["--timeout", "18446744073709551615"],
        vec!["--connect-timeout", "0"],
        vec!["--retries", "101"],
        vec!["--backoff-ms", "18446744073709551615"],
        vec!["--max-bytes", "0"],
        vec!["--max-bytes", "99999999999T"],
    ] {
        let mut a = vec!["--api-url", dead.as_str()];
        a.extend(args.iter().copied());
        let o = run("cxg-fetch", &a, None);
        o.code(2);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
    // the largest accepted values run without overflow (a 404 is not retried)
    let s = Server::start(&snapshot(), &[]);
    let o = run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "--retries",
            "100",
            "--backoff-ms",
            "600000",
            "--timeout",
            "86400",
            "collection",
            "00000000-0000-4000-8000-000000000000",
        ],
        None,
    );
    o.code(1).stderr_has("404");
    let o = run(
        "cxg-gen",
        &["--collections", "18446744073709551615", "x"],
        None,
    );
    o.code(2).stderr_has("200000");
    let o = run(
        "cxg-gen",
        &["--datasets", "10", "--gone", "8", "--unindexed", "8", "x"],
        None,
    );
    o.code(2).stderr_has("exceed");
}

#[test]
fn runaway_recursion_in_an_expression_is_exit_2() {
    let t = TempDir::new();
    let input = snapshot().join("collections.json");
    let out = t.join("d.jsonl");
    let o = run(
        "cxg-datasets",
        &[
            "--where",
            "def f: 1 + f; f",
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    o.code(2)
        .stderr_has("recursion too deep")
        .stderr_has("def f: 1 + f; f");
    assert_eq!(entries(t.path()), Vec::<String>::new());
    let ds = run("cxg-datasets", &[input.to_str().unwrap()], None).stdout;
    let o = run("cxg-tocsv", &["--column", "x=def g: [g]; g"], Some(&ds));
    o.code(2).stderr_has("recursion too deep");
}

#[test]
fn idle_and_slow_clients_cannot_lock_the_server_out() {
    let s = Server::start(&snapshot(), &["--idle-timeout", "1", "--head-timeout", "1"]);
    let hostport = s
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // more idle connections than the server takes at once
    let idle: Vec<_> = (0..530)
        .map(|_| std::net::TcpStream::connect(&hostport).unwrap())
        .collect();
    // a slow head: one byte at a time gets 408, not a held connection
    let mut slow = std::net::TcpStream::connect(&hostport).unwrap();
    slow.write_all(b"GET /curation/v1/datasets HTTP/1.1\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let trickle = std::thread::spawn({
        let mut w = slow.try_clone().unwrap();
        move || {
            for b in b"X-Slow: yes\r\n".iter() {
                if w.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(400));
            }
        }
    });
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let _ = trickle.join();
    // the idle ones are dropped and a real client gets its answer
    let o = run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "--retries",
            "8",
            "--backoff-ms",
            "200",
            "datasets",
        ],
        None,
    );
    o.ok();
    drop(idle);
}

#[test]
fn a_repeated_dataset_id_in_the_index_is_named() {
    let t = TempDir::new();
    let mut index: Vec<serde_json::Value> =
        serde_json::from_slice(&read(&snapshot().join("datasets.json"))).unwrap();
    let dup = index[3].clone();
    let id = dup["dataset_id"].as_str().unwrap().to_string();
    index.push(dup);
    std::fs::write(t.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let csv = csv_of(&snapshot());
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &dead_url(),
            "--index",
            t.join("index.json").to_str().unwrap(),
        ],
        Some(&csv),
    );
    o.stderr_has("1 dataset_id appear more than once")
        .stderr_has(&id);
}

#[test]
fn tocsv_names_the_versions_it_drops_and_ignores_a_bom() {
    let d = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
    let input = format!(
        "{{\"dataset_id\":\"{d}\",\"dataset_version_id\":\"v-old\",\"revised_at\":\"2023-01-01\"}}\n\
         {{\"dataset_id\":\"{d}\",\"dataset_version_id\":\"v-new\",\"revised_at\":\"2024-01-01\"}}\n"
    );
    let o = run(
        "cxg-tocsv",
        &["--column", "v=.dataset_version_id"],
        Some(input.as_bytes()),
    );
    o.ok().stderr_has(&format!("1 duplicate dataset row dropped (kept the most recent version of each dataset_id): {d} version v-old"));
    assert!(o.text().ends_with("v-new\n"), "{}", o.text());
    let t = TempDir::new();
    std::fs::write(
        t.join("cols"),
        "\u{feff}id = .dataset_id\nv = .dataset_version_id\n",
    )
    .unwrap();
    let o = run(
        "cxg-tocsv",
        &["--columns", t.join("cols").to_str().unwrap()],
        Some(input.as_bytes()),
    );
    o.ok();
    assert!(o.text().starts_with("id,v\n"), "{:?}", o.text());
}

#[test]
fn output_files_get_the_usual_mode_not_0600() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new();
    let input = snapshot().join("collections.json");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let o = sh(
        t.path(),
        &format!(
            "umask 022; '{}' '{}' -o new.jsonl && '{}' --out-dir per '{}' >/dev/null",
            bin("cxg-split").display(),
            input.display(),
            bin("cxg-split").display(),
            input.display()
        ),
    );
    o.ok();
    assert_eq!(mode(&t.join("new.jsonl")), 0o644);
    let one = std::fs::read_dir(t.join("per"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&one), 0o644);
    // a replaced file keeps its mode
    std::fs::write(t.join("kept.jsonl"), b"old").unwrap();
    std::fs::set_permissions(t.join("kept.jsonl"), std::fs::Permissions::from_mode(0o640)).unwrap();
    run(
        "cxg-split",
        &[
            input.to_str().unwrap(),
            "-o",
            t.join("kept.jsonl").to_str().unwrap(),
        ],
        None,
    )
    .ok();
    assert_eq!(mode(&t.join("kept.jsonl")), 0o640);
}

#[test]
fn dev_stdout_appends_where_the_shell_appends_and_dev_shm_files_are_replaced() {
    let t = TempDir::new();
    let input = snapshot().join("collections.json");
    let o = sh(
        t.path(),
        &format!(
            "echo first > log; '{}' '{}' -o /dev/stdout >> log",
            bin("cxg-split").display(),
            input.display()
        ),
    );
    o.ok();
    let log = String::from_utf8(read(&t.join("log"))).unwrap();
    assert!(log.starts_with("first\n{"), "{}", &log[..40.min(log.len())]);
    // a regular file under /dev is a file like any other: replaced whole
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        let p = shm.join(format!("cxg-test-{}.jsonl", std::process::id()));
        std::fs::write(&p, vec![b'Z'; 2_000_000]).unwrap();
        run(
            "cxg-split",
            &[input.to_str().unwrap(), "-o", p.to_str().unwrap()],
            None,
        )
        .ok();
        let got = read(&p);
        let _ = std::fs::remove_file(&p);
        assert_eq!(
            got,
            run("cxg-split", &[input.to_str().unwrap()], None).stdout
        );
    }
}

#[test]
fn a_closed_stdin_is_an_error_not_an_empty_input() {
    let t = TempDir::new();
    let o = sh(t.path(), &format!("'{}' <&-", bin("cxg-split").display()));
    o.code(2).stderr_has("stdin is closed");
}

/// cxg-h5ad, one dataset at a time, on `csv` against the sample snapshot
/// served with these faults on its per-dataset answers.
fn per_dataset_with(csv: &[u8], faults: &[&str]) -> (Server, Out) {
    let mut a = faults.to_vec();
    a.extend(["--fail-match", "/datasets/"]);
    let s = Server::start(&snapshot(), &a);
    let o = run(
        "cxg-h5ad",
        &["--api-url", &s.url, "--per-dataset", "-j", "1"],
        Some(csv),
    );
    (s, o)
}

#[test]
fn more_hostile_cases() {
    let t = TempDir::new();
    let input = snapshot().join("collections.json");
    // recursion through a filter argument
    let o = run(
        "cxg-datasets",
        &[
            "--where",
            "def f(g): g | f(g); f(.) | false",
            input.to_str().unwrap(),
        ],
        None,
    );
    o.code(2).stderr_has("recursion too deep");
    // an API refusing every request (403 for valid ids) is down, not 100 bad rows
    let csv = csv_of(&snapshot());
    let (s, o) = per_dataset_with(&csv, &["--fail-every", "1", "--fail-status", "403"]);
    o.code(3);
    assert!(s.requests().len() < 10, "{} requests", s.requests().len());
    // an empty index is not an index
    std::fs::write(t.join("empty.json"), b"").unwrap();
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "--index",
            t.join("empty.json").to_str().unwrap(),
        ],
        Some(&csv),
    );
    o.code(2).stderr_has("holds no datasets");
    // -o and --failures on one file
    let same = t.join("same.csv");
    let o = run(
        "cxg-h5ad",
        &[
            "--api-url",
            &s.url,
            "-o",
            same.to_str().unwrap(),
            "--failures",
            same.to_str().unwrap(),
        ],
        Some(&csv),
    );
    o.code(2).stderr_has("is also -o");
    // a file name as long as the filesystem allows
    let long = t.join(&format!("{}.json", "a".repeat(245)));
    run(
        "cxg-split",
        &[input.to_str().unwrap(), "-o", long.to_str().unwrap()],
        None,
    )
    .ok();
    assert!(long.exists());
    // Retry-After longer than is worth waiting: give up at once, exit 3
    let s = Server::start(&snapshot(), &["--fail-every", "1", "--retry-after", "3600"]);
    let o = run("cxg-fetch", &["--api-url", &s.url, "datasets"], None);
    o.code(3).stderr_has("retry after 3600 s");
    assert_eq!(s.requests().len(), 1);
}
