//! The jq expression engine (jaq-core with jaq-std and jaq-json), wrapped
//! so that tools compile an expression once, report syntax errors with
//! their position before reading any input, and run it on each record.

use cxg_core::error::{Error, Result};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{compile, data::JustLut, Compiler, Ctx, Vars};
pub use jaq_json::Val;
use std::cell::Cell;
use std::fmt;

type D = JustLut<Val>;

/// How much native stack an expression may use below the point where it
/// started, checked each time a function the user defined is entered. A
/// runaway recursion (`def f: 1 + f; f`) ends with an error instead of
/// overflowing the stack and aborting the process. Every thread that runs
/// expressions has at least 2 MiB (Rust's default for spawned threads).
const STACK_BUDGET: usize = 1 << 20;

/// The start of the message a runaway recursion ends with.
const RECURSION_ERROR: &str = "recursion too deep";

thread_local! {
    /// Address of a local in the frame that started the current evaluation.
    static STACK_BASE: Cell<usize> = const { Cell::new(0) };
    /// The current evaluation ran over its stack budget: from then on
    /// every guard fails, so that a `try` cannot swallow the runaway.
    static TRIPPED: Cell<bool> = const { Cell::new(false) };
}

/// The approximate address of the current stack frame.
#[inline(never)]
fn stack_here() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// The guard's error, once the evaluation used more than [`STACK_BUDGET`]
/// bytes of stack; `None` while there is room.
fn over_budget() -> Option<jaq_core::Error<Val>> {
    let base = STACK_BASE.with(Cell::get);
    let used = base.saturating_sub(stack_here());
    let tripped = TRIPPED.with(Cell::get) || (base != 0 && used > STACK_BUDGET);
    tripped.then(|| {
        TRIPPED.with(|t| t.set(true));
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

/// What jaq's loader found wrong with `code`, one message per fault.
fn load_errors(code: &str, errs: jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error as E;
    let syntax =
        |exp: &str, found: &str| format!("syntax error at {}: expected {exp}", at(code, found));
    let msgs: Vec<String> = errs
        .into_iter()
        .flat_map(|(_, e)| match e {
            E::Io(v) => v.into_iter().map(|(p, m)| format!("{p}: {m}")).collect(),
            E::Lex(v) => v
                .into_iter()
                .map(|(exp, f)| syntax(exp.as_str(), f))
                .collect(),
            E::Parse(v) => v
                .into_iter()
                .map(|(exp, f)| syntax(exp.as_str(), f))
                .collect::<Vec<_>>(),
        })
        .collect();
    msgs.join("; ")
}

/// Run `f` as a new evaluation: its stack base recorded, the guard reset.
/// Returns its result and whether the guard stopped it.
fn evaluate<R>(f: impl FnOnce() -> R) -> (R, bool) {
    let outer = STACK_BASE.with(|b| b.replace(stack_here()));
    TRIPPED.with(|t| t.set(false));
    let r = f();
    STACK_BASE.with(|b| b.set(outer));
    (r, TRIPPED.with(|t| t.replace(false)))
}

/// Why an expression gave no result for a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The record does not fit the expression (a type error, a missing
    /// field): that record fails and the run goes on (exit status 1).
    Record(String),
    /// The expression itself is at fault (a runaway recursion): the run
    /// stops (exit status 2).
    Expression(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Record(m) | Failure::Expression(m) => f.write_str(m),
        }
    }
}

/// The text of an evaluation error.
fn error_text(exn: jaq_core::Exn<Val>) -> String {
    match exn.get_err() {
        Ok(e) => e.to_string(),
        Err(_) => "the expression halted".to_string(),
    }
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
        // parsing, compiling and running recurse once per level: too deep
        // an expression would overflow the stack and abort
        let depth = crate::jq_depth::depth(code);
        if depth > crate::jq_depth::MAX_DEPTH {
            let shown: String = code.chars().take(60).collect();
            return Err(Error::input(format!(
                "{what}: the expression nests {depth} levels deep (brackets, and operators \
                 in a chain); at most {} are allowed: {shown}{}",
                crate::jq_depth::MAX_DEPTH,
                if shown.len() < code.len() { "..." } else { "" }
            )));
        }
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
            .map_err(|errs| bad(load_errors(code, errs)))?;
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

    /// Run on `input`: every output value, or why there is none.
    pub fn run(&self, input: Val) -> std::result::Result<Vec<Val>, Failure> {
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
        let (r, tripped) = evaluate(|| {
            self.filter
                .id
                .run((ctx, input))
                .collect::<std::result::Result<Vec<Val>, _>>()
                .map_err(error_text)
        });
        r.map_err(|e| failure(e, tripped))
    }

    /// True when the first output is neither `false` nor `null` (jq's
    /// `select` rule); an expression with no output is false.
    pub(crate) fn is_truthy(&self, input: Val) -> std::result::Result<bool, Failure> {
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
        let (r, tripped) = evaluate(|| match self.filter.id.run((ctx, input)).next() {
            None => Ok(false),
            Some(Ok(v)) => Ok(!matches!(v, Val::Null | Val::Bool(false))),
            Some(Err(exn)) => Err(error_text(exn)),
        });
        r.map_err(|e| failure(e, tripped))
    }
}

fn failure(msg: String, tripped: bool) -> Failure {
    if tripped {
        Failure::Expression(msg)
    } else {
        Failure::Record(msg)
    }
}

/// A `--where EXPR` filter: compiled before any input is read (a syntax
/// error ends the run, exit 2), then run on each record.
#[derive(Debug)]
pub struct Where {
    prog: Program,
    code: String,
}

/// What a `--where` filter says of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Drop,
    /// The expression failed on this record (a type error, a missing
    /// field): the tool names it, leaves it out, and exits 1.
    Failed(String),
}

