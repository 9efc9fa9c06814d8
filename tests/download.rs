//! cxg-download against cxg-serve on 127.0.0.1 serving the asset files of
//! a `cxg-gen --assets` snapshot: complete downloads with correct bytes
//! and hashes, reruns that transfer nothing, runs interrupted and resumed,
//! dropped bodies, Range ignored, size mismatches, 404/410, bad names, no
//! space, files over 4 GiB, an unreachable host.

use cxg_tests::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A snapshot with asset files.
fn snapshot(args: &[&str]) -> TempDir {
    let t = TempDir::new();
    let mut a = vec!["--assets"];
    a.extend_from_slice(args);
    generate(&t.join("s"), &a);
    t
}

fn snap_dir(t: &TempDir) -> PathBuf {
    t.join("s")
}

/// The served index (asset URLs point at the server with --local-assets).
fn index(s: &Server) -> Vec<u8> {
    let o = run("cxg-fetch", &["--api-url", &s.url, "datasets"], None);
    o.ok();
    o.stdout
}

/// `snap` served with its files (`--local-assets`) and these faults, and a
/// fresh work folder holding the server's datasets index as index.json.
fn serve_files(snap: &Path, faults: &[&str]) -> (Server, TempDir) {
    let mut a = vec!["--local-assets"];
    a.extend_from_slice(faults);
    let s = Server::start(snap, &a);
    let work = TempDir::new();
    std::fs::write(work.join("index.json"), index(&s)).expect("write");
    (s, work)
}

fn download(work: &Path, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut c = Command::new(bin("cxg-download"));
    c.args(args).current_dir(work);
    run_cmd(c, stdin)
}

/// Manifest rows as maps column -> value.
fn manifest(bytes: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    let (h, rows) = csv_rows(bytes);
    assert_eq!(
        h,
        [
            "dataset_id",
            "dataset_version_id",
            "url",
            "path",
            "bytes",
            "sha256",
            "status",
            "verified_by",
            "etag",
            "reason"
        ]
    );
    rows.into_iter()
        .map(|r| h.iter().cloned().zip(r).collect())
        .collect()
}

fn sha256sum(p: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Lines of the server log for asset requests.
fn asset_requests(s: &Server) -> Vec<String> {
    s.requests()
        .into_iter()
        .filter(|l| l.contains(" /assets/"))
        .collect()
}

/// Every H5AD file name of the snapshot's assets folder.
fn asset_names(snap: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(snap.join("assets"))
        .expect("assets/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".h5ad"))
        .collect();
    v.sort();
    v
}

fn check_identical(snap: &Path, dir: &Path) {
    for n in asset_names(snap) {
        assert!(
            read(&snap.join("assets").join(&n)) == read(&dir.join(&n)),
            "{n} differs from the served file"
        );
    }
}

#[test]
fn downloads_every_file_with_hashes_and_a_rerun_transfers_nothing() {
    let t = snapshot(&["--seed", "3", "--collections", "4", "--datasets", "12"]);
    let (s, work) = serve_files(&snap_dir(&t), &[]);
    let o = download(
        work.path(),
        &["--dir", "h5ad", "-j", "3", "index.json", "-o", "m.csv"],
        None,
    );
    o.ok()
        .stderr_has("12 downloaded, 0 resumed, 0 present, 0 failed");
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m.len(), 12);
    let dir = work.join("h5ad");
    check_identical(&snap_dir(&t), &dir);
    for r in &m {
        assert_eq!(r["status"], "downloaded");
        assert_eq!(r["verified_by"], "size+etag", "{r:?}");
        let p = work.join(&r["path"]);
        assert_eq!(r["sha256"], sha256sum(&p));
        assert_eq!(
            r["bytes"],
            std::fs::metadata(&p).expect("file").len().to_string()
        );
        assert!(r["path"].starts_with("h5ad/") && r["path"].ends_with(".h5ad"));
        assert!(r["dataset_id"].len() == 36 && r["dataset_version_id"].len() == 36);
    }
    // nothing but the files is left in the folder
    let left: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".h5ad"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(asset_requests(&s).len(), 12);

    // the rerun transfers nothing: no asset request at all, same hashes
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "index.json",
            "-o",
            "m2.csv",
            "--previous",
            "m.csv",
        ],
        None,
    );
    o.ok()
        .stderr_has("0 downloaded, 0 resumed, 12 present, 0 failed; 0 bytes transferred");
    assert_eq!(asset_requests(&s).len(), 12, "the rerun made requests");
    let m2 = manifest(&read(&work.join("m2.csv")));
    for (a, b) in m.iter().zip(&m2) {
        assert_eq!(b["status"], "present");
        assert_eq!(a["sha256"], b["sha256"]);
        assert_eq!(a["path"], b["path"]);
    }
    // without --previous the present files are hashed from disk: same hashes
    let o = download(work.path(), &["--dir", "h5ad", "-q", "index.json"], None);
    o.ok();
    let m3 = manifest(&o.stdout);
    for (a, b) in m.iter().zip(&m3) {
        assert_eq!(a["sha256"], b["sha256"]);
    }
    // the same input gives the same manifest
    let again = download(work.path(), &["--dir", "h5ad", "-q", "index.json"], None);
    assert_eq!(again.stdout, o.stdout);

    // --verify notices a file changed on disk since the manifest (same size)
    let victim = work.join(&m[0]["path"]);
    let mut bytes = read(&victim);
    bytes[0] ^= 0xff;
    std::fs::write(&victim, &bytes).expect("write");
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--verify",
            "--previous",
            "m.csv",
            "index.json",
        ],
        None,
    );
    o.code(1).stderr_has("the previous manifest says");
    let m4 = manifest(&o.stdout);
    assert_eq!(m4[0]["status"], "failed");
    assert_eq!(m4[1]["verified_by"], "size+sha256");
    assert!(victim.exists(), "--verify never deletes a file");
}

