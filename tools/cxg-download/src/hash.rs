//! The digests kept while a file streams to disk: SHA-256 always, and the
//! MD5 that the server's ETag can be checked against when it has a form we
//! know (a plain MD5, or an S3 multipart ETag of 8 MiB parts).

use md5::{Digest, Md5};
use sha2::Sha256;
use std::io::Read;
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Running digests of the bytes [0, pos) of a file.
pub struct Hashes {
    pub pos: u64,
    sha: Sha256,
    md5: Option<Md5>,
    /// The current part's MD5, the finished parts' digests, bytes in the part.
    parts: Option<(Md5, Vec<u8>, u64)>,
}

impl Hashes {
    /// Fresh digests; `form` says which MD5s to keep besides SHA-256.
    pub fn new(form: &EtagForm) -> Self {
        Hashes {
            pos: 0,
            sha: Sha256::new(),
            md5: matches!(form, EtagForm::Md5(_)).then(Md5::new),
            parts: matches!(form, EtagForm::Multipart(..)).then(|| (Md5::new(), Vec::new(), 0)),
        }
    }

    pub fn update(&mut self, mut b: &[u8]) {
        self.pos += b.len() as u64;
        self.sha.update(b);
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

    /// Digests of the first `len` bytes of the file at `path` (a `.part`
    /// left by an earlier run, hashed from disk).
    pub fn from_disk(path: &Path, len: u64, form: &EtagForm) -> std::io::Result<Hashes> {
        let mut h = Hashes::new(form);
        let mut f = std::fs::File::open(path)?.take(len);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
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
    pub fn finish(self, form: &EtagForm) -> (String, Option<bool>) {
        let sha = hex(&self.sha.finalize());
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

/// SHA-256 of a whole file, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let len = std::fs::metadata(path)?.len();
    Ok(Hashes::from_disk(path, len, &EtagForm::Unknown)?
        .finish(&EtagForm::Unknown)
        .0)
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
            let (sha, ok) = h.finish(form);
            assert_eq!(sha, hex(&Sha256::digest(&data)));
            assert_eq!(ok, Some(true));
        }
        let mut h = Hashes::new(&plain);
        h.update(&data[1..]);
        assert_eq!(h.finish(&plain).1, Some(false));
    }
}
