//! Harvest history end to end: `make refresh` twice against cxg-serve
//! leaves two snapshots (identical responses stored once, the working
//! files linked to the newest) and a diff; provenance.json lists exactly
//! the requests the server logged and is the same for the same input apart
//! from times; a snapshot folder served by cxg-serve replays the harvest;
//! `make snapshots` lists them.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn make_in(target: &str, data: &Path, url: &str) -> Out {
    make(&[
        target.to_string(),
        format!("DATA={}", data.display()),
        format!("API_URL={url}"),
    ])
}

fn snapshots(data: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(data.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(char::is_numeric)
        })
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ino()
}

/// (method, path?query, status) of each request cxg-serve logged.
fn served(s: &Server) -> BTreeSet<(String, String, u64)> {
    s.requests()
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1].to_string(), f[2].to_string(), f[3].parse().unwrap())
        })
        .collect()
}

/// The same triples from provenance.json, with the base URL's path kept.
fn logged(prov: &Value, base: &str) -> BTreeSet<(String, String, u64)> {
    let origin = &base[..base.find("/curation").unwrap()];
    prov["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["url"].as_str().unwrap()[origin.len()..].to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// provenance.json without what depends on the clock or the folder.
fn timeless(prov: &Value, data: &Path) -> Value {
    let text = prov
        .to_string()
        .replace(&data.display().to_string(), "DATA");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for k in ["snapshot", "started_at", "finished_at"] {
        v[k] = Value::Null;
    }
    for r in v["requests"].as_array_mut().unwrap() {
        r["at"] = Value::Null;
        r["duration_ms"] = Value::Null;
    }
    v
}

#[test]
fn make_refresh_twice_keeps_two_snapshots_and_a_diff() {
    let t = TempDir::new();
    let snap = t.join("api");
    generate(
        &snap,
        &["--seed", "21", "--collections", "12", "--datasets", "60"],
    );
    let data = t.join("data");
    let first = {
        let s = Server::start(&snap, &[]);
        let o = make_in("refresh", &data, &s.url);
        o.ok().stderr_has("saved ");
        assert!(
            o.text().contains("fewer than two snapshots"),
            "{}",
            o.text()
        );
        let snaps = snapshots(&data);
        assert_eq!(snaps.len(), 1);
        let prov = json(&read(&snaps[0].join("provenance.json")));
        // every request the server saw, and nothing else
        assert_eq!(logged(&prov, &s.url), served(&s));
        assert_eq!(
            prov["requests"].as_array().unwrap().len(),
            s.requests().len()
        );
        for r in prov["requests"].as_array().unwrap() {
            assert_eq!(r["attempts"], 1);
            assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
            assert!(r["bytes"].as_u64().unwrap() > 0);
        }
        assert_eq!(prov["api_url"], s.url.as_str());
        assert_eq!(prov["stored"]["datasets_index.json"]["records"], 60);
        assert_eq!(prov["stored"]["collections.json"]["records"], 12);
        assert_eq!(
            prov["schema_versions"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>(),
            60
        );
        let csv = data.join("all_datasets_h5ad.csv").display().to_string();
        assert_eq!(prov["outputs"][&csv]["records"], 60);
        assert_eq!(
            prov["outputs"][&csv]["sha256"],
            cxg_tests_sha(&data.join("all_datasets_h5ad.csv"))
        );
        assert!(prov["tools"]["cxg-fetch"].as_str().is_some());
        // the working copy, and no request log left for the next harvest
        assert_eq!(
            read(&data.join("provenance.json")),
            read(&snaps[0].join("provenance.json"))
        );
        assert!(!data.join("requests.jsonl").exists());
        prov
    };

    // the API changes: one dataset revised with 7 more cells
    let mut index = json(&read(&snap.join("datasets.json")));
    let d = &mut index.as_array_mut().unwrap()[4];
    let revised = d["dataset_id"].as_str().unwrap().to_string();
    d["dataset_version_id"] = json!("00000000-0000-4000-8000-000000000007");
    d["cell_count"] = json!(d["cell_count"].as_i64().unwrap() + 7);
    let revised_url = d["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filetype"] == "H5AD")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(snap.join("datasets.json"), index.to_string()).unwrap();

    let s = Server::start(&snap, &[]);
    let before_refresh = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    make_in("refresh", &data, &s.url).ok();
    let snaps = snapshots(&data);
    assert_eq!(snaps.len(), 2);
    // collections.json, relinked to the copy stored by the first snapshot,
    // still carries the time it was fetched
    let fetched = std::fs::metadata(data.join("collections.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(fetched >= before_refresh);
    let changes = jsonl(&read(&data.join("changes.jsonl")));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["change"], "revised");
    assert_eq!(changes[0]["kind"], "content");
    assert_eq!(changes[0]["dataset_id"], revised.as_str());
    assert_eq!(changes[0]["fields"]["cell_count"]["delta"], 7);
    // collections.json did not change: stored once; the working files are the newest
    #[cfg(unix)]
    {
        let (a, b) = (&snaps[0], &snaps[1]);
        assert_eq!(
            inode(&a.join("collections.json")),
            inode(&b.join("collections.json"))
        );
        assert_ne!(
            inode(&a.join("datasets_index.json")),
            inode(&b.join("datasets_index.json"))
        );
        // the working files hold the newest content but never share an
        // inode with the store (editing them cannot reach a snapshot)
        for f in ["collections.json", "datasets_index.json"] {
            assert_ne!(inode(&data.join(f)), inode(&b.join(f)), "{f}");
            assert_eq!(read(&data.join(f)), read(&b.join(f)), "{f}");
        }
    }
    assert_eq!(
        std::fs::read_link(data.join("snapshots/latest")).unwrap(),
        Path::new(snaps[1].file_name().unwrap())
    );
    // the first snapshot was not touched
    assert_eq!(json(&read(&snaps[0].join("provenance.json"))), first);

    // the re-download pipeline of docs/history.md: only the revised dataset, with its link
    let block = doc_sh("docs/history.md", "### Fetching only what changed").concat();
    let cmds = commands(&block);
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    assert!(cmds[0].starts_with("cxg-diff -q --only added,revised --format csv --newest data/"));
    sh(t.path(), &block).ok();
    let (h, rows) = csv_rows(&read(&data.join("changed_h5ad.csv")));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], revised);
    let url = h.iter().position(|c| c == "h5ad_url").unwrap();
    assert_eq!(rows[0][url], revised_url);

    // make snapshots lists both; make diff again gives the same file
    let o = make_in("snapshots", &data, &s.url);
    let text = o.ok().text();
    assert_eq!(text.lines().count(), 3, "{text}");
    for sn in &snaps {
        let name = sn.file_name().unwrap().to_string_lossy().into_owned();
        let row = text.lines().find(|l| l.starts_with(&name)).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[3..5], ["12", "60"], "{row}");
    }
    let before = read(&data.join("changes.jsonl"));
    make_in("diff", &data, &s.url).ok();
    assert_eq!(read(&data.join("changes.jsonl")), before);

    // a make with nothing new adds no snapshot
    make_in("harvest", &data, &s.url).ok();
    assert_eq!(snapshots(&data).len(), 2);
    // a rebuild that fetches nothing adds none either, and make diff keeps
    // the changes of the last fetch (not an empty diff)
    std::fs::remove_file(data.join("all_datasets_h5ad.csv")).unwrap();
    let o = make_in("harvest", &data, &s.url);
    o.ok().stderr_has("no new snapshot");
    assert_eq!(snapshots(&data).len(), 2);
    assert!(data.join("all_datasets_h5ad.csv").exists());
    make_in("diff", &data, &s.url).ok();
    assert_eq!(read(&data.join("changes.jsonl")), before);
}

