//! A 1-D chunked dataset's values in order, its chunks inflated on a
//! thread of their own: the reader decodes while the caller selects and
//! compresses, so the two costs of a subset (inflating every chunk of the
//! source, deflating the kept share) run on two cores. Memory holds the
//! few chunks in the channel, not the dataset.

use crate::h5::{At, R};
use hdf5_reader::{Dataset, Datatype};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes of chunks decoded ahead of the caller, per dataset: enough to
/// keep the readers busy while the caller compresses a block, and the
/// other reader when one waits. On the bench file's chunks of 97 kB:
/// 4 chunks ahead waited a third of the time; 32 took 1.43 s, 64 1.40 s,
/// 128 1.38 s, 512 no less (15 interleaved runs; 512 took 131 MB).
const AHEAD_BYTES: usize = 12 << 20;

/// The most chunks ahead: the channel allocates a slot for each at once,
/// and tiny chunks (a few values each) would otherwise ask for millions.
const AHEAD_MAX: usize = 1024;

/// The chunks ahead, for chunks of `chunk_bytes`: at least two, so that
/// chunks of many MB (rare, but HDF5 allows up to 4 GB) are held two at a
/// time, not [`AHEAD_BYTES`] worth; at most [`AHEAD_MAX`].
fn ahead(chunk_bytes: usize) -> usize {
    (AHEAD_BYTES / chunk_bytes.max(1)).clamp(2, AHEAD_MAX)
}

/// Whether [`Cursor`] can read `d`: 1-D, chunked, its values stored in the
/// machine's byte order (the chunk bytes are used as they are).
pub(crate) fn streamable(d: &Dataset) -> bool {
    let native = |o: &hdf5_reader::ByteOrder| {
        let little = matches!(o, hdf5_reader::ByteOrder::LittleEndian);
        little == cfg!(target_endian = "little")
    };
    let ordered = match d.dtype() {
        Datatype::FixedPoint {
            size, byte_order, ..
        }
        | Datatype::FloatingPoint { size, byte_order } => *size == 1 || native(byte_order),
        _ => false,
    };
    ordered && d.shape().len() == 1 && d.chunks().is_some_and(|c| c.len() == 1 && c[0] > 0)
}

/// Decode the chunks of `d` in order and send them to `tx` until the
/// receiver hangs up or an error (sent as the last message). A panic
/// inside the reader becomes an error too.
pub(crate) fn feed(d: &Dataset, tx: SyncSender<R<hdf5_reader::DatasetChunk>>, place: &str) {
    let run = || -> R<()> {
        for c in d.iter_chunks().at(place)? {
            let c = c.at(place)?;
            if tx.send(Ok(c)).is_err() {
                return Ok(());
            }
        }
        Ok(())
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        Err(format!(
            "{place}: the HDF5 library failed while reading the chunks"
        ))
    });
    if let Err(e) = r {
        let _ = tx.send(Err(e));
    }
}

/// The channel a [`feed`] sends to, and the [`Cursor`] reading from it.
pub(crate) fn channel(
    d: &Dataset,
    place: &str,
) -> R<(SyncSender<R<hdf5_reader::DatasetChunk>>, Cursor)> {
    let chunk_bytes = chunk_len(d, place)? as usize * d.raw_element_size().at(place)?;
    let (tx, rx) = sync_channel(ahead(chunk_bytes));
    Ok((tx, Cursor::new(d, rx, place)?))
}

/// The values in one chunk of a 1-D dataset.
fn chunk_len(d: &Dataset, place: &str) -> R<u64> {
    d.chunks()
        .and_then(|c| c.first().copied())
        .map(u64::from)
        .ok_or_else(|| format!("{place}: not chunked"))
}

/// The values of a dataset read forwards, a range at a time.
pub(crate) struct Cursor {
    rx: Receiver<R<hdf5_reader::DatasetChunk>>,
    /// The current chunk's bytes (a chunk not stored: its fill values).
    chunk: Option<hdf5_reader::DatasetChunk>,
    gap: Vec<u8>,
    /// The values of the current chunk: `start..end`.
    start: u64,
    end: u64,
    /// A chunk received ahead of values not stored before it.
    pending: Option<hdf5_reader::DatasetChunk>,
    /// The values in the dataset, the values a chunk, bytes a value.
    n: u64,
    per_chunk: u64,
    esz: usize,
    fill: Vec<u8>,
    place: String,
}

