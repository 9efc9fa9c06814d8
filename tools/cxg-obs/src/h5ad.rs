//! Reading the cell table (`obs`) of one H5AD file with the pure-Rust
//! `hdf5-reader`: only the columns a summary needs (codes and categories of
//! categoricals, the `is_primary_data` bools), a few strings of `uns`, the
//! names in `obsm`, never `X`.
//!
//! Any AnnData file: a column the summary needs that the file lacks makes
//! only the quantities it feeds null, and is named in `missing_columns`.
//! Layouts are read in `obs.rs`; compression: what hdf5-reader decodes
//! (gzip, shuffle, ...) plus LZF (`lzf.rs`). Anything else is an error
//! naming the column.

use crate::extras::{self, Authors, Counting};
use crate::facet::{count_facet, Facet, Labels, OBS_FACETS};
use cxg_catalog::facets;
use cxg_cells::file::{h5_error, H5ad};
use cxg_cells::obs::{used_values, Obs};
use cxg_cells::panics;
use cxg_cells::read::{Column, R};
use cxg_cells::{CellFilter, Outcome};
use hdf5_reader::error::Error as H5Error;
use hdf5_reader::group::Group;
use std::path::Path;
use std::sync::Arc;

/// The facet whose cells are counted as normal by [`facets::NORMAL`].
const DISEASE: &str = "disease";

/// What one file says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub(crate) uns: Uns,
    pub(crate) n_cells: u64,
    pub(crate) normal_cell_count: Option<u64>,
    pub(crate) primary_cell_count: Option<u64>,
    pub(crate) donor_count: Option<u64>,
    /// Every facet of [`OBS_FACETS`], in order; None when its column is
    /// missing.
    pub(crate) facets: Vec<(&'static str, Option<Facet>)>,
    /// The columns a quantity needs that the file lacks, in output order.
    pub(crate) missing_columns: Vec<String>,
    pub(crate) authors: Authors,
    /// What the record's reader should hear about (a damaged `uns`...).
    pub(crate) warnings: Vec<String>,
    /// What the cell filter kept, when one is given.
    pub(crate) filtered: Option<Filtered>,
}

/// The cells a filter kept in one file: each quantity None when a column
/// it needs is missing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filtered {
    pub(crate) cells: Option<u64>,
    pub(crate) donors: Option<u64>,
    pub(crate) age_unknown: Option<u64>,
    /// Every facet of [`OBS_FACETS`], counted over the kept cells.
    pub(crate) facets: Vec<(&'static str, Option<Facet>)>,
}

/// The strings of `uns` a record carries, and what kept one unread.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Uns {
    pub(crate) schema_version: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) dataset_version_id: Option<String>,
    pub(crate) error: Option<String>,
}

/// Open `path` and summarise its obs table (and the cells `filter` keeps).
/// The distinct values of every extra column (most of the work on a file
/// with many numeric columns) are counted by two threads: a second one
/// from the start, and this one once it has counted the schema's columns.
pub(crate) fn summarize(path: &Path, filter: Option<&CellFilter>) -> R<Summary> {
    let file = H5ad::open(path)?;
    let obs = file.obs()?;
    let n_cells = obs.n_cells()?;
    let columns = extras::extra_columns(&obs);
    let counting = Counting::new(&columns);
    let (summary, counts) = std::thread::scope(|s| {
        let helper = s.spawn(|| panics::catch(|| Ok(counting.work(&obs, n_cells))));
        let summary = schema_counts(&file, &obs, n_cells, filter);
        if summary.is_err() {
            counting.stop();
        }
        let mine = panics::catch(|| Ok(counting.work(&obs, n_cells)));
        let theirs = helper
            .join()
            .unwrap_or_else(|_| Err("the HDF5 library failed on this file".into()));
        (summary, mine.and_then(|m| Ok([m, theirs?].concat())))
    });
    let mut summary = summary?;
    let counts = counts?;
    summary.authors = extras::authors(&file.root, &obs, columns, counts, &mut summary.warnings);
    Ok(summary)
}

/// Everything but what authors added: the facets, donors, primary cells,
/// `uns` and the filter's counts.
fn schema_counts(file: &H5ad, obs: &Obs, n_cells: u64, filter: Option<&CellFilter>) -> R<Summary> {
    let mut missing = Vec::new();
    // the columns the mask reads are kept for the counts below
    let outcome = filter
        .map(|f| obs.keeping_columns(|| f.mask(file, obs)))
        .transpose()?;
    let keep: Option<Vec<usize>> = match &outcome {
        Some(Outcome::Mask(m)) => Some(kept_cells(&m.keep)),
        _ => None,
    };
    let mut kept_facets = Vec::new();
    let facets = read_facets(
        obs,
        n_cells,
        &mut missing,
        keep.as_deref(),
        &mut kept_facets,
    )?;
    let normal_cell_count = facets
        .iter()
        .find(|(name, _)| *name == DISEASE)
        .and_then(|(_, f)| f.as_ref())
        .map(|f| {
            f.items
                .iter()
                .filter(|(id, _, _)| id == facets::NORMAL)
                .map(|(_, n, _)| n)
                .sum()
        });
    let donors = obs.categorical("donor_id", n_cells)?;
    let donor_count = donors.as_deref().map(used_values);
    if donors.is_none() {
        missing.push("donor_id".to_string());
    }
    let primary_cell_count = match obs.truth("is_primary_data", n_cells)? {
        Some(v) => Some(v.iter().filter(|b| **b == Some(true)).count() as u64),
        None => {
            missing.push("is_primary_data".to_string());
            None
        }
    };
    // what the mask read and nothing read again (an older schema's organism)
    obs.drop_kept();
    let uns = read_uns(&file.root);
    let warnings: Vec<String> = uns
        .error
        .iter()
        .map(|e| format!("uns is damaged: {e}; schema_version and title may be missing"))
        .collect();
    let filtered = outcome.map(|o| {
        let donors = donors.as_deref().zip(keep.as_deref());
        filtered(o, donors, kept_facets, &mut missing)
    });
    Ok(Summary {
        uns,
        n_cells,
        normal_cell_count,
        primary_cell_count,
        donor_count,
        facets,
        missing_columns: missing,
        authors: Authors::default(),
        warnings,
        filtered,
    })
}

