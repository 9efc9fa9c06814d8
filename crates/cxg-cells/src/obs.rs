//! The columns of one `obs` group, by name: as categoricals (codes and
//! values), as bools, or as their number of distinct values. Layouts:
//! anndata 0.8 and later (groups `categorical`, `nullable-boolean`,
//! `nullable-integer`, `string-array`...), anndata 0.7 (codes datasets
//! whose values are in `obs/__categories`), and plain datasets of strings,
//! numbers or bools.

use crate::compound::{read_table, Table};
use crate::distinct::Scratch;
use crate::read::{
    attr_string, bools, intern, is_string, read_codes, read_values, scalar_keys, At, Column,
    Scalar, R,
};
use hdf5_reader::group::Group;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

pub struct Obs<'a> {
    pub obs: &'a Group,
    pub groups: Vec<String>,
    pub datasets: Vec<String>,
    /// obs's `column-order` attribute: the columns anndata wrote.
    pub order: Vec<String>,
    /// The most bytes one read may decode.
    pub budget: usize,
    /// The file's length: contiguous data must fit in it.
    pub file_len: u64,
    /// anndata < 0.7: obs as one compound table, read whole.
    pub table: Option<Table>,
    /// Categorical columns read by [`Obs::keeping_columns`]'s work, kept
    /// until read once more after it.
    kept: Mutex<Kept>,
}

/// The columns [`Obs::keeping_columns`] keeps, and the thread whose reads
/// are kept while it runs (another thread reading the same `Obs` meanwhile
/// keeps nothing).
#[derive(Default)]
struct Kept {
    by: Option<ThreadId>,
    columns: HashMap<String, Arc<Column>>,
}

