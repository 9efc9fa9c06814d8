//! How deep a jq expression nests, measured on its text before it is
//! parsed. The parser, the compiler and the evaluator recurse once per
//! level (a bracket, or one more operator in a chain such as `1+1+...` or
//! `. | . | ...`), so an expression of a few KB could overflow the stack
//! and abort the process. An expression deeper than [`MAX_DEPTH`] is
//! refused instead (exit 2), as a runaway recursion is.

/// The most levels an expression may nest: brackets, plus the operators of
/// each chain open at once. Far beyond any real column or `--where`, and
/// well within a 2 MiB thread stack in a debug build.
pub const MAX_DEPTH: usize = 256;

/// Words that open one more level (a conditional, a binding, a definition).
const NESTING_WORDS: [&str; 10] = [
    "and", "or", "if", "elif", "as", "def", "reduce", "foreach", "try", "label",
];

/// The deepest nesting of `code`: at each point, the brackets open there
/// plus the operators (and nesting words) met so far at each of their
/// levels. Strings are skipped, but the code of a `\(...)` inside one
/// counts; comments are skipped.
pub fn depth(code: &str) -> usize {
    // per open level: the operators met at it; `true` marks a `\(` level
    // that returns into a string when closed
    let mut levels: Vec<(usize, bool)> = vec![(0, false)];
    let mut ops = 0usize; // sum of the operators over `levels`
    let mut max = 0usize;
    let b = code.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' if b.get(i + 1) == Some(&b'(') => {
                    levels.push((0, true));
                    in_string = false;
                    i += 1;
                }
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => levels.push((0, false)),
            b')' | b']' | b'}' if levels.len() > 1 => {
                let (n, interp) = levels.pop().unwrap_or_default();
                ops -= n;
                in_string = interp;
            }
            b'|' | b',' | b'+' | b'-' | b'*' | b'/' | b'%' | b'=' | b'<' | b'>' | b';' | b'?'
            | b'!' => {
                // a run of operator characters (`|=`, `//`, `?//`) is one
                while i + 1 < b.len() && b"|+-*/%=<>!?".contains(&b[i + 1]) {
                    i += 1;
                }
                add(&mut levels, &mut ops);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_') {
                    i += 1;
                }
                let preceded_by_dot = start > 0 && matches!(b[start - 1], b'.' | b'$');
                if !preceded_by_dot && NESTING_WORDS.contains(&&code[start..=i]) {
                    add(&mut levels, &mut ops);
                }
            }
            _ => {}
        }
        max = max.max(levels.len() - 1 + ops);
        i += 1;
    }
    max
}

fn add(levels: &mut [(usize, bool)], ops: &mut usize) {
    if let Some(l) = levels.last_mut() {
        l.0 += 1;
        *ops += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::depth;

    #[test]
    fn depth_counts_brackets_and_operator_chains_not_strings() {
        let cases = [
            (".", 0),
            (".a.b.c", 0),
            ("(1)", 1),
            ("((1))", 2),
            ("1 + 1 + 1", 2),
            (". | . | .", 2),
            ("[.a, .b] | length", 2),
            ("(1 + 2) * 3", 2),
            ("\"((((+++|||\"", 0),
            ("\"a\\\"(((\" | .", 1),
            ("\"\\(1 + (2))\"", 3),
            ("# ((((((\n.", 0),
            (".x |= . + 1", 2),
            ("if .a and .b then 1 elif .c then 2 else 3 end", 3),
            (".and.or", 0),
        ];
        for (code, want) in cases {
            assert_eq!(depth(code), want, "{code}");
        }
        let parens = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(depth(&parens), 5000);
        assert_eq!(depth(&vec!["1"; 6000].join("+")), 5999);
        assert_eq!(depth(&vec!["."; 6000].join(" | ")), 5999);
    }
}
