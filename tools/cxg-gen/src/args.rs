//! The command line: the folder, the seed and sizes, the awkward cases to
//! include, and the asset files; checked before anything is generated.

use clap::Parser;
use cxg_core::{Error, Result};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # the committed sample (about 20 collections, 100 datasets)
  cxg-gen --seed 1 --collections 20 --datasets 100 --unindexed 2 tests/fixtures/snapshot

  # the size of CELLxGENE Discover today, then serve it
  cxg-gen --seed 7 --collections 400 --datasets 2500 /tmp/today
  cxg-serve --port 0 /tmp/today

  # a snapshot where 3 datasets were removed after the list was published
  cxg-gen --seed 2 --collections 30 --datasets 200 --gone 3 /tmp/gone

  # with H5AD files (whose obs is each dataset's record) for cxg-serve --local-assets
  cxg-gen --seed 3 --datasets 20 --assets /tmp/files

  # one 1 GiB file, and one sparse file over 4 GiB
  cxg-gen --collections 1 --datasets 1 --assets --asset-bytes 1073741824 /tmp/big
  cxg-gen --collections 1 --datasets 1 --assets --sparse-assets --asset-bytes 5000000000 /tmp/huge";

/// The largest snapshot made: 80 times the 10x benchmark catalogue, a few
/// GB of JSON, written as a stream (memory stays flat in the size).
const MAX_COLLECTIONS: usize = 200_000;
const MAX_DATASETS: usize = 2_000_000;

/// The largest asset file written with real contents (--asset-bytes).
const MAX_ASSET_BYTES: u64 = 4 << 30;
/// The largest sparse asset file (--sparse-assets): no disk blocks, but
/// every reader of it would still see that many bytes.
const MAX_SPARSE_ASSET_BYTES: u64 = 64 << 30;

/// Generate a consistent snapshot folder of the curation API from a seed.
#[derive(Parser, Debug, Clone)]
#[command(name = "cxg-gen", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Folder to create (must not exist, unless --force)
    pub(crate) out_dir: PathBuf,
    /// Seed: the same seed and sizes give byte-identical files
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Number of collections (1 to 200,000)
    #[arg(long, default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_COLLECTIONS as u64))]
    pub(crate) collections: usize,
    /// Number of datasets, spread over the collections (0 to 2,000,000)
    #[arg(long, default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_DATASETS as u64))]
    pub(crate) datasets: usize,
    /// Datasets left out of datasets.json (a stale index; per-dataset GET works)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) unindexed: usize,
    /// Datasets still listed in collections but removed: per-dataset GET answers 410
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) gone: usize,
    /// Replace OUT_DIR if it already holds a snapshot
    #[arg(long)]
    pub(crate) force: bool,
    /// Write only collections.json (fast; for benchmarks of the CPU stages)
    #[arg(long)]
    pub(crate) list_only: bool,
    /// Also write the H5AD files under OUT_DIR/assets/ (with their ETags): real
    /// H5ADs whose obs holds each dataset's cells, terms and donors, of the
    /// size the snapshot's filesize says (from --asset-bytes, or the file's own
    /// when larger)
    #[arg(long, conflicts_with = "list_only")]
    pub(crate) assets: bool,
    /// Size of each H5AD file with --assets: N or MIN-MAX bytes, a file
    /// smaller than that padded after its HDF5 end of file (at most
    /// 4 GiB, or 64 GiB with --sparse-assets; the files must fit in the
    /// free space of OUT_DIR's filesystem)
    #[arg(long, default_value = "1000-64000", value_name = "N|MIN-MAX", value_parser = parse_bytes_range, requires = "assets")]
    pub(crate) asset_bytes: (u64, u64),
    /// With --assets: all-zero sparse files (instant at any size), ETags of an uncheckable form
    #[arg(long, requires = "assets")]
    pub(crate) sparse_assets: bool,
    /// Free bytes to assume on OUT_DIR's filesystem (tests)
    #[arg(long, hide = true, env = "CXG_GEN_FREE_BYTES")]
    pub(crate) assume_free_bytes: Option<u64>,
    /// Bytes of index entries sorted in memory before a run is spilled to
    /// disk (tests: a small budget makes many runs)
    #[arg(long, hide = true, default_value_t = 16 << 20, value_name = "BYTES")]
    pub(crate) sort_bytes: usize,
}

/// cxg-gen writes a folder, and its summary on stderr: nothing on stdout,
/// so no `-o`, and a closed stdout is no error.
impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&Path> {
        None
    }

    fn writes_stdout(&self) -> bool {
        false
    }
}

/// Parse `N` or `MIN-MAX` (bytes).
fn parse_bytes_range(s: &str) -> std::result::Result<(u64, u64), String> {
    let num = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|e| format!("'{t}' is not a number of bytes ({e})"))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(s)?;
            (n, n)
        }
    };
    if a > b {
        return Err(format!("{a} is more than {b}"));
    }
    Ok((a, b))
}

impl Args {
    /// Refuse what no snapshot can hold: more datasets removed or left out
    /// of the index than there are, asset files beyond the size limit.
    pub(crate) fn check(&self) -> Result<()> {
        if self.unindexed.saturating_add(self.gone) > self.datasets {
            return Err(Error::input(format!(
                "--unindexed {} and --gone {} together exceed --datasets {}",
                self.unindexed, self.gone, self.datasets
            )));
        }
        if !self.assets {
            return Ok(());
        }
        let (limit, what) = if self.sparse_assets {
            (MAX_SPARSE_ASSET_BYTES, "64 GiB with --sparse-assets")
        } else {
            (
                MAX_ASSET_BYTES,
                "4 GiB (larger files only as --sparse-assets, up to 64 GiB)",
            )
        };
        if self.asset_bytes.1 > limit {
            return Err(Error::input(format!(
                "--asset-bytes {} is more than the limit of {what}",
                self.asset_bytes.1
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_bytes_range("10").unwrap(), (10, 10));
        assert_eq!(parse_bytes_range("1-20").unwrap(), (1, 20));
        assert!(parse_bytes_range("20-1").is_err());
        assert!(parse_bytes_range("x").is_err());
    }
}
