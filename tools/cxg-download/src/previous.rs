//! `--previous`: the hashes an earlier run's manifest recorded, reused for
//! files that have not changed since (or compared against with --verify).

use crate::input::csv_header;
use cxg_core::io::Input;
use cxg_core::{At, Error, Result};
use std::collections::HashMap;
use std::path::Path;

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
    pub fn unchanged(&self, p: &Path) -> bool {
        self.written
            .is_some_and(|w| cxg_core::digest::unchanged_since(p, w))
    }
}

/// Rows of a previous manifest: path -> (bytes, sha256).
pub fn read_previous(p: &Path) -> Result<HashMap<String, Known>> {
    // a FIFO (or a device) would block the run, and has no time of writing
    if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
        return Err(Error::input(format!(
            "--previous '{}' is not a regular file (a FIFO, a device?): give the manifest file of an earlier run",
            p.display()
        )));
    }
    let input = Input::open(Some(p))?;
    // a file whose inode changed after this is hashed again (see Known)
    let written = std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input.reader);
    let header = csv_header(&input.name, &mut rdr)?;
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(pi), Some(bi), Some(hi)) = (col("path"), col("bytes"), col("sha256")) else {
        return Err(Error::input(format!(
            "{}: not a cxg-download manifest (needs path, bytes and sha256 columns)",
            input.name
        )));
    };
    let mut map = HashMap::new();
    for (k, rec) in rdr.records().enumerate() {
        let rec = rec.at(format_args!("{}: CSV record {}", input.name, k + 1))?;
        let (Some(path), Some(bytes), Some(sha)) = (rec.get(pi), rec.get(bi), rec.get(hi)) else {
            continue;
        };
        if let (Ok(bytes), false) = (bytes.parse::<u64>(), sha.is_empty()) {
            let sha256 = sha.to_string();
            map.insert(
                path.to_string(),
                Known {
                    bytes,
                    sha256,
                    written,
                },
            );
        }
    }
    Ok(map)
}
