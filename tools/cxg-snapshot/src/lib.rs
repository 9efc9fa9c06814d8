//! cxg-snapshot: keep every harvest. `save` stores the raw API responses
//! of a harvest in a new `SNAPSHOTS/<UTC time>/` folder with its
//! `provenance.json` (tool versions, API URL, times, every request, record
//! counts, schema versions, SHA-256 of every output), never overwriting an
//! earlier one; identical files are stored once (content-addressed: a copy
//! in `.objects/<sha256>`, hard-linked into each snapshot; the working files
//! stay independent files, so editing them never reaches the store). A save
//! that fetched nothing (no requests) with the same raw files as the newest
//! snapshot adds none. With `--responses DIR` the per-dataset answers
//! `cxg-h5ad --keep-responses DIR` kept are stored too (under their
//! `collections/<cid>/datasets/<did>.json` paths), so that `cxg-serve`
//! replays the whole harvest. `list` shows the snapshots with their date, counts
//! and size; `verify` re-hashes the store.

use clap::{Parser, Subcommand};
use cxg_catalog::ids::is_uuid;
use cxg_core::cli::warn;
use cxg_core::digest::{sha256_file, Hasher};
use cxg_core::io::{create_temp_dir, forget_temp_dir, write_file_atomic, AtomicFile, Input};
use cxg_core::time::utc_rfc3339;
use cxg_core::{Error, Outcome, Result};
use cxg_json::stream::{write_pretty, JsonStream};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const EXAMPLES: &str = "\
  # keep this harvest's raw responses, with provenance of the whole run
  cxg-snapshot save --into data/snapshots --api-url $API_URL \\
      --requests data/requests.jsonl --tools-dir target/release \\
      --output-file data/all_datasets_h5ad.csv \\
      data/collections.json data/datasets_index.json

  # ... with the per-dataset answers cxg-h5ad --keep-responses kept, so that
  # a replay also answers the rows the index lacked
  cxg-snapshot save --into data/snapshots --responses data/responses \
      data/collections.json data/datasets_index.json

  # every snapshot: date, collections, datasets, size
  cxg-snapshot list data/snapshots

  # re-hash every stored file; name the damaged ones and their snapshots
  cxg-snapshot verify data/snapshots

  # replay a past harvest offline
  cxg-serve --port 0 data/snapshots/20261101T060000Z";

const LAYOUT: &str = "\
Snapshots folder:
  SNAPSHOTS/<YYYYMMDDTHHMMSSZ>/   one per harvest: the raw files + provenance.json
    collections/<cid>/datasets/<did>.json   the per-dataset answers (--responses)
  SNAPSHOTS/.objects/<sha256>     each distinct file once (a copy of the working
                                  file, links followed); snapshot files are hard
                                  links to these, the working files never are
  SNAPSHOTS/latest                symlink to the newest snapshot
A save with no requests logged whose raw files equal the newest snapshot's
(a rebuild that fetched nothing) adds no snapshot (--always adds one anyway);
--provenance FILE is still written, naming that snapshot.
A snapshot folder is a cxg-serve folder (datasets_index.json is served as
GET /datasets), and cxg-diff compares two of them.";

/// Keep dated snapshots of raw harvests with their provenance.
#[derive(Parser, Debug)]
#[command(name = "cxg-snapshot", version,
    after_help = format!("{LAYOUT}\n\n{}", cxg_core::cli::after_help(EXAMPLES)))]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

// parsed once per run: the size of the Save variant costs nothing
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Store raw responses in a new SNAPSHOTS/<UTC time>/ with provenance.json
    Save(Save),
    /// List the snapshots: date, collections, datasets, size
    List(List),
    /// Re-hash the stored files; name each damaged object and snapshot file
    Verify(List),
}

