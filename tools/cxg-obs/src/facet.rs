//! The facets counted per file and how: cells per term, each term's
//! label, cells with no value.

use cxg_catalog::facets;
use cxg_cells::read::Column;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use cxg_cells::filter::LEGACY_COLUMNS as LEGACY;

/// The facets counted per file, by the name each has in the output, in
/// output order (an output-format decision; what each is comes from the
/// catalogue's facet table, see [`OBS_FACETS`]).
const ORDER: [&str; 9] = [
    "cell_type",
    "tissue",
    "disease",
    "assay",
    "sex",
    "development_stage",
    "self_reported_ethnicity",
    "suspension_type",
    "tissue_type",
];

/// A facet as the obs table holds it.
pub(crate) struct ObsFacet {
    /// Its name in the output: its column of labels, else of values.
    pub(crate) name: &'static str,
    /// The column of term ids (or of the values of a vocabulary).
    pub(crate) ids: &'static str,
    /// The column of labels; none: the values are their own labels.
    pub(crate) labels: Option<&'static str>,
    /// The columns of an older schema that hold the same facet (ids,
    /// labels): schema 2 and 3's `ethnicity_ontology_term_id`.
    pub(crate) legacy: Option<(&'static str, &'static str)>,
}

/// [`ORDER`]'s facets, read from the catalogue's table.
pub(crate) static OBS_FACETS: LazyLock<Vec<ObsFacet>> = LazyLock::new(|| {
    ORDER
        .iter()
        .filter_map(|name| {
            facets::FACETS
                .iter()
                .find(|f| f.obs_label.unwrap_or(f.obs_column) == *name)
        })
        .map(|f| ObsFacet {
            name: f.obs_label.unwrap_or(f.obs_column),
            ids: f.obs_column,
            labels: f.obs_label,
            legacy: LEGACY
                .iter()
                .find(|l| l.0 == f.obs_column)
                .map(|l| (l.1, l.2)),
        })
        .collect()
});

/// Cells per term of one facet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Facet {
    pub(crate) name: &'static str,
    /// (term id, cells, label), most cells first, ties by id.
    pub(crate) items: Vec<(String, u64, String)>,
    /// Cells with no value (code -1).
    pub(crate) missing: u64,
}

/// Where a facet's labels come from.
pub(crate) enum Labels {
    /// Its label column.
    Column(Arc<Column>),
    /// The values are their own labels (suspension_type, tissue_type).
    Ids,
    /// The file has no label column: labels are empty.
    None,
}

/// Count cells per term, with each term's label (the label most of its
/// cells carry; ties to the smaller label).
pub(crate) fn count_facet(name: &'static str, ids: &Column, labels: &Labels) -> Facet {
    let mut counts = vec![0u64; ids.categories.len()];
    let mut missing = 0u64;
    ids.codes.each(|c| {
        if c < 0 {
            missing += 1;
        } else {
            counts[c as usize] += 1;
        }
    });
    let label_of: Vec<String> = match labels {
        Labels::Ids => ids.categories.clone(),
        Labels::None => vec![String::new(); ids.categories.len()],
        Labels::Column(l) => only_labels(ids, l).unwrap_or_else(|| majority_labels(ids, l)),
    };
    // merge equal ids (unique in anndata; safe for other writers)
    let mut merged: HashMap<&str, (u64, &str)> = HashMap::new();
    for (i, &n) in counts.iter().enumerate() {
        if n > 0 {
            let e = merged
                .entry(ids.categories[i].as_str())
                .or_insert((0, label_of[i].as_str()));
            e.0 += n;
        }
    }
    let mut items: Vec<(String, u64, String)> = merged
        .into_iter()
        .map(|(id, (n, l))| (id.to_string(), n, l.to_string()))
        .collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Facet {
        name,
        items,
        missing,
    }
}

