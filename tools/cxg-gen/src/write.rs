//! Writing a snapshot folder: into a fresh staging folder beside the
//! target, renamed into place when complete, so that a failed or
//! interrupted run leaves no half-written snapshot.

use crate::args::Args;
use crate::emit::{write_files, Tally};
use crate::snapshot::Fates;
use cxg_core::io::{create_temp_dir, forget_temp_dir};
use cxg_core::{At, Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Write the snapshot of `args` (datasets' fates in `fates`) into the
/// folder `args.out_dir`: a new one, or (with `--force`) one that holds a
/// snapshot already.
pub(crate) fn write(args: &Args, fates: &Fates) -> Result<Tally> {
    let out = args.out_dir.as_path();
    check_target(out, args.force)?;
    let tmp = staging_path(out)?;
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(p) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(p);
    }
    // a signal removes the half-written folder
    create_temp_dir(&tmp).at(cannot_create(&tmp))?;
    let result = write_files(args, fates, &tmp).and_then(|tally| {
        if out.exists() {
            std::fs::remove_dir_all(out).at(format_args!("cannot replace '{}'", out.display()))?;
        }
        std::fs::rename(&tmp, out).at(cannot_create(out))?;
        Ok(tally)
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
pub(crate) fn check_target(out: &Path, force: bool) -> Result<()> {
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
