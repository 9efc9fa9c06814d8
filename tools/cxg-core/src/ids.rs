//! Checks that guard URL paths and file names.

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

/// Why `s` cannot be used as (part of) a file name inside an output
/// folder, or `None` when it is safe: non-empty, no `/`, `\`, NUL or other
/// control characters, and not `.` or `..`.
pub fn unsafe_name_reason(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        Some("it is empty")
    } else if s == "." || s == ".." {
        Some("it is '.' or '..'")
    } else if s.contains('/') || s.contains('\\') {
        Some("it contains a path separator")
    } else if s.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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

    #[test]
    fn names() {
        assert_eq!(unsafe_name_reason("collection_x.json"), None);
        assert_eq!(unsafe_name_reason("héllo wörld, \"q\""), None);
        assert!(unsafe_name_reason("").is_some());
        assert!(unsafe_name_reason(".").is_some());
        assert!(unsafe_name_reason("..").is_some());
        assert!(unsafe_name_reason("a/b").is_some());
        assert!(unsafe_name_reason("a\\b").is_some());
        assert!(unsafe_name_reason("a\0b").is_some());
        assert!(unsafe_name_reason("a\nb").is_some());
        assert!(unsafe_name_reason("a\u{7f}b").is_some());
    }
}
