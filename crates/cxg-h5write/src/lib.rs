//! cxg-h5write: writing AnnData's on-disk elements (H5AD) over the
//! pure-Rust `rust-hdf5` writer — the `encoding-type` attributes, string
//! arrays, arrays of any fixed-size datatype, and arrays streamed in row
//! blocks (bounded memory) — so that `anndata.read_h5ad` reads what cxg
//! tools write. Values are passed as bytes in the machine's order with the
//! HDF5 datatype they have, so a reader's datatype is written unchanged.
//!
//! Why rust-hdf5: docs/subset.md, "The HDF5 writer".

pub use rust_hdf5;
pub use rust_hdf5::{DatatypeMessage, H5Dataset, H5File, H5Group, Hdf5Error};

use rust_hdf5::VarLenUnicode;

mod pack;

pub type Result<T> = std::result::Result<T, Hdf5Error>;

/// How a new dataset is stored: chunked along its first axis (`chunk_rows`
/// rows a chunk) or contiguous, and gzip-compressed or not, shuffled first
/// or not (filters only apply to a chunked dataset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Storage {
    pub chunk_rows: Option<usize>,
    pub gzip: Option<u32>,
    pub shuffle: bool,
}

impl Storage {
    /// Contiguous, uncompressed.
    pub const PLAIN: Storage = Storage {
        chunk_rows: None,
        gzip: None,
        shuffle: false,
    };
}

/// A datatype from the bytes of its HDF5 datatype message, as a reader
/// found it (hdf5-reader's `raw_datatype`): written back unchanged.
pub fn datatype_from_raw(raw: &[u8]) -> Result<DatatypeMessage> {
    let ctx = rust_hdf5::format::FormatContext::default_v3();
    DatatypeMessage::decode(raw, &ctx)
        .map(|(dt, _)| dt)
        .map_err(|e| Hdf5Error::InvalidState(format!("datatype: {e}")))
}

/// Set a scalar UTF-8 string attribute on a group.
pub fn group_attr(g: &H5Group, name: &str, value: &str) -> Result<()> {
    g.set_attr_string(name, value)
}

/// `encoding-type` and `encoding-version` on a group.
pub fn group_encoding(g: &H5Group, kind: &str, version: &str) -> Result<()> {
    g.set_attr_string("encoding-type", kind)?;
    g.set_attr_string("encoding-version", version)
}

/// Set a scalar UTF-8 string attribute on a dataset.
pub fn dataset_attr(d: &H5Dataset, name: &str, value: &str) -> Result<()> {
    d.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)?
        .write_string(value)
}

/// `encoding-type` and `encoding-version` on a dataset.
pub fn dataset_encoding(d: &H5Dataset, kind: &str, version: &str) -> Result<()> {
    dataset_attr(d, "encoding-type", kind)?;
    dataset_attr(d, "encoding-version", version)
}

/// A 1-D variable-length UTF-8 string dataset (h5py's `str` arrays).
/// Contiguous whatever the storage asks: the strings live in the global
/// heap, which HDF5 never compresses (a chunked dataset would compress only
/// the references), and rust-hdf5's chunked vlen strings are indexed in a
/// way libhdf5 refuses ("didn't find unlimited dimension").
pub fn write_strings(g: &H5Group, name: &str, values: &[&str], _st: Storage) -> Result<H5Dataset> {
    if values.is_empty() {
        return g
            .new_dataset::<u8>()
            .datatype(DatatypeMessage::vlen_string_utf8())
            .shape([0usize])
            .create(name);
    }
    g.write_vlen_strings(name, values)
}

/// A scalar string dataset (`uns` strings), as a fixed-length UTF-8 string:
/// rust-hdf5 has no scalar variable-length string dataset; h5py and
/// anndata read both as the same `str`.
pub fn write_scalar_string(g: &H5Group, name: &str, value: &str) -> Result<H5Dataset> {
    let size = u32::try_from(value.len().max(1))
        .map_err(|_| Hdf5Error::InvalidState(format!("string '{name}' is too long")))?;
    let d = g
        .new_dataset::<u8>()
        .datatype(DatatypeMessage::fixed_string_utf8(size))
        .scalar()
        .create(name)?;
    let mut bytes = value.as_bytes().to_vec();
    bytes.resize(size as usize, 0);
    d.write_raw_bytes(&bytes)?;
    Ok(d)
}

/// A dataset of `shape` elements of datatype `dt`, holding `bytes` (native
/// order). `shape` empty: a scalar.
pub fn write_array(
    g: &H5Group,
    name: &str,
    dt: DatatypeMessage,
    shape: &[usize],
    bytes: &[u8],
    st: Storage,
) -> Result<H5Dataset> {
    let n: usize = shape.iter().product();
    let d = create_sized(g, name, dt, shape, st)?;
    if n > 0 {
        d.write_raw_bytes(bytes)?;
    }
    Ok(d)
}

