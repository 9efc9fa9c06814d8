//! An H5AD file is an HDF5 file: its superblock, which starts with the
//! HDF5 signature, is at byte 0, 512, 1024, 2048, ... (after a user block
//! of a power of two). A body without it (an HTML error page answered with
//! 200) is not kept under the final name.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The HDF5 format signature.
pub const HDF5: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Where the signature may be in a file of `len` bytes.
fn offsets(len: u64) -> impl Iterator<Item = u64> {
    std::iter::successors(Some(0u64), |&o| {
        if o == 0 {
            Some(512)
        } else {
            o.checked_mul(2)
        }
    })
    .take_while(move |&o| o.checked_add(8).is_some_and(|e| e <= len))
}

/// Ok when the first `len` bytes of `f` hold the HDF5 signature where a
/// superblock may start; else why not, with the file's first bytes.
pub fn check(f: &File, len: u64) -> Result<(), String> {
    let mut sig = [0u8; 8];
    for o in offsets(len) {
        if f.read_exact_at(&mut sig, o).is_ok() && &sig == HDF5 {
            return Ok(());
        }
    }
    let mut head = vec![0u8; usize::try_from(len.min(32)).unwrap_or(32)];
    let head = match f.read_exact_at(&mut head, 0) {
        Ok(()) => head.escape_ascii().to_string(),
        Err(e) => format!("(unreadable: {e})"),
    };
    Err(format!(
        "not an H5AD file: no HDF5 signature at byte 0, 512, 1024, ... of its {len} bytes; it starts with \"{head}\" (an error page?)"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(bytes: &[u8]) -> (File, u64) {
        let p = std::env::temp_dir().join(format!("cxg-sig-{}", std::process::id()));
        let mut f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        f.write_all(bytes).unwrap();
        let _ = std::fs::remove_file(&p);
        (f, bytes.len() as u64)
    }

    #[test]
    fn signatures_where_a_superblock_may_be() {
        assert_eq!(offsets(4096).collect::<Vec<_>>(), [0, 512, 1024, 2048]);
        assert_eq!(offsets(7).count(), 0);
        let mut at_1024 = vec![0u8; 2000];
        at_1024[1024..1032].copy_from_slice(HDF5);
        let mut at_100 = vec![0u8; 2000];
        at_100[100..108].copy_from_slice(HDF5);
        let cases: [(&[u8], bool); 5] = [
            (b"\x89HDF\r\n\x1a\n and more", true),
            (&at_1024, true),
            (&at_100, false),
            (b"<html>502 Bad Gateway</html>", false),
            (b"", false),
        ];
        for (bytes, ok) in cases {
            let (f, len) = file(bytes);
            assert_eq!(
                check(&f, len).is_ok(),
                ok,
                "{:?}",
                &bytes[..bytes.len().min(20)]
            );
        }
        let (f, len) = file(b"<html>\n502 Bad Gateway\x00</html>");
        assert_eq!(
            check(&f, len).unwrap_err(),
            "not an H5AD file: no HDF5 signature at byte 0, 512, 1024, ... of its 30 bytes; it starts with \"<html>\\n502 Bad Gateway\\x00</html>\" (an error page?)"
        );
    }
}
