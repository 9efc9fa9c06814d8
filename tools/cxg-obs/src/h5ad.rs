//! Reading the cell table (`obs`) of one H5AD file with the pure-Rust
//! `hdf5-reader`: only the columns a summary needs (codes and categories of
//! categoricals, the `is_primary_data` bools), never `X`.
//!
//! Layouts: anndata 0.8 and later (categorical groups `codes` +
//! `categories`, int8/16/32/64 codes, -1 = missing; bools as an HDF5 enum
//! or as a `nullable-boolean` group; plain string columns), and the older
//! one that kept categories in `obs/__categories/<column>` (anndata 0.7).
//! Compression: what hdf5-reader decodes (gzip, shuffle, ...) plus LZF
//! (`lzf.rs`). Anything else is an error naming the column.

use cxg_catalog::facets;
use hdf5_reader::error::Error as H5Error;
use hdf5_reader::group::Group;
use hdf5_reader::{Datatype, Hdf5File, OpenOptions, StringSize, VarLenKind};
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

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
    ids: &'static str,
    /// The column of labels; none: the values are their own labels.
    labels: Option<&'static str>,
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
        })
        .collect()
});

/// The facet whose cells are counted as normal by [`facets::NORMAL`].
const DISEASE: &str = "disease";

/// Cells per term of one facet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Facet {
    pub(crate) name: &'static str,
    /// (term id, cells, label), most cells first, ties by id.
    pub(crate) items: Vec<(String, u64, String)>,
    /// Cells with no value (code -1).
    pub(crate) missing: u64,
}

/// What one file says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub(crate) schema_version: Option<String>,
    pub(crate) uns_dataset_version_id: Option<String>,
    pub(crate) n_cells: u64,
    pub(crate) normal_cell_count: u64,
    pub(crate) primary_cell_count: u64,
    pub(crate) donor_count: u64,
    pub(crate) facets: Vec<Facet>,
}

/// A categorical column: one code per cell (-1 = missing) and the values.
struct Column {
    codes: Vec<i32>,
    categories: Vec<String>,
}

/// A file's error: one line, which becomes its record's `error` (never an
/// exit status, so plain text).
type R<T> = std::result::Result<T, String>;

/// `.at(place)?` for the HDF5 reader's errors, as `cxg_core::At` does for
/// the tools' errors: `place: error`.
trait At<T> {
    fn at(self, place: &str) -> R<T>;
}

impl<T> At<T> for hdf5_reader::error::Result<T> {
    fn at(self, place: &str) -> R<T> {
        self.map_err(|e| h5_error(place, &e))
    }
}

/// The filter an error says the reader lacks, through its context.
fn unsupported_filter(e: &H5Error) -> Option<&str> {
    match e {
        H5Error::UnsupportedFilter(what) => Some(what),
        H5Error::Context { source, .. } => unsupported_filter(source),
        _ => None,
    }
}

/// The reader's error at `place`; a compression filter it cannot decode
/// is named, with the filters it can.
fn h5_error(place: &str, e: &H5Error) -> String {
    let Some(what) = unsupported_filter(e) else {
        return format!("{place}: {e}");
    };
    let id = what.trim_start_matches("filter id ").trim();
    let known = match id {
        "32001" => " (Blosc)",
        "32004" => " (LZ4)",
        "32015" => " (Zstandard)",
        "307" => " (bzip2)",
        _ => "",
    };
    format!("{place}: unsupported compression filter {id}{known}; only gzip, LZF, shuffle, fletcher32, nbit, scaleoffset and szip can be read")
}

/// The most a compressed byte can expand to (deflate's limit is ~1,032).
const MAX_EXPANSION: usize = 1100;