#[test]
fn the_cxg_h5ad_csv_works_with_unknown_sizes_and_rows_without_a_file() {
    // 20 datasets: one H5AD has filesize -1, one dataset has no H5AD
    let t = snapshot(&["--seed", "5", "--collections", "4", "--datasets", "20"]);
    let s = Server::start(&snap_dir(&t), &["--local-assets"]);
    let work = TempDir::new();
    let script = format!(
        "cxg-fetch --api-url {u} collections | cxg-datasets | cxg-tocsv > all.csv\n\
         cxg-h5ad --api-url {u} --extra all.csv > all_h5ad.csv\n\
         cxg-download --dir h5ad -j 4 --failures failed.csv all_h5ad.csv > m.csv || echo \"rc=$?\"",
        u = s.url
    );
    let o = sh(work.path(), &script);
    o.ok();
    // a dataset without an H5AD is counted apart, not a failure: exit 0
    assert!(!o.text().contains("rc="), "{}{}", o.text(), o.stderr);
    assert!(o.stderr.contains("no H5AD url"), "{}", o.stderr);
    assert!(
        o.stderr.contains("; 1 rows without an H5AD (no_asset)"),
        "{}",
        o.stderr
    );
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m.len(), 20);
    assert!(m.iter().all(|r| r["status"] != "failed"));
    let none: Vec<_> = m.iter().filter(|r| r["status"] == "no_asset").collect();
    assert_eq!(none.len(), 1);
    assert_eq!(none[0]["path"], "");
    let f = manifest(&read(&work.join("failed.csv")));
    assert_eq!(f.len(), 0);
    check_identical(&snap_dir(&t), &work.join("h5ad"));
    // the -1 row was checked against Content-Length alone, and its rerun
    // asks the server its size (the first byte, answered 206 with the
    // total) before calling it present
    let (h, rows) = csv_rows(&read(&work.join("all_h5ad.csv")));
    let si = h.iter().position(|c| c == "h5ad_filesize").expect("col");
    assert!(
        rows.iter().any(|r| r[si] == "-1"),
        "no -1 size in the sample"
    );
    let before = asset_requests(&s).len();
    let o = download(work.path(), &["--dir", "h5ad", "all_h5ad.csv"], None);
    o.code(0);
    let probes = &asset_requests(&s)[before..];
    assert_eq!(probes.len(), 1, "{probes:?}");
    assert!(probes[0].contains(" 206 bytes=0-0"), "{probes:?}");
    assert_eq!(
        manifest(&o.stdout)
            .iter()
            .filter(|r| r["status"] == "present")
            .count(),
        19
    );
}

fn wait_for(cond: impl Fn() -> bool, what: &str) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn size_of(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn an_interrupted_run_is_continued_and_only_the_rest_is_transferred() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--asset-bytes",
        "3000000",
    ]);
    // 2 MB/s: the first run is interrupted part-way
    let (s, work) = serve_files(&snap_dir(&t), &["--rate", "2000000"]);
    let name = &asset_names(&snap_dir(&t))[0];
    let part = work.join(&format!("h5ad/{name}.part"));
    let mut child = Command::new(bin("cxg-download"))
        .args(["--dir", "h5ad", "index.json", "-o", "m.csv"])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for(|| size_of(&part) >= 500_000, "part of the file");
    // Ctrl-C
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let st = child.wait().expect("wait");
    assert!(!st.success());
    let kept = size_of(&part);
    assert!((500_000..3_000_000).contains(&kept), "kept {kept}");
    assert!(!work.join(&format!("h5ad/{name}")).exists());
    assert!(!work.join("m.csv").exists());
    assert!(work.join(&format!("h5ad/{name}.part.json")).exists());

    let o = download(
        work.path(),
        &["--dir", "h5ad", "index.json", "-o", "m.csv"],
        None,
    );
    o.ok().stderr_has("0 downloaded, 1 resumed");
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m[0]["status"], "resumed");
    assert_eq!(m[0]["verified_by"], "size+etag");
    check_identical(&snap_dir(&t), &work.join("h5ad"));
    assert_eq!(m[0]["sha256"], sha256sum(&work.join(&m[0]["path"])));
    // the second run asked only for what the first did not get
    let reqs = asset_requests(&s);
    let last = reqs.last().expect("a request");
    assert!(
        last.contains(" 206 ") && last.contains(&format!("bytes={kept}-2999999")),
        "{reqs:?} (kept {kept})"
    );
    let moved: u64 = o
        .stderr
        .split("; ")
        .find(|p| p.contains(" bytes transferred"))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("bytes transferred in the summary");
    assert_eq!(moved, 3_000_000 - kept);
}

#[test]
fn bodies_cut_mid_way_recover_to_identical_files() {
    let t = snapshot(&["--seed", "9", "--collections", "3", "--datasets", "10"]);
    let (s, work) = serve_files(
        &snap_dir(&t),
        &[
            "--fail-match",
            "/assets/",
            "--fail-every",
            "2",
            "--truncate",
        ],
    );
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "-j",
            "3",
            "--backoff-ms",
            "1",
            "index.json",
            "-o",
            "m.csv",
        ],
        None,
    );
    o.ok().stderr_has("resuming from byte");
    check_identical(&snap_dir(&t), &work.join("h5ad"));
    let m = manifest(&read(&work.join("m.csv")));
    assert!(m
        .iter()
        .all(|r| r["status"] == "downloaded" && r["verified_by"] == "size+etag"));
    assert!(asset_requests(&s).iter().any(|l| l.ends_with("truncated")));
    // resumed requests asked for the rest only
    assert!(asset_requests(&s).iter().any(|l| l.contains(" 206 ")));
}

#[test]
fn a_body_cut_on_every_attempt_fails_after_the_retries_and_keeps_the_part() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--asset-bytes",
        "4000",
    ]);
    let (_s, work) = serve_files(
        &snap_dir(&t),
        &[
            "--fail-match",
            "/assets/",
            "--fail-every",
            "1",
            "--truncate",
        ],
    );
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--retries",
            "2",
            "--backoff-ms",
            "1",
            "index.json",
        ],
        None,
    );
    // every attempt halves what is left; once nothing more arrives the retries run out
    o.code(1).stderr_has("gave up after 3 attempts");
    let name = &asset_names(&snap_dir(&t))[0];
    assert!(!work.join(&format!("h5ad/{name}")).exists());
    assert!(work.join(&format!("h5ad/{name}.part")).exists());
    assert_eq!(manifest(&o.stdout)[0]["status"], "failed");
}

/// Leave a `.part` as an interrupted run would: the first `n` bytes and the sidecar.
fn fake_part(work: &Path, snap: &Path, s: &Server, name: &str, n: u64, etag: Option<&str>) {
    let dir = work.join("h5ad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let full = read(&snap.join("assets").join(name));
    std::fs::write(dir.join(format!("{name}.part")), &full[..n as usize]).expect("write");
    let served_etag = std::fs::read_to_string(snap.join("assets").join(format!("{name}.etag")))
        .expect("etag")
        .trim()
        .to_string();
    let base = s.url.trim_end_matches("/curation/v1");
    let side = serde_json::json!({"url": format!("{base}/assets/{name}"), "size": full.len(),
        "etag": etag.unwrap_or(&served_etag), "last_modified": null});
    std::fs::write(dir.join(format!("{name}.part.json")), side.to_string()).expect("write");
}

#[test]
fn range_ignored_restarts_from_zero_and_a_changed_file_restarts_too() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--asset-bytes",
        "50000",
    ]);
    let snap = snap_dir(&t);
    let name = asset_names(&snap)[0].clone();
    {
        let (s, work) = serve_files(&snap, &["--no-range"]);
        fake_part(work.path(), &snap, &s, &name, 20_000, None);
        let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
        o.ok().stderr_has("ignored Range");
        assert_eq!(manifest(&o.stdout)[0]["status"], "downloaded");
        check_identical(&snap, &work.join("h5ad"));
        let r = asset_requests(&s);
        assert!(r.len() == 1 && r[0].contains(" 200 bytes=0-49999"), "{r:?}");
    }
    {
        // the file on the server changed since the partial download
        let (s, work) = serve_files(&snap, &[]);
        fake_part(
            work.path(),
            &snap,
            &s,
            &name,
            20_000,
            Some("\"0123456789abcdef0123456789abcdef\""),
        );
        let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
        o.ok().stderr_has("the file changed on the server");
        check_identical(&snap, &work.join("h5ad"));
    }
    {
        // a plain resume: 206 from the part's length, status resumed
        let (s, work) = serve_files(&snap, &[]);
        fake_part(work.path(), &snap, &s, &name, 20_000, None);
        let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
        o.ok();
        assert_eq!(manifest(&o.stdout)[0]["status"], "resumed");
        let r = asset_requests(&s);
        assert!(
            r.len() == 1 && r[0].contains(" 206 bytes=20000-49999"),
            "{r:?}"
        );
        check_identical(&snap, &work.join("h5ad"));
        // a complete .part (renamed never happened): a 416 finishes it
        let work = TempDir::new();
        fake_part(work.path(), &snap, &s, &name, 50_000, None);
        std::fs::write(work.join("index.json"), index(&s)).expect("write");
        let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
        o.ok();
        assert_eq!(manifest(&o.stdout)[0]["status"], "resumed");
        assert!(asset_requests(&s).last().expect("req").ends_with(" 416"));
        check_identical(&snap, &work.join("h5ad"));
    }
}

