//! cxg-tocsv: datasets (JSON) to the harvester CSV. Every column is
//! `name = jq expression`, evaluated with jaq on each dataset; the built-in
//! sets are such definitions too. One row per dataset_id (the most recent
//! version wins), RFC 4180, byte-identical for the same input.

// Building a jq value per record allocates many small strings and maps:
// mimalloc makes that about a third of the time it takes with the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, ValueEnum};
use cxg_core::cli::warn;
use cxg_core::io::csv_record;
use cxg_core::{Error, Outcome, Result};
use cxg_json::jq::{Program, Val};
use cxg_json::raw::{as_str, members};
use cxg_json::stream::{jq_object, to_jq, JsonStream};
use rayon::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

/// The 21 columns of the old harvester (the default).
pub const SEED: &str = include_str!("../columns/seed.columns");
/// The seed columns plus titles, counts, ontology ids, links and sizes.
pub const FULL_EXTRA: &str = include_str!("../columns/full.columns");

const EXAMPLES: &str = "\
  # the harvester CSV from collections (21 columns, as all_datasets.csv)
  cxg-datasets collections.json | cxg-tocsv > all_datasets.csv

  # straight from the datasets index, with every column
  cxg-fetch datasets | cxg-tocsv --preset full -o datasets.csv

  # add a column, replace one, and see the definitions in use
  cxg-tocsv --column 'n_cells=.cell_count' --column 'year=.collection.publisher_metadata.published_year // \"\"' datasets.jsonl
  cxg-tocsv --preset full --list-columns > my.columns   # edit, then:
  cxg-tocsv --columns my.columns datasets.jsonl

  # pick columns of the preset by name, in this order (as csvcut -c / xsv select)
  cxg-tocsv --preset full --select dataset_id,cell_count,tissue datasets.jsonl";

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// the 21 columns of the old harvester's all_datasets.csv
    Seed,
    /// seed plus titles, counts, every facet with its term ids, links, sizes
    Full,
}

/// Datasets (JSON array or JSON Lines) to CSV, columns defined as jq expressions.
#[derive(Parser, Debug)]
#[command(name = "cxg-tocsv", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Datasets: cxg-datasets output or GET /datasets items (`-` or none: stdin)
    pub file: Option<PathBuf>,
    /// Built-in column set
    #[arg(long, value_enum, default_value = "seed")]
    pub preset: Preset,
    /// Column definitions file (`name = expr` per line, `#` comments);
    /// replaces the preset
    #[arg(long, value_name = "FILE")]
    pub columns: Option<PathBuf>,
    /// Keep only these columns, in this order: names of the columns in use
    /// (preset, --columns, --column) or of the `full` preset
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Add a column, or replace the one with the same name (repeatable)
    #[arg(long = "column", value_name = "NAME=EXPR", allow_hyphen_values = true)]
    pub column: Vec<String>,
    /// Print the column definitions in use (a valid --columns file) and exit
    #[arg(long)]
    pub list_columns: bool,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

/// One column: its name and jq expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub expr: String,
}

/// Parse `name = expr` lines; `source` names the text in messages.
pub fn parse_columns(text: &str, source: &str) -> Result<Vec<Column>> {
    let mut cols: Vec<Column> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let c = parse_column(t).map_err(|e| e.context(format!("{source}: line {}", i + 1)))?;
        if cols.iter().any(|x| x.name == c.name) {
            return Err(Error::input(format!(
                "{source}: line {}: column '{}' is defined twice",
                i + 1,
                c.name
            )));
        }
        cols.push(c);
    }
    if cols.is_empty() {
        return Err(Error::input(format!("{source}: no columns defined")));
    }
    Ok(cols)
}

