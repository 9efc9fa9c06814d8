//! The resume state beside a `.part`: `<name>.part.json` with the url, the
//! total size, the ETag and Last-Modified of the first response.

use crate::job::Job;
use serde_json::{json, Value};
use std::path::Path;

/// The bytes of `<name>.part` in `dir` that a run would continue from: its
/// length when its sidecar names the same url and size, else 0.
pub fn resumable_bytes(dir: &Path, job: &Job) -> u64 {
    let part = dir.join(format!("{}.part", job.name));
    let len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    match Sidecar::read(&dir.join(format!("{}.part.json", job.name))) {
        Ok(Some(m)) if m.fits(job) && m.size.is_some_and(|s| len <= s) => len,
        _ => 0,
    }
}

/// The resume state beside a `.part`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sidecar {
    pub url: String,
    /// The total size of the file the first response announced (its
    /// Content-Length), kept whether or not the input gave a size: a later
    /// 206 for another total is another file.
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Sidecar {
    /// The `.part` it describes is of this job's file: same url, a known
    /// total, and the size the job expects (when it expects one).
    pub fn fits(&self, job: &Job) -> bool {
        self.url == job.url && self.size.is_some() && job.size.is_none_or(|s| self.size == Some(s))
    }

    /// The sidecar at `p`; None when there is none or it is not one (a
    /// `.part` it cannot vouch for is started again); an error when `p` is
    /// not a regular file (a FIFO there would block the run).
    pub fn read(p: &Path) -> Result<Option<Sidecar>, String> {
        let Some(bytes) = read_regular(p)? else {
            return Ok(None);
        };
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            return Ok(None);
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let Some(url) = s("url") else {
            return Ok(None);
        };
        Ok(Some(Sidecar {
            url,
            size: v.get("size").and_then(Value::as_u64),
            etag: s("etag"),
            last_modified: s("last_modified"),
        }))
    }

    pub fn write(&self, p: &Path) -> cxg_core::Result<()> {
        let v = json!({"url": self.url, "size": self.size, "etag": self.etag,
            "last_modified": self.last_modified});
        cxg_core::io::write_file_atomic(p, format!("{v}\n").as_bytes())
    }
}

/// The bytes of the regular file at `p` (None: nothing there, or it cannot
/// be read), opened without following a symlink and without blocking; an
/// error naming it when it is something else (a FIFO, a device).
fn read_regular(p: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(p)
    {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!(
            "'{}' is not a regular file (a FIFO, a device?): remove it to download again",
            p.display()
        ));
    }
    let mut b = Vec::new();
    Ok(f.read_to_end(&mut b).ok().map(|_| b))
}
