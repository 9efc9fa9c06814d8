//! The snapshots folder: the content-addressed store (`.objects/<sha256>`,
//! read-only copies hard-linked into the snapshots), the staging folder a
//! save fills before renaming it into place, and what a snapshot holds.

use cxg_core::ctx::Diag;
use cxg_core::digest::{sha256_file, Hasher};
use cxg_core::io::{create_subdir, create_temp_dir, forget_temp_dir, AtomicFile};
use cxg_core::{At, Error, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where a snapshots folder keeps each distinct file once.
pub(crate) fn objects_dir(into: &Path) -> PathBuf {
    into.join(".objects")
}

/// "cannot VERB 'PATH'": the place of a failed file operation.
pub(crate) fn cannot(verb: &str, p: &Path) -> String {
    format!("cannot {verb} '{}'", p.display())
}

/// Hard-link `src` to `dest` (replacing it atomically), or copy when the
/// file system cannot link.
pub(crate) fn link_or_copy(src: &Path, dest: &Path) -> Result<()> {
    let tmp = dest.with_file_name(format!(
        ".{}.{}.link",
        dest.file_name().map_or("f".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(src, &tmp).is_err() {
        std::fs::copy(src, &tmp).at(cannot("copy into", &tmp))?;
    }
    std::fs::rename(&tmp, dest)
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .at(cannot("rename into", dest))
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
pub(crate) fn store_object(
    objects: &Path,
    src: &Path,
    (bytes, sha): (u64, &str),
    diag: &Diag,
) -> Result<(PathBuf, bool)> {
    let obj = objects.join(sha);
    if std::fs::symlink_metadata(&obj).is_ok() {
        if object_ok(&obj, bytes, sha) {
            return Ok((obj, false));
        }
        diag.warn(format_args!(
            "stored object '{}' is damaged (its content no longer has the SHA-256 it is \
             named by); replaced from '{}'; snapshots saved with it before still hold \
             the damaged copy: 'cxg-snapshot verify' names them",
            obj.display(),
            src.display()
        ));
    }
    let input = std::fs::File::open(src).at(cannot("read", src))?;
    let mut out = AtomicFile::create(&obj)?;
    if copy_hashed(input, src, &mut out, &obj)? != (bytes, sha.to_string()) {
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

/// Copy `input` (the file `src`) into `out` (the object `obj`), hashing
/// what was copied.
fn copy_hashed(
    mut input: std::fs::File,
    src: &Path,
    out: &mut AtomicFile,
    obj: &Path,
) -> Result<(u64, String)> {
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).at(cannot("read", src)),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::write(&obj.display().to_string(), e))?;
    }
    Ok(h.finish())
}

/// A save's staging folder, `SNAPSHOTS/.saving.<pid>`: removed unless it
/// was renamed into place (and on a signal: it is registered with
/// cxg-core's signal cleanup).
pub(crate) struct Staging {
    pub dir: PathBuf,
    placed: bool,
}

impl Staging {
    /// Create the store and a fresh staging folder in `into`.
    /// The folder is new (never one that exists: another namespace's save
    /// can have the same process id); a symlink planted at `.objects` is
    /// refused, so no object is written outside `into`.
    pub fn create(into: &Path) -> Result<Staging> {
        std::fs::create_dir_all(into).at(cannot("create", into))?;
        create_subdir(into, ".objects")?;
        let pid = std::process::id();
        for n in 1..=1000 {
            let dir = match n {
                1 => into.join(format!(".saving.{pid}")),
                _ => into.join(format!(".saving.{pid}-{n}")),
            };
            match create_temp_dir(&dir) {
                Ok(()) => return Ok(Staging { dir, placed: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).at(cannot("create", &dir)),
            }
        }
        Err(Error::input(format!(
            "cannot create a staging folder in '{}'",
            into.display()
        )))
    }

    /// The folder was renamed into place: it is a snapshot now.
    pub fn placed(mut self) {
        self.placed = true;
        forget_temp_dir(&self.dir);
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_dir_all(&self.dir);
            forget_temp_dir(&self.dir);
        }
    }
}

/// A path a snapshot can hold: a plain file name (not `.` or `..`),
/// or `collections/<uuid>/datasets/<uuid>.json`.
pub(crate) fn is_snapshot_path(name: &str) -> bool {
    use cxg_catalog::ids::is_uuid;
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        [f] => !f.is_empty() && *f != "." && *f != "..",
        ["collections", cid, "datasets", f] => {
            is_uuid(cid) && f.strip_suffix(".json").is_some_and(is_uuid)
        }
        _ => false,
    }
}

/// Every entry below snapshot folder `dir` that is not a folder, by its
/// path relative to `dir` (`collections/<cid>/datasets/<did>.json`).
pub(crate) fn snapshot_files(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    add_files(dir, "", &mut out);
    out
}

fn add_files(dir: &Path, prefix: &str, out: &mut BTreeMap<String, PathBuf>) {
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
            Ok(t) if t.is_dir() => add_files(&e.path(), &rel, out),
            _ => {
                out.insert(rel, e.path());
            }
        }
    }
}

/// The newest snapshot when it holds exactly `files` (name or relative
/// path -> SHA-256).
pub(crate) fn same_as_newest(
    into: &Path,
    files: &BTreeMap<String, String>,
) -> Result<Option<PathBuf>> {
    let Some(newest) = cxg_catalog::snapshots::list(into)?.pop() else {
        return Ok(None);
    };
    let mut names = snapshot_files(&newest);
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