#[derive(clap::Args, Debug)]
pub struct Save {
    /// Raw API responses to keep (e.g. collections.json datasets_index.json)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The snapshots folder (created if needed)
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    /// An output of the harvest to hash and count in provenance.json (repeat)
    #[arg(long = "output-file", value_name = "FILE")]
    pub outputs: Vec<PathBuf>,
    /// The request log the tools appended to (--log-requests)
    #[arg(long, value_name = "FILE")]
    pub requests: Option<PathBuf>,
    /// The API the harvest read
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Folder of the cxg binaries whose versions are recorded
    #[arg(long, value_name = "DIR")]
    pub tools_dir: Option<PathBuf>,
    /// An ontology release a selection used, by name (repeat)
    #[arg(long, value_name = "NAME")]
    pub ontology_release: Vec<String>,
    /// An ontology file a selection used (`<ONTOLOGY>-ontology-<release>.json[.zst]`,
    /// as cellxgene-ontology-guide names them): its release, size and SHA-256 (repeat)
    #[arg(long, value_name = "FILE")]
    pub ontology_file: Vec<PathBuf>,
    /// Also write provenance.json to FILE (atomically)
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
    /// A new snapshot even when nothing was fetched and the raw files equal
    /// the newest snapshot's
    #[arg(long)]
    pub always: bool,
    /// Also keep the per-dataset answers in DIR (as `cxg-h5ad
    /// --keep-responses DIR` writes them): every
    /// DIR/collections/<uuid>/datasets/<uuid>.json, under the same path. Any
    /// other entry in DIR (another name, a symlink) is named and the save
    /// refused before anything is stored
    #[arg(long, value_name = "DIR")]
    pub responses: Option<PathBuf>,
    /// No summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct List {
    /// The snapshots folder
    pub dir: PathBuf,
}

/// How many records a file holds: array elements or JSON Lines values for
/// `.json`/`.jsonl`, rows for `.csv`, lines otherwise.
fn count_records(path: &Path) -> Result<u64> {
    let name = path.to_string_lossy();
    let input = Input::open(Some(path))?;
    let mut n = 0u64;
    if name.ends_with(".json") || name.ends_with(".jsonl") {
        let mut s = JsonStream::new(input.name, input.reader);
        while s.next_raw()?.is_some() {
            n += 1;
        }
    } else if name.ends_with(".csv") {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input.reader);
        let mut rec = csv::ByteRecord::new();
        while r
            .read_byte_record(&mut rec)
            .map_err(|e| Error::input(format!("{}: {e}", input.name)))?
        {
            n += 1;
        }
    } else {
        let mut r = std::io::BufReader::new(input.reader);
        let mut buf = Vec::new();
        while std::io::BufRead::read_until(&mut r, b'\n', &mut buf)
            .map_err(|e| Error::input(format!("{}: {e}", input.name)))?
            > 0
        {
            n += 1;
            buf.clear();
        }
    }
    Ok(n)
}

/// The schema_version of every dataset of an index, with counts.
fn schema_versions(path: &Path) -> Result<BTreeMap<String, u64>> {
    let input = Input::open(Some(path))?;
    let mut s = JsonStream::new(input.name, input.reader);
    let mut m = BTreeMap::new();
    while let Some((_, v)) = s.next_value()? {
        let k = v
            .get("schema_version")
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_string();
        *m.entry(k).or_insert(0) += 1;
    }
    Ok(m)
}

fn file_entry(path: &Path) -> Result<Value> {
    let (bytes, sha) = sha256_file(path)
        .map_err(|e| Error::input(format!("cannot read '{}': {e}", path.display())))?;
    Ok(json!({
        "path": path.to_string_lossy(),
        "bytes": bytes,
        "sha256": sha,
        "records": count_records(path)?,
    }))
}

/// The request log's lines, sorted by URL then time (parallel requests
/// finish in any order; the provenance should not).
fn requests(path: &Path) -> Result<Vec<Value>> {
    if !path.exists() {
        warn(format_args!(
            "no request log at '{}': provenance.json lists no requests \
             (a stage swapped for another command does not log them)",
            path.display()
        ));
        return Ok(Vec::new());
    }
    let input = Input::open(Some(path))?;
    let mut s = JsonStream::new(input.name, input.reader);
    let mut v = Vec::new();
    while let Some((_, r)) = s.next_value()? {
        v.push(r);
    }
    let key = |r: &Value| {
        (
            r.get("url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            r.get("at")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    };
    v.sort_by_cached_key(key);
    Ok(v)
}

/// `NAME VERSION` of each cxg-* binary in `dir`.
fn tool_versions(dir: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return m;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        if !name.starts_with("cxg-") || name.contains('.') || !p.is_file() {
            continue;
        }
        let Ok(o) = std::process::Command::new(&p).arg("--version").output() else {
            continue;
        };
        let out = String::from_utf8_lossy(&o.stdout);
        if let Some(v) = out.trim().strip_prefix(&format!("{name} ")) {
            m.insert(name, v.to_string());
        }
    }
    m
}

/// An ontology file a selection used: the ontology and release its name
/// gives (`CL-ontology-v2026-03-26.json.zst`), size and SHA-256.
fn ontology_entry(path: &Path) -> Result<Value> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".json.zst")
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(&name);
    let (ontology, release) = match stem.split_once("-ontology-") {
        Some((o, r)) => (Value::from(o), Value::from(r)),
        None => (Value::Null, Value::Null),
    };
    let (bytes, sha) = sha256_file(path)
        .map_err(|e| Error::input(format!("cannot read '{}': {e}", path.display())))?;
    Ok(json!({
        "file": name,
        "ontology": ontology,
        "release": release,
        "bytes": bytes,
        "sha256": sha,
    }))
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::input(format!("cannot {what} '{}': {e}", p.display()))
}

