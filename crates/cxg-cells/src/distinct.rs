//! Counting distinct 64-bit keys (one per cell of a numeric column) by an
//! LSD radix sort: a byte a pass, skipping the bytes every key shares —
//! a float32 widened to f64 has three zero low bytes, an int32 the same
//! high bytes — then counting runs. Several times faster than a
//! comparison sort on a million keys, and the memory is two key vectors.

/// The number of distinct values among `keys` (which it reorders).
pub fn count(keys: &mut Vec<u64>) -> u64 {
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
fn radix_sort(keys: &mut Vec<u64>) {
    if keys.len() < 512 {
        keys.sort_unstable();
        return;
    }
    let counts = histograms(keys);
    let mut spare = vec![0u64; keys.len()];
    for (byte, count) in counts.iter().enumerate() {
        if count.contains(&keys.len()) {
            continue;
        }
        let mut start = [0usize; 256];
        let mut sum = 0;
        for (s, c) in start.iter_mut().zip(count) {
            *s = sum;
            sum += c;
        }
        let shift = 8 * byte as u32;
        for &k in keys.iter() {
            let b = ((k >> shift) & 0xff) as usize;
            spare[start[b]] = k;
            start[b] += 1;
        }
        std::mem::swap(keys, &mut spare);
    }
}

/// How many keys have each value of each byte.
fn histograms(keys: &[u64]) -> [[usize; 256]; 8] {
    let mut counts = [[0usize; 256]; 8];
    for &k in keys {
        for (byte, count) in counts.iter_mut().enumerate() {
            count[((k >> (8 * byte)) & 0xff) as usize] += 1;
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
    fn one_value_everywhere_is_one() {
        let mut v = vec![42u64; 10_000];
        assert_eq!(count(&mut v), 1);
    }
}