#[test]
fn size_mismatch_corrupt_bytes_404_410_and_bad_names_fail_their_rows_only() {
    let t = snapshot(&["--seed", "4", "--collections", "3", "--datasets", "8"]);
    let snap = snap_dir(&t);
    let names = asset_names(&snap);
    let stem = |n: &str| n.trim_end_matches(".h5ad").to_string();
    // names[0]: served one byte short; names[1]: removed (410); names[2]: missing (404);
    // names[3]: bytes that do not match its ETag
    std::fs::write(snap.join("gone.json"), format!("[\"{}\"]", stem(&names[1]))).expect("gone");
    std::fs::remove_file(snap.join("assets").join(&names[2])).expect("rm");
    std::fs::write(
        snap.join("assets").join(format!("{}.etag", names[3])),
        "\"00000000000000000000000000000000\"\n",
    )
    .expect("etag");
    let s = Server::start(
        &snap,
        &[
            "--local-assets",
            "--fail-match",
            &stem(&names[0]),
            "--wrong-size",
        ],
    );
    let work = TempDir::new();
    let base = s.url.trim_end_matches("/curation/v1");
    // CSV input built from the served index, plus rows with bad names
    let idx = json(&index(&s));
    let mut csv = String::from("dataset_id,dataset_version_id,h5ad_url,h5ad_filesize\n");
    for d in idx.as_array().expect("array") {
        let a = d["assets"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["filetype"] == "H5AD"))
            .expect("h5ad");
        csv.push_str(&format!(
            "{},{},{},{}\n",
            d["dataset_id"].as_str().expect("id"),
            d["dataset_version_id"].as_str().expect("dvid"),
            a["url"].as_str().expect("url"),
            a["filesize"]
        ));
    }
    csv.push_str(&format!("x,y,{base}/assets/../../etc/passwd,10\n"));
    csv.push_str(&format!("x,y,{base}/assets/{}.rds,10\n", stem(&names[4])));
    csv.push_str(&format!("x,y,{base}/assets/not-a-uuid.h5ad,10\n"));
    csv.push_str("x,y,file:///etc/passwd,10\n");
    std::fs::write(work.join("in.csv"), csv).expect("write");
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--backoff-ms",
            "1",
            "--failures",
            "f.csv",
            // the bytes that do not match their ETag fail at once (auto
            // would transfer them again and keep them: the same bytes twice)
            "--etag-check",
            "strict",
            "in.csv",
        ],
        None,
    );
    o.code(1)
        .stderr_has("size mismatch")
        .stderr_has("410 Gone")
        .stderr_has("not found (404)")
        .stderr_has("do not match the server's ETag")
        .stderr_has("is not <uuid>.h5ad")
        .stderr_has("not an http(s) URL")
        .stderr_has("8 records could not be processed");
    let m = manifest(&o.stdout);
    assert_eq!(m.len(), 12);
    let f = manifest(&read(&work.join("f.csv")));
    assert_eq!(f.len(), 8);
    let dir = work.join("h5ad");
    for (n, bad) in names.iter().enumerate() {
        let there = dir.join(bad).exists();
        assert_eq!(there, n >= 4, "{bad}: final file present = {there}");
    }
    // failed files leave nothing under their final name, and no empty .part
    let mut inside: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    inside.sort();
    let mut want: Vec<String> = names[4..].to_vec();
    want.sort();
    assert_eq!(inside, want);
    // no request was made for the bad names, nothing outside the folder
    assert!(asset_requests(&s)
        .iter()
        .all(|l| !l.contains("passwd") && !l.contains(".rds")));
    assert!(!work.join("etc").exists());
    let mut top = work.names();
    top.sort();
    assert_eq!(top, ["f.csv", "h5ad", "in.csv"]);
}

#[test]
fn not_enough_space_stops_before_any_transfer() {
    let t = snapshot(&[
        "--collections",
        "2",
        "--datasets",
        "3",
        "--asset-bytes",
        "200000",
    ]);
    let (s, work) = serve_files(&snap_dir(&t), &[]);
    let mut c = Command::new(bin("cxg-download"));
    c.args(["--dir", "h5ad", "index.json", "-o", "m.csv"])
        .current_dir(work.path())
        .env("CXG_DOWNLOAD_FREE_BYTES", "500000");
    let o = run_cmd(c, None);
    o.code(2)
        .stderr_has("not enough space in 'h5ad': 3 files need 600000 bytes");
    assert!(asset_requests(&s).is_empty());
    assert!(!work.join("h5ad").exists() && !work.join("m.csv").exists());
    // a dry run says what would be transferred and transfers nothing
    let o = download(
        work.path(),
        &["--dir", "h5ad", "--dry-run", "index.json"],
        None,
    );
    o.ok().stderr_has("3 to fetch (585.9 KiB = 600000 bytes)");
    assert!(manifest(&o.stdout)
        .iter()
        .all(|r| r["status"] == "would-fetch"));
    assert!(asset_requests(&s).is_empty());
    assert!(!work.join("h5ad").exists());
}

