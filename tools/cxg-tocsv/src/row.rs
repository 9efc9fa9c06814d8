//! One dataset's row: the record read as a jq value (numbers keep their
//! text), every column evaluated on it, the cells CSV-encoded.

use crate::columns::Column;
use crate::fast::{eval_fast, fast_for, Fast, FastSpec};
use cxg_core::io::csv_record;
use cxg_core::Result;
use cxg_json::jq::{self, read_checked, Failure, Program, Val};
use cxg_json::raw::{as_str, Tape};
use std::cell::RefCell;

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
pub(crate) struct Row {
    pub dataset_id: String,
    pub recency: (String, String, String),
    pub line: Vec<u8>,
    /// Which cells are non-empty.
    pub filled: Vec<bool>,
}

/// Why a record gave no row: a bad record (named, skipped) or input from
/// the wrong stage (the whole run stops).
pub(crate) enum RowError {
    Record(String),
    Stage(String),
}

impl From<String> for RowError {
    fn from(s: String) -> Self {
        RowError::Record(s)
    }
}

/// A column ready to run.
pub(crate) struct Compiled {
    pub col: Column,
    prog: Program,
    fast: Option<FastSpec>,
}

/// Compile a column (before any input is read: a bad expression fails fast).
pub(crate) fn compile(c: Column) -> Result<Compiled> {
    let prog = Program::compile(&c.expr, &format!("column '{}'", c.name))?;
    let fast = fast_for(&c.expr);
    Ok(Compiled { col: c, prog, fast })
}

/// Each column's fast plan with its jq values, for one worker thread.
pub(crate) fn realize(programs: &[Compiled]) -> Vec<Option<Fast>> {
    programs
        .iter()
        .map(|c| c.fast.as_ref().map(FastSpec::realize))
        .collect()
}

thread_local! {
    /// The last `collection` read on this thread: consecutive datasets of
    /// one collection carry the same text, read once.
    static LAST_COLLECTION: RefCell<Option<(Vec<u8>, Val)>> = const { RefCell::new(None) };
}

/// The collection's value: the last one read on this thread when its text
/// is the same, else read from `text`.
fn collection_val(text: &[u8]) -> std::result::Result<Val, String> {
    LAST_COLLECTION.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((t, v)) = &*c {
            if t.as_slice() == text {
                return Ok(v.clone());
            }
        }
        let v = read_checked(text)?;
        *c = Some((text.to_vec(), v.clone()));
        Ok(v)
    })
}

/// The record (checked text, its members' places on `tape`) as a jq
/// value, member by member, so that the collection shared by consecutive
/// datasets is read once.
fn record_val(bytes: &[u8], tape: &Tape) -> std::result::Result<Val, String> {
    let root = tape.root(bytes);
    if root.kind() != "object" {
        return read_checked(root.json());
    }
    let mut out = Vec::new();
    for m in root.parts() {
        let key = as_str(m.key_json()).unwrap_or_default().into_owned();
        let v = if key == "collection" && m.json().len() > 64 {
            collection_val(m.json())?
        } else {
            read_checked(m.json())?
        };
        out.push((key, v));
    }
    Ok(jq::object(out))
}

/// The row of one record (checked text, members on `tape`); `what` names
/// it in messages.
pub(crate) fn make_row(
    programs: &[Compiled],
    fasts: &[Option<Fast>],
    bytes: &[u8],
    tape: &Tape,
    what: &dyn Fn() -> String,
) -> std::result::Result<Row, RowError> {
    let v = record_val(bytes, tape).map_err(|e| format!("{}: invalid JSON: {e}", what()))?;
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
    let label = format!("{} (dataset_id {dataset_id})", what());
    let mut cells = Vec::with_capacity(programs.len());
    for (c, fast) in programs.iter().zip(fasts) {
        cells.push(column_cell(c, fast.as_ref(), &v, &label)?);
    }
    Ok(Row {
        recency: recency(&v),
        dataset_id,
        line: csv_record(&cells),
        filled: cells.iter().map(|c| !c.is_empty()).collect(),
    })
}

/// What orders two versions of one dataset: revised, then published, then
/// the version id (each from the dataset, else its collection).
fn recency(v: &Val) -> (String, String, String) {
    let col = get(v, "collection");
    let pick = |k: &str| {
        text(get(v, k))
            .or_else(|| text(col.and_then(|c| get(c, k))))
            .unwrap_or_default()
    };
    (
        pick("revised_at"),
        pick("published_at"),
        text(get(v, "dataset_version_id")).unwrap_or_default(),
    )
}

/// One column's cell for the record `v` (named `label` in messages).
fn column_cell(
    c: &Compiled,
    fast: Option<&Fast>,
    v: &Val,
    label: &str,
) -> std::result::Result<String, RowError> {
    let name = &c.col.name;
    let outs = match fast.and_then(|f| eval_fast(f, v)) {
        Some(x) => vec![x],
        None => c.prog.run(v.clone()).map_err(|e| match e {
            // the expression's fault, not the record's: exit 2
            Failure::Expression(e) => RowError::Stage(format!("{label}: column '{name}': {e}")),
            Failure::Record(e) => RowError::Record(format!("{label}: column '{name}': {e}")),
        })?,
    };
    let mut s = String::new();
    for (i, o) in outs.iter().enumerate() {
        if i > 0 {
            s.push_str(" | ");
        }
        cell(o, &mut s).map_err(|e| format!("{label}: column '{name}' {e}"))?;
    }
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::columns::{parse_columns, SEED};
    use cxg_json::raw::{scan, Form};

    fn row(cols: &str, json: &str) -> std::result::Result<Vec<String>, String> {
        let programs: Vec<_> = parse_columns(cols, "t")
            .unwrap()
            .into_iter()
            .map(|c| compile(c).unwrap())
            .collect();
        let mut tape = Tape::new(1);
        scan(
            json.as_bytes(),
            Form::Check,
            &mut Vec::new(),
            Some(&mut tape),
        )
        .unwrap();
        make_row(
            &programs,
            &realize(&programs),
            json.as_bytes(),
            &tape,
            &|| "rec".to_string(),
        )
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
