//! The safe-name rule for files written inside an output folder.

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
mod tests {
    use super::*;

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
