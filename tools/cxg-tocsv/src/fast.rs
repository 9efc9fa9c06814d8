//! Columns evaluated without jq: a constant, a chain of plain paths
//! (`.a.b // .c`) and a few shapes the presets use. Anything else (and
//! any case whose answer would be an error, to get jaq's message) runs the
//! jq program; the table test holds both to the same answers.

use cxg_json::jq::Val;
use cxg_json::raw::{as_str, scan, Form};

/// The plan, shared by the worker threads (jq values are not `Sync`).
#[derive(Clone, Debug)]
pub(crate) enum FastSpec {
    Null,
    Bool(bool),
    Str(String),
    Paths(Vec<Vec<String>>),
    /// `[.a.b[]?.c]`: field c of every element
    Collect(Vec<String>, String),
    /// `.a.b // ANYTHING`: `.a.b` when it is truthy, else jq runs
    FirstOr(Vec<String>),
    /// `.a.b[N]? | .c // .d`
    Index(Vec<String>, usize, Vec<Vec<String>>),
}

/// The plan with its jq values, made on each worker thread.
pub(crate) enum Fast {
    Collect(Vec<Val>, Val),
    FirstOr(Vec<Val>),
    Index(Vec<Val>, usize, Vec<Vec<Val>>),
    Const(Val),
    Paths(Vec<Vec<Val>>),
}

impl FastSpec {
    pub(crate) fn realize(&self) -> Fast {
        match self {
            FastSpec::Null => Fast::Const(Val::Null),
            FastSpec::Bool(b) => Fast::Const(Val::Bool(*b)),
            FastSpec::Str(s) => Fast::Const(Val::utf8_str(s.clone())),
            FastSpec::Paths(ps) => Fast::Paths(
                ps.iter()
                    .map(|p| p.iter().map(|k| Val::utf8_str(k.clone())).collect())
                    .collect(),
            ),
            FastSpec::Collect(p, f) => Fast::Collect(keys(p), Val::utf8_str(f.clone())),
            FastSpec::FirstOr(p) => Fast::FirstOr(keys(p)),
            FastSpec::Index(p, n, alts) => {
                Fast::Index(keys(p), *n, alts.iter().map(|a| keys(a)).collect())
            }
        }
    }
}

fn keys(p: &[String]) -> Vec<Val> {
    p.iter().map(|k| Val::utf8_str(k.clone())).collect()
}

/// The byte offsets of `//`, `|` and `,` outside parentheses, brackets,
/// braces and string literals; `None` when the text is unbalanced.
fn top_level_ops(e: &str) -> Option<Vec<(usize, &'static str)>> {
    let b = e.as_bytes();
    let (mut depth, mut i, mut ops) = (0i32, 0usize, Vec::new());
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'/' if depth == 0 && b.get(i + 1) == Some(&b'/') => {
                ops.push((i, "//"));
                i += 1;
            }
            b'|' if depth == 0 => ops.push((i, "|")),
            b',' if depth == 0 => ops.push((i, ",")),
            _ => {}
        }
        if depth < 0 {
            return None;
        }
        i += 1;
    }
    (depth == 0 && i >= b.len()).then_some(ops)
}

/// The plan for `expr`, when it has one.
pub(crate) fn fast_for(expr: &str) -> Option<FastSpec> {
    let spec = fast_simple(expr);
    if spec.is_some() {
        return spec;
    }
    let e = expr.trim();
    let ops = top_level_ops(e)?;
    // `.a.b // REST`, with nothing of lower precedence (| ,) at the top
    if let [(i, "//"), rest @ ..] = ops.as_slice() {
        if rest.iter().all(|(_, op)| *op == "//") {
            return path_keys(&e[..*i]).map(FastSpec::FirstOr);
        }
    }
    // `.a.b[N]? | .c // .d`
    if let [(i, "|"), rest @ ..] = ops.as_slice() {
        if rest.iter().all(|(_, op)| *op == "//") {
            let head = e[..*i].trim().strip_suffix("]?")?;
            let (p, n) = head.rsplit_once('[')?;
            let n: usize = n.trim().parse().ok()?;
            let p = path_keys(p)?;
            let FastSpec::Paths(alts) = fast_simple(&e[*i + 1..])? else {
                return None;
            };
            return Some(FastSpec::Index(p, n, alts));
        }
    }
    None
}

fn fast_simple(expr: &str) -> Option<FastSpec> {
    let e = expr.trim();
    match e {
        "null" => return Some(FastSpec::Null),
        "true" => return Some(FastSpec::Bool(true)),
        "false" => return Some(FastSpec::Bool(false)),
        _ => {}
    }
    if e.starts_with('"') {
        scan(e.as_bytes(), Form::Check, &mut Vec::new(), None).ok()?;
        return as_str(e.as_bytes()).map(|s| FastSpec::Str(s.into_owned()));
    }
    if let Some(inner) = e.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let (p, field) = inner.trim().split_once("[]?.")?;
        let p = path_keys(p)?;
        let field = path_keys(&format!(".{field}"))?;
        return match field.as_slice() {
            [f] => Some(FastSpec::Collect(p, f.clone())),
            _ => None,
        };
    }
    e.split("//")
        .map(path_keys)
        .collect::<Option<Vec<_>>>()
        .map(FastSpec::Paths)
}

