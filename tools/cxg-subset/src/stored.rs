//! Datasets copied chunk by chunk as they are stored, compressed: for the
//! scratch file that obs and var are subset into on a thread of their own
//! (see `engine`), whose gzip chunks were otherwise inflated and deflated
//! again when copied into the output — a tenth of a second at the end of
//! the bench file's run, on one core while the other waited.

use crate::h5::{self, At, R};
use crate::heap::Heap;
use cxg_h5write::{self as w, rust_hdf5, H5Dataset, H5Group, Storage};
use hdf5_reader::superblock::Superblock;
use hdf5_reader::{Dataset, Datatype};
use std::cell::RefCell;
use std::path::Path;

/// The most chunks a dataset may have to be copied as stored: rust-hdf5
/// looks each chunk up in the whole chunk index, so the cost grows with
/// the square of their number (1,024: a million index entries read, a few
/// milliseconds; obs columns of a million cells have 64 to 256).
const MAX_CHUNKS: usize = 1024;

/// A file opened for its stored chunks, and its strings.
pub(crate) struct Stored(rust_hdf5::H5File, RefCell<Heap>);

impl Stored {
    /// The file at `path`, whose superblock is `sb`.
    pub(crate) fn open(path: &Path, sb: &Superblock, place: &str) -> R<Stored> {
        let f = rust_hdf5::H5File::options()
            .locking(rust_hdf5::FileLocking::Disabled)
            .open(path)
            .at(place)?;
        Ok(Stored(f, RefCell::new(Heap::of_file(path, sb, place)?)))
    }

    /// The strings of `d`, a dataset of this file, read from its heap one
    /// collection at a time (see `heap`); `None`: not variable-length
    /// strings in chunks.
    pub(crate) fn strings(&self, d: &Dataset, place: &str) -> R<Option<Vec<String>>> {
        let all: Vec<u64> = (0..d.shape().first().copied().unwrap_or(0)).collect();
        h5::kept_strings(d, &all, &mut self.1.borrow_mut(), place)
    }

    /// Copy `d`, the dataset at `place` in this file, to `dst` as `name`
    /// chunk by chunk if it is a number array compressed with gzip (and
    /// shuffle) in chunks of whole rows; `None`: it is not (copy its
    /// values instead). Attributes are the caller's.
    pub(crate) fn copy(
        &self,
        d: &Dataset,
        dst: &H5Group,
        name: &str,
        place: &str,
    ) -> R<Option<H5Dataset>> {
        let Some((src, st, n_chunks)) = self.layout(d, place) else {
            return Ok(None);
        };
        let shape: Vec<usize> = d.shape().iter().map(|n| *n as usize).collect();
        let out = w::create_sized(dst, name, h5::datatype(d, place)?, &shape, st).at(place)?;
        let mut at = vec![0usize; shape.len()];
        for i in 0..n_chunks {
            at[0] = i;
            let (bytes, mask) = src.read_chunk_raw_at(&at).at(place)?;
            out.write_chunk_raw(i, &bytes, mask).at(place)?;
        }
        Ok(Some(out))
    }

