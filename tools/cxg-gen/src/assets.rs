//! Asset files for `cxg-serve` to serve (`--assets`): every H5AD the
//! snapshot lists is a real H5AD of its dataset (`h5ad`), written before
//! any view of the record, whose `filesize` is the larger of a size drawn
//! from `--asset-bytes` and the file's own: a smaller file is padded with
//! deterministic bytes after its HDF5 end of file, which readers ignore.
//! Each has the ETag the file host would send: the MD5 for files under
//! 8 MiB, the S3 multipart ETag of 8 MiB parts (`md5(md5(p1)‖md5(p2)‖…)-N`)
//! above, as boto3's `upload_file` produces. `--sparse-assets` writes
//! all-zero sparse files instead (instant at any size, e.g. over 4 GiB)
//! with an ETag of a form no client can check.

use crate::args::Args;
use crate::rng::Rng;
use cxg_core::digest::hex;
use cxg_core::{At, Error, Result};
use md5::{Digest, Md5};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// S3's (boto3's) multipart threshold and part size.
const PART: u64 = 8 * 1024 * 1024;

fn name_seed(seed: u64, name: &str) -> u64 {
    // FNV-1a over the name, mixed with the seed
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed.rotate_left(17)
}

/// The size of the asset `name`, in [min, max], from its own generator (so
/// the rest of the snapshot is the same with or without assets).
fn size_of(seed: u64, name: &str, (min, max): (u64, u64)) -> u64 {
    let mut r = Rng::new(name_seed(seed, name));
    min + r.below((max - min).saturating_add(1))
}

/// The H5AD asset file names (`<dvid>.h5ad`) of a dataset object with the
/// size each gets, patching `filesize` (unless it is -1, an unknown size
/// the file host still serves): the size drawn from `range`, or the size
/// of the H5AD `natural` writes (or bounds) when that is larger.
pub(crate) fn patch_sizes(
    v: &mut Value,
    seed: u64,
    range: (u64, u64),
    out: &mut BTreeMap<String, u64>,
    natural: &mut dyn FnMut(&str, &Value) -> Result<u64>,
) -> Result<()> {
    let names: Vec<String> = h5ad_assets(v)
        .filter_map(|a| Some(a.get("url")?.as_str()?.rsplit('/').next()?.to_string()))
        .collect();
    let mut sizes = BTreeMap::new();
    for name in names {
        let size = size_of(seed, &name, range).max(natural(&name, v)?);
        sizes.insert(name, size);
    }
    let Some(assets) = v.get_mut("assets").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for a in assets {
        let name = a
            .get("url")
            .and_then(Value::as_str)
            .and_then(|u| u.rsplit('/').next());
        let Some(&size) = name.and_then(|n| sizes.get(n)) else {
            continue;
        };
        let known = a.get("filesize").and_then(Value::as_i64) != Some(-1);
        if a.get("filetype").and_then(Value::as_str) == Some("H5AD") && known {
            a["filesize"] = Value::from(size);
        }
    }
    out.extend(sizes);
    Ok(())
}

