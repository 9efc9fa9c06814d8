//! Sparse matrices (CSR and CSC, as anndata writes them: `data`,
//! `indices`, `indptr`, attribute `shape`) with cells on one axis or both:
//! the kept cells, read and written a window of the compressed axis at a
//! time, so memory holds `indptr` and one window, not the matrix.

use crate::copy::{self, storage_of};
use crate::h5::{self, At, R};
use crate::rows::Rows;
use crate::stream;
use cxg_h5write::{self as w, Appender, H5Group};
use hdf5_reader::group::Group;

/// Which axes of the matrix are cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cells {
    /// Rows are cells (X, layers, obsm).
    Rows,
    /// Rows and columns are cells (obsp).
    Both,
}

/// The subset of the sparse matrix group `g` (`csr` or not), written as
/// `name` in `dst` with its attributes and the new `shape`.
pub(crate) fn matrix(
    g: &Group,
    dst: &H5Group,
    name: &str,
    csr: bool,
    cells: Cells,
    rows: &Rows,
    place: &str,
) -> R<()> {
    let shape = g
        .attribute("shape")
        .and_then(|a| a.read_1d::<i64>())
        .at(&format!("{place} attribute 'shape'"))?;
    let &[n_rows, n_cols] = shape.as_slice() else {
        return Err(format!("{place}: shape is not two numbers"));
    };
    if n_rows as u64 != rows.n() || (cells == Cells::Both && n_cols as u64 != rows.n()) {
        return Err(format!(
            "{place}: shape {n_rows} × {n_cols} does not match {} cells",
            rows.n()
        ));
    }
    // the compressed (major) axis and the other (minor) one
    let (major, minor) = match (csr, cells) {
        (true, Cells::Rows) => (Some(rows), None),
        (false, Cells::Rows) => (None, Some(rows)),
        (_, Cells::Both) => (Some(rows), Some(rows)),
    };
    let out = dst.create_group(name).at(place)?;
    copy::group_attrs(g, &out, &["shape"], place)?;
    let kept = rows.kept() as i64;
    let new_shape = match cells {
        Cells::Rows => [kept, n_cols],
        Cells::Both => [kept, kept],
    };
    out.set_attr_array_numeric("shape", &new_shape).at(place)?;
    Parts::open(g, &out, place)?.copy(&out, major, minor, place)
}

/// The three arrays of the source, and the two streamed outputs.
struct Parts {
    data: hdf5_reader::Dataset,
    indices: hdf5_reader::Dataset,
    indptr: hdf5_reader::Dataset,
    out_data: Appender,
    out_indices: Appender,
}

impl Parts {
    fn open(g: &Group, out: &H5Group, place: &str) -> R<Parts> {
        let get = |n: &str| g.dataset(n).at(&format!("{place}/{n}"));
        let (data, indices, indptr) = (get("data")?, get("indices")?, get("indptr")?);
        let app = |d: &hdf5_reader::Dataset, n: &str| -> R<Appender> {
            let here = format!("{place}/{n}");
            let mut st = storage_of(d, &here);
            st.chunk_rows.get_or_insert(1 << 16);
            Appender::new(out, n, h5::datatype(d, &here)?, &[], st).at(&here)
        };
        let (out_data, out_indices) = (app(&data, "data")?, app(&indices, "indices")?);
        Ok(Parts {
            data,
            indices,
            indptr,
            out_data,
            out_indices,
        })
    }

    /// Copy the kept part, a window of the compressed axis at a time.
    fn copy(
        mut self,
        out: &H5Group,
        major: Option<&Rows>,
        minor: Option<&Rows>,
        place: &str,
    ) -> R<()> {
        let ptr_place = format!("{place}/indptr");
        let indptr = h5::read_ints(&self.indptr, None, &ptr_place)?;
        check_indptr(
            &indptr,
            self.data.shape().first().copied().unwrap_or(0),
            &ptr_place,
        )?;
        let n_major = indptr.len() - 1;
        let majors: Vec<u64> = match major {
            Some(r) if r.n() as usize == n_major => r.keep.clone(),
            Some(r) => {
                return Err(format!(
                    "{ptr_place}: {n_major} rows, the file has {} cells",
                    r.n()
                ))
            }
            None => (0..n_major as u64).collect(),
        };
        let mut new_ptr = Vec::with_capacity(majors.len() + 1);
        new_ptr.push(0i64);
        if self.streams(&indptr, &majors) {
            self.streamed(&indptr, &majors, minor, &mut new_ptr, place)?;
        } else {
            self.windows(&indptr, &majors, minor, &mut new_ptr, place)?;
        }
        let (psz, _) = h5::int_kind(&self.indptr, &ptr_place)?;
        let dt = h5::datatype(&self.indptr, &ptr_place)?;
        let bytes = h5::bytes_of(&new_ptr, psz);
        let ptr = w::write_array_fast(
            out,
            "indptr",
            dt,
            &[new_ptr.len()],
            &bytes,
            storage_of(&self.indptr, &ptr_place),
        )
        .at(&ptr_place)?;
        copy::dataset_attrs(&self.indptr, &ptr, &ptr_place)?;
        let d = self.out_data.into_dataset().at(&format!("{place}/data"))?;
        let ix = self
            .out_indices
            .into_dataset()
            .at(&format!("{place}/indices"))?;
        copy::dataset_attrs(&self.data, &d, &format!("{place}/data"))?;
        copy::dataset_attrs(&self.indices, &ix, &format!("{place}/indices"))
    }

