//! The jq expression engine (jaq-core with jaq-std and jaq-json), wrapped
//! so that tools compile an expression once, report syntax errors with
//! their position before reading any input, and run it on each record.

use crate::error::{Error, Result};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{compile, data::JustLut, Compiler, Ctx, Vars};
pub use jaq_json::Val;
use serde::Deserialize;

type D = JustLut<Val>;

/// A compiled jq expression.
pub struct Program {
    filter: jaq_core::Filter<D>,
}

/// 1-based line and column of byte `offset` in `code`.
fn line_col(code: &str, offset: usize) -> (usize, usize) {
    let before = &code[..offset.min(code.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn at(code: &str, part: &str) -> String {
    // The offset of `part` inside `code` (end of code if it is not there).
    let (c, p) = (code.as_ptr() as usize, part.as_ptr() as usize);
    let off = if p >= c && p <= c + code.len() {
        p - c
    } else {
        code.len()
    };
    let (line, col) = line_col(code, off);
    let found = if part.is_empty() {
        "end of expression".to_string()
    } else {
        format!("'{}'", part.chars().take(20).collect::<String>())
    };
    if code.contains('\n') {
        format!("line {line}, column {col} (at {found})")
    } else {
        format!("column {col} (at {found})")
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

impl Program {
    /// Compile `code`; `what` names the expression in messages (for
    /// example `--where` or `column 'year'`).
    pub fn compile(code: &str, what: &str) -> Result<Program> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs::<D>()
            .chain(jaq_std::funs::<D>())
            .chain(jaq_json::funs::<D>());
        let arena = Arena::default();
        let loader = Loader::new(defs);
        let bad = |msg: String| Error::input(format!("{what}: {msg}: {code}"));
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| {
                let msgs: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, e)| match e {
                        jaq_core::load::Error::Io(v) => {
                            v.into_iter().map(|(p, m)| format!("{p}: {m}")).collect()
                        }
                        jaq_core::load::Error::Lex(v) => v
                            .into_iter()
                            .map(|(exp, found)| {
                                format!(
                                    "syntax error at {}: expected {}",
                                    at(code, found),
                                    exp.as_str()
                                )
                            })
                            .collect(),
                        jaq_core::load::Error::Parse(v) => v
                            .into_iter()
                            .map(|(exp, found)| {
                                format!(
                                    "syntax error at {}: expected {}",
                                    at(code, found),
                                    exp.as_str()
                                )
                            })
                            .collect::<Vec<_>>(),
                    })
                    .collect();
                bad(msgs.join("; "))
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let msgs: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, v)| v)
                    .map(|(name, undef): (&str, compile::Undefined)| {
                        format!(
                            "undefined {} '{name}' at {}",
                            undef.as_str(),
                            at(code, name)
                        )
                    })
                    .collect();
                bad(msgs.join("; "))
            })?;
        Ok(Program { filter })
    }

    /// Run on `input`; every output value, or the first error as text.
    pub fn run(&self, input: Val) -> std::result::Result<Vec<Val>, String> {
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for r in self.filter.id.run((ctx, input)) {
            match r {
                Ok(v) => out.push(v),
                Err(exn) => {
                    return Err(match exn.get_err() {
                        Ok(e) => e.to_string(),
                        Err(_) => "the expression halted".to_string(),
                    })
                }
            }
        }
        Ok(out)
    }

    /// True when the first output is neither `false` nor `null` (jq's
    /// `select` rule); an expression with no output is false.
    pub fn is_truthy(&self, input: Val) -> std::result::Result<bool, String> {
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
        match self.filter.id.run((ctx, input)).next() {
            None => Ok(false),
            Some(Ok(v)) => Ok(!matches!(v, Val::Null | Val::Bool(false))),
            Some(Err(exn)) => Err(match exn.get_err() {
                Ok(e) => e.to_string(),
                Err(_) => "the expression halted".to_string(),
            }),
        }
    }
}

/// Convert a serde_json value (key order kept) to a jq value.
pub fn to_val(v: &serde_json::Value) -> Val {
    // Deserializing from a `Value` cannot fail: every JSON value has a Val.
    Val::deserialize(v).unwrap_or(Val::Null)
}

/// Parse JSON text straight into a jq value.
pub fn parse_val(bytes: &[u8]) -> std::result::Result<Val, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Val::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run1(code: &str, input: serde_json::Value) -> Vec<String> {
        let p = Program::compile(code, "test").unwrap();
        p.run(to_val(&input))
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    #[test]
    fn runs_std_filters() {
        let d = serde_json::json!({"tissue": [{"label": "a"}, {"label": "b"}], "n": 3});
        assert_eq!(
            run1("[.tissue[].label] | join(\" | \")", d.clone()),
            ["\"a | b\""]
        );
        assert_eq!(run1(".n + 1", d.clone()), ["4"]);
        assert_eq!(run1(".missing // \"x\"", d.clone()), ["\"x\""]);
        assert_eq!(run1(".tissue | any(.label == \"b\")", d), ["true"]);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = Program::compile(".a | (", "--where").unwrap_err();
        assert_eq!(e.exit, crate::Exit::Input);
        assert!(
            e.msg.starts_with("--where: syntax error at column"),
            "{}",
            e.msg
        );
        let e = Program::compile(".a | nosuchfn(1)", "--where").unwrap_err();
        assert!(
            e.msg.contains("undefined filter 'nosuchfn' at column 6"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn truthiness() {
        let p = Program::compile(".a", "t").unwrap();
        assert!(p.is_truthy(to_val(&serde_json::json!({"a": 0}))).unwrap());
        assert!(!p
            .is_truthy(to_val(&serde_json::json!({"a": null})))
            .unwrap());
        assert!(!p.is_truthy(to_val(&serde_json::json!({}))).unwrap());
        let p = Program::compile("empty", "t").unwrap();
        assert!(!p.is_truthy(Val::Null).unwrap());
        let p = Program::compile(".a.b", "t").unwrap();
        assert!(p.is_truthy(to_val(&serde_json::json!({"a": 1}))).is_err());
    }
}