/// Hard-link `src` to `dest` (replacing it atomically), or copy when the
/// file system cannot link.
fn link_or_copy(src: &Path, dest: &Path) -> Result<()> {
    let tmp = dest.with_file_name(format!(
        ".{}.{}.link",
        dest.file_name().map_or("f".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(src, &tmp).is_err() {
        std::fs::copy(src, &tmp).map_err(|e| io_err("copy into", &tmp, e))?;
    }
    std::fs::rename(&tmp, dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err("rename into", dest, e)
    })
}

/// Is `obj` a regular file of `bytes` bytes with SHA-256 `sha`?
fn object_ok(obj: &Path, bytes: u64, sha: &str) -> bool {
    match std::fs::symlink_metadata(obj) {
        Ok(m) if m.is_file() && m.len() == bytes => {
            matches!(sha256_file(obj), Ok((n, h)) if n == bytes && h == sha)
        }
        _ => false,
    }
}

/// Store a copy of `src` (a symlink is followed: its target's content is
/// stored) once under `objects/<sha256>`, read-only. An object already
/// there is re-hashed first: one that does not match its name (damaged) is
/// named and replaced from `src`. True when bytes were written.
fn store_object(objects: &Path, src: &Path, bytes: u64, sha: &str) -> Result<(PathBuf, bool)> {
    let obj = objects.join(sha);
    if std::fs::symlink_metadata(&obj).is_ok() {
        if object_ok(&obj, bytes, sha) {
            return Ok((obj, false));
        }
        warn(format_args!(
            "stored object '{}' is damaged (its content no longer has the SHA-256 it is \
             named by); replaced from '{}'; snapshots saved with it before still hold \
             the damaged copy: 'cxg-snapshot verify' names them",
            obj.display(),
            src.display()
        ));
    }
    let mut input = std::fs::File::open(src).map_err(|e| io_err("read", src, e))?;
    let mut out = AtomicFile::create(&obj)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match std::io::Read::read(&mut input, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("read", src, e)),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::write(&obj.display().to_string(), e))?;
    }
    if h.finish() != (bytes, sha.to_string()) {
        return Err(Error::input(format!(
            "'{}' changed while it was being saved; nothing stored",
            src.display()
        )));
    }
    out.commit()?;
    if let Ok(m) = std::fs::metadata(&obj) {
        let mut perm = m.permissions();
        perm.set_readonly(true);
        let _ = std::fs::set_permissions(&obj, perm);
    }
    Ok((obj, true))
}

/// Remove the staging folders (`.saving.<pid>`) of saves whose process is
/// gone (killed before it could clean up).
fn remove_stale_staging(into: &Path) {
    if !Path::new("/proc/self").exists() {
        return; // no way to tell a running process here
    }
    let Ok(rd) = std::fs::read_dir(into) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(".saving.")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if std::fs::remove_dir_all(e.path()).is_ok() {
            warn(format_args!(
                "removed '{}', left by an interrupted save (process {pid} is gone)",
                e.path().display()
            ));
        }
    }
}

/// A path a snapshot can hold: a plain file name (not `.` or `..`),
/// or `collections/<uuid>/datasets/<uuid>.json`.
fn is_snapshot_path(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        [f] => !f.is_empty() && *f != "." && *f != "..",
        ["collections", cid, "datasets", f] => {
            is_uuid(cid) && f.strip_suffix(".json").is_some_and(is_uuid)
        }
        _ => false,
    }
}