/// Open `path` and summarise its obs table.
pub(crate) fn summarize(path: &Path) -> R<Summary> {
    let (file, file_len, budget) = open(path)?;
    let root = file
        .root_group()
        .at("not a readable HDF5 file (truncated?)")?;
    let obs = root.group("obs").map_err(|e| match e {
        H5Error::GroupNotFound(_) => "no 'obs' group: not an AnnData file".to_string(),
        e => format!("cannot read the 'obs' group (a damaged file?): {e}"),
    })?;
    let (groups, datasets) = obs.member_names().at("'obs' (listing its columns)")?;
    let members = Members {
        obs: &obs,
        groups,
        datasets,
        budget,
        file_len,
    };
    let n_cells = members.n_cells()?;
    let facets = members.facets(n_cells)?;
    let normal_cell_count = facets
        .iter()
        .filter(|f| f.name == DISEASE)
        .flat_map(|f| &f.items)
        .filter(|(id, _, _)| id == facets::NORMAL)
        .map(|(_, n, _)| n)
        .sum();
    let donor_count = members.donor_count(n_cells)?;
    let primary_cell_count = members.true_count("is_primary_data", n_cells)?;
    let uns = root.group("uns").ok();
    let uns_string = |name: &str| {
        uns.as_ref()
            .and_then(|u| u.dataset(name).ok())
            .and_then(|d| d.read_string().ok())
    };
    Ok(Summary {
        schema_version: uns_string("schema_version"),
        uns_dataset_version_id: uns_string("dataset_version_id"),
        n_cells,
        normal_cell_count,
        primary_cell_count,
        donor_count,
        facets,
    })
}

/// Open an HDF5 file for reading its obs table: the file, its length, and
/// the most bytes one read may decode.
fn open(path: &Path) -> R<(Hdf5File, u64, usize)> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open: {e}"))?;
    if meta.is_dir() {
        return Err("is a folder, not a file".into());
    }
    let len = meta.len();
    // No read may allocate more than the file could decompress to (deflate
    // expands at most ~1,032 times), so a hostile header cannot make a
    // column ask for terabytes. Each column is read once: no chunk cache.
    let budget = usize::try_from(len)
        .unwrap_or(usize::MAX)
        .saturating_mul(MAX_EXPANSION)
        .max(1 << 20);
    let opts = OpenOptions::default()
        .with_max_read_bytes(budget)
        .with_chunk_cache_bytes(0)
        .with_filter_registry(crate::lzf::registry());
    let file = Hdf5File::open_with_options(path, opts).map_err(|e| match e {
        H5Error::InvalidMagic => "not an HDF5 file (no HDF5 signature)".to_string(),
        e => format!("not a readable HDF5 file: {e}"),
    })?;
    // an interrupted download: shorter than the end the header records
    let sb = file.superblock();
    let eof = sb.base_address.saturating_add(sb.eof_address);
    if eof > len && sb.eof_address != u64::MAX {
        return Err(format!(
            "truncated: the file has {len} bytes, its HDF5 header says {eof}"
        ));
    }
    Ok((file, len, budget))
}

struct Members<'a> {
    obs: &'a Group,
    groups: Vec<String>,
    datasets: Vec<String>,
    /// The most bytes one read may decode.
    budget: usize,
    /// The file's length: contiguous data must fit in it.
    file_len: u64,
}

fn attr_string(attr: hdf5_reader::error::Result<hdf5_reader::Attribute>) -> Option<String> {
    attr.ok().and_then(|a| a.read_string().ok())
}

fn is_string(dt: &Datatype) -> bool {
    matches!(dt, Datatype::String { .. })
        || matches!(
            dt,
            Datatype::VarLen {
                kind: VarLenKind::String,
                ..
            }
        )
}

