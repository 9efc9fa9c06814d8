//! `cxg-snapshot verify`: re-hash every stored object (its name is its
//! SHA-256) and every file of every snapshot against the SHA-256 its
//! provenance.json recorded; name each damaged one (a failure each).

use crate::args::Folder;
use crate::store::{is_snapshot_path, objects_dir, snapshot_files};
use cxg_core::ctx::Diag;
use cxg_core::digest::sha256_file;
use cxg_core::Result;
use serde_json::{Map, Value};
use std::path::Path;

pub(crate) fn verify(a: Folder, diag: &Diag) -> Result<()> {
    let objects = verify_objects(&objects_dir(&a.dir), diag);
    let snaps = cxg_catalog::snapshots::list(&a.dir)?;
    for s in &snaps {
        verify_snapshot(s, diag);
    }
    diag.warn(format_args!(
        "verified {objects} stored object{} and {} snapshot{}: {} damaged",
        if objects == 1 { "" } else { "s" },
        snaps.len(),
        if snaps.len() == 1 { "" } else { "s" },
        diag.failed(),
    ));
    Ok(())
}

/// Re-hash the objects in `dir`, in name order; returns how many there are.
fn verify_objects(dir: &Path, diag: &Diag) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    for n in &names {
        let p = dir.join(n);
        match sha256_file(&p) {
            Ok((_, h)) if &h == n => {}
            Ok((_, h)) => diag.fail(format_args!(
                "object '{}' is damaged: its SHA-256 is now {h}",
                p.display()
            )),
            Err(e) => diag.fail(format_args!("object '{}' cannot be read: {e}", p.display())),
        }
    }
    names.len()
}

/// Check snapshot `s`: it holds exactly the files its provenance.json
/// lists (anything more would be served on a replay, a symbolic link above
/// all), each with the SHA-256 recorded there.
fn verify_snapshot(s: &Path, diag: &Diag) {
    let Some(stored) = stored_files(s) else {
        diag.fail(format_args!(
            "snapshot '{}' is damaged: no readable provenance.json",
            s.display()
        ));
        return;
    };
    let held = snapshot_files(s);
    for (name, p) in &held {
        if name != "provenance.json" && !stored.contains_key(name) {
            diag.fail(format_args!(
                "snapshot '{}' is damaged: it holds '{}', which its provenance.json does not list",
                s.display(),
                p.display()
            ));
        }
    }
    for (name, entry) in &stored {
        // a name from provenance.json is read only inside the snapshot,
        // and never through a symbolic link
        if !is_snapshot_path(name) {
            diag.fail(format_args!(
                "snapshot '{}' is damaged: its provenance.json names '{name}', which is not a file a snapshot holds",
                s.display()
            ));
        } else if !held.contains_key(name) {
            diag.fail(format_args!(
                "snapshot file '{}' is missing (or reached through a symbolic link)",
                s.join(name).display()
            ));
        } else {
            let want = entry.get("sha256").and_then(Value::as_str).unwrap_or("");
            verify_file(&s.join(name), want, diag);
        }
    }
}

/// The `stored` files of a snapshot's provenance.json, if it can be read.
fn stored_files(s: &Path) -> Option<Map<String, Value>> {
    let bytes = std::fs::read(s.join("provenance.json")).ok()?;
    let v = serde_json::from_slice::<Value>(&bytes).ok()?;
    v.get("stored")?.as_object().cloned()
}

fn verify_file(p: &Path, want: &str, diag: &Diag) {
    match sha256_file(p) {
        Ok((_, h)) if h == want => {}
        Ok(_) => diag.fail(format_args!(
            "snapshot file '{}' is damaged: its SHA-256 differs from provenance.json's",
            p.display()
        )),
        Err(e) => diag.fail(format_args!("snapshot file '{}': {e}", p.display())),
    }
}