impl Cursor {
    fn new(d: &Dataset, rx: Receiver<R<hdf5_reader::DatasetChunk>>, place: &str) -> R<Cursor> {
        let esz = d.raw_element_size().at(place)?;
        let per_chunk = chunk_len(d, place)?;
        let fill = d
            .fill_value()
            .and_then(|f| f.value.clone())
            .filter(|v| v.len() == esz)
            .unwrap_or_else(|| vec![0; esz]);
        Ok(Cursor {
            rx,
            chunk: None,
            gap: Vec::new(),
            start: 0,
            end: 0,
            pending: None,
            n: d.shape().first().copied().unwrap_or(0),
            per_chunk: per_chunk.max(1),
            esz,
            fill,
            place: place.to_string(),
        })
    }

    /// Append the bytes of values `a..b` to `out`; `a` is not before the
    /// end of the previous range.
    pub(crate) fn copy(&mut self, mut a: u64, b: u64, out: &mut Vec<u8>) -> R<()> {
        if b > self.n {
            return Err(format!("{}: values {a}..{b} out of range", self.place));
        }
        while a < b {
            while a >= self.end {
                self.advance()?;
            }
            if a < self.start {
                return Err(format!("{}: values read out of order", self.place));
            }
            let e = b.min(self.end);
            let (s, t) = (
                (a - self.start) as usize * self.esz,
                (e - self.start) as usize * self.esz,
            );
            let bytes = match &self.chunk {
                Some(c) => c.bytes(),
                None => &self.gap,
            };
            let part = bytes
                .get(s..t)
                .ok_or_else(|| format!("{}: a chunk shorter than its shape", self.place))?;
            out.extend_from_slice(part);
            a = e;
        }
        Ok(())
    }

    /// The next chunk: the next stored one, or fill values for chunks
    /// never written (before the next stored one, or after the last).
    fn advance(&mut self) -> R<()> {
        let at = self.end;
        let c = match self.pending.take() {
            Some(c) => Some(c),
            None => match self.rx.recv() {
                Ok(c) => Some(c?),
                Err(_) => None,
            },
        };
        let Some(c) = c else {
            return self.fill_gap(at, self.n);
        };
        let off = c.offsets().first().copied().unwrap_or(u64::MAX);
        if off < at || off % self.per_chunk != 0 {
            return Err(format!("{}: chunks not stored in order", self.place));
        }
        if off > at {
            self.pending = Some(c);
            return self.fill_gap(at, off);
        }
        self.take(c, off)
    }

    fn take(&mut self, c: hdf5_reader::DatasetChunk, off: u64) -> R<()> {
        self.start = off;
        self.end = (off + self.per_chunk).min(self.n);
        self.chunk = Some(c);
        Ok(())
    }

