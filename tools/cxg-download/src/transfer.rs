//! One file's transfer: streamed to `<name>.part`, resumed with Range from
//! the bytes already on disk (after a dropped connection or an earlier
//! run), checked against the expected size and the ETag, then renamed into
//! place. The `.part` and its sidecar `<name>.part.json` (url, size, ETag,
//! Last-Modified of the first response) are the resume state: they are
//! kept when a run is interrupted, and removed once the file is complete.
//!
//! This module holds the entry point, the transfer's state and its retry
//! loop; [`answer`] reads one response, [`stream`] writes a body to disk,
//! [`sidecar`] is the resume state.

mod answer;
mod sidecar;
mod stream;

pub use answer::{content_range, header};
pub use sidecar::resumable_bytes;

use crate::args::EtagCheck;
use crate::hash::{etag_form, sha256_file, EtagForm, Hashes};
use crate::job::{Done, Job, Status, Why};
use crate::net::{host_key, Net};
use crate::previous::Known;
use answer::Step;
use sidecar::Sidecar;
use std::fs::{File, OpenOptions};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Get one file into `dir`.
pub fn fetch(net: &Net, dir: &Path, job: &Job, verify: bool, known: Option<&Known>) -> Done {
    let dest = dir.join(&job.name);
    if let Some(why) = net.host_down(&job.url) {
        let host = host_key(&job.url);
        let msg = format!("not attempted: {host} could not be reached ({why})");
        return Done::failed(msg, job.size, true);
    }
    for p in [dest.clone(), dir.join(format!("{}.part", job.name))] {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            let msg = format!(
                "'{}' is a symbolic link: not followed, not replaced",
                p.display()
            );
            return Done::failed(msg, job.size, false);
        }
    }
    if let Ok(m) = std::fs::metadata(&dest) {
        if !m.is_file() {
            let msg = format!("'{}' exists and is not a file", dest.display());
            return Done::failed(msg, job.size, false);
        }
        let len = m.len();
        // an empty file is never a complete H5AD; an unknown size (the
        // probe got no answer) cannot say complete either
        if len > 0 && job.size == Some(len) {
            return present(&dest, len, verify, known);
        }
        net.diag.warn(format_args!(
            "'{}' has {len} bytes but {} are expected: downloading it again",
            dest.display(),
            job.size
                .map_or_else(|| "another size".to_string(), |s| s.to_string())
        ));
    }
    match Transfer::open(dir, job, net.etags_checked(&job.url)) {
        Ok(mut t) => t.run(net, job, &dest),
        Err(msg) => Done::failed(msg, job.size, false),
    }
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
                    let msg = format!(
                        "'{}' has SHA-256 {s}, the previous manifest says {}; left in place",
                        dest.display(),
                        k.sha256
                    );
                    return Done::failed(msg, Some(len), false);
                }
                Some(_) if verify => (s, "size+sha256"),
                _ => (s, "size"),
            },
            Err(e) => {
                let msg = format!("cannot read '{}': {e}", dest.display());
                return Done::failed(msg, Some(len), false);
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

/// The state of one file's transfer.
struct Transfer {
    part: PathBuf,
    side: PathBuf,
    file: File,
    offset: u64,
    meta: Option<Sidecar>,
    hashes: Option<Hashes>,
    form: EtagForm,
    /// The ETag is checked against the bytes (when its form is known).
    check_etag: bool,
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

/// A `.part` opened for writing, never through a symlink, and locked: a
/// regular file with one link only (a hard link planted at its name would
/// make the transfer write into a file outside the folder; a FIFO would
/// block), never opened blocking.
fn open_part(part: &Path) -> Result<File, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // never write through a symlink planted in the folder
        .custom_flags(flags.bits() as i32)
        .open(part)
        .why(format_args!("cannot open '{}'", part.display()))?;
    let m = file
        .metadata()
        .why(format_args!("cannot read '{}'", part.display()))?;
    if !m.file_type().is_file() {
        return Err(format!(
            "'{}' is not a regular file (a FIFO, a device?): not written; remove it to download again",
            part.display()
        ));
    }
    if m.nlink() != 1 {
        return Err(format!(
            "'{}' has {} links (a hard link to a file elsewhere?): not written; remove it to download again",
            part.display(),
            m.nlink()
        ));
    }
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Err(format!(
            "'{}' is being written by another process (another cxg-download?)",
            part.display()
        ));
    }
    Ok(file)
}

/// Device and inode of a file's metadata.
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

impl Transfer {
    /// The transfer of `job`, continuing the `.part` in `dir` when its
    /// sidecar vouches for it; the message says why it cannot start.
    fn open(dir: &Path, job: &Job, check_etag: bool) -> Result<Transfer, String> {
        let part = dir.join(format!("{}.part", job.name));
        let side = dir.join(format!("{}.part.json", job.name));
        let meta = Sidecar::read(&side)?.filter(|m| m.fits(job));
        let file = open_part(&part)?;
        let len = file
            .metadata()
            .why(format_args!("cannot read '{}'", part.display()))?
            .len();
        let mut t = Transfer {
            part,
            side,
            file,
            offset: len,
            meta,
            hashes: None,
            form: EtagForm::Unknown,
            check_etag,
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
            t.reset()?;
        }
        t.kept_prefix = t.offset > 0;
        Ok(t)
    }

