//! A body streamed to the `.part`: written as it arrives, hashed beside
//! the transfer, counted for the progress bar; and the checks around it
//! (room on the disk, digests that cover the bytes already there).

use super::answer::Step;
use super::Transfer;
use crate::hash::Hashes;
use crate::job::Why;
use crate::net::Net;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

impl Transfer {
    /// When the size was not known before the run (the probe got no
    /// answer), the free-space check could not count this file: check now
    /// that the rest of it fits.
    pub(super) fn space_short(&self, net: &Net, total: u64) -> Option<Step> {
        if self.size_known_before {
            return None;
        }
        let dir = self.part.parent().unwrap_or(Path::new("."));
        let need = total.saturating_sub(self.offset);
        match net.free(dir) {
            Some(free) if need > free => Some(Step::fail(format!(
                "not enough space in '{}': the file has {total} bytes ({need} to fetch), {free} bytes are available",
                dir.display()
            ))),
            _ => None,
        }
    }

    /// Make the digests cover exactly the bytes on disk, hashing the part
    /// from disk when they do not (a part left by an earlier run).
    pub(super) fn hashes_at_offset(&mut self) -> Result<(), Step> {
        if self.hashes.as_ref().is_some_and(|h| h.pos == self.offset) {
            return Ok(());
        }
        let h = Hashes::from_file(&self.file, &self.part, self.offset, &self.form)
            .why(format_args!("cannot read '{}'", self.part.display()))?;
        self.hashes = Some(h);
        Ok(())
    }

    /// Stream a body to disk until byte `end` (exclusive).
    pub(super) fn stream(&mut self, net: &Net, body: ureq::Body, end: u64) -> Step {
        if let Err(e) = self.file.seek(SeekFrom::Start(self.offset)) {
            return Step::fail(format!("cannot seek in '{}': {e}", self.part.display()));
        }
        let mut r = body.into_reader();
        let Some(hashes) = self.hashes.as_mut() else {
            return Step::fail("internal: no digests");
        };
        loop {
            let n = match r.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Step::retry(format!("the transfer broke at byte {}: {e}", self.offset))
                }
            };
            if self.offset + n as u64 > end {
                return Step::fail(format!(
                    "size mismatch: the server sent more than the {end} bytes it announced"
                ));
            }
            if let Err(e) = self.file.write_all(&self.buf[..n]) {
                return Step::fail(format!("cannot write '{}': {e}", self.part.display()));
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
            return Step::retry(format!("the body ended at byte {} of {end}", self.offset));
        }
        if Some(self.offset) == self.total {
            Step::Complete
        } else {
            // a shorter range than asked for: ask for the rest
            Step::retry("partial range")
        }
    }
}
