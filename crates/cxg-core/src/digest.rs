//! SHA-256 of bytes, streams and files, and lowercase hex.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256_bytes(bytes))
}

/// SHA-256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A SHA-256 computed as bytes go by (for streamed downloads and files).
#[derive(Default, Clone)]
pub struct Hasher {
    h: Sha256,
    n: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.h.update(bytes);
        self.n += bytes.len() as u64;
    }
    /// (bytes seen, lowercase hex SHA-256)
    pub fn finish(self) -> (u64, String) {
        (self.n, hex(&self.h.finalize()))
    }
}

/// Size and SHA-256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// Lowercase hex of a digest (or any bytes).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Whether the file at `path` is unchanged since `written` (when a list
/// recorded its SHA-256): its inode change time, which every write, rename
/// or `touch -d` sets to now and which cannot be set back, is strictly
/// older. cxg-download trusts an earlier manifest's hash by this rule, and
/// cxg-subset the manifest's hash of its source.
pub fn unchanged_since(path: &Path, written: std::time::SystemTime) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(path) else {
        return false;
    };
    let ctime = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            u64::try_from(m.ctime()).unwrap_or(0),
            u32::try_from(m.ctime_nsec()).unwrap_or(0),
        );
    ctime < written
}

/// Whether `s` is a SHA-256 as this project writes it: 64 lowercase hex
/// digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_the_list_is_not_unchanged() {
        let p = std::env::temp_dir().join(format!("cxg-digest-unchanged-{}", std::process::id()));
        std::fs::write(&p, b"x").unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        assert!(unchanged_since(&p, later));
        assert!(!unchanged_since(&p, earlier));
        assert!(!unchanged_since(&p.with_extension("absent"), later));
        std::fs::remove_file(&p).unwrap();
        assert!(is_sha256_hex(&"0f".repeat(32)));
        for bad in [
            "0F".repeat(32),
            "0f".repeat(31),
            "zz".repeat(32),
            String::new(),
        ] {
            assert!(!is_sha256_hex(&bad), "{bad}");
        }
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), (3, sha256_hex(b"abc")));
    }
}