/// The label of each term when every term has one label (the common
/// case, in one pass); none when some term has several.
fn only_labels(ids: &Column, l: &Column) -> Option<Vec<String>> {
    let mut first = vec![-2i32; ids.categories.len()];
    let one_each = ids.codes.zip_while(&l.codes, |c, lc| {
        if c < 0 {
            return true;
        }
        let f = &mut first[c as usize];
        if *f == -2 {
            *f = lc;
        }
        *f == lc
    });
    if !one_each {
        return None;
    }
    Some(
        first
            .iter()
            .map(|&lc| {
                usize::try_from(lc)
                    .ok()
                    .and_then(|i| l.categories.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect(),
    )
}

/// The label most of each term's cells carry; ties to the smaller label.
fn majority_labels(ids: &Column, l: &Column) -> Vec<String> {
    let mut pairs: HashMap<(i32, i32), u64> = HashMap::new();
    ids.codes.zip_while(&l.codes, |c, lc| {
        if c >= 0 && lc >= 0 {
            *pairs.entry((c, lc)).or_default() += 1;
        }
        true
    });
    let mut best: Vec<Option<(u64, &str)>> = vec![None; ids.categories.len()];
    for ((c, lc), n) in pairs {
        let s = l.categories[lc as usize].as_str();
        let b = &mut best[c as usize];
        let better = match b {
            None => true,
            Some((bn, bs)) => n > *bn || (n == *bn && s < *bs),
        };
        if better {
            *b = Some((n, s));
        }
    }
    best.into_iter()
        .map(|b| b.map(|(_, s)| s.to_string()).unwrap_or_default())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cxg_cells::read::Column;

    fn col(codes: &[i32], cats: &[&str]) -> Column {
        Column {
            codes: codes.to_vec().into(),
            categories: cats.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn missing_codes_are_not_the_first_category() {
        let f = count_facet("sex", &col(&[-1, 0, 1, 1, -1], &["a", "b"]), &Labels::Ids);
        assert_eq!(f.missing, 2);
        assert_eq!(
            f.items,
            vec![("b".into(), 2, "b".into()), ("a".into(), 1, "a".into())]
        );
    }

    #[test]
    fn ties_break_by_id_and_labels_follow_the_majority() {
        let ids = col(&[1, 0, 1, 0, 2], &["X:2", "X:1", "X:3"]);
        let labels = col(&[0, 1, 0, 2, 1], &["one", "two", "deux"]);
        let f = count_facet("cell_type", &ids, &Labels::Column(Arc::new(labels)));
        let got: Vec<(&str, u64, &str)> = f
            .items
            .iter()
            .map(|(a, n, l)| (a.as_str(), *n, l.as_str()))
            .collect();
        // X:2 has "two" once and "deux" once: the smaller label wins
        assert_eq!(
            got,
            vec![("X:1", 2, "one"), ("X:2", 2, "deux"), ("X:3", 1, "two")]
        );
        let f = count_facet("cell_type", &col(&[0], &["X:1"]), &Labels::None);
        assert_eq!(f.items, vec![("X:1".into(), 1, String::new())]);
    }

    #[test]
    fn facets_and_their_columns_come_from_the_catalogue() {
        let got: Vec<(&str, &str, Option<&str>)> = OBS_FACETS
            .iter()
            .map(|f| (f.name, f.ids, f.labels))
            .collect();
        let terms = |f: &'static str, ids: &'static str| (f, ids, Some(f));
        assert_eq!(
            got,
            [
                terms("cell_type", "cell_type_ontology_term_id"),
                terms("tissue", "tissue_ontology_term_id"),
                terms("disease", "disease_ontology_term_id"),
                terms("assay", "assay_ontology_term_id"),
                terms("sex", "sex_ontology_term_id"),
                terms("development_stage", "development_stage_ontology_term_id"),
                terms(
                    "self_reported_ethnicity",
                    "self_reported_ethnicity_ontology_term_id"
                ),
                ("suspension_type", "suspension_type", None),
                ("tissue_type", "tissue_type", None),
            ]
        );
    }
}