fn describe(dt: &Datatype) -> String {
    match dt {
        Datatype::FixedPoint { size, signed, .. } => {
            format!("{}int{}", if *signed { "" } else { "u" }, *size as u32 * 8)
        }
        Datatype::FloatingPoint { size, .. } => format!("float{}", *size as u32 * 8),
        Datatype::String {
            size: StringSize::Fixed(n),
            ..
        } => format!("fixed string({n})"),
        Datatype::String { .. } => "string".into(),
        Datatype::Enum { members, .. } => format!("enum of {} members", members.len()),
        Datatype::Compound { .. } => "compound".into(),
        Datatype::VarLen { .. } => "variable-length".into(),
        _ => format!("{dt:?}"),
    }
}

impl Members<'_> {
    fn has(&self, name: &str) -> bool {
        self.is_group(name) || self.is_dataset(name)
    }

    fn is_group(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g == name)
    }

    fn is_dataset(&self, name: &str) -> bool {
        self.datasets.iter().any(|d| d == name)
    }

    /// Cells = rows of the index dataset that obs names in `_index`.
    fn n_cells(&self) -> R<u64> {
        let idx = attr_string(self.obs.attribute("_index")).unwrap_or_else(|| "_index".to_string());
        let ds = self.obs.dataset(&idx).map_err(|_| {
            format!("column 'obs/{idx}' (the cell index) is missing: unsupported layout (anndata < 0.7 stored obs as one table)")
        })?;
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

    /// Cells per term of every facet, in output order.
    fn facets(&self, n_cells: u64) -> R<Vec<Facet>> {
        // the columns anndata wrote (a column may be missing from the
        // listing of members when it is a link that does not resolve)
        let listed: Vec<String> = self
            .obs
            .attribute("column-order")
            .ok()
            .and_then(|a| a.read_strings().ok())
            .unwrap_or_default();
        let mut facets = Vec::with_capacity(OBS_FACETS.len());
        for f in OBS_FACETS.iter() {
            let ids = self.categorical(f.ids, n_cells)?;
            let labels = match f.labels {
                Some(l) if self.has(l) => Labels::Column(self.categorical(l, n_cells)?),
                // obs names it but it does not open: a link that never
                // resolves (a soft link to itself, or to nothing), not "ids only"
                Some(l) if listed.iter().any(|c| c == l) => {
                    return Err(format!(
                        "column 'obs/{l}' is in obs's column-order but cannot be opened (a soft link that does not resolve?)"
                    ))
                }
                // a file not (yet) through CELLxGENE's ingest has ids only
                Some(_) => Labels::None,
                None => Labels::Ids,
            };
            facets.push(count_facet(f.name, &ids, &labels));
        }
        Ok(facets)
    }

    /// Distinct donor names among the cells (categories are unique in
    /// anndata, but count names, not codes, to be safe).
    fn donor_count(&self, n_cells: u64) -> R<u64> {
        let donors = self.categorical("donor_id", n_cells)?;
        let mut used = vec![false; donors.categories.len()];
        for &c in &donors.codes {
            if c >= 0 {
                used[c as usize] = true;
            }
        }
        let mut names: Vec<&str> = donors
            .categories
            .iter()
            .zip(&used)
            .filter(|(_, u)| **u)
            .map(|(s, _)| s.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names.len() as u64)
    }

    /// A categorical column (or a plain string column, interned), checked
    /// to hold one valid code per cell.
    fn categorical(&self, name: &str, n_cells: u64) -> R<Column> {
        let place = format!("column 'obs/{name}'");
        let col = if self.is_group(name) {
            self.categorical_group(name, &place)?
        } else if self.is_dataset(name) {
            self.categorical_dataset(name, &place)?
        } else {
            return Err(format!("{place} is missing"));
        };
        if col.codes.len() as u64 != n_cells {
            return Err(format!(
                "{place}: {} values for {n_cells} cells",
                col.codes.len()
            ));
        }
        let n = col.categories.len() as i64;
        if let Some((i, c)) = col
            .codes
            .iter()
            .enumerate()
            .find(|(_, &c)| c < -1 || i64::from(c) >= n)
        {
            return Err(format!(
                "{place}: code {c} of cell {i} is outside its {n} categories"
            ));
        }
        Ok(col)
    }

    /// anndata 0.8 and later: a group of `codes` and `categories`.
    fn categorical_group(&self, name: &str, place: &str) -> R<Column> {
        let g = self.obs.group(name).at(place)?;
        let enc = attr_string(g.attribute("encoding-type")).unwrap_or_default();
        if enc != "categorical" {
            return Err(format!(
                "{place}: unsupported layout: a group with encoding-type '{enc}', not a categorical"
            ));
        }
        let place = |part: &str| format!("column 'obs/{name}/{part}'");
        Ok(Column {
            codes: read_codes(&g, "codes", &place("codes"), self.file_len)?,
            categories: read_strings(&g, "categories", &place("categories"), self.file_len)?,
        })
    }

    /// A plain string column, or the codes of anndata 0.7 (categories in
    /// `obs/__categories`).
    fn categorical_dataset(&self, name: &str, place: &str) -> R<Column> {
        let ds = self.obs.dataset(name).at(place)?;
        if is_string(ds.dtype()) {
            for_each_piece(&ds, place, self.file_len, |_| Ok(()))?;
            return Ok(intern(ds.read_strings().at(place)?));
        }
        let Ok(legacy) = self.obs.group("__categories") else {
            return Err(format!(
                "{place}: unsupported layout: a {} dataset, not a categorical or string column",
                describe(ds.dtype())
            ));
        };
        Ok(Column {
            codes: read_codes(self.obs, name, place, self.file_len)?,
            categories: read_strings(
                &legacy,
                name,
                &format!("column 'obs/__categories/{name}'"),
                self.file_len,
            )?,
        })
    }

    /// Cells whose bool column is true (missing values are not true).
    fn true_count(&self, name: &str, n_cells: u64) -> R<u64> {
        let place = format!("column 'obs/{name}'");
        let (values, mask) = if self.is_group(name) {
            self.nullable_bools(name, &place)?
        } else if self.is_dataset(name) {
            (bools(self.obs, name, &place, self.file_len)?, None)
        } else {
            return Err(format!("{place} is missing"));
        };
        if values.len() as u64 != n_cells || mask.as_ref().is_some_and(|m| m.len() != values.len())
        {
            return Err(format!(
                "{place}: {} values for {n_cells} cells",
                values.len()
            ));
        }
        Ok(match mask {
            Some(m) => values.iter().zip(&m).filter(|(v, m)| **v && !**m).count(),
            None => values.iter().filter(|v| **v).count(),
        } as u64)
    }

    /// A `nullable-boolean` group: its values and its mask.
    fn nullable_bools(&self, name: &str, place: &str) -> R<(Vec<bool>, Option<Vec<bool>>)> {
        let g = self.obs.group(name).at(place)?;
        let enc = attr_string(g.attribute("encoding-type")).unwrap_or_default();
        if enc != "nullable-boolean" {
            return Err(format!(
                "{place}: unsupported layout: a group with encoding-type '{enc}', not bools"
            ));
        }
        let place = |part: &str| format!("column 'obs/{name}/{part}'");
        Ok((
            bools(&g, "values", &place("values"), self.file_len)?,
            Some(bools(&g, "mask", &place("mask"), self.file_len)?),
        ))
    }
}

