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
        Some(m) if m.fits(job) && m.size.is_some_and(|s| len <= s) => len,
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

    pub fn read(p: &Path) -> Option<Sidecar> {
        let v: Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Sidecar {
            url: s("url")?,
            size: v.get("size").and_then(Value::as_u64),
            etag: s("etag"),
            last_modified: s("last_modified"),
        })
    }

    pub fn write(&self, p: &Path) -> cxg_core::Result<()> {
        let v = json!({"url": self.url, "size": self.size, "etag": self.etag,
            "last_modified": self.last_modified});
        cxg_core::io::write_file_atomic(p, format!("{v}\n").as_bytes())
    }
}
