//! The jq expression engine (jaq-core with jaq-std and jaq-json), wrapped
//! so that tools compile an expression once, report syntax errors with
//! their position before reading any input, and run it on each record.

use cxg_core::error::{Error, Result};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{compile, data::JustLut, Compiler, Ctx, Vars};
pub use jaq_json::Val;
use serde::Deserialize;
use std::cell::Cell;

type D = JustLut<Val>;

/// How much native stack an expression may use below the point where it
/// started, checked each time a function the user defined is entered. A
/// runaway recursion (`def f: 1 + f; f`) ends with an error instead of
/// overflowing the stack and aborting the process. Every thread that runs
/// expressions has at least 2 MiB (Rust's default for spawned threads).
pub const STACK_BUDGET: usize = 1 << 20;

/// The message of the error a runaway recursion ends with; tools treat it
/// as a fault of the expression (exit 2), not of the record.
pub const RECURSION_ERROR: &str = "recursion too deep";

thread_local! {
    /// Address of a local in the frame that started the current evaluation.
    static STACK_BASE: Cell<usize> = const { Cell::new(0) };
}

/// The approximate address of the current stack frame.
#[inline(never)]
fn stack_here() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// True when `msg` (an error from [`Program::run`] or
/// [`Program::is_truthy`]) is the recursion guard's.
pub fn is_recursion_error(msg: &str) -> bool {
    msg.contains(RECURSION_ERROR)
}

/// The guard's error, once the evaluation used more than [`STACK_BUDGET`]
/// bytes of stack; `None` while there is room.
fn over_budget() -> Option<jaq_core::Error<Val>> {
    let base = STACK_BASE.with(Cell::get);
    let used = base.saturating_sub(stack_here());
    (base != 0 && used > STACK_BUDGET).then(|| {
        jaq_core::Error::str(format!(
            "{RECURSION_ERROR}: the expression used more than {} KiB of stack \
             (a function that calls itself without end?)",
            STACK_BUDGET >> 10
        ))
    })
}

/// The guard inserted at the start of every function the user defines and
/// around every use of a filter argument: the identity (in plain runs,
/// paths and updates alike), or an error once the evaluation used more
/// than [`STACK_BUDGET`] bytes of stack.
fn guard_fun() -> jaq_core::native::Fun<D> {
    let run: jaq_core::RunPtr<D> = |cv| {
        Box::new(std::iter::once(match over_budget() {
            Some(e) => Err(jaq_core::Exn::from(e)),
            None => Ok(cv.1),
        }))
    };
    let paths: jaq_core::PathsPtr<D> = |cv| {
        Box::new(std::iter::once(match over_budget() {
            Some(e) => Err(jaq_core::Exn::from(e)),
            None => Ok(cv.1),
        }))
    };
    let update: jaq_core::UpdatePtr<D> = |cv, f| match over_budget() {
        Some(e) => Box::new(std::iter::once(Err(jaq_core::Exn::from(e)))),
        None => f(cv.1),
    };
    (
        "_cxg_guard",
        Box::new([]),
        jaq_core::Native::<D>::new(run)
            .with_paths(paths)
            .with_update(update),
    )
}

fn offset(code: &str, s: &str) -> usize {
    s.as_ptr() as usize - code.as_ptr() as usize
}

type Toks<'a> = [jaq_core::load::lex::Token<&'a str>];

