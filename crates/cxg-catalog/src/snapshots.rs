//! Harvest snapshots: `SNAPSHOTS/<UTC timestamp>/` folders holding the raw
//! responses (`collections.json`, `datasets_index.json`) and
//! `provenance.json`. Shared by `cxg-snapshot` (save, list) and `cxg-diff`
//! (compare the two newest).

use cxg_core::error::{Error, Result};
use std::path::{Path, PathBuf};

/// True for a snapshot folder name: `YYYYMMDDTHHMMSSZ`, optionally with a
/// `-N` suffix when two harvests ended in the same second.
pub(crate) fn is_snapshot_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && (b.len() == 16
            || (b[16] == b'-' && b.len() > 17 && b[17..].iter().all(u8::is_ascii_digit)))
}

/// Sort key: timestamp, then the numeric suffix (`-2` before `-10`).
fn key(name: &str) -> (String, u64) {
    match name.split_once('-') {
        Some((t, n)) => (t.to_string(), n.parse().unwrap_or(0)),
        None => (name.to_string(), 0),
    }
}

/// The snapshot folders in `dir`, oldest first; an absent `dir` has none.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::input(format!(
                "cannot read the snapshots folder '{}': {e}",
                dir.display()
            )))
        }
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| is_snapshot_name(n))
        .collect();
    names.sort_by_key(|n| key(n));
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// The datasets index of a snapshot or data folder: `datasets_index.json`
/// as a harvest saves it, or `datasets.json` as `cxg-serve` serves it.
pub fn datasets_file(dir: &Path) -> Option<PathBuf> {
    ["datasets_index.json", "datasets.json"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_snapshot_name("20261129T080102Z"));
        assert!(is_snapshot_name("20261129T080102Z-2"));
        assert!(!is_snapshot_name("20261129T080102Z-"));
        assert!(!is_snapshot_name("latest"));
        assert!(!is_snapshot_name(".objects"));
        assert!(!is_snapshot_name("20261129T0801Z"));
        let mut v = [
            "20261129T080102Z-10",
            "20261129T080102Z-2",
            "20261129T080102Z",
        ];
        v.sort_by_key(|n| key(n));
        assert_eq!(
            v,
            [
                "20261129T080102Z",
                "20261129T080102Z-2",
                "20261129T080102Z-10"
            ]
        );
    }
}