/// A plain string column as a categorical: each distinct value once.
fn intern(values: Vec<String>) -> Column {
    let mut index: HashMap<String, i32> = HashMap::new();
    let mut categories = Vec::new();
    let mut codes = Vec::with_capacity(values.len());
    for v in values {
        let next = categories.len() as i32;
        let c = *index.entry(v.clone()).or_insert_with(|| {
            categories.push(v);
            next
        });
        codes.push(c);
    }
    Column { codes, categories }
}

fn read_strings(g: &Group, name: &str, place: &str, file_len: u64) -> R<Vec<String>> {
    let ds = g.dataset(name).at(place)?;
    if !is_string(ds.dtype()) {
        return Err(format!(
            "{place}: unsupported layout: categories of type {}, not strings",
            describe(ds.dtype())
        ));
    }
    // the stored chunks must hold every declared value before the whole
    // dataset is read (one chunk decoded at a time, then dropped)
    for_each_piece(&ds, place, file_len, |_| Ok(()))?;
    ds.read_strings().at(place)
}

/// Visit the values of a one-dimensional dataset in order, as raw bytes of
/// `elem` bytes each, piece by piece. Chunked data is decoded one chunk at a
/// time (the chunks the file stores, never the size it declares: a chunk
/// missing or out of order is an error); contiguous data is first checked
/// to fit in the file. So nothing is allocated from a declared size alone.
fn for_each_piece(
    ds: &hdf5_reader::Dataset,
    place: &str,
    file_len: u64,
    mut f: impl FnMut(&[u8]) -> R<()>,
) -> R<u64> {
    let n = match ds.shape() {
        [n] => *n,
        s => {
            return Err(format!(
            "{place}: unsupported layout: shape {s:?}, expected one dimension (one value per cell)"
        ))
        }
    };
    let elem = ds.raw_element_size().at(place)?;
    if elem == 0 {
        return Err(format!("{place}: zero-size elements"));
    }
    let elem64 = elem as u64;
    if ds.chunks().is_none() {
        let bytes = n.saturating_mul(elem64);
        if bytes > file_len {
            return Err(format!(
                "{place}: declares {n} values ({bytes} bytes), more than the file's {file_len} bytes"
            ));
        }
        let raw = ds.read_raw_bytes().at(place)?;
        if raw.len() as u64 != bytes {
            return Err(format!(
                "{place}: {} bytes stored for {n} values",
                raw.len()
            ));
        }
        f(&raw)?;
        return Ok(n);
    }
    let mut done = 0u64;
    for chunk in ds.iter_chunks().at(place)? {
        let chunk = chunk.at(place)?;
        if chunk.offsets().first().copied() != Some(done) {
            return Err(format!(
                "{place}: the stored chunks do not follow each other (at value {done}); missing or out-of-order chunks are not supported"
            ));
        }
        if done >= n {
            break;
        }
        let bytes = chunk.bytes();
        let take = (bytes.len() as u64 / elem64).min(n - done);
        if take == 0 {
            return Err(format!("{place}: an empty chunk at value {done}"));
        }
        // take <= bytes.len() / elem, so the product fits
        f(&bytes[..(take as usize) * elem])?;
        done += take;
    }
    if done != n {
        return Err(format!(
            "{place}: declares {n} values but stores only {done}"
        ));
    }
    Ok(n)
}