/// SHA-256 of a file, as lowercase hex.
fn cxg_tests_sha(p: &Path) -> Value {
    use sha2::Digest;
    let d = sha2::Sha256::digest(read(p));
    json!(d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn same_input_same_provenance_and_a_snapshot_replays_offline() {
    let t = TempDir::new();
    let snap = t.join("api");
    generate(
        &snap,
        &["--seed", "22", "--collections", "8", "--datasets", "30"],
    );
    let s = Server::start(&snap, &[]);
    // two harvests into the same folder name (collections.list names it)
    let (a, b) = (t.join("a"), t.join("b"));
    make_in("harvest", &a, &s.url).ok();
    std::fs::rename(&a, &b).unwrap();
    make_in("harvest", &a, &s.url).ok();
    drop(s);
    let pa = json(&read(&a.join("provenance.json")));
    let pb = json(&read(&b.join("provenance.json")));
    assert_eq!(timeless(&pa, &a), timeless(&pb, &a));
    assert_ne!(pa["finished_at"], Value::Null);

    // serve the snapshot folder itself: the replayed harvest has the same bytes
    let sn = &snapshots(&a)[0];
    let replay = Server::start(sn, &[]);
    let c = t.join("c");
    make_in("stages", &c, &replay.url).ok();
    for f in [
        "collections.json",
        "datasets_index.json",
        "all_datasets_h5ad.csv",
    ] {
        assert_eq!(read(&c.join(f)), read(&a.join(f)), "{f}");
    }
    assert!(replay
        .requests()
        .iter()
        .any(|l| l.contains(" /curation/v1/datasets 200")));
}

#[test]
fn a_swapped_fetch_stage_still_gets_provenance() {
    let t = TempDir::new();
    let data = t.join("data");
    let fx = t.join("api");
    generate(
        &fx,
        &["--seed", "23", "--collections", "5", "--datasets", "20"],
    );
    // fetches replaced by plain copies: no request to log, the rest as usual
    let o = make(&[
        "harvest".into(),
        format!("DATA={}", data.display()),
        "API_URL=http://127.0.0.1:9/curation/v1".into(),
        format!(
            "FETCH=f() {{ if [ \"$$1\" = datasets ]; then cp {0}/datasets.json \"$$3\"; else cp {0}/collections.json \"$$3\"; fi; }}; f",
            fx.display()
        ),
    ]);
    o.ok();
    let prov = json(&read(&data.join("provenance.json")));
    assert_eq!(prov["requests"], json!([]));
    assert_eq!(prov["stored"]["datasets_index.json"]["records"], 20);
    assert!(prov["started_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn the_request_log_counts_retries_and_names_failures() {
    let t = TempDir::new();
    let snap = t.join("api");
    generate(
        &snap,
        &["--seed", "24", "--collections", "3", "--datasets", "6"],
    );
    let s = Server::start(&snap, &["--fail-first", "2", "--fail-match", "/datasets"]);
    let log = t.join("requests.jsonl");
    let l = log.display().to_string();
    run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "--backoff-ms",
            "1",
            "--log-requests",
            &l,
            "datasets",
        ],
        None,
    )
    .ok();
    // a 404 is logged with its status and the reason, appended (here via
    // the environment variable)
    let missing = "00000000-0000-4000-8000-000000000000";
    let o = {
        let mut c = Command::new(bin("cxg-fetch"));
        c.args(["--api-url", &s.url, "collection", missing])
            .env("CXG_LOG_REQUESTS", &log);
        run_cmd(c, None)
    };
    o.code(1);
    let lines = jsonl(&read(&log));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["attempts"], 3);
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["url"], format!("{}/datasets", s.url).as_str());
    let body = read(&snap.join("datasets.json"));
    assert_eq!(lines[0]["bytes"], body.len());
    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[1]["sha256"], Value::Null);
    assert!(lines[1]["error"].as_str().unwrap().contains("404"));
    // an unwritable log is a usage error before any request
    let before = s.requests().len();
    run(
        "cxg-fetch",
        &[
            "--api-url",
            &s.url,
            "--log-requests",
            "/no/such/dir/log.jsonl",
            "datasets",
        ],
        None,
    )
    .code(2)
    .stderr_has("--log-requests");
    assert_eq!(s.requests().len(), before);
}

