//! cxg-fetch against cxg-serve on 127.0.0.1: success, retries that
//! recover and that give up, 404/410/403, truncated bodies, an unreachable
//! host, bad URLs, and the server under concurrent clients.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;

fn snapshot() -> std::path::PathBuf {
    fixture("snapshot")
}

#[test]
fn collections_are_written_as_served() {
    let s = Server::start(&snapshot(), &[]);
    let served = json(&read(&snapshot().join("collections.json")));
    let o = run("cxg-fetch", &["--api-url", &s.url], None);
    o.ok();
    assert!(same(&json(&o.stdout), &served));
    // compact, one line
    assert_eq!(o.text().lines().count(), 1);
    let o = run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "collections",
            "--visibility",
            "PUBLIC",
            "--pretty",
        ],
        None,
    );
    o.ok();
    assert!(o.text().starts_with("[\n  {\n    \"collection_id\""));
    assert!(same(&json(&o.stdout), &served));
    assert!(s.requests()[0].contains("GET /curation/v1/collections?visibility=PUBLIC 200"));
}

/// `--pretty` indents the response as `jq .` does and keeps every number
/// as served, as `cxg-split --pretty` does (it used to go through f64:
/// 1.50 became 1.5, 1E2 became 100.0, a 30-digit integer a float).
#[test]
fn pretty_keeps_number_text_as_split_does() {
    let t = TempDir::new();
    let body = r#"[{"collection_id":"c","n":1.50,"e":1E2,"big":123456789012345678901234567890,"s":"\u00e9"}]"#;
    std::fs::write(t.join("collections.json"), body).unwrap();
    let s = Server::start(t.path(), &[]);
    let o = run("cxg-fetch", &["--api-url", &s.url, "--pretty"], None);
    o.ok();
    let text = o.text();
    for n in [
        "\"n\": 1.50,",
        "\"e\": 1E2,",
        "\"big\": 123456789012345678901234567890,",
    ] {
        assert!(text.contains(n), "{n} in {text}");
    }
    // the element as cxg-split --pretty writes it, indented one level more
    let split = run("cxg-split", &["--pretty"], Some(body.as_bytes()));
    split.ok();
    let element: String = split.text().lines().map(|l| format!("  {l}\n")).collect();
    assert_eq!(text, format!("[\n{}]\n", element));
}

#[test]
fn datasets_index_to_a_file() {
    let s = Server::start(&snapshot(), &[]);
    let t = TempDir::new();
    let out = t.join("index.json");
    run(
        "cxg-fetch",
        &["--api-url", &s.url, "datasets", "-o", out.to_str().unwrap()],
        None,
    )
    .ok();
    assert!(same(
        &json(&read(&out)),
        &json(&read(&snapshot().join("datasets.json")))
    ));
    assert_eq!(t.names(), ["index.json"]);
    run(
        "cxg-fetch",
        &["--api-url", &s.url, "datasets", "--schema-version", "5.2"],
        None,
    )
    .ok();
    assert!(s.requests()[1].contains("/datasets?schema_version=5.2 200"));
    run(
        "cxg-fetch",
        &["--api-url", &s.url, "datasets", "--schema-version", "5&x=1"],
        None,
    )
    .code(2)
    .stderr_has("--schema-version");
}

fn collection_ids() -> Vec<String> {
    json(&read(&snapshot().join("collections.json")))
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["collection_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn full_collections_in_input_order_from_args_and_stdin() {
    let s = Server::start(&snapshot(), &[]);
    let ids = collection_ids();
    let expect: Vec<_> = ids
        .iter()
        .map(|id| json(&read(&snapshot().join(format!("collections/{id}.json")))))
        .collect();
    // ids as arguments
    let args: Vec<&str> = ["--api-url", &s.url, "collection", "-j", "8"]
        .into_iter()
        .chain(ids.iter().map(String::as_str))
        .collect();
    let o = run("cxg-fetch", &args, None);
    o.ok();
    assert_same(&jsonl(&o.stdout), &expect);
    // one id per line on stdin, with blank lines and comments
    let text = format!("# ids\n\n{}\n", ids.join("\n"));
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "collection", "-j", "3"],
        Some(text.as_bytes()),
    );
    o.ok();
    assert_same(&jsonl(&o.stdout), &expect);
    // the collections list itself on stdin
    let list = read(&snapshot().join("collections.json"));
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "collection", "-"],
        Some(&list),
    );
    o.ok();
    assert_same(&jsonl(&o.stdout), &expect);
}

