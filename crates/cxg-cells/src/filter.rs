//! The cell filter: which cells of an `obs` table pass the facet options
//! (resolved as cxg-select resolves them: ids, labels, synonyms,
//! descendants), `--primary`, `--normal` and the age bounds.
//!
//! Per cell, as cxg-select per record: values of one option are OR'ed,
//! different options AND'ed, and an `--exclude-*` value removes a cell
//! that matches it. A cell matches a value by its term id (each part of a
//! comma-joined id, as schema 4+ writes several ethnicities) or, for a
//! value matched as written, by its label too. A cell without a value
//! (a missing code) matches nothing. Each value is decided once per
//! category, then each cell looked up by its code.

use crate::args::CellArgs;
use crate::codes::Codes;
use crate::file::H5ad;
use crate::obs::Obs;
use crate::read::{Column, R};
use cxg_catalog::facets::{self, FACETS};
use cxg_core::ctx::Diag;
use cxg_core::Result;
use cxg_terms::age::{Ages, Bounds, Verdict};
use cxg_terms::folder::Ontologies;
use cxg_terms::report::quote;
use cxg_terms::resolve::{self, How, Sel};
use cxg_terms::suggest;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Columns of older CELLxGENE schemas that hold today's facet: (today's
/// id column, the old id column, the old label column). Schema 2.0 named
/// self-reported ethnicity `ethnicity_ontology_term_id`.
pub const LEGACY_COLUMNS: [(&str, &str, &str); 1] = [(
    "self_reported_ethnicity_ontology_term_id",
    "ethnicity_ontology_term_id",
    "ethnicity",
)];

const DISEASE: &str = "disease_ontology_term_id";
const PRIMARY: &str = "is_primary_data";
const STAGE: &str = "development_stage_ontology_term_id";

/// A filter of cells, resolved once for a run and applied to each file.
#[derive(Debug)]
pub struct CellFilter {
    sels: Vec<Sel>,
    primary: bool,
    normal: bool,
    bounds: Bounds,
    keep_unknown_age: bool,
    ages: Option<Ages>,
    /// The cells each of `sels` matched in the files masked so far.
    matched: Vec<AtomicU64>,
    /// The options as given ([`CellArgs::given`]).
    pub given: Vec<String>,
    /// How each was resolved: `--tissue lung: UBERON:0002048 'lung'
    /// (UBERON v2026-04-01) and 150 descendants: 151 terms`.
    pub resolved: Vec<String>,
}

/// The cells a filter keeps in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Per cell, in obs order.
    pub keep: Vec<bool>,
    /// Cells kept.
    pub kept: u64,
    /// Cells that pass every other option but whose age the bounds cannot
    /// tell (kept only with --keep-unknown-age).
    pub age_unknown: u64,
}

/// What a filter says of one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Mask(Mask),
    /// The file lacks columns the filter needs (named): no cell can be
    /// judged.
    Missing(Vec<String>),
}

impl CellFilter {
    /// [`CellFilter::from_args`], and (unless `quiet`) how each value
    /// resolved, on `diag`: what cxg-obs and cxg-subset say before reading.
    pub fn announced(args: &CellArgs, diag: &Diag, quiet: bool) -> Result<CellFilter> {
        let f = CellFilter::from_args(args, diag)?;
        if !quiet {
            for r in &f.resolved {
                diag.warn(r);
            }
        }
        Ok(f)
    }

    /// Resolve the options: each facet value in the ontology folder's
    /// files (a value no file knows is matched as written, and said so),
    /// the ages of HsapDv and MmusDv when an age bound is given (an error
    /// when neither file is there).
    pub fn from_args(args: &CellArgs, diag: &Diag) -> Result<CellFilter> {
        let requests = &args.facets.0;
        let mut onts = Ontologies::open(&args.folder(), requests, diag)?;
        if !requests.is_empty() && onts.dir.is_none() {
            diag.warn("no ontology loaded (--ontology DIR or CXG_ONTOLOGY): values match ids and labels as they appear in the data; no descendants are included");
        }
        let mut sels = Vec::new();
        for r in requests {
            for v in &r.values {
                let sel = resolve::resolve(r.facet, r.exclude, v, args.exact, &mut onts)?;
                unknown_term(&sel, &onts)?;
                sels.push(sel);
            }
        }
        let bounds = Bounds {
            min: args.min_age,
            max: args.max_age,
        };
        if let (Some(a), Some(b)) = (bounds.min, bounds.max) {
            if a >= b {
                return Err(cxg_core::Error::input(format!(
                    "--min-age {a} --max-age {b}: no age is at least {a} and younger than {b}"
                )));
            }
        }
        let ages = if bounds.is_set() {
            Some(Ages::load(&mut onts)?)
        } else {
            None
        };
        let mut resolved: Vec<String> = sels
            .iter()
            .map(|s| format!("{} {}: {}", s.option(), quote(&s.given), s.desc))
            .collect();
        if let Some(a) = &ages {
            resolved.push(format!(
                "ages (years, at least --min-age, younger than --max-age) from {}",
                a.sources.join(", ")
            ));
        }
        Ok(CellFilter {
            matched: sels.iter().map(|_| AtomicU64::new(0)).collect(),
            sels,
            primary: args.primary,
            normal: args.normal,
            bounds,
            keep_unknown_age: args.keep_unknown_age,
            ages,
            given: args.given(),
            resolved,
        })
    }