/// Parse one `name = expr` (or `name=expr`).
pub fn parse_column(s: &str) -> Result<Column> {
    let (name, expr) = s
        .split_once('=')
        .ok_or_else(|| Error::input(format!("'{s}': expected NAME = EXPR")))?;
    let (name, expr) = (name.trim(), expr.trim());
    if name.is_empty() || expr.is_empty() {
        return Err(Error::input(format!(
            "'{s}': expected NAME = EXPR with both parts"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::input(format!(
            "'{s}': a column name cannot contain control characters"
        )));
    }
    Ok(Column {
        name: name.into(),
        expr: expr.into(),
    })
}

/// The column set the arguments ask for.
pub fn columns_for(args: &Args) -> Result<Vec<Column>> {
    let mut cols = match &args.columns {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                let ps = p.to_string_lossy();
                let hint = if !p.exists() && (ps.contains(',') || !ps.contains(['.', '/'])) {
                    format!(
                        " (--columns takes a file of `name = expr` lines; to pick columns by name use --select {ps})"
                    )
                } else {
                    String::new()
                };
                Error::input(format!("cannot read '{}': {e}{hint}", p.display()))
            })?;
            // a UTF-8 byte-order mark (as some editors write) is not part of a name
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            parse_columns(text, &format!("'{}'", p.display()))?
        }
        None => {
            let mut c = parse_columns(SEED, "preset seed")?;
            if args.preset == Preset::Full {
                c.extend(parse_columns(FULL_EXTRA, "preset full")?);
            }
            c
        }
    };
    for s in &args.column {
        let c = parse_column(s).map_err(|e| e.context("--column"))?;
        match cols.iter_mut().find(|x| x.name == c.name) {
            Some(x) => *x = c,
            None => cols.push(c),
        }
    }
    if !args.select.is_empty() {
        let full = {
            let mut c = parse_columns(SEED, "preset seed")?;
            c.extend(parse_columns(FULL_EXTRA, "preset full")?);
            c
        };
        let mut picked = Vec::new();
        for name in args
            .select
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
        {
            let c = cols
                .iter()
                .chain(full.iter())
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    let mut names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
                    for c in &full {
                        if !names.contains(&c.name.as_str()) {
                            names.push(&c.name);
                        }
                    }
                    Error::input(format!(
                        "--select: no column named '{name}'; columns: {}",
                        names.join(",")
                    ))
                })?;
            if picked.iter().any(|p: &Column| p.name == name) {
                return Err(Error::input(format!("--select: '{name}' is named twice")));
            }
            picked.push(c.clone());
        }
        if picked.is_empty() {
            return Err(Error::input("--select: no column names given"));
        }
        cols = picked;
    }
    Ok(cols)
}

/// The definitions as a --columns file.
pub fn list_columns(cols: &[Column]) -> String {
    let mut s = String::from("# cxg-tocsv columns: name = jq expression (one per line)\n");
    for c in cols {
        s.push_str(&format!("{} = {}\n", c.name, c.expr));
    }
    s
}

fn get<'a>(v: &'a Val, key: &str) -> Option<&'a Val> {
    match v {
        Val::Obj(m) => m.get(&Val::utf8_str(key.to_string())),
        _ => None,
    }
}