#[test]
fn a_file_over_4_gib_resumes_near_its_end() {
    // A sparse 4 GiB + 100 kB file on the server; the client's .part is
    // sparse too and holds all but the last 100,000 bytes, so the test
    // moves 100 kB over loopback but checks every >4 GiB offset, size and
    // the SHA-256 of the whole file (zeros).
    let size: u64 = (4u64 << 30) + 100_000;
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--sparse-assets",
        "--asset-bytes",
        &size.to_string(),
    ]);
    let snap = snap_dir(&t);
    let name = asset_names(&snap)[0].clone();
    let (s, work) = serve_files(&snap, &[]);
    let dir = work.join("h5ad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let have = size - 100_000;
    // the HDF5 signature, then zeros, as cxg-gen --sparse-assets writes
    std::fs::write(dir.join(format!("{name}.part")), b"\x89HDF\r\n\x1a\n")
        .and_then(|()| {
            std::fs::File::options()
                .write(true)
                .open(dir.join(format!("{name}.part")))
        })
        .and_then(|f| f.set_len(have))
        .expect("sparse part");
    let etag =
        std::fs::read_to_string(snap.join("assets").join(format!("{name}.etag"))).expect("etag");
    let base = s.url.trim_end_matches("/curation/v1");
    std::fs::write(
        dir.join(format!("{name}.part.json")),
        serde_json::json!({"url": format!("{base}/assets/{name}"), "size": size, "etag": etag.trim()})
            .to_string(),
    )
    .expect("sidecar");
    let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
    o.ok();
    let m = manifest(&o.stdout);
    assert_eq!(m[0]["status"], "resumed");
    assert_eq!(m[0]["bytes"], size.to_string());
    assert_eq!(
        m[0]["verified_by"], "size",
        "an ETag of unknown form is not held against the file"
    );
    let r = asset_requests(&s);
    assert!(
        r.len() == 1 && r[0].contains(&format!(" 206 bytes={have}-{}", size - 1)),
        "{r:?}"
    );
    assert_eq!(size_of(&dir.join(&name)), size);
    // SHA-256 of the signature and 4 GiB + 100 kB - 8 of zeros
    let o = sh(
        work.path(),
        &format!(
            "{{ printf '\\211HDF\\r\\n\\032\\n'; head -c {} /dev/zero; }} | sha256sum | cut -d' ' -f1",
            size - 8
        ),
    );
    assert_eq!(m[0]["sha256"], o.text().trim());
}

#[test]
fn an_unreachable_host_is_exit_3_with_the_offline_hint() {
    let work = TempDir::new();
    let base = dead_url();
    let base = base.trim_end_matches("/curation/v1");
    let csv = format!(
        "h5ad_url\n{base}/assets/0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad\n{base}/assets/1b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad\n"
    );
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "-o",
            "m.csv",
        ],
        Some(csv.as_bytes()),
    );
    o.code(3)
        .stderr_has("the file host cannot be reached")
        .stderr_has("make demo");
    assert!(!o.stderr.contains("0 bytes kept"), "{}", o.stderr);
    // the manifest of what was done is written even so: every row failed
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m.len(), 2);
    assert!(m.iter().all(|r| r["status"] == "failed"));
}

/// A failed name lookup is the host not being reached, as a refused
/// connection is (and as it is for cxg-fetch and cxg-h5ad): exit 3 with
/// the offline hint when every row is of that host; with another host
/// alive, its rows fail (exit 1) and the host is not asked again. `.invalid`
/// never resolves (RFC 6761).
#[test]
fn a_failed_name_lookup_is_a_host_that_cannot_be_reached() {
    let work = TempDir::new();
    let ids = [
        "0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11",
        "1b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11",
    ];
    let rows: Vec<String> = ids
        .iter()
        .map(|id| format!("{id},http://nonexistent.invalid/assets/{id}.h5ad,1000\n"))
        .collect();
    let csv = format!(
        "dataset_version_id,h5ad_url,h5ad_filesize\n{}",
        rows.concat()
    );
    let args = [
        "--dir",
        "h5ad",
        "-j",
        "1",
        "--retries",
        "1",
        "--backoff-ms",
        "1",
        "-o",
        "m.csv",
    ];
    let o = download(work.path(), &args, Some(csv.as_bytes()));
    o.code(3)
        .stderr_has("the file host cannot be reached: nonexistent.invalid")
        .stderr_has("make demo");
    // the second file is not tried: its host is known to be unreachable
    o.stderr_has("not attempted: nonexistent.invalid could not be reached");
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m.len(), 2);
    assert!(m.iter().all(|r| r["status"] == "failed"), "{m:?}");
    // beside a host that answers: the rows of the unknown host fail, exit 1
    let t = snapshot(&["--collections", "1", "--datasets", "1"]);
    let s = Server::start(&snap_dir(&t), &["--local-assets"]);
    let mut csv = index_csv(&s, true);
    csv.push_str(&format!(
        "x,{},http://nonexistent.invalid/assets/{}.h5ad,1000\n",
        ids[0], ids[0]
    ));
    std::fs::write(work.join("in.csv"), csv).expect("write");
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "in.csv",
        ],
        None,
    );
    o.code(1).stderr_has("nonexistent.invalid");
    let m = manifest(&o.stdout);
    assert_eq!(m[0]["status"], "downloaded");
    assert_eq!(m[1]["status"], "failed");
}

/// `-o` and `--failures` naming one file would let one replace the other:
/// refused before any work, worded as cxg-h5ad words it. A symlink to the
/// other file, or another spelling of its path, is the same file.
#[test]
fn the_manifest_and_the_failures_file_cannot_be_one_file() {
    let work = TempDir::new();
    let csv = format!(
        "h5ad_url\n{}/assets/0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad\n",
        dead_url()
    );
    download(
        work.path(),
        &["--dir", "h5ad", "-o", "x.csv", "--failures", "x.csv"],
        Some(csv.as_bytes()),
    )
    .code(2)
    .stderr_has("--failures 'x.csv' is also -o: give them different files");
    std::os::unix::fs::symlink("x.csv", work.join("link.csv")).expect("symlink");
    download(
        work.path(),
        &["--dir", "h5ad", "-o", "link.csv", "--failures", "./x.csv"],
        Some(csv.as_bytes()),
    )
    .code(2)
    .stderr_has("is also -o: give them different files");
    // nothing was done: no folder, no file
    assert_eq!(work.names(), ["link.csv"]);
}

#[test]
fn bad_input_is_exit_2() {
    let work = TempDir::new();
    download(work.path(), &[], Some(b"dataset_id,url\nx,y\n"))
        .code(2)
        .stderr_has("expected an h5ad_url column");
    download(work.path(), &[], Some(b"[{\"assets\": [}]"))
        .code(2)
        .stderr_has("stdin");
    download(work.path(), &[], Some(b""))
        .code(2)
        .stderr_has("empty");
    download(
        work.path(),
        &["--previous", "nope.csv"],
        Some(b"h5ad_url\n"),
    )
    .code(2)
    .stderr_has("nope.csv");
}

#[test]
fn a_file_host_failing_every_request_is_exit_3_and_one_failing_file_is_exit_1() {
    let t = snapshot(&["--collections", "2", "--datasets", "3"]);
    let (_s, work) = serve_files(
        &snap_dir(&t),
        &[
            "--fail-match",
            "/assets/",
            "--fail-every",
            "1",
            "--fail-status",
            "503",
        ],
    );
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "index.json",
            "-o",
            "m.csv",
        ],
        None,
    );
    o.code(3)
        .stderr_has("every transfer failed (3 files)")
        .stderr_has("HTTP 503")
        .stderr_has("nothing was received");
    assert_eq!(manifest(&read(&work.join("m.csv"))).len(), 3);
    // only one file's requests fail: that row fails, the others are downloaded
    let name = asset_names(&snap_dir(&t))[0].clone();
    let s = Server::start(
        &snap_dir(&t),
        &[
            "--local-assets",
            "--fail-match",
            &name,
            "--fail-every",
            "1",
            "--fail-status",
            "500",
        ],
    );
    std::fs::write(work.join("index.json"), index(&s)).expect("write");
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "index.json",
        ],
        None,
    );
    o.code(1).stderr_has("HTTP 500");
    let m = manifest(&o.stdout);
    assert_eq!(m.iter().filter(|r| r["status"] == "downloaded").count(), 2);
}