/// The H5AD entries of a dataset object's `assets`.
fn h5ad_assets(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("assets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| a.get("filetype").and_then(Value::as_str) == Some("H5AD"))
}

/// Write the H5AD of dataset object `d` as `dir/<name>`; its size.
pub(crate) fn write_h5ad(dir: &Path, seed: u64, name: &str, d: &Value) -> Result<u64> {
    let path = dir.join(name);
    let place = format!("cannot write '{}'", path.display());
    let rng = Rng::new(name_seed(seed, name) ^ 0x0C31_15AD);
    crate::h5ad::write(&path, d, rng).map_err(|e| Error::input(format!("{place}: {e}")))?;
    Ok(std::fs::metadata(&path).at(&place)?.len())
}

/// Refuse asset files that do not fit on the filesystem of the folder
/// the snapshot goes to (sparse files need no space).
pub(crate) fn check_space(args: &Args, count: usize, need: u64) -> Result<()> {
    if args.sparse_assets || count == 0 {
        return Ok(());
    }
    let free = match args.assume_free_bytes {
        Some(n) => n,
        None => cxg_core::io::free_space(&args.out_dir).at(format_args!(
            "cannot read the free space of '{}'",
            args.out_dir.display()
        ))?,
    };
    if need > free {
        return Err(Error::input(format!(
            "not enough space for '{}': {} asset files need {need} bytes, {free} bytes are available",
            args.out_dir.display(),
            count
        )));
    }
    Ok(())
}

/// The HDF5 signature every asset file starts with.
const HDF5: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Bring `dir/<name>` to `size` bytes and write `dir/<name>.etag`: the
/// H5AD `write_h5ad` wrote, followed by deterministic bytes up to the
/// size (after the HDF5 end of file, which every reader ignores); or, with
/// `sparse`, the HDF5 signature then zeros.
pub(crate) fn write_asset(
    dir: &Path,
    seed: u64,
    name: &str,
    size: u64,
    sparse: bool,
) -> Result<()> {
    let path = dir.join(name);
    let place = format!("cannot write '{}'", path.display());
    let etag = if sparse {
        let f = std::fs::File::create(&path).at(&place)?;
        // the HDF5 signature, then zeros: still sparse, and an H5AD to a
        // client that checks the signature
        let sig = &HDF5[..HDF5.len().min(usize::try_from(size).unwrap_or(8))];
        std::io::Write::write_all(&mut &f, sig).at(&place)?;
        f.set_len(size).at(&place)?;
        format!("\"sparse-{size:x}\"")
    } else {
        let rng = Rng::new(name_seed(seed, name) ^ 0x00A5_5E7B_17E5);
        pad(&path, rng, size).at(&place)?;
        etag_of(&path).at(&place)?
    };
    std::fs::write(dir.join(format!("{name}.etag")), format!("{etag}\n")).at(&place)
}

/// Append bytes from `r` to the file at `path` until it has `size`.
fn pad(path: &Path, mut r: Rng, size: u64) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().append(true).open(path)?;
    let mut left = size.saturating_sub(f.metadata()?.len());
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for c in buf[..n].chunks_mut(8) {
            let x = r.next_u64().to_le_bytes();
            c.copy_from_slice(&x[..c.len()]);
        }
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    w.flush()
}

/// The ETag the file host gives the file at `path`: the MD5, or from one
/// part up the MD5 of the parts' MD5s and their number.
fn etag_of(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let mut whole = Md5::new();
    let mut part = Md5::new();
    let mut parts: Vec<u8> = Vec::new();
    let mut in_part = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let k = chunk.len().min((PART - in_part) as usize);
            part.update(&chunk[..k]);
            in_part += k as u64;
            if in_part == PART {
                parts.extend_from_slice(&part.finalize_reset());
                in_part = 0;
            }
            chunk = &chunk[k..];
        }
        whole.update(&buf[..n]);
    }
    if size < PART {
        return Ok(format!("\"{}\"", hex(&whole.finalize())));
    }
    if in_part > 0 {
        parts.extend_from_slice(&part.finalize());
    }
    let n = size.div_ceil(PART);
    Ok(format!("\"{}-{n}\"", hex(&Md5::digest(&parts))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for name in ["a.h5ad", "b.h5ad"] {
            let s = size_of(1, name, (100, 200));
            assert!((100..=200).contains(&s));
            assert_eq!(s, size_of(1, name, (100, 200)));
        }
    }

    /// A generated record's H5AD, padded to `size`.
    fn asset(d: &Path, name: &str, size: u64) -> Vec<u8> {
        let rec = serde_json::json!({"cell_count": 150, "title": "t"});
        let natural = write_h5ad(d, 1, name, &rec).unwrap();
        assert!(natural < size, "{natural}");
        write_asset(d, 1, name, size, false).unwrap();
        std::fs::read(d.join(name)).unwrap()
    }

    #[test]
    fn etags_as_s3_makes_them() {
        let d = std::env::temp_dir().join(format!("cxg-gen-assets-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let bytes = asset(&d, "x.h5ad", 100_000);
        assert_eq!(bytes.len(), 100_000);
        assert_eq!(&bytes[..8], HDF5);
        let etag = std::fs::read_to_string(d.join("x.h5ad.etag")).unwrap();
        assert_eq!(etag.trim(), format!("\"{}\"", hex(&Md5::digest(&bytes))));
        // multipart: two parts
        let bytes = asset(&d, "y.h5ad", PART + 5);
        let mut cat = Md5::digest(&bytes[..PART as usize]).to_vec();
        cat.extend_from_slice(&Md5::digest(&bytes[PART as usize..]));
        let etag = std::fs::read_to_string(d.join("y.h5ad.etag")).unwrap();
        assert_eq!(etag.trim(), format!("\"{}-2\"", hex(&Md5::digest(&cat))));
        // deterministic
        assert_eq!(asset(&d, "y.h5ad", PART + 5), bytes);
        write_asset(&d, 1, "s.h5ad", 5 << 30, true).unwrap();
        assert_eq!(std::fs::metadata(d.join("s.h5ad")).unwrap().len(), 5 << 30);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
