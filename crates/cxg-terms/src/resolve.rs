//! Resolution: what each value of a facet option matches — an ontology
//! term (found by id, label or synonym) with its descendants, a word of a
//! fixed vocabulary, or, when no loaded file knows it, the value as it
//! appears in the data.

use crate::args::option_name;
use crate::folder::Ontologies;
use crate::ontology::{Ontology, Term};
use crate::report::{plural, quote};
use cxg_catalog::facets::{tissue_type_aliases, Facet, Kind, FACETS};
use cxg_core::ctx::Diag;
use cxg_core::{Error, Result};
use std::collections::HashSet;

/// What a resolved value matches.
#[derive(Debug)]
pub enum How {
    /// Records with one of these ontology_term_ids (the term, its
    /// descendants, and a deprecated id it replaced).
    Ids(HashSet<String>),
    /// Records with an id or label equal to one of these (lowercase).
    Literal(Vec<String>),
}

/// One value of one option, resolved.
#[derive(Debug)]
pub struct Sel {
    /// The facet's index in [`FACETS`].
    pub facet: usize,
    pub exclude: bool,
    pub given: String,
    pub how: How,
    /// How it was resolved, for the report.
    pub desc: String,
    /// Not known up front: the value must appear in the data.
    pub needs_data: bool,
    /// Records it matched.
    pub matched: usize,
    /// The term it resolved to (id, label), when it is one.
    pub term: Option<(String, String)>,
    /// A value of an ontology facet none of whose files is loaded: it may
    /// name a term whose descendants cannot be included.
    pub unexpanded: bool,
}

impl Sel {
    pub fn new(facet: usize, exclude: bool, given: &str) -> Sel {
        Sel {
            facet,
            exclude,
            given: given.to_string(),
            how: How::Literal(Vec::new()),
            desc: String::new(),
            needs_data: false,
            matched: 0,
            term: None,
            unexpanded: false,
        }
    }

    pub fn of(&self) -> &'static Facet {
        &FACETS[self.facet]
    }

    /// `--tissue` or `--exclude-tissue`.
    pub fn option(&self) -> String {
        format!("--{}", option_name(self.of(), self.exclude))
    }

    /// Matched as it appears in the data, which must then hold it.
    fn literal_from_data(mut self, lc: String, desc: String) -> Sel {
        self.how = How::Literal(vec![lc]);
        self.needs_data = true;
        self.desc = desc;
        self
    }
}

/// Resolve one value of a facet option.
pub fn resolve(
    facet: usize,
    exclude: bool,
    given: &str,
    exact: bool,
    onts: &mut Ontologies,
) -> Result<Sel> {
    let mut sel = Sel::new(facet, exclude, given);
    let f = sel.of();
    let v = given.trim();
    if v.is_empty() {
        return Err(Error::input(format!("{}: empty value", sel.option())));
    }
    let lc = v.to_lowercase();
    if lc == "unknown" || lc == "na" {
        sel.desc = format!("the value '{lc}' itself (never expanded)");
        sel.how = How::Literal(vec![lc]);
        return Ok(sel);
    }
    if f.kind != Kind::Terms {
        return Ok(vocabulary(sel, lc));
    }
    let names = ontologies_for(&sel, v, &lc, onts)?;
    let onts = &*onts;
    let fonts = onts.for_names(&names);
    let hit = match find_id(&fonts, v) {
        Some(h) => Some(h),
        None => find_label(&fonts, &sel.option(), given, &lc)?,
    };
    match hit {
        Some(hit) => term(sel, hit, &fonts, exact, &onts.diag),
        None => {
            let desc = not_a_term(f, &fonts, onts);
            // none of the facet's own files (a fallback file may be)
            sel.unexpanded = onts.for_names(f.ontologies).is_empty();
            Ok(sel.literal_from_data(lc, desc))
        }
    }
}

/// A value of a fixed vocabulary (tissue type, suspension type).
fn vocabulary(mut sel: Sel, lc: String) -> Sel {
    let f = sel.of();
    if !f.vocabulary.contains(&lc.as_str()) {
        let desc = format!(
            "'{lc}' as it appears in the data (not one of: {})",
            f.vocabulary.join(", ")
        );
        return sel.literal_from_data(lc, desc);
    }
    let all = if f.kind == Kind::TissueType {
        tissue_type_aliases(&lc)
    } else {
        vec![lc]
    };
    sel.desc = format!("'{}'", all.join("' or '"));
    sel.how = How::Literal(all);
    sel
}

