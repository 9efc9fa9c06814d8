//! The chunks of a gzip dataset compressed here, with libdeflate, and
//! handed to rust-hdf5 as they are (HDF5's direct chunk write): the same
//! filters and level as the dataset declares (shuffle, deflate), the same
//! zlib streams any HDF5 reader inflates, at about twice the speed of
//! rust-hdf5's own flate2 at level 4 on the bench file's X (deflating the
//! kept values is most of what cxg-subset's writing costs).

use crate::{H5Dataset, Hdf5Error, Result};

/// Rows waiting for a whole chunk, and what compresses them.
pub(crate) struct Packer {
    compressor: libdeflater::Compressor,
    shuffle: bool,
    /// Bytes of one element, of one chunk.
    size: usize,
    chunk_bytes: usize,
    pending: Vec<u8>,
    /// The next chunk's index along the first axis.
    next: usize,
    out: Vec<u8>,
    shuffled: Vec<u8>,
}

impl Packer {
    /// For chunks of `chunk_bytes` bytes of `size`-byte elements.
    pub(crate) fn new(
        level: u32,
        shuffle: bool,
        size: usize,
        chunk_bytes: usize,
    ) -> Result<Packer> {
        let lvl = libdeflater::CompressionLvl::new(level.clamp(0, 9) as i32)
            .map_err(|_| Hdf5Error::InvalidState(format!("gzip level {level}")))?;
        Ok(Packer {
            compressor: libdeflater::Compressor::new(lvl),
            shuffle,
            size: size.max(1),
            chunk_bytes: chunk_bytes.max(1),
            pending: Vec::new(),
            next: 0,
            out: Vec::new(),
            shuffled: Vec::new(),
        })
    }

    /// Take `bytes` (whole rows); write every chunk they complete.
    pub(crate) fn push(&mut self, ds: &H5Dataset, mut bytes: &[u8]) -> Result<()> {
        // complete the pending chunk first, then whole chunks straight from
        // `bytes`: only a chunk's worth is ever copied aside
        if !self.pending.is_empty() {
            let take = (self.chunk_bytes - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < self.chunk_bytes {
                return Ok(());
            }
            let chunk = std::mem::take(&mut self.pending);
            self.write(ds, &chunk)?;
            self.pending = chunk;
            self.pending.clear();
        }
        let whole = bytes.len() / self.chunk_bytes * self.chunk_bytes;
        for chunk in bytes[..whole].chunks_exact(self.chunk_bytes) {
            self.write(ds, chunk)?;
        }
        self.pending.extend_from_slice(&bytes[whole..]);
        Ok(())
    }

    /// Write the last, partial chunk (filled with zeros, as HDF5 stores an
    /// edge chunk whole).
    pub(crate) fn finish(&mut self, ds: &H5Dataset) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut last = std::mem::take(&mut self.pending);
        last.resize(self.chunk_bytes, 0);
        self.write(ds, &last)
    }

    fn write(&mut self, ds: &H5Dataset, chunk: &[u8]) -> Result<()> {
        let input = if self.shuffle && self.size > 1 {
            shuffle(chunk, self.size, &mut self.shuffled);
            &self.shuffled[..]
        } else {
            chunk
        };
        self.out
            .resize(self.compressor.zlib_compress_bound(input.len()), 0);
        let n = self
            .compressor
            .zlib_compress(input, &mut self.out)
            .map_err(|e| Hdf5Error::InvalidState(format!("deflate: {e}")))?;
        ds.write_chunk_raw(self.next, &self.out[..n], 0)?;
        self.next += 1;
        Ok(())
    }
}

/// HDF5's shuffle filter: the first bytes of every element, then the
/// second bytes, and so on.
fn shuffle(chunk: &[u8], size: usize, out: &mut Vec<u8>) {
    let n = chunk.len() / size;
    out.clear();
    out.resize(chunk.len(), 0);
    for (i, e) in chunk.chunks_exact(size).enumerate() {
        for (j, b) in e.iter().enumerate() {
            out[j * n + i] = *b;
        }
    }
    // bytes past whole elements (none in a chunk of elements) stay last
    out[n * size..].copy_from_slice(&chunk[n * size..]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn shuffle_groups_bytes_by_position() {
        let mut out = Vec::new();
        super::shuffle(&[1, 2, 3, 4, 5, 6], 2, &mut out);
        assert_eq!(out, [1, 3, 5, 2, 4, 6]);
    }
}
