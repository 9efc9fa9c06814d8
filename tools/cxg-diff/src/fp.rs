//! What is compared of a dataset record, and the compact fingerprint it is
//! reduced to: the scalars' JSON texts in one string, every facet's term
//! ids in one slice, the assets in one string.

use cxg_catalog::facets::{self, Kind};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// The facets compared as sets of term ids: the record fields of the
/// catalogue's term facets, in name order (the order of `fields` in the
/// output).
pub(crate) static FACETS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut v: Vec<&str> = facets::term_fields().collect();
    v.sort_unstable();
    v
});

/// The record field whose entries also carry a `tissue_type`: a term of
/// another type than `tissue` is compared as `id (type)`.
static TYPED_FIELD: LazyLock<Option<&'static str>> = LazyLock::new(|| {
    facets::FACETS
        .iter()
        .find(|f| f.kind == Kind::TissueType)
        .map(|f| f.field)
});

/// Dataset-level scalars compared as JSON text; `true` marks fields of
/// substance (a change in one makes a revision a `content` revision).
pub(crate) const SCALARS: [(&str, bool); 6] = [
    ("cell_count", true),
    ("primary_cell_count", true),
    ("title", true),
    ("is_primary_data", true),
    ("donor_count", true),
    ("schema_version", false),
];

/// The index of `cell_count` and of `schema_version` in [`SCALARS`].
pub(crate) const CELL_COUNT: usize = 0;
pub(crate) const SCHEMA_VERSION: usize = 5;

/// Collection-level fields (metadata).
pub(crate) const COLLECTION_FIELDS: [&str; 6] = [
    "collection_version_id",
    "name",
    "doi",
    "publisher_metadata",
    "links",
    "consortia",
];

/// Term ids are shared across datasets and both inputs: stored once.
#[derive(Default)]
pub(crate) struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }

    pub(crate) fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", |s| s)
    }

    /// This table's ids in `other`'s numbering (adding what it lacks).
    pub(crate) fn renumbering(&self, other: &mut Interner) -> Vec<u32> {
        self.names.iter().map(|n| other.id(n)).collect()
    }
}

/// Separates the JSON texts packed into one string (JSON text never holds
/// a raw control character: strings escape them).
const US: char = '\u{1f}';
const RS: char = '\u{1e}';

/// What one dataset record says, reduced to what is compared, in few
/// allocations.
#[derive(Clone, PartialEq)]
pub(crate) struct Fp {
    pub(crate) collection_id: Box<str>,
    pub(crate) version: Option<Box<str>>,
    pub(crate) revised_at: Option<Box<str>>,
    /// SCALARS as JSON text, separated by US
    pub(crate) scalars: Box<str>,
    /// where each facet's ids end (one entry per facet), then the term ids
    /// of every facet, facet after facet, each sorted
    terms: Box<[u32]>,
    /// `filetype US url US filesize RS` per asset, by filetype
    pub(crate) assets: Box<str>,
}

/// The JSON text of a value (`null` when absent).
pub(crate) fn text(v: Option<&Value>) -> Box<str> {
    match v {
        None => "null".into(),
        Some(v) => v.to_string().into(),
    }
}

fn str_of(v: Option<&Value>) -> Option<Box<str>> {
    v.and_then(Value::as_str).map(Into::into)
}

impl Fp {
    /// The fingerprint of a dataset record of collection `cid`.
    pub(crate) fn of(o: &serde_json::Map<String, Value>, cid: &str, int: &mut Interner) -> Fp {
        Fp {
            collection_id: cid.into(),
            version: str_of(o.get("dataset_version_id")),
            revised_at: str_of(o.get("revised_at")),
            scalars: scalars(o),
            terms: all_terms(o, int),
            assets: assets(o),
        }
    }

    /// Map term ids through `table` (another interner's ids to ours) and
    /// sort each facet again.
    pub(crate) fn renumber(&mut self, table: &[u32]) {
        let n = FACETS.len();
        let Some((ends, ids)) = self.terms.split_at_mut_checked(n) else {
            return;
        };
        for t in ids.iter_mut() {
            *t = table.get(*t as usize).copied().unwrap_or(*t);
        }
        let mut start = 0;
        for &end in ends.iter() {
            if let Some(f) = ids.get_mut(start..end as usize) {
                f.sort_unstable();
            }
            start = end as usize;
        }
    }

    /// The JSON text of scalar `i` of [`SCALARS`].
    pub(crate) fn scalar(&self, i: usize) -> &str {
        self.scalars.split(US).nth(i).unwrap_or("null")
    }

