//! One collection's datasets: each joined with its full record from the
//! index, given its collection, filtered by `--where`, and written (or
//! kept for the per-collection layout).

use crate::index::Index;
use crate::layout::Layout;
use crate::report::Tally;
use crate::Args;
use cxg_core::ctx::Diag;
use cxg_core::{Ctx, Error, Result};
use cxg_json::jq::{Verdict, Where};
use cxg_json::raw::{emit, object, Member, Node};
use std::borrow::Cow;
use std::io::Write;

/// The run: its options, what it has counted, and its scratch lines.
pub(crate) struct Job {
    filter: Option<Where>,
    index: Option<Index>,
    layout: Option<Layout>,
    pretty: bool,
    tally: Tally,
    /// The output line being built, and its indented form.
    line: Vec<u8>,
    pretty_line: Vec<u8>,
}

/// The first member named `key` (a collection's own fields are read as
/// the first of a repeated key, as this tool always has).
fn first<'a>(v: Node<'a>, key: &str) -> Option<Node<'a>> {
    v.parts().find(|m| m.is(key))
}

/// The string value of the first member named `key`.
pub(crate) fn str_of<'a>(v: Node<'a>, key: &str) -> Option<Cow<'a, str>> {
    first(v, key).and_then(Node::as_str)
}

/// How messages name a collection: by its id when it has one.
fn collection_name(cid: Option<&str>, fallback: &str) -> String {
    match cid {
        Some(id) => format!("collection {id} ({fallback})"),
        None => fallback.to_string(),
    }
}

/// The elements of the collection's `datasets` (none when it is absent or
/// null); a dataset record given instead of a collection is refused.
fn datasets_of<'a>(c: Node<'a>, place: &str, cname: &str) -> Result<Vec<Node<'a>>> {
    match first(c, "datasets") {
        None if first(c, "dataset_id").is_some() => Err(Error::input(format!(
            "{place}: this is a dataset (it has dataset_id and no datasets), not a collection: \
             cxg-datasets reads collections (cxg-fetch collections); datasets go straight to cxg-tocsv"
        ))),
        None => Ok(Vec::new()),
        Some(d) if d.json() == b"null" => Ok(Vec::new()),
        Some(d) if d.kind() == "array" => Ok(d.parts().collect()),
        Some(d) => Err(Error::input(format!(
            "{cname}: 'datasets' is {}, not an array",
            d.kind()
        ))),
    }
}

