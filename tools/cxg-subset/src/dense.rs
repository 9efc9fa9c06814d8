//! Datasets indexed by cells on their first axis (obs columns, obsm arrays,
//! a dense X or layer), and on both axes (a dense obsp): the kept rows, in
//! windows of rows when the dataset is large.

use crate::copy::{self, storage_of};
use crate::h5::{self, At, R};
use crate::heap::Heap;
use crate::rows::Rows;
use cxg_h5write::{self as w, Appender, H5Group, RowWriter};
use hdf5_reader::Dataset;

/// The kept rows (and with `both`, the kept columns) of `d`, written as
/// `name` in `dst` with its attributes.
pub(crate) fn rows(
    d: &Dataset,
    dst: &H5Group,
    name: &str,
    rows: &Rows,
    both: bool,
    place: &str,
) -> R<()> {
    let shape = d.shape().to_vec();
    if shape.first().copied() != Some(rows.n()) {
        return Err(format!(
            "{place}: has {} rows, the file has {} cells",
            shape.first().copied().unwrap_or(0),
            rows.n()
        ));
    }
    if both && shape.get(1).copied() != Some(rows.n()) {
        return Err(format!("{place}: is not cells × cells"));
    }
    let out = if h5::is_string(d.dtype()) {
        let mut heap = Heap::of_source(place)?;
        let kept = match h5::kept_strings(d, &rows.keep, &mut heap, place)? {
            Some(kept) => kept,
            None => {
                let all = d.read_strings().at(place)?;
                rows.keep.iter().map(|r| all[*r as usize].clone()).collect()
            }
        };
        copy::strings(dst, name, d, &kept, place)?
    } else {
        let dt = h5::datatype(d, place)?;
        let row_bytes = h5::row_elems(&shape) * h5::elem_size(d, place)?;
        let mut new_shape: Vec<usize> = shape.iter().map(|n| *n as usize).collect();
        new_shape[0] = rows.kept();
        if both {
            new_shape[1] = rows.kept();
            let bytes = h5::read_all(d, place)?;
            let picked = rows.select(&bytes, row_bytes, 0, &rows.keep);
            let cols = columns(&picked, rows, row_bytes / rows.n().max(1) as usize);
            w::write_array_fast(dst, name, dt, &new_shape, &cols, storage_of(d, place)).at(place)?
        } else if (rows.n() as usize).saturating_mul(row_bytes)
            <= crate::engine::limits().block_bytes
        {
            let bytes = h5::read_all(d, place)?;
            let picked = rows.select(&bytes, row_bytes, 0, &rows.keep);
            w::write_array_fast(dst, name, dt, &new_shape, &picked, storage_of(d, place))
                .at(place)?
        } else {
            streamed(d, dst, name, rows, row_bytes, place)?
        }
    };
    copy::dataset_attrs(d, &out, place)
}

/// Keep the kept columns of each row (`elem` bytes each).
fn columns(bytes: &[u8], rows: &Rows, elem: usize) -> Vec<u8> {
    let row = rows.n() as usize * elem;
    let mut out = Vec::with_capacity(rows.kept() * rows.kept() * elem);
    for r in bytes.chunks_exact(row.max(1)) {
        for c in &rows.keep {
            let a = *c as usize * elem;
            out.extend_from_slice(&r[a..a + elem]);
        }
    }
    out
}

/// Where the windows of rows go: appended to a chunked dataset, or
/// written in place into a contiguous one (as the source is stored).
enum Sink {
    Append(Appender),
    Rows(RowWriter),
}

impl Sink {
    fn push(&mut self, bytes: &[u8]) -> cxg_h5write::Result<()> {
        match self {
            Sink::Append(a) => a.push(bytes),
            Sink::Rows(r) => r.push(bytes),
        }
    }

    fn into_dataset(self) -> cxg_h5write::Result<cxg_h5write::H5Dataset> {
        match self {
            Sink::Append(a) => a.into_dataset(),
            Sink::Rows(r) => Ok(r.into_dataset()),
        }
    }
}

/// The kept rows of a large dataset, a window of rows at a time.
fn streamed(
    d: &Dataset,
    dst: &H5Group,
    name: &str,
    rows: &Rows,
    row_bytes: usize,
    place: &str,
) -> R<cxg_h5write::H5Dataset> {
    let dt = h5::datatype(d, place)?;
    let st = storage_of(d, place);
    let mut sink = if st.chunk_rows.is_some() {
        let row_shape: Vec<usize> = d.shape().iter().skip(1).map(|n| *n as usize).collect();
        Sink::Append(Appender::new(dst, name, dt, &row_shape, st).at(place)?)
    } else {
        let mut shape: Vec<usize> = d.shape().iter().map(|n| *n as usize).collect();
        shape[0] = rows.kept();
        Sink::Rows(RowWriter::new(dst, name, dt, &shape, st).at(place)?)
    };
    let span = (crate::engine::limits().block_bytes / row_bytes.max(1)).max(1) as u64;
    for win in rows.windows(span) {
        let (first, last) = (win[0], win[win.len() - 1]);
        let bytes = h5::read_rows(d, first, last + 1, place)?;
        sink.push(&rows.select(&bytes, row_bytes, first, win))
            .at(place)?;
    }
    sink.into_dataset().at(place)
}