fn text(v: Option<&Val>) -> Option<String> {
    match v {
        Some(Val::TStr(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// A cell: strings as they are, numbers as jq prints them, booleans as
/// TRUE/FALSE, null as empty; arrays of those joined with " | ".
fn cell(v: &Val, out: &mut String) -> std::result::Result<(), String> {
    match v {
        Val::Null => {}
        Val::Bool(true) => out.push_str("TRUE"),
        Val::Bool(false) => out.push_str("FALSE"),
        Val::Num(n) => out.push_str(&n.to_string()),
        Val::TStr(b) | Val::BStr(b) => out.push_str(&String::from_utf8_lossy(b)),
        Val::Arr(a) => {
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(" | ");
                }
                if matches!(x, Val::Arr(_) | Val::Obj(_)) {
                    return Err(format!(
                        "gave an array holding {}, not only strings, numbers, booleans or null",
                        kind(x)
                    ));
                }
                cell(x, out)?;
            }
        }
        Val::Obj(_) => {
            return Err(
                "gave an object, not a string, number, boolean, null or array of those".into(),
            )
        }
    }
    Ok(())
}

fn kind(v: &Val) -> &'static str {
    match v {
        Val::Arr(_) => "an array",
        Val::Obj(_) => "an object",
        _ => "a scalar",
    }
}

/// One dataset's row, CSV-encoded (rows are held until the end for
/// deduplication, so they are kept compact), with what deduplication needs.
struct Row {
    dataset_id: String,
    recency: (String, String, String),
    line: Vec<u8>,
    /// Which cells are non-empty.
    filled: Vec<bool>,
}

/// Why a record gave no row: a bad record (named, skipped) or input from
/// the wrong stage (the whole run stops).
enum RowError {
    Record(String),
    Stage(String),
}

impl From<String> for RowError {
    fn from(s: String) -> Self {
        RowError::Record(s)
    }
}

/// A column whose expression is a constant or a chain of plain paths
/// (`.a.b // .c`) is evaluated directly; anything else (and any error, to
/// get jaq's message) runs the jq program.
/// The plan, shared by the worker threads (jq values are not `Sync`).
#[derive(Clone, Debug)]
enum FastSpec {
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
enum Fast {
    Collect(Vec<Val>, Val),
    FirstOr(Vec<Val>),
    Index(Vec<Val>, usize, Vec<Vec<Val>>),
    Const(Val),
    Paths(Vec<Vec<Val>>),
}

impl FastSpec {
    fn realize(&self) -> Fast {
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

fn fast_for(expr: &str) -> Option<FastSpec> {
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
        let mut c = Vec::new();
        cxg_json::raw::emit(e.as_bytes(), false, &mut c).ok()?;
        return as_str(&c).map(FastSpec::Str);
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

fn eval_fast(f: &Fast, v: &Val) -> Option<Val> {
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

/// A column ready to run.
pub struct Compiled {
    col: Column,
    prog: Program,
    fast: Option<FastSpec>,
}

/// Each column's fast plan with its jq values, for one worker thread.
fn realize(programs: &[Compiled]) -> Vec<Option<Fast>> {
    programs
        .iter()
        .map(|c| c.fast.as_ref().map(FastSpec::realize))
        .collect()
}

fn compile(c: Column) -> Result<Compiled> {
    let prog = Program::compile(&c.expr, &format!("column '{}'", c.name))?;
    let fast = fast_for(&c.expr);
    Ok(Compiled { col: c, prog, fast })
}

thread_local! {
    /// The last `collection` parsed on this thread: consecutive datasets of
    /// one collection carry the same text, parsed once.
    static LAST_COLLECTION: RefCell<Option<(Vec<u8>, Val)>> = const { RefCell::new(None) };
}

/// The collection's value: the last one parsed on this thread when its
/// text is the same, else `text` checked and parsed.
fn collection_val(text: &[u8], scratch: &mut Vec<u8>) -> Option<Val> {
    LAST_COLLECTION.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((t, v)) = &*c {
            if t.as_slice() == text {
                return Some(v.clone());
            }
        }
        scratch.clear();
        cxg_json::raw::emit(text, false, scratch).ok()?;
        let v = to_jq(scratch).ok()?;
        *c = Some((text.to_vec(), v.clone()));
        Some(v)
    })
}

/// The record as a jq value, member by member, so that the collection
/// shared by consecutive datasets is checked and parsed once. `None` when
/// anything is amiss: the caller then checks the whole record and names
/// the fault.
fn record_val_fast(bytes: &[u8]) -> Option<Val> {
    let ms = cxg_json::raw::split_members(bytes)?;
    let mut scratch = Vec::with_capacity(bytes.len());
    let mut out = Vec::with_capacity(ms.len());
    for (k, v) in ms {
        scratch.clear();
        cxg_json::raw::emit(k, false, &mut scratch).ok()?;
        let key = as_str(&scratch)?;
        let val = if key == "collection" && v.len() > 64 {
            collection_val(v, &mut scratch)?
        } else {
            scratch.clear();
            cxg_json::raw::emit(v, false, &mut scratch).ok()?;
            to_jq(&scratch).ok()?
        };
        out.push((key, val));
    }
    Some(jq_object(out))
}

/// The record (compact text) as a jq value.
fn record_val(compact: &[u8]) -> std::result::Result<Val, String> {
    let Some(ms) = members(compact) else {
        return to_jq(compact);
    };
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        let key = as_str(m.key_json).unwrap_or_default();
        let v = if m.is("collection") && m.value.len() > 64 {
            LAST_COLLECTION.with(|c| {
                let mut c = c.borrow_mut();
                if let Some((t, v)) = &*c {
                    if t.as_slice() == m.value {
                        return Ok(v.clone());
                    }
                }
                let v = to_jq(m.value)?;
                *c = Some((m.value.to_vec(), v.clone()));
                Ok::<_, String>(v)
            })?
        } else {
            to_jq(m.value)?
        };
        out.push((key, v));
    }
    Ok(jq_object(out))
}

/// The record checked as a whole, naming the first fault.
fn record_val_checked(bytes: &[u8], what: &dyn Fn() -> String) -> std::result::Result<Val, String> {
    let mut compact = Vec::with_capacity(bytes.len());
    cxg_json::raw::emit(bytes, false, &mut compact).map_err(|f| {
        let (l, c) = cxg_json::raw::line_col(bytes, f.offset);
        format!(
            "{}: invalid JSON at line {l}, column {c} of the record: {}",
            what(),
            f.msg
        )
    })?;
    record_val(&compact).map_err(|e| format!("{}: invalid JSON: {e}", what()))
}

fn make_row(
    programs: &[Compiled],
    fasts: &[Option<Fast>],
    bytes: &[u8],
    what: &dyn Fn() -> String,
) -> std::result::Result<Row, RowError> {
    // checked strictly first; jaq's reader then keeps number literals as written
    let v = match record_val_fast(bytes) {
        Some(v) => v,
        None => record_val_checked(bytes, what)?,
    };
    if !matches!(v, Val::Obj(_)) {
        return Err(format!("{}: is not a JSON object", what()).into());
    }

    let Some(dataset_id) = text(get(&v, "dataset_id")) else {
        if get(&v, "datasets").is_some() {
            return Err(RowError::Stage(format!(
                "{}: this is a collection (it has datasets and no dataset_id), not a dataset: \
                 run cxg-datasets first (cxg-datasets collections.json | cxg-tocsv)",
                what()
            )));
        }
        return Err(format!("{}: has no string dataset_id", what()).into());
    };
    let label = || format!("{} (dataset_id {dataset_id})", what());
    let col = get(&v, "collection");
    let pick = |k: &str| {
        text(get(&v, k))
            .or_else(|| text(col.and_then(|c| get(c, k))))
            .unwrap_or_default()
    };
    let recency = (
        pick("revised_at"),
        pick("published_at"),
        text(get(&v, "dataset_version_id")).unwrap_or_default(),
    );
    let mut cells = Vec::with_capacity(programs.len());
    let mut filled = Vec::with_capacity(programs.len());
    for (
        Compiled {
            col: c, prog: p, ..
        },
        fast,
    ) in programs.iter().zip(fasts)
    {
        let outs = match fast.as_ref().and_then(|f| eval_fast(f, &v)) {
            Some(x) => vec![x],
            None => p.run(v.clone()).map_err(|e| {
                let msg = format!("{}: column '{}': {e}", label(), c.name);
                if cxg_json::jq::is_recursion_error(&e) {
                    // the expression's fault, not the record's: exit 2
                    RowError::Stage(msg)
                } else {
                    RowError::Record(msg)
                }
            })?,
        };
        let mut s = String::new();
        for (i, o) in outs.iter().enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            cell(o, &mut s).map_err(|e| format!("{}: column '{}' {e}", label(), c.name))?;
        }
        filled.push(!s.is_empty());
        cells.push(s);
    }
    Ok(Row {
        dataset_id,
        recency,
        line: csv_record(&cells),
        filled,
    })
}

const BATCH: usize = 512;

/// Up to [`BATCH`] raw records.
fn read_batch<R: std::io::Read>(
    stream: &mut JsonStream<R>,
) -> Result<Vec<(cxg_json::stream::Pos, Vec<u8>)>> {
    let mut batch = Vec::with_capacity(BATCH);
    while batch.len() < BATCH {
        let Some((at, raw)) = stream.next_raw()? else {
            break;
        };
        batch.push((at, raw.to_vec()));
    }
    Ok(batch)
}

/// Seed columns that are empty by design (the old harvester's placeholders).
const SEED_EMPTY: [&str; 2] = ["author_cell_type", "embedding"];

/// Run in the context `ctx`: its output (`-o`) was checked before this is
/// called, and records that could not be processed set the exit status.
pub fn run(args: Args, ctx: &mut cxg_core::Ctx) -> Result<()> {
    let outcome = run_in(args, ctx)?;
    ctx.diag.add_outcome(outcome);
    Ok(())
}

fn run_in(args: Args, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    let cols = columns_for(&args)?;
    if args.list_columns {
        std::io::Write::write_all(&mut ctx.out, list_columns(&cols).as_bytes())
            .map_err(|e| ctx.out.error(e))?;
        return Ok(Outcome::Complete);
    }
    // Compile every column before reading any input.
    let programs: Vec<Compiled> = cols.into_iter().map(compile).collect::<Result<_>>()?;
    let input = ctx.input(args.file.as_deref())?;
    let mut stream = JsonStream::new(input.name.clone(), input.reader);
    let mut rows: Vec<Row> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let (mut failed, mut dropped) = (0usize, 0usize);
    let mut dropped_named: Vec<String> = Vec::new();
    let mut batch = read_batch(&mut stream)?;
    loop {
        // Build this batch's rows in parallel while the next one is read.
        if batch.is_empty() {
            break;
        }
        let placer = stream.placer();
        let (built, next): (Vec<_>, _) = rayon::join(
            || {
                batch
                    .par_iter()
                    .map_init(
                        || realize(&programs),
                        |fasts, (at, raw)| make_row(&programs, fasts, raw, &|| placer.place(*at)),
                    )
                    .collect()
            },
            || read_batch(&mut stream),
        );
        batch = next?;
        for r in built {
            match r {
                Err(RowError::Stage(e)) => return Err(Error::input(e)),
                Err(RowError::Record(e)) => {
                    warn(e);
                    failed += 1;
                }
                Ok(row) => match by_id.get(&row.dataset_id) {
                    Some(&i) => {
                        dropped += 1;
                        let gone = if row.recency > rows[i].recency {
                            std::mem::replace(&mut rows[i], row)
                        } else {
                            row
                        };
                        if dropped_named.len() < 10 {
                            dropped_named.push(format!(
                                "{} version {}",
                                gone.dataset_id,
                                if gone.recency.2.is_empty() {
                                    "?"
                                } else {
                                    &gone.recency.2
                                }
                            ));
                        }
                    }
                    None => {
                        by_id.insert(row.dataset_id.clone(), rows.len());
                        rows.push(row);
                    }
                },
            }
        }
    }
    if dropped > 0 {
        warn(format_args!(
            "{dropped} duplicate dataset row{} dropped (kept the most recent version of each dataset_id): {}{}",
            if dropped == 1 { "" } else { "s" },
            dropped_named.join(", "),
            if dropped > dropped_named.len() {
                format!(" and {} more", dropped - dropped_named.len())
            } else {
                String::new()
            }
        ));
    }
    if !rows.is_empty() {
        let empty: Vec<&str> = programs
            .iter()
            .enumerate()
            .filter(|(i, _)| rows.iter().all(|r| !r.filled[*i]))
            .map(|(_, c)| c.col.name.as_str())
            .filter(|n| !SEED_EMPTY.contains(n))
            .collect();
        if !empty.is_empty() {
            warn(format_args!(
                "{} column{} empty in every row (the input has no value for {}): {}{}",
                empty.len(),
                if empty.len() == 1 { " is" } else { "s are" },
                if empty.len() == 1 { "it" } else { "them" },
                empty.join(", "),
                if empty
                    .iter()
                    .any(|n| matches!(*n, "cell_count" | "dataset_title" | "explorer_url"))
                {
                    "; dataset previews from the collections list lack them: `cxg-datasets --index datasets_index.json` adds the full records"
                } else {
                    ""
                }
            ));
        }
    }
    let name = ctx.out.name();
    let mut out = std::io::BufWriter::new(&mut ctx.out);
    let header: Vec<String> = programs.iter().map(|c| c.col.name.clone()).collect();
    std::io::Write::write_all(&mut out, &csv_record(&header))
        .map_err(|e| Error::write(&name, e))?;
    for row in &rows {
        std::io::Write::write_all(&mut out, &row.line).map_err(|e| Error::write(&name, e))?;
    }
    out.into_inner()
        .map_err(|e| Error::write(&name, e.into_error()))?;
    Ok(Outcome::of_failures(failed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_sets_parse_and_compile() {
        let seed = parse_columns(SEED, "seed").unwrap();
        assert_eq!(seed.len(), 21);
        let names: Vec<_> = seed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names.join(","),
            "collection_url,collection_id,collection_version_id,dataset_id,dataset_version_id,first_author,journal,is_preprint,year,tissue,disease,author_cell_type,embedding,revised_at,visibility,organism,filter_normal,metric,save_scores,save_cluster_summary,save_annotation"
        );
        for c in seed
            .iter()
            .chain(parse_columns(FULL_EXTRA, "full").unwrap().iter())
        {
            Program::compile(&c.expr, &c.name).unwrap();
        }
    }

    #[test]
    fn column_definitions() {
        assert_eq!(
            parse_column("a = .x == 1").unwrap(),
            Column {
                name: "a".into(),
                expr: ".x == 1".into()
            }
        );
        assert!(parse_column("noequals").is_err());
        assert!(parse_column("=.x").is_err());
        assert!(parse_columns("# only comments\n", "f").is_err());
        assert!(parse_columns("a=.x\na=.y\n", "f")
            .unwrap_err()
            .msg
            .contains("line 2"));
    }

    fn row(cols: &str, json: &str) -> std::result::Result<Vec<String>, String> {
        let programs: Vec<_> = parse_columns(cols, "t")
            .unwrap()
            .into_iter()
            .map(|c| compile(c).unwrap())
            .collect();
        make_row(&programs, &realize(&programs), json.as_bytes(), &|| {
            "rec".to_string()
        })
        .map_err(|e| match e {
            RowError::Record(s) | RowError::Stage(s) => s,
        })
        .map(|r| {
            let mut rd = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&r.line[..]);
            let rec = rd.records().next().unwrap().unwrap();
            rec.iter().map(String::from).collect()
        })
    }

    #[test]
    fn cells() {
        let d = r#"{"dataset_id":"d","b":true,"n":3,"f":1.5,"s":"x","l":["a","b"],"o":{"k":1},"z":null}"#;
        assert_eq!(
            row(
                "b=.b\nn=.n\nf=.f\ns=.s\nl=.l\nz=.z\nm=.missing\ne=empty\nmany=.l[]",
                d
            )
            .unwrap(),
            ["TRUE", "3", "1.5", "x", "a | b", "", "", "", "a | b"]
        );
        assert!(row("o=.o", d)
            .unwrap_err()
            .contains("column 'o' gave an object"));
        assert!(row("o=[.o]", d).unwrap_err().contains("dataset_id d"));
        assert!(row("o=.s.x", d).unwrap_err().contains("column 'o'"));
        assert!(row("a=.b", r#"{"b":1}"#)
            .unwrap_err()
            .contains("no string dataset_id"));
    }

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
                let v = to_jq(d.as_bytes()).unwrap();
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

    #[test]
    fn seed_semantics() {
        let consortium = r#"{"dataset_id":"d","tissue":[{"label":"lung"},{"label":"blood"}],"collection":{"publisher_metadata":{"authors":[{"name":"HCA"},{"family":"Li"}],"is_preprint":false,"published_year":2023}}}"#;
        let r = row(SEED, consortium).unwrap();
        assert_eq!(
            (&r[5][..], &r[7][..], &r[8][..], &r[9][..]),
            ("HCA", "FALSE", "2023", "lung | blood")
        );
        let null_pm = r#"{"dataset_id":"d","collection":{"publisher_metadata":null}}"#;
        let r = row(SEED, null_pm).unwrap();
        assert_eq!(
            (&r[5][..], &r[6][..], &r[7][..], &r[9][..]),
            ("", "", "", "")
        );
        let flat = r#"{"dataset_id":"d","collection_id":"c1","visibility":"PUBLIC"}"#;
        let r = row(SEED, flat).unwrap();
        assert_eq!(
            (&r[0][..], &r[1][..], &r[14][..]),
            (
                "https://cellxgene.cziscience.com/collections/c1",
                "c1",
                "PUBLIC"
            )
        );
        assert_eq!(&r[16..], ["TRUE", "euclidean", "TRUE", "TRUE", "TRUE"]);
    }
}
