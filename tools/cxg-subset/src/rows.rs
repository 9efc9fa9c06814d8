//! The cells kept: their positions in the source, and each source cell's
//! position in the output (-1: dropped).

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rows {
    /// Source positions of the kept cells, ascending.
    pub(crate) keep: Vec<u64>,
    /// For each source cell, its output position, or -1.
    pub(crate) new_of: Vec<i64>,
}

impl Rows {
    pub(crate) fn new(mask: &[bool]) -> Rows {
        let mut keep = Vec::new();
        let mut new_of = Vec::with_capacity(mask.len());
        for (i, k) in mask.iter().enumerate() {
            if *k {
                new_of.push(keep.len() as i64);
                keep.push(i as u64);
            } else {
                new_of.push(-1);
            }
        }
        Rows { keep, new_of }
    }

    /// Cells in the source.
    pub(crate) fn n(&self) -> u64 {
        self.new_of.len() as u64
    }

    /// Cells kept.
    pub(crate) fn kept(&self) -> usize {
        self.keep.len()
    }

    /// The kept rows of `bytes`, rows of `row_bytes` each, the first at
    /// source row `first`.
    pub(crate) fn select(
        &self,
        bytes: &[u8],
        row_bytes: usize,
        first: u64,
        keep: &[u64],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(keep.len() * row_bytes);
        for r in keep {
            let a = (*r - first) as usize * row_bytes;
            out.extend_from_slice(&bytes[a..a + row_bytes]);
        }
        out
    }

    /// The kept rows in windows of at most `span` source rows each: the
    /// rows of a window are read in one go.
    pub(crate) fn windows(&self, span: u64) -> Vec<&[u64]> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.keep.len() {
            let start = self.keep[i];
            let mut j = i + 1;
            while j < self.keep.len() && self.keep[j] < start + span.max(1) {
                j += 1;
            }
            out.push(&self.keep[i..j]);
            i = j;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_selection_and_windows() {
        let r = Rows::new(&[true, false, true, true, false, true]);
        assert_eq!(r.keep, [0, 2, 3, 5]);
        assert_eq!(r.new_of, [0, -1, 1, 2, -1, 3]);
        assert_eq!((r.n(), r.kept()), (6, 4));
        let bytes: Vec<u8> = (0..12).collect();
        assert_eq!(r.select(&bytes, 2, 0, &r.keep), [0, 1, 4, 5, 6, 7, 10, 11]);
        assert_eq!(r.windows(3), [&[0u64, 2][..], &[3, 5][..]]);
        assert_eq!(r.windows(1).len(), 4);
        assert!(Rows::new(&[false, false]).windows(8).is_empty());
    }
}