    /// Say on `diag` how many cells each facet value matched in the files
    /// masked so far (unless `quiet`), and warn of a value that matched
    /// none.
    pub fn report(&self, diag: &Diag, quiet: bool) {
        for (s, m) in self.sels.iter().zip(&self.matched) {
            let n = m.load(Ordering::Relaxed);
            if !quiet {
                diag.warn(format_args!(
                    "{} {}: {} matched",
                    s.option(),
                    quote(&s.given),
                    cxg_terms::report::plural(n as usize, "cell", "cells")
                ));
            }
            if n == 0 {
                diag.warn(format_args!(
                    "warning: {} {} matches no cell",
                    s.option(),
                    quote(&s.given)
                ));
            }
        }
    }

    /// Whether the filter keeps every cell.
    pub fn is_empty(&self) -> bool {
        self.sels.is_empty() && !self.primary && !self.normal && !self.bounds.is_set()
    }

    /// The cells of the H5AD file at `path` the filter keeps (a file's
    /// error: one line, as cxg-obs names it).
    pub fn mask_path(&self, path: &std::path::Path) -> R<Outcome> {
        let h5 = H5ad::open(path)?;
        let obs = h5.obs()?;
        self.mask(&h5, &obs)
    }

    /// The cells of `obs` (of the file `h5`) the filter keeps.
    pub fn mask(&self, h5: &H5ad, obs: &Obs) -> R<Outcome> {
        let n = obs.n_cells()?;
        let cells = usize::try_from(n).map_err(|_| format!("{n} cells: too many"))?;
        let mut keep = vec![true; cells];
        let mut missing = Vec::new();
        for (f, facet) in FACETS.iter().enumerate() {
            let idx: Vec<usize> = (0..self.sels.len())
                .filter(|&i| self.sels[i].facet == f)
                .collect();
            if idx.is_empty() {
                continue;
            }
            let sels: Vec<&Sel> = idx.iter().map(|&i| &self.sels[i]).collect();
            match facet_columns(h5, obs, f, n)? {
                Some((ids, labels)) => {
                    let matched = apply(&sels, &ids, labels.as_deref(), &mut keep);
                    for (&i, m) in idx.iter().zip(matched) {
                        self.matched[i].fetch_add(m, Ordering::Relaxed);
                    }
                }
                None => missing.push(facet.obs_column.to_string()),
            }
        }
        if self.normal {
            match obs.categorical(DISEASE, n)? {
                Some(c) => retain_categories(&c, &mut keep, |v| v == facets::NORMAL),
                None => missing.push(DISEASE.to_string()),
            }
        }
        if self.primary {
            match obs.truth(PRIMARY, n)? {
                Some(t) => keep
                    .iter_mut()
                    .zip(t)
                    .for_each(|(k, t)| *k &= t == Some(true)),
                None => missing.push(PRIMARY.to_string()),
            }
        }
        let mut age_unknown = 0;
        if let Some(ages) = &self.ages {
            match obs.categorical(STAGE, n)? {
                Some(c) => age_unknown = self.apply_ages(ages, &c, &mut keep),
                None => missing.push(STAGE.to_string()),
            }
        }
        if !missing.is_empty() {
            let mut once: Vec<String> = Vec::new();
            for m in missing {
                if !once.contains(&m) {
                    once.push(m);
                }
            }
            return Ok(Outcome::Missing(once));
        }
        let kept = keep.iter().filter(|k| **k).count() as u64;
        Ok(Outcome::Mask(Mask {
            keep,
            kept,
            age_unknown,
        }))
    }