    /// Values `a..b` are in no stored chunk: fill values, a chunk at a time.
    fn fill_gap(&mut self, a: u64, b: u64) -> R<()> {
        if a >= b {
            return Err(format!(
                "{}: fewer values stored than its shape",
                self.place
            ));
        }
        let e = b.min(a + self.per_chunk);
        self.gap.clear();
        for _ in a..e {
            self.gap.extend_from_slice(&self.fill);
        }
        self.chunk = None;
        self.start = a;
        self.end = e;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::engine::{with_limits, Limits};
    use crate::rows::Rows;
    use crate::sparse::{matrix, Cells};
    use cxg_h5write::{self as w, DatatypeMessage, H5File, Storage};
    use std::path::{Path, PathBuf};

    /// indptr, indices, data.
    type Csr = (Vec<i64>, Vec<i64>, Vec<f32>);

    /// Cells and values of the test matrix: row r holds (r % 5) + 1 values.
    const N: usize = 40;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("cxg-subset-stream-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// An N × N sparse matrix (CSR, or CSC when `!csr`) stored in chunks
    /// of 7 values, gzip: many chunks, and rows across their edges.
    /// `damage`: the indices' fourth chunk is not deflate.
    fn source(path: &Path, csr: bool, damage: bool) -> (Vec<i64>, Vec<i32>, Vec<f32>) {
        let (mut ptr, mut idx, mut val) = (vec![0i64], Vec::new(), Vec::new());
        for r in 0..N {
            for k in 0..(r % 5) + 1 {
                idx.push(((r * 7 + k * 3) % N) as i32);
                val.push((r * 100 + k) as f32);
            }
            ptr.push(idx.len() as i64);
        }
        let f = H5File::create(path).unwrap();
        let g = f.root_group().create_group("X").unwrap();
        let kind = if csr { "csr_matrix" } else { "csc_matrix" };
        w::group_encoding(&g, kind, "0.1.0").unwrap();
        g.set_attr_array_numeric("shape", &[N as i64, N as i64])
            .unwrap();
        let st = Storage {
            chunk_rows: Some(7),
            gzip: Some(4),
            shuffle: false,
        };
        let le = |v: &[u8]| v.to_vec();
        let vb: Vec<u8> = val.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let ib: Vec<u8> = idx.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let pb: Vec<u8> = ptr.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let n = [val.len()];
        w::write_array_fast(&g, "data", DatatypeMessage::f32_type(), &n, &le(&vb), st).unwrap();
        let ix =
            w::write_array_fast(&g, "indices", DatatypeMessage::i32_type(), &n, &ib, st).unwrap();
        if damage {
            ix.write_chunk_raw(3, b"not deflate at all", 0).unwrap();
        }
        w::write_array_fast(&g, "indptr", DatatypeMessage::i64_type(), &[N + 1], &pb, st).unwrap();
        f.close().unwrap();
        (ptr, idx, val)
    }

    /// The subset of `src`'s X written to `dst`: its indptr, indices, data.
    fn subset(
        src: &Path,
        dst: &Path,
        csr: bool,
        cells: Cells,
        mask: &[bool],
        stream: bool,
    ) -> Result<Csr, String> {
        let f = crate::h5::open(src)?;
        let g = f.root_group().unwrap().group("X").unwrap();
        let rows = Rows::new(mask);
        let limits = Limits {
            window_values: 3,
            block_bytes: 64,
            stream_chunks: stream,
        };
        let out = H5File::create(dst).unwrap();
        with_limits(limits, || {
            matrix(&g, &out.root_group(), "X", csr, cells, &rows, "X")
        })?;
        out.close().unwrap();
        let o = crate::h5::open(dst)?;
        let ints = |n: &str| {
            let d = o.dataset(&format!("X/{n}")).unwrap();
            crate::h5::read_ints(&d, None, n).unwrap()
        };
        let data = o.dataset("X/data").unwrap().read_array::<f32>().unwrap();
        Ok((
            ints("indptr"),
            ints("indices"),
            data.iter().copied().collect(),
        ))
    }

    /// Read chunk by chunk on threads, and in windows: the same matrix,
    /// for rows, columns and both axes of cells.
    #[test]
    fn streamed_chunks_equal_windows() {
        let d = dir();
        for (csr, cells) in [
            (true, Cells::Rows),
            (false, Cells::Rows),
            (true, Cells::Both),
        ] {
            let src = d.join(format!("src-{csr}.h5"));
            source(&src, csr, false);
            for every in [1usize, 2, 3] {
                let mask: Vec<bool> = (0..N).map(|i| i % every == 0 || i == N - 1).collect();
                let a = subset(&src, &d.join("a.h5"), csr, cells, &mask, true).unwrap();
                let b = subset(&src, &d.join("b.h5"), csr, cells, &mask, false).unwrap();
                assert_eq!(a, b, "csr {csr} {cells:?} every {every}");
                assert!(!a.2.is_empty());
            }
        }
        // every row kept: the matrix as it was
        let src = d.join("src-true.h5");
        let (ptr, idx, val) = source(&src, true, false);
        let all = subset(&src, &d.join("a.h5"), true, Cells::Rows, &[true; N], true).unwrap();
        let idx: Vec<i64> = idx.iter().map(|i| *i as i64).collect();
        assert_eq!(all, (ptr, idx, val));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// The read-ahead is counted in bytes: 128 of the bench file's chunks,
    /// two of 64 MB ones, and no more than AHEAD_MAX of tiny ones.
    #[test]
    fn read_ahead_is_bounded_by_bytes() {
        assert_eq!(super::ahead(24_415 * 4), 128);
        assert_eq!(super::ahead(64 << 20), 2);
        assert_eq!(super::ahead(4), super::AHEAD_MAX);
    }

    /// A damaged chunk met by a reader thread is the matrix's error, named.
    #[test]
    fn a_damaged_chunk_is_an_error_of_its_dataset() {
        let d = dir().join("damaged");
        std::fs::create_dir_all(&d).unwrap();
        let src = d.join("src.h5");
        source(&src, true, true);
        let e = subset(&src, &d.join("a.h5"), true, Cells::Rows, &[true; N], true).unwrap_err();
        assert!(e.starts_with("X/indices"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