/// [`write_array`], a gzip dataset's chunks compressed with libdeflate (see
/// `pack`): the same filters and level, other (standard) zlib streams, at
/// about twice the speed. Not the default: cxg-gen pins the bytes it writes.
pub fn write_array_fast(
    g: &H5Group,
    name: &str,
    dt: DatatypeMessage,
    shape: &[usize],
    bytes: &[u8],
    st: Storage,
) -> Result<H5Dataset> {
    let n: usize = shape.iter().product();
    let size = dt.element_size() as usize;
    let (Some(rows), Some(level)) = (st.chunk_rows, st.gzip) else {
        return write_array(g, name, dt, shape, bytes, st);
    };
    if n == 0 || shape.is_empty() || !matches!(size, 1 | 2 | 4 | 8) {
        return write_array(g, name, dt, shape, bytes, st);
    }
    if bytes.len() != n * size {
        return Err(Hdf5Error::InvalidState(format!(
            "'{name}': {} bytes for {n} elements of {size}",
            bytes.len()
        )));
    }
    let d = create_sized(g, name, dt, shape, st)?;
    let chunk_bytes = rows.clamp(1, shape[0]) * (n / shape[0]) * size;
    let mut p = pack::Packer::new(level, st.shuffle, size, chunk_bytes)?;
    p.push(&d, bytes)?;
    p.finish(&d)?;
    Ok(d)
}

/// Create (not fill) a dataset of `dt`'s element size: numbers of 1, 2, 4
/// or 8 bytes as `st` says; fixed strings and compounds contiguous, as
/// raw bytes. Public for chunks compressed elsewhere: a gzip dataset's
/// stored chunks copied from a file with the same filters, chunk `i` along
/// the first axis written with `write_chunk_raw(i, ..)`.
pub fn create_sized(
    g: &H5Group,
    name: &str,
    dt: DatatypeMessage,
    shape: &[usize],
    st: Storage,
) -> Result<H5Dataset> {
    match dt.element_size() {
        1 => create::<u8>(g, name, dt, shape, st),
        2 => create::<u16>(g, name, dt, shape, st),
        4 => create::<u32>(g, name, dt, shape, st),
        8 => create::<u64>(g, name, dt, shape, st),
        _ => create::<u8>(g, name, dt, shape, Storage::PLAIN),
    }
}

/// Create (not fill) a dataset; chunks are clamped to the extent, and an
/// empty dataset is contiguous.
fn create<T: rust_hdf5::H5Type>(
    g: &H5Group,
    name: &str,
    dt: DatatypeMessage,
    shape: &[usize],
    st: Storage,
) -> Result<H5Dataset> {
    let b = g.new_dataset::<T>().datatype(dt);
    let b = if shape.is_empty() {
        b.scalar()
    } else {
        b.shape(shape)
    };
    let n: usize = shape.iter().product();
    match st.chunk_rows {
        Some(rows) if n > 0 => {
            let mut chunk = shape.to_vec();
            chunk[0] = rows.clamp(1, shape[0]);
            let b = b.chunk(&chunk);
            match (st.gzip, st.shuffle) {
                (Some(level), true) => b.shuffle_deflate(level).create(name),
                (Some(level), false) => b.deflate(level).create(name),
                (None, true) => b.shuffle().create(name),
                (None, false) => b.create(name),
            }
        }
        _ => b.create(name),
    }
}

/// A dataset written in blocks of rows, chunked along its first axis and
/// unlimited there: memory holds one block, not the dataset. Finish it with
/// [`Appender::into_dataset`]: a gzip dataset's last, partial chunk is
/// written then.
pub struct Appender {
    ds: H5Dataset,
    size: usize,
    rows: usize,
    row_elems: usize,
    /// A gzip dataset's chunks, compressed here (see `pack`).
    pack: Option<pack::Packer>,
}

