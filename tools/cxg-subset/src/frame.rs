//! Data frames (`obs`, `var`, a data frame in `obsm`): the kept rows of
//! every column, and — for obs and var, as anndata does on subsetting —
//! categories no kept row uses removed, which `uns` colors then follow.

use crate::copy::{self, storage_of};
use crate::dense;
use crate::h5::{self, At, R};
use crate::rows::Rows;
use cxg_h5write::{self as w, H5Group};
use hdf5_reader::group::Group;
use std::collections::BTreeMap;

/// The categories of a column that were kept, out of how many.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kept {
    pub(crate) n_before: usize,
    pub(crate) positions: Vec<usize>,
}

/// Per categorical column of obs and var: what `uns['<column>_colors']`
/// must follow.
pub(crate) type Colors = BTreeMap<String, Kept>;

/// How a frame is subset.
pub(crate) struct How<'a> {
    /// The kept rows, or None: every row (var).
    pub(crate) rows: Option<&'a Rows>,
    /// Remove the categories no kept row uses (obs and var).
    pub(crate) drop_unused: bool,
}

/// The data frame `g` subset as `how` says, written as `name` in `dst`.
pub(crate) fn frame(
    g: &Group,
    dst: &H5Group,
    name: &str,
    how: &How,
    colors: &mut Colors,
    place: &str,
) -> R<()> {
    let out = dst.create_group(name).at(place)?;
    copy::group_attrs(g, &out, &[], place)?;
    let (groups, datasets) = g.member_names().at(place)?;
    for d in datasets {
        let here = format!("{place}/{d}");
        let ds = g.dataset(&d).at(&here)?;
        match how.rows {
            Some(r) => dense::rows(&ds, &out, &d, r, false, &here)?,
            None => copy::dataset(&ds, &out, &d, &here)?,
        }
    }
    for c in groups {
        let here = format!("{place}/{c}");
        let sub = g.group(&c).at(&here)?;
        match h5::group_str(&sub, "encoding-type").as_deref() {
            Some("categorical") => {
                if let Some(k) = categorical(&sub, &out, &c, how, &here)? {
                    colors.insert(c.clone(), k);
                }
            }
            Some("nullable-integer" | "nullable-boolean" | "nullable-string-array") => {
                columns(&sub, &out, &c, how.rows, &here)?
            }
            other => {
                return Err(format!(
                    "{here}: a column of encoding {} is not supported",
                    other.unwrap_or("(none)")
                ))
            }
        }
    }
    Ok(())
}

/// A group whose datasets are all columns (nullable arrays: values, mask).
fn columns(g: &Group, dst: &H5Group, name: &str, rows: Option<&Rows>, place: &str) -> R<()> {
    let out = dst.create_group(name).at(place)?;
    copy::group_attrs(g, &out, &[], place)?;
    let (_, datasets) = g.member_names().at(place)?;
    for d in datasets {
        let here = format!("{place}/{d}");
        let ds = g.dataset(&d).at(&here)?;
        match rows {
            Some(r) => dense::rows(&ds, &out, &d, r, false, &here)?,
            None => copy::dataset(&ds, &out, &d, &here)?,
        }
    }
    Ok(())
}

/// A categorical column: the kept codes, renumbered when unused categories
/// are removed. Returns the kept categories when they were.
fn categorical(g: &Group, dst: &H5Group, name: &str, how: &How, place: &str) -> R<Option<Kept>> {
    let (cp, kp) = (format!("{place}/codes"), format!("{place}/categories"));
    let codes_ds = g.dataset("codes").at(&cp)?;
    let cats_ds = g.dataset("categories").at(&kp)?;
    // the kept codes picked as bytes, then widened: not a million of them
    let (size, signed) = h5::int_kind(&codes_ds, &cp)?;
    let bytes = h5::read_all(&codes_ds, &cp)?;
    let n_codes = bytes.len() / size.max(1);
    let kept: Vec<i64> = match how.rows {
        Some(r) if r.n() as usize != n_codes => {
            return Err(format!(
                "{cp}: {n_codes} codes, the file has {} cells",
                r.n()
            ))
        }
        Some(r) => h5::ints_of(&r.select(&bytes, size, 0, &r.keep), size, signed),
        None => h5::ints_of(&bytes, size, signed),
    };
    let n_cat = cats_ds.shape().first().copied().unwrap_or(0) as usize;
    let mut used = vec![!how.drop_unused; n_cat];
    for c in &kept {
        if *c >= n_cat as i64 {
            return Err(format!("{cp}: code {c} past the {n_cat} categories"));
        }
        if *c >= 0 {
            used[*c as usize] = true;
        }
    }
    let positions: Vec<usize> = (0..n_cat).filter(|i| used[*i]).collect();
    let mut renumber = vec![-1i64; n_cat];
    for (new, old) in positions.iter().enumerate() {
        renumber[*old] = new as i64;
    }
    let new_codes: Vec<i64> = kept
        .iter()
        .map(|c| if *c < 0 { *c } else { renumber[*c as usize] })
        .collect();
    let out = dst.create_group(name).at(place)?;
    copy::group_attrs(g, &out, &[], place)?;
    let dt = h5::datatype(&codes_ds, &cp)?;
    let bytes = h5::bytes_of(&new_codes, size);
    let d = w::write_array_fast(
        &out,
        "codes",
        dt,
        &[new_codes.len()],
        &bytes,
        storage_of(&codes_ds, &cp),
    )
    .at(&cp)?;
    copy::dataset_attrs(&codes_ds, &d, &cp)?;
    pick(&cats_ds, &out, "categories", &positions, &kp)?;
    Ok(how.drop_unused.then_some(Kept {
        n_before: n_cat,
        positions,
    }))
}

/// The elements at `positions` of a 1-D dataset (categories, colors).
pub(crate) fn pick(
    d: &hdf5_reader::Dataset,
    dst: &H5Group,
    name: &str,
    positions: &[usize],
    place: &str,
) -> R<()> {
    let out = if h5::is_string(d.dtype()) {
        let all = d.read_strings().at(place)?;
        let v: Vec<String> = positions
            .iter()
            .filter_map(|i| all.get(*i).cloned())
            .collect();
        copy::strings(dst, name, d, &v, place)?
    } else {
        let size = h5::elem_size(d, place)?;
        let all = d.read_native_bytes().at(place)?;
        let mut v = Vec::with_capacity(positions.len() * size);
        for i in positions {
            v.extend_from_slice(
                all.get(i * size..(i + 1) * size)
                    .ok_or_else(|| format!("{place}: too short"))?,
            );
        }
        let dt = h5::datatype(d, place)?;
        w::write_array_fast(dst, name, dt, &[positions.len()], &v, storage_of(d, place))
            .at(place)?
    };
    copy::dataset_attrs(d, &out, place)
}
