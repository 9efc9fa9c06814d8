//! Copying what a subset keeps as it is — attributes, and whole groups and
//! datasets (`var`, `varm`, `varp`, `uns`, `raw/var`) — with every
//! datatype, shape and chunking unchanged.

use crate::h5::{self, At, R};
use crate::heap::SourceHeap;
use crate::stored::Stored;
use cxg_h5write::rust_hdf5;
use cxg_h5write::{self as w, H5Dataset, H5Group, Storage};
use hdf5_reader::group::Group;
use hdf5_reader::superblock::Superblock;
use hdf5_reader::{Attribute, Dataset, Datatype, RawAttribute};
use std::cell::RefCell;
use std::path::Path;

/// Where attributes go.
pub(crate) enum Dst<'a> {
    Group(&'a H5Group),
    Dataset(&'a H5Dataset),
}

/// Copy the attributes of a source object, but those named in `skip`.
pub(crate) fn attrs(
    attrs: Vec<Attribute>,
    raw: &[RawAttribute],
    dst: &Dst,
    skip: &[&str],
    place: &str,
) -> R<()> {
    for a in attrs {
        if skip.contains(&a.name.as_str()) {
            continue;
        }
        let here = format!("{place} attribute '{}'", a.name);
        if h5::is_string(&a.datatype) {
            string_attr(&a, dst, &here)?;
        } else if a.shape.is_empty() {
            let rawdt = raw
                .iter()
                .find(|r| r.name() == a.name)
                .ok_or_else(|| format!("{here}: no datatype"))?;
            let dt = w::datatype_from_raw(rawdt.raw_datatype()).at(&here)?;
            match dst {
                Dst::Group(g) => g.set_attr_typed(&a.name, dt, a.raw_data.clone()),
                Dst::Dataset(d) => d.set_attr_typed(&a.name, dt, a.raw_data.clone()),
            }
            .at(&here)?;
        } else {
            let Dst::Group(g) = dst else {
                return Err(format!(
                    "{here}: an array attribute on a dataset is not supported"
                ));
            };
            numeric_array_attr(g, &a, &here)?;
        }
    }
    Ok(())
}

fn string_attr(a: &Attribute, dst: &Dst, here: &str) -> R<()> {
    if a.shape.is_empty() {
        let v = a.read_string().at(here)?;
        return match dst {
            Dst::Group(g) => w::group_attr(g, &a.name, &v),
            Dst::Dataset(d) => w::dataset_attr(d, &a.name, &v),
        }
        .at(here);
    }
    let v = a.read_strings().at(here)?;
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    let dims: Vec<usize> = a.shape.iter().map(|d| *d as usize).collect();
    match dst {
        Dst::Group(g) => g.set_attr_string_array_nd(&a.name, &refs, &dims).at(here),
        Dst::Dataset(_) => Err(format!(
            "{here}: a string-array attribute on a dataset is not supported"
        )),
    }
}

/// A numeric array attribute (`shape`, an empty `column-order`).
fn numeric_array_attr(g: &H5Group, a: &Attribute, here: &str) -> R<()> {
    let dims: Vec<usize> = a.shape.iter().map(|d| *d as usize).collect();
    macro_rules! put {
        ($t:ty, $n:literal) => {{
            let v: Vec<$t> = a
                .raw_data
                .chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    <$t>::from_le_bytes(b)
                })
                .collect();
            g.set_attr_array_numeric_nd(&a.name, &v, &dims).at(here)
        }};
    }
    match &a.datatype {
        Datatype::FixedPoint {
            size: 1,
            signed: true,
            ..
        } => put!(i8, 1),
        Datatype::FixedPoint { size: 1, .. } => put!(u8, 1),
        Datatype::FixedPoint {
            size: 2,
            signed: true,
            ..
        } => put!(i16, 2),
        Datatype::FixedPoint { size: 2, .. } => put!(u16, 2),
        Datatype::FixedPoint {
            size: 4,
            signed: true,
            ..
        } => put!(i32, 4),
        Datatype::FixedPoint { size: 4, .. } => put!(u32, 4),
        Datatype::FixedPoint {
            size: 8,
            signed: true,
            ..
        } => put!(i64, 8),
        Datatype::FixedPoint { size: 8, .. } => put!(u64, 8),
        Datatype::FloatingPoint { size: 4, .. } => put!(f32, 4),
        Datatype::FloatingPoint { size: 8, .. } => put!(f64, 8),
        other => Err(format!(
            "{here}: an array attribute of {other:?} is not supported"
        )),
    }
}

/// Copy the attributes of a group.
pub(crate) fn group_attrs(src: &Group, dst: &H5Group, skip: &[&str], place: &str) -> R<()> {
    let list = src.attributes().at(place)?;
    let raw = src.raw_attributes().at(place)?;
    attrs(list, &raw, &Dst::Group(dst), skip, place)
}

/// Copy the attributes of a dataset.
pub(crate) fn dataset_attrs(src: &Dataset, dst: &H5Dataset, place: &str) -> R<()> {
    let raw = src.raw_attributes().at(place)?;
    attrs(src.attributes(), &raw, &Dst::Dataset(dst), &[], place)
}

