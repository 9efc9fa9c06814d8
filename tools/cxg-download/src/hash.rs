//! The digests kept while a file streams to disk: SHA-256 always, and the
//! MD5 that the server's ETag can be checked against when it has a form we
//! know (a plain MD5, or an S3 multipart ETag of 8 MiB parts).

use cxg_core::digest::hex;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::path::Path;

/// S3's (boto3's) multipart part size, as the portal uploads files.
pub const PART: u64 = 8 * 1024 * 1024;

/// What an ETag lets us check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagForm {
    /// A plain MD5 of the whole file (32 hex digits).
    Md5(String),
    /// `md5(md5(part1)‖…)-N` with N parts of 8 MiB.
    Multipart(String, u64),
    /// Weak, missing or of another form: the size is all we check.
    Unknown,
}

/// Classify an ETag header for a file of `size` bytes.
pub fn etag_form(etag: Option<&str>, size: u64) -> EtagForm {
    let Some(e) = etag else {
        return EtagForm::Unknown;
    };
    if e.starts_with("W/") {
        return EtagForm::Unknown;
    }
    let e = e.trim().trim_matches('"').to_ascii_lowercase();
    let hex32 = |s: &str| s.len() == 32 && s.bytes().all(|c| c.is_ascii_hexdigit());
    if hex32(&e) {
        return EtagForm::Md5(e);
    }
    if let Some((h, n)) = e.split_once('-') {
        if let Ok(n) = n.parse::<u64>() {
            if hex32(h) && n >= 1 && n == size.div_ceil(PART) {
                return EtagForm::Multipart(h.to_string(), n);
            }
        }
    }
    EtagForm::Unknown
}

/// Digests computed on one thread: SHA-256 and/or the MD5s the ETag form needs.
struct Digests {
    sha: Option<Sha256>,
    md5: Option<Md5>,
    /// The current part's MD5, the finished parts' digests, bytes in the part.
    parts: Option<(Md5, Vec<u8>, u64)>,
}

impl Digests {
    fn new(sha: bool, form: &EtagForm) -> Self {
        Digests {
            sha: sha.then(Sha256::new),
            md5: matches!(form, EtagForm::Md5(_)).then(Md5::new),
            parts: matches!(form, EtagForm::Multipart(..)).then(|| (Md5::new(), Vec::new(), 0)),
        }
    }

    fn update(&mut self, mut b: &[u8]) {
        if let Some(s) = &mut self.sha {
            s.update(b);
        }
        if let Some(m) = &mut self.md5 {
            m.update(b);
        }
        if let Some((cur, done, n)) = &mut self.parts {
            while !b.is_empty() {
                let k = b.len().min((PART - *n) as usize);
                cur.update(&b[..k]);
                *n += k as u64;
                if *n == PART {
                    done.extend_from_slice(&cur.finalize_reset());
                    *n = 0;
                }
                b = &b[k..];
            }
        }
    }

    /// (SHA-256 hex or empty, whether the ETag matched or None: not checked)
    fn finish(self, form: &EtagForm) -> (String, Option<bool>) {
        let sha = self.sha.map(|s| hex(&s.finalize())).unwrap_or_default();
        let etag_ok = match form {
            EtagForm::Md5(want) => self.md5.map(|m| hex(&m.finalize()) == *want),
            EtagForm::Multipart(want, n) => self.parts.map(|(cur, mut done, k)| {
                if k > 0 {
                    done.extend_from_slice(&cur.finalize());
                }
                done.len() as u64 == n * 16 && hex(&Md5::digest(&done)) == *want
            }),
            EtagForm::Unknown => None,
        };
        (sha, etag_ok)
    }
}

type Chunk = std::sync::Arc<[u8]>;

/// One digest thread: it is fed chunks and gives its digests back at the end.
struct Worker {
    tx: std::sync::mpsc::SyncSender<Chunk>,
    handle: std::thread::JoinHandle<(String, Option<bool>)>,
}

impl Worker {
    fn spawn(mut d: Digests, form: EtagForm) -> Worker {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(16);
        let handle = std::thread::spawn(move || {
            for c in rx {
                d.update(&c);
            }
            d.finish(&form)
        });
        Worker { tx, handle }
    }
}

/// Running digests of the bytes [0, pos) of a file: SHA-256 on one thread
/// and the ETag's MD5 (when its form is known) on another, so that hashing
/// runs beside the transfer instead of after it.
pub struct Hashes {
    pub pos: u64,
    sha: Option<Worker>,
    md5: Option<Worker>,
}