impl Appender {
    /// A new, empty dataset of `dt` elements whose rows have `row_shape`
    /// (empty: a 1-D dataset). A chunked storage is required; without one,
    /// 65,536 elements a chunk, uncompressed.
    pub fn new(
        g: &H5Group,
        name: &str,
        dt: DatatypeMessage,
        row_shape: &[usize],
        st: Storage,
    ) -> Result<Appender> {
        let size = dt.element_size() as usize;
        let row_elems: usize = row_shape.iter().product::<usize>().max(1);
        let rows = st.chunk_rows.unwrap_or_else(|| (65_536 / row_elems).max(1));
        let mut shape = vec![0usize];
        shape.extend_from_slice(row_shape);
        let mut chunk = vec![rows.max(1)];
        chunk.extend(row_shape.iter().map(|d| (*d).max(1)));
        let mut max: Vec<Option<usize>> = vec![None];
        max.extend(row_shape.iter().map(|d| Some(*d)));
        macro_rules! build {
            ($t:ty) => {{
                let b = g
                    .new_dataset::<$t>()
                    .datatype(dt)
                    .shape(&shape)
                    .chunk(&chunk)
                    .max_shape(&max);
                match (st.gzip, st.shuffle) {
                    (Some(level), true) => b.shuffle_deflate(level).create(name)?,
                    (Some(level), false) => b.deflate(level).create(name)?,
                    (None, true) => b.shuffle().create(name)?,
                    (None, false) => b.create(name)?,
                }
            }};
        }
        let ds = match size {
            1 => build!(u8),
            2 => build!(u16),
            4 => build!(u32),
            8 => build!(u64),
            _ => {
                return Err(Hdf5Error::InvalidState(format!(
                    "'{name}': cannot stream elements of {size} bytes"
                )))
            }
        };
        let pack = match st.gzip {
            Some(level) => {
                let chunk_bytes = rows.max(1) * row_elems * size;
                Some(pack::Packer::new(level, st.shuffle, size, chunk_bytes)?)
            }
            None => None,
        };
        Ok(Appender {
            ds,
            size,
            rows: 0,
            row_elems,
            pack,
        })
    }

    /// Append whole rows, as bytes in the machine's order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        let row_bytes = self.size * self.row_elems;
        if bytes.is_empty() {
            return Ok(());
        }
        if bytes.len() % row_bytes != 0 {
            return Err(Hdf5Error::InvalidState(format!(
                "{} bytes are not whole rows of {row_bytes}",
                bytes.len()
            )));
        }
        self.rows += bytes.len() / row_bytes;
        if let Some(p) = &mut self.pack {
            p.push(&self.ds, bytes)?;
            let mut dims = self.ds.shape();
            dims[0] = self.rows;
            return self.ds.extend(&dims);
        }
        match self.size {
            1 => self.ds.append(bytes),
            2 => self.ds.append(&words::<2, u16>(bytes, u16::from_ne_bytes)),
            4 => self.ds.append(&words::<4, u32>(bytes, u32::from_ne_bytes)),
            _ => self.ds.append(&words::<8, u64>(bytes, u64::from_ne_bytes)),
        }
    }

    /// The rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The dataset (for its attributes).
    pub fn dataset(&self) -> &H5Dataset {
        &self.ds
    }

    /// The dataset, its last rows written.
    pub fn into_dataset(mut self) -> Result<H5Dataset> {
        if let Some(p) = &mut self.pack {
            p.finish(&self.ds)?;
        }
        Ok(self.ds)
    }
}

/// A dataset of known shape written a block of rows at a time, in order:
/// for a contiguous dataset, which an [`Appender`] (chunked by nature)
/// cannot write.
pub struct RowWriter {
    ds: H5Dataset,
    shape: Vec<usize>,
    size: usize,
    next: usize,
}

impl RowWriter {
    /// A new dataset of `shape` (rows first), stored as `st` says.
    pub fn new(
        g: &H5Group,
        name: &str,
        dt: DatatypeMessage,
        shape: &[usize],
        st: Storage,
    ) -> Result<RowWriter> {
        let size = dt.element_size() as usize;
        let ds = match size {
            1 => create::<u8>(g, name, dt, shape, st)?,
            2 => create::<u16>(g, name, dt, shape, st)?,
            4 => create::<u32>(g, name, dt, shape, st)?,
            8 => create::<u64>(g, name, dt, shape, st)?,
            _ => {
                return Err(Hdf5Error::InvalidState(format!(
                    "'{name}': cannot write elements of {size} bytes by rows"
                )))
            }
        };
        Ok(RowWriter {
            ds,
            shape: shape.to_vec(),
            size,
            next: 0,
        })
    }

    /// Write the next whole rows, as bytes in the machine's order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        let row_bytes = self.size * self.shape.iter().skip(1).product::<usize>().max(1);
        if bytes.is_empty() {
            return Ok(());
        }
        if bytes.len() % row_bytes != 0 {
            return Err(Hdf5Error::InvalidState(format!(
                "{} bytes are not whole rows of {row_bytes}",
                bytes.len()
            )));
        }
        let n = bytes.len() / row_bytes;
        let mut starts = vec![0usize; self.shape.len()];
        starts[0] = self.next;
        let mut counts = self.shape.clone();
        counts[0] = n;
        self.next += n;
        match self.size {
            1 => self.ds.write_slice(&starts, &counts, bytes),
            2 => self.ds.write_slice(
                &starts,
                &counts,
                &words::<2, u16>(bytes, u16::from_ne_bytes),
            ),
            4 => self.ds.write_slice(
                &starts,
                &counts,
                &words::<4, u32>(bytes, u32::from_ne_bytes),
            ),
            _ => self.ds.write_slice(
                &starts,
                &counts,
                &words::<8, u64>(bytes, u64::from_ne_bytes),
            ),
        }
    }

    /// The dataset, done with.
    pub fn into_dataset(self) -> H5Dataset {
        self.ds
    }
}