#[test]
fn a_progress_bar_only_on_a_terminal() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "2",
        "--asset-bytes",
        "400000",
    ]);
    let (_s, work) = serve_files(&snap_dir(&t), &["--rate", "800000"]);
    // not a terminal (the other tests): no bar, just the summary
    let o = download(work.path(), &["--dir", "plain", "index.json"], None);
    o.ok();
    assert!(!o.stderr.contains("ETA"), "{}", o.stderr);
    if Command::new("script").arg("--version").output().is_err() {
        skip("`script` is not installed (needed for a terminal)");
        return;
    }
    let cmd = format!(
        "{} --dir tty index.json -o m.csv",
        bin("cxg-download").display()
    );
    let o = sh(
        work.path(),
        &format!("timeout 20 script -qec '{cmd}' /dev/null || true"),
    );
    let text = o.text();
    assert!(text.contains("/2 files") && text.contains("ETA"), "{text}");
    assert!(text.contains("2 downloaded"), "{text}");
}

#[test]
fn symlinks_planted_in_the_folder_are_not_followed() {
    let t = snapshot(&["--collections", "1", "--datasets", "2"]);
    let (_s, work) = serve_files(&snap_dir(&t), &[]);
    let names = asset_names(&snap_dir(&t));
    let dir = work.join("h5ad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(work.join("victim"), "keep me").expect("write");
    std::os::unix::fs::symlink(work.join("victim"), dir.join(format!("{}.part", names[0])))
        .expect("symlink");
    std::os::unix::fs::symlink(work.join("victim"), dir.join(&names[1])).expect("symlink");
    let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
    o.code(1).stderr_has("is a symbolic link");
    assert_eq!(read(&work.join("victim")), b"keep me");
    assert!(manifest(&o.stdout).iter().all(|r| r["status"] == "failed"));
}

/// A CSV of the served index's H5AD rows; `sizes`: with h5ad_filesize.
fn index_csv(s: &Server, sizes: bool) -> String {
    let idx = json(&index(s));
    let mut csv = String::from(if sizes {
        "dataset_id,dataset_version_id,h5ad_url,h5ad_filesize\n"
    } else {
        "dataset_id,dataset_version_id,h5ad_url\n"
    });
    for d in idx.as_array().expect("array") {
        let a = d["assets"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["filetype"] == "H5AD"))
            .expect("h5ad");
        csv.push_str(&format!(
            "{},{},{}",
            d["dataset_id"].as_str().expect("id"),
            d["dataset_version_id"].as_str().expect("dvid"),
            a["url"].as_str().expect("url"),
        ));
        if sizes {
            csv.push_str(&format!(",{}", a["filesize"]));
        }
        csv.push('\n');
    }
    csv
}

#[test]
fn one_unreachable_host_fails_its_rows_only_and_the_manifest_is_written() {
    let t = snapshot(&["--collections", "1", "--datasets", "2"]);
    let s = Server::start(&snap_dir(&t), &["--local-assets"]);
    let work = TempDir::new();
    let dead = dead_url();
    let dead = dead.trim_end_matches("/curation/v1");
    let mut csv = index_csv(&s, true);
    csv.push_str(&format!(
        "x,0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11,{dead}/assets/0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad,1000\n"
    ));
    std::fs::write(work.join("in.csv"), csv).expect("write");
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "-j",
            "1",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
            "--failures",
            "f.csv",
            "-o",
            "m.csv",
            "in.csv",
        ],
        None,
    );
    o.code(1).stderr_has("0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11");
    assert!(!o.stderr.contains("0 bytes kept"), "{}", o.stderr);
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m.len(), 3);
    assert_eq!(m[0]["status"], "downloaded");
    assert_eq!(m[1]["status"], "downloaded");
    assert_eq!(m[2]["status"], "failed");
    assert_eq!(manifest(&read(&work.join("f.csv"))).len(), 1);
    check_identical(&snap_dir(&t), &work.join("h5ad"));
}

#[test]
fn a_transfer_longer_than_the_timeout_completes_while_bytes_flow() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--asset-bytes",
        "250000",
    ]);
    // 2.5 s of body at 100 kB/s, --timeout 1, and Range ignored: only an
    // idle timeout lets it complete (a whole-body cap restarts it forever)
    let (s, work) = serve_files(&snap_dir(&t), &["--rate", "100000", "--no-range"]);
    let mut c = Command::new("timeout");
    c.arg("30")
        .arg(bin("cxg-download"))
        .args(["--dir", "h5ad", "--timeout", "1", "index.json"])
        .current_dir(work.path());
    let o = run_cmd(c, None);
    o.ok();
    assert_eq!(manifest(&o.stdout)[0]["status"], "downloaded");
    assert_eq!(asset_requests(&s).len(), 1, "{:?}", asset_requests(&s));
    check_identical(&snap_dir(&t), &work.join("h5ad"));
}

#[test]
fn a_resume_onto_a_file_of_another_size_with_the_same_etag_starts_again() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--asset-bytes",
        "1000000",
    ]);
    let snap = snap_dir(&t);
    let name = asset_names(&snap)[0].clone();
    // an ETag of a form the client cannot check (as for many S3 objects):
    // only the sizes can tell the two files apart
    std::fs::write(
        snap.join("assets").join(format!("{name}.etag")),
        "\"same-etag\"\n",
    )
    .expect("etag");
    let s = Server::start(&snap, &["--local-assets", "--rate", "1000000"]);
    let work = TempDir::new();
    // no h5ad_filesize: the size is known only from the server
    std::fs::write(work.join("in.csv"), index_csv(&s, false)).expect("write");
    let part = work.join(&format!("h5ad/{name}.part"));
    let mut child = Command::new(bin("cxg-download"))
        .args(["--dir", "h5ad", "in.csv"])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for(|| size_of(&part) >= 100_000, "part of the file");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    child.wait().expect("wait");
    let kept = size_of(&part);
    assert!((100_000..1_000_000).contains(&kept), "kept {kept}");
    // the server's file is now another, twice as long, with the same ETag
    let asset = snap.join("assets").join(&name);
    let mut bigger = read(&asset);
    bigger.extend(std::iter::repeat_n(7u8, 1_000_000));
    std::fs::write(&asset, &bigger).expect("write");
    let o = download(work.path(), &["--dir", "h5ad", "in.csv"], None);
    o.ok();
    let m = manifest(&o.stdout);
    assert_eq!(m[0]["status"], "downloaded", "{}", o.stderr);
    assert_eq!(m[0]["bytes"], "2000000");
    assert!(read(&work.join(&m[0]["path"])) == bigger, "a spliced file");
}

