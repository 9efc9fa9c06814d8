//! Counting distinct keys (one per cell of a numeric column).
//!
//! 64-bit keys: an LSD radix sort, eleven bits a pass (six passes),
//! skipping the digits every key shares (an int64's high bits are mostly
//! the same), then counting runs. Several times faster than a comparison
//! sort on a million keys; the memory is two key vectors.
//!
//! 32-bit keys (values of up to four bytes, nearly every column): one
//! scatter by the top eleven bits, then each bucket marks its low 21 bits
//! in a bitmap of 256 kB, which stays in the cache — a key seen for the
//! first time is a distinct value. Two passes over the keys where the
//! radix sort takes four.

/// Bits of a key sorted in one pass.
const BITS: u32 = 11;
const BUCKETS: usize = 1 << BITS;

/// Digit `i` (of [`BITS`] bits, lowest first) of a 64-bit key.
fn digit(k: u64, i: usize) -> usize {
    ((k >> (BITS as usize * i)) as usize) & (BUCKETS - 1)
}

/// Digits of a 64-bit key.
const DIGITS: usize = 64usize.div_ceil(BITS as usize);

/// The number of distinct 64-bit `keys` (which it reorders).
pub fn count(keys: &mut Vec<u64>) -> u64 {
    radix_sort(keys);
    runs(keys)
}

/// The number of runs of equal keys in sorted `keys`: its distinct keys.
fn runs<K: PartialEq>(keys: &[K]) -> u64 {
    let breaks = keys.windows(2).filter(|w| w[0] != w[1]).count();
    if keys.is_empty() {
        0
    } else {
        breaks as u64 + 1
    }
}

/// Low bits of a 32-bit key marked in the bitmap; the rest pick its bucket.
const LOW: u32 = 32 - BITS;

/// The vectors one thread counts distinct values with, kept from column
/// to column: a few MB each, which fresh allocations would fault in from
/// the kernel again for every column.
///
/// Only the vectors of the width being counted are kept: a thread that
/// goes from a 32-bit column to a 64-bit one frees the former's first.
#[derive(Default)]
pub struct Scratch {
    keys32: Vec<u32>,
    keys64: Vec<u64>,
    spare: Vec<u32>,
    seen: Vec<u64>,
}

impl Scratch {
    /// The vector to fill with a column's 32-bit keys (values of up to
    /// four bytes), the 64-bit one freed.
    pub fn keys32(&mut self) -> &mut Vec<u32> {
        self.keys64 = Vec::new();
        &mut self.keys32
    }

    /// The vector to fill with a column's 64-bit keys, the 32-bit ones
    /// freed.
    pub fn keys64(&mut self) -> &mut Vec<u64> {
        self.keys32 = Vec::new();
        self.spare = Vec::new();
        &mut self.keys64
    }

    /// The number of distinct values among `keys32` (which it reorders).
    pub fn count32(&mut self) -> u64 {
        let keys = &mut self.keys32;
        if keys.len() < 4 * BUCKETS {
            keys.sort_unstable();
            return runs(keys);
        }
        let mut start = vec![0usize; BUCKETS + 1];
        for &k in keys.iter() {
            start[(k >> LOW) as usize + 1] += 1;
        }
        for b in 1..=BUCKETS {
            start[b] += start[b - 1];
        }
        self.spare.resize(keys.len(), 0);
        let mut next = start.clone();
        for &k in keys.iter() {
            let b = (k >> LOW) as usize;
            self.spare[next[b]] = k;
            next[b] += 1;
        }
        std::mem::swap(keys, &mut self.spare);
        self.seen.resize((1usize << LOW) / 64, 0);
        let seen = &mut self.seen;
        let mut n = 0u64;
        for b in 0..BUCKETS {
            let bucket = &keys[start[b]..start[b + 1]];
            for &k in bucket {
                let low = (k & ((1 << LOW) - 1)) as usize;
                let (word, bit) = (low / 64, 1u64 << (low % 64));
                n += u64::from(seen[word] & bit == 0);
                seen[word] |= bit;
            }
            for &k in bucket {
                seen[(k & ((1 << LOW) - 1)) as usize / 64] = 0;
            }
        }
        n
    }

    /// The number of distinct values among `keys64` (which it reorders).
    pub fn count64(&mut self) -> u64 {
        count(&mut self.keys64)
    }
}

/// Sort `keys` ascending, digit by digit from the lowest.
fn radix_sort(keys: &mut Vec<u64>) {
    if keys.len() < 4 * BUCKETS {
        keys.sort_unstable();
        return;
    }
    let counts = histograms(keys);
    let mut spare = vec![0u64; keys.len()];
    for (d, count) in counts.iter().enumerate() {
        if count.contains(&keys.len()) {
            continue;
        }
        let mut start = vec![0usize; BUCKETS];
        let mut sum = 0;
        for (s, c) in start.iter_mut().zip(count) {
            *s = sum;
            sum += c;
        }
        for &k in keys.iter() {
            let b = digit(k, d);
            spare[start[b]] = k;
            start[b] += 1;
        }
        std::mem::swap(keys, &mut spare);
    }
}

/// How many keys have each value of each digit.
fn histograms(keys: &[u64]) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0usize; BUCKETS]; DIGITS];
    for &k in keys {
        for (d, count) in counts.iter_mut().enumerate() {
            count[digit(k, d)] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so no dependency.
    fn keys(n: usize, seed: u64, mask: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x & mask
            })
            .collect()
    }

    /// The reference: sort, then count what is left after dedup.
    fn by_sort<K: Ord + Clone>(v: &[K]) -> u64 {
        let mut sorted = v.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() as u64
    }

    #[test]
    fn counts_as_sort_and_dedup_do() {
        let f32_like = 0xffff_ffff_e000_0000;
        for (n, mask) in [
            (0, u64::MAX),
            (1, u64::MAX),
            (511, 0xff),
            (50_000, u64::MAX),
            (50_000, 0x3f),
            (30_000, f32_like),
            (20_000, 0xffff_0000_0000_00ff),
        ] {
            let mut v = keys(n, 0x9e37_79b9_7f4a_7c15, mask);
            let want = by_sort(&v);
            assert_eq!(count(&mut v), want, "{n} keys, mask {mask:x}");
            assert!(v.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn the_bitmap_counts_as_sort_and_dedup_do() {
        let mut scratch = Scratch::default();
        for (n, mask) in [
            (0, u64::MAX),
            (3, u64::MAX),
            (8_191, 0xffff),
            (8_192, u64::MAX),
            (100_000, u64::MAX),
            (100_000, 0x3f),
            (100_000, 0xffe0_0000),
            (100_000, 0x001f_ffff),
            (100_000, 0xff80_0fff),
        ] {
            *scratch.keys32() = keys(n, 11, mask).into_iter().map(|k| k as u32).collect();
            let want = by_sort(&scratch.keys32);
            assert_eq!(scratch.count32(), want, "{n} keys, mask {mask:x}");
            assert!(
                scratch.seen.iter().all(|w| *w == 0),
                "the bitmap is left clear"
            );
        }
        *scratch.keys32() = vec![u32::MAX; 10_000];
        assert_eq!(scratch.count32(), 1);
        *scratch.keys64() = vec![7, 7, 8];
        assert_eq!(scratch.count64(), 2);
        assert!(scratch.keys32.capacity() == 0 && scratch.spare.capacity() == 0);
    }

    #[test]
    fn one_value_everywhere_is_one() {
        let mut v = vec![42u64; 10_000];
        assert_eq!(count(&mut v), 1);
    }
}
