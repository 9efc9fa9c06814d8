//! The collection ids `cxg-fetch collection` fetches: from its arguments,
//! or from stdin (one per line, or JSON objects with `collection_id`),
//! each a UUID or a collection URL.

use cxg_catalog::ids::{id_in, IdKind};
use cxg_core::ctx::Diag;
use cxg_core::{At, Ctx, Error, Result};
use cxg_json::raw::Tape;
use cxg_json::stream::JsonStream;
use std::io::{BufRead, BufReader, Read};

/// An id as given, and where: `argument 2`, `stdin line 3`.
pub(crate) type Given = (String, String);

/// The ids of the arguments.
pub(crate) fn from_args(ids: &[String]) -> Vec<Given> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), format!("argument {}", i + 1)))
        .collect()
}

/// Collection ids from stdin: JSON objects with `collection_id`, or one
/// id per line.
pub(crate) fn from_stdin(ctx: &mut Ctx) -> Result<Vec<Given>> {
    let input = ctx.input(None)?;
    let mut r = BufReader::new(input.reader);
    let first = loop {
        let buf = r.fill_buf().at("cannot read stdin")?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    };
    match first {
        None => Ok(Vec::new()),
        Some(b'[' | b'{') => from_json(r),
        Some(_) => {
            let mut text = String::new();
            r.read_to_string(&mut text).at("cannot read stdin")?;
            Ok(text
                .lines()
                .enumerate()
                .map(|(i, line)| (line.trim(), i))
                .filter(|(id, _)| !id.is_empty() && !id.starts_with('#'))
                .map(|(id, i)| (id.to_string(), format!("stdin line {}", i + 1)))
                .collect())
        }
    }
}

/// The `collection_id` of each object of a JSON array or JSON Lines.
fn from_json(r: impl Read) -> Result<Vec<Given>> {
    let mut s = JsonStream::new("stdin", r);
    let mut tape = Tape::new(1);
    let mut ids = Vec::new();
    while let Some((at, text)) = s.next_places(Some(&mut tape))? {
        match tape
            .root(text)
            .get("collection_id")
            .and_then(|n| n.as_str())
        {
            Some(id) => ids.push((id.into_owned(), format!("stdin line {}", at.line))),
            None => {
                return Err(Error::input(format!(
                    "{}: has no string collection_id",
                    s.place(at)
                )))
            }
        }
    }
    Ok(ids)
}

/// The collection id each argument or line names: a UUID or a collection
/// URL. Anything else (a dataset URL, a typo) is refused before any
/// request; an id given twice is fetched twice, and said so.
pub(crate) fn collection_ids(given: Vec<Given>, diag: &Diag) -> Result<Vec<Given>> {
    let mut ids: Vec<Given> = Vec::with_capacity(given.len());
    let mut seen = std::collections::HashMap::new();
    let mut repeated = Vec::new();
    let mut bad = Vec::new();
    for (text, at) in given {
        // a byte-order mark (from an editor) is not part of an id
        let text = text.trim_start_matches('\u{feff}');
        match id_in(text) {
            Some((IdKind::Bare | IdKind::Collection, id)) => {
                let id = id.to_ascii_lowercase();
                match seen.get(&id) {
                    Some(first) if repeated.len() < 10 => {
                        repeated.push(format!("{at} repeats {id} of {first}"))
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(id.clone(), at.clone());
                    }
                }
                ids.push((id, at));
            }
            Some((IdKind::Dataset, id)) => bad.push(format!(
                "{at}: '{text}' names dataset {id}, not a collection"
            )),
            None => bad.push(format!("{at}: '{text}'")),
        }
    }
    if !bad.is_empty() {
        return Err(Error::input(format!(
            "not a collection id (a UUID or a collection URL such as \
             https://cellxgene.cziscience.com/collections/<uuid>): {}",
            bad.join(", ")
        )));
    }
    let twice = ids.len() - seen.len();
    if twice > 0 {
        diag.warn(format_args!(
            "{twice} collection id{} given more than once (each is fetched and written as often as given): {}",
            if twice == 1 { "" } else { "s" },
            repeated.join(", ")
        ));
    }
    Ok(ids)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const C: &str = "6e2974ee-853a-4444-b781-01a428af919f";
    const D: &str = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";

    /// Ids read from literal stdin, then checked: (stdin, ids or error).
    #[test]
    fn ids_from_stdin_and_urls() {
        let url = format!("https://cellxgene.cziscience.com/collections/{C}");
        let cases: Vec<(String, std::result::Result<Vec<&str>, &str>)> = vec![
            (
                format!("\u{feff}{C}\r\n# a comment\n\n  {C}  \n"),
                Ok(vec![C, C]),
            ),
            (format!("{url}\n"), Ok(vec![C])),
            (format!("{}\n", C.to_uppercase()), Ok(vec![C])),
            (
                format!("[{{\"collection_id\":\"{C}\",\"x\":1}}]"),
                Ok(vec![C]),
            ),
            (
                format!("{{\"collection_id\":\"{C}\"}}\n{{\"collection_id\":\"{C}\"}}\n"),
                Ok(vec![C, C]),
            ),
            (String::new(), Ok(vec![])),
            ("not-an-id\n".into(), Err("stdin line 1: 'not-an-id'")),
            (
                format!("https://cellxgene.cziscience.com/e/{D}.cxg/\n"),
                Err("names dataset 781bd1e1"),
            ),
            (
                "[{\"name\":1}]".into(),
                Err("stdin: line 1: array element 0: has no string collection_id"),
            ),
        ];
        for (stdin, want) in cases {
            let mut ctx = Ctx::memory(stdin.as_bytes());
            let diag = ctx.diag.clone();
            let got = from_stdin(&mut ctx).and_then(|g| collection_ids(g, &diag));
            match (got, want) {
                (Ok(ids), Ok(want)) => {
                    let ids: Vec<&str> = ids.iter().map(|(i, _)| i.as_str()).collect();
                    assert_eq!(ids, want, "{stdin:?}");
                }
                (Err(e), Err(want)) => assert!(e.msg.contains(want), "{stdin:?}: {}", e.msg),
                (got, want) => panic!(
                    "{stdin:?}: got {:?}, wanted {want:?}",
                    got.map_err(|e| e.msg)
                ),
            }
        }
    }
}