#[test]
fn unknown_sizes_are_learned_for_the_space_check_and_an_empty_file_fails() {
    let t = snapshot(&[
        "--collections",
        "2",
        "--datasets",
        "3",
        "--asset-bytes",
        "200000",
    ]);
    let snap = snap_dir(&t);
    let s = Server::start(&snap, &["--local-assets"]);
    let work = TempDir::new();
    std::fs::write(work.join("in.csv"), index_csv(&s, false)).expect("write");
    let mut c = Command::new(bin("cxg-download"));
    c.args(["--dir", "h5ad", "in.csv", "-o", "m.csv"])
        .current_dir(work.path())
        .env("CXG_DOWNLOAD_FREE_BYTES", "500000");
    run_cmd(c, None)
        .code(2)
        .stderr_has("not enough space in 'h5ad': 3 files need 600000 bytes");
    assert!(!work.join("h5ad").exists() && !work.join("m.csv").exists());
    // an empty body is never an H5AD
    let names = asset_names(&snap);
    std::fs::write(snap.join("assets").join(&names[0]), b"").expect("empty");
    let o = download(work.path(), &["--dir", "h5ad", "in.csv"], None);
    o.code(1).stderr_has("empty");
    let m = manifest(&o.stdout);
    assert_eq!(m.iter().filter(|r| r["status"] == "failed").count(), 1);
    assert!(!work.join("h5ad").join(&names[0]).exists());
}

#[test]
fn unknown_sizes_and_range_ignored_a_rerun_says_present() {
    let t = snapshot(&["--collections", "1", "--datasets", "2"]);
    let s = Server::start(&snap_dir(&t), &["--local-assets", "--no-range"]);
    let work = TempDir::new();
    std::fs::write(work.join("in.csv"), index_csv(&s, false)).expect("write");
    download(work.path(), &["--dir", "h5ad", "in.csv"], None)
        .ok()
        .stderr_has("2 downloaded");
    let o = download(work.path(), &["--dir", "h5ad", "in.csv"], None);
    o.ok()
        .stderr_has("0 downloaded, 0 resumed, 2 present, 0 failed; 0 bytes transferred");
    check_identical(&snap_dir(&t), &work.join("h5ad"));
}