#[test]
fn server_handles_many_concurrent_clients() {
    let s = Server::start(&snapshot(), &[]);
    let ids = collection_ids();
    let many: Vec<String> = (0..10).flat_map(|_| ids.clone()).collect();
    let text = many.join("\n");
    let o = run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "collection",
            "-j",
            "32",
            "--retries",
            "0",
        ],
        Some(text.as_bytes()),
    );
    o.ok();
    let got = jsonl(&o.stdout);
    assert_eq!(got.len(), many.len());
    for (v, id) in got.iter().zip(&many) {
        assert_eq!(v["collection_id"], id.as_str());
    }
    assert_eq!(s.requests().len(), many.len());
}

#[test]
fn missing_and_removed_collections_are_named_and_exit_1() {
    let t = TempDir::new();
    let snap = t.join("snap");
    generate(&snap, &["--collections", "8", "--datasets", "20"]);
    let ids = {
        let v = json(&read(&snap.join("collections.json")));
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["collection_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    std::fs::write(snap.join("gone.json"), format!("[\"{}\"]", ids[1])).unwrap();
    let s = Server::start(&snap, &[]);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let o = run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "collection",
            &ids[0],
            unknown,
            &ids[1],
            &ids[2],
        ],
        None,
    );
    o.code(1)
        .stderr_has(&format!("{unknown} failed: HTTP 404"))
        .stderr_has("HTTP 410 Gone: Resource has been removed");
    let got = jsonl(&o.stdout);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["collection_id"], ids[0].as_str());
    assert_eq!(got[1]["collection_id"], ids[2].as_str());
    // 404 and 410 are not retried
    assert_eq!(s.requests().len(), 4);
}

#[test]
fn ids_that_are_not_uuids_never_reach_the_network() {
    let s = Server::start(&snapshot(), &[]);
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "collection", "../../etc/passwd"],
        None,
    );
    o.code(2).stderr_has("argument 1: '../../etc/passwd'");
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "collection"],
        Some(b"ceb895f4-ff9f-403a-b7c3-187a9657ac2c\nnot-an-id\n"),
    );
    o.code(2).stderr_has("stdin line 2: 'not-an-id'");
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "collection"],
        Some(b"[{\"name\": 1}]"),
    );
    o.code(2).stderr_has("no string collection_id");
    assert!(s.requests().is_empty());
}

#[test]
fn server_answers_like_the_api() {
    let s = Server::start(&snapshot(), &[]);
    let cid = &collection_ids()[0];
    let get = |path: &str| {
        let url = format!("{}{path}", s.url);
        let o = run(
            "cxg-fetch",
            &["--api-url", &url, "collections", "--retries", "0"],
            None,
        );
        (o.code, o.stderr)
    };
    // `collections` appends /collections?visibility=PUBLIC to the base URL,
    // so a base ending in the path under test reaches each route.
    let (code, err) = get("/collections/not-a-uuid/datasets/x");
    assert_eq!(code, 3);
    assert!(err.contains("HTTP 404"), "{err}");
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "collection", "--retries", "0", cid],
        None,
    );
    o.ok();
    let base = s.url.trim_end_matches("/curation/v1");
    let o = run(
        "cxg-fetch",
        &["--api-url", &format!("{base}/nothing"), "--retries", "0"],
        None,
    );
    o.code(3).stderr_has("HTTP 404 Not Found");
    let log = s.requests();
    assert!(log.iter().any(|l| l.ends_with(" 200")));
}

