//! One file: its cells chosen, its subset written atomically under
//! `--out-dir` (a temporary folder beside it, removed on any error and on
//! Ctrl-C; renamed into place only when complete), free space checked
//! first, and what the manifest says of it.

use crate::engine::{self, Stamp};
use cxg_cells::input::{check_bytes, Job};
use cxg_cells::panics::catch;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Done {
    pub(crate) id: String,
    /// The written file; empty when none was.
    pub(crate) path: String,
    pub(crate) n_cells: Option<u64>,
    pub(crate) kept: Option<u64>,
    pub(crate) bytes: Option<u64>,
    pub(crate) sha256: String,
    /// `ok`, `empty` or `failed`.
    pub(crate) status: &'static str,
    pub(crate) reason: String,
}

/// The output's name: the dataset_version_id, else the dataset_id, else
/// the input file's name without `.h5ad`.
pub(crate) fn id_of(job: &Job) -> String {
    job.dataset_version_id
        .clone()
        .or_else(|| job.dataset_id.clone())
        .unwrap_or_else(|| {
            let name = Path::new(&job.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_else(|| job.path.clone());
            name.strip_suffix(".h5ad")
                .map(str::to_string)
                .unwrap_or(name)
        })
}

/// Which cells of a file to keep, given its number of cells.
pub(crate) type Choose<'a> = dyn Fn(&Job) -> Result<Vec<bool>, String> + Sync + 'a;

/// Subset one file into `dir`; `known_sha`: the source's SHA-256 when the
/// manifest gives it for a file unchanged since (else it is computed).
pub(crate) fn run(
    job: &Job,
    known_sha: Option<String>,
    dir: &Path,
    choose: &Choose,
    filter: &str,
) -> Done {
    let id = id_of(job);
    let mut done = Done {
        id: id.clone(),
        status: "failed",
        ..Done::default()
    };
    match catch(|| subset(job, known_sha, dir, &id, choose, filter, &mut done)) {
        Ok(()) => done,
        Err(e) => Done {
            status: "failed",
            reason: e,
            ..done
        },
    }
}

fn subset(
    job: &Job,
    known_sha: Option<String>,
    dir: &Path,
    id: &str,
    choose: &Choose,
    filter: &str,
    done: &mut Done,
) -> Result<(), String> {
    if job.path.is_empty() {
        return Err("the manifest row has no path".into());
    }
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return Err(format!("'{id}' cannot name an output file"));
    }
    check_bytes(job)?;
    let n = engine::n_cells(&job.resolved)?;
    done.n_cells = Some(n);
    let mask = choose(job)?;
    let kept = mask.iter().filter(|k| **k).count() as u64;
    done.kept = Some(kept);
    if kept == 0 {
        done.status = "empty";
        done.reason = "no cell passes the filter".into();
        return Ok(());
    }
    check_space(&job.resolved, dir, kept, n)?;
    let dest = dir.join(format!("{id}.h5ad"));
    // the source's SHA-256 (for uns): cxg-download's, or computed on a
    // thread of its own while the subset is written (it is needed last);
    // stopped if the subset fails
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sha = s.spawn(|| match known_sha {
            Some(known) => Ok(known),
            None => sha256_until(&job.resolved, &stop),
        });
        let stamp = || {
            let sha = sha
                .join()
                .unwrap_or_else(|_| Err("the SHA-256 of the source failed".into()))?;
            Ok(Stamp {
                filter: filter.to_string(),
                tool: format!("cxg-subset {}", env!("CARGO_PKG_VERSION")),
                source_sha256: sha,
            })
        };
        let r = write_atomic(&job.resolved, &mask, &dest, stamp);
        stop.store(true, Ordering::Relaxed);
        r
    })?;
    let (bytes, sha) =
        cxg_core::digest::sha256_file(&dest).map_err(|e| format!("cannot read the output: {e}"))?;
    done.path = dest.display().to_string();
    done.bytes = Some(bytes);
    done.sha256 = sha;
    done.status = "ok";
    Ok(())
}