#[test]
fn snapshot_save_never_overwrites_and_leaves_nothing_on_bad_input() {
    let t = TempDir::new();
    let a = t.join("collections.json");
    std::fs::write(&a, "[{\"collection_id\":\"x\"}]\n").unwrap();
    let snaps = t.join("snaps");
    let s = snaps.display().to_string();
    let f = a.display().to_string();
    run("cxg-snapshot", &["save", "-q", "--into", &s, &f], None).ok();
    // the same raw files and no requests: no new snapshot unless --always
    run("cxg-snapshot", &["save", "--into", &s, &f], None)
        .ok()
        .stderr_has("no new snapshot");
    for _ in 0..2 {
        run(
            "cxg-snapshot",
            &["save", "-q", "--always", "--into", &s, &f],
            None,
        )
        .ok();
    }
    // the ontology files a selection used: release from the name, size, SHA-256
    let onto = t.join("CL-ontology-v2026-03-26.json.zst");
    std::fs::write(&onto, b"abc").unwrap();
    let prov = t.join("provenance.json");
    run(
        "cxg-snapshot",
        &[
            "save",
            "-q",
            "--into",
            &t.join("other").display().to_string(),
            "--ontology-file",
            &onto.display().to_string(),
            "--ontology-release",
            "EFO v3.90.0",
            "--provenance",
            &prov.display().to_string(),
            &f,
        ],
        None,
    )
    .ok();
    let p = json(&read(&prov));
    assert_eq!(
        p["ontology_files"],
        json!([{"file": "CL-ontology-v2026-03-26.json.zst", "ontology": "CL",
                "release": "v2026-03-26", "bytes": 3,
                "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}])
    );
    assert_eq!(p["ontology_releases"], json!(["EFO v3.90.0"]));
    std::fs::remove_file(&onto).unwrap();
    std::fs::remove_file(&prov).unwrap();
    let list: Vec<_> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('2'))
        .collect();
    assert_eq!(list.len(), 3, "{list:?}");
    // the three share one stored copy
    assert_eq!(
        std::fs::read_dir(snaps.join(".objects")).unwrap().count(),
        1
    );
    // truncated JSON: exit 2, named, and no new snapshot or staging folder
    let bad = t.join("datasets_index.json");
    std::fs::write(&bad, "[{\"dataset_id\":").unwrap();
    run(
        "cxg-snapshot",
        &["save", "--into", &s, &f, &bad.display().to_string()],
        None,
    )
    .code(2)
    .stderr_has("datasets_index.json");
    let after: Vec<_> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".objects") && !n.ends_with(".lock"))
        .collect();
    assert_eq!(after.len(), 4, "{after:?}"); // three snapshots + latest
    assert_eq!(
        std::fs::read_dir(snaps.join(".objects")).unwrap().count(),
        1
    );
    // the same name twice is refused
    run("cxg-snapshot", &["save", "--into", &s, &f, &f], None)
        .code(2)
        .stderr_has("its own name");
}