    /// The sorted term ids of facet `i` of [`FACETS`].
    pub(crate) fn facet(&self, i: usize) -> &[u32] {
        let n = FACETS.len();
        let end = |i: usize| self.terms.get(i).map_or(0, |e| *e as usize);
        let start = if i == 0 { 0 } else { end(i - 1) };
        self.terms.get(n + start..n + end(i)).unwrap_or(&[])
    }

    /// (filetype, url, filesize) of each asset.
    pub(crate) fn assets(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.assets.split_terminator(RS).map(|a| {
            let mut p = a.split(US);
            (
                p.next().unwrap_or(""),
                p.next().unwrap_or("null"),
                p.next().unwrap_or("null"),
            )
        })
    }

    /// How one of two different records of the same dataset is chosen,
    /// the same whatever the input order: the later revised_at, then the
    /// larger dataset_version_id, then the larger content (compared as
    /// text, with term names rather than this run's term numbers).
    pub(crate) fn rank<'a>(&'a self, int: &Interner) -> (Option<&'a str>, Option<&'a str>, String) {
        let mut canon = String::new();
        canon.extend([
            &*self.collection_id,
            "\u{1d}",
            &self.scalars,
            "\u{1d}",
            &self.assets,
        ]);
        for i in 0..FACETS.len() {
            canon.push('\u{1d}');
            let mut names: Vec<&str> = self.facet(i).iter().map(|t| int.name(*t)).collect();
            names.sort_unstable();
            for n in names {
                canon.extend([n, "\u{1f}"]);
            }
        }
        (self.revised_at.as_deref(), self.version.as_deref(), canon)
    }
}

/// [`SCALARS`] as JSON texts separated by US; `donor_count` is the length
/// of `donor_id`.
fn scalars(o: &serde_json::Map<String, Value>) -> Box<str> {
    let donor_count: Box<str> = match o.get("donor_id").and_then(Value::as_array) {
        Some(a) => a.len().to_string().into(),
        None => "null".into(),
    };
    let scalars: Vec<Box<str>> = SCALARS
        .iter()
        .map(|(k, _)| match *k {
            "donor_count" => donor_count.clone(),
            _ => text(o.get(*k)),
        })
        .collect();
    scalars.join("\u{1f}").into()
}

/// Where each facet's ids end, then the ids of every facet.
fn all_terms(o: &serde_json::Map<String, Value>, int: &mut Interner) -> Box<[u32]> {
    let n = FACETS.len();
    let mut all = vec![0u32; n];
    for (i, f) in FACETS.iter().enumerate() {
        all.extend(terms(o.get(*f), f, int));
        all[i] = (all.len() - n) as u32;
    }
    all.into_boxed_slice()
}

/// The sorted term ids of one facet's value: `ontology_term_id` (else
/// `label`) of each object, or each string.
fn terms(v: Option<&Value>, facet: &str, int: &mut Interner) -> Vec<u32> {
    let typed = *TYPED_FIELD == Some(facet);
    let mut set = BTreeSet::new();
    for t in v.and_then(Value::as_array).into_iter().flatten() {
        let term = match t {
            Value::String(s) => s.clone(),
            Value::Object(o) => {
                let id = o
                    .get("ontology_term_id")
                    .or_else(|| o.get("label"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match o.get("tissue_type").and_then(Value::as_str) {
                    Some(tt) if typed && tt != "tissue" => format!("{id} ({tt})"),
                    _ => id.to_string(),
                }
            }
            other => other.to_string(),
        };
        set.insert(term);
    }
    let mut ids: Vec<u32> = set.iter().map(|t| int.id(t)).collect();
    ids.sort_unstable();
    ids
}

/// The assets packed, by filetype (the first of each filetype).
fn assets(o: &serde_json::Map<String, Value>) -> Box<str> {
    let mut assets: Vec<(Box<str>, Box<str>, Box<str>)> = Vec::new();
    for a in o
        .get("assets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ft = a.get("filetype").and_then(Value::as_str).unwrap_or("");
        if assets.iter().any(|x| &*x.0 == ft) {
            continue;
        }
        assets.push((ft.into(), text(a.get("url")), text(a.get("filesize"))));
    }
    assets.sort();
    let mut packed = String::new();
    for (ft, url, size) in &assets {
        packed.extend([&**ft, "\u{1f}", url, "\u{1f}", size, "\u{1e}"]);
    }
    packed.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_are_the_catalogues_term_fields_in_name_order() {
        assert_eq!(
            *FACETS,
            [
                "assay",
                "cell_type",
                "development_stage",
                "disease",
                "organism",
                "self_reported_ethnicity",
                "sex",
                "suspension_type",
                "tissue",
            ]
        );
        assert_eq!(*TYPED_FIELD, Some("tissue"));
    }
}
