//! Counting distinct keys (one per cell of a numeric column) by an
//! LSD radix sort: a byte a pass, skipping the bytes every key shares
//! (an int32's high bytes are mostly the same) — then counting runs;
//! 32-bit keys for values of up to four bytes. Several times faster than a
//! comparison sort on a million keys, and the memory is two key vectors.

/// A key the radix sort orders: its bytes, lowest first.
pub trait Key: Copy + Ord + Default {
    const BYTES: usize;
    fn byte(self, i: usize) -> usize;
}

impl Key for u64 {
    const BYTES: usize = 8;
    fn byte(self, i: usize) -> usize {
        ((self >> (8 * i)) & 0xff) as usize
    }
}

impl Key for u32 {
    const BYTES: usize = 4;
    fn byte(self, i: usize) -> usize {
        ((self >> (8 * i)) & 0xff) as usize
    }
}

/// The number of distinct values among `keys` (which it reorders).
pub fn count<K: Key>(keys: &mut Vec<K>) -> u64 {
    radix_sort(keys);
    let mut n = 0u64;
    let mut last = None;
    for &k in keys.iter() {
        if last != Some(k) {
            n += 1;
            last = Some(k);
        }
    }
    n
}

/// Sort `keys` ascending, byte by byte from the lowest.
fn radix_sort<K: Key>(keys: &mut Vec<K>) {
    if keys.len() < 512 {
        keys.sort_unstable();
        return;
    }
    let counts = histograms(keys);
    let mut spare = vec![K::default(); keys.len()];
    for (byte, count) in counts.iter().enumerate().take(K::BYTES) {
        if count.contains(&keys.len()) {
            continue;
        }
        let mut start = [0usize; 256];
        let mut sum = 0;
        for (s, c) in start.iter_mut().zip(count) {
            *s = sum;
            sum += c;
        }
        for &k in keys.iter() {
            let b = k.byte(byte);
            spare[start[b]] = k;
            start[b] += 1;
        }
        std::mem::swap(keys, &mut spare);
    }
}

/// How many keys have each value of each byte.
fn histograms<K: Key>(keys: &[K]) -> [[usize; 256]; 8] {
    let mut counts = [[0usize; 256]; 8];
    for &k in keys {
        for (byte, count) in counts.iter_mut().enumerate().take(K::BYTES) {
            count[k.byte(byte)] += 1;
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

    #[test]
    fn counts_as_sort_and_dedup_do() {
        let f32_like = 0xffff_ffff_e000_0000;
        for (n, mask) in [
            (0, u64::MAX),
            (1, u64::MAX),
            (511, 0xff),
            (5_000, u64::MAX),
            (5_000, 0x3f),
            (20_000, f32_like),
            (20_000, 0xffff_0000_0000_00ff),
        ] {
            let mut v = keys(n, 0x9e37_79b9_7f4a_7c15, mask);
            let mut sorted = v.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(
                count(&mut v),
                sorted.len() as u64,
                "{n} keys, mask {mask:x}"
            );
            assert!(v.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn counts_32_bit_keys_too() {
        for (n, mask) in [(5_000, u64::MAX), (20_000, 0xff00_ff00)] {
            let mut v: Vec<u32> = keys(n, 7, mask).into_iter().map(|k| k as u32).collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(
                count(&mut v),
                sorted.len() as u64,
                "{n} keys, mask {mask:x}"
            );
        }
    }

    #[test]
    fn one_value_everywhere_is_one() {
        let mut v = vec![42u64; 10_000];
        assert_eq!(count(&mut v), 1);
    }
}