impl Where {
    /// Compile `code`; errors read `--where: syntax error at ...: CODE`.
    pub fn compile(code: &str) -> Result<Where> {
        Ok(Where {
            prog: Program::compile(code, "--where")?,
            code: code.to_string(),
        })
    }

    /// The verdict on a record given as checked JSON text (numbers keep
    /// their text: `1.50` is `"1.50"` to `tostring`). A runaway recursion
    /// is the expression's fault: an error (exit 2) naming it.
    pub fn test(&self, json: &[u8]) -> Result<Verdict> {
        let v = read_checked(json).map_err(Error::input)?;
        self.test_val(v)
    }

    /// [`Self::test`] on a jq value.
    pub fn test_val(&self, v: Val) -> Result<Verdict> {
        match self.prog.is_truthy(v) {
            Ok(true) => Ok(Verdict::Keep),
            Ok(false) => Ok(Verdict::Drop),
            Err(Failure::Record(e)) => Ok(Verdict::Failed(e)),
            Err(Failure::Expression(e)) => {
                Err(Error::input(format!("--where '{}': {e}", self.code)))
            }
        }
    }
}

/// JSON text as a jq value, numbers kept as written (jaq's decimal
/// numbers print as they were read; integers of any size stay exact).
/// The text is checked first with the one scanner, as strictly as every
/// stage checks its input (jaq's own reader also takes comments, `NaN`
/// and more). Errors read `MSG at line L column C`.
pub fn parse_val(bytes: &[u8]) -> std::result::Result<Val, String> {
    let mut tape = crate::raw::Tape::new(0);
    crate::raw::scan(
        bytes,
        crate::raw::Form::Check,
        &mut Vec::new(),
        Some(&mut tape),
    )
    .map_err(|f| f.to_string())?;
    let json = tape.root(bytes).json();
    read_checked(json)
}

/// [`parse_val`] of text the scanner has already checked (one value,
/// without surrounding whitespace).
pub fn read_checked(bytes: &[u8]) -> std::result::Result<Val, String> {
    jaq_json::read::parse_single(bytes).map_err(|e| e.to_string())
}

