//! "Did you mean": the known labels closest to a misspelt value.

/// Levenshtein distance between two char slices.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Up to `n` candidates closest to `value` (without regard to case), the
/// closest first; only those within about a third of the value's length,
/// or that contain it or are contained in it. A candidate is (text
/// compared, text suggested): a synonym suggests its term's label.
pub fn closest(value: &str, candidates: &[(&str, &str)], n: usize) -> Vec<String> {
    let v: Vec<char> = value.trim().to_lowercase().chars().collect();
    let vs: String = v.iter().collect();
    let limit = (v.len() / 3).max(2);
    // (distance, length difference, text suggested)
    let mut scored: Vec<(usize, usize, String)> = Vec::new();
    for (c, shown) in candidates {
        let lc = c.to_lowercase();
        if lc.is_empty() {
            continue;
        }
        let cc: Vec<char> = lc.chars().collect();
        // cheap bound first: the length difference
        if cc.len().abs_diff(v.len()) > limit && !lc.contains(&vs) {
            continue;
        }
        let d = if lc.contains(&vs) || (vs.contains(&lc) && cc.len() > 2) {
            cc.len().abs_diff(v.len()).min(limit)
        } else {
            distance(&v, &cc)
        };
        if d <= limit {
            scored.push((d, cc.len().abs_diff(v.len()), (*shown).to_string()));
        }
    }
    // stable: among equals, the order given (ontology labels before data labels)
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, _, c) in scored {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&c)) {
            out.push(c);
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
        assert_eq!(distance(&['a', 'b'], &['b', 'a']), 2);
        // a synonym suggests its term's label; a short value finds a short label
        let c = [("lung", "lung"), ("pulmo", "lung"), ("liver", "liver")];
        assert_eq!(closest("pulmp", &c, 3), ["lung"]);
        assert_eq!(closest("lng", &c, 3), ["lung"]);
    }
}