/// Damage a stored object behind the store's back (it is read-only; root
/// ignores that, others need the bit cleared).
fn corrupt(obj: &Path) {
    let mut perm = std::fs::metadata(obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(obj, perm).unwrap();
    std::fs::write(obj, b"corrupt").unwrap();
}

fn snap_names(snaps: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('2'))
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn editing_a_working_file_never_reaches_the_store_and_damage_is_repaired() {
    let t = TempDir::new();
    let data = t.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let c = data.join("collections.json");
    let good = b"[{\"collection_id\":\"x\"}]\n".to_vec();
    std::fs::write(&c, &good).unwrap();
    let snaps = t.join("snaps");
    let s = snaps.display().to_string();
    let f = c.display().to_string();
    run("cxg-snapshot", &["save", "-q", "--into", &s, &f], None).ok();
    let first = snaps.join(&snap_names(&snaps)[0]);
    assert_ne!(inode(&c), inode(&first.join("collections.json")));
    // `echo X >> data/collections.json` touches the working file only
    let mut edited = good.clone();
    edited.extend(b"X\n");
    std::fs::write(&c, &edited).unwrap();
    assert_eq!(read(&first.join("collections.json")), good);
    run("cxg-snapshot", &["verify", &s], None)
        .ok()
        .stderr_has("0 damaged");
    // the store damaged behind its back (root ignores the read-only bit)
    std::fs::write(&c, &good).unwrap();
    let obj = std::fs::read_dir(snaps.join(".objects"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    corrupt(&obj);
    run("cxg-snapshot", &["verify", &s], None)
        .code(1)
        .stderr_has(&obj.display().to_string())
        .stderr_has(&first.display().to_string());
    // the next save re-hashes the object, names it and stores the good copy
    let o = run("cxg-snapshot", &["save", "--into", &s, &f], None);
    o.ok().stderr_has("damaged");
    let names = snap_names(&snaps);
    assert_eq!(names.len(), 2);
    assert_eq!(read(&snaps.join(&names[1]).join("collections.json")), good);
    assert_eq!(read(&obj), good);
    assert_eq!(read(&c), good);
}

#[cfg(unix)]
#[test]
fn a_symlinked_working_file_is_stored_by_its_content() {
    let t = TempDir::new();
    let store = t.join("store");
    let data = t.join("data");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let body = b"[{\"collection_id\":\"y\"}]\n";
    std::fs::write(store.join("c.json"), body).unwrap();
    let c = data.join("collections.json");
    std::os::unix::fs::symlink("../store/c.json", &c).unwrap();
    let snaps = t.join("snaps");
    run(
        "cxg-snapshot",
        &[
            "save",
            "-q",
            "--into",
            &snaps.display().to_string(),
            &c.display().to_string(),
        ],
        None,
    )
    .ok();
    let saved = snaps.join(&snap_names(&snaps)[0]).join("collections.json");
    let m = std::fs::symlink_metadata(&saved).unwrap();
    assert!(m.file_type().is_file(), "{m:?}");
    assert_eq!(read(&saved), body);
    // the working link is left as it was
    assert!(std::fs::symlink_metadata(&c)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn list_names_a_damaged_snapshot_and_lists_the_others() {
    let t = TempDir::new();
    let c = t.join("collections.json");
    let snaps = t.join("snaps");
    let s = snaps.display().to_string();
    for body in ["[{\"collection_id\":\"a\"}]", "[{\"collection_id\":\"b\"}]"] {
        std::fs::write(&c, body).unwrap();
        run(
            "cxg-snapshot",
            &["save", "-q", "--into", &s, &c.display().to_string()],
            None,
        )
        .ok();
    }
    let names = snap_names(&snaps);
    assert_eq!(names.len(), 2);
    let broken = snaps.join(&names[0]).join("collections.json");
    std::fs::remove_file(&broken).unwrap();
    std::fs::write(&broken, "[{\"collection_id\":").unwrap();
    // and a staging folder left by a save killed with SIGKILL
    let stale = snaps.join(".saving.999999999");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("collections.json"), "x").unwrap();
    let o = run("cxg-snapshot", &["list", &s], None);
    o.code(1)
        .stderr_has(&format!("snapshot {} is damaged", names[0]))
        .stderr_has("interrupted save");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let listed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(listed.contains(&names[1].as_str()), "{text}");
    assert!(!listed.contains(&names[0].as_str()), "{text}");
    assert!(!stale.exists());
}

#[cfg(unix)]
#[test]
fn sigint_during_save_leaves_no_staging_folder() {
    let t = TempDir::new();
    let c = t.join("collections.json");
    std::fs::write(&c, "[]").unwrap();
    // an output that blocks the save after its staging folder exists
    let fifo = t.join("fifo.csv");
    sh(t.path(), &format!("mkfifo '{}'", fifo.display())).ok();
    let snaps = t.join("snaps");
    let mut child = Command::new(bin("cxg-snapshot"))
        .args(["save", "--into"])
        .arg(&snaps)
        .arg("--output-file")
        .arg(&fifo)
        .arg(&c)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let staging = snaps.join(format!(".saving.{}", child.id()));
    let mut waited = 0;
    while !staging.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
        assert!(waited < 1500, "no staging folder appeared");
    }
    // let the signal thread start (it is installed before any work)
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130));
    assert!(!staging.exists());
    assert!(snap_names(&snaps).is_empty());
}

#[test]
fn provenance_lists_only_this_runs_requests() {
    let t = TempDir::new();
    let snap = t.join("api");
    generate(
        &snap,
        &["--seed", "25", "--collections", "3", "--datasets", "6"],
    );
    let data = t.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // an earlier failed run left its requests in the log
    std::fs::write(
        data.join("requests.jsonl"),
        "{\"at\":\"2000-01-01T00:00:00Z\",\"method\":\"GET\",\
         \"url\":\"http://127.0.0.1:9/curation/v1/old\",\"status\":500}\n",
    )
    .unwrap();
    let s = Server::start(&snap, &[]);
    make_in("harvest", &data, &s.url).ok();
    let prov = json(&read(&data.join("provenance.json")));
    assert_eq!(logged(&prov, &s.url), served(&s));
    assert_eq!(
        prov["requests"].as_array().unwrap().len(),
        s.requests().len()
    );
    assert!(!prov["started_at"].as_str().unwrap().starts_with("2000"));
}

/// Every file of a folder tree, by its path relative to `dir`, with its size.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, u64> {
    fn walk(d: &Path, rel: &str, out: &mut std::collections::BTreeMap<String, u64>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &r, out);
            } else {
                out.insert(r, e.metadata().unwrap().len());
            }
        }
    }
    let mut m = std::collections::BTreeMap::new();
    walk(dir, "", &mut m);
    m
}

