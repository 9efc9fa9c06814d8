//! One file's transfer: streamed to `<name>.part`, resumed with Range from
//! the bytes already on disk (after a dropped connection or an earlier
//! run), checked against the expected size and the ETag, then renamed into
//! place. The `.part` and its sidecar `<name>.part.json` (url, size, ETag,
//! Last-Modified of the first response) are the resume state: they are
//! kept when a run is interrupted, and removed once the file is complete.

use crate::hash::{etag_form, sha256_file, EtagForm, Hashes};
use cxg_core::cli::warn;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// What is shared by every transfer of a run.
pub struct Net {
    pub agent: ureq::Agent,
    pub retries: u32,
    pub backoff: Duration,
    /// Hosts (`host:port`) that could not be reached after the retries,
    /// and why: their other files fail at once, other hosts go on.
    pub down: Mutex<HashMap<String, String>>,
    /// Free bytes to assume on the folder's filesystem (tests), else asked.
    pub assume_free: Option<u64>,
    /// Body bytes received (written to disk) in this run.
    pub transferred: AtomicU64,
    pub requests: AtomicU64,
    pub progress: Option<indicatif::ProgressBar>,
    /// --log-requests: one line per transfer (after its retries)
    pub log: Option<cxg_http::log::RequestLog>,
}

/// One file to get.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    /// `<uuid>.h5ad`, checked.
    pub name: String,
    /// The size the input claims, or the server answered a size probe
    /// with (`learned`); None when unknown.
    pub size: Option<u64>,
    /// `size` came from the server's answer to a probe, not from the input.
    pub learned: bool,
}

/// `host:port` of a URL, the unit that is reachable or not.
pub fn host_key(url: &str) -> String {
    url.parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
        .unwrap_or_default()
}

impl Net {
    /// Why the host of `url` is known to be unreachable in this run.
    pub fn host_down(&self, url: &str) -> Option<String> {
        let d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        d.get(&host_key(url)).cloned()
    }

    fn mark_down(&self, url: &str, why: String) {
        let mut d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        d.entry(host_key(url)).or_insert(why);
    }

    /// Free bytes on `dir`'s filesystem now.
    fn free(&self, dir: &Path) -> Option<u64> {
        match self.assume_free {
            Some(n) => Some(n.saturating_sub(self.transferred.load(Ordering::Relaxed))),
            None => cxg_core::io::free_space(dir).ok(),
        }
    }
}

/// Ask the server for the size of a file whose size the input does not
/// give: `Range: bytes=0-0` (a 206 names the total; a server ignoring
/// Range answers 200 with a Content-Length, and the body is not read; a 416
/// names a total of 0). None when the answer tells nothing (the transfer
/// then learns the size from its first response).
/// `Err(())`: the host could not be reached (no more probes for it).
#[allow(clippy::result_unit_err)]
pub fn probe_size(net: &Net, job: &Job) -> Result<Option<u64>, ()> {
    net.requests.fetch_add(1, Ordering::Relaxed);
    let r = match net
        .agent
        .get(&job.url)
        .header("Accept-Encoding", "identity")
        .header("Range", "bytes=0-0")
        .call()
    {
        Ok(r) => r,
        Err(e) => {
            return match transport(e) {
                Step::Retry {
                    unreachable: true, ..
                } => Err(()),
                _ => Ok(None),
            }
        }
    };
    Ok(match r.status().as_u16() {
        206 | 416 => content_range(header(&r, "content-range").as_deref()).and_then(|c| c.2),
        200 => header(&r, "content-length").and_then(|v| v.parse::<u64>().ok()),
        _ => None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Downloaded,
    Resumed,
    Present,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Downloaded => "downloaded",
            Status::Resumed => "resumed",
            Status::Present => "present",
            Status::Failed => "failed",
        }
    }
}

/// How one file ended.
#[derive(Debug, Clone)]
pub struct Done {
    pub status: Status,
    pub bytes: Option<u64>,
    pub sha256: String,
    pub verified_by: String,
    pub etag: String,
    pub reason: String,
    /// The failure was the service's (5xx, 429, network), not the file's.
    pub service: bool,
}

