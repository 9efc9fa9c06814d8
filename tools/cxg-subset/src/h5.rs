//! Reading the source file with `hdf5-reader`: opening it (checked as
//! cxg-obs checks it), attributes, and array values as bytes in the
//! machine's order — whole, or a range of rows at a time.

use crate::heap::Heap;
use cxg_h5write::DatatypeMessage;
use hdf5_reader::group::Group;
use hdf5_reader::{Dataset, Datatype, Hdf5File, SliceInfo, SliceInfoElem};
use std::path::Path;

/// A file's error: one line naming the element, which becomes its
/// manifest row's `reason`.
pub(crate) type R<T> = std::result::Result<T, String>;

/// `.at(place)?` for both HDF5 crates' errors: `place: error`.
pub(crate) trait At<T> {
    fn at(self, place: &str) -> R<T>;
}

impl<T> At<T> for hdf5_reader::error::Result<T> {
    fn at(self, place: &str) -> R<T> {
        self.map_err(|e| cxg_cells::file::h5_error(place, &e))
    }
}

impl<T> At<T> for cxg_h5write::Result<T> {
    fn at(self, place: &str) -> R<T> {
        self.map_err(|e| format!("writing {place}: {e}"))
    }
}

/// The most bytes a file of `len` bytes can decode to (as cxg-obs bounds
/// its reads): the bound of every read, and of the cells it can claim.
pub(crate) fn budget(len: u64) -> usize {
    cxg_cells::file::read_budget(len)
}

/// Open `path` for reading as cxg-obs does: a regular HDF5 file no shorter
/// than its header says, reads bounded by what it could decompress to.
pub(crate) fn open(path: &Path) -> R<Hdf5File> {
    cxg_cells::file::open_hdf5(path).map(|(file, _, _)| file)
}

/// A string attribute of a group, if it has one.
pub(crate) fn group_str(g: &Group, name: &str) -> Option<String> {
    g.attribute(name).ok().and_then(|a| a.read_string().ok())
}

pub(crate) fn is_string(dt: &Datatype) -> bool {
    matches!(dt, Datatype::String { .. }) || is_vlen_string(dt)
}

fn is_vlen_string(dt: &Datatype) -> bool {
    matches!(
        dt,
        Datatype::VarLen {
            kind: hdf5_reader::VarLenKind::String,
            ..
        }
    )
}

/// The strings of rows `keep` (ascending) of a 1-D dataset of
/// variable-length strings, looked up in `heap` (its file's): a chunk of
/// references at a time when chunked, only the kept ones looked up, so
/// memory holds the kept strings, not a million of them and their
/// references. `None`: not such a dataset (read it whole).
pub(crate) fn kept_strings(
    d: &Dataset,
    keep: &[u64],
    heap: &mut Heap,
    place: &str,
) -> R<Option<Vec<String>>> {
    let vlen = matches!(
        d.dtype(),
        Datatype::String {
            size: hdf5_reader::StringSize::Variable,
            ..
        } | Datatype::VarLen {
            kind: hdf5_reader::VarLenKind::String,
            ..
        }
    );
    if !vlen {
        return Ok(None);
    }
    if d.shape().len() != 1 {
        return Ok(None);
    }
    let mut picked = Picked {
        keep,
        next: 0,
        out: Vec::with_capacity(keep.len()),
        rs: d.vlen_reference_size(),
    };
    match d.chunks() {
        Some(per) if per.len() == 1 => {
            let per = u64::from(per[0].max(1));
            for c in d.iter_chunks().at(place)? {
                let c = c.at(place)?;
                let off = c.offsets().first().copied().unwrap_or(0);
                picked.take(c.bytes(), off, off + per, heap, place)?;
            }
        }
        Some(_) => return Ok(None),
        None => {
            let refs = d.read_raw_bytes().at(place)?;
            picked.take(&refs, 0, d.shape()[0], heap, place)?;
        }
    }
    if let Some(row) = keep.get(picked.next) {
        return Err(format!("{place}: row {row} is not stored"));
    }
    Ok(Some(picked.out))
}

/// The kept strings of a dataset of references, taken a block at a time.
struct Picked<'a> {
    keep: &'a [u64],
    /// The next row of `keep` to take.
    next: usize,
    out: Vec<String>,
    /// Bytes of a reference.
    rs: usize,
}

impl Picked<'_> {
    /// The kept rows among `off..end`, whose references are `refs`.
    fn take(&mut self, refs: &[u8], off: u64, end: u64, heap: &mut Heap, place: &str) -> R<()> {
        while let Some(&row) = self.keep.get(self.next).filter(|r| **r < end) {
            let at = row.checked_sub(off).map(|i| i as usize * self.rs);
            let r = at.and_then(|a| refs.get(a..a + self.rs));
            let r = r.ok_or_else(|| format!("{place}: row {row} is not stored"))?;
            self.out.push(vlen_string(heap, r, place)?);
            self.next += 1;
        }
        Ok(())
    }
}