#[cfg(unix)]
#[test]
fn saved_responses_are_stored_deduplicated_compared_listed_and_verified() {
    let t = TempDir::new();
    let c = t.join("collections.json");
    std::fs::write(&c, "[{\"collection_id\":\"x\"}]\n").unwrap();
    let (c1, c2) = (
        "6e2974ee-853a-4444-b781-01a428af919f",
        "9a060f6a-80f0-4498-bc22-5ecebdfc4476",
    );
    let (d1, d2, d3) = (
        "781bd1e1-bddd-4d9c-aa52-e77450c51ed9",
        "fa8d0451-4377-4177-9d5b-3c408f64d941",
        "16e44f1d-3a01-4f15-9241-a871958eddac",
    );
    let resp = t.join("responses");
    let put = |cid: &str, did: &str, body: &str| {
        let dir = resp.join(format!("collections/{cid}/datasets"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{did}.json")), body).unwrap();
    };
    // d2 and d3 have the same bytes: one stored object for both
    put(c1, d1, "{\"dataset_id\":\"one\", \"n\": 1.50}");
    put(c1, d2, "{\"dataset_id\":\"same\"}");
    put(c2, d3, "{\"dataset_id\":\"same\"}");
    let snaps = t.join("snaps");
    let (s, f, r) = (
        snaps.display().to_string(),
        c.display().to_string(),
        resp.display().to_string(),
    );
    let save = |extra: &[&str]| {
        let mut a = vec!["save", "--into", &s, "--responses", &r];
        a.extend_from_slice(extra);
        a.push(&f);
        run("cxg-snapshot", &a, None)
    };
    save(&[]).ok().stderr_has("4 files");
    let names = snap_names(&snaps);
    assert_eq!(names.len(), 1);
    let first = snaps.join(&names[0]);
    let rel = |cid: &str, did: &str| format!("collections/{cid}/datasets/{did}.json");
    let files = tree(&first);
    let want: Vec<String> = vec![
        rel(c1, d2),
        rel(c1, d1),
        rel(c2, d3),
        "collections.json".into(),
        "provenance.json".into(),
    ];
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), want_sorted);
    for (cid, did) in [(c1, d1), (c1, d2), (c2, d3)] {
        assert_eq!(
            read(&first.join(rel(cid, did))),
            read(&resp.join(rel(cid, did)))
        );
    }
    // recorded in provenance.json under their paths; 3 distinct objects
    let prov = json(&read(&first.join("provenance.json")));
    let stored: Vec<&String> = prov["stored"].as_object().unwrap().keys().collect();
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(prov["stored"][rel(c1, d1)]["bytes"], json!(31));
    assert_eq!(
        std::fs::read_dir(snaps.join(".objects")).unwrap().count(),
        3
    );
    assert_eq!(
        inode(&first.join(rel(c1, d2))),
        inode(&first.join(rel(c2, d3)))
    );
    // list counts the nested files in the size
    let total: u64 = files.values().sum();
    let o = run("cxg-snapshot", &["list", &s], None);
    o.ok();
    assert!(
        o.text().contains(&format!(" {total} B "))
            || o.text()
                .contains(&format!("{:.1} kB", total as f64 / 1000.0)),
        "{total}: {}",
        o.text()
    );
    // the same files and no requests: no new snapshot
    save(&[]).ok().stderr_has("no new snapshot");
    // an answer changed: a new snapshot
    put(c1, d1, "{\"dataset_id\":\"one\", \"n\": 2}");
    save(&["-q"]).ok();
    assert_eq!(snap_names(&snaps).len(), 2);
    // one answer fewer, or none, and nothing fetched (a narrower selection
    // of the same harvest): the newest still holds it, no new snapshot
    std::fs::remove_file(resp.join(rel(c2, d3))).unwrap();
    save(&[]).ok().stderr_has("no new snapshot");
    run("cxg-snapshot", &["save", "--into", &s, &f], None)
        .ok()
        .stderr_has("no new snapshot");
    // but an answer the newest lacks is new
    put(c2, d3, "{\"dataset_id\":\"three\", \"n\": 3}");
    save(&["-q"]).ok();
    let names = snap_names(&snaps);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(snaps.join(&names[2]).join(rel(c2, d3)).exists());
    run(
        "cxg-snapshot",
        &["save", "-q", "--always", "--into", &s, &f],
        None,
    )
    .ok();
    assert_eq!(snap_names(&snaps).len(), 4);
    run("cxg-snapshot", &["verify", &s], None)
        .ok()
        .stderr_has("verified 5 stored objects and 4 snapshots: 0 damaged");
    // a nested file damaged behind the store's back is named by verify
    let obj = std::fs::canonicalize(first.join(rel(c1, d1))).unwrap();
    corrupt(&obj);
    run("cxg-snapshot", &["verify", &s], None)
        .code(1)
        .stderr_has(&first.join(rel(c1, d1)).display().to_string());
    // a provenance.json edited to name a file outside the snapshot: named,
    // never read
    let last = snaps.join(snap_names(&snaps).pop().unwrap());
    let prov = last.join("provenance.json");
    let mut v: serde_json::Value = serde_json::from_slice(&read(&prov)).unwrap();
    v["stored"]["../../outside"] = serde_json::json!({"sha256": "0"});
    std::fs::remove_file(&prov).unwrap();
    std::fs::write(&prov, serde_json::to_vec(&v).unwrap()).unwrap();
    run("cxg-snapshot", &["verify", &s], None)
        .code(1)
        .stderr_has("names '../../outside', which is not a file a snapshot holds");
    // a file planted in a snapshot (a replay would serve it), and a
    // collections folder swapped for a link to elsewhere: named
    let planted = first.join(format!(
        "collections/{c1}/datasets/{}.json",
        "0".repeat(8) + "-0000-4000-8000-000000000000"
    ));
    std::fs::write(&planted, "{}").unwrap();
    let o = run("cxg-snapshot", &["verify", &s], None);
    o.code(1).stderr_has(&format!(
        "holds '{}', which its provenance.json does not list",
        planted.display()
    ));
    let second = snaps.join(&snap_names(&snaps)[1]);
    let elsewhere = t.join("elsewhere");
    std::fs::rename(second.join("collections"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, second.join("collections")).unwrap();
    run("cxg-snapshot", &["verify", &s], None)
        .code(1)
        .stderr_has("which its provenance.json does not list")
        .stderr_has("is missing (or reached through a symbolic link)");
}

#[cfg(unix)]
#[test]
fn anything_else_in_the_responses_folder_is_named_and_refused() {
    let c1 = "6e2974ee-853a-4444-b781-01a428af919f";
    let d1 = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
    let good = format!("collections/{c1}/datasets/{d1}.json");
    // (what is planted beside a good answer, the name stderr must give)
    type Plant = Box<dyn Fn(&Path, &Path)>;
    let cases: Vec<(&str, Plant)> = vec![
        (
            "notes.txt",
            Box::new(|r: &Path, _: &Path| std::fs::write(r.join("notes.txt"), "x").unwrap()),
        ),
        (
            "datasets/evil.json",
            Box::new(move |r: &Path, _: &Path| {
                std::fs::write(r.join(format!("collections/{c1}/datasets/evil.json")), "{}")
                    .unwrap()
            }),
        ),
        (
            "collections/9a060f6a-80f0-4498-bc22-5ecebdfc4476",
            Box::new(|r: &Path, outside: &Path| {
                std::os::unix::fs::symlink(
                    outside,
                    r.join("collections/9a060f6a-80f0-4498-bc22-5ecebdfc4476"),
                )
                .unwrap()
            }),
        ),
        (
            "fa8d0451-4377-4177-9d5b-3c408f64d941.json",
            Box::new(move |r: &Path, outside: &Path| {
                std::os::unix::fs::symlink(
                    outside.join("secret"),
                    r.join(format!(
                        "collections/{c1}/datasets/fa8d0451-4377-4177-9d5b-3c408f64d941.json"
                    )),
                )
                .unwrap()
            }),
        ),
    ];
    for (named, plant) in cases {
        let t = TempDir::new();
        let c = t.join("collections.json");
        std::fs::write(&c, "[]\n").unwrap();
        let (resp, outside) = (t.join("responses"), t.join("outside"));
        std::fs::create_dir_all(resp.join(&good).parent().unwrap()).unwrap();
        std::fs::write(resp.join(&good), "{}").unwrap();
        std::fs::create_dir_all(outside.join("datasets")).unwrap();
        std::fs::write(outside.join("secret"), "secret").unwrap();
        plant(&resp, &outside);
        let snaps = t.join("snaps");
        run(
            "cxg-snapshot",
            &[
                "save",
                "--into",
                &snaps.display().to_string(),
                "--responses",
                &resp.display().to_string(),
                &c.display().to_string(),
            ],
            None,
        )
        .code(2)
        .stderr_has(named)
        .stderr_has("nothing saved");
        // nothing stored, no snapshot, no staging folder left
        let left: Vec<String> = std::fs::read_dir(&snaps)
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "{named}: {left:?}");
    }
}

