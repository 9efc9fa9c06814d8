//! The selection proper: each record read, the fields the options need
//! parsed, each resolved value matched against them, and the record kept
//! or left out; what was seen is tallied for the report.

use crate::args::Args;
use crate::fields::{bare, list_of, Entry, Rec};
use cxg_catalog::facets::{Kind, FACETS};
use cxg_core::ctx::Diag;
use cxg_core::io::Output;
use cxg_core::{Error, Result};
use cxg_json::jq::{parse_val, Verdict, Where};
use cxg_json::stream::{JsonStream, Record};
use cxg_terms::resolve::{How, Sel};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Read, Seek, Write};
use std::path::PathBuf;

/// What was seen in the records, for the report.
#[derive(Default)]
pub(crate) struct Tally {
    pub n_in: usize,
    pub n_out: usize,
    pub preprints: usize,
    pub preprint_unknown: usize,
    pub few_cells: usize,
    pub no_count: usize,
    /// (facet, records without its field), for every facet given a value.
    pub missing: Vec<(usize, usize)>,
    /// Labels and ids seen in the data, for suggestions, per facet whose
    /// values are not all known up front.
    pub seen: Vec<BTreeSet<String>>,
    /// The terms of the data (id → label, records), per facet given a term:
    /// where the data is when a term has none.
    pub terms: Vec<BTreeMap<String, (String, usize)>>,
}

/// The selection a run makes: its resolved values and the other options,
/// with what follows from them for reading records.
pub(crate) struct Selection {
    pub sels: Vec<Sel>,
    /// The facets given a value, in table order.
    pub used: Vec<usize>,
    /// Per facet: keep the values seen in the data (a value of it must be
    /// found there).
    collect_seen: Vec<bool>,
    /// Per facet: count the terms of the data (a value of it resolved to
    /// an ontology term, which may have no record).
    collect_terms: Vec<bool>,
    /// The facet lists any option reads (see [`list_of`]).
    lists: Vec<usize>,
    /// The list whose entries must match an include of its tissue type
    /// facet and one of its other facets at once (`--tissue lung
    /// --tissue-type organoid`: a lung organoid).
    joint: Option<usize>,
    /// A record that is not a dataset at all (a collection) is input of the
    /// wrong stage; it matters only when an option reads a record's fields.
    reads_fields: bool,
    pub no_preprints: bool,
    pub min_cells: Option<u64>,
    filter: Option<Where>,
    /// Values still to be found in the data.
    pub unconfirmed: usize,
    /// Per value: it matched the current record.
    hit: Vec<bool>,
}

/// The fields of one record that the options read.
struct Fields<'a> {
    lists: [Option<Vec<Entry<'a>>>; FACETS.len()],
    cell_count: Option<f64>,
    preprint: Option<bool>,
}

impl<'a> Fields<'a> {
    /// The list facet `f` reads (empty when the record lacks it).
    fn of(&self, f: usize) -> &[Entry<'a>] {
        self.lists[list_of(f)].as_deref().unwrap_or(&[])
    }
    fn has(&self, f: usize) -> bool {
        self.lists[list_of(f)].is_some()
    }
}

/// The list in which a tissue type facet and another facet are both
/// included, if any.
fn joint_list(sels: &[Sel]) -> Option<usize> {
    let inc = |tt: bool| {
        sels.iter()
            .filter(move |s| !s.exclude && (s.of().kind == Kind::TissueType) == tt)
            .map(|s| list_of(s.facet))
    };
    inc(true).find(|l| inc(false).any(|o| o == *l))
}

impl Selection {
    pub fn new(sels: Vec<Sel>, args: &Args, filter: Option<Where>) -> Selection {
        let mut used: Vec<usize> = sels.iter().map(|s| s.facet).collect();
        used.sort();
        used.dedup();
        let collect_seen: Vec<bool> = (0..FACETS.len())
            .map(|f| sels.iter().any(|s| s.facet == f && s.needs_data))
            .collect();
        let collect_terms: Vec<bool> = (0..FACETS.len())
            .map(|f| sels.iter().any(|s| s.facet == f && s.term.is_some()))
            .collect();
        let mut lists: Vec<usize> = (0..FACETS.len())
            .filter(|&f| used.contains(&f) || collect_seen[f])
            .map(list_of)
            .collect();
        lists.sort();
        lists.dedup();
        Selection {
            used,
            collect_seen,
            collect_terms,
            lists,
            joint: joint_list(&sels),
            reads_fields: !args.requests().is_empty()
                || args.no_preprints
                || args.min_cells.is_some(),
            no_preprints: args.no_preprints,
            min_cells: args.min_cells,
            filter,
            unconfirmed: sels.iter().filter(|s| s.needs_data).count(),
            hit: vec![false; sels.len()],
            sels,
        }
    }

