//! Words of the reports on stderr that term resolution writes too.

/// A value as the user could type it again: quoted unless plain.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_-.".contains(c))
    {
        s.to_string()
    } else {
        format!("'{s}'")
    }
}

/// `1 record`, `2 records`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