/// One output line: the dataset (merged with its full record when there
/// is one) plus `collection`, replacing a `collection` key in place as
/// jq's `+` does.
pub(crate) fn dataset_line(
    d: &[Member<'_>],
    full: Option<&[Member<'_>]>,
    col_json: &[u8],
    out: &mut Vec<u8>,
) {
    let col = Member {
        key_json: b"\"collection\"",
        value: col_json,
    };
    let Some(full) = full else {
        // the common case, written straight: the dataset's text, then the collection
        if !d.iter().any(|m| m.is("collection")) {
            out.push(b'{');
            for m in d {
                out.extend_from_slice(m.key_json);
                out.push(b':');
                out.extend_from_slice(m.value);
                out.push(b',');
            }
            out.extend_from_slice(b"\"collection\":");
            out.extend_from_slice(col_json);
            out.push(b'}');
            return;
        }
        let ms: Vec<Member<'_>> = d
            .iter()
            .map(|m| if m.is("collection") { col } else { *m })
            .collect();
        return object(&ms, out);
    };
    let mut ms: Vec<Member<'_>> = Vec::with_capacity(d.len() + full.len() + 1);
    for m in d {
        ms.push(*full.iter().find(|x| x.key_json == m.key_json).unwrap_or(m));
    }
    for m in full {
        if !d.iter().any(|x| x.key_json == m.key_json) {
            ms.push(*m);
        }
    }
    match ms.iter().position(|m| m.is("collection")) {
        Some(i) => ms[i] = col,
        None => ms.push(col),
    }
    object(&ms, out);
}

/// The members of an object.
fn members(v: Node<'_>) -> Vec<Member<'_>> {
    v.parts().map(Node::member).collect()
}

fn put(ctx: &mut Ctx, bytes: &[u8]) -> Result<()> {
    ctx.out.write_all(bytes).map_err(|e| ctx.out.error(e))
}

impl Job {
    pub(crate) fn new(args: &Args, filter: Option<Where>, index: Option<Index>) -> Job {
        Job {
            filter,
            index,
            layout: args
                .out_dir
                .as_ref()
                .map(|dir| Layout::new(dir.clone(), args.json.pretty)),
            pretty: args.json.pretty,
            tally: Tally::new(args.index.clone()),
            line: Vec::with_capacity(1 << 14),
            pretty_line: Vec::new(),
        }
    }

    /// The datasets of the collection `c` (its members, datasets and their
    /// members recorded), read at `place`.
    pub(crate) fn collection(&mut self, c: Node<'_>, place: &str, ctx: &mut Ctx) -> Result<()> {
        if c.kind() != "object" {
            return Err(Error::input(format!(
                "{place}: expected a collection object, found {}",
                c.kind()
            )));
        }
        let cid = str_of(c, "collection_id");
        let cname = collection_name(cid.as_deref(), place);
        let datasets = datasets_of(c, place, &cname)?;
        // the collection without `datasets`, key order kept
        let rest: Vec<Member<'_>> = c
            .parts()
            .filter(|m| !m.is("datasets"))
            .map(Node::member)
            .collect();
        let mut col_json = Vec::with_capacity(c.json().len());
        object(&rest, &mut col_json);
        let mut kept = Vec::new();
        for (k, d) in datasets.into_iter().enumerate() {
            if self.dataset(d, k, &cname, &col_json, ctx)? && self.layout.is_some() {
                kept.push(d);
            }
        }
        if let Some(layout) = &mut self.layout {
            for f in layout.write(c, cid.as_deref(), &kept, place)? {
                put(ctx, format!("{}\n", f.display()).as_bytes())?;
            }
        }
        Ok(())
    }

    /// The `k`th dataset `d` of the collection named `cname`: its line
    /// built and, when `--where` keeps it, written (without `--out-dir`).
    /// Returns whether it was kept.
    fn dataset(
        &mut self,
        d: Node<'_>,
        k: usize,
        cname: &str,
        col_json: &[u8],
        ctx: &mut Ctx,
    ) -> Result<bool> {
        if d.kind() != "object" {
            return Err(Error::input(format!(
                "{cname}: datasets[{k}] is {}, not an object",
                d.kind()
            )));
        }
        self.tally.seen += 1;
        let did = str_of(d, "dataset_id");
        let full = self.index.as_ref().and_then(|ix| ix.get(did.as_deref()?));
        if self.index.is_some() && full.is_none() {
            self.tally.not_in_index(|| match &did {
                Some(id) => id.to_string(),
                None => format!("{cname}: datasets[{k}]"),
            });
        }
        let full = full.map(members);
        self.line.clear();
        dataset_line(&members(d), full.as_deref(), col_json, &mut self.line);
        if let Some(w) = &self.filter {
            match w.test(&self.line)? {
                Verdict::Keep => {}
                Verdict::Drop => return Ok(false),
                Verdict::Failed(e) => {
                    let who = match &did {
                        Some(id) => id.to_string(),
                        None => format!("datasets[{k}] of {cname}"),
                    };
                    self.tally.failed(e, who);
                    return Ok(false);
                }
            }
        }
        self.tally.kept += 1;
        if self.layout.is_none() {
            self.write_line(ctx)?;
        }
        Ok(true)
    }

    /// The line built, compact or indented, and a newline.
    fn write_line(&mut self, ctx: &mut Ctx) -> Result<()> {
        let text = if self.pretty {
            self.pretty_line.clear();
            // the line is compact JSON this tool wrote: this cannot fail
            let _ = emit(&self.line, true, &mut self.pretty_line);
            &mut self.pretty_line
        } else {
            &mut self.line
        };
        text.push(b'\n');
        put(ctx, text)
    }

    /// Say what the run left out, and end it.
    pub(crate) fn finish(self, diag: &Diag) -> Result<()> {
        self.tally.report(diag, self.filter.is_some())
    }
}