/// One variable-length string from its reference, as libhdf5 gives it to
/// h5py (and so to anndata): its bytes up to the first NUL, whatever
/// padding its type names (hdf5-reader's `read_strings` strips the
/// trailing spaces of a space-padded one; h5py keeps them).
fn vlen_string(heap: &mut Heap, r: &[u8], place: &str) -> R<String> {
    if r.get(..4).is_some_and(|n| n == [0; 4]) {
        return Ok(String::new());
    }
    let bytes = heap.resolve(r, place)?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8(bytes[..end].to_vec()).map_err(|e| format!("{place}: {e}"))
}

/// The dataset's datatype, for writing it unchanged.
pub(crate) fn datatype(d: &Dataset, place: &str) -> R<DatatypeMessage> {
    let raw = d.raw_datatype().at(place)?;
    cxg_h5write::datatype_from_raw(&raw).at(place)
}

/// The bytes of one element.
pub(crate) fn elem_size(d: &Dataset, place: &str) -> R<usize> {
    d.raw_element_size().at(place)
}

/// The number of elements in one row (every axis but the first).
pub(crate) fn row_elems(shape: &[u64]) -> usize {
    shape.iter().skip(1).product::<u64>() as usize
}

/// Rows `start..end` of a numeric dataset as native-order bytes.
pub(crate) fn read_rows(d: &Dataset, start: u64, end: u64, place: &str) -> R<Vec<u8>> {
    let mut sel = vec![SliceInfoElem::Slice {
        start,
        end,
        step: 1,
    }];
    for n in d.shape().iter().skip(1) {
        sel.push(SliceInfoElem::Slice {
            start: 0,
            end: *n,
            step: 1,
        });
    }
    let sel = SliceInfo { selections: sel };
    // each value's bytes copied into a buffer sized once: a flat_map over
    // to_ne_bytes was a fifth of the CPU time on a 600 MB file
    macro_rules! rd {
        ($t:ty) => {{
            const SIZE: usize = std::mem::size_of::<$t>();
            let values = d.read_slice::<$t>(&sel).at(place)?;
            let mut out = vec![0u8; values.len() * SIZE];
            for (dst, v) in out.chunks_exact_mut(SIZE).zip(values.iter()) {
                dst.copy_from_slice(&v.to_ne_bytes());
            }
            out
        }};
    }
    Ok(match d.dtype() {
        Datatype::FixedPoint {
            size: 1,
            signed: true,
            ..
        } => rd!(i8),
        Datatype::FixedPoint { size: 1, .. } => rd!(u8),
        Datatype::FixedPoint {
            size: 2,
            signed: true,
            ..
        } => rd!(i16),
        Datatype::FixedPoint { size: 2, .. } => rd!(u16),
        Datatype::FixedPoint {
            size: 4,
            signed: true,
            ..
        } => rd!(i32),
        Datatype::FixedPoint { size: 4, .. } => rd!(u32),
        Datatype::FixedPoint {
            size: 8,
            signed: true,
            ..
        } => rd!(i64),
        Datatype::FixedPoint { size: 8, .. } => rd!(u64),
        Datatype::FloatingPoint { size: 4, .. } => rd!(f32),
        Datatype::FloatingPoint { size: 8, .. } => rd!(f64),
        // enums (bools) and the rest: the whole dataset, then the rows
        _ => {
            let all = d.read_native_bytes().at(place)?;
            let row = row_elems(d.shape()) * elem_size(d, place)?;
            let (a, b) = (start as usize * row, end as usize * row);
            all.get(a..b)
                .ok_or_else(|| format!("{place}: rows {start}..{end} out of range"))?
                .to_vec()
        }
    })
}

/// A whole dataset as native-order bytes. A numeric one is read as a
/// slice of all its rows: hdf5-reader keeps a copy of every dataset of up
/// to 32 MB read whole as raw bytes for as long as the file is open (tens
/// of MB for the obs columns of a million cells).
pub(crate) fn read_all(d: &Dataset, place: &str) -> R<Vec<u8>> {
    let n = d.shape().first().copied().unwrap_or(0);
    let numeric = matches!(
        d.dtype(),
        Datatype::FixedPoint { .. } | Datatype::FloatingPoint { .. }
    );
    if numeric && n > 0 && d.chunks().is_some() {
        read_rows(d, 0, n, place)
    } else {
        d.read_native_bytes().at(place)
    }
}

