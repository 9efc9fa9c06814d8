//! Saves that share a snapshots folder, from any process or PID namespace
//! (two containers mounting one folder see different process ids, and the
//! same id can be two live saves). A process id proves nothing, a lock
//! does: each save holds a shared `flock` on `SNAPSHOTS/.lock` from before
//! its staging folder exists until its snapshot is in place, and the kernel
//! drops it when the process dies however it dies. Staging folders are
//! removed only by a process that holds that lock exclusively, that is
//! when no save at all is running. `latest` is pointed, under an exclusive
//! lock on `SNAPSHOTS/.latest.lock`, at the newest snapshot by name, so
//! the save that finishes last cannot point it at an older one.

use crate::store::cannot;
use cxg_core::ctx::Diag;
use cxg_core::{At, Error, Result};
use rustix::fs::{flock, FlockOperation};
use std::fs::File;
use std::path::Path;

/// The lock every save holds for its whole run (released when dropped).
pub(crate) struct SaveLock {
    _file: File,
}

impl SaveLock {
    /// Take the save lock of the snapshots folder `into` (made when
    /// absent). When no other save holds it, the staging folders left by
    /// interrupted saves are removed first.
    pub fn take(into: &Path, diag: &Diag) -> Result<SaveLock> {
        std::fs::create_dir_all(into).at(cannot("create", into))?;
        let file = open_lock(&into.join(".lock"))?;
        if lock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            remove_stale_staging(into, diag);
        }
        // from exclusive (or none) to shared: other saves may run alongside
        lock(&file, FlockOperation::LockShared).at(cannot("lock", &into.join(".lock")))?;
        Ok(SaveLock { _file: file })
    }
}

/// Remove the staging folders of interrupted saves in `into`, if no save is
/// running there now (`list` calls this; a running save leaves them).
pub(crate) fn clean_if_idle(into: &Path, diag: &Diag) {
    if staging_folders(into).is_empty() {
        return;
    }
    let Ok(file) = open_lock(&into.join(".lock")) else {
        return;
    };
    if lock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
        remove_stale_staging(into, diag);
    }
}

/// Run `f` holding the exclusive lock on `into/.latest.lock`.
pub(crate) fn with_latest_lock<T>(into: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let p = into.join(".latest.lock");
    let file = open_lock(&p)?;
    lock(&file, FlockOperation::LockExclusive).at(cannot("lock", &p))?;
    let r = f();
    drop(file);
    r
}

/// `flock`, retried when a signal interrupts it.
fn lock(file: &File, op: FlockOperation) -> std::io::Result<()> {
    loop {
        match flock(file, op) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(std::io::Error::from),
        }
    }
}

/// Open (or create) a lock file, never through a symlink, and only a
/// regular file.
fn open_lock(p: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .mode(0o666)
        .open(p)
        .at(cannot("open the lock file", p))?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        _ => Err(Error::input(format!(
            "'{}' is not a regular file: refusing to use it as the snapshots folder's lock",
            p.display()
        ))),
    }
}

/// The staging folders (`.saving.*`) in `into`.
fn staging_folders(into: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(into) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".saving."))
        .map(|e| e.path())
        .collect()
}

/// Remove every staging folder in `into`: called only with the save lock
/// held exclusively, when none of them belongs to a running save.
fn remove_stale_staging(into: &Path, diag: &Diag) {
    for p in staging_folders(into) {
        if std::fs::remove_dir_all(&p).is_ok() {
            diag.warn(format_args!(
                "removed '{}', left by an interrupted save (no save holds the folder's lock)",
                p.display()
            ));
        }
    }
}