#[test]
fn small_things_dry_run_bad_rows_previous_stale_hash_and_messages() {
    let t = snapshot(&["--collections", "1", "--datasets", "2"]);
    let snap = snap_dir(&t);
    let s = Server::start(&snap, &["--local-assets"]);
    let work = TempDir::new();
    let base = s.url.trim_end_matches("/curation/v1");
    let mut csv = index_csv(&s, true);
    csv.push_str(&format!("x,y,{base}/assets/not-a-uuid.h5ad,10\n"));
    std::fs::write(work.join("bad.csv"), &csv).expect("write");
    // a dry run with a bad row says so: exit 1, the row named
    download(
        work.path(),
        &["--dir", "h5ad", "--dry-run", "bad.csv"],
        None,
    )
    .code(1)
    .stderr_has("row 3");
    // the same file name with another url: the row number once
    let first = index_csv(&s, true).lines().nth(1).expect("row").to_string();
    let other = first.replacen("/assets/", "/assets//", 1);
    std::fs::write(
        work.join("dup.csv"),
        format!("dataset_id,dataset_version_id,h5ad_url,h5ad_filesize\n{first}\n{other}\n"),
    )
    .expect("write");
    let o = download(work.path(), &["--dir", "h5ad", "dup.csv"], None);
    o.code(1).stderr_has("row 2");
    assert!(!o.stderr.contains("row 2: row 2"), "{}", o.stderr);
    // --previous without --verify: a file changed since the manifest is hashed again
    std::fs::write(work.join("in.csv"), index_csv(&s, true)).expect("write");
    download(
        work.path(),
        &["--dir", "h5ad", "in.csv", "-o", "m.csv"],
        None,
    )
    .ok();
    let m = manifest(&read(&work.join("m.csv")));
    let victim = work.join(&m[0]["path"]);
    std::thread::sleep(Duration::from_millis(20));
    let mut bytes = read(&victim);
    bytes[0] ^= 0xff;
    std::fs::write(&victim, &bytes).expect("write");
    let o = download(
        work.path(),
        &["--dir", "h5ad", "--previous", "m.csv", "in.csv"],
        None,
    );
    o.ok();
    let m2 = manifest(&o.stdout);
    assert_eq!(m2[0]["sha256"], sha256sum(&victim));
    assert_ne!(m2[0]["sha256"], m[0]["sha256"]);
    assert_eq!(m2[1]["sha256"], m[1]["sha256"]);
    // the server does not serve the ETag sidecar files
    let name = &asset_names(&snap)[0];
    let port = base.rsplit(':').next().expect("port");
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
    write!(
        c,
        "GET /assets/{name}.etag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[test]
fn cxg_gen_bounds_asset_bytes_and_checks_free_space() {
    let work = TempDir::new();
    let gen = |args: &[&str], free: Option<&str>| {
        let mut c = Command::new(bin("cxg-gen"));
        c.args(args).current_dir(work.path());
        if let Some(f) = free {
            c.env("CXG_GEN_FREE_BYTES", f);
        }
        run_cmd(c, None)
    };
    gen(
        &[
            "--datasets",
            "2",
            "--assets",
            "--asset-bytes",
            "25000000000",
            "a",
        ],
        None,
    )
    .code(2)
    .stderr_has("--sparse-assets");
    gen(
        &[
            "--datasets",
            "2",
            "--assets",
            "--sparse-assets",
            "--asset-bytes",
            "100000000000",
            "b",
        ],
        None,
    )
    .code(2)
    .stderr_has("64 GiB");
    gen(
        &[
            "--collections",
            "1",
            "--datasets",
            "2",
            "--assets",
            "--asset-bytes",
            "100000",
            "c",
        ],
        Some("150000"),
    )
    .code(2)
    .stderr_has("not enough space");
    assert!(work.names().is_empty(), "{:?}", work.names());
}

#[test]
fn cxg_gen_killed_leaves_no_staging_folder() {
    let work = TempDir::new();
    let mut child = Command::new(bin("cxg-gen"))
        .args([
            "--collections",
            "2",
            "--datasets",
            "40",
            "--assets",
            "--asset-bytes",
            "5000000",
            "snap",
        ])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let staged = || {
        work.names()
            .iter()
            .any(|n| n.starts_with(".snap.") && n.ends_with(".tmp"))
    };
    wait_for(staged, "the staging folder");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let st = child.wait().expect("wait");
    assert_eq!(st.code(), Some(143));
    assert!(work.names().is_empty(), "{:?}", work.names());
}

#[test]
fn log_requests_records_each_transfer_for_provenance() {
    let t = snapshot(&["--seed", "8", "--collections", "2", "--datasets", "4"]);
    let (s, work) = serve_files(&snap_dir(&t), &[]);
    let o = download(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--log-requests",
            "requests.jsonl",
            "index.json",
            "-o",
            "m.csv",
        ],
        None,
    );
    o.ok();
    let m = manifest(&read(&work.join("m.csv")));
    let log = jsonl(&read(&work.join("requests.jsonl")));
    assert_eq!(log.len(), 4, "{log:?}");
    for r in &m {
        let l = log
            .iter()
            .find(|l| l["url"] == r["url"].as_str())
            .expect("every transfer is logged");
        assert_eq!(l["method"], "GET");
        assert_eq!(l["status"], 200);
        assert_eq!(l["attempts"], 1);
        assert_eq!(l["tool"], "cxg-download");
        assert_eq!(l["sha256"], r["sha256"].as_str());
        assert_eq!(l["bytes"].to_string(), r["bytes"]);
    }
    // a rerun transfers nothing and so logs nothing; the variable works too
    let mut c = Command::new(bin("cxg-download"));
    c.args(["--dir", "h5ad", "index.json", "-o", "m.csv"])
        .current_dir(work.path())
        .env("CXG_LOG_REQUESTS", work.join("requests.jsonl"));
    run_cmd(c, None).ok();
    assert_eq!(jsonl(&read(&work.join("requests.jsonl"))).len(), 4);
    // an unwritable log is a usage error before any transfer
    let before = asset_requests(&s).len();
    download(
        work.path(),
        &[
            "--log-requests",
            "/no/such/dir/l.jsonl",
            "--dir",
            "h5ad2",
            "index.json",
        ],
        None,
    )
    .code(2)
    .stderr_has("--log-requests");
    assert_eq!(asset_requests(&s).len(), before);
}

#[test]
fn sizes_from_a_saved_index_need_no_size_requests() {
    let t = snapshot(&["--collections", "1", "--datasets", "3"]);
    let s = Server::start(&snap_dir(&t), &["--local-assets"]);
    let work = TempDir::new();
    std::fs::write(work.join("in.csv"), index_csv(&s, false)).expect("write");
    std::fs::write(work.join("index.json"), index(&s)).expect("write");
    let before = s.requests().len();
    let mut c = Command::new(bin("cxg-download"));
    c.args([
        "--dir",
        "h5ad",
        "--index",
        "index.json",
        "in.csv",
        "-o",
        "m.csv",
    ])
    .current_dir(work.path())
    // the space check counts the sizes from the index: 3 files of the
    // generator's default sizes do not fit in 10 bytes
    .env("CXG_DOWNLOAD_FREE_BYTES", "10");
    run_cmd(c, None).code(2).stderr_has("not enough space");
    assert_eq!(
        s.requests().len(),
        before,
        "no request before the space check"
    );
    let o = download(
        work.path(),
        &["--dir", "h5ad", "--index", "index.json", "in.csv"],
        None,
    );
    o.ok();
    let assets: Vec<String> = s.requests()[before..]
        .iter()
        .filter(|l| l.contains("/assets/"))
        .cloned()
        .collect();
    assert_eq!(
        assets.len(),
        asset_names(&snap_dir(&t)).len(),
        "one request a file: {assets:?}"
    );
    check_identical(&snap_dir(&t), &work.join("h5ad"));
    // an index without sizes is no index
    std::fs::write(work.join("bad.json"), b"[{\"dataset_id\":\"x\"}]").expect("write");
    download(
        work.path(),
        &["--dir", "h5ad", "--index", "bad.json", "in.csv"],
        None,
    )
    .code(2)
    .stderr_has("holds no H5AD asset");
}

#[test]
fn retry_after_dates_are_honoured_and_numeric_options_are_bounded() {
    let t = snapshot(&["--collections", "1", "--datasets", "1"]);
    let (_s, work) = serve_files(
        &snap_dir(&t),
        &[
            "--fail-first",
            "1",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
            "--retry-after-date",
            "--fail-match",
            "/assets/",
        ],
    );
    let o = download(
        work.path(),
        &["--dir", "h5ad", "--backoff-ms", "1", "index.json"],
        None,
    );
    o.ok().stderr_has("retry 1 of 4");
    check_identical(&snap_dir(&t), &work.join("h5ad"));
    for bad in [
        ["--retries", "1000"],
        ["--timeout", "0"],
        ["--backoff-ms", "99999999999"],
    ] {
        let mut a = vec!["--dir", "h5ad"];
        a.extend(bad);
        a.push("index.json");
        let o = download(work.path(), &a, None);
        o.code(2);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
}

/// A one-file snapshot of `bytes` bytes served at `rate` bytes/s (0: no limit).
fn one_file(bytes: u64, serve: &[&str]) -> (TempDir, String, Server, TempDir) {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "1",
        "--asset-bytes",
        &bytes.to_string(),
    ]);
    let name = asset_names(&snap_dir(&t))[0].clone();
    let (s, work) = serve_files(&snap_dir(&t), serve);
    (t, name, s, work)
}

#[test]
fn a_file_swapped_in_at_the_part_during_a_transfer_is_not_renamed_into_place() {
    let (_t, name, _s, work) = one_file(600_000, &["--rate", "300000"]);
    let part = work.join(&format!("h5ad/{name}.part"));
    let child = Command::new(bin("cxg-download"))
        .args(["--dir", "h5ad", "index.json", "-o", "m.csv"])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for(|| size_of(&part) >= 100_000, "part of the file");
    // another file, renamed over the .part mid-transfer
    let other = work.join("h5ad/other");
    std::fs::write(&other, b"not the file that was downloaded").expect("write");
    std::fs::rename(&other, &part).expect("swap");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("was replaced by another file"), "{err}");
    assert!(!work.join(&format!("h5ad/{name}")).exists());
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m[0]["status"], "failed");
    // the swapped-in file is left where it was put, and no sidecar
    // vouches for it as the start of the file
    assert_eq!(read(&part), b"not the file that was downloaded");
    assert!(!work.join(&format!("h5ad/{name}.part.json")).exists());
}

