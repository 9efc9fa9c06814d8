//! `cxg-snapshot save`: check and read every file, store each once, write
//! provenance.json into a staging folder and rename it into place as a new
//! `SNAPSHOTS/<UTC time>/` (or add none when nothing was fetched and the
//! newest snapshot holds the same files), then point `latest` at it.

use crate::args::Save;
use crate::file_name;
use crate::inputs::{
    file_entry, ontology_entry, requests, responses, schema_versions, tool_versions,
};
use crate::lock::{with_latest_lock, SaveLock};
use crate::store::{cannot, link_or_copy, objects_dir, same_as_newest};
use crate::store::{store_object, Staging};
use cxg_core::ctx::Diag;
use cxg_core::io::{write_file_atomic, AtomicFile};
use cxg_core::time::{utc_compact, utc_rfc3339};
use cxg_core::{At, Error, Result};
use cxg_json::value::write_pretty;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub(crate) fn save(a: Save, diag: &Diag) -> Result<()> {
    let items = items(&a)?;
    let finished = SystemTime::now();
    // read (and so check) every file before anything is stored
    let entries = items
        .iter()
        .map(|(_, f)| file_entry(f))
        .collect::<Result<Vec<_>>>()?;
    let reqs = match &a.requests {
        Some(p) => requests(p, diag)?,
        None => Vec::new(),
    };
    // held until the snapshot is in place: no other save removes its staging
    let _lock = SaveLock::take(&a.into, diag)?;
    // a rebuild that fetched nothing: the newest snapshot already holds it
    let unchanged = if reqs.is_empty() && !a.always {
        same_as_newest(&a.into, &shas(&items, &entries))?
    } else {
        None
    };
    let target = match unchanged {
        Some(newest) => Target::Newest(newest),
        None => Target::New(Staging::create(&a.into)?),
    };
    let staging = match &target {
        Target::New(staging) => Some(staging),
        Target::Newest(_) => None,
    };
    let stored = store(&a.into, &items, entries, staging, diag)?;
    let prov = Provenance::gather(&a, finished, reqs, stored.entries, stored.index)?;
    let staging = match target {
        Target::Newest(newest) => return keep_newest(&a, &prov, &newest, diag),
        Target::New(staging) => staging,
    };
    let (dest, _) = place(&a.into, &staging.dir, &prov)?;
    staging.placed();
    point_latest(&a.into)?;
    if let Some(p) = &a.provenance {
        let made = dest.join("provenance.json");
        write_file_atomic(p, &std::fs::read(&made).at(cannot("read", &made))?)?;
    }
    if !a.quiet {
        diag.warn(format_args!(
            "saved {} ({}, {} new bytes stored, {} in provenance.json)",
            dest.display(),
            plural(items.len(), "file"),
            stored.new_bytes,
            plural(prov.requests.len(), "request"),
        ));
    }
    Ok(())
}

/// Where a save goes: nowhere new (the newest snapshot holds the same
/// files), or a new snapshot, staged first.
enum Target {
    Newest(PathBuf),
    New(Staging),
}

