//! "Did you mean": the known labels closest to a misspelt value.

/// Edit distance between two char slices, a swap of two neighbours
/// counting as one edit (optimal string alignment): "brian" is one edit
/// from "brain".
fn distance(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, x) in d.iter_mut().take(w).enumerate() {
        *x = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// Up to `n` candidates closest to `value` (without regard to case), the
/// closest first. In order: a slip of one edit (`lugn` → lung); a label
/// that starts with the value (`covid` → COVID-19); a label with a word
/// that starts with it (`parenchyma` → lung parenchyma); more edits, up to
/// about a third of the value's length; a label that holds the value
/// anywhere, or that the value holds. Within each, the label closest in
/// length first, then the order given. A candidate is (text compared, text
/// suggested): a synonym suggests its term's label.
pub fn closest(value: &str, candidates: &[(&str, &str)], n: usize) -> Vec<String> {
    let v: Vec<char> = value.trim().to_lowercase().chars().collect();
    let vs: String = v.iter().collect();
    if v.is_empty() {
        return Vec::new();
    }
    let limit = (v.len() / 3).max(2);
    // (class, rank within it, length difference, order given, text suggested)
    let mut scored: Vec<(u8, usize, usize, usize, &str)> = Vec::new();
    for (k, (c, shown)) in candidates.iter().enumerate() {
        let lc = c.to_lowercase();
        if lc.is_empty() {
            continue;
        }
        let len = lc.chars().count();
        let diff = len.abs_diff(v.len());
        let contains = lc.contains(&vs);
        // cheap bound first: too far in length to be a slip, and no overlap
        if diff > limit && !contains && !(vs.contains(&lc) && len > 2) {
            continue;
        }
        let score = if lc.starts_with(&vs) && v.len() >= 2 {
            // (a one-edit slip can still rank before it, below)
            Some((1, diff))
        } else if v.len() >= 3
            && lc
                .split(|ch: char| !ch.is_alphanumeric())
                .any(|w| w.starts_with(&vs))
        {
            Some((2, diff))
        } else {
            None
        };
        let d = if diff <= limit {
            distance(&v, &lc.chars().collect::<Vec<_>>())
        } else {
            usize::MAX
        };
        let class = match (d, score) {
            (0..=1, _) => Some((0, d)),
            (_, Some(s)) => Some(s),
            (d, None) if d <= limit => Some((3, d)),
            _ if contains || (vs.contains(&lc) && len > 2) => Some((4, 0)),
            _ => None,
        };
        if let Some((class, rank)) = class {
            scored.push((class, rank, diff, k, shown));
        }
    }
    scored.sort();
    let mut out: Vec<String> = Vec::new();
    for (.., c) in scored {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
            out.push(c.to_string());
        }
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_labels() {
        let c = ["lung", "lung parenchyma", "brain", "blood", "liver", "Lung"].map(|c| (c, c));
        assert_eq!(closest("lugn", &c, 3), ["lung"]);
        assert_eq!(closest("brian", &c, 3), ["brain"]);
        assert_eq!(closest("parenchyma", &c, 3), ["lung parenchyma"]);
        assert!(closest("xyzzy", &c, 3).is_empty());
        assert_eq!(distance(&['a', 'b'], &['b', 'a']), 1);
        assert_eq!(distance(&['a', 'b', 'c'], &['c', 'b', 'a']), 2);
        // a synonym suggests its term's label; a short value finds a short label
        let c = [("lung", "lung"), ("pulmo", "lung"), ("liver", "liver")];
        assert_eq!(closest("pulmp", &c, 3), ["lung"]);
        assert_eq!(closest("lng", &c, 3), ["lung"]);
    }

    #[test]
    fn a_prefix_beats_a_short_label_at_the_same_distance() {
        // as on the real files: 'covid' and '10x' found their labels behind
        // three-letter cell lines and syndromes before
        let c = [
            "1A2",
            "90C",
            "10x technology",
            "10x 3' v3",
            "CINCA syndrome",
            "COVID-19",
            "organ",
            "brain",
        ]
        .map(|c| (c, c));
        assert_eq!(closest("10x", &c, 2), ["10x 3' v3", "10x technology"]);
        assert_eq!(closest("covid", &c, 3), ["COVID-19"]);
        assert_eq!(closest("brian", &c, 3), ["brain", "organ"]);
        assert_eq!(
            closest("adult", &[("adult stage", "adult stage")], 3),
            ["adult stage"]
        );
    }
}