    /// Remove the cells of stages outside the bounds, and those of stages
    /// the bounds cannot tell unless --keep-unknown-age; the latter among
    /// the cells still kept are counted.
    fn apply_ages(&self, ages: &Ages, stage: &Column, keep: &mut [bool]) -> u64 {
        let verdict: Vec<Verdict> = stage
            .categories
            .iter()
            .map(|id| self.bounds.judge(ages.span(id)))
            .collect();
        let mut unknown = 0;
        stage.codes.each_with(keep, |k, c| {
            let v = usize::try_from(c).map_or(Verdict::Unknown, |c| verdict[c]);
            match v {
                Verdict::In => {}
                Verdict::Out => *k = false,
                Verdict::Unknown => {
                    if *k {
                        unknown += 1;
                    }
                    *k &= self.keep_unknown_age;
                }
            }
        });
        unknown
    }
}

/// A value the facet's loaded ontology files do not know is an error
/// (with the closest labels): unlike a dataset record's, a file's cells
/// cannot be searched for it before the run.
fn unknown_term(sel: &Sel, onts: &Ontologies) -> Result<()> {
    let fonts = onts.for_names(sel.of().ontologies);
    if !sel.needs_data || fonts.is_empty() {
        return Ok(());
    }
    let mut cands: Vec<(&str, &str)> = Vec::new();
    for o in &fonts {
        for (l, syns) in o.current() {
            cands.push((l, l));
            cands.extend(syns.into_iter().map(|y| (y, l)));
        }
    }
    let sugg: Vec<String> = suggest::closest(&sel.given, &cands, 3)
        .iter()
        .map(|x| format!("'{x}'"))
        .collect();
    let dym = if sugg.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", sugg.join(", "))
    };
    Err(cxg_core::Error::input(format!(
        "{} {}: no such term in {}{dym}",
        sel.option(),
        quote(&sel.given),
        resolve::names_of(&fonts)
    )))
}

/// A facet's ids and (when the file has them) labels.
type FacetColumns = (Arc<Column>, Option<Arc<Column>>);

/// A facet's column of ids (or values) and of labels: from obs, from an
/// older schema's column, or one value for every cell from `uns` (schema
/// 6 and later keep the organism there); none when the file has none.
fn facet_columns(h5: &H5ad, obs: &Obs, f: usize, n: u64) -> R<Option<FacetColumns>> {
    let facet = &FACETS[f];
    let (ids, labels) = match LEGACY_COLUMNS.iter().find(|l| l.0 == facet.obs_column) {
        Some(&(_, old, old_labels)) if !obs.has(facet.obs_column) && obs.has(old) => {
            (old, Some(old_labels))
        }
        _ => (facet.obs_column, facet.obs_label),
    };
    if let Some(col) = obs.categorical(ids, n)? {
        let labels = match labels {
            Some(l) => obs.categorical(l, n)?,
            None => None,
        };
        return Ok(Some((col, labels)));
    }
    let Some(v) = h5.uns_string(facet.obs_column) else {
        return Ok(None);
    };
    let cells = usize::try_from(n).map_err(|_| format!("{n} cells: too many"))?;
    let one = |v: String| {
        Arc::new(Column {
            codes: Codes::I8(vec![0; cells]),
            categories: vec![v],
        })
    };
    let labels = facet.obs_label.and_then(|l| h5.uns_string(l)).map(one);
    Ok(Some((one(v), labels)))
}

/// Keep only the cells whose category passes `pass`.
fn retain_categories(c: &Column, keep: &mut [bool], pass: impl Fn(&str) -> bool) {
    let ok: Vec<bool> = c.categories.iter().map(|v| pass(v)).collect();
    c.codes.each_with(keep, |k, code| {
        *k &= usize::try_from(code).is_ok_and(|i| ok[i]);
    });
}

/// One facet's values: a cell stays when it matches one of the includes
/// (if any) and none of the excludes. Returns the cells each value
/// matched (kept or not).
fn apply(sels: &[&Sel], ids: &Column, labels: Option<&Column>, keep: &mut [bool]) -> Vec<u64> {
    // per category, the values it matches (decided once)
    let hits = |col: &Column, by_label: bool| -> Vec<Vec<usize>> {
        col.categories
            .iter()
            .map(|v| {
                (0..sels.len())
                    .filter(|&j| value_matches(&sels[j].how, v, by_label))
                    .collect()
            })
            .collect()
    };
    let id_hits = hits(ids, false);
    let label_hits = labels.map(|l| hits(l, true));
    let has_include = sels.iter().any(|s| !s.exclude);
    let mut matched = vec![0u64; sels.len()];
    let mut cell = 0;
    // a cell's values: those its id matches, and those its label matches
    let mut judge = |by_id: &[usize], by_label: &[usize]| {
        if by_id.is_empty() && by_label.is_empty() {
            // most cells: no value matches them
            if let (true, Some(k)) = (has_include, keep.get_mut(cell)) {
                *k = false;
            }
            cell += 1;
            return;
        }
        let (mut inc, mut exc) = (false, false);
        for &j in by_id
            .iter()
            .chain(by_label.iter().filter(|j| !by_id.contains(j)))
        {
            matched[j] += 1;
            if sels[j].exclude {
                exc = true;
            } else {
                inc = true;
            }
        }
        if exc || (has_include && !inc) {
            if let Some(k) = keep.get_mut(cell) {
                *k = false;
            }
        }
        cell += 1;
    };
    match (labels, &label_hits) {
        (Some(l), Some(lh)) => {
            ids.codes.zip_while(&l.codes, |c, lc| {
                judge(hits_of(&id_hits, c), hits_of(lh, lc));
                true
            });
        }
        _ => ids.codes.each(|c| judge(hits_of(&id_hits, c), &[])),
    }
    matched
}