/// An integer dataset (codes, indices, indptr) as i64, whole or `start..end`.
pub(crate) fn read_ints(d: &Dataset, range: Option<(u64, u64)>, place: &str) -> R<Vec<i64>> {
    let (signed, size) = match d.dtype() {
        Datatype::FixedPoint { size, signed, .. } => (*signed, *size as usize),
        other => return Err(format!("{place}: expected integers, found {other:?}")),
    };
    let bytes = match range {
        Some((a, b)) => read_rows(d, a, b, place)?,
        None => read_all(d, place)?,
    };
    Ok(ints_of(&bytes, size, signed))
}

/// Native-order integers of `size` bytes as i64.
pub(crate) fn ints_of(bytes: &[u8], size: usize, signed: bool) -> Vec<i64> {
    bytes
        .chunks_exact(size.max(1))
        .map(|c| int_at(c, size, signed))
        .collect()
}

/// One native-order integer of `size` (1 to 8) bytes as i64.
pub(crate) fn int_at(c: &[u8], size: usize, signed: bool) -> i64 {
    let mut a = [0u8; 8];
    let fill = if signed && c[size - 1] & 0x80 != 0 {
        0xff
    } else {
        0
    };
    a.fill(fill);
    #[cfg(target_endian = "little")]
    a[..size].copy_from_slice(&c[..size]);
    #[cfg(target_endian = "big")]
    a[8 - size..].copy_from_slice(&c[..size]);
    i64::from_ne_bytes(a)
}

/// i64 values back to native-order integers of `size` bytes.
pub(crate) fn bytes_of(values: &[i64], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * size);
    for v in values {
        push_int(&mut out, *v, size);
    }
    out
}

/// Append `v` as a native-order integer of `size` bytes.
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64, size: usize) {
    let b = v.to_ne_bytes();
    #[cfg(target_endian = "little")]
    out.extend_from_slice(&b[..size]);
    #[cfg(target_endian = "big")]
    out.extend_from_slice(&b[8 - size..]);
}

/// The integer width and signedness of a dataset.
pub(crate) fn int_kind(d: &Dataset, place: &str) -> R<(usize, bool)> {
    match d.dtype() {
        Datatype::FixedPoint { size, signed, .. } => Ok((*size as usize, *signed)),
        other => Err(format!("{place}: expected integers, found {other:?}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cxg_h5write::{DatatypeMessage, H5File};

    /// A variable-length string is read as libhdf5 gives it to h5py (and
    /// so to anndata): its bytes up to the first NUL, whatever padding its
    /// type names; the trailing spaces of a space-padded one are kept (an
    /// obs column of them lost its trailing spaces before).
    #[test]
    fn vlen_strings_are_read_as_h5py_reads_them() {
        use crate::heap::tests::{collection_of, reference, HeapFile};
        let f = HeapFile::new("vpad", &collection_of(&[(1, b"v1  "), (2, b"a\0b\0")]));
        let mut heap = f.heap();
        let mut string = |n, i| super::vlen_string(&mut heap, &reference(n, 0, i), "x").unwrap();
        assert_eq!(string(4, 1), "v1  ");
        assert_eq!(string(4, 2), "a");
    }

    /// The kept strings of a column of many chunks, a chunk at a time, and
    /// of a contiguous one: what reading them all and picking gives.
    #[test]
    fn kept_strings_across_chunks() {
        let path =
            std::env::temp_dir().join(format!("cxg-subset-strings-{}.h5", std::process::id()));
        let names: Vec<String> = (0..50)
            .map(|i| format!("cell-{i}-{}", "x".repeat(i % 7)))
            .collect();
        {
            let f = H5File::create(&path).unwrap();
            let d = f
                .root_group()
                .new_dataset::<u8>()
                .datatype(DatatypeMessage::vlen_string_utf8())
                .shape([names.len()])
                .chunk(&[7])
                .deflate(4)
                .create("names")
                .unwrap();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            d.write_vlen_strings_slice(0, &refs).unwrap();
            // and the same, contiguous
            cxg_h5write::write_strings(&f.root_group(), "flat", &refs, Default::default()).unwrap();
            f.close().unwrap();
        }
        let f = super::open(&path).unwrap();
        let d = f.dataset("names").unwrap();
        assert_eq!(d.chunks(), Some(vec![7]));
        let all = d.read_strings().unwrap();
        assert_eq!(all, names);
        let flat = f.dataset("flat").unwrap();
        assert_eq!(flat.chunks(), None);
        for keep in [vec![0u64, 6, 7, 13, 49], (0..50).collect(), vec![48]] {
            let want: Vec<String> = keep.iter().map(|i| names[*i as usize].clone()).collect();
            let _source = crate::heap::SourceHeap::set(&path, f.superblock());
            let mut heap = crate::heap::Heap::of_source("names").unwrap();
            for d in [&d, &flat] {
                let got = super::kept_strings(d, &keep, &mut heap, "names")
                    .unwrap()
                    .unwrap();
                assert_eq!(got, want);
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}
