//! anndata < 0.7's `obs`: one compound table (a record per cell, a field
//! per column, `index` the cell names), whose categorical columns are
//! integer codes with their values in `uns/<column>_categories`. Read
//! whole (such files are small: the layout ended in 2019) into columns.

use crate::read::{describe, for_each_piece, intern, read_values, At, Column, Scalar, R};
use hdf5_reader::group::Group;
use hdf5_reader::{Datatype, StringSize};

/// The columns of a compound obs table, in field order (the index left
/// out), and the number of cells.
pub struct Table {
    pub n_cells: u64,
    pub columns: Vec<(String, Column)>,
    /// Columns with categories (the others are plain values).
    pub categorical: Vec<String>,
}

/// How one field of a record is decoded.
enum Field {
    Scalar(Scalar),
    Text(usize),
}

/// Read the compound `obs` dataset of `root`.
pub fn read_table(root: &Group, file_len: u64) -> R<Table> {
    let place = "'obs' (a compound table, as anndata < 0.7 wrote it)";
    let ds = root.dataset("obs").at(place)?;
    let Datatype::Compound { size, fields } = ds.dtype().clone() else {
        return Err(format!(
            "{place}: unsupported layout: a {} dataset, not a compound table",
            describe(ds.dtype())
        ));
    };
    let size = size as usize;
    let mut raw = Vec::new();
    let n_cells = for_each_piece(&ds, place, file_len, |piece| {
        raw.try_reserve(piece.len())
            .map_err(|_| format!("{place}: not enough memory"))?;
        raw.extend_from_slice(piece);
        Ok(())
    })?;
    let uns = root.group("uns").ok();
    let mut table = Table {
        n_cells,
        columns: Vec::new(),
        categorical: Vec::new(),
    };
    for f in fields.iter().filter(|f| f.name != "index") {
        let fplace = format!("column 'obs/{}' (a field of the compound table)", f.name);
        let kind = match &f.datatype {
            Datatype::String {
                size: StringSize::Fixed(n),
                ..
            } => Field::Text(*n as usize),
            dt => match Scalar::of(dt) {
                Some(k) => Field::Scalar(k),
                // an array field (not one value per cell): left out
                None => continue,
            },
        };
        let width = match &kind {
            Field::Scalar(k) => k.size(),
            Field::Text(n) => *n,
        };
        let off = f.byte_offset as usize;
        if size == 0 || off + width > size || raw.len() % size != 0 {
            return Err(format!("{fplace}: its bytes lie outside the record"));
        }
        let cells = raw.chunks_exact(size).map(|r| &r[off..off + width]);
        let cats_name = format!("{}_categories", f.name);
        let legacy = uns.as_ref().filter(|u| u.dataset(&cats_name).is_ok());
        let col = match (legacy, &kind) {
            (Some(u), Field::Scalar(k @ Scalar::Int { .. })) => {
                let categories =
                    read_values(u, &cats_name, &format!("'uns/{cats_name}'"), file_len)?;
                table.categorical.push(f.name.clone());
                Column {
                    codes: cells.map(|v| code(k, v)).collect::<R<Vec<i32>>>()?.into(),
                    categories,
                }
            }
            (_, Field::Text(_)) => {
                table.categorical.push(f.name.clone());
                intern(cells.map(text).collect())
            }
            (_, Field::Scalar(k)) => values(k, cells),
        };
        table.columns.push((f.name.clone(), col));
    }
    Ok(table)
}

/// A categorical code (-1 = missing).
fn code(k: &Scalar, v: &[u8]) -> R<i32> {
    let t = k.text(v);
    t.parse::<i32>()
        .map_err(|_| format!("code {t} is out of range"))
}

/// A fixed-length string, its padding removed.
fn text(v: &[u8]) -> String {
    let end = v.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// Plain values as a categorical of their texts; NaN is missing.
fn values<'a>(k: &Scalar, cells: impl Iterator<Item = &'a [u8]>) -> Column {
    let mut col = intern(cells.map(|v| k.text(v)).collect());
    let nan: Vec<bool> = col.categories.iter().map(|c| c == "NaN").collect();
    col.codes
        .mark_missing(|_, c| usize::try_from(c).is_ok_and(|i| nan[i]));
    col
}