/// The files to look the value up in: the facet's, and its fallback files
/// (loaded now) when none of those knows it.
fn ontologies_for(
    sel: &Sel,
    v: &str,
    lc: &str,
    onts: &mut Ontologies,
) -> Result<Vec<&'static str>> {
    let f = sel.of();
    let mut names: Vec<&str> = f.ontologies.to_vec();
    let known = {
        let fonts = onts.for_names(f.ontologies);
        find_id(&fonts, v).is_some() || find_label(&fonts, &sel.option(), &sel.given, lc)?.is_some()
    };
    if !known && !f.fallback.is_empty() {
        onts.load(f.fallback)?;
        names.extend_from_slice(f.fallback);
    }
    Ok(names)
}

/// How a value no loaded file knows is matched, for the report.
fn not_a_term(f: &Facet, fonts: &[&Ontology], onts: &Ontologies) -> String {
    if !fonts.is_empty() {
        return format!(
            "not a term of {}: as it appears in the data, no descendants",
            names_of(fonts)
        );
    }
    let why = if onts.dir.is_none() {
        "no ontology loaded".to_string()
    } else {
        format!("no {} file in the ontology folder", f.ontologies.join("/"))
    };
    format!("as it appears in the data ({why}: no descendants)")
}

/// A term found in a loaded ontology.
pub struct Hit<'a> {
    pub o: &'a Ontology,
    pub t: Term,
}

/// What a term found resolves to: its current replacement, or, when a
/// deprecated term has none, the deprecated id alone.
enum Current<'a> {
    Term(Hit<'a>),
    Deprecated(Hit<'a>),
}

/// The term found, resolved: followed to its replacement when deprecated,
/// then expanded to its descendants (unless `exact`).
fn term(mut sel: Sel, hit: Hit, fonts: &[&Ontology], exact: bool, diag: &Diag) -> Result<Sel> {
    let mut ids: HashSet<String> = HashSet::new();
    let hit = match replacement(&sel, hit, fonts, &mut ids, diag)? {
        Current::Term(hit) => hit,
        Current::Deprecated(hit) => {
            sel.desc = format!(
                "{} (deprecated, {}): the id alone",
                hit.t.id,
                hit.o.describe()
            );
            sel.how = How::Ids(ids);
            return Ok(sel);
        }
    };
    let f = sel.of();
    if !in_branch(hit.o, &hit.t, f.roots, diag)? {
        diag.warn(format_args!(
            "warning: {} {}: {} '{}' is not a term CELLxGENE uses for --{} (those descend from {}): no dataset should have it",
            sel.option(),
            quote(&sel.given),
            hit.t.id,
            hit.t.label,
            f.option,
            f.roots.join(" or ")
        ));
    }
    ids.insert(hit.t.id.clone());
    let mut n_desc = 0;
    if !exact {
        for d in hit.o.descendants(&hit.t, diag)? {
            if ids.insert(d) {
                n_desc += 1;
            }
        }
    }
    sel.desc = describe_term(&hit, exact, n_desc);
    sel.how = How::Ids(ids);
    sel.term = Some((hit.t.id.clone(), hit.t.label.clone()));
    Ok(sel)
}

/// `UBERON:0002048 'lung' (UBERON v…) and 5 descendants: 6 terms`.
fn describe_term(hit: &Hit, exact: bool, n_desc: usize) -> String {
    let label = if hit.t.label.is_empty() {
        String::new()
    } else {
        format!(" '{}'", hit.t.label)
    };
    let (id, o) = (&hit.t.id, hit.o.describe());
    if exact {
        format!("{id}{label} ({o}), --exact: the term alone")
    } else {
        format!(
            "{id}{label} ({o}) and {}: {}",
            plural(n_desc, "descendant", "descendants"),
            plural(n_desc + 1, "term", "terms")
        )
    }
}

/// Follow a deprecated term through its `replaced_by` ids to a current
/// term, adding each deprecated id passed to `ids`.
fn replacement<'a>(
    sel: &Sel,
    mut hit: Hit<'a>,
    fonts: &[&'a Ontology],
    ids: &mut HashSet<String>,
    diag: &Diag,
) -> Result<Current<'a>> {
    let (opt, given) = (sel.option(), quote(&sel.given));
    // The ids followed, to name a loop of replacements.
    let mut chain: Vec<String> = Vec::new();
    while hit.t.deprecated {
        ids.insert(hit.t.id.clone());
        chain.push(hit.t.id.clone());
        let next = hit.t.replaced_by.as_deref().and_then(|r| find_id(fonts, r));
        let Some(n) = next else {
            let extra = if let Some(r) = &hit.t.replaced_by {
                format!(" (its replacement {r} is not in the loaded files)")
            } else if !hit.t.consider.is_empty() {
                format!(" (consider: {})", hit.t.consider.join(", "))
            } else {
                String::new()
            };
            diag.warn(format_args!(
                "warning: {opt} {given}: {} is deprecated in {} with no replacement{extra}; matching the id alone",
                hit.t.id,
                hit.o.describe()
            ));
            return Ok(Current::Deprecated(hit));
        };
        if chain.contains(&n.t.id) {
            // No current term to use: the ontology file is broken here,
            // and matching the deprecated ids alone would hide it.
            chain.push(n.t.id.clone());
            return Err(Error::input(format!(
                "{opt} {given}: {} is deprecated and its replaced_by ids form a replacement loop in {}: {}; give a current term instead",
                chain[0],
                hit.o.describe(),
                chain.join(" -> ")
            )));
        }
        diag.warn(format_args!(
            "warning: {opt} {given}: {} is deprecated in {}; using its replacement {} '{}'",
            hit.t.id,
            hit.o.describe(),
            n.t.id,
            n.t.label
        ));
        hit = n;
    }
    Ok(Current::Term(hit))
}