impl Obs<'_> {
    pub fn new(obs: &Group, budget: usize, file_len: u64) -> R<Obs<'_>> {
        let (groups, datasets) = obs.member_names().at("'obs' (listing its columns)")?;
        let order = obs
            .attribute("column-order")
            .ok()
            .and_then(|a| a.read_strings().ok())
            .unwrap_or_default();
        Ok(Obs {
            obs,
            groups,
            datasets,
            order,
            budget,
            file_len,
            table: None,
            kept: Mutex::default(),
        })
    }

    /// anndata < 0.7's compound obs table, read whole from `root`.
    pub fn from_table(root: &Group, budget: usize, file_len: u64) -> R<Obs<'_>> {
        let table = read_table(root, file_len)?;
        Ok(Obs {
            obs: root,
            groups: Vec::new(),
            datasets: Vec::new(),
            order: Vec::new(),
            budget,
            file_len,
            table: Some(table),
            kept: Mutex::default(),
        })
    }

    fn table_column(&self, name: &str) -> Option<&Column> {
        let t = self.table.as_ref()?;
        t.columns.iter().find(|(c, _)| c == name).map(|(_, c)| c)
    }

    pub fn has(&self, name: &str) -> bool {
        self.is_group(name) || self.is_dataset(name) || self.table_column(name).is_some()
    }

    fn is_group(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g == name)
    }

    fn is_dataset(&self, name: &str) -> bool {
        self.datasets.iter().any(|d| d == name)
    }

    /// A column obs names but that does not open (a link that never
    /// resolves) is an error, not a missing column.
    pub fn check_listed(&self, name: &str) -> R<()> {
        if !self.has(name) && self.order.iter().any(|c| c == name) {
            return Err(format!(
                "column 'obs/{name}' is in obs's column-order but cannot be opened (a soft link that does not resolve?)"
            ));
        }
        Ok(())
    }

    /// The data columns: column-order, else every member but the index
    /// and anndata's own.
    pub fn columns(&self, index: &str) -> Vec<String> {
        if let Some(t) = &self.table {
            return t.columns.iter().map(|(c, _)| c.clone()).collect();
        }
        if !self.order.is_empty() {
            return self.order.clone();
        }
        let mut all: Vec<String> = self.groups.iter().chain(&self.datasets).cloned().collect();
        all.retain(|c| c != index && c != "__categories");
        all.sort();
        all
    }

    /// A categorical column (or a plain string one, which anndata makes
    /// categorical on writing by default).
    pub fn is_categorical(&self, name: &str) -> bool {
        if let Some(t) = &self.table {
            return t.categorical.iter().any(|c| c == name);
        }
        if self.is_group(name) {
            return self.obs.group(name).is_ok_and(|g| {
                attr_string(g.attribute("encoding-type")).as_deref() == Some("categorical")
            });
        }
        self.legacy_categories(name).is_some()
            || (self.is_dataset(name) && self.obs.dataset(name).is_ok_and(|d| is_string(d.dtype())))
    }

    /// The name of the cell index: obs's `_index` attribute.
    pub fn index_name(&self) -> String {
        attr_string(self.obs.attribute("_index")).unwrap_or_else(|| "_index".to_string())
    }

    /// Cells = rows of the index dataset that obs names in `_index`.
    pub fn n_cells(&self) -> R<u64> {
        if let Some(t) = &self.table {
            return Ok(t.n_cells);
        }
        let idx = self.index_name();
        let ds = self
            .obs
            .dataset(&idx)
            .map_err(|_| format!("column 'obs/{idx}' (the cell index) is missing"))?;
        match ds.shape() {
            [n] if usize::try_from(*n).map_or(true, |n| n > self.budget) => Err(format!(
                "column 'obs/{idx}' claims {n} cells, more than this file can hold"
            )),
            [n] => Ok(*n),
            s => Err(format!(
                "column 'obs/{idx}': expected one dimension, found shape {s:?}"
            )),
        }
    }

    /// Run `work` keeping every categorical column it reads on this
    /// thread, until the column is read once more after it: a cell filter
    /// reads its columns for the mask, and cxg-obs then counts the same
    /// columns; kept, each is decoded once. Each is kept only until its
    /// second reader takes it, or [`Obs::drop_kept`].
    pub fn keeping_columns<T>(&self, work: impl FnOnce() -> T) -> T {
        self.lock_kept().by = Some(std::thread::current().id());
        let out = work();
        self.lock_kept().by = None;
        out
    }

    /// Drop the kept columns that nothing read again.
    pub fn drop_kept(&self) {
        self.lock_kept().columns.clear();
    }

    fn lock_kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A column as a categorical (plain values interned), checked to hold
    /// one valid code per cell; None when obs has no such column.
    pub fn categorical(&self, name: &str, n_cells: u64) -> R<Option<Arc<Column>>> {
        let keeping = {
            let mut kept = self.lock_kept();
            let keeping = kept.by == Some(std::thread::current().id());
            let hit = if keeping {
                kept.columns.get(name).cloned()
            } else {
                kept.columns.remove(name)
            };
            if hit.is_some() {
                return Ok(hit);
            }
            keeping
        };
        let col = self.read_categorical(name, n_cells)?.map(Arc::new);
        if let (true, Some(c)) = (keeping, &col) {
            self.lock_kept()
                .columns
                .insert(name.to_string(), Arc::clone(c));
        }
        Ok(col)
    }

    /// [`Obs::categorical`], read from the file.
    fn read_categorical(&self, name: &str, n_cells: u64) -> R<Option<Column>> {
        self.check_listed(name)?;
        let place = format!("column 'obs/{name}'");
        let col = if let Some(c) = self.table_column(name) {
            c.clone()
        } else if self.is_group(name) {
            self.group_column(name, &place)?
        } else if self.is_dataset(name) {
            self.dataset_column(name, &place)?
        } else {
            return Ok(None);
        };
        if col.codes.len() as u64 != n_cells {
            return Err(format!(
                "{place}: {} values for {n_cells} cells",
                col.codes.len()
            ));
        }
        let n = col.categories.len() as i64;
        if let Some((i, c)) = col.codes.first_outside(n) {
            return Err(format!(
                "{place}: code {c} of cell {i} is outside its {n} categories"
            ));
        }
        Ok(Some(col))
    }

    /// anndata 0.8 and later: a categorical group (`codes`, `categories`),
    /// or a nullable group (`values`, `mask`), or a string array.
    fn group_column(&self, name: &str, place: &str) -> R<Column> {
        let g = self.obs.group(name).at(place)?;
        let enc = attr_string(g.attribute("encoding-type")).unwrap_or_default();
        let part = |p: &str| format!("column 'obs/{name}/{p}'");
        match enc.as_str() {
            "categorical" => Ok(Column {
                codes: read_codes(&g, "codes", &part("codes"), self.file_len)?,
                categories: read_values(&g, "categories", &part("categories"), self.file_len)?,
            }),
            e if e.starts_with("nullable-") => {
                let values = read_values(&g, "values", &part("values"), self.file_len)?;
                let mask = bools(&g, "mask", &part("mask"), self.file_len)?;
                if mask.len() != values.len() {
                    return Err(format!("{place}: a mask of another length than its values"));
                }
                let mut col = intern(values);
                col.codes.mark_missing(|i, _| mask.get(i) == Some(&true));
                Ok(col)
            }
            e => Err(format!(
                "{place}: unsupported layout: a group with encoding-type '{e}', not a column this reader knows"
            )),
        }
    }

    /// A plain dataset (strings, numbers, bools), or the codes of anndata
    /// 0.7 (values in `obs/__categories/<name>`).
    fn dataset_column(&self, name: &str, place: &str) -> R<Column> {
        if let Some(legacy) = self.legacy_categories(name) {
            return Ok(Column {
                codes: read_codes(self.obs, name, place, self.file_len)?,
                categories: read_values(
                    &legacy,
                    name,
                    &format!("column 'obs/__categories/{name}'"),
                    self.file_len,
                )?,
            });
        }
        Ok(intern(read_values(self.obs, name, place, self.file_len)?))
    }

    /// anndata 0.7's group of categories, when it holds this column's.
    fn legacy_categories(&self, name: &str) -> Option<Group> {
        let g = self.obs.group("__categories").ok()?;
        let (groups, datasets) = g.member_names().ok()?;
        (datasets.iter().any(|d| d == name) && !groups.iter().any(|d| d == name)).then_some(g)
    }

    /// Per cell: true, false, or missing. Read from an HDF5 bool, 0/1
    /// integers, a nullable-boolean group, or a categorical whose values
    /// are True/False, 1/0, yes/no (by its values, never its codes).
    pub fn truth(&self, name: &str, n_cells: u64) -> R<Option<Vec<Option<bool>>>> {
        self.check_listed(name)?;
        let place = format!("column 'obs/{name}'");
        let values: Vec<Option<bool>> =
            if self.is_dataset(name) && self.legacy_categories(name).is_none() {
                bools(self.obs, name, &place, self.file_len)?
                    .into_iter()
                    .map(Some)
                    .collect()
            } else {
                let Some(col) = self.categorical(name, n_cells)? else {
                    return Ok(None);
                };
                let truth: Vec<bool> = col
                    .categories
                    .iter()
                    .map(|c| {
                        bool_word(c).ok_or_else(|| {
                            format!(
                            "{place}: the value '{c}' is not a boolean (True/False, 1/0, yes/no)"
                        )
                        })
                    })
                    .collect::<R<_>>()?;
                let mut values = Vec::with_capacity(col.codes.len());
                col.codes
                    .each(|c| values.push(usize::try_from(c).ok().map(|c| truth[c])));
                values
            };
        if values.len() as u64 != n_cells {
            return Err(format!(
                "{place}: {} values for {n_cells} cells",
                values.len()
            ));
        }
        Ok(Some(values))
    }

    /// The number of distinct values among the cells (missing values are
    /// none), as pandas' `nunique` counts them; None for a column that is
    /// not one value per cell (a 2-D or compound column). `scratch`: the
    /// calling thread's vectors, reused from column to column.
    pub fn distinct(&self, name: &str, n_cells: u64, scratch: &mut Scratch) -> R<Option<u64>> {
        let place = format!("column 'obs/{name}'");
        if self.is_dataset(name) && self.legacy_categories(name).is_none() {
            let ds = self.obs.dataset(name).at(&place)?;
            if ds.shape().len() != 1 {
                return Ok(None);
            }
            if let Some(kind) = Scalar::of(ds.dtype()) {
                let file_len = self.file_len;
                let (n, distinct) = if kind.size() <= 4 {
                    let keys = scratch.keys32();
                    let n = scalar_keys(&ds, &kind, &place, file_len, Scalar::extend_keys32, keys)?;
                    (n, scratch.count32())
                } else {
                    let keys = scratch.keys64();
                    let n = scalar_keys(&ds, &kind, &place, file_len, Scalar::extend_keys, keys)?;
                    (n, scratch.count64())
                };
                if n != n_cells {
                    return Err(format!("{place}: {n} values for {n_cells} cells"));
                }
                return Ok(Some(distinct));
            }
            if !is_string(ds.dtype()) {
                return Ok(None);
            }
        }
        let Some(col) = self.categorical(name, n_cells)? else {
            return Ok(None);
        };
        Ok(Some(used_values(&col)))
    }
}