thread_local! {
    /// The source file opened with rust-hdf5's reader, for the one thing
    /// hdf5-reader does not tell: each dataset's filters.
    static SOURCE: RefCell<Option<rust_hdf5::H5File>> = const { RefCell::new(None) };
}

/// While alive, the source of the subset being written on this thread:
/// [`storage_of`] asks it for its filters, and
/// [`crate::heap::Heap::of_source`] reads its strings.
pub(crate) struct Source {
    _heap: SourceHeap,
}

impl Source {
    /// Open `path`, whose superblock is `sb`, for its filters and strings;
    /// if rust-hdf5 cannot read it, chunked datasets get gzip level 4
    /// (h5py's default) instead.
    pub(crate) fn open(path: &Path, sb: &Superblock) -> Source {
        let f = std::panic::catch_unwind(|| {
            rust_hdf5::H5File::options()
                .locking(rust_hdf5::FileLocking::Disabled)
                .open(path)
                .ok()
        })
        .ok()
        .flatten();
        SOURCE.with(|s| *s.borrow_mut() = f);
        Source {
            _heap: SourceHeap::set(path, sb),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        SOURCE.with(|s| *s.borrow_mut() = None);
    }
}

/// The source's filters of the dataset at `place`, if it tells them.
fn filters(place: &str) -> Option<Vec<rust_hdf5::Filter>> {
    SOURCE.with(|s| {
        let s = s.borrow();
        let f = s.as_ref()?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f.dataset(place).ok()?.filters().ok()
        }))
        .ok()
        .flatten()
    })
}

/// How the source stores the dataset at `place`, for its copy: chunked
/// datasets keep their chunk length, deflate level and shuffle (gzip 4
/// when the source does not tell); contiguous ones stay so. A filter we
/// cannot write (LZF) becomes gzip 4.
pub(crate) fn storage_of(d: &Dataset, place: &str) -> Storage {
    let Some(rows) = d.chunks().and_then(|c| c.first().map(|n| *n as usize)) else {
        return Storage::PLAIN;
    };
    let (gzip, shuffle) = match filters(place) {
        Some(fs) => {
            let deflate = fs
                .iter()
                .find(|f| f.id == rust_hdf5::format::messages::filter::FILTER_DEFLATE);
            let other = fs.iter().any(|f| f.id > 3);
            let level = deflate.map(|f| f.cd_values.first().copied().unwrap_or(4));
            (level.or(other.then_some(4)), fs.iter().any(|f| f.id == 2))
        }
        None => (Some(4), false),
    };
    Storage {
        chunk_rows: Some(rows),
        gzip,
        shuffle,
    }
}

/// A whole group, recursively, as it is.
pub(crate) fn group(src: &Group, dst: &H5Group, place: &str) -> R<()> {
    group_from(src, dst, place, None)
}

/// [`group`]; `stored`: the file of `src` opened for its stored chunks,
/// which gzip datasets are then copied as (see [`Stored`]).
pub(crate) fn group_from(
    src: &Group,
    dst: &H5Group,
    place: &str,
    stored: Option<&Stored>,
) -> R<()> {
    group_attrs(src, dst, &[], place)?;
    let (groups, datasets) = src.member_names().at(place)?;
    for name in groups {
        let here = format!("{place}/{name}");
        let g = src.group(&name).at(&here)?;
        let out = dst.create_group(&name).at(&here)?;
        group_from(&g, &out, &here, stored)?;
    }
    for name in datasets {
        let here = format!("{place}/{name}");
        let d = src.dataset(&name).at(&here)?;
        let Some(stored) = stored else {
            dataset(&d, dst, &name, &here)?;
            continue;
        };
        if let Some(out) = stored.copy(&d, dst, &name, &here)? {
            dataset_attrs(&d, &out, &here)?;
        } else if let Some(v) = stored.strings(&d, &here)? {
            let out = strings(dst, &name, &d, &v, &here)?;
            dataset_attrs(&d, &out, &here)?;
        } else {
            dataset(&d, dst, &name, &here)?;
        }
    }
    Ok(())
}

/// A whole dataset, as it is.
pub(crate) fn dataset(d: &Dataset, dst: &H5Group, name: &str, place: &str) -> R<()> {
    let out = if h5::is_string(d.dtype()) {
        let v = d.read_strings().at(place)?;
        strings(dst, name, d, &v, place)?
    } else {
        let dt = h5::datatype(d, place)?;
        let bytes = h5::read_all(d, place)?;
        let shape: Vec<usize> = d.shape().iter().map(|n| *n as usize).collect();
        w::write_array_fast(dst, name, dt, &shape, &bytes, storage_of(d, place)).at(place)?
    };
    dataset_attrs(d, &out, place)
}

/// Strings in the source's shape: scalar or one axis.
pub(crate) fn strings(
    dst: &H5Group,
    name: &str,
    src: &Dataset,
    values: &[String],
    place: &str,
) -> R<H5Dataset> {
    match src.shape().len() {
        0 => {
            let v = values.first().map(String::as_str).unwrap_or("");
            w::write_scalar_string(dst, name, v).at(place)
        }
        1 => {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            w::write_strings(dst, name, &refs, storage_of(src, place)).at(place)
        }
        n => Err(format!(
            "{place}: strings of {n} dimensions are not supported"
        )),
    }
}