/// Grow `v` by `more` without aborting when memory runs out.
fn reserve<T>(v: &mut Vec<T>, more: usize, place: &str) -> R<()> {
    v.try_reserve(more)
        .map_err(|_| format!("{place}: not enough memory for {} values", v.len() + more))
}

fn read_codes(g: &Group, name: &str, place: &str, file_len: u64) -> R<Vec<i32>> {
    let ds = g.dataset(name).at(place)?;
    let (size, signed, big) = match ds.dtype() {
        Datatype::FixedPoint {
            size: size @ (1 | 2 | 4 | 8),
            signed,
            byte_order,
        } if *signed || *size < 8 => (
            usize::from(*size),
            *signed,
            matches!(byte_order, hdf5_reader::ByteOrder::BigEndian),
        ),
        dt => {
            return Err(format!(
                "{place}: unsupported layout: codes of type {}, not integers",
                describe(dt)
            ))
        }
    };
    let mut codes: Vec<i32> = Vec::new();
    for_each_piece(&ds, place, file_len, |raw| {
        if raw.len() % size != 0 {
            return Err(format!("{place}: {} bytes is not whole values", raw.len()));
        }
        reserve(&mut codes, raw.len() / size, place)?;
        for v in raw.chunks_exact(size) {
            let mut b = [0u8; 8];
            if big {
                b[8 - size..].copy_from_slice(v);
                b.reverse();
            } else {
                b[..size].copy_from_slice(v);
            }
            // sign-extend from the value's own width
            let x = if signed {
                let shift = 64 - 8 * size as u32;
                (i64::from_le_bytes(b) << shift) >> shift
            } else {
                i64::from_le_bytes(b)
            };
            codes.push(i32::try_from(x).map_err(|_| format!("{place}: code {x} is out of range"))?);
        }
        Ok(())
    })?;
    Ok(codes)
}