    /// What the ETag lets this transfer check.
    fn etag_form(&self, etag: Option<&str>, total: u64) -> EtagForm {
        if self.check_etag {
            etag_form(etag, total)
        } else {
            EtagForm::Unknown
        }
    }

    fn reset(&mut self) -> Result<(), String> {
        self.file
            .set_len(0)
            .why(format_args!("cannot truncate '{}'", self.part.display()))?;
        self.offset = 0;
        self.meta = None;
        self.hashes = None;
        self.total = None;
        self.kept_prefix = false;
        let _ = std::fs::remove_file(&self.side);
        Ok(())
    }

    /// Transfer the file, log the transfer (--log-requests), and leave no
    /// empty `.part` behind when it failed.
    fn run(&mut self, net: &Net, job: &Job, dest: &Path) -> Done {
        let (started, clock) = (std::time::SystemTime::now(), std::time::Instant::now());
        let d = self.transfer_checked(net, job, dest);
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
            self.remove_part();
        }
        d
    }

    /// Transfer and check the file; once more when its bytes do not match
    /// a plain-MD5 ETag and the policy is `auto` (see [`Transfer::finish`]).
    fn transfer_checked(&mut self, net: &Net, job: &Job, dest: &Path) -> Done {
        let mut first: Option<String> = None;
        loop {
            if let ControlFlow::Break(d) = self.transfer(net, job) {
                return d;
            }
            match self.finish(net, job, dest, first.as_deref()) {
                Ok(d) => return d,
                Err(sha) => {
                    if let Err(e) = self.reset() {
                        return Done::failed(e, job.size, false);
                    }
                    first = Some(sha);
                }
            }
        }
    }

    /// Request until every byte is on disk (Continue) or the file fails
    /// (Break). Attempts that bring bytes are not counted as retries: the
    /// next one continues from the bytes on disk.
    fn transfer(&mut self, net: &Net, job: &Job) -> ControlFlow<Done> {
        let (mut idle, mut restarts) = (0u32, 0u32);
        loop {
            if let Some(why) = net.host_down(&job.url) {
                let host = host_key(&job.url);
                let msg = format!("stopped: {host} could not be reached ({why})");
                return ControlFlow::Break(Done::failed(msg, job.size, true));
            }
            if self.total.is_some_and(|t| t == self.offset) && self.hashes.is_some() {
                return ControlFlow::Continue(());
            }
            let before = self.offset;
            match self.attempt(net, job) {
                Step::Complete => return ControlFlow::Continue(()),
                Step::Fail { msg, service } => {
                    return ControlFlow::Break(Done::failed(msg, job.size, service))
                }
                Step::Restart(msg) => {
                    restarts += 1;
                    self.restart(net, job, &msg, restarts)?;
                }
                Step::Retry { msg, .. } if self.offset > before => {
                    idle = 0;
                    net.diag.warn(format_args!(
                        "{}: {msg}; resuming from byte {}",
                        job.url, self.offset
                    ));
                }
                Step::Retry {
                    msg,
                    wait,
                    unreachable,
                } => {
                    idle += 1;
                    self.wait_to_retry(net, job, msg, wait, unreachable, idle)?;
                }
            }
        }
    }

    /// Start over from byte 0, at most 3 times.
    fn restart(&mut self, net: &Net, job: &Job, msg: &str, restarts: u32) -> ControlFlow<Done> {
        if restarts > 3 {
            let msg = format!("{msg} (3 restarts already)");
            return ControlFlow::Break(Done::failed(msg, job.size, false));
        }
        net.diag.warn(format_args!("{}: {msg}", job.url));
        match self.reset() {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(Done::failed(e, job.size, false)),
        }
    }

    /// Wait before retry number `idle` as the policy says, or give up once
    /// the retries are spent (an unreachable host is marked down: its other
    /// files fail at once, files of other hosts go on).
    fn wait_to_retry(
        &self,
        net: &Net,
        job: &Job,
        msg: String,
        wait: Option<Duration>,
        unreachable: bool,
        idle: u32,
    ) -> ControlFlow<Done> {
        if let Some(wait) = net.retry.wait(idle, wait) {
            let notice = net.retry.notice(idle, wait);
            net.diag.warn(format_args!("{}: {msg}; {notice}", job.url));
            std::thread::sleep(wait);
            return ControlFlow::Continue(());
        }
        if unreachable {
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
        let msg = format!("{msg} (gave up after {idle} attempts; {kept})");
        ControlFlow::Break(Done::failed(msg, job.size, !self.got_bytes))
    }

    /// Check the complete `.part` and rename it into place; `Err(sha)`:
    /// transfer it once more (its bytes, of SHA-256 `sha`, do not match a
    /// plain-MD5 ETag; `first` is the SHA-256 of the transfer before).
    fn finish(
        &mut self,
        net: &Net,
        job: &Job,
        dest: &Path,
        first: Option<&str>,
    ) -> Result<Done, String> {
        let fail = |msg: String| Ok(Done::failed(msg, job.size, false));
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
        if let Err(msg) = crate::signature::check(&self.file, total) {
            self.remove_part();
            return fail(format!("{msg}; nothing kept"));
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
        let verified_by = match etag_ok {
            Some(true) => "size+etag",
            Some(false) => match self.etag_mismatch(net, job, &etag, &sha, first) {
                Ok(v) => v,
                Err(again) => return again,
            },
            None => "size",
        };
        if let Err(e) = self.rename_into_place(dest) {
            return fail(e);
        }
        Ok(Done {
            status: if self.kept_prefix {
                Status::Resumed
            } else {
                Status::Downloaded
            },
            bytes: Some(total),
            sha256: sha,
            verified_by: verified_by.into(),
            etag,
            reason: String::new(),
            service: false,
        })
    }

    /// The bytes (SHA-256 `sha`) do not match the ETag: what `verified_by`
    /// says when the file is kept, or else what finish() returns (transfer
    /// once more, or the file fails).
    fn etag_mismatch(
        &self,
        net: &Net,
        job: &Job,
        etag: &str,
        sha: &str,
        first: Option<&str>,
    ) -> Result<&'static str, Result<Done, String>> {
        let plain = matches!(self.form, EtagForm::Md5(_));
        let auto = net.etag_check == EtagCheck::Auto;
        match first {
            None if plain && auto => {
                net.diag.warn(format_args!(
                    "{}: the bytes do not match the server's ETag {etag}: transferring the file once more, to tell damage in transit from an ETag that is not an MD5",
                    job.url
                ));
                return Err(Err(sha.to_string()));
            }
            Some(f) if f == sha => {
                if net.etags_not_md5(&job.url) {
                    net.diag.warn(format_args!(
                        "{}: two transfers gave the same bytes (SHA-256 {sha}), which do not match the ETag {etag}: the ETags of {} are not MD5s of the content (S3 SSE-KMS?); they are not checked for the rest of this run (--etag-check strict fails such files)",
                        job.url,
                        host_key(&job.url)
                    ));
                }
                return Ok("size+repeat");
            }
            _ => {}
        }
        self.remove_part();
        let msg = match first {
            Some(f) => format!(
                "the bytes do not match the server's ETag {etag}, and two transfers differ (SHA-256 {f}, then {sha}): damaged in transit; the partial file was removed"
            ),
            None => format!(
                "the bytes do not match the server's ETag {etag} (damaged in transit?); the partial file was removed"
            ),
        };
        Err(Ok(Done::failed(msg, job.size, false)))
    }

    /// The file at the `.part`'s name is still the one this transfer
    /// opened and wrote (not one swapped in during the transfer).
    fn part_is_ours(&self) -> bool {
        self.is_ours(&self.part)
    }

    /// The file at `p` (not followed) is the one this transfer opened.
    fn is_ours(&self, p: &Path) -> bool {
        match (self.file.metadata(), std::fs::symlink_metadata(p)) {
            (Ok(a), Ok(b)) => identity(&a) == identity(&b),
            _ => false,
        }
    }

    /// Remove the `.part` (only when it is still this transfer's file) and
    /// its sidecar.
    fn remove_part(&self) {
        if self.part_is_ours() {
            let _ = std::fs::remove_file(&self.part);
        }
        let _ = std::fs::remove_file(&self.side);
    }

    /// Rename the `.part` to `dest` (only the file this transfer wrote:
    /// checked before and after), remove the sidecar, and make the rename
    /// durable.
    fn rename_into_place(&self, dest: &Path) -> Result<(), String> {
        let swapped = |p: &Path| {
            format!(
                "'{}' was replaced by another file during the transfer: not renamed to '{}'",
                p.display(),
                dest.display()
            )
        };
        if !self.part_is_ours() {
            // nor is the next run to continue the file swapped in
            let _ = std::fs::remove_file(&self.side);
            return Err(swapped(&self.part));
        }
        std::fs::rename(&self.part, dest).why(format_args!(
            "cannot rename '{}' to '{}'",
            self.part.display(),
            dest.display()
        ))?;
        if !self.is_ours(dest) {
            // swapped between the check and the rename: what was renamed
            // is not the file checked
            let _ = std::fs::remove_file(dest);
            let _ = std::fs::remove_file(&self.side);
            return Err(swapped(&self.part));
        }
        let _ = std::fs::remove_file(&self.side);
        if let Some(d) = dest.parent() {
            let d = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            let _ = File::open(d).and_then(|f| f.sync_all());
        }
        Ok(())
    }
}