#[test]
fn server_403_for_non_uuid_and_problem_json() {
    // Talk to the server with a raw socket to see status lines and bodies.
    let s = Server::start(&snapshot(), &[]);
    let hostport = s
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let ask = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&hostport).unwrap();
        write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    };
    let r = ask("/curation/v1/collections/not-a-uuid");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(
        r.contains("application/problem+json") && r.contains("\"title\":\"Forbidden\""),
        "{r}"
    );
    let r = ask("/curation/v1/collections/00000000-0000-4000-8000-000000000000");
    assert!(
        r.starts_with("HTTP/1.1 404") && r.contains("\"status\":404"),
        "{r}"
    );
    let cid = &collection_ids()[0];
    let r = ask(&format!(
        "/curation/v1/collections/{cid}/datasets/..%2F..%2Fx"
    ));
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let r = ask("/curation/v1/collections?visibility=PRIVATE");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    // a request line beyond 8 KiB gets 414, headers beyond 64 KiB 431,
    // and the server goes on
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&hostport).unwrap();
        let _ = c.write_all(format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(200_000)).as_bytes());
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        assert!(s.starts_with("HTTP/1.1 414 URI Too Long"), "{s}");
        let mut c = std::net::TcpStream::connect(&hostport).unwrap();
        let big = format!("X-Big: {}\r\n", "b".repeat(1000)).repeat(80);
        let _ = c.write_all(format!("GET /curation/v1/datasets HTTP/1.1\r\n{big}\r\n").as_bytes());
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        assert!(s.starts_with("HTTP/1.1 431"), "{s}");
    }
    let r = ask("/curation/v1/collections/not-a-uuid");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
}

#[test]
fn retries_recover_from_503_and_429_with_retry_after() {
    let s = Server::start(&snapshot(), &["--fail-first", "2", "--fail-status", "503"]);
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "--retries", "3", "--backoff-ms", "5"],
        None,
    );
    o.ok()
        .stderr_has("HTTP 503 Service Unavailable")
        .stderr_has("retry 2 of 3");
    assert!(same(
        &json(&o.stdout),
        &json(&read(&snapshot().join("collections.json")))
    ));
    assert_eq!(s.requests().len(), 3);

    let s = Server::start(
        &snapshot(),
        &[
            "--fail-first",
            "1",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
        ],
    );
    let o = run(
        "cxg-fetch",
        &["--api-url", &s.url, "--retries", "2", "--backoff-ms", "5"],
        None,
    );
    // the wait comes from Retry-After (1 s), not from the 5 ms backoff
    o.ok()
        .stderr_has("HTTP 429")
        .stderr_has("retry 1 of 2 in 1.0 s");
}