/// One bool per element of an HDF5 bool (an enum over int8, as h5py writes
/// it), or of an integer 0/1 dataset.
fn bools(g: &Group, name: &str, place: &str, file_len: u64) -> R<Vec<bool>> {
    let ds = g.dataset(name).at(place)?;
    let (size, truth): (usize, Option<Vec<u8>>) = match ds.dtype() {
        Datatype::Enum { base, members } => {
            let size = match base.as_ref() {
                Datatype::FixedPoint { size, .. } => *size as usize,
                dt => {
                    return Err(format!(
                        "{place}: unsupported layout: an enum over {}",
                        describe(dt)
                    ))
                }
            };
            let t = members
                .iter()
                .find(|m| m.name.eq_ignore_ascii_case("true"))
                .map(|m| m.value.clone());
            if t.is_none() {
                return Err(format!(
                    "{place}: unsupported layout: an enum without a TRUE member, not bools"
                ));
            }
            (size, t)
        }
        Datatype::FixedPoint { size, .. } | Datatype::Bitfield { size, .. } => {
            (usize::from(*size), None)
        }
        dt => {
            return Err(format!(
                "{place}: unsupported layout: a {} dataset, not bools",
                describe(dt)
            ))
        }
    };
    if size == 0 {
        return Err(format!("{place}: zero-size elements"));
    }
    let mut out: Vec<bool> = Vec::new();
    for_each_piece(&ds, place, file_len, |raw| {
        if raw.len() % size != 0 {
            return Err(format!("{place}: {} bytes is not whole values", raw.len()));
        }
        reserve(&mut out, raw.len() / size, place)?;
        out.extend(raw.chunks_exact(size).map(|v| match &truth {
            Some(t) => v == t.as_slice(),
            None => v.iter().any(|b| *b != 0),
        }));
        Ok(())
    })?;
    Ok(out)
}

/// Where a facet's labels come from.
enum Labels {
    /// Its label column.
    Column(Column),
    /// The values are their own labels (suspension_type, tissue_type).
    Ids,
    /// The file has no label column: labels are empty.
    None,
}

/// Count cells per term, with each term's label (the label most of its
/// cells carry; ties to the smaller label).
fn count_facet(name: &'static str, ids: &Column, labels: &Labels) -> Facet {
    let mut counts = vec![0u64; ids.categories.len()];
    let mut missing = 0u64;
    for &c in &ids.codes {
        if c < 0 {
            missing += 1;
        } else {
            counts[c as usize] += 1;
        }
    }
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
    for (&c, &lc) in ids.codes.iter().zip(&l.codes) {
        if c < 0 {
            continue;
        }
        let f = &mut first[c as usize];
        if *f == -2 {
            *f = lc;
        } else if *f != lc {
            return None;
        }
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
    for (&c, &lc) in ids.codes.iter().zip(&l.codes) {
        if c >= 0 && lc >= 0 {
            *pairs.entry((c, lc)).or_default() += 1;
        }
    }
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

    fn col(codes: &[i32], cats: &[&str]) -> Column {
        Column {
            codes: codes.to_vec(),
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
        let f = count_facet("cell_type", &ids, &Labels::Column(labels));
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