    /// Select from every record of `src` into `sink`.
    pub fn run(
        &mut self,
        src: &mut JsonStream<impl Read>,
        sink: &mut Sink,
        diag: &Diag,
    ) -> Result<Tally> {
        let mut tally = Tally {
            missing: self.used.iter().map(|&f| (f, 0)).collect(),
            seen: FACETS.iter().map(|_| BTreeSet::new()).collect(),
            terms: FACETS.iter().map(|_| BTreeMap::new()).collect(),
            ..Tally::default()
        };
        while let Some(src) = src.next_record()? {
            tally.n_in += 1;
            if self.decide(&src, &mut tally, sink, diag)? {
                tally.n_out += 1;
                sink.write(&src)?;
            }
        }
        Ok(tally)
    }

    /// Whether to keep the record `src`. A record with a field of an
    /// unexpected type is named, counted as failed, and left out.
    fn decide(
        &mut self,
        src: &Record,
        tally: &mut Tally,
        sink: &mut Sink,
        diag: &Diag,
    ) -> Result<bool> {
        let rec = parse(src, self.reads_fields)?;
        let fields = match self.fields(&rec) {
            Ok(f) => f,
            Err(p) => {
                diag.fail(format_args!(
                    "{}: dataset {}: {p}; left out",
                    src.place(),
                    rec.id()
                ));
                return Ok(false);
            }
        };
        self.observe(&fields, tally);
        self.match_values(&fields);
        if self.unconfirmed == 0 {
            sink.release()?;
        }
        Ok(self.by_facets()
            && self.jointly(&fields)
            && self.by_preprint(&fields, tally)
            && self.by_cells(&fields, tally)
            && self.by_filter(src, &rec, diag)?)
    }