/// An id looks like a CURIE: `PREFIX:LOCAL`, or `PREFIX_LOCAL` as
/// Cellosaurus writes its ids (`CVCL_0030`); either spelling finds either.
pub fn find_id<'a>(onts: &[&'a Ontology], v: &str) -> Option<Hit<'a>> {
    let sep = v.find([':', '_'])?;
    let (prefix, local) = (&v[..sep], &v[sep + 1..]);
    if prefix.is_empty()
        || local.is_empty()
        || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
        || local.contains(char::is_whitespace)
    {
        return None;
    }
    let other = format!(
        "{prefix}{}{local}",
        if v.as_bytes()[sep] == b':' { '_' } else { ':' }
    );
    onts.iter()
        .find_map(|o| o.get(v).or_else(|| o.get(&other)).map(|t| Hit { o, t }))
}

fn ambiguous(opt: &str, given: &str, what: &str, hits: &[Hit]) -> Error {
    let list: Vec<String> = hits
        .iter()
        .map(|h| format!("{} '{}' ({})", h.t.id, h.t.label, h.o.describe()))
        .collect();
    Error::input(format!(
        "{opt} {}: ambiguous: the {what} of {}; give the id instead",
        quote(given),
        list.join(" and ")
    ))
}

/// Find `lc` among labels, then synonyms, of non-deprecated terms.
fn find_label<'a>(
    onts: &[&'a Ontology],
    opt: &str,
    given: &str,
    lc: &str,
) -> Result<Option<Hit<'a>>> {
    for (what, synonyms) in [("label", false), ("synonym", true)] {
        let mut hits: Vec<Hit> = Vec::new();
        for o in onts {
            let terms = if synonyms {
                o.by_synonym(lc)
            } else {
                o.by_label(lc)
            };
            for t in terms {
                if !hits.iter().any(|h| h.t.id == t.id) {
                    hits.push(Hit { o, t });
                }
            }
        }
        match hits.len() {
            0 => continue,
            1 => return Ok(hits.pop()),
            _ => return Err(ambiguous(opt, given, what, &hits)),
        }
    }
    Ok(None)
}

/// Whether `t` (of `o`) lies in one of the facet's branches: itself a root
/// or a descendant of one. True when the facet has no roots, or when `o`
/// holds none of them (nothing to tell by).
pub fn in_branch(o: &Ontology, t: &Term, roots: &[&str], diag: &Diag) -> Result<bool> {
    let mut known = false;
    for root in roots {
        let Some(r) = o.get(root) else { continue };
        known = true;
        if r.id == t.id || o.descendants(&r, diag)?.contains(&t.id) {
            return Ok(true);
        }
    }
    Ok(!known)
}

/// `UBERON v2026-04-01, CL v2026-03-26`.
pub fn names_of(onts: &[&Ontology]) -> String {
    onts.iter()
        .map(|o| o.describe())
        .collect::<Vec<_>>()
        .join(", ")
}