/// "1 file", "2 files".
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Every file by its name in the snapshot: the raw files (each with its
/// own name, other than provenance.json), then the per-dataset answers of
/// `--responses` under their relative paths.
fn items(a: &Save) -> Result<Vec<(String, PathBuf)>> {
    let mut names = HashSet::new();
    let mut items = Vec::new();
    for f in &a.files {
        let name = file_name(f);
        if name.is_empty() || name == "provenance.json" || !names.insert(name.clone()) {
            return Err(Error::input(format!(
                "'{}': each file needs its own name, other than provenance.json",
                f.display()
            )));
        }
        if !f.is_file() {
            return Err(Error::input(format!("'{}' is not a file", f.display())));
        }
        items.push((name, f.clone()));
    }
    if let Some(dir) = &a.responses {
        let found = responses(dir)?;
        if !found.is_empty() && names.contains("collections") {
            return Err(Error::input(
                "a file named 'collections' cannot be saved with --responses \
                 (they are stored in the snapshot's collections/ folder)",
            ));
        }
        items.extend(found);
    }
    Ok(items)
}

/// The SHA-256 of each file by its name in the snapshot.
fn shas(items: &[(String, PathBuf)], entries: &[Value]) -> BTreeMap<String, String> {
    items
        .iter()
        .zip(entries)
        .map(|((name, _), e)| (name.clone(), sha_of(e).to_string()))
        .collect()
}

fn sha_of(entry: &Value) -> &str {
    entry["sha256"].as_str().unwrap_or_default()
}

/// What a save stored: each file's provenance entry by its name, the bytes
/// newly stored, and the datasets index among the files.
struct Stored {
    entries: Map<String, Value>,
    new_bytes: u64,
    index: Option<PathBuf>,
}

/// Store every file once in the snapshots folder `into` and link it into
/// the staging folder (none: nothing is stored, the entries are only
/// collected).
fn store(
    into: &Path,
    items: &[(String, PathBuf)],
    entries: Vec<Value>,
    staging: Option<&Staging>,
    diag: &Diag,
) -> Result<Stored> {
    let objects = objects_dir(into);
    let mut stored = Stored {
        entries: Map::new(),
        new_bytes: 0,
        index: None,
    };
    for ((name, f), entry) in items.iter().zip(entries) {
        if let Some(staging) = staging {
            // the working file is copied, never linked: editing it later
            // cannot reach the store or a snapshot
            let bytes = entry["bytes"].as_u64().unwrap_or(0);
            let (obj, fresh) = store_object(&objects, f, (bytes, sha_of(&entry)), diag)?;
            if fresh {
                stored.new_bytes += bytes;
            }
            let dest = staging.dir.join(name);
            if let Some(parent) = dest.parent() {
                // below the staging folder this process just made
                std::fs::create_dir_all(parent).at(cannot("create", parent))?;
            }
            link_or_copy(&obj, &dest)?;
        }
        if name == "datasets_index.json" || name == "datasets.json" {
            stored.index = Some(f.clone());
        }
        stored.entries.insert(name.clone(), entry);
    }
    Ok(stored)
}

/// Everything provenance.json says but the snapshot's own name.
struct Provenance {
    api_url: Option<String>,
    started: Option<String>,
    finished: SystemTime,
    tools: Option<BTreeMap<String, String>>,
    requests: Vec<Value>,
    stored: Map<String, Value>,
    outputs: Map<String, Value>,
    schema: Value,
    ontology_releases: Vec<String>,
    ontology_files: Vec<Value>,
    choices: Vec<(String, String)>,
}

impl Provenance {
    fn gather(
        a: &Save,
        finished: SystemTime,
        requests: Vec<Value>,
        stored: Map<String, Value>,
        index: Option<PathBuf>,
    ) -> Result<Provenance> {
        let ontology_files = a
            .ontology_file
            .iter()
            .map(|f| ontology_entry(f))
            .collect::<Result<Vec<_>>>()?;
        let mut outputs = Map::new();
        for f in &a.outputs {
            outputs.insert(f.to_string_lossy().into_owned(), file_entry(f)?);
        }
        // the first request, or else the oldest file of the harvest
        let started = requests
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
        Ok(Provenance {
            api_url: a.api_url.clone(),
            started,
            finished,
            tools: a.tools_dir.as_deref().map(tool_versions),
            requests,
            stored,
            outputs,
            schema,
            ontology_releases: a.ontology_release.clone(),
            ontology_files,
            choices: a.choice.clone(),
        })
    }

    /// provenance.json of the snapshot `name`.
    fn json(&self, name: &str) -> Value {
        let commit = env!("CXG_GIT_COMMIT");
        let mut v = json!({
            "snapshot": name,
            "api_url": self.api_url,
            "started_at": self.started,
            "finished_at": utc_rfc3339(self.finished),
            "tools": self.tools,
            "built_from_git_commit": (!commit.is_empty()).then_some(commit),
            "requests": self.requests,
            "stored": self.stored,
            "outputs": self.outputs,
            "schema_versions": self.schema,
            "ontology_releases": self.ontology_releases,
            "ontology_files": self.ontology_files,
        });
        if !self.choices.is_empty() {
            let choices: Map<String, Value> = self
                .choices
                .iter()
                .map(|(n, c)| (n.clone(), json!(c)))
                .collect();
            v["choices"] = Value::Object(choices);
        }
        v
    }
}

/// A rebuild that fetched nothing: no new snapshot; `--provenance FILE`
/// still gets this run's provenance, naming the newest snapshot (which
/// holds the same files).
fn keep_newest(a: &Save, prov: &Provenance, newest: &Path, diag: &Diag) -> Result<()> {
    if let Some(p) = &a.provenance {
        let mut bytes = Vec::new();
        write_pretty(&mut bytes, &prov.json(&file_name(newest)))
            .map_err(|e| Error::write("provenance", e))?;
        bytes.push(b'\n');
        write_file_atomic(p, &bytes)?;
    }
    diag.warn(format_args!(
        "no new snapshot: nothing was fetched (no requests logged) and the raw files \
         equal those of the newest snapshot, {} (--always saves one anyway)",
        newest.display()
    ));
    Ok(())
}

/// Write provenance.json into the staging folder and rename the folder
/// into place as `into/<UTC time>`: never over another snapshot (a taken
/// name gets -2, -3, ...). Returns the new snapshot and its name.
fn place(into: &Path, stage_dir: &Path, prov: &Provenance) -> Result<(PathBuf, String)> {
    let stamp = utc_compact(prov.finished);
    let mut name = stamp.clone();
    for n in 2..=1001 {
        let dest = into.join(&name);
        let mut f = AtomicFile::create(&stage_dir.join("provenance.json"))?;
        write_pretty(&mut f, &prov.json(&name))
            .and_then(|_| f.write_all(b"\n"))
            .map_err(|e| Error::write("provenance.json", e))?;
        f.commit()?;
        if !dest.exists() {
            match std::fs::rename(stage_dir, &dest) {
                Ok(()) => return Ok((dest, name)),
                // taken meanwhile by another save: try the next name
                Err(e) if dest.exists() || e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {}
                Err(e) => return Err(e).at(cannot("rename the new snapshot into", &dest)),
            }
        }
        name = format!("{stamp}-{n}");
    }
    Err(Error::input(format!(
        "cannot create a snapshot folder in '{}'",
        into.display()
    )))
}

/// `into/latest` -> the newest snapshot by name, replaced atomically. A
/// save that finishes after a newer one (it started earlier) keeps `latest`
/// at the newer one: the choice and the rename are made under a lock.
fn point_latest(into: &Path) -> Result<()> {
    with_latest_lock(into, || {
        let Some(newest) = cxg_catalog::snapshots::list(into)?.pop() else {
            return Ok(());
        };
        let tmp = into.join(format!(".latest.{}", std::process::id()));
        let latest = into.join("latest");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(file_name(&newest), &tmp)
            .and_then(|_| std::fs::rename(&tmp, &latest))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
            .at(cannot("update", &latest))
    })
}