impl Done {
    pub fn failed(reason: impl Into<String>, bytes: Option<u64>, service: bool) -> Done {
        Done {
            status: Status::Failed,
            bytes,
            sha256: String::new(),
            verified_by: String::new(),
            etag: String::new(),
            reason: reason.into(),
            service,
        }
    }
}

/// A hash found in a previous manifest for a path.
#[derive(Debug, Clone)]
pub struct Known {
    pub bytes: u64,
    pub sha256: String,
    /// When the previous manifest was last written.
    pub written: Option<std::time::SystemTime>,
}

impl Known {
    /// The file at `p` has not changed since the manifest was written: its
    /// inode change time (which every write, rename or `touch -d` sets to
    /// now, and which cannot be set back) is strictly older.
    fn unchanged(&self, p: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let (Some(w), Ok(m)) = (self.written, std::fs::metadata(p)) else {
            return false;
        };
        let ctime = std::time::UNIX_EPOCH
            + Duration::new(
                u64::try_from(m.ctime()).unwrap_or(0),
                u32::try_from(m.ctime_nsec()).unwrap_or(0),
            );
        ctime < w
    }
}

/// Get one file into `dir`.
pub fn fetch(net: &Net, dir: &Path, job: &Job, verify: bool, known: Option<&Known>) -> Done {
    let dest = dir.join(&job.name);
    if let Some(why) = net.host_down(&job.url) {
        return Done::failed(
            format!(
                "not attempted: {} could not be reached ({why})",
                host_key(&job.url)
            ),
            job.size,
            true,
        );
    }
    for p in [dest.clone(), dir.join(format!("{}.part", job.name))] {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Done::failed(
                format!(
                    "'{}' is a symbolic link: not followed, not replaced",
                    p.display()
                ),
                job.size,
                false,
            );
        }
    }
    if let Ok(m) = std::fs::metadata(&dest) {
        if !m.is_file() {
            return Done::failed(
                format!("'{}' exists and is not a file", dest.display()),
                job.size,
                false,
            );
        }
        let len = m.len();
        // an empty file is never a complete H5AD; an unknown size (the
        // probe got no answer) cannot say complete either
        if len > 0 && job.size == Some(len) {
            return present(&dest, len, verify, known);
        }
        warn(format_args!(
            "'{}' has {len} bytes but {} are expected: downloading it again",
            dest.display(),
            job.size
                .map_or_else(|| "another size".to_string(), |s| s.to_string())
        ));
    }
    let mut t = match Transfer::open(dir, job) {
        Ok(t) => t,
        Err(d) => return d,
    };
    t.run(net, job, &dest)
}

