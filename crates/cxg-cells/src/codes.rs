//! The codes of a categorical column, one per cell (-1 = missing), kept
//! as narrow as the file stores them: anndata writes int8 codes up to 127
//! categories and int16 past them, so most columns take one byte a cell
//! instead of the four an i32 would — a quarter of the memory to fill
//! (each page of it a fault) and to scan.

/// One code per cell, -1 for a missing value.
#[derive(Debug, Clone, PartialEq)]
pub enum Codes {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
}

/// A stored code: read as an i32, and a vector of them as [`Codes`].
pub trait Code: Copy {
    /// A missing value (-1).
    const MISSING: Self;
    fn wide(self) -> i32;
    fn wrap(v: Vec<Self>) -> Codes;
}

/// The one impl of [`Code`] for each stored width.
macro_rules! code_width {
    ($t:ty, $variant:ident) => {
        impl Code for $t {
            const MISSING: $t = -1;
            fn wide(self) -> i32 {
                i32::from(self)
            }
            fn wrap(v: Vec<$t>) -> Codes {
                Codes::$variant(v)
            }
        }
    };
}

code_width!(i8, I8);
code_width!(i16, I16);
code_width!(i32, I32);

/// `$body` with `$v` bound to the vector of whichever width `$codes` has.
macro_rules! each_width {
    ($codes:expr, $v:ident => $body:expr) => {
        match $codes {
            Codes::I8($v) => $body,
            Codes::I16($v) => $body,
            Codes::I32($v) => $body,
        }
    };
}

impl From<Vec<i32>> for Codes {
    fn from(v: Vec<i32>) -> Codes {
        Codes::I32(v)
    }
}

impl Default for Codes {
    fn default() -> Codes {
        Codes::I8(Vec::new())
    }
}

impl Codes {
    pub fn len(&self) -> usize {
        each_width!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The code of cell `i`.
    pub fn get(&self, i: usize) -> Option<i32> {
        each_width!(self, v => v.get(i).map(|c| c.wide()))
    }

    /// Call `f` with every cell's code, in order.
    pub fn each(&self, mut f: impl FnMut(i32)) {
        each_width!(self, v => v.iter().for_each(|c| f(c.wide())))
    }

    /// Call `f` with each cell's item of `items` and its code, in order
    /// (as far as both go).
    pub fn each_with<T>(&self, items: &mut [T], mut f: impl FnMut(&mut T, i32)) {
        each_width!(self, v => items.iter_mut().zip(v.iter()).for_each(|(t, c)| f(t, c.wide())))
    }

    /// Call `f` with each cell's code and `other`'s code of the same cell,
    /// until `f` returns false (or either column ends); false if it did.
    pub fn zip_while(&self, other: &Codes, mut f: impl FnMut(i32, i32) -> bool) -> bool {
        each_width!(self, a => each_width!(other, b => {
            a.iter().zip(b.iter()).all(|(x, y)| f(x.wide(), y.wide()))
        }))
    }

    /// The codes of the cells at `at` (positions; one out of range is
    /// left out).
    pub fn gather(&self, at: &[usize]) -> Codes {
        each_width!(self, v => Code::wrap(at.iter().filter_map(|&i| v.get(i).copied()).collect()))
    }

    /// The first cell whose code is neither missing (-1) nor one of `n`
    /// categories: (cell, code).
    pub fn first_outside(&self, n: i64) -> Option<(usize, i32)> {
        each_width!(self, v => v
            .iter()
            .map(|c| c.wide())
            .enumerate()
            .find(|&(_, c)| c < -1 || i64::from(c) >= n))
    }

    /// Mark missing (-1) every cell for which `missing(cell, code)` holds.
    pub fn mark_missing(&mut self, missing: impl FnMut(usize, i32) -> bool) {
        each_width!(self, v => mark(v, missing))
    }
}

fn mark<C: Code>(v: &mut [C], mut missing: impl FnMut(usize, i32) -> bool) {
    for (i, c) in v.iter_mut().enumerate() {
        if missing(i, c.wide()) {
            *c = C::MISSING;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn widths(v: &[i32]) -> Vec<Codes> {
        vec![
            Codes::I8(v.iter().map(|&c| c as i8).collect()),
            Codes::I16(v.iter().map(|&c| c as i16).collect()),
            Codes::I32(v.to_vec()),
        ]
    }

    #[test]
    fn every_width_reads_the_same() {
        let v = [0, -1, 3, 2, -1, 1];
        for c in widths(&v) {
            assert_eq!(c.len(), 6);
            assert_eq!(c.get(2), Some(3));
            assert_eq!(c.get(6), None);
            let mut all = Vec::new();
            c.each(|x| all.push(x));
            assert_eq!(all, v);
            let mut got = Vec::new();
            c.gather(&[5, 0, 2]).each(|x| got.push(x));
            assert_eq!(got, [1, 0, 3]);
            assert_eq!(c.first_outside(4), None);
            assert_eq!(c.first_outside(3), Some((2, 3)));
            let mut flags = vec![0; 5];
            c.each_with(&mut flags, |f, code| *f = code);
            assert_eq!(flags, [0, -1, 3, 2, -1]);
            let mut m = c.clone();
            m.mark_missing(|i, code| i == 0 || code == 2);
            let mut after = Vec::new();
            m.each(|x| after.push(x));
            assert_eq!(after, [-1, -1, 3, -1, -1, 1]);
        }
        assert_eq!(Codes::I8(vec![-2]).first_outside(5), Some((0, -2)));
    }

    #[test]
    fn zipped_across_widths_until_told_to_stop() {
        for a in widths(&[0, 1, 2, 3]) {
            for b in widths(&[3, 2, 1, 0]) {
                let mut pairs = Vec::new();
                assert!(a.zip_while(&b, |x, y| {
                    pairs.push((x, y));
                    true
                }));
                assert_eq!(pairs, [(0, 3), (1, 2), (2, 1), (3, 0)]);
                let mut seen = 0;
                assert!(!a.zip_while(&b, |x, _| {
                    seen += 1;
                    x < 1
                }));
                assert_eq!(seen, 2);
            }
        }
    }
}