/// The values the category of code `c` matches (none for a missing
/// value).
fn hits_of(hits: &[Vec<usize>], c: i32) -> &[usize] {
    usize::try_from(c)
        .ok()
        .and_then(|c| hits.get(c))
        .map_or(&[], |v| &v[..])
}

/// Whether one value (an id, or a label when `by_label`) matches a
/// resolved option value: ids by the term set (each part of a joined id),
/// a value matched as written by id or label without regard to case.
pub fn value_matches(how: &How, value: &str, by_label: bool) -> bool {
    let parts = || {
        value
            .split([','])
            .flat_map(|p| p.split(" || "))
            .map(str::trim)
    };
    match how {
        How::Ids(set) => !by_label && (set.contains(value) || parts().any(|p| set.contains(p))),
        How::Literal(vals) => vals.iter().any(|v| {
            value.eq_ignore_ascii_case(v)
                || value.to_lowercase() == *v
                || (!by_label && parts().any(|p| p.to_lowercase() == *v))
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn col(codes: &[i32], cats: &[&str]) -> Column {
        Column {
            codes: codes.to_vec().into(),
            categories: cats.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A resolved value: ids (a term and its descendants) or as written.
    fn sel(exclude: bool, ids: &[&str], literal: &[&str]) -> Sel {
        let mut s = Sel::new(1, exclude, "x");
        s.how = if ids.is_empty() {
            How::Literal(literal.iter().map(|v| v.to_string()).collect())
        } else {
            How::Ids(ids.iter().map(|v| v.to_string()).collect::<HashSet<_>>())
        };
        s
    }

    #[test]
    fn values_match_ids_parts_and_labels() {
        let ids = How::Ids(["A:1".to_string()].into());
        let lit = How::Literal(vec!["lung".into()]);
        #[rustfmt::skip]
        let cases = [
            (&ids, "A:1", false, true),
            (&ids, "A:2,A:1", false, true),
            (&ids, "A:1", true, false),
            (&lit, "LUNG", true, true),
            (&lit, "UBERON:1,lung", false, true),
            (&lit, "lungs", false, false),
        ];
        for (how, v, by_label, want) in cases {
            assert_eq!(value_matches(how, v, by_label), want, "{how:?} {v}");
        }
    }

    /// Cells (by code; -1 missing) → kept, one line per case: includes
    /// OR'ed, excludes remove, labels match a value as written.
    #[test]
    fn includes_and_excludes_per_cell() {
        let ids = col(&[0, 1, 2, -1, 0], &["A:1", "A:2", "B:1"]);
        let labels = col(&[0, 1, 2, 0, 0], &["one", "two", "three"]);
        #[rustfmt::skip]
        let cases: Vec<(Vec<Sel>, [bool; 5])> = vec![
            (vec![sel(false, &["A:1"], &[])], [true, false, false, false, true]),
            (vec![sel(false, &["A:1"], &[]), sel(false, &["A:2"], &[])], [true, true, false, false, true]),
            (vec![sel(true, &["A:1"], &[])], [false, true, true, true, false]),
            (vec![sel(false, &[], &["three"])], [false, false, true, false, false]),
            (vec![sel(false, &["A:1", "A:2"], &[]), sel(true, &[], &["two"])], [true, false, false, false, true]),
        ];
        for (sels, want) in cases {
            let refs: Vec<&Sel> = sels.iter().collect();
            let mut keep = [true; 5];
            let matched = apply(&refs, &ids, Some(&labels), &mut keep);
            assert_eq!(keep, want, "{sels:?}");
            assert_eq!(matched.len(), sels.len());
        }
        // each value's cells, kept or not: A:1 (2 cells), 'two' by label (1)
        let sels = [sel(false, &["A:1"], &[]), sel(true, &[], &["two"])];
        let refs: Vec<&Sel> = sels.iter().collect();
        assert_eq!(apply(&refs, &ids, Some(&labels), &mut [true; 5]), [2, 1]);
    }
}