    /// `d` opened for its stored chunks, how it is stored (as the
    /// [`Storage`] to create its copy with) and its number of chunks — if
    /// its chunks can be copied as they are.
    fn layout(&self, d: &Dataset, place: &str) -> Option<(rust_hdf5::H5Dataset, Storage, usize)> {
        let numbers = matches!(
            d.dtype(),
            Datatype::FixedPoint {
                size: 1 | 2 | 4 | 8,
                ..
            } | Datatype::FloatingPoint { size: 4 | 8, .. }
        );
        let shape = d.shape();
        let chunks = d.chunks()?;
        let whole_rows = chunks.len() == shape.len()
            && chunks
                .iter()
                .zip(shape)
                .skip(1)
                .all(|(c, n)| *c as u64 == *n);
        let rows = *chunks.first()? as usize;
        if !numbers || !whole_rows || rows == 0 || shape[0] == 0 || rows as u64 > shape[0] {
            return None;
        }
        let src = self.0.dataset(place).ok()?;
        let filters = src.filters().ok()?;
        let ids: Vec<u16> = filters.iter().map(|f| f.id).collect();
        let shuffle = match ids.as_slice() {
            [1] => false,
            [2, 1] => true,
            _ => return None,
        };
        let level = filters.last()?.cd_values.first().copied().unwrap_or(4);
        let st = Storage {
            chunk_rows: Some(rows),
            gzip: Some(level),
            shuffle,
        };
        let n_chunks = (shape[0] as usize).div_ceil(rows);
        (n_chunks <= MAX_CHUNKS).then_some((src, st, n_chunks))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Stored;
    use cxg_h5write::{self as w, DatatypeMessage, H5File, Storage};

    /// A gzip dataset, a shuffled one, a 2-D one, an uncompressed one and
    /// one of too many chunks copied: the same values, and the first three
    /// byte for byte as stored.
    #[test]
    fn stored_chunks_are_copied_as_they_are() {
        let d = std::env::temp_dir().join(format!("cxg-subset-stored-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let (src, dst) = (d.join("src.h5"), d.join("dst.h5"));
        let values: Vec<u8> = (0..1000u32).flat_map(|v| (v * 7).to_ne_bytes()).collect();
        let st = |gzip, shuffle| Storage {
            chunk_rows: Some(64),
            gzip,
            shuffle,
        };
        let f = H5File::create(&src).unwrap();
        let g = f.root_group();
        let u32t = DatatypeMessage::u32_type;
        w::write_array_fast(&g, "gz", u32t(), &[1000], &values, st(Some(6), false)).unwrap();
        w::write_array_fast(&g, "sh", u32t(), &[1000], &values, st(Some(4), true)).unwrap();
        w::write_array_fast(&g, "m", u32t(), &[250, 4], &values, st(Some(4), false)).unwrap();
        w::write_array(&g, "plain", u32t(), &[1000], &values, st(None, false)).unwrap();
        let many = Storage {
            chunk_rows: Some(1),
            ..st(Some(4), false)
        };
        w::write_array_fast(&g, "many", u32t(), &[1025], &[7; 4100], many).unwrap();
        f.close().unwrap();

        let r = crate::h5::open(&src).unwrap();
        let stored = Stored::open(&src, r.superblock(), "src").unwrap();
        let out = H5File::create(&dst).unwrap();
        // not as stored: no gzip; more chunks than MAX_CHUNKS
        for name in ["gz", "sh", "m", "plain", "many"] {
            let ds = r.dataset(name).unwrap();
            let copied = stored.copy(&ds, &out.root_group(), name, name).unwrap();
            assert_eq!(
                copied.is_some(),
                !["plain", "many"].contains(&name),
                "{name}"
            );
        }
        out.close().unwrap();

        let back = crate::h5::open(&dst).unwrap();
        let (a, b) = (rust_hdf5_file(&src), rust_hdf5_file(&dst));
        for name in ["gz", "sh", "m"] {
            let got = crate::h5::read_all(&back.dataset(name).unwrap(), name).unwrap();
            assert_eq!(got, values, "{name}");
            let raw = |f: &cxg_h5write::rust_hdf5::H5File, i: usize| {
                let ds = f.dataset(name).unwrap();
                let at: Vec<usize> = ds
                    .shape()
                    .iter()
                    .enumerate()
                    .map(|(k, _)| if k == 0 { i } else { 0 })
                    .collect();
                ds.read_chunk_raw_at(&at).unwrap()
            };
            assert_eq!(raw(&a, 3), raw(&b, 3), "{name}");
            let filters =
                |f: &cxg_h5write::rust_hdf5::H5File| f.dataset(name).unwrap().filters().unwrap();
            assert_eq!(filters(&a), filters(&b), "{name}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn rust_hdf5_file(p: &std::path::Path) -> cxg_h5write::rust_hdf5::H5File {
        cxg_h5write::rust_hdf5::H5File::options()
            .locking(cxg_h5write::rust_hdf5::FileLocking::Disabled)
            .open(p)
            .unwrap()
    }
}
