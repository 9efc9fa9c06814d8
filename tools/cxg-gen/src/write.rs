//! Writing a snapshot folder: into a fresh staging folder beside the
//! target, renamed into place when complete, so that a failed or
//! interrupted run leaves no half-written snapshot.

use crate::assets;
use crate::snapshot::Snapshot;
use cxg_core::io::{create_temp_dir, forget_temp_dir, write_file_atomic};
use cxg_core::{At, Error, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// How the folder is written: only collections.json (`list_only`), and
/// the contents of the asset files (from `seed`, or sparse zeros).
pub(crate) struct Plan {
    pub force: bool,
    pub list_only: bool,
    pub seed: u64,
    pub sparse: bool,
}

/// Write `snap` into the folder `out`: a new one, or (with `force`) one
/// that holds a snapshot already.
pub(crate) fn write(snap: &Snapshot, out: &Path, plan: &Plan) -> Result<()> {
    check_target(out, plan.force)?;
    let tmp = staging_path(out)?;
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(p) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(p);
    }
    // a signal removes the half-written folder
    create_temp_dir(&tmp).at(cannot_create(&tmp))?;
    let result = write_files(snap, &tmp, plan).and_then(|()| {
        if out.exists() {
            std::fs::remove_dir_all(out).at(format_args!("cannot replace '{}'", out.display()))?;
        }
        std::fs::rename(&tmp, out).at(cannot_create(out))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    forget_temp_dir(&tmp);
    result
}

fn cannot_create(p: &Path) -> String {
    format!("cannot create '{}'", p.display())
}

/// Refuse to replace anything but a snapshot, and that only with `force`.
fn check_target(out: &Path, force: bool) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !force {
        return Err(Error::input(format!(
            "'{}' already exists (use --force to replace a snapshot)",
            out.display()
        )));
    }
    if !out.join("collections.json").exists() {
        return Err(Error::input(format!(
            "'{}' exists and does not look like a snapshot (no collections.json); not replacing it",
            out.display()
        )));
    }
    Ok(())
}

/// The staging folder beside `out`: `.NAME.<pid>.tmp`.
fn staging_path(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| Error::input(format!("'{}' is not a folder name", out.display())))?;
    Ok(out.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Compact JSON, as the API sends it.
pub(crate) fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = cxg_json::value::write_compact(&mut out, v);
    out
}

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).at(cannot_create(p))
}

/// Every file of the snapshot, in the folder `dir`.
fn write_files(snap: &Snapshot, dir: &Path, plan: &Plan) -> Result<()> {
    mkdir(&dir.join("collections"))?;
    write_file_atomic(
        &dir.join("collections.json"),
        &to_bytes(&Value::Array(snap.collections_list.clone())),
    )?;
    let (full, objects): (&[_], &[_]) = if plan.list_only {
        (&[], &[])
    } else {
        write_file_atomic(
            &dir.join("datasets.json"),
            &to_bytes(&Value::Array(snap.index.clone())),
        )?;
        (&snap.full_collections, &snap.dataset_objects)
    };
    for (cid, c) in full {
        let p = dir.join("collections").join(format!("{cid}.json"));
        write_file_atomic(&p, &to_bytes(c))?;
    }
    for (cid, did, d) in objects {
        let folder = dir.join("collections").join(cid).join("datasets");
        mkdir(&folder)?;
        write_file_atomic(&folder.join(format!("{did}.json")), &to_bytes(d))?;
    }
    if !snap.gone.is_empty() {
        write_file_atomic(&dir.join("gone.json"), &to_bytes(&json!(snap.gone)))?;
    }
    if !snap.assets.is_empty() {
        mkdir(&dir.join("assets"))?;
        for (name, size) in &snap.assets {
            assets::write_asset(&dir.join("assets"), plan.seed, name, *size, plan.sparse)?;
        }
    }
    Ok(())
}