/// The SHA-256 of `path`, unless `stop` is set first.
fn sha256_until(path: &Path, stop: &AtomicBool) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut h = cxg_core::digest::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err("stopped".into());
        }
        let n = f.read(&mut buf).map_err(|e| format!("cannot read: {e}"))?;
        if n == 0 {
            return Ok(h.finish().1);
        }
        h.update(&buf[..n]);
    }
}

/// The subset is about the kept share of the source (same compression):
/// refuse when the output folder has less free than that and 16 MiB.
fn check_space(src: &Path, dir: &Path, kept: u64, n: u64) -> Result<(), String> {
    let len = std::fs::metadata(src).map(|m| m.len()).unwrap_or(0);
    let need = (len as u128 * kept as u128 / n.max(1) as u128) as u64 + (16 << 20);
    let free = cxg_core::io::free_space(dir)
        .map_err(|e| format!("cannot tell the free space of {}: {e}", dir.display()))?;
    if free < need {
        return Err(format!(
            "not enough free space in {}: about {need} bytes needed, {free} free",
            dir.display()
        ));
    }
    Ok(())
}

/// Write into a temporary folder beside `dest` (removed on error, and on
/// SIGINT/SIGTERM/SIGHUP by cxg-core), then rename into place.
fn write_atomic(
    src: &Path,
    mask: &[bool],
    dest: &Path,
    stamp: impl FnOnce() -> Result<Stamp, String>,
) -> Result<(), String> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    cxg_core::io::create_temp_dir(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let part = tmp.join(&name);
    let r = catch(|| engine::write_stamped(src, mask, &part, stamp)).and_then(|()| {
        std::fs::rename(&part, dest)
            .map_err(|e| format!("cannot rename into {}: {e}", dest.display()))
    });
    let _ = std::fs::remove_dir_all(&tmp);
    cxg_core::io::forget_temp_dir(&tmp);
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn job(path: &Path) -> Job {
        Job {
            path: path.display().to_string(),
            resolved: path.to_path_buf(),
            dataset_id: None,
            dataset_version_id: Some("v1".into()),
            bytes: None,
            sha256: None,
        }
    }

    /// No cell kept: status empty, no file. Every cell: ok, named by id.
    #[test]
    fn empty_writes_no_file() {
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/subset/dense.h5ad");
        let dir = std::env::temp_dir().join(format!("cxg-subset-job-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let none = |_: &Job| Ok(vec![false; 30]);
        let d = run(&job(&src), None, &dir, &none, "--none");
        assert_eq!((d.status, d.kept, d.path.as_str()), ("empty", Some(0), ""));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let some = |_: &Job| Ok((0..30).map(|i| i < 2).collect());
        let d = run(&job(&src), None, &dir, &some, "--two");
        assert_eq!(
            (d.status, d.kept, d.n_cells),
            ("ok", Some(2), Some(30)),
            "{}",
            d.reason
        );
        assert!(d.path.ends_with("/v1.h5ad"));
        // the source's SHA-256, computed beside the writing, is in uns
        let out = crate::h5::open(Path::new(&d.path)).unwrap();
        let sha = out.dataset("uns/cxg_subset/source_sha256").unwrap();
        let want = cxg_core::digest::sha256_file(&src).unwrap().1;
        assert_eq!(sha.read_string().unwrap(), want);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // a SHA-256 the manifest gives (for a file unchanged since) is
        // taken as it is
        let given = "ab".repeat(32);
        let d = run(&job(&src), Some(given.clone()), &dir, &some, "--two");
        assert_eq!(d.status, "ok", "{}", d.reason);
        let out = crate::h5::open(Path::new(&d.path)).unwrap();
        let sha = out.dataset("uns/cxg_subset/source_sha256").unwrap();
        assert_eq!(sha.read_string().unwrap(), given);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