/// A final file that is already there.
fn present(dest: &Path, len: u64, verify: bool, known: Option<&Known>) -> Done {
    // a previous manifest's hash is reused only for a file of the same size
    // that has not changed since that manifest was written
    let known = known.filter(|k| k.bytes == len && (verify || k.unchanged(dest)));
    let (sha, verified_by) = match (verify, known) {
        (false, Some(k)) => (k.sha256.clone(), "size"),
        _ => match sha256_file(dest) {
            Ok(s) => match known {
                Some(k) if verify && k.sha256 != s => {
                    return Done::failed(
                        format!(
                            "'{}' has SHA-256 {s}, the previous manifest says {}; left in place",
                            dest.display(),
                            k.sha256
                        ),
                        Some(len),
                        false,
                    )
                }
                Some(_) if verify => (s, "size+sha256"),
                _ => (s, "size"),
            },
            Err(e) => {
                return Done::failed(
                    format!("cannot read '{}': {e}", dest.display()),
                    Some(len),
                    false,
                )
            }
        },
    };
    Done {
        status: Status::Present,
        bytes: Some(len),
        sha256: sha,
        verified_by: verified_by.into(),
        etag: String::new(),
        reason: String::new(),
        service: false,
    }
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// `bytes a-b/t` → (Some(a), Some(b), Some(t)); `bytes */t` → (None, None, Some(t)).
fn content_range(h: Option<&str>) -> Option<(Option<u64>, Option<u64>, Option<u64>)> {
    let rest = h?.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    if span.trim() == "*" {
        return Some((None, None, total));
    }
    let (a, b) = span.trim().split_once('-')?;
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    if b < a {
        return None;
    }
    Some((Some(a), Some(b), total))
}

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
struct Sidecar {
    url: String,
    /// The total size of the file the first response announced (its
    /// Content-Length), kept whether or not the input gave a size: a later
    /// 206 for another total is another file.
    size: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Sidecar {
    /// The `.part` it describes is of this job's file: same url, a known
    /// total, and the size the job expects (when it expects one).
    fn fits(&self, job: &Job) -> bool {
        self.url == job.url && self.size.is_some() && job.size.is_none_or(|s| self.size == Some(s))
    }

    fn read(p: &Path) -> Option<Sidecar> {
        let v: Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Sidecar {
            url: s("url")?,
            size: v.get("size").and_then(Value::as_u64),
            etag: s("etag"),
            last_modified: s("last_modified"),
        })
    }
    fn write(&self, p: &Path) -> cxg_core::Result<()> {
        let v = json!({"url": self.url, "size": self.size, "etag": self.etag,
            "last_modified": self.last_modified});
        cxg_core::io::write_file_atomic(p, format!("{v}\n").as_bytes())
    }
}

/// What one request led to.
enum Step {
    /// The file is complete on disk.
    Complete,
    /// Try again (after a wait unless bytes arrived): a dropped body, 5xx.
    Retry {
        msg: String,
        wait: Option<Duration>,
        unreachable: bool,
    },
    /// Start over from byte 0 (the remote file changed, the part is wrong).
    Restart(String),
    /// Give up on this file.
    Fail { msg: String, service: bool },
}

struct Transfer {
    part: PathBuf,
    side: PathBuf,
    file: File,
    offset: u64,
    meta: Option<Sidecar>,
    hashes: Option<Hashes>,
    form: EtagForm,
    total: Option<u64>,
    /// The bytes left by an earlier run are still in use.
    kept_prefix: bool,
    /// Some body bytes arrived in this run (the server is working).
    got_bytes: bool,
    /// The size was known when the run checked the free space.
    size_known_before: bool,
    buf: Vec<u8>,
    /// Requests made for this file, and the last HTTP status answered.
    attempts: u32,
    last_status: Option<u16>,
}

impl Transfer {
    fn open(dir: &Path, job: &Job) -> Result<Transfer, Done> {
        let part = dir.join(format!("{}.part", job.name));
        let side = dir.join(format!("{}.part.json", job.name));
        let fail = |what: String| Done::failed(what, job.size, false);
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // never write through a symlink planted in the folder
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&part)
            .map_err(|e| fail(format!("cannot open '{}': {e}", part.display())))?;
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(fail(format!(
                "'{}' is being written by another process (another cxg-download?)",
                part.display()
            )));
        }
        let len = file
            .metadata()
            .map_err(|e| fail(format!("cannot read '{}': {e}", part.display())))?
            .len();
        let meta = Sidecar::read(&side).filter(|m| m.fits(job));
        let mut t = Transfer {
            part,
            side,
            file,
            offset: len,
            meta,
            hashes: None,
            form: EtagForm::Unknown,
            total: None,
            kept_prefix: false,
            got_bytes: false,
            size_known_before: job.size.is_some(),
            buf: vec![0u8; 256 * 1024],
            attempts: 0,
            last_status: None,
        };
        let too_long = t
            .meta
            .as_ref()
            .and_then(|m| m.size)
            .is_some_and(|s| len > s);
        if len > 0 && (t.meta.is_none() || too_long) {
            // a .part we cannot vouch for: start over
            t.reset().map_err(fail)?;
        }
        t.kept_prefix = t.offset > 0;
        Ok(t)
    }

    fn reset(&mut self) -> Result<(), String> {
        self.file
            .set_len(0)
            .map_err(|e| format!("cannot truncate '{}': {e}", self.part.display()))?;
        self.offset = 0;
        self.meta = None;
        self.hashes = None;
        self.total = None;
        self.kept_prefix = false;
        let _ = std::fs::remove_file(&self.side);
        Ok(())
    }

    fn run(&mut self, net: &Net, job: &Job, dest: &Path) -> Done {
        let (started, clock) = (std::time::SystemTime::now(), std::time::Instant::now());
        let d = self.run_inner(net, job, dest);
        if let (Some(log), true) = (&net.log, self.attempts > 0) {
            let ok = d.status != Status::Failed;
            log.record(&cxg_http::log::Request {
                method: "GET",
                url: &job.url,
                status: self.last_status,
                attempts: self.attempts,
                body: None,
                streamed: match (ok, d.bytes) {
                    (true, Some(n)) => Some((n, d.sha256.as_str())),
                    _ => None,
                },
                started,
                duration: clock.elapsed(),
                error: (!ok).then_some(d.reason.as_str()),
            });
        }
        if d.status == Status::Failed && self.offset == 0 {
            // nothing worth resuming: leave no empty .part behind
            let _ = std::fs::remove_file(&self.part);
            let _ = std::fs::remove_file(&self.side);
        }
        d
    }

    fn run_inner(&mut self, net: &Net, job: &Job, dest: &Path) -> Done {
        let mut idle = 0u32;
        let mut restarts = 0u32;
        loop {
            if let Some(why) = net.host_down(&job.url) {
                return Done::failed(
                    format!(
                        "stopped: {} could not be reached ({why})",
                        host_key(&job.url)
                    ),
                    job.size,
                    true,
                );
            }
            if self.total.is_some_and(|t| t == self.offset) && self.hashes.is_some() {
                break;
            }
            let before = self.offset;
            match self.attempt(net, job) {
                Step::Complete => break,
                Step::Fail { msg, service } => return Done::failed(msg, job.size, service),
                Step::Restart(msg) => {
                    restarts += 1;
                    if restarts > 3 {
                        return Done::failed(
                            format!("{msg} (3 restarts already)"),
                            job.size,
                            false,
                        );
                    }
                    warn(format_args!("{}: {msg}", job.url));
                    if let Err(e) = self.reset() {
                        return Done::failed(e, job.size, false);
                    }
                }
                Step::Retry {
                    msg,
                    wait,
                    unreachable,
                } => {
                    if self.offset > before {
                        idle = 0;
                        warn(format_args!(
                            "{}: {msg}; resuming from byte {}",
                            job.url, self.offset
                        ));
                        continue;
                    }
                    idle += 1;
                    if idle > net.retries {
                        if unreachable {
                            // this host only: files of other hosts go on
                            net.mark_down(&job.url, msg.clone());
                        }
                        // run() removes a .part with nothing in it
                        let kept = if self.offset > 0 {
                            format!(
                                "{} bytes kept in '{}' for the next run",
                                self.offset,
                                self.part.display()
                            )
                        } else {
                            "nothing was received".to_string()
                        };
                        return Done::failed(
                            format!("{msg} (gave up after {idle} attempts; {kept})"),
                            job.size,
                            !self.got_bytes,
                        );
                    }
                    let wait = wait.unwrap_or_else(|| {
                        cxg_http::backoff_wait(net.backoff, idle, cxg_http::jitter())
                    });
                    warn(format_args!(
                        "{}: {msg}; retry {idle} of {} in {:.1} s",
                        job.url,
                        net.retries,
                        wait.as_secs_f64()
                    ));
                    std::thread::sleep(wait);
                }
            }
        }
        self.finish(job, dest)
    }

    /// One request, and its body streamed to disk.
    fn attempt(&mut self, net: &Net, job: &Job) -> Step {
        net.requests.fetch_add(1, Ordering::Relaxed);
        self.attempts += 1;
        let mut req = net
            .agent
            .get(&job.url)
            .header("Accept-Encoding", "identity");
        if self.offset > 0 {
            req = req.header("Range", format!("bytes={}-", self.offset));
            if let Some(e) = self.meta.as_ref().and_then(|m| m.etag.as_deref()) {
                if !e.starts_with("W/") {
                    req = req.header("If-Range", e);
                }
            }
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(e) => return transport(e),
        };
        let status = resp.status().as_u16();
        self.last_status = Some(status);
        let etag = header(&resp, "etag");
        let lm = header(&resp, "last-modified");
        let crange = content_range(header(&resp, "content-range").as_deref());
        let clen = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
        let said = if job.learned {
            "the server said at the start of the run"
        } else {
            "the input says"
        };
        let mismatch = |served: u64, s: u64| Step::Fail {
            msg: format!("size mismatch: the server has {served} bytes, {said} {s}"),
            service: false,
        };
        match status {
            200 => {
                if let (Some(s), Some(c)) = (job.size, clen) {
                    if s != c {
                        return mismatch(c, s);
                    }
                }
                let Some(total) = clen.or(job.size) else {
                    return Step::Fail {
                        msg: "the size cannot be checked: no Content-Length and no filesize".into(),
                        service: false,
                    };
                };
                if total == 0 {
                    return Step::Fail {
                        msg: "the server sent an empty file (0 bytes): an H5AD is never empty"
                            .into(),
                        service: false,
                    };
                }
                if let Some(s) = self.space_short(net, total) {
                    return s;
                }
                if self.offset > 0 {
                    let old = self.meta.as_ref().and_then(|m| m.etag.clone());
                    match (&old, &etag) {
                        (Some(o), Some(e)) if o != e => warn(format_args!(
                            "{}: the file changed on the server since the partial download (ETag {e}, was {o}): starting again from byte 0",
                            job.url
                        )),
                        _ => warn(format_args!(
                            "{}: the server ignored Range (200 instead of 206): starting again from byte 0",
                            job.url
                        )),
                    }
                }
                if let Err(e) = self.reset() {
                    return Step::Fail {
                        msg: e,
                        service: false,
                    };
                }
                let meta = Sidecar {
                    url: job.url.clone(),
                    size: Some(total),
                    etag,
                    last_modified: lm,
                };
                if let Err(e) = meta.write(&self.side) {
                    return Step::Fail {
                        msg: e.msg,
                        service: false,
                    };
                }
                self.form = etag_form(meta.etag.as_deref(), total);
                self.meta = Some(meta);
                self.hashes = Some(Hashes::new(&self.form));
                self.total = Some(total);
                self.stream(net, resp.into_body(), total)
            }
            206 => {
                let Some((Some(a), Some(b), Some(t))) = crange else {
                    return Step::Restart(
                        "a 206 answer without a usable Content-Range: starting again".into(),
                    );
                };
                if let Some(s) = job.size {
                    if s != t {
                        return mismatch(t, s);
                    }
                }
                if a != self.offset {
                    return Step::Restart(format!(
                        "asked for bytes from {}, the server sent from {a}: starting again",
                        self.offset
                    ));
                }
                let Some(meta) = self.meta.clone() else {
                    return Step::Restart("no record of the first response: starting again".into());
                };
                // the total the first response announced (kept in the
                // sidecar even when the input gives no size): another
                // total is another file, whatever its ETag says
                if meta.size != Some(t) {
                    return Step::Restart(format!(
                        "the server's file now has {t} bytes, the partial download is of a file of {}: starting again",
                        meta.size.map_or("unknown size".into(), |k| format!("{k} bytes"))
                    ));
                }
                if b >= t {
                    return Step::Restart(format!(
                        "a Content-Range ending at byte {b} of a {t}-byte file: starting again"
                    ));
                }
                let changed = match (&meta.etag, &etag) {
                    (Some(x), Some(y)) => x != y,
                    _ => matches!((&meta.last_modified, &lm), (Some(x), Some(y)) if x != y),
                };
                if changed {
                    return Step::Restart(format!(
                        "the file changed on the server since the partial download (ETag {} was {}): starting again",
                        etag.as_deref().unwrap_or("-"),
                        meta.etag.as_deref().unwrap_or("-")
                    ));
                }
                self.total = Some(t);
                self.form = etag_form(meta.etag.as_deref(), t);
                if let Err(s) = self.hashes_at_offset() {
                    return s;
                }
                self.stream(net, resp.into_body(), b + 1)
            }
            416 => {
                let t = crange.and_then(|c| c.2);
                match t {
                    Some(t)
                        if self.offset > 0
                            && t == self.offset
                            && job.size.is_none_or(|s| s == t)
                            && self.meta.as_ref().is_some_and(|m| m.size == Some(t)) =>
                    {
                        self.total = Some(t);
                        self.form =
                            etag_form(self.meta.as_ref().and_then(|m| m.etag.as_deref()), t);
                        match self.hashes_at_offset() {
                            Ok(()) => Step::Complete,
                            Err(s) => s,
                        }
                    }
                    Some(t) if self.offset > t => Step::Restart(format!(
                        "the partial file has {} bytes, the server's file {t}: starting again",
                        self.offset
                    )),
                    _ => Step::Fail {
                        msg: format!(
                            "HTTP 416 for bytes from {} (Content-Range {})",
                            self.offset,
                            t.map_or("missing".into(), |t| format!("*/{t}"))
                        ),
                        service: false,
                    },
                }
            }
            404 => Step::Fail {
                msg: "not found (404)".into(),
                service: false,
            },
            410 => Step::Fail {
                msg: "removed from the server (410 Gone): this dataset version was withdrawn"
                    .into(),
                service: false,
            },
            s if s == 429 || s >= 500 => {
                use cxg_http::{retry_after, RetryAfter};
                let ra = header(&resp, "retry-after")
                    .map(|v| retry_after(&v, std::time::SystemTime::now()));
                match ra {
                    Some(RetryAfter::TooLong(w)) => Step::Fail {
                        msg: format!(
                            "HTTP {s} (the server asks to retry after {} s, longer than is waited)",
                            w.as_secs()
                        ),
                        service: true,
                    },
                    Some(RetryAfter::Wait(w)) => Step::Retry {
                        msg: format!("HTTP {s}"),
                        wait: Some(w),
                        unreachable: false,
                    },
                    Some(RetryAfter::Backoff) | None => Step::Retry {
                        msg: format!("HTTP {s}"),
                        wait: None,
                        unreachable: false,
                    },
                }
            }
            s => Step::Fail {
                msg: format!("HTTP {s}"),
                service: false,
            },
        }
    }

    /// When the size was not known before the run (the probe got no
    /// answer), the free-space check could not count this file: check now
    /// that the rest of it fits.
    fn space_short(&self, net: &Net, total: u64) -> Option<Step> {
        if self.size_known_before {
            return None;
        }
        let dir = self.part.parent().unwrap_or(Path::new("."));
        let need = total.saturating_sub(self.offset);
        match net.free(dir) {
            Some(free) if need > free => Some(Step::Fail {
                msg: format!(
                    "not enough space in '{}': the file has {total} bytes ({need} to fetch), {free} bytes are available",
                    dir.display()
                ),
                service: false,
            }),
            _ => None,
        }
    }

    /// Make the digests cover exactly the bytes on disk, hashing the part
    /// from disk when they do not (a part left by an earlier run).
    fn hashes_at_offset(&mut self) -> Result<(), Step> {
        if self.hashes.as_ref().is_some_and(|h| h.pos == self.offset) {
            return Ok(());
        }
        match Hashes::from_disk(&self.part, self.offset, &self.form) {
            Ok(h) => {
                self.hashes = Some(h);
                Ok(())
            }
            Err(e) => Err(Step::Fail {
                msg: format!("cannot read '{}': {e}", self.part.display()),
                service: false,
            }),
        }
    }

    /// Stream a body to disk until byte `end` (exclusive).
    fn stream(&mut self, net: &Net, body: ureq::Body, end: u64) -> Step {
        let fail = |msg: String| Step::Fail {
            msg,
            service: false,
        };
        if let Err(e) = self.file.seek(SeekFrom::Start(self.offset)) {
            return fail(format!("cannot seek in '{}': {e}", self.part.display()));
        }
        let mut r = body.into_reader();
        let Some(hashes) = self.hashes.as_mut() else {
            return fail("internal: no digests".into());
        };
        loop {
            let n = match r.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Step::Retry {
                        msg: format!("the transfer broke at byte {}: {e}", self.offset),
                        wait: None,
                        unreachable: false,
                    }
                }
            };
            if self.offset + n as u64 > end {
                return fail(format!(
                    "size mismatch: the server sent more than the {end} bytes it announced"
                ));
            }
            if let Err(e) = self.file.write_all(&self.buf[..n]) {
                return fail(format!("cannot write '{}': {e}", self.part.display()));
            }
            hashes.update(&self.buf[..n]);
            self.got_bytes = true;
            self.offset += n as u64;
            net.transferred.fetch_add(n as u64, Ordering::Relaxed);
            if let Some(p) = &net.progress {
                p.inc(n as u64);
            }
        }
        if self.offset < end {
            return Step::Retry {
                msg: format!("the body ended at byte {} of {end}", self.offset),
                wait: None,
                unreachable: false,
            };
        }
        if Some(self.offset) == self.total {
            Step::Complete
        } else {
            // a shorter range than asked for: ask for the rest
            Step::Retry {
                msg: "partial range".into(),
                wait: None,
                unreachable: false,
            }
        }
    }

    /// Check the complete `.part` and rename it into place.
    fn finish(&mut self, job: &Job, dest: &Path) -> Done {
        let fail = |msg: String| Done::failed(msg, job.size, false);
        let total = self.total.unwrap_or(self.offset);
        let on_disk = self.file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        if on_disk != total || self.offset != total || job.size.is_some_and(|s| s != total) {
            return fail(format!(
                "size mismatch: '{}' has {on_disk} bytes, expected {total}",
                self.part.display()
            ));
        }
        if let Err(e) = self.file.sync_all() {
            return fail(format!("cannot flush '{}': {e}", self.part.display()));
        }
        let Some(hashes) = self.hashes.take() else {
            return fail("internal: no digests".into());
        };
        let (sha, etag_ok) = hashes.finish();
        let etag = self
            .meta
            .as_ref()
            .and_then(|m| m.etag.clone())
            .unwrap_or_default();
        if etag_ok == Some(false) {
            let _ = std::fs::remove_file(&self.part);
            let _ = std::fs::remove_file(&self.side);
            return fail(format!(
                "the bytes do not match the server's ETag {etag} (damaged in transit?); the partial file was removed"
            ));
        }
        if let Err(e) = std::fs::rename(&self.part, dest) {
            return fail(format!(
                "cannot rename '{}' to '{}': {e}",
                self.part.display(),
                dest.display()
            ));
        }
        let _ = std::fs::remove_file(&self.side);
        if let Some(d) = dest.parent() {
            let _ = File::open(if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            })
            .and_then(|f| f.sync_all());
        }
        Done {
            status: if self.kept_prefix {
                Status::Resumed
            } else {
                Status::Downloaded
            },
            bytes: Some(total),
            sha256: sha,
            verified_by: if etag_ok == Some(true) {
                "size+etag"
            } else {
                "size"
            }
            .into(),
            etag,
            reason: String::new(),
            service: false,
        }
    }
}

fn transport(e: ureq::Error) -> Step {
    use std::io::ErrorKind as K;
    let unreachable = match &e {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused | K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable
        ),
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        _ => false,
    };
    let retry = unreachable
        || matches!(
            e,
            ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::Protocol(_)
        );
    if retry {
        Step::Retry {
            msg: e.to_string(),
            wait: None,
            unreachable,
        }
    } else {
        Step::Fail {
            msg: e.to_string(),
            service: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            content_range(Some("bytes 5-9/10")),
            Some((Some(5), Some(9), Some(10)))
        );
        assert_eq!(
            content_range(Some("bytes */10")),
            Some((None, None, Some(10)))
        );
        assert_eq!(
            content_range(Some("bytes 0-0/*")),
            Some((Some(0), Some(0), None))
        );
        let big = 6_000_000_000u64;
        assert_eq!(
            content_range(Some(&format!("bytes {}-{}/{big}", big - 10, big - 1))),
            Some((Some(big - 10), Some(big - 1), Some(big)))
        );
        assert_eq!(content_range(Some("bytes 9-5/10")), None);
        assert_eq!(content_range(Some("items 0-1/2")), None);
        assert_eq!(content_range(None), None);
    }
}