impl Hashes {
    /// Fresh digests; `form` says which MD5s to keep besides SHA-256.
    pub fn new(form: &EtagForm) -> Self {
        let md5 = (*form != EtagForm::Unknown)
            .then(|| Worker::spawn(Digests::new(false, form), form.clone()));
        Hashes {
            pos: 0,
            sha: Some(Worker::spawn(
                Digests::new(true, &EtagForm::Unknown),
                EtagForm::Unknown,
            )),
            md5,
        }
    }

    pub fn update(&mut self, b: &[u8]) {
        self.pos += b.len() as u64;
        let c: Chunk = std::sync::Arc::from(b);
        for w in [&self.sha, &self.md5].into_iter().flatten() {
            // a worker only stops when its sender is dropped
            let _ = w.tx.send(c.clone());
        }
    }

    /// Digests of the first `len` bytes of the file at `path`.
    pub fn from_disk(path: &Path, len: u64, form: &EtagForm) -> std::io::Result<Hashes> {
        let f = std::fs::File::open(path)?;
        Hashes::from_file(&f, path, len, form)
    }

    /// Digests of the first `len` bytes of an open file (a `.part` left by
    /// an earlier run, read through the handle that is written, so that
    /// the bytes hashed are the bytes renamed into place).
    pub fn from_file(
        f: &std::fs::File,
        path: &Path,
        len: u64,
        form: &EtagForm,
    ) -> std::io::Result<Hashes> {
        use std::os::unix::fs::FileExt;
        let mut h = Hashes::new(form);
        let mut buf = vec![0u8; 256 * 1024];
        while h.pos < len {
            let want = buf
                .len()
                .min(usize::try_from(len - h.pos).unwrap_or(usize::MAX));
            let n = f.read_at(&mut buf[..want], h.pos)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        if h.pos != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("'{}' is shorter than {len} bytes", path.display()),
            ));
        }
        Ok(h)
    }

    /// The SHA-256 in hex, and whether the ETag matched (None: not checked).
    pub fn finish(mut self) -> (String, Option<bool>) {
        let join = |w: Option<Worker>| {
            w.map(|w| {
                drop(w.tx);
                w.handle.join().unwrap_or_default()
            })
        };
        let sha = join(self.sha.take()).map(|r| r.0).unwrap_or_default();
        let etag_ok = join(self.md5.take()).and_then(|r| r.1);
        (sha, etag_ok)
    }
}

/// SHA-256 of a whole file, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let len = std::fs::metadata(path)?.len();
    Ok(Hashes::from_disk(path, len, &EtagForm::Unknown)?.finish().0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let m = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            etag_form(Some(&format!("\"{m}\"")), 5),
            EtagForm::Md5(m.to_ascii_lowercase())
        );
        assert_eq!(
            etag_form(Some(&format!("\"{m}-2\"")), PART + 1),
            EtagForm::Multipart(m.to_ascii_lowercase(), 2)
        );
        // a part count that does not fit 8 MiB parts: other part size, unknown
        assert_eq!(
            etag_form(Some(&format!("\"{m}-3\"")), PART + 1),
            EtagForm::Unknown
        );
        assert_eq!(etag_form(Some(&format!("W/\"{m}\"")), 5), EtagForm::Unknown);
        assert_eq!(etag_form(Some("\"sparse-10\""), 16), EtagForm::Unknown);
        assert_eq!(etag_form(None, 5), EtagForm::Unknown);
    }

    #[test]
    fn digests_match_in_any_chunking() {
        let data: Vec<u8> = (0..(PART as usize * 2 + 77))
            .map(|i| (i % 251) as u8)
            .collect();
        let md5 = hex(&Md5::digest(&data));
        let mut cat = Vec::new();
        for p in data.chunks(PART as usize) {
            cat.extend_from_slice(&Md5::digest(p));
        }
        let multi = EtagForm::Multipart(hex(&Md5::digest(&cat)), 3);
        let plain = EtagForm::Md5(md5);
        for form in [&multi, &plain] {
            let mut h = Hashes::new(form);
            for c in data.chunks(1_000_003) {
                h.update(c);
            }
            let (sha, ok) = h.finish();
            assert_eq!(sha, hex(&Sha256::digest(&data)));
            assert_eq!(ok, Some(true));
        }
        let mut h = Hashes::new(&plain);
        h.update(&data[1..]);
        assert_eq!(h.finish().1, Some(false));
    }
}