#[test]
fn a_hard_link_planted_at_the_part_is_never_written() {
    let (t, name, s, work) = one_file(100_000, &[]);
    let dir = work.join("h5ad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // a file outside the folder, linked in as the .part, with a sidecar
    // that would make its bytes the start of a "resumed" file
    let victim = work.join("victim");
    std::fs::write(&victim, vec![7u8; 50_000]).expect("write");
    std::fs::hard_link(&victim, dir.join(format!("{name}.part"))).expect("link");
    let served = std::fs::read_to_string(snap_dir(&t).join("assets").join(format!("{name}.etag")))
        .expect("etag");
    let base = s.url.trim_end_matches("/curation/v1");
    let side = serde_json::json!({"url": format!("{base}/assets/{name}"), "size": 100_000,
        "etag": served.trim(), "last_modified": null});
    std::fs::write(dir.join(format!("{name}.part.json")), side.to_string()).expect("write");
    let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
    o.code(1).stderr_has("2 links");
    assert_eq!(
        read(&victim),
        vec![7u8; 50_000],
        "the file outside was changed"
    );
    assert!(!dir.join(&name).exists());
    assert!(asset_requests(&s).is_empty());
}

/// Run cxg-download in `work`, killed (and the test failed) after 30 s.
fn download_bounded(work: &Path, args: &[&str], stdin: &[u8]) -> Out {
    let mut c = Command::new("timeout");
    c.args(["-s", "KILL", "30"])
        .arg(bin("cxg-download"))
        .args(args)
        .current_dir(work);
    let o = run_cmd(c, Some(stdin));
    assert!(
        o.code != 137 && o.code != -1,
        "killed: it hung\n{}",
        o.stderr
    );
    o
}

#[test]
fn a_fifo_where_a_sidecar_or_a_previous_manifest_is_expected_is_named_not_waited_on() {
    let work = TempDir::new();
    let a = "0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11";
    let csv = format!("h5ad_url,h5ad_filesize\n{}/assets/{a}.h5ad,5\n", dead_url());
    std::fs::create_dir_all(work.join("h5ad")).expect("mkdir");
    let fifo = |p: &Path| {
        let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
        assert!(st.success());
    };
    fifo(&work.join(&format!("h5ad/{a}.h5ad.part.json")));
    fifo(&work.join("previous.csv"));
    download_bounded(
        work.path(),
        &["--dir", "h5ad", "--retries", "0"],
        csv.as_bytes(),
    )
    .code(1)
    .stderr_has(&format!(
        "'h5ad/{a}.h5ad.part.json' is not a regular file (a FIFO, a device?)"
    ));
    download_bounded(
        work.path(),
        &[
            "--dir",
            "h5ad",
            "--retries",
            "0",
            "--previous",
            "previous.csv",
        ],
        csv.as_bytes(),
    )
    .code(2)
    .stderr_has("--previous 'previous.csv' is not a regular file");
}

#[test]
fn an_error_page_answered_with_200_is_not_kept_as_the_h5ad() {
    let (t, name, s, work) = one_file(1000, &[]);
    // a 24-byte HTML page where the file was, with no ETag of its own
    let assets = snap_dir(&t).join("assets");
    std::fs::write(assets.join(&name), b"<html>Bad Gateway</html>").expect("write");
    std::fs::remove_file(assets.join(format!("{name}.etag"))).expect("rm etag");
    let base = s.url.trim_end_matches("/curation/v1");
    let csv = format!("h5ad_url\n{base}/assets/{name}\n");
    let o = download(
        work.path(),
        &["--dir", "h5ad", "-o", "m.csv"],
        Some(csv.as_bytes()),
    );
    o.code(1)
        .stderr_has("not an H5AD file: no HDF5 signature at byte 0, 512, 1024, ... of its 24 bytes; it starts with \"<html>Bad Gateway</html>\"");
    let m = manifest(&read(&work.join("m.csv")));
    assert_eq!(m[0]["status"], "failed");
    assert_eq!(work.names(), ["h5ad", "index.json", "m.csv"]);
    assert!(std::fs::read_dir(work.join("h5ad"))
        .expect("h5ad")
        .next()
        .is_none());
}

#[test]
fn a_redirect_to_a_file_url_is_refused_by_its_scheme() {
    // a file host on 127.0.0.1 answering every request with one redirect
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut b = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut b);
            let _ = std::io::Write::write_all(
                &mut s,
                b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let work = TempDir::new();
    let csv = format!(
        "h5ad_url,h5ad_filesize\nhttp://127.0.0.1:{port}/0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad,10\n"
    );
    download(
        work.path(),
        &["--dir", "h5ad", "--retries", "0"],
        Some(csv.as_bytes()),
    )
    .code(1)
    .stderr_has("a redirect to 'file:///etc/passwd': the scheme 'file' is refused")
    .stderr_lacks("too many redirects");
    assert!(!work
        .join("h5ad/0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11.h5ad")
        .exists());
}

/// Every asset of the snapshot given a plain 32-hex ETag that is not the
/// MD5 of its bytes (as S3 gives objects encrypted with SSE-KMS).
fn etags_not_md5(snap: &Path) {
    for n in asset_names(snap) {
        std::fs::write(
            snap.join("assets").join(format!("{n}.etag")),
            "\"0123456789abcdef0123456789abcdef\"\n",
        )
        .expect("etag");
    }
}

/// Full transfers (200 answers) of asset files in the server's log.
fn whole_transfers(s: &Server) -> usize {
    asset_requests(s)
        .iter()
        .filter(|l| l.contains(" GET ") && l.contains(" 200"))
        .count()
}

#[test]
fn etags_that_are_not_md5s_prove_themselves_by_a_second_transfer() {
    let t = snapshot(&[
        "--collections",
        "1",
        "--datasets",
        "3",
        "--asset-bytes",
        "20000",
    ]);
    etags_not_md5(&snap_dir(&t));
    // auto (the default): the first file is transferred twice, the same
    // bytes both times; the host's ETags are then not checked again
    let (s, work) = serve_files(&snap_dir(&t), &[]);
    let o = download(
        work.path(),
        &["--dir", "h5ad", "-j", "1", "index.json"],
        None,
    );
    o.ok().stderr_has("are not MD5s of the content");
    assert_eq!(
        o.stderr.matches("are not MD5s of the content").count(),
        1,
        "{}",
        o.stderr
    );
    let m = manifest(&o.stdout);
    let by: Vec<&str> = m.iter().map(|r| r["verified_by"].as_str()).collect();
    assert_eq!(by, ["size+repeat", "size", "size"]);
    assert!(m.iter().all(|r| r["status"] == "downloaded"));
    check_identical(&snap_dir(&t), &work.join("h5ad"));
    assert_eq!(whole_transfers(&s), 4, "{:?}", asset_requests(&s));
    drop(s);
    // strict: today's behaviour, every file fails
    let (s, work) = serve_files(&snap_dir(&t), &[]);
    let o = download(
        work.path(),
        &["--dir", "h5ad", "--etag-check", "strict", "index.json"],
        None,
    );
    o.code(1).stderr_has("do not match the server's ETag");
    assert!(manifest(&o.stdout).iter().all(|r| r["status"] == "failed"));
    assert_eq!(whole_transfers(&s), 3);
    drop(s);
    // off: never checked
    let (s, work) = serve_files(&snap_dir(&t), &[]);
    let o = download(
        work.path(),
        &["--dir", "h5ad", "--etag-check", "off", "index.json"],
        None,
    );
    o.ok().stderr_lacks("ETag");
    assert!(manifest(&o.stdout)
        .iter()
        .all(|r| r["verified_by"] == "size"));
    assert_eq!(whole_transfers(&s), 3);
}

#[test]
fn an_md5_etag_is_still_checked_under_auto() {
    // ETags that are MD5s: one transfer each, verified by them
    let (_t, _name, s, work) = one_file(30000, &[]);
    let o = download(work.path(), &["--dir", "h5ad", "index.json"], None);
    o.ok().stderr_lacks("once more");
    assert_eq!(manifest(&o.stdout)[0]["verified_by"], "size+etag");
    assert_eq!(whole_transfers(&s), 1);
}