    /// Whether to read every chunk in order on threads of their own (see
    /// [`stream`]) rather than windows of kept values: when the datasets
    /// allow it and the kept values touch at least half the chunks.
    fn streams(&self, indptr: &[i64], majors: &[u64]) -> bool {
        if !crate::engine::limits().stream_chunks
            || !stream::streamable(&self.data)
            || !stream::streamable(&self.indices)
        {
            return false;
        }
        let per = self
            .data
            .chunks()
            .and_then(|c| c.first().copied())
            .unwrap_or(1) as u64;
        let n = self.data.shape().first().copied().unwrap_or(0);
        let chunks = n.div_ceil(per.max(1));
        let (mut needed, mut last) = (0u64, None::<u64>);
        for m in majors {
            let (a, b) = (indptr[*m as usize] as u64, indptr[*m as usize + 1] as u64);
            if b > a {
                let (c0, c1) = (a / per, (b - 1) / per);
                let c0 = last.map_or(c0, |l| c0.max(l + 1));
                needed += (c1 + 1).saturating_sub(c0);
                last = Some(last.map_or(c1, |l| l.max(c1)));
            }
        }
        needed * 2 >= chunks
    }

    /// The kept majors read a window of values at a time.
    fn windows(
        &mut self,
        indptr: &[i64],
        majors: &[u64],
        minor: Option<&Rows>,
        new_ptr: &mut Vec<i64>,
        place: &str,
    ) -> R<()> {
        let window = crate::engine::limits().window_values;
        let mut i = 0;
        while i < majors.len() {
            let a = indptr[majors[i] as usize];
            let mut j = i + 1;
            while j < majors.len() && indptr[majors[j] as usize + 1] - a <= window {
                j += 1;
            }
            self.window(indptr, &majors[i..j], minor, new_ptr, place)?;
            i = j;
        }
        Ok(())
    }

    /// The kept majors read from every chunk of `data` and `indices` in
    /// order, each decoded on a thread of its own while this one selects
    /// and writes.
    fn streamed(
        &mut self,
        indptr: &[i64],
        majors: &[u64],
        minor: Option<&Rows>,
        new_ptr: &mut Vec<i64>,
        place: &str,
    ) -> R<()> {
        let (dp, ip) = (format!("{place}/data"), format!("{place}/indices"));
        let (dtx, dc) = stream::channel(&self.data, &dp)?;
        let (itx, ic) = stream::channel(&self.indices, &ip)?;
        let (data, indices) = (self.data.clone(), self.indices.clone());
        std::thread::scope(|s| {
            s.spawn(move || stream::feed(&data, dtx, &dp));
            s.spawn(move || stream::feed(&indices, itx, &ip));
            // the cursors are dropped on return, which stops the readers
            self.drain(dc, ic, indptr, majors, minor, new_ptr, place)
        })
    }

    /// Copy the kept values from the cursors to the outputs, a window of
    /// values at a time.
    #[allow(clippy::too_many_arguments)]
    fn drain(
        &mut self,
        mut dc: stream::Cursor,
        mut ic: stream::Cursor,
        indptr: &[i64],
        majors: &[u64],
        minor: Option<&Rows>,
        new_ptr: &mut Vec<i64>,
        place: &str,
    ) -> R<()> {
        let (isz, signed) = h5::int_kind(&self.indices, place)?;
        let esz = h5::elem_size(&self.data, place)?;
        // small blocks to compress: the readers run on meanwhile
        let flush = crate::engine::limits().window_values.clamp(1, 1 << 16) as usize * esz;
        let (mut od, mut oi) = (Vec::new(), Vec::new());
        let (mut rd, mut ri) = (Vec::new(), Vec::new());
        let mut total = new_ptr.last().copied().unwrap_or(0);
        for m in majors {
            let (a, b) = (indptr[*m as usize] as u64, indptr[*m as usize + 1] as u64);
            match minor {
                None => {
                    dc.copy(a, b, &mut od)?;
                    ic.copy(a, b, &mut oi)?;
                    total += (b - a) as i64;
                }
                Some(r) => {
                    rd.clear();
                    ri.clear();
                    dc.copy(a, b, &mut rd)?;
                    ic.copy(a, b, &mut ri)?;
                    let kinds = (isz, signed, esz);
                    total += remap(&rd, &ri, r, kinds, &mut od, &mut oi, place)?;
                }
            }
            new_ptr.push(total);
            if od.len() >= flush {
                self.push(&mut od, &mut oi, place)?;
            }
        }
        self.push(&mut od, &mut oi, place)
    }