/// Uses of any of `params` in `toks` (not called with arguments).
fn param_uses(code: &str, toks: &Toks<'_>, params: &[&str], out: &mut Vec<(usize, usize)>) {
    use jaq_core::load::lex::{StrPart, Tok, Token};
    for (i, Token(text, tok)) in toks.iter().enumerate() {
        match tok {
            Tok::Word if params.contains(text) => {
                let called =
                    matches!(toks.get(i + 1), Some(Token(t, Tok::Block(_))) if t.starts_with('('));
                if !called {
                    let o = offset(code, text);
                    out.push((o, o + text.len()));
                }
            }
            Tok::Block(inner) => param_uses(code, inner, params, out),
            Tok::Str(parts) => {
                for part in parts {
                    if let StrPart::Term(Token(_, Tok::Block(inner))) = part {
                        param_uses(code, inner, params, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Collect the guard points of `toks` (see [`guard_points`]).
fn walk_defs(code: &str, toks: &Toks<'_>, bodies: &mut Vec<usize>, args: &mut Vec<(usize, usize)>) {
    use jaq_core::load::lex::{StrPart, Tok, Token};
    for (i, Token(text, tok)) in toks.iter().enumerate() {
        match tok {
            Tok::Word if *text == "def" => {
                // def NAME [ (ARGS) ] : BODY ;
                let mut j = i + 2;
                let mut params: Vec<&str> = Vec::new();
                if let Some(Token(_, Tok::Block(inner))) = toks.get(j) {
                    params = inner
                        .iter()
                        .filter_map(|Token(t, k)| matches!(k, Tok::Word).then_some(*t))
                        .collect();
                    j += 1;
                }
                let Some(Token(colon, Tok::Sym)) = toks.get(j) else {
                    continue;
                };
                if *colon != ":" {
                    continue;
                }
                bodies.push(offset(code, colon) + 1);
                // the body runs to the `;` that closes this definition
                let mut k = j + 1;
                let mut depth = 0usize;
                while let Some(Token(t, tk)) = toks.get(k) {
                    match (tk, *t) {
                        (Tok::Word, "def") => depth += 1,
                        (Tok::Sym, ";") if depth == 0 => break,
                        (Tok::Sym, ";") => depth -= 1,
                        _ => {}
                    }
                    k += 1;
                }
                if !params.is_empty() {
                    param_uses(code, &toks[j + 1..k.min(toks.len())], &params, args);
                }
            }
            Tok::Block(inner) => walk_defs(code, inner, bodies, args),
            Tok::Str(parts) => {
                for part in parts {
                    if let StrPart::Term(Token(_, Tok::Block(inner))) = part {
                        walk_defs(code, inner, bodies, args);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Where the guard goes in `code`: byte offsets just after the `:` of every
/// `def NAME(...):` (in string interpolations too), and the byte ranges of
/// every use of a filter argument (`f` in `def g(f): ...`) in that
/// definition's body, where a chain of closures can grow the stack without
/// entering any function. Found with jaq's own lexer.
fn guard_points(code: &str) -> (Vec<usize>, Vec<(usize, usize)>) {
    let (mut bodies, mut args) = (Vec::new(), Vec::new());
    if let Ok(toks) = jaq_core::load::Lexer::new(code).lex() {
        walk_defs(code, &toks, &mut bodies, &mut args);
    }
    args.sort_unstable();
    args.dedup();
    (bodies, args)
}

/// `code` with the guard at the start of every function body and around
/// every use of a filter argument.
fn guarded(code: &str) -> Option<String> {
    let (bodies, args) = guard_points(code);
    if bodies.is_empty() {
        return None;
    }
    let mut edits: Vec<(usize, usize, String)> = bodies
        .into_iter()
        .map(|o| (o, o, " _cxg_guard | ".to_string()))
        .chain(
            args.into_iter()
                .map(|(a, b)| (a, b, format!("(_cxg_guard | {})", &code[a..b]))),
        )
        .collect();
    edits.sort_by_key(|e| (e.0, e.1));
    let mut s = String::with_capacity(code.len() + edits.len() * 16);
    let mut last = 0;
    for (a, b, text) in edits {
        if a < last {
            continue;
        }
        s.push_str(&code[last..a]);
        s.push_str(&text);
        last = b;
    }
    s.push_str(&code[last..]);
    Some(s)
}

/// Run `f` with the stack base of a new evaluation recorded (nested calls
/// keep the outer base).
fn with_base<R>(f: impl FnOnce() -> R) -> R {
    let here = stack_here();
    let outer = STACK_BASE.with(|b| b.replace(here));
    let r = f();
    if outer != 0 {
        STACK_BASE.with(|b| b.set(outer));
    } else {
        STACK_BASE.with(|b| b.set(0));
    }
    r
}

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
        // Errors are reported against the code as written; the program run
        // is the same code with the recursion guard in every function.
        let plain = Self::compile_code(code, what)?;
        match guarded(code) {
            None => Ok(plain),
            Some(g) => Self::compile_code(&g, what),
        }
    }

    fn compile_code(code: &str, what: &str) -> Result<Program> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs::<D>()
            .chain(jaq_std::funs::<D>())
            .chain(jaq_json::funs::<D>())
            .chain([guard_fun()]);
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
        with_base(|| self.run_inner(input))
    }

    fn run_inner(&self, input: Val) -> std::result::Result<Vec<Val>, String> {
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
        with_base(|| self.is_truthy_inner(input))
    }

    fn is_truthy_inner(&self, input: Val) -> std::result::Result<bool, String> {
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
        assert_eq!(e.exit, cxg_core::Exit::Input);
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

    #[test]
    fn runaway_recursion_is_an_error_not_an_abort() {
        for code in [
            "def f: 1 + f; f",
            "def f(x): [x, f(x)]; f(.)",
            "\"\\(def g: g + 1; g)\"",
        ] {
            let p = Program::compile(code, "--where").unwrap();
            let e = p.run(Val::Null).unwrap_err();
            assert!(is_recursion_error(&e), "{code}: {e}");
            let e = p.is_truthy(Val::Null).unwrap_err();
            assert!(is_recursion_error(&e), "{code}: {e}");
        }
        // on a thread with Rust's default 2 MiB stack too
        std::thread::spawn(|| {
            let p = Program::compile("def f: 1 + f; f", "t").unwrap();
            assert!(is_recursion_error(&p.run(Val::Null).unwrap_err()));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn bounded_recursion_still_works() {
        let code = "def f: if . >= 200 then . else (. + 1 | f) end; 0 | f";
        assert_eq!(run1(code, serde_json::json!(null)), ["200"]);
        let code = "def fact: if . <= 1 then 1 else . * (. - 1 | fact) end; 10 | fact";
        assert_eq!(run1(code, serde_json::json!(null)), ["3628800"]);
        // definitions after a pipe, with arguments, and in strings
        assert_eq!(
            run1("def inc($n): . + $n; 1 | inc(2)", serde_json::json!(null)),
            ["3"]
        );
        assert_eq!(
            run1("\"x\\(def h: 5; h)\"", serde_json::json!(null)),
            ["\"x5\""]
        );
        assert_eq!(guard_points("\"def f: 1\" | .a"), (vec![], vec![]));
        // paths and updates through guarded functions and arguments
        assert_eq!(
            run1("def f: .a; [path(f)]", serde_json::json!({"a": 1})),
            ["[[\"a\"]]"]
        );
        assert_eq!(
            run1(
                "def upd(f): f |= . + 1; upd(.a)",
                serde_json::json!({"a": 1})
            ),
            ["{\"a\":2}"]
        );
        assert_eq!(
            run1("def g(f): [f, f]; g(.a)", serde_json::json!({"a": 1})),
            ["[1,1]"]
        );
    }
}
