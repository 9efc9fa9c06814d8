//! Opening an H5AD file for its cell table with the pure-Rust
//! `hdf5-reader`: only a regular file, every read bounded by what the file
//! could decompress to, a truncated download named; `obs` as a group
//! (anndata 0.7 and later) or one compound table (anndata < 0.7).

use crate::obs::Obs;
use crate::read::{At, R};
use hdf5_reader::error::Error as H5Error;
use hdf5_reader::group::Group;
use hdf5_reader::{Hdf5File, OpenOptions};
use std::path::Path;

/// The most a compressed byte can expand to (deflate's limit is ~1,032).
const MAX_EXPANSION: usize = 1100;

/// An H5AD file opened for reading its cell table.
pub struct H5ad {
    /// Kept open: its groups read from it.
    pub file: Hdf5File,
    pub root: Group,
    /// The `obs` group; none when obs is anndata < 0.7's compound table.
    pub obs_group: Option<Group>,
    /// The file's length.
    pub len: u64,
    /// The most bytes one read may decode.
    pub budget: usize,
}

impl H5ad {
    /// Open `path`: a regular HDF5 file, not truncated, with an `obs`.
    pub fn open(path: &Path) -> R<H5ad> {
        let (file, len, budget) = open_hdf5(path)?;
        let root = file
            .root_group()
            .at("not a readable HDF5 file (truncated?)")?;
        let obs_group = open_obs(&root)?;
        Ok(H5ad {
            file,
            root,
            obs_group,
            len,
            budget,
        })
    }

    /// A string of `uns` (a scalar, or an array of one); none when absent
    /// or not a string.
    pub fn uns_string(&self, key: &str) -> Option<String> {
        let d = self.root.group("uns").ok()?.dataset(key).ok()?;
        match d.shape() {
            [1] => d.read_strings().ok()?.into_iter().next(),
            _ => d.read_string().ok(),
        }
    }

    /// The cell table, its columns read on demand.
    pub fn obs(&self) -> R<Obs<'_>> {
        match &self.obs_group {
            Some(g) => Obs::new(g, self.budget, self.len),
            None => Obs::from_table(&self.root, self.budget, self.len),
        }
    }
}

/// The filter an error says the reader lacks, through its context.
fn unsupported_filter(e: &H5Error) -> Option<&str> {
    match e {
        H5Error::UnsupportedFilter(what) => Some(what),
        H5Error::Context { source, .. } => unsupported_filter(source),
        _ => None,
    }
}

/// The reader's error at `place`; a compression filter it cannot decode
/// is named, with the filters it can.
pub fn h5_error(place: &str, e: &H5Error) -> String {
    let Some(what) = unsupported_filter(e) else {
        return format!("{place}: {e}");
    };
    let id = what.trim_start_matches("filter id ").trim();
    let known = match id {
        "32001" => " (Blosc)",
        "32004" => " (LZ4)",
        "32015" => " (Zstandard)",
        "307" => " (bzip2)",
        _ => "",
    };
    format!("{place}: unsupported compression filter {id}{known}; only gzip, LZF, shuffle, fletcher32, nbit, scaleoffset and szip can be read")
}

/// The `obs` group; none when obs is a dataset (anndata < 0.7's compound
/// table).
fn open_obs(root: &Group) -> R<Option<Group>> {
    match root.group("obs") {
        Ok(g) => Ok(Some(g)),
        Err(H5Error::GroupNotFound(_)) if root.dataset("obs").is_ok() => Ok(None),
        Err(H5Error::GroupNotFound(_)) => Err("no 'obs' group: not an AnnData file".to_string()),
        Err(e) => Err(format!(
            "cannot read the 'obs' group (a damaged file?): {e}"
        )),
    }
}

/// The most bytes a file of `len` bytes can decode to: the bound of every
/// read (deflate expands at most ~1,032 times), and of the cells it can
/// claim.
pub fn read_budget(len: u64) -> usize {
    usize::try_from(len)
        .unwrap_or(usize::MAX)
        .saturating_mul(MAX_EXPANSION)
        .max(1 << 20)
}

/// Open an HDF5 file for reading (cxg-obs its obs table, cxg-subset every
/// element): the file, its length, and the most bytes one read may decode.
/// Only a regular file is opened: a FIFO would block the run, a device
/// never ends.
pub fn open_hdf5(path: &Path) -> R<(Hdf5File, u64, usize)> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open: {e}"))?;
    if meta.is_dir() {
        return Err("is a folder, not a file".into());
    }
    if !meta.is_file() {
        return Err(not_a_file(&meta));
    }
    let len = meta.len();
    // No read may allocate more than the file could decompress to, so a
    // hostile header cannot make a column ask for terabytes. Each dataset
    // is read once: no chunk cache.
    let budget = read_budget(len);
    let opts = OpenOptions::default()
        .with_max_read_bytes(budget)
        .with_chunk_cache_bytes(0)
        .with_filter_registry(crate::lzf::registry());
    let file = Hdf5File::open_with_options(path, opts).map_err(|e| match e {
        H5Error::InvalidMagic => "not an HDF5 file (no HDF5 signature)".to_string(),
        e => format!("not a readable HDF5 file: {e}"),
    })?;
    // an interrupted download: shorter than the end the header records
    let eof = recorded_eof(path, file.superblock())?;
    if eof > len && eof != u64::MAX {
        return Err(format!(
            "truncated: the file has {len} bytes, its HDF5 header says {eof}"
        ));
    }
    Ok((file, len, budget))
}

/// The end of file the superblock records, counted from the file's first
/// byte as libhdf5 checks it: recorded so, user block included, unless the
/// superblock is not at the base address it records (a block put in front
/// with `cat`, not h5jam), when libhdf5 moves it by the difference.
/// hdf5-reader gives the superblock's place as its base address, so the
/// recorded one is read here.
fn recorded_eof(path: &Path, sb: &hdf5_reader::superblock::Superblock) -> R<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let at = sb.base_address;
    let size = usize::from(sb.offset_size);
    let field = match sb.version {
        0 => 24,
        1 => 28,
        _ => 12,
    };
    let mut b = vec![0u8; size];
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    f.seek(SeekFrom::Start(at.saturating_add(field)))
        .and_then(|_| f.read_exact(&mut b))
        .map_err(|e| format!("not a readable HDF5 file: its superblock: {e}"))?;
    let base = b.iter().rev().fold(0u64, |v, x| (v << 8) | u64::from(*x));
    if sb.eof_address == u64::MAX || base == at {
        return Ok(sb.eof_address);
    }
    Ok(sb.eof_address.wrapping_add(at).wrapping_sub(base))
}

/// Why a path that is not a regular file is not read.
#[cfg(unix)]
fn not_a_file(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    format!("is {what}, not an H5AD file; not read")
}

#[cfg(not(unix))]
fn not_a_file(_: &std::fs::Metadata) -> String {
    "is not a regular file; not read".into()
}
