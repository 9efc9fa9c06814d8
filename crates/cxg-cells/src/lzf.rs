//! The LZF filter (HDF5 filter 32000, as h5py writes it with
//! `compression="lzf"`, and so `anndata.write_h5ad(compression="lzf")`):
//! a small, bounds-checked decoder registered with `hdf5-reader`, which has
//! no LZF of its own.
//!
//! Format (liblzf): a control byte below 32 starts a run of `ctrl + 1`
//! literal bytes; otherwise its top 3 bits are a length (7 = read one more
//! byte and add it) and its low 5 bits with the next byte an offset back
//! into the output, from which `length + 2` bytes are copied (they may
//! overlap what they produce).

use hdf5_reader::error::{Error, Result};
use hdf5_reader::filters::FilterRegistry;
use hdf5_reader::messages::filter_pipeline::FilterDescription;

/// The registered id of h5py's LZF filter.
const FILTER_LZF: u16 = 32000;

/// Decode `input` into at most `limit` bytes.
fn decompress(input: &[u8], limit: usize) -> std::result::Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(input.len().saturating_mul(4)));
    let mut ip = 0usize;
    let byte = |i: usize| {
        input
            .get(i)
            .copied()
            .ok_or_else(|| format!("LZF data ends early at byte {i}"))
    };
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input
                .get(ip..ip + n)
                .ok_or_else(|| format!("LZF literal run past the end at byte {ip}"))?;
            if out.len() + n > limit {
                return Err(format!("LZF output exceeds {limit} bytes"));
            }
            out.extend_from_slice(lit);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(byte(ip)?);
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(byte(ip)?) + 1;
            ip += 1;
            len += 2;
            if back > out.len() {
                return Err(format!(
                    "LZF back reference {back} before the start at output byte {}",
                    out.len()
                ));
            }
            if out.len() + len > limit {
                return Err(format!("LZF output exceeds {limit} bytes"));
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    Ok(out)
}

fn filter(desc: &FilterDescription, data: &[u8], _elem: usize) -> Result<Vec<u8>> {
    // h5py records the chunk's byte size as the third parameter
    let size = desc.client_data.get(2).copied().unwrap_or(0) as usize;
    let limit = if size > 0 {
        size
    } else {
        data.len().saturating_mul(256).max(1 << 20)
    };
    decompress(data, limit).map_err(Error::DecompressionError)
}

/// The reader's filters plus LZF.
pub fn registry() -> FilterRegistry {
    let mut r = FilterRegistry::new();
    r.register(FILTER_LZF, Box::new(filter));
    r.register(
        crate::inflate::FILTER_DEFLATE,
        Box::new(crate::inflate::filter),
    );
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_overlapping_back_references() {
        // "abc" literal, then copy 6 bytes from 3 back: "abcabcabc"
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 100).unwrap(), b"abcabcabc");
        // a long match (length byte follows): 7 + 3 + 2 = 12 copies of 'x'
        let data = [0, b'x', (7 << 5), 3, 0];
        assert_eq!(decompress(&data, 100).unwrap(), vec![b'x'; 13]);
    }

    #[test]
    fn hostile_input_is_an_error() {
        assert!(decompress(&[5, b'a'], 100).is_err()); // run past the end
        assert!(decompress(&[(1 << 5), 9], 100).is_err()); // reference before start
        assert!(decompress(&[0, b'a', (7 << 5)], 100).is_err()); // ends in a match
        assert!(decompress(&[3, 1, 2, 3, 4], 2).is_err()); // over the limit
    }
}