/// The entries of folder `d`, sorted by name, with their own type (a
/// symlink is a symlink, not what it points to).
fn dir_entries(d: &Path) -> Result<Vec<(String, PathBuf, std::fs::FileType)>> {
    let rd = std::fs::read_dir(d).map_err(|e| io_err("read the folder", d, e))?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|e| io_err("read the folder", d, e))?;
        let t = e
            .file_type()
            .map_err(|err| io_err("read", &e.path(), err))?;
        v.push((e.file_name().to_string_lossy().into_owned(), e.path(), t));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// The per-dataset answers in `dir` (`cxg-h5ad --keep-responses`), sorted:
/// (path relative to `dir`, file). Only regular files at
/// `collections/<uuid>/datasets/<uuid>.json`; anything else there (another
/// name, a symlink, which could lead out of `dir`) is named and refused.
fn responses(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(Error::input(format!(
            "--responses '{}' is not a folder",
            dir.display()
        )));
    }
    let mut found = Vec::new();
    let mut bad = Vec::new();
    for (c, cp, t) in dir_entries(dir)? {
        if c != "collections" || !t.is_dir() {
            bad.push(cp);
            continue;
        }
        for (cid, cidp, t) in dir_entries(&cp)? {
            if !is_uuid(&cid) || !t.is_dir() {
                bad.push(cidp);
                continue;
            }
            for (x, xp, t) in dir_entries(&cidp)? {
                if x != "datasets" || !t.is_dir() {
                    bad.push(xp);
                    continue;
                }
                for (f, fp, t) in dir_entries(&xp)? {
                    match f.strip_suffix(".json") {
                        Some(did) if is_uuid(did) && t.is_file() => {
                            found.push((format!("collections/{cid}/datasets/{f}"), fp));
                        }
                        _ => bad.push(fp),
                    }
                }
            }
        }
    }
    if !bad.is_empty() {
        let shown: Vec<String> = bad
            .iter()
            .take(10)
            .map(|p| format!("'{}'", p.display()))
            .collect();
        return Err(Error::input(format!(
            "--responses '{}': only regular files collections/<uuid>/datasets/<uuid>.json \
             (as cxg-h5ad --keep-responses writes them) belong there; nothing saved because of \
             {}{}",
            dir.display(),
            shown.join(", "),
            if bad.len() > 10 {
                format!(" and {} more", bad.len() - 10)
            } else {
                String::new()
            }
        )));
    }
    Ok(found)
}

/// Every entry below snapshot folder `dir` that is not a folder, by its
/// path relative to `dir` (`collections/<cid>/datasets/<did>.json`).
fn snapshot_files(dir: &Path, prefix: &str, out: &mut BTreeMap<String, PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        match e.file_type() {
            Ok(t) if t.is_dir() => snapshot_files(&e.path(), &rel, out),
            _ => {
                out.insert(rel, e.path());
            }
        }
    }
}

/// The newest snapshot when it holds exactly `files` (name or relative
/// path -> SHA-256).
fn same_as_newest(into: &Path, files: &BTreeMap<String, String>) -> Result<Option<PathBuf>> {
    let Some(newest) = cxg_catalog::snapshots::list(into)?.pop() else {
        return Ok(None);
    };
    let mut names = BTreeMap::new();
    snapshot_files(&newest, "", &mut names);
    names.remove("provenance.json");
    // the raw files must be the same set; per-dataset answers (paths with a
    // '/') may be fewer (a narrower selection asks for fewer rows, and
    // nothing was fetched), but each one kept must be the newest's
    let top = |n: &String| !n.contains('/');
    if names.keys().filter(|n| top(n)).count() != files.keys().filter(|n| top(n)).count() {
        return Ok(None);
    }
    for (name, sha) in files {
        match names.get(name).map(|p| sha256_file(p)) {
            Some(Ok((_, h))) if &h == sha => {}
            _ => return Ok(None),
        }
    }
    Ok(Some(newest))
}

/// A staging folder removed unless it was renamed into place (and on a
/// signal: it is registered with cxg-core's signal cleanup).
struct Staging(Option<PathBuf>);

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(&p);
            forget_temp_dir(&p);
        }
    }
}