#[test]
fn list_writes_its_table_to_dash_o_and_refuses_a_closed_stdout() {
    let t = TempDir::new();
    let c = t.join("collections.json");
    std::fs::write(&c, "[{},{}]").unwrap();
    let s = t.join("snaps").display().to_string();
    let c = c.display().to_string();
    run("cxg-snapshot", &["save", "-q", "--into", &s, &c], None).ok();
    let table = run("cxg-snapshot", &["list", &s], None);
    table.ok();
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("snapshot "));
    // -o FILE: the same table, nothing on stdout
    let f = t.join("list.txt");
    let o = run(
        "cxg-snapshot",
        &["list", "-o", f.to_str().unwrap(), &s],
        None,
    );
    o.ok();
    assert!(o.stdout.is_empty());
    assert_eq!(read(&f), table.stdout);
    // a closed stdout is taken as /dev/null (the runtime reopens it so),
    // as in every tool
    sh(t.path(), &format!("cxg-snapshot list '{s}' >&-")).ok();
    sh(
        t.path(),
        &format!("cxg-snapshot save --always -q --into '{s}' '{c}' >&-"),
    )
    .ok();
    sh(t.path(), &format!("cxg-snapshot verify '{s}' >&-"))
        .ok()
        .stderr_has("verified 1 stored object and 2 snapshots: 0 damaged");
    sh(
        t.path(),
        &format!(
            "cxg-gen --collections 2 --datasets 2 '{}' >&-",
            t.join("gen").display()
        ),
    )
    .ok()
    .stderr_has("wrote ");
}
