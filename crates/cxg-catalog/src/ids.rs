//! The shapes of the catalogue's ids: UUIDs, and the ids inside Discover
//! and curation API URLs.

/// True when `s` is a canonical textual UUID (8-4-4-4-12 hex digits).
/// Only such ids are put into an API URL path.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// What kind of record an id given by a user names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A bare UUID: the kind is whatever the command expects.
    Bare,
    /// From a collection URL (`.../collections/<uuid>`).
    Collection,
    /// From a dataset URL (an explorer URL `.../e/<uuid>.cxg/`, an API
    /// `.../datasets/<uuid>`, or an asset `<uuid>.h5ad`).
    Dataset,
}

/// The UUID in `text`: a bare UUID, or one taken from a CELLxGENE URL such
/// as the CSV's `collection_url` (`https://cellxgene.cziscience.com/collections/<uuid>`),
/// an explorer URL (`https://cellxgene.cziscience.com/e/<uuid>.cxg/`) or an
/// API URL. `None` when there is no such id.
pub fn id_in(text: &str) -> Option<(IdKind, &str)> {
    let t = text.trim();
    if is_uuid(t) {
        return Some((IdKind::Bare, t));
    }
    let lower = t.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let path = t.split(['?', '#']).next().unwrap_or(t);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(2).collect();
    // the last id-bearing segment wins: /collections/<c>/datasets/<d> is a dataset
    let mut found = None;
    for (i, seg) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1] } else { "" };
        let stem = seg
            .strip_suffix(".cxg")
            .or_else(|| seg.strip_suffix(".h5ad"))
            .or_else(|| seg.strip_suffix(".rds"))
            .unwrap_or(seg);
        if !is_uuid(stem) {
            continue;
        }
        let kind = match prev {
            "collections" => IdKind::Collection,
            "e" | "datasets" => IdKind::Dataset,
            _ if stem.len() != seg.len() => IdKind::Dataset,
            _ => continue,
        };
        found = Some((kind, stem));
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_urls() {
        let c = "6e2974ee-853a-4444-b781-01a428af919f";
        let d = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";
        assert_eq!(id_in(c), Some((IdKind::Bare, c)));
        assert_eq!(id_in(&format!(" {c}\n")), Some((IdKind::Bare, c)));
        assert_eq!(
            id_in(&format!("https://cellxgene.cziscience.com/collections/{c}")),
            Some((IdKind::Collection, c))
        );
        assert_eq!(
            id_in(&format!(
                "https://cellxgene.cziscience.com/collections/{c}/"
            )),
            Some((IdKind::Collection, c))
        );
        assert_eq!(
            id_in(&format!("https://cellxgene.cziscience.com/e/{d}.cxg/")),
            Some((IdKind::Dataset, d))
        );
        assert_eq!(
            id_in(&format!(
                "http://127.0.0.1:1/curation/v1/collections/{c}/datasets/{d}?x=1"
            )),
            Some((IdKind::Dataset, d))
        );
        assert_eq!(
            id_in(&format!(
                "https://datasets.cellxgene.cziscience.com/{d}.h5ad"
            )),
            Some((IdKind::Dataset, d))
        );
        assert_eq!(id_in("https://cellxgene.cziscience.com/collections/"), None);
        assert_eq!(id_in(&format!("https://{c}/x")), None);
        assert_eq!(id_in("collections/6e2974ee"), None);
        assert_eq!(id_in(""), None);
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("ceb895f4-ff9f-403a-b7c3-187a9657ac2c"));
        assert!(is_uuid("CEB895F4-FF9F-403A-B7C3-187A9657AC2C"));
        assert!(!is_uuid("ceb895f4-ff9f-403a-b7c3-187a9657ac2"));
        assert!(!is_uuid("ceb895f4-ff9f-403a-b7c3-187a9657ac2cc"));
        assert!(!is_uuid("ceb895f4xff9f-403a-b7c3-187a9657ac2c"));
        assert!(!is_uuid("../../../../etc/passwd-aaaa-bbbb-cccc"));
        assert!(!is_uuid(""));
    }
}