fn save(a: Save) -> Result<Outcome> {
    let mut names = HashSet::new();
    for f in &a.files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.is_empty() || name == "provenance.json" || !names.insert(name.clone()) {
            return Err(Error::input(format!(
                "'{}': each file needs its own name, other than provenance.json",
                f.display()
            )));
        }
        if !f.is_file() {
            return Err(Error::input(format!("'{}' is not a file", f.display())));
        }
    }
    // every file by its name in the snapshot: the raw files, then the
    // per-dataset answers under their relative paths
    let mut items: Vec<(String, PathBuf)> = a
        .files
        .iter()
        .map(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, f.clone())
        })
        .collect();
    if let Some(dir) = &a.responses {
        let found = responses(dir)?;
        if !found.is_empty() && names.contains("collections") {
            return Err(Error::input(
                "a file named 'collections' cannot be saved with --responses \
                 (they are stored in the snapshot's collections/ folder)"
                    .to_string(),
            ));
        }
        items.extend(found);
    }
    let finished = SystemTime::now();
    remove_stale_staging(&a.into);
    // read (and so check) every file before anything is stored
    let entries = items
        .iter()
        .map(|(_, f)| file_entry(f))
        .collect::<Result<Vec<_>>>()?;
    let reqs = match &a.requests {
        Some(p) => requests(p)?,
        None => Vec::new(),
    };
    // a rebuild that fetched nothing: the newest snapshot already holds it
    let shas: BTreeMap<String, String> = items
        .iter()
        .zip(&entries)
        .map(|((name, _), e)| {
            (
                name.clone(),
                e["sha256"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let unchanged = if reqs.is_empty() && !a.always {
        same_as_newest(&a.into, &shas)?
    } else {
        None
    };
    let objects = a.into.join(".objects");
    let stage_dir = a.into.join(format!(".saving.{}", std::process::id()));
    let mut staging = Staging(None);
    if unchanged.is_none() {
        std::fs::create_dir_all(&objects).map_err(|e| io_err("create", &objects, e))?;
        let _ = std::fs::remove_dir_all(&stage_dir);
        create_temp_dir(&stage_dir).map_err(|e| io_err("create", &stage_dir, e))?;
        staging.0 = Some(stage_dir.clone());
    }

    // the raw files: entries for provenance, then stored once each
    let mut stored = Map::new();
    let mut new_bytes = 0u64;
    let mut index = None;
    for ((name, f), entry) in items.iter().zip(entries) {
        let sha = entry["sha256"].as_str().unwrap_or_default().to_string();
        if unchanged.is_none() {
            // the working file is copied, never linked: editing it later
            // cannot reach the store or a snapshot
            let bytes = entry["bytes"].as_u64().unwrap_or(0);
            let (obj, fresh) = store_object(&objects, f, bytes, &sha)?;
            if fresh {
                new_bytes += bytes;
            }
            let dest = stage_dir.join(name);
            if let Some(parent) = dest.parent() {
                // below the staging folder this process just made
                std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
            }
            link_or_copy(&obj, &dest)?;
        }
        if name == "datasets_index.json" || name == "datasets.json" {
            index = Some(f.clone());
        }
        stored.insert(name.clone(), entry);
    }
    let ontologies = a
        .ontology_file
        .iter()
        .map(|f| ontology_entry(f))
        .collect::<Result<Vec<_>>>()?;
    let mut outputs = Map::new();
    for f in &a.outputs {
        outputs.insert(f.to_string_lossy().into_owned(), file_entry(f)?);
    }
    let started = reqs
        .iter()
        .filter_map(|r| r.get("at").and_then(Value::as_str))
        .min()
        .map(String::from)
        .or_else(|| {
            a.files
                .iter()
                .chain(&a.outputs)
                .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                .min()
                .map(utc_rfc3339)
        });
    let schema = match &index {
        Some(p) => json!(schema_versions(p)?),
        None => Value::Null,
    };
    let commit = env!("CXG_GIT_COMMIT");
    let mut name = cxg_core::time::utc_compact(finished);
    let prov = |name: &str| {
        json!({
            "snapshot": name,
            "api_url": a.api_url,
            "started_at": started,
            "finished_at": utc_rfc3339(finished),
            "tools": a.tools_dir.as_deref().map(tool_versions),
            "built_from_git_commit": (!commit.is_empty()).then_some(commit),
            "requests": reqs,
            "stored": stored,
            "outputs": outputs,
            "schema_versions": schema,
            "ontology_releases": a.ontology_release,
            "ontology_files": ontologies,
        })
    };
    if let Some(newest) = unchanged {
        let name = newest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(p) = &a.provenance {
            let mut bytes = Vec::new();
            write_pretty(&mut bytes, &prov(&name)).map_err(|e| Error::write("provenance", e))?;
            bytes.push(b'\n');
            write_file_atomic(p, &bytes)?;
        }
        warn(format_args!(
            "no new snapshot: nothing was fetched (no requests logged) and the raw files \
             equal those of the newest snapshot, {} (--always saves one anyway)",
            newest.display()
        ));
        return Ok(Outcome::Complete);
    }
    // never overwrite: a taken name gets -2, -3, ...
    let mut n = 1;
    let dest = loop {
        let dest = a.into.join(&name);
        let mut f = AtomicFile::create(&stage_dir.join("provenance.json"))?;
        write_pretty(&mut f, &prov(&name))
            .and_then(|_| f.write_all(b"\n"))
            .map_err(|e| Error::write("provenance.json", e))?;
        f.commit()?;
        if !dest.exists() {
            match std::fs::rename(&stage_dir, &dest) {
                Ok(()) => break dest,
                // taken meanwhile by another save: try the next name
                Err(e) if dest.exists() || e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {}
                Err(e) => return Err(io_err("rename the new snapshot into", &dest, e)),
            }
        }
        n += 1;
        if n > 1000 {
            return Err(Error::input(format!(
                "cannot create a snapshot folder in '{}'",
                a.into.display()
            )));
        }
        name = format!("{}-{n}", cxg_core::time::utc_compact(finished));
    };
    staging.0 = None;
    forget_temp_dir(&stage_dir);
    // SNAPSHOTS/latest -> the newest
    #[cfg(unix)]
    {
        let tmp = a.into.join(format!(".latest.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&name, &tmp)
            .and_then(|_| std::fs::rename(&tmp, a.into.join("latest")))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io_err("update", &a.into.join("latest"), e)
            })?;
    }
    if let Some(p) = &a.provenance {
        let bytes = std::fs::read(dest.join("provenance.json"))
            .map_err(|e| io_err("read", &dest.join("provenance.json"), e))?;
        write_file_atomic(p, &bytes)?;
    }
    if !a.quiet {
        warn(format_args!(
            "saved {} ({} file{}, {} new bytes stored, {} request{} in provenance.json)",
            dest.display(),
            items.len(),
            if items.len() == 1 { "" } else { "s" },
            new_bytes,
            reqs.len(),
            if reqs.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(Outcome::Complete)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn list(a: List) -> Result<Outcome> {
    remove_stale_staging(&a.dir);
    let snaps = cxg_catalog::snapshots::list(&a.dir)?;
    let mut seen = HashSet::new();
    let mut damaged = 0usize;
    let mut rows = vec![[
        "snapshot".to_string(),
        "date (UTC)".into(),
        "collections".into(),
        "datasets".into(),
        "size".into(),
        "new".into(),
    ]];
    for s in &snaps {
        let name = s
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let b = name.as_bytes();
        let date = format!(
            "{}-{}-{} {}:{}:{}",
            &name[0..4],
            &name[4..6],
            &name[6..8],
            &name[9..11],
            &name[11..13],
            &name[13..15]
        );
        debug_assert!(b.len() >= 16);
        let count = |p: Option<PathBuf>| match p {
            Some(p) if p.is_file() => count_records(&p).map(|n| n.to_string()),
            _ => Ok("-".to_string()),
        };
        // a damaged snapshot is named; the others are still listed
        let (colls, sets) = match count(Some(s.join("collections.json")))
            .and_then(|c| Ok((c, count(cxg_catalog::snapshots::datasets_file(s))?)))
        {
            Ok(x) => x,
            Err(e) => {
                warn(format_args!("snapshot {name} is damaged: {e}"));
                damaged += 1;
                continue;
            }
        };
        let (mut size, mut fresh) = (0u64, 0u64);
        if std::fs::read_dir(s).is_err() {
            warn(format_args!(
                "snapshot {name} is damaged: cannot read its folder"
            ));
            damaged += 1;
            continue;
        }
        // the per-dataset answers in its subfolders count too
        let mut files = BTreeMap::new();
        snapshot_files(s, "", &mut files);
        for p in files.values() {
            let Ok(m) = std::fs::symlink_metadata(p) else {
                continue;
            };
            if !m.is_file() {
                continue;
            }
            size += m.len();
            #[cfg(unix)]
            let key = {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            };
            #[cfg(not(unix))]
            let key = (0u64, seen.len() as u64);
            if seen.insert(key) {
                fresh += m.len();
            }
        }
        rows.push([name, date, colls, sets, human(size), human(fresh)]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 2 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end()).map_err(|e| Error::write("stdout", e))?;
    }
    if snaps.is_empty() {
        warn(format_args!(
            "no snapshots in '{}' yet (each harvest adds one)",
            a.dir.display()
        ));
    }
    Ok(if damaged > 0 {
        Outcome::Partial(damaged)
    } else {
        Outcome::Complete
    })
}

/// Re-hash every stored object (its name is its SHA-256) and every file of
/// every snapshot against the SHA-256 its provenance.json recorded.
fn verify(a: List) -> Result<Outcome> {
    let mut bad = 0usize;
    let mut objects = 0usize;
    let dir = a.dir.join(".objects");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            objects += 1;
            let p = dir.join(&n);
            match sha256_file(&p) {
                Ok((_, h)) if h == n => {}
                Ok((_, h)) => {
                    warn(format_args!(
                        "object '{}' is damaged: its SHA-256 is now {h}",
                        p.display()
                    ));
                    bad += 1;
                }
                Err(e) => {
                    warn(format_args!("object '{}' cannot be read: {e}", p.display()));
                    bad += 1;
                }
            }
        }
    }
    let snaps = cxg_catalog::snapshots::list(&a.dir)?;
    for s in &snaps {
        let prov = s.join("provenance.json");
        let v = std::fs::read(&prov)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let Some(stored) = v
            .as_ref()
            .and_then(|v| v.get("stored")?.as_object().cloned())
        else {
            warn(format_args!(
                "snapshot '{}' is damaged: no readable provenance.json",
                s.display()
            ));
            bad += 1;
            continue;
        };
        // what the folder holds beyond what provenance.json lists (cxg-serve
        // would serve it on a replay), a symbolic link above all
        let mut held = BTreeMap::new();
        snapshot_files(s, "", &mut held);
        for (name, p) in &held {
            if name != "provenance.json" && !stored.contains_key(name) {
                warn(format_args!(
                    "snapshot '{}' is damaged: it holds '{}', which its provenance.json does not list",
                    s.display(),
                    p.display()
                ));
                bad += 1;
            }
        }
        for (name, entry) in stored {
            // a name from provenance.json is read only inside the snapshot,
            // and never through a symbolic link
            if !is_snapshot_path(&name) || !held.contains_key(&name) {
                if is_snapshot_path(&name) {
                    warn(format_args!(
                        "snapshot file '{}' is missing (or reached through a symbolic link)",
                        s.join(&name).display()
                    ));
                    bad += 1;
                    continue;
                }
                warn(format_args!(
                    "snapshot '{}' is damaged: its provenance.json names '{name}', which is not a file a snapshot holds",
                    s.display()
                ));
                bad += 1;
                continue;
            }
            let p = s.join(&name);
            let want = entry.get("sha256").and_then(Value::as_str).unwrap_or("");
            match sha256_file(&p) {
                Ok((_, h)) if h == want => {}
                Ok(_) => {
                    warn(format_args!(
                        "snapshot file '{}' is damaged: its SHA-256 differs from provenance.json's",
                        p.display()
                    ));
                    bad += 1;
                }
                Err(e) => {
                    warn(format_args!("snapshot file '{}': {e}", p.display()));
                    bad += 1;
                }
            }
        }
    }
    warn(format_args!(
        "verified {objects} stored object{} and {} snapshot{}: {bad} damaged",
        if objects == 1 { "" } else { "s" },
        snaps.len(),
        if snaps.len() == 1 { "" } else { "s" },
    ));
    Ok(if bad > 0 {
        Outcome::Partial(bad)
    } else {
        Outcome::Complete
    })
}

pub fn run(args: Args) -> Result<Outcome> {
    match args.command {
        Command::Save(a) => save(a),
        Command::List(a) => list(a),
        Command::Verify(a) => verify(a),
    }
}