fn words<const N: usize, T>(bytes: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            from(a)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every writer, then read back with rust-hdf5's own reader.
    #[test]
    fn arrays_strings_and_appends_read_back() {
        let dir = std::env::temp_dir().join(format!("cxg-h5write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.h5");
        let gz = Storage {
            chunk_rows: Some(4),
            gzip: Some(4),
            shuffle: true,
        };
        {
            let f = H5File::create(&path).unwrap();
            let root = f.root_group();
            group_encoding(&root, "anndata", "0.1.0").unwrap();
            let bytes: Vec<u8> = [1.5f32, 2.5, 3.5]
                .iter()
                .flat_map(|v| v.to_ne_bytes())
                .collect();
            write_array(&root, "a", DatatypeMessage::f32_type(), &[3], &bytes, gz).unwrap();
            write_array(&root, "empty", DatatypeMessage::f32_type(), &[0], &[], gz).unwrap();
            let two: Vec<u8> = (0..10i16).flat_map(|v| v.to_ne_bytes()).collect();
            write_array_fast(
                &root,
                "fast",
                DatatypeMessage::i16_type(),
                &[5, 2],
                &two,
                gz,
            )
            .unwrap();
            let s = write_strings(&root, "s", &["x", "é"], gz).unwrap();
            write_strings(&root, "none", &[], gz).unwrap();
            dataset_encoding(&s, "string-array", "0.2.0").unwrap();
            write_scalar_string(&root, "t", "title").unwrap();
            let mut ap =
                Appender::new(&root, "rows", DatatypeMessage::i64_type(), &[2], gz).unwrap();
            for k in 0..5i64 {
                let b: Vec<u8> = [k, -k].iter().flat_map(|v| v.to_ne_bytes()).collect();
                ap.push(&b).unwrap();
            }
            assert_eq!(ap.rows(), 5);
            ap.into_dataset().unwrap();
            let mut rw = RowWriter::new(
                &root,
                "fixed",
                DatatypeMessage::i64_type(),
                &[3, 2],
                Storage::PLAIN,
            )
            .unwrap();
            for k in 0..3i64 {
                let b: Vec<u8> = [k, 10 * k].iter().flat_map(|v| v.to_ne_bytes()).collect();
                rw.push(&b).unwrap();
            }
            f.close().unwrap();
        }
        let f = H5File::open(&path).unwrap();
        assert_eq!(
            f.dataset("a").unwrap().read_raw::<f32>().unwrap(),
            [1.5, 2.5, 3.5]
        );
        assert_eq!(
            f.dataset("s").unwrap().read_vlen_strings().unwrap(),
            ["x", "é"]
        );
        assert!(f
            .dataset("none")
            .unwrap()
            .read_vlen_strings()
            .unwrap()
            .is_empty());
        let fast = f.dataset("fast").unwrap();
        assert_eq!(fast.read_raw::<i16>().unwrap(), (0..10).collect::<Vec<_>>());
        let rows = f.dataset("rows").unwrap();
        assert_eq!(rows.shape(), [5, 2]);
        assert_eq!(
            rows.read_raw::<i64>().unwrap(),
            [0, 0, 1, -1, 2, -2, 3, -3, 4, -4]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Pushes across chunk edges (1 row, 7 rows, 2 rows in chunks of 3),
    /// compressed here, read back whole.
    #[test]
    fn appends_across_chunk_edges() {
        let path =
            std::env::temp_dir().join(format!("cxg-h5write-edges-{}.h5", std::process::id()));
        let three = Storage {
            chunk_rows: Some(3),
            gzip: Some(4),
            shuffle: true,
        };
        {
            let f = H5File::create(&path).unwrap();
            let root = f.root_group();
            let mut ap =
                Appender::new(&root, "edges", DatatypeMessage::u32_type(), &[], three).unwrap();
            for (a, b) in [(0u32, 1u32), (1, 8), (8, 10)] {
                let bytes: Vec<u8> = (a..b).flat_map(|v| v.to_ne_bytes()).collect();
                ap.push(&bytes).unwrap();
            }
            ap.into_dataset().unwrap();
            f.close().unwrap();
        }
        let f = H5File::open(&path).unwrap();
        let edges = f.dataset("edges").unwrap().read_raw::<u32>().unwrap();
        assert_eq!(edges, (0..10).collect::<Vec<_>>());
        std::fs::remove_file(&path).unwrap();
    }
}