/// A jq object from `(key, value)` members in order (a repeated key keeps
/// its first place and its last value, as jq's reader does).
pub fn object(members: impl IntoIterator<Item = (String, Val)>) -> Val {
    let mut m = jaq_json::Map::default();
    for (k, v) in members {
        m.insert(Val::utf8_str(k), v);
    }
    Val::obj(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn val(json: serde_json::Value) -> Val {
        parse_val(json.to_string().as_bytes()).unwrap()
    }

    fn run1(code: &str, input: serde_json::Value) -> Vec<String> {
        let p = Program::compile(code, "test").unwrap();
        p.run(val(input))
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
        assert!(p.is_truthy(val(serde_json::json!({"a": 0}))).unwrap());
        assert!(!p.is_truthy(val(serde_json::json!({"a": null}))).unwrap());
        assert!(!p.is_truthy(val(serde_json::json!({}))).unwrap());
        let p = Program::compile("empty", "t").unwrap();
        assert!(!p.is_truthy(Val::Null).unwrap());
        let p = Program::compile(".a.b", "t").unwrap();
        assert_eq!(
            p.is_truthy(val(serde_json::json!({"a": 1}))),
            Err(Failure::Record("cannot index 1 with \"b\"".into()))
        );
    }

    /// A runaway caught by `try` still ends the run: every guard after it
    /// fails too; an ordinary error after a bounded recursion is the record's.
    #[test]
    fn failures_are_told_apart_by_kind_not_text() {
        let p = Program::compile("def f: 1 + f; (try f catch 0) | f", "t").unwrap();
        assert!(matches!(p.run(Val::Null), Err(Failure::Expression(_))));
        let p = Program::compile(
            "def f: if . > 3 then . else . + 1 | f end; f | error(\"recursion too deep\")",
            "t",
        )
        .unwrap();
        assert!(matches!(p.run(Val::Null), Err(Failure::Record(_))));
        // the next evaluation starts afresh
        let p = Program::compile("def f: 1 + f; f", "t").unwrap();
        assert!(p.run(Val::Null).is_err());
        let q = Program::compile(".a", "t").unwrap();
        assert!(q.run(val(serde_json::json!({"a": 1}))).is_ok());
    }

    /// (expression, record, verdict): numbers keep their text, as jq 1.7 keeps them.
    #[test]
    fn where_verdicts() {
        let cases: [(&str, &str, Verdict); 6] = [
            ("(.n|tostring) == \"1.50\"", r#"{"n":1.50}"#, Verdict::Keep),
            ("(.n|tostring) == \"100\"", r#"{"n":1E2}"#, Verdict::Drop),
            (
                ".n == 123456789012345678901234567890",
                r#"{"n":123456789012345678901234567890}"#,
                Verdict::Keep,
            ),
            (".a", r#"{"a":null}"#, Verdict::Drop),
            ("empty", r#"{}"#, Verdict::Drop),
            (
                ".a.b",
                r#"{"a":1}"#,
                Verdict::Failed("cannot index 1 with \"b\"".into()),
            ),
        ];
        for (code, json, want) in cases {
            let w = Where::compile(code).unwrap();
            assert_eq!(w.test(json.as_bytes()).unwrap(), want, "{code} on {json}");
        }
        let e = Where::compile("def f: 1 + f; f")
            .unwrap()
            .test(b"{}")
            .unwrap_err();
        assert_eq!(e.exit, cxg_core::Exit::Input);
        assert!(
            e.msg
                .starts_with("--where 'def f: 1 + f; f': \"recursion too deep"),
            "{}",
            e.msg
        );
        let e = Where::compile(".a | (").unwrap_err();
        assert!(
            e.msg.starts_with("--where: syntax error at column"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn json_to_jq_keeps_number_text_and_checks_strictly() {
        let v = parse_val(b" [1.50, 1E2, 123456789012345678901234567890] ").unwrap();
        assert_eq!(v.to_string(), "[1.50,1E2,123456789012345678901234567890]");
        for bad in ["[1,]", "NaN", "[1] # comment", "{\"a\":1} x"] {
            assert!(parse_val(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(
            parse_val(b"{\"a\":\n x}").unwrap_err(),
            "expected value at line 2 column 2"
        );
        let o = object([("b".to_string(), Val::Null), ("a".into(), Val::Bool(true))]);
        assert_eq!(o.to_string(), r#"{"b":null,"a":true}"#);
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
            assert!(
                matches!(&e, Failure::Expression(m) if m.contains(RECURSION_ERROR)),
                "{code}: {e}"
            );
            let e = p.is_truthy(Val::Null).unwrap_err();
            assert!(matches!(e, Failure::Expression(_)), "{code}: {e}");
        }
        // on a thread with Rust's default 2 MiB stack too
        std::thread::spawn(|| {
            let p = Program::compile("def f: 1 + f; f", "t").unwrap();
            let e = p.run(Val::Null).unwrap_err();
            assert!(matches!(e, Failure::Expression(_)), "{e}");
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
