use super::*;
use answer::{route, Route};
use clap::Parser;
use std::io::Read;

/// Request target → what is served: a file of the snapshot, or a
/// problem status. One line per case.
#[test]
fn routes() {
    let c = "6e2974ee-853a-4444-b781-01a428af919f";
    let d = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
    let g = "00000000-0000-4000-8000-00000000dead";
    let args = Args::try_parse_from(["cxg-serve", "SNAP"]).unwrap();
    let st = State {
        args,
        asset_base: String::new(),
        gone: [g.to_string()].into_iter().collect(),
        bomb: None,
        requests: AtomicU64::new(0),
        matching: AtomicU64::new(0),
        connections: AtomicUsize::new(0),
        log: None,
    };
    let file = |p: &str| format!("file SNAP/{p}");
    let cases = [
        (
            "/curation/v1/collections",
            "visibility=PUBLIC",
            file("collections.json"),
        ),
        ("/curation/v1/collections/", "", file("collections.json")),
        (
            "/curation/v1/collections",
            "visibility=PRIVATE",
            "403".into(),
        ),
        (
            "/curation/v1/datasets",
            "schema_version=5",
            file("datasets.json"),
        ),
        (
            &format!("/curation/v1/collections/{c}"),
            "",
            file(&format!("collections/{c}.json")),
        ),
        (
            &format!("/curation/v1/collections/{c}/datasets/{d}"),
            "",
            file(&format!("collections/{c}/datasets/{d}.json")),
        ),
        (&format!("/curation/v1/collections/{g}"), "", "410".into()),
        (
            &format!("/curation/v1/collections/{c}/datasets/{g}"),
            "",
            "410".into(),
        ),
        ("/curation/v1/collections/..%2Fx", "", "403".into()),
        (
            &format!("/curation/v1/collections/{c}/datasets/../x"),
            "",
            "404".into(),
        ),
        (
            &format!("/curation/v1/collections/{c}/datasets/.."),
            "",
            "403".into(),
        ),
        ("/curation/v1/other", "", "404".into()),
        ("/elsewhere", "", "404".into()),
    ];
    for (path, query, want) in cases {
        let got = match route(&st, path, query) {
            Route::File(p) => format!("file {}", p.display()),
            Route::Problem(s, _) => s.to_string(),
        };
        assert_eq!(got, want, "{path}?{query}");
    }
}

const C: &str = "6e2974ee-853a-4444-b781-01a428af919f";
const D: &str = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
const G: &str = "00000000-0000-4000-8000-00000000dead";

