//! One file's transfer: streamed to `<name>.part`, resumed with Range from
//! the bytes already on disk (after a dropped connection or an earlier
//! run), checked against the expected size and the ETag, then renamed into
//! place. The `.part` and its sidecar `<name>.part.json` (url, size, ETag,
//! Last-Modified of the first response) are the resume state: they are
//! kept when a run is interrupted, and removed once the file is complete.

use crate::hash::{etag_form, sha256_file, EtagForm, Hashes};
use cxg_core::cli::warn;
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// What is shared by every transfer of a run.
pub struct Net {
    pub agent: ureq::Agent,
    pub retries: u32,
    pub backoff: Duration,
    /// Set when the host could not be reached after retries: the run stops.
    pub abort: AtomicBool,
    pub unreachable: Mutex<Option<String>>,
    /// Body bytes received (written to disk) in this run.
    pub transferred: AtomicU64,
    pub requests: AtomicU64,
    pub progress: Option<indicatif::ProgressBar>,
    /// --log-requests: one line per transfer (after its retries)
    pub log: Option<cxg_core::reqlog::RequestLog>,
}

/// One file to get.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    /// `<uuid>.h5ad`, checked.
    pub name: String,
    /// The size the input claims; None when unknown (absent or -1).
    pub size: Option<u64>,
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
}

fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    0.5 + (h.finish() >> 11) as f64 / (1u64 << 53) as f64 * 0.5
}

/// Get one file into `dir`.
pub fn fetch(net: &Net, dir: &Path, job: &Job, verify: bool, known: Option<&Known>) -> Done {
    let dest = dir.join(&job.name);
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
        let complete = match job.size {
            Some(s) => s == len,
            None => len > 0 && probe_complete(net, job, len),
        };
        if net.abort.load(Ordering::SeqCst) {
            return Done::failed("not attempted: the host could not be reached", None, true);
        }
        if complete {
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

/// For a final file whose expected size is unknown: ask the server for the
/// bytes after it; a 416 naming the same total means it is complete.
fn probe_complete(net: &Net, job: &Job, len: u64) -> bool {
    net.requests.fetch_add(1, Ordering::Relaxed);
    let resp = net
        .agent
        .get(&job.url)
        .header("Accept-Encoding", "identity")
        .header("Range", format!("bytes={len}-"))
        .call();
    match resp {
        Ok(r) if r.status().as_u16() == 416 => {
            content_range(header(&r, "content-range").as_deref()).and_then(|c| c.2) == Some(len)
        }
        _ => false,
    }
}

/// A final file that is already there.
fn present(dest: &Path, len: u64, verify: bool, known: Option<&Known>) -> Done {
    let known = known.filter(|k| k.bytes == len);
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
    let ok = Sidecar::read(&dir.join(format!("{}.part.json", job.name)))
        .is_some_and(|m| m.url == job.url && (job.size.is_none() || m.size == job.size));
    if ok && job.size.is_none_or(|s| len <= s) {
        len
    } else {
        0
    }
}

/// The resume state beside a `.part`.
#[derive(Debug, Clone, PartialEq)]
struct Sidecar {
    url: String,
    size: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Sidecar {
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
        let meta = Sidecar::read(&side)
            .filter(|m| m.url == job.url && (job.size.is_none() || m.size == job.size));
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
            buf: vec![0u8; 256 * 1024],
            attempts: 0,
            last_status: None,
        };
        let too_long = job.size.is_some_and(|s| len > s);
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
            log.record(&cxg_core::reqlog::Request {
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
            if net.abort.load(Ordering::SeqCst) {
                return Done::failed("stopped: the host could not be reached", job.size, true);
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
                            net.abort.store(true, Ordering::SeqCst);
                            if let Ok(mut u) = net.unreachable.lock() {
                                u.get_or_insert_with(|| format!("GET {} failed: {msg}", job.url));
                            }
                        }
                        return Done::failed(
                            format!(
                                "{msg} (gave up after {} attempts; {} bytes kept in '{}' for the next run)",
                                idle, self.offset, self.part.display()
                            ),
                            job.size,
                            !self.got_bytes,
                        );
                    }
                    let backoff = net.backoff.mul_f64(2f64.powi(idle as i32 - 1) * jitter());
                    let wait = wait.unwrap_or(backoff.min(Duration::from_secs(30)));
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
        let mismatch = |served: u64, s: u64| Step::Fail {
            msg: format!("size mismatch: the server has {served} bytes, the input says {s}"),
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
                    size: job.size,
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
                            && job.size.is_none_or(|s| s == t) =>
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
            s if s == 429 || s >= 500 => Step::Retry {
                msg: format!("HTTP {s}"),
                wait: header(&resp, "retry-after")
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(120))),
                unreachable: false,
            },
            s => Step::Fail {
                msg: format!("HTTP {s}"),
                service: false,
            },
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