    /// Write and empty the selected values.
    fn push(&mut self, od: &mut Vec<u8>, oi: &mut Vec<u8>, place: &str) -> R<()> {
        self.out_data.push(od).at(&format!("{place}/data"))?;
        self.out_indices.push(oi).at(&format!("{place}/indices"))?;
        od.clear();
        oi.clear();
        Ok(())
    }

    /// One window: the kept majors `win`, read in one range.
    fn window(
        &mut self,
        indptr: &[i64],
        win: &[u64],
        minor: Option<&Rows>,
        new_ptr: &mut Vec<i64>,
        place: &str,
    ) -> R<()> {
        let a = indptr[win[0] as usize];
        let b = indptr[win[win.len() - 1] as usize + 1];
        let (isz, _) = h5::int_kind(&self.indices, place)?;
        let esz = h5::elem_size(&self.data, place)?;
        let (data, idx) = if b > a {
            let data = h5::read_rows(&self.data, a as u64, b as u64, &format!("{place}/data"))?;
            let idx = h5::read_ints(
                &self.indices,
                Some((a as u64, b as u64)),
                &format!("{place}/indices"),
            )?;
            (data, idx)
        } else {
            (Vec::new(), Vec::new())
        };
        let mut od = Vec::with_capacity(data.len());
        let mut oi: Vec<i64> = Vec::with_capacity(idx.len());
        let base = new_ptr.last().copied().unwrap_or(0);
        for m in win {
            let (s, e) = (
                (indptr[*m as usize] - a) as usize,
                (indptr[*m as usize + 1] - a) as usize,
            );
            match minor {
                None => {
                    od.extend_from_slice(&data[s * esz..e * esz]);
                    oi.extend_from_slice(&idx[s..e]);
                }
                Some(r) => {
                    for k in s..e {
                        let c = usize::try_from(idx[k]).ok().and_then(|c| r.new_of.get(c));
                        let Some(&c) = c else {
                            return Err(format!("{place}/indices: index {} out of range", idx[k]));
                        };
                        if c >= 0 {
                            oi.push(c);
                            od.extend_from_slice(&data[k * esz..(k + 1) * esz]);
                        }
                    }
                }
            }
            new_ptr.push(base + oi.len() as i64);
        }
        self.out_data.push(&od).at(&format!("{place}/data"))?;
        self.out_indices
            .push(&h5::bytes_of(&oi, isz))
            .at(&format!("{place}/indices"))
    }
}

/// The values of one major whose minor index is kept, with that index
/// renumbered: how many.
fn remap(
    data: &[u8],
    idx: &[u8],
    r: &Rows,
    (isz, signed, esz): (usize, bool, usize),
    od: &mut Vec<u8>,
    oi: &mut Vec<u8>,
    place: &str,
) -> R<i64> {
    let mut n = 0;
    for (k, ib) in idx.chunks_exact(isz.max(1)).enumerate() {
        let i = h5::int_at(ib, isz, signed);
        let c = usize::try_from(i).ok().and_then(|c| r.new_of.get(c));
        let Some(&c) = c else {
            return Err(format!("{place}/indices: index {i} out of range"));
        };
        if c >= 0 {
            h5::push_int(oi, c, isz);
            od.extend_from_slice(&data[k * esz..(k + 1) * esz]);
            n += 1;
        }
    }
    Ok(n)
}

/// indptr starts at 0, never decreases, and ends within the data.
fn check_indptr(p: &[i64], n_data: u64, place: &str) -> R<()> {
    if p.is_empty() || p[0] != 0 || p.windows(2).any(|w| w[1] < w[0]) {
        return Err(format!("{place}: not a valid index pointer"));
    }
    if p[p.len() - 1] as u64 > n_data {
        return Err(format!("{place}: points past the {n_data} stored values"));
    }
    Ok(())
}