/// What the filter kept: its counts, or, when the file lacks a column the
/// filter needs, nulls and the columns named in `missing`.
fn filtered(
    outcome: Outcome,
    donors: Option<(&Column, &[usize])>,
    facets: Vec<(&'static str, Option<Facet>)>,
    missing: &mut Vec<String>,
) -> Filtered {
    match outcome {
        Outcome::Mask(m) => Filtered {
            cells: Some(m.kept),
            donors: donors.map(|(d, keep)| used_values(&kept(d, keep))),
            age_unknown: Some(m.age_unknown),
            facets,
        },
        Outcome::Missing(cols) => {
            for c in cols {
                if !missing.contains(&c) {
                    missing.push(c);
                }
            }
            Filtered {
                cells: None,
                donors: None,
                age_unknown: None,
                facets: OBS_FACETS.iter().map(|f| (f.name, None)).collect(),
            }
        }
    }
}

/// The kept cells' positions, rising: a filter keeps few cells, and each
/// column is then gathered at these instead of scanned whole.
fn kept_cells(keep: &[bool]) -> Vec<usize> {
    keep.iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(i, _)| i)
        .collect()
}

/// The column's values of the kept cells only (`keep`: their positions).
fn kept(c: &Column, keep: &[usize]) -> Column {
    Column {
        codes: c.codes.gather(keep),
        categories: c.categories.clone(),
    }
}

/// A facet's counts, and over the kept cells (when `keep`).
type Counted = Vec<(&'static str, Option<Facet>)>;

/// Cells per term of every facet, in output order; a facet whose id
/// column the file lacks is None and its column is named in `missing`.
/// With `keep`, the same over the kept cells, into `kept_out`.
fn read_facets(
    obs: &Obs,
    n_cells: u64,
    missing: &mut Vec<String>,
    keep: Option<&[usize]>,
    kept_out: &mut Counted,
) -> R<Counted> {
    let mut out = Vec::with_capacity(OBS_FACETS.len());
    for f in OBS_FACETS.iter() {
        let (ids, labels) = match f.legacy {
            Some((old, old_labels)) if !obs.has(f.ids) && obs.has(old) => (old, Some(old_labels)),
            _ => (f.ids, f.labels),
        };
        let Some(id_col) = obs.categorical(ids, n_cells)? else {
            missing.push(f.ids.to_string());
            out.push((f.name, None));
            kept_out.push((f.name, None));
            continue;
        };
        let labels = match labels {
            Some(l) => match obs.categorical(l, n_cells)? {
                Some(c) => Labels::Column(c),
                // a file not (yet) through CELLxGENE's ingest has ids only
                None => Labels::None,
            },
            None => Labels::Ids,
        };
        out.push((f.name, Some(count_facet(f.name, &id_col, &labels))));
        if let Some(k) = keep {
            let labels = match &labels {
                Labels::Column(c) => Labels::Column(Arc::new(kept(c, k))),
                Labels::Ids => Labels::Ids,
                Labels::None => Labels::None,
            };
            kept_out.push((
                f.name,
                Some(count_facet(f.name, &kept(&id_col, k), &labels)),
            ));
        }
    }
    Ok(out)
}

/// `schema_version`, `title` and `dataset_version_id` from `uns`; a file
/// without `uns` (or without one of them) has none, and anything that is
/// there but does not read is named in `error`.
fn read_uns(root: &Group) -> Uns {
    let mut out = Uns::default();
    let uns = match root.group("uns") {
        Ok(u) => u,
        Err(H5Error::GroupNotFound(_)) if root.dataset("uns").is_err() => return out,
        Err(e) => {
            out.error = Some(format!("'uns' cannot be read: {e}"));
            return out;
        }
    };
    let (groups, datasets) = match uns.member_names() {
        Ok(m) => m,
        Err(e) => {
            out.error = Some(format!("'uns' cannot be listed: {e}"));
            return out;
        }
    };
    let mut errors = Vec::new();
    let mut get = |key: &str| -> Option<String> {
        if groups.iter().any(|g| g == key) {
            errors.push(format!("'uns/{key}' is a group, not a string"));
            return None;
        }
        if !datasets.iter().any(|d| d == key) {
            return None;
        }
        match uns.dataset(key).and_then(|d| match d.shape() {
            // a string written as an array of one
            [1] => d
                .read_strings()
                .map(|v| v.into_iter().next().unwrap_or_default()),
            _ => d.read_string(),
        }) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(h5_error(&format!("'uns/{key}'"), &e));
                None
            }
        }
    };
    out.schema_version = get("schema_version");
    out.title = get("title");
    out.dataset_version_id = get("dataset_version_id");
    if !errors.is_empty() {
        out.error = Some(errors.join("; "));
    }
    out
}