/// The distinct values the cells use (by value, not code).
pub fn used_values(col: &Column) -> u64 {
    let mut used = vec![false; col.categories.len()];
    col.codes.each(|c| {
        if let Ok(c) = usize::try_from(c) {
            used[c] = true;
        }
    });
    let names: HashSet<&str> = col
        .categories
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(s, _)| s.as_str())
        .collect();
    names.len() as u64
}

/// A boolean written as a word: True/False, 1/0 (1.0/0.0), yes/no, t/f,
/// y/n, any case.
fn bool_word(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "1.0" | "yes" | "t" | "y" => Some(true),
        "false" | "0" | "0.0" | "no" | "f" | "n" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A column read while keeping is decoded once: the same column
    /// again meanwhile, and once after; then it is read afresh.
    #[test]
    fn kept_columns_are_read_once_more_then_dropped() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/h5ad/plain.h5ad");
        let file = crate::H5ad::open(&path).unwrap();
        let obs = file.obs().unwrap();
        let n = obs.n_cells().unwrap();
        let read = |name: &str| obs.categorical(name, n).unwrap().unwrap();
        let (first, again) = obs.keeping_columns(|| (read("sex"), read("sex")));
        assert!(Arc::ptr_eq(&first, &again));
        assert!(Arc::ptr_eq(&first, &read("sex")), "taken once after");
        let fresh = read("sex");
        assert!(!Arc::ptr_eq(&first, &fresh), "then read afresh");
        assert_eq!(*first, *fresh);
        assert!(obs.kept.lock().unwrap().columns.is_empty());
        // another thread's reads meanwhile are not kept; what nothing
        // reads again is dropped
        let other = obs.keeping_columns(|| {
            std::thread::scope(|s| s.spawn(|| read("tissue")).join().unwrap());
            read("disease")
        });
        assert_eq!(obs.kept.lock().unwrap().columns.len(), 1);
        assert!(obs.kept.lock().unwrap().columns.contains_key("disease"));
        obs.drop_kept();
        assert!(obs.kept.lock().unwrap().columns.is_empty());
        assert!(!Arc::ptr_eq(&other, &read("disease")));
    }

    #[test]
    fn bool_words() {
        for (w, b) in [
            ("True", Some(true)),
            ("no", Some(false)),
            ("0", Some(false)),
            ("maybe", None),
        ] {
            assert_eq!(bool_word(w), b, "{w}");
        }
    }
}
