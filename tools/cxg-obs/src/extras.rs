//! What authors added beyond the CELLxGENE schema: the `obsm` keys
//! (embeddings such as `X_umap`), the `obs` columns the schema does not
//! define with their number of distinct values, and the likely author
//! cell-type column among them.

use crate::facet::OBS_FACETS;
use cxg_cells::distinct::Scratch;
use cxg_cells::obs::Obs;
use hdf5_reader::group::Group;
use hdf5_reader::Datatype;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What authors added to one file.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Authors {
    /// `obsm` keys, sorted.
    pub(crate) obsm: Vec<String>,
    /// obs columns beyond the schema's, in obs's order, each with its
    /// number of distinct values (None: not one value per cell).
    pub(crate) extra_columns: Vec<(String, Option<u64>)>,
    /// The extra categorical column whose name says cell type.
    pub(crate) author_cell_type_column: Option<String>,
}

/// obs columns that CELLxGENE schemas 2.0 to 7.x define beyond the
/// facets' ids and labels (which come from the catalogue).
const SCHEMA_COLUMNS: [&str; 7] = [
    "is_primary_data",
    "donor_id",
    "organism_ontology_term_id",
    "organism",
    "ethnicity_ontology_term_id",
    "ethnicity",
    "observation_joinid",
];

/// Schema 5.3's per-cell ancestry columns (`genetic_ancestry_African`...).
const SCHEMA_PREFIX: &str = "genetic_ancestry_";

fn is_schema_column(name: &str) -> bool {
    SCHEMA_COLUMNS.contains(&name)
        || name.starts_with(SCHEMA_PREFIX)
        || OBS_FACETS
            .iter()
            .any(|f| f.ids == name || f.labels == Some(name))
}

/// The obs columns beyond the schema's, in obs's order.
pub(crate) fn extra_columns(obs: &Obs) -> Vec<String> {
    obs.columns(&obs.index_name())
        .into_iter()
        .filter(|c| !is_schema_column(c))
        .collect()
}

/// A column's number of distinct values, or why it has none.
pub(crate) type Distinct = Result<Option<u64>, String>;

/// The extra columns whose distinct values are counted, shared by the
/// threads that count them: each takes the next column not yet taken.
pub(crate) struct Counting<'a> {
    columns: &'a [String],
    next: AtomicUsize,
}

impl<'a> Counting<'a> {
    pub(crate) fn new(columns: &'a [String]) -> Self {
        Counting {
            columns,
            next: AtomicUsize::new(0),
        }
    }

    /// Leave the columns not yet taken (the file failed already): each
    /// thread ends after the column it is counting.
    pub(crate) fn stop(&self) {
        self.next.store(self.columns.len(), Ordering::Relaxed);
    }

    /// Count columns until none is left: (index, count) of each taken.
    pub(crate) fn work(&self, obs: &Obs, n_cells: u64) -> Vec<(usize, Distinct)> {
        let mut done = Vec::new();
        let mut scratch = Scratch::default();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(c) = self.columns.get(i) else {
                return done;
            };
            done.push((i, obs.distinct(c, n_cells, &mut scratch)));
        }
    }
}

/// The authors' additions from the counts of every extra column (in any
/// order); what cannot be read is named in `warnings` and left out (or its
/// count null), never fails the file.
pub(crate) fn authors(
    root: &Group,
    obs: &Obs,
    columns: Vec<String>,
    mut counts: Vec<(usize, Distinct)>,
    warnings: &mut Vec<String>,
) -> Authors {
    let obsm = obsm_keys(root).unwrap_or_else(|e| {
        warnings.push(format!("obsm: {e}"));
        Vec::new()
    });
    counts.sort_by_key(|(i, _)| *i);
    let mut extra_columns = Vec::new();
    let mut best: Option<(u8, String)> = None;
    for (c, (_, distinct)) in columns.into_iter().zip(counts) {
        let distinct = distinct.unwrap_or_else(|e| {
            warnings.push(format!("{e}; its distinct values are not counted"));
            None
        });
        let score = author_score(&c);
        if score > 0 && obs.is_categorical(&c) && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, c.clone()));
        }
        extra_columns.push((c, distinct));
    }
    Authors {
        obsm,
        extra_columns,
        author_cell_type_column: best.map(|(_, c)| c),
    }
}

/// The keys of `obsm`: its members, or (anndata < 0.7) the fields of its
/// compound table; none when the file has no `obsm`.
fn obsm_keys(root: &Group) -> Result<Vec<String>, String> {
    let (groups, datasets) = root.member_names().map_err(|e| e.to_string())?;
    let mut keys = if groups.iter().any(|g| g == "obsm") {
        let g = root.group("obsm").map_err(|e| e.to_string())?;
        let (g, d) = g.member_names().map_err(|e| e.to_string())?;
        g.into_iter().chain(d).collect()
    } else if datasets.iter().any(|d| d == "obsm") {
        let ds = root.dataset("obsm").map_err(|e| e.to_string())?;
        match ds.dtype() {
            Datatype::Compound { fields, .. } => fields.iter().map(|f| f.name.clone()).collect(),
            _ => return Err("a dataset that is not a compound table".into()),
        }
    } else {
        Vec::new()
    };
    keys.sort();
    Ok(keys)
}

/// How surely a column's name says "the authors' cell type": 3 for
/// cell type with author/original/submitted, 2 for cell type (celltype,
/// CellType_major, cell_label...), 1 for annotation; 0 for none.
fn author_score(name: &str) -> u8 {
    let n: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let typed = ["celltype", "cellsubtype", "celllabel", "cellannotation"]
        .iter()
        .any(|w| n.contains(w));
    let authored = ["author", "original", "orig", "submitted"]
        .iter()
        .any(|w| n.contains(w));
    match (typed, authored) {
        (true, true) => 3,
        (true, false) => 2,
        _ if n.contains("annotation") || n.starts_with("annot") => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stopped count takes no column more (a file that failed is not
    /// read on for its extra columns).
    #[test]
    fn a_stopped_count_takes_no_column() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/h5ad/plain.h5ad");
        let file = cxg_cells::H5ad::open(&path).expect("fixture");
        let obs = file.obs().expect("obs");
        let n = obs.n_cells().expect("cells");
        let columns = extra_columns(&obs);
        assert!(!columns.is_empty());
        let counting = Counting::new(&columns);
        assert_eq!(counting.work(&obs, n).len(), columns.len());
        let counting = Counting::new(&columns);
        counting.stop();
        assert!(counting.work(&obs, n).is_empty());
    }

    #[test]
    fn author_names() {
        #[rustfmt::skip]
        let cases = [
            ("author_cell_type", 3), ("cell_type_original", 3), ("celltype", 2),
            ("CellType_major", 2), ("annotation", 1), ("annot_level2", 1),
            ("louvain", 0), ("cell_cycle_phase", 0), ("n_genes", 0),
        ];
        for (n, s) in cases {
            assert_eq!(author_score(n), s, "{n}");
        }
        assert!(is_schema_column("ethnicity_ontology_term_id"));
        assert!(is_schema_column("genetic_ancestry_African"));
        assert!(is_schema_column("self_reported_ethnicity"));
        assert!(!is_schema_column("author_cell_type"));
    }
}