/// `.a.b.c` as its keys (plain identifiers only).
fn path_keys(p: &str) -> Option<Vec<String>> {
    let rest = p.trim().strip_prefix('.')?;
    rest.split('.')
        .map(|k| {
            let ok = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            ok.then(|| k.to_string())
        })
        .collect()
}

fn walk(v: &Val, keys: &[Val]) -> Option<Val> {
    walk_ref(v, keys).map(|x| x.cloned().unwrap_or(Val::Null))
}

/// What `.k1.k2...` gives: `Some(None)` for null, `None` on a type error.
fn walk_ref<'a>(v: &'a Val, keys: &[Val]) -> Option<Option<&'a Val>> {
    let mut cur = v;
    for k in keys {
        match cur {
            Val::Obj(m) => match m.get(k) {
                Some(x) => cur = x,
                None => return Some(None),
            },
            Val::Null => return Some(None),
            _ => return None, // a type error: jaq names it
        }
    }
    Some(Some(cur))
}

/// The value jq would give, or `None` to run the program instead.
fn eval_paths(ps: &[Vec<Val>], v: &Val) -> Option<Val> {
    for (i, p) in ps.iter().enumerate() {
        let x = walk(v, p)?;
        if i + 1 == ps.len() || !matches!(x, Val::Null | Val::Bool(false)) {
            return Some(x);
        }
    }
    None
}

/// The value jq would give `v`, or `None` to run the program instead.
pub(crate) fn eval_fast(f: &Fast, v: &Val) -> Option<Val> {
    match f {
        Fast::Const(c) => Some(c.clone()),
        Fast::FirstOr(p) => walk(v, p).filter(|x| !matches!(x, Val::Null | Val::Bool(false))),
        Fast::Index(p, n, alts) => {
            let item = match walk_ref(v, p)? {
                None => Val::Null,
                Some(Val::Arr(a)) => a.get(*n).cloned().unwrap_or(Val::Null),
                Some(_) => return None,
            };
            eval_paths(alts, &item)
        }
        Fast::Collect(p, field) => {
            let items: Vec<&Val> = match walk_ref(v, p)? {
                Some(Val::Arr(a)) => a.iter().collect(),
                Some(Val::Obj(m)) => m.values().collect(),
                _ => Vec::new(), // `[]?` on anything else gives nothing
            };
            let mut out = Vec::with_capacity(items.len());
            for x in items {
                match x {
                    Val::Obj(m) => out.push(m.get(field).cloned().unwrap_or(Val::Null)),
                    Val::Null => out.push(Val::Null),
                    _ => return None, // a type error: jaq names it
                }
            }
            Some(Val::Arr(out.into()))
        }
        Fast::Paths(ps) => eval_paths(ps, v),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cxg_json::jq::{parse_val, Program};

    #[test]
    fn fast_columns_agree_with_jq() {
        for e in [
            ".a",
            ".a.b",
            ".a // .c",
            ".a.b // .c.d // .e",
            "null",
            "true",
            "\"x\\\"y\"",
        ] {
            assert!(fast_for(e).is_some(), "{e}");
        }
        for e in [
            ".a // .b | .c",
            ".a // .b, .c",
            "(.a // .b)",
            ".a[0] | .b",
            ".a | .b",
            "\"a\\(1)\"",
            ".\"a\"",
            ". // 1",
            "[.a]",
            "1",
        ] {
            assert!(fast_for(e).is_none(), "{e}");
        }
        let docs = [
            r#"{"t":[{"label":"lung","x":1},{"x":2},null],"c":{"d":{"k":{"x":1.50},"j":{}}}}"#,
            r#"{"t":"s","c":{"d":[1]},"a":[{"b":false}]}"#,
            r#"{"t":{"a":{"label":"q"}},"a":3}"#,
            r#"{"a":{"b":1.50},"c":{"d":"x"},"e":2}"#,
            r#"{"a":null,"c":{"d":null},"e":false}"#,
            r#"{"a":false,"c":null}"#,
            r#"{"a":{"b":false},"c":{"d":[1]},"e":"z"}"#,
            r#"{"a":"str","c":3}"#,
        ];
        for e in [
            ".a",
            ".a.b",
            ".a // .c",
            ".a.b // .c.d // .e",
            "\"x\\\"y\"",
            "null",
            "[.t[]?.label]",
            "[.c.d[]?.x]",
            "[.a[]?.b]",
            ".c.d // \"z\"",
            ".a.b // (.c | tostring)",
            ".t[0]? | .label // .x",
            ".a[1]? | .b",
        ] {
            let f = fast_for(e).unwrap().realize();
            let p = Program::compile(e, "t").unwrap();
            let mut direct = 0;
            for d in docs {
                let v = parse_val(d.as_bytes()).unwrap();
                let jq = p.run(v.clone());
                // None: jaq runs instead, which is always right
                if let Some(x) = eval_fast(&f, &v) {
                    direct += 1;
                    assert_eq!(jq.unwrap(), vec![x], "{e} on {d}")
                }
            }
            assert!(direct >= 1, "{e}: never evaluated directly");
        }
    }
}