/// A snapshot folder: collections, index, one full collection, one
/// dataset, one removed dataset, one asset file of 5 bytes with its ETag.
fn snapshot() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let files = [
        (
            "collections.json",
            format!(r#"[{{"collection_id":"{C}"}}]"#),
        ),
        (
            "datasets.json",
            format!(
                r#"[{{"dataset_id":"{D}","assets":[{{"url":"https://datasets.cellxgene.cziscience.com/x.h5ad"}}]}}]"#
            ),
        ),
        (
            &format!("collections/{C}.json"),
            format!(r#"{{"collection_id":"{C}"}}"#),
        ),
        (
            &format!("collections/{C}/datasets/{D}.json"),
            format!(r#"{{"collection_id":"{C}","dataset_id":"{D}"}}"#),
        ),
        ("gone.json", format!(r#"["{G}"]"#)),
        ("assets/x.h5ad", "abcde".into()),
        ("assets/x.h5ad.etag", "\"e1\"\n".into()),
    ];
    for (p, content) in files {
        let p = t.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    let asset = File::options()
        .write(true)
        .open(t.path().join("assets/x.h5ad"))
        .unwrap();
    asset
        .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_784_000_000))
        .unwrap();
    t
}

/// Start cxg-serve in process on `dir` with `options`: (exit status of
/// the start, stdout, warnings, port), the server serving on a thread.
fn start(dir: &Path, options: &[&str]) -> (i32, String, Vec<String>, u16) {
    let dir = dir.display().to_string();
    let argv = ["cxg-serve", "--port", "0"].iter().chain(options).copied();
    let args = Args::try_parse_from(argv.chain([dir.as_str()])).unwrap();
    let mut port = 0;
    let (code, out, warnings) = cxg_core::ctx::run_memory(b"", |ctx| {
        let server = Server::start(args, ctx)?;
        port = server.listener.local_addr().unwrap().port();
        std::thread::spawn(move || server.serve());
        Ok(())
    });
    let hide = |s: &str| {
        s.replace(&dir, "DIR")
            .replace(&format!(":{port}/"), ":PORT/")
    };
    (
        code,
        hide(&out),
        warnings.iter().map(|w| hide(w)).collect(),
        port,
    )
}

/// Send `request` as it is and read the answer until the server closes.
fn exchange(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

/// An answer with a body: status line, type, length, `extra` headers.
fn answer(status: &str, ctype: &str, extra: &str, body: &str) -> String {
    let n = body.len();
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {n}\r\n{extra}\r\n{body}"
    )
}

fn json(body: &str) -> String {
    answer("200 OK", "application/json", "", body)
}

fn problem(status: &str, extra: &str, detail: &str) -> String {
    let (code, title) = status.split_once(' ').unwrap();
    let body = format!(
        r#"{{"detail":"{detail}","status":{code},"title":"{title}","type":"about:blank"}}"#
    );
    answer(status, "application/problem+json", extra, &body)
}

#[test]
fn starting_announces_the_url_or_names_what_is_wrong() {
    let t = snapshot();
    let (code, out, warnings, _) = start(t.path(), &[]);
    assert_eq!(
        (code, out, warnings),
        (
            0,
            "http://127.0.0.1:PORT/curation/v1\n".to_string(),
            vec!["serving 'DIR' at http://127.0.0.1:PORT/curation/v1".to_string()]
        )
    );
    let (code, out, warnings, _) = start(&t.path().join("gone.json"), &[]);
    assert_eq!(
        (code, out, warnings),
        (
            2,
            String::new(),
            vec!["'DIR' is not a folder (expected a snapshot folder with collections.json)".into()]
        )
    );
    std::fs::write(t.path().join("gone.json"), "{}").unwrap();
    let (code, _, warnings, _) = start(t.path(), &[]);
    assert_eq!(code, 2);
    assert_eq!(
        warnings,
        ["'DIR/gone.json': expected a JSON array of ids: invalid type: map, expected a sequence at line 1 column 0"]
    );
}

/// Options and a request → the whole answer, byte for byte. One line per
/// case.
#[test]
fn answers_requests_and_injects_faults() {
    let t = snapshot();
    let coll = format!(r#"{{"collection_id":"{C}"}}"#);
    let ds = format!(r#"{{"collection_id":"{C}","dataset_id":"{D}"}}"#);
    let other = "00000000-0000-4000-8000-000000000000";
    let asset =
        "Accept-Ranges: bytes\r\nETag: \"e1\"\r\nLast-Modified: Tue, 14 Jul 2026 03:33:20 GMT\r\n";
    let octets = "application/octet-stream";
    let close = "Connection: close\r\n";
    let cases: Vec<(&[&str], String, String)> = vec![
        (&[], get("/curation/v1/collections"), json(&format!("[{coll}]"))),
        (&[], get(&format!("/curation/v1/collections/{C}")), json(&coll)),
        (&[], get(&format!("/curation/v1/collections/{C}/datasets/{D}")), json(&ds)),
        (&[], get("/curation/v1/collections?visibility=PRIVATE"),
            problem("403 Forbidden", "", "PRIVATE collections need an access token")),
        (&[], get(&format!("/curation/v1/collections/{C}/datasets/{G}")),
            problem("410 Gone", "", "Resource has been removed")),
        (&[], get(&format!("/curation/v1/collections/{D}")), problem("404 Not Found", "", "Not found")),
        (&[], get("/curation/v1/collections/x"), problem("403 Forbidden", "", "Invalid collection or dataset id: x")),
        (&[], format!("POST /curation/v1/collections HTTP/1.1\r\nContent-Length: 2\r\n{close}\r\n{{}}"),
            problem("405 Method Not Allowed", "", "Only GET is supported")),
        (&[], "HELLO\r\n\r\n".into(), problem("400 Bad Request", close, "not an HTTP/1.x request line")),
        (&[], "GET /curation/v1/collections HTTP/1.0\r\n\r\n".into(), json(&format!("[{coll}]"))),
        // faults
        (&["--fail-first", "1"], get("/curation/v1/collections"), problem("503 Service Unavailable", "", "injected fault")),
        (&["--fail-every", "1", "--fail-status", "429", "--retry-after", "7"], get("/curation/v1/collections"),
            problem("429 Too Many Requests", "Retry-After: 7\r\n", "injected fault")),
        (&["--fail-every", "1", "--fail-match", "/datasets/"], get("/curation/v1/collections"), json(&format!("[{coll}]"))),
        (&["--fail-every", "1", "--fault", "wrong-shape"], get(&format!("/curation/v1/collections/{C}")),
            json(r#"{"error":"injected fault: this is not the record asked for"}"#)),
        (&["--fail-every", "1", "--fault", "wrong-id"], get(&format!("/curation/v1/collections/{C}/datasets/{D}")),
            json(&format!(r#"{{"collection_id":"{other}","dataset_id":"{other}"}}"#))),
        (&["--fail-every", "1", "--truncate"], get(&format!("/curation/v1/collections/{C}")),
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 56\r\n{close}\r\n{}", &coll[..28])),
        // asset bytes
        (&[], get("/assets/x.h5ad"), answer("200 OK", octets, asset, "abcde")),
        (&[], get("/assets/x.h5ad").replace("Host: x", "Range: bytes=1-3"),
            answer("206 Partial Content", octets, &format!("{asset}Content-Range: bytes 1-3/5\r\n"), "bcd")),
        (&[], get("/assets/x.h5ad").replace("Host: x", "Range: bytes=-2\r\nIf-Range: \"e1\""),
            answer("206 Partial Content", octets, &format!("{asset}Content-Range: bytes 3-4/5\r\n"), "de")),
        (&[], get("/assets/x.h5ad").replace("Host: x", "Range: bytes=1-3\r\nIf-Range: \"old\""),
            answer("200 OK", octets, asset, "abcde")),
        (&[], get("/assets/x.h5ad").replace("Host: x", "Range: bytes=9-"),
            problem("416 Range Not Satisfiable", &format!("{asset}Content-Range: bytes */5\r\n"), "Range Not Satisfiable")),
        (&["--no-range"], get("/assets/x.h5ad").replace("Host: x", "Range: bytes=1-3"), answer("200 OK", octets, asset, "abcde")),
        (&["--wrong-size"], get("/assets/x.h5ad"), answer("200 OK", octets, asset, "abcd")),
        (&["--fail-every", "1", "--truncate"], get("/assets/x.h5ad"),
            format!("HTTP/1.1 200 OK\r\nContent-Type: {octets}\r\nContent-Length: 5\r\n{asset}{close}\r\nab")),
        (&[], get("/assets/x.h5ad.etag"), problem("404 Not Found", "", "Not found")),
        (&[], get("/assets/.x"), problem("403 Forbidden", "", "Invalid asset name")),
        (&[], get(&format!("/assets/{G}.h5ad")), problem("410 Gone", "", "Resource has been removed")),
    ];
    for (options, request, want) in cases {
        let (code, _, _, port) = start(t.path(), options);
        assert_eq!(code, 0);
        assert_eq!(exchange(port, &request), want, "{options:?} {request:?}");
    }
}

#[test]
fn local_assets_point_the_index_at_the_server() {
    let t = snapshot();
    let (_, _, _, port) = start(t.path(), &["--local-assets"]);
    let index = format!(
        r#"[{{"dataset_id":"{D}","assets":[{{"url":"http://127.0.0.1:{port}/assets/x.h5ad"}}]}}]"#
    );
    assert_eq!(exchange(port, &get("/curation/v1/datasets")), json(&index));
}