    /// The fields the options read, or why one cannot be read.
    fn fields<'a>(&self, rec: &Rec<'a>) -> std::result::Result<Fields<'a>, String> {
        let mut lists: [Option<Vec<Entry<'a>>>; FACETS.len()] = Default::default();
        for &i in &self.lists {
            lists[i] = rec.entries(i)?;
        }
        let cell_count = if self.min_cells.is_some() {
            rec.cell_count()?
        } else {
            None
        };
        let preprint = if self.no_preprints {
            rec.is_preprint()?
        } else {
            None
        };
        Ok(Fields {
            lists,
            cell_count,
            preprint,
        })
    }

    /// Count the fields records lack, and keep the values and terms seen.
    fn observe(&self, fields: &Fields, tally: &mut Tally) {
        for m in tally.missing.iter_mut() {
            if !fields.has(m.0) {
                m.1 += 1;
            }
        }
        self.count_terms(fields, tally);
        for (f, set) in tally.seen.iter_mut().enumerate() {
            if !self.collect_seen[f] || set.len() > 100_000 {
                continue;
            }
            for e in fields.of(f) {
                let v = if FACETS[f].kind == Kind::TissueType {
                    &e.tissue_type
                } else {
                    &e.label
                };
                if let Some(l) = v.as_deref().or(e.id.as_deref()) {
                    // each part of a joined label ("a || b") on its own
                    for l in parts(l) {
                        if !set.contains(l) {
                            set.insert(l.to_string());
                        }
                    }
                }
            }
        }
    }

    /// Count the records of each term of the facets given a term.
    fn count_terms(&self, fields: &Fields, tally: &mut Tally) {
        for (f, map) in tally.terms.iter_mut().enumerate() {
            if !self.collect_terms[f] || map.len() > 100_000 {
                continue;
            }
            for e in fields.of(f) {
                if let Some(id) = e.id.as_deref() {
                    let label = e.label.as_deref().unwrap_or("");
                    let n = map
                        .entry(id.to_string())
                        .or_insert_with(|| (label.to_string(), 0));
                    n.1 += 1;
                }
            }
        }
    }

    /// Match every value against the record, and count the matches.
    fn match_values(&mut self, fields: &Fields) {
        for (s, hit) in self.sels.iter_mut().zip(self.hit.iter_mut()) {
            *hit = fields.of(s.facet).iter().any(|e| matches(s, e));
            if *hit {
                if s.matched == 0 && s.needs_data {
                    self.unconfirmed -= 1;
                }
                s.matched += 1;
            }
        }
    }

    /// No exclude matched, and for every facet with includes one matched.
    fn by_facets(&self) -> bool {
        let hits = || self.sels.iter().zip(&self.hit);
        if hits().any(|(s, &h)| s.exclude && h) {
            return false;
        }
        self.used.iter().all(|&f| {
            let (mut any, mut hit) = (false, false);
            for (_, &h) in hits().filter(|(s, _)| s.facet == f && !s.exclude) {
                any = true;
                hit |= h;
            }
            !any || hit
        })
    }

    /// With a tissue type and another facet of its list both included, one
    /// entry of the list matches both.
    fn jointly(&self, fields: &Fields) -> bool {
        let Some(list) = self.joint else {
            return true;
        };
        let inc = |tt: bool, e: &Entry| {
            self.sels.iter().any(|s| {
                !s.exclude
                    && list_of(s.facet) == list
                    && (s.of().kind == Kind::TissueType) == tt
                    && matches(s, e)
            })
        };
        fields
            .of(list)
            .iter()
            .any(|e| inc(false, e) && inc(true, e))
    }

    /// --no-preprints: a preprint goes; an unknown status is kept, counted.
    fn by_preprint(&self, fields: &Fields, tally: &mut Tally) -> bool {
        if !self.no_preprints {
            return true;
        }
        match fields.preprint {
            Some(true) => {
                tally.preprints += 1;
                false
            }
            Some(false) => true,
            None => {
                tally.preprint_unknown += 1;
                true
            }
        }
    }

    /// --min-cells: fewer cells go; no cell count is kept, counted.
    fn by_cells(&self, fields: &Fields, tally: &mut Tally) -> bool {
        let Some(min) = self.min_cells else {
            return true;
        };
        match fields.cell_count {
            Some(n) if n < min as f64 => {
                tally.few_cells += 1;
                false
            }
            Some(_) => true,
            None => {
                tally.no_count += 1;
                true
            }
        }
    }

    /// --where, on the record as written (numbers as their text). A record
    /// on which it fails is named and counted as failed; a runaway
    /// recursion is the expression's fault and ends the run (exit 2).
    fn by_filter(&self, src: &Record, rec: &Rec, diag: &Diag) -> Result<bool> {
        let Some(f) = &self.filter else {
            return Ok(true);
        };
        let v = parse_val(src.json)
            .map_err(|e| Error::input(format!("{}: invalid JSON: {e}", src.place())))?;
        match f.test_val(v)? {
            Verdict::Keep => Ok(true),
            Verdict::Drop => Ok(false),
            Verdict::Failed(e) => {
                diag.fail(format_args!(
                    "--where failed on dataset {} ({}): {e}",
                    rec.id(),
                    src.place()
                ));
                Ok(false)
            }
        }
    }
}

/// The record `src`, with the fields selection may read.
fn parse<'a>(src: &Record<'a>, reads_fields: bool) -> Result<Rec<'a>> {
    let rec: Rec = serde_json::from_slice(src.json).map_err(|e| {
        Error::input(format!(
            "{}: not a dataset record: {} (line {} of the record)",
            src.place(),
            bare(&e),
            e.line()
        ))
    })?;
    if reads_fields && rec.is_collection() {
        return Err(Error::input(format!(
            "{}: this is a collection (it has datasets and no dataset_id), not a dataset: \
             run cxg-datasets first (cxg-datasets collections.json | cxg-select ...)",
            src.place()
        )));
    }
    Ok(rec)
}

/// `a` equals `b_lc` (already lowercase) without regard to case.
fn eq_ci(a: &str, b_lc: &str) -> bool {
    if a.is_ascii() && b_lc.is_ascii() {
        a.eq_ignore_ascii_case(b_lc)
    } else {
        a.to_lowercase() == b_lc
    }
}

/// The parts of a (possibly joined, `"MONDO:a || MONDO:b"`) id.
fn parts(id: &str) -> impl Iterator<Item = &str> {
    id.split(" || ").map(str::trim)
}

/// Whether the entry `e` of a record matches the value `sel`.
pub(crate) fn matches(sel: &Sel, e: &Entry) -> bool {
    match (&sel.how, sel.of().kind) {
        (How::Literal(vals), Kind::TissueType) => e
            .tissue_type
            .as_deref()
            .is_some_and(|t| vals.iter().any(|v| eq_ci(t, v))),
        (How::Ids(_), Kind::TissueType) => false,
        (How::Ids(set), _) => e.id.as_deref().is_some_and(|id| {
            set.contains(id) || (id.contains(" || ") && parts(id).any(|p| set.contains(p)))
        }),
        (How::Literal(vals), _) => vals.iter().any(|v| {
            e.id.as_deref().is_some_and(|id| {
                eq_ci(id, v) || (id.contains(" || ") && parts(id).any(|p| eq_ci(p, v)))
            }) || e.label.as_deref().is_some_and(|l| eq_ci(l, v))
        }),
    }
}