#[test]
fn retries_that_give_up_exit_3_and_leave_no_file() {
    let s = Server::start(&snapshot(), &["--fail-every", "1", "--fail-status", "500"]);
    let t = TempDir::new();
    let out = t.join("collections.json");
    let o = run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "--retries",
            "2",
            "--backoff-ms",
            "1",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    o.code(3)
        .stderr_has("HTTP 500 Internal Server Error: injected fault (after 3 attempts)");
    assert!(t.names().is_empty(), "left {:?}", t.names());
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn truncated_bodies_are_errors_not_files() {
    // the connection drops half-way through the body
    let s = Server::start(&snapshot(), &["--fail-every", "1", "--truncate"]);
    let t = TempDir::new();
    let out = t.join("c.json");
    let o = run(
        "cxg-fetch",
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
        None,
    );
    o.code(3).stderr_has("(after 2 attempts)");
    assert!(t.names().is_empty());
    // a complete response whose JSON is cut short, an empty one, a wrong shape
    for (body, msg) in [
        (
            "[{\"collection_id\": \"a\"},\n{\"collection_id\": ",
            "truncated",
        ),
        ("", "empty response body"),
        ("{\"detail\": \"not a list\"}", "expected a JSON array"),
        ("[1, 2]", "expected a JSON object"),
    ] {
        let snap = TempDir::new();
        std::fs::write(snap.join("collections.json"), body).unwrap();
        let s = Server::start(snap.path(), &[]);
        let o = run(
            "cxg-fetch",
            &["--api-url", &s.url, "-o", out.to_str().unwrap()],
            None,
        );
        o.code(3).stderr_has(msg);
        assert!(t.names().is_empty());
    }
}

#[test]
fn unreachable_host_points_to_the_offline_demo() {
    let url = dead_url();
    let o = run(
        "cxg-fetch",
        &["--api-url", &url, "--retries", "1", "--backoff-ms", "1"],
        None,
    );
    o.code(3)
        .stderr_has("cannot be reached")
        .stderr_has("make demo");
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_api_urls_are_usage_errors() {
    for (url, msg) in [
        ("ftp://127.0.0.1/x", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("http://", "http://"),
        ("127.0.0.1:8080", "only http:// and https://"),
    ] {
        run("cxg-fetch", &["--api-url", url], None)
            .code(2)
            .stderr_has(msg);
    }
    // the environment variable is read too
    let mut c = std::process::Command::new(bin("cxg-fetch"));
    c.env("CXG_API_URL", "gopher://x");
    run_cmd(c, None).code(2).stderr_has("gopher://x");
}

#[test]
fn conformance_real_collections_round_trip() {
    let Some(real) = realdata() else { return };
    let snap = TempDir::new();
    std::fs::copy(
        real.join("collections-2024-02.json"),
        snap.join("collections.json"),
    )
    .unwrap();
    std::fs::create_dir(snap.join("collections")).unwrap();
    let cid = "ceb895f4-ff9f-403a-b7c3-187a9657ac2c";
    std::fs::copy(
        real.join("collection-ceb895f4-2024-02.json"),
        snap.join(&format!("collections/{cid}.json")),
    )
    .unwrap();
    let s = Server::start(snap.path(), &[]);
    let o = run("cxg-fetch", &["--api-url", &s.url], None);
    o.ok();
    let served = read(&real.join("collections-2024-02.json"));
    assert!(same(&json(&o.stdout), &json(&served)));
    // the capture is compact: the output is byte-identical (plus a newline)
    assert_eq!(
        o.stdout.strip_suffix(b"\n").unwrap(),
        served.strip_suffix(b"\n").unwrap_or(&served)
    );
    let o = run("cxg-fetch", &["--api-url", &s.url, "collection", cid], None);
    o.ok();
    assert!(same(
        &jsonl(&o.stdout)[0],
        &json(&read(&real.join("collection-ceb895f4-2024-02.json")))
    ));
}

#[test]
fn the_committed_snapshot_is_what_the_generator_makes() {
    // tests/fixtures/snapshot is `cxg-gen --seed 1 --collections 20
    // --datasets 100 --unindexed 2`: regenerate and compare every file.
    let t = TempDir::new();
    let fresh = t.join("snap");
    generate(
        &fresh,
        &[
            "--seed",
            "1",
            "--collections",
            "20",
            "--datasets",
            "100",
            "--unindexed",
            "2",
        ],
    );
    let o = run_cmd(
        {
            let mut c = std::process::Command::new("diff");
            c.arg("-r").arg(&fresh).arg(fixture("snapshot"));
            c
        },
        None,
    );
    assert_eq!(
        o.code,
        0,
        "the committed snapshot differs from cxg-gen's output:\n{}",
        o.text()
    );
}

#[test]
fn server_writes_its_url_to_dash_o_at_once_and_runs_with_stdout_closed() {
    let t = TempDir::new();
    let url_of = |f: &std::path::Path| {
        // the server runs until killed: the file is there while it serves
        for _ in 0..200 {
            if let Ok(s) = std::fs::read_to_string(f) {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("cxg-serve wrote no {}", f.display());
    };
    for (how, file, redirect) in [
        ("-o", "o.url", ">/dev/null"),
        ("--url-file", "u.url", ">&-"),
    ] {
        let f = t.join(file);
        let snap = snapshot();
        let script = format!(
            "cxg-serve --port 0 --lifetime 60 {how} '{}' '{}' {redirect} 2>/dev/null & echo $!",
            f.display(),
            snap.display()
        );
        let o = sh(t.path(), &script);
        o.ok();
        let pid = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let url = url_of(&f);
        let _ = std::process::Command::new("kill").arg(&pid).status();
        assert!(url.starts_with("http://127.0.0.1:"), "{how}: {url:?}");
        assert!(url.ends_with("/curation/v1\n"), "{how}: {url:?}");
    }
}