/// Where selected records go: the output, or, while a value must still be
/// confirmed in the data, an unnamed temporary file (so that a misspelt
/// value ends the run before anything is written, and memory does not grow
/// with the output).
pub(crate) struct Sink<'o> {
    out: &'o mut Output,
    held: Option<BufWriter<std::fs::File>>,
    /// The line of the record being written.
    line: Vec<u8>,
}

impl<'o> Sink<'o> {
    /// Write to `out`, holding records back first when `hold`.
    pub fn new(out: &'o mut Output, hold: bool, args: &Args) -> Result<Sink<'o>> {
        let held = if hold {
            Some(BufWriter::with_capacity(1 << 16, hold_file(args)?))
        } else {
            None
        };
        Ok(Sink {
            out,
            held,
            line: Vec::new(),
        })
    }

    /// Write the record: its JSON Lines line as read, or one compact line.
    fn write(&mut self, src: &Record) -> Result<()> {
        self.line.clear();
        src.write_to(&mut self.line);
        match &mut self.held {
            Some(h) => h
                .write_all(&self.line)
                .map_err(|e| Error::write("a temporary file", e)),
            None => self
                .out
                .write_all(&self.line)
                .map_err(|e| self.out.error(e)),
        }
    }

    /// Write the records held back to the output.
    fn release(&mut self) -> Result<()> {
        let Some(h) = self.held.take() else {
            return Ok(());
        };
        let copy = |h: BufWriter<std::fs::File>, out: &mut Output| -> std::io::Result<()> {
            let mut f = h.into_inner().map_err(|e| e.into_error())?;
            f.seek(std::io::SeekFrom::Start(0))?;
            std::io::copy(&mut f, out)?;
            Ok(())
        };
        copy(h, self.out).map_err(|e| self.out.error(e))
    }
}

/// A file for the records held back: unnamed (created and unlinked at once,
/// or O_TMPFILE), so no signal or crash leaves it behind; in the output's
/// folder, or the temporary folder when writing to stdout.
fn hold_file(args: &Args) -> Result<std::fs::File> {
    let dir = match &args.out.output {
        Some(p) if p.as_os_str() != "-" => match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        },
        _ => std::env::temp_dir(),
    };
    tempfile::tempfile_in(&dir)
        .map_err(|e| Error::write(&format!("a temporary file in '{}'", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn entry<'a>(id: &'a str, label: &'a str, tt: Option<&'a str>) -> Entry<'a> {
        Entry {
            id: Some(Cow::Borrowed(id)),
            label: Some(Cow::Borrowed(label)),
            tissue_type: tt.map(Cow::Borrowed),
        }
    }

    fn sel(option: &str, how: How) -> Sel {
        let facet = FACETS.iter().position(|f| f.option == option);
        let mut s = Sel::new(facet.unwrap_or(usize::MAX), false, "");
        s.how = how;
        s
    }

    #[test]
    fn ids_labels_joined_ids_and_tissue_types_match() {
        let ids = sel("disease", How::Ids(["MONDO:1".to_string()].into()));
        assert!(matches(&ids, &entry("MONDO:1", "x", None)));
        assert!(matches(&ids, &entry("MONDO:0 || MONDO:1", "x || y", None)));
        assert!(!matches(&ids, &entry("MONDO:10", "x", None)));
        let lit = sel("disease", How::Literal(vec!["café au lait".into()]));
        assert!(matches(&lit, &entry("X:1", "Café au Lait", None)));
        assert!(!matches(&lit, &entry("X:1", "café", None)));
        let aliases = cxg_catalog::facets::tissue_type_aliases("cell culture");
        let tt = sel("tissue-type", How::Literal(aliases));
        assert!(matches(
            &tt,
            &entry("CL:1", "T cell", Some("primary cell culture"))
        ));
        assert!(!matches(
            &tt,
            &entry("CL:1", "cell culture", Some("tissue"))
        ));
    }

    #[test]
    fn option_names() {
        let mut s = sel("cell-type", How::Literal(vec![]));
        assert_eq!(s.option(), "--cell-type");
        s.exclude = true;
        assert_eq!(s.option(), "--exclude-cell-type");
    }
}
