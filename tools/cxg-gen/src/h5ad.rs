//! The H5AD file of a generated dataset (`--assets`), laid out as anndata
//! writes a CELLxGENE file: `obs` a dataframe of categorical columns
//! (codes and categories) for every facet the dataset's record claims,
//! ids and labels, `donor_id`, `suspension_type`, `tissue_type`, and the
//! bool `is_primary_data`; `uns/schema_version` and `uns/title`; a small
//! CSR `X` and `var`. Cells are dealt out to the record's terms in blocks,
//! so every term has cells and reading `obs` gives back the record: its
//! `cell_count`, its terms, its donors, and `primary_cell_count` primary
//! cells when the record says some are not primary. A facet the record
//! leaves out (or lists as empty) is a column of missing values.
//!
//! Deterministic: no times are recorded, and every value comes from the
//! record and a generator seeded by the file's name. Memory is the
//! columns of one file (a byte a cell, eight for the cell names).

use crate::rng::Rng;
use cxg_h5write::{self as w, DatatypeMessage, H5File, H5Group, Storage};
use serde_json::Value;
use std::path::Path;

type R<T> = cxg_h5write::Result<T>;

/// Rows a chunk, and the gzip level, of every obs column.
const CHUNK: usize = 1 << 16;
const GZIP: u32 = 6;
const STORE: Storage = Storage {
    chunk_rows: Some(CHUNK),
    gzip: Some(GZIP),
    shuffle: false,
};

/// The code of a missing value, -1 as an int8's byte.
const MISSING: u8 = 0xFF;

/// The facets that are `<field>_ontology_term_id` and `<field>` columns.
const TERM_FACETS: [&str; 8] = [
    "cell_type",
    "tissue",
    "disease",
    "assay",
    "sex",
    "development_stage",
    "self_reported_ethnicity",
    "organism",
];

/// Genes in `var` (and columns of `X`).
const GENES: [&str; 8] = [
    "ENSG00000121410",
    "ENSG00000148584",
    "ENSG00000175899",
    "ENSG00000166535",
    "ENSG00000256069",
    "ENSG00000184389",
    "ENSG00000128274",
    "ENSG00000118017",
];

/// The number of cells of a record: its `cell_count`, else (a record
/// without one) a few hundred from `rng`.
pub(crate) fn cells_of(d: &Value, rng: &mut Rng) -> usize {
    match d.get("cell_count").and_then(Value::as_u64) {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).max(1),
        None => 100 + rng.below(900) as usize,
    }
}

/// A bound on the bytes of the H5AD of record `d` (the free-space check
/// runs before any file is written).
pub(crate) fn size_bound(d: &Value) -> u64 {
    let n = d.get("cell_count").and_then(Value::as_u64).unwrap_or(1000);
    128 * 1024 + n / 4
}

/// Write the H5AD of record `d` at `path`; `rng` deals out the cells.
pub(crate) fn write(path: &Path, d: &Value, mut rng: Rng) -> R<()> {
    let n = cells_of(d, &mut rng);
    let f = H5File::create(path)?;
    let root = f.root_group();
    w::group_encoding(&root, "anndata", "0.1.0")?;
    obs(&root.create_group("obs")?, d, n, &mut rng)?;
    var(&root.create_group("var")?)?;
    x(&root.create_group("X")?, n)?;
    uns(&root.create_group("uns")?, d)?;
    for g in ["layers", "obsm", "obsp", "varm", "varp"] {
        w::group_encoding(&root.create_group(g)?, "dict", "0.1.0")?;
    }
    f.close()
}

/// The `{label, ontology_term_id}` terms of facet `field` (none when the
/// record has no such list).
fn terms(d: &Value, field: &str) -> Vec<(String, String)> {
    let Some(a) = d.get(field).and_then(Value::as_array) else {
        return Vec::new();
    };
    a.iter()
        .filter_map(|t| {
            let s = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
            Some((s("ontology_term_id")?, s("label").unwrap_or_default()))
        })
        .collect()
}

/// The strings of a list field.
fn strings(d: &Value, field: &str) -> Vec<String> {
    d.get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The int8 codes (as bytes) of `n` cells dealt to `k` values in blocks
/// of random sizes, each at least one cell (`k` ≤ `n`); `-1` (missing)
/// for every cell when `k` is 0.
fn deal(n: usize, k: usize, rng: &mut Rng) -> Vec<u8> {
    if k == 0 {
        return vec![MISSING; n];
    }
    let k = k.min(n).min(127);
    let weights: Vec<usize> = (0..k).map(|_| 1 + rng.below(4) as usize).collect();
    let total: usize = weights.iter().sum();
    let mut codes = Vec::with_capacity(n);
    for (c, wt) in weights.iter().enumerate() {
        let size = if c + 1 == k {
            n - codes.len()
        } else {
            (n * wt / total).max(1).min(n - codes.len() - (k - 1 - c))
        };
        codes.resize(codes.len() + size, c as u8);
    }
    codes
}

/// The `obs` dataframe.
fn obs(g: &H5Group, d: &Value, n: usize, rng: &mut Rng) -> R<()> {
    w::group_encoding(g, "dataframe", "0.2.0")?;
    w::group_attr(g, "_index", "_index")?;
    let mut order: Vec<String> = Vec::new();
    for field in TERM_FACETS {
        let ts = terms(d, field);
        let codes = deal(n, ts.len(), rng);
        let ids: Vec<&str> = ts.iter().map(|t| t.0.as_str()).collect();
        let labels: Vec<&str> = ts.iter().map(|t| t.1.as_str()).collect();
        let id_col = format!("{field}_ontology_term_id");
        categorical(g, &id_col, &codes, &ids)?;
        categorical(g, field, &codes, &labels)?;
        if field == "tissue" {
            tissue_type(g, d, &codes)?;
        }
        order.extend([id_col, field.to_string()]);
    }
    for field in ["donor_id", "suspension_type"] {
        let values = strings(d, field);
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        categorical(g, field, &deal(n, refs.len(), rng), &refs)?;
        order.push(field.to_string());
    }
    primary(g, d, n)?;
    order.extend(["tissue_type".into(), "is_primary_data".into()]);
    let refs: Vec<&str> = order.iter().map(String::as_str).collect();
    g.set_attr_string_array("column-order", &refs)?;
    index(g, n)
}

/// `tissue_type`: each cell's the `tissue_type` of its tissue.
fn tissue_type(g: &H5Group, d: &Value, tissue_codes: &[u8]) -> R<()> {
    let kinds: Vec<String> = d
        .get("tissue")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|t| {
                    let k = t.get("tissue_type").and_then(Value::as_str);
                    k.unwrap_or("tissue").to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut cats: Vec<&str> = Vec::new();
    for k in &kinds {
        if !cats.contains(&k.as_str()) {
            cats.push(k);
        }
    }
    // the code of each tissue's kind (a missing tissue: MISSING, beyond them)
    let mut of: Vec<u8> = kinds
        .iter()
        .map(|k| {
            cats.iter()
                .position(|x| x == k)
                .map_or(MISSING, |p| p as u8)
        })
        .collect();
    of.resize(256, MISSING);
    let codes: Vec<u8> = tissue_codes.iter().map(|&c| of[usize::from(c)]).collect();
    categorical(g, "tissue_type", &codes, &cats)
}

/// `is_primary_data`: every cell, or (when the record lists `false` too)
/// the first `primary_cell_count` cells.
fn primary(g: &H5Group, d: &Value, n: usize) -> R<()> {
    let flags = d.get("is_primary_data").and_then(Value::as_array);
    let has = |b: bool| flags.is_some_and(|a| a.iter().any(|v| v.as_bool() == Some(b)));
    let primary = match (has(true), has(false)) {
        (true, false) => n,
        (false, _) => 0,
        (true, true) => d
            .get("primary_cell_count")
            .and_then(Value::as_u64)
            .map_or(n - n / 3, |p| usize::try_from(p).unwrap_or(n))
            .clamp(1, n.saturating_sub(1).max(1)),
    };
    let mut bytes = vec![1u8; primary];
    bytes.resize(n, 0);
    let ds = w::write_array(
        g,
        "is_primary_data",
        DatatypeMessage::bool_type(),
        &[n],
        &bytes,
        STORE,
    )?;
    w::dataset_encoding(&ds, "array", "0.2.0")
}

/// A categorical column: int8 codes and string categories.
fn categorical(g: &H5Group, name: &str, codes: &[u8], categories: &[&str]) -> R<()> {
    let c = g.create_group(name)?;
    w::group_encoding(&c, "categorical", "0.2.0")?;
    c.set_attr_typed("ordered", DatatypeMessage::bool_type(), vec![0])?;
    let ds = w::write_array(
        &c,
        "codes",
        DatatypeMessage::i8_type(),
        &[codes.len()],
        codes,
        STORE,
    )?;
    w::dataset_encoding(&ds, "array", "0.2.0")?;
    let cats = if categories.is_empty() {
        // rust-hdf5's vlen string writer makes an unreadable empty
        // dataset; an empty one of the vlen string type reads as h5py's
        w::write_array(
            &c,
            "categories",
            DatatypeMessage::vlen_string_utf8(),
            &[0],
            &[],
            Storage::PLAIN,
        )?
    } else {
        w::write_strings(&c, "categories", categories, Storage::PLAIN)?
    };
    w::dataset_encoding(&cats, "string-array", "0.2.0")
}

/// `obs/_index`: the cell names `c0000000`, `c0000001`... as 8-byte
/// strings, byte-shuffled and compressed (a few kB for 400,000 cells;
/// anndata reads fixed-length strings as `str`).
fn index(g: &H5Group, n: usize) -> R<()> {
    let mut bytes = vec![0u8; n * 8];
    for (i, b) in bytes.chunks_exact_mut(8).enumerate() {
        // `c` and seven digits (n is at most 10,000,000 here)
        b[0] = b'c';
        let mut v = i;
        for d in b[1..].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    let ds = g
        .new_dataset::<u64>()
        .datatype(DatatypeMessage::fixed_string_utf8(8))
        .shape([n])
        .chunk(&[CHUNK.min(n).max(1)])
        .shuffle_deflate(GZIP)
        .create("_index")?;
    ds.write_raw_bytes(&bytes)?;
    w::dataset_encoding(&ds, "string-array", "0.2.0")
}

/// `var`: the genes, no columns.
fn var(g: &H5Group) -> R<()> {
    w::group_encoding(g, "dataframe", "0.2.0")?;
    w::group_attr(g, "_index", "_index")?;
    g.set_attr_array_numeric::<f64>("column-order", &[])?;
    let ds = w::write_strings(g, "_index", &GENES, Storage::PLAIN)?;
    w::dataset_encoding(&ds, "string-array", "0.2.0")
}

/// `X`: a CSR matrix of `n` cells by the genes, one count in each of the
/// first hundred cells.
fn x(g: &H5Group, n: usize) -> R<()> {
    w::group_encoding(g, "csr_matrix", "0.1.0")?;
    g.set_attr_array_numeric::<i64>("shape", &[n as i64, GENES.len() as i64])?;
    let nnz = n.min(100);
    let data: Vec<u8> = (0..nnz)
        .flat_map(|i| (1.0f32 + (i % 5) as f32).to_ne_bytes())
        .collect();
    let indices: Vec<u8> = (0..nnz)
        .flat_map(|i| ((i % GENES.len()) as i32).to_ne_bytes())
        .collect();
    let indptr: Vec<u8> = (0..=n)
        .flat_map(|i| (i.min(nnz) as i64).to_ne_bytes())
        .collect();
    w::write_array(g, "data", DatatypeMessage::f32_type(), &[nnz], &data, STORE)?;
    w::write_array(
        g,
        "indices",
        DatatypeMessage::i32_type(),
        &[nnz],
        &indices,
        STORE,
    )?;
    w::write_array(
        g,
        "indptr",
        DatatypeMessage::i64_type(),
        &[n + 1],
        &indptr,
        STORE,
    )?;
    Ok(())
}

/// `uns`: the schema version and the title.
fn uns(g: &H5Group, d: &Value) -> R<()> {
    w::group_encoding(g, "dict", "0.1.0")?;
    for key in ["schema_version", "title"] {
        let v = d.get(key).and_then(Value::as_str).unwrap_or_default();
        let ds = w::write_scalar_string(g, key, v)?;
        w::dataset_encoding(&ds, "string", "0.2.0")?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The largest record's file (400,100 cells, every facet at its most
    /// terms) is within the bound the free-space check uses, and the
    /// codes give every term cells.
    #[test]
    fn the_largest_file_is_within_its_bound() {
        let terms = |k: usize| -> Value {
            (0..k)
                .map(|i| json!({"label": format!("t{i}"), "ontology_term_id": format!("X:{i}")}))
                .collect()
        };
        let mut d = json!({"cell_count": 400_100, "title": "big", "schema_version": "7.1.0",
            "donor_id": ["a", "b", "c"], "suspension_type": ["cell"], "is_primary_data": [true, false],
            "primary_cell_count": 300_000});
        for f in TERM_FACETS {
            d[f] = terms(3);
        }
        let dir = std::env::temp_dir().join(format!("cxg-gen-h5ad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.h5ad");
        write(&p, &d, Rng::new(1)).unwrap();
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len <= size_bound(&d), "{len} > {}", size_bound(&d));
        std::fs::remove_dir_all(&dir).unwrap();
        let mut rng = Rng::new(2);
        for (n, k) in [(100, 3), (5, 5), (400_100, 3), (7, 0)] {
            let codes = deal(n, k, &mut rng);
            assert_eq!(codes.len(), n);
            for c in 0..k {
                assert!(codes.contains(&(c as u8)), "{n} {k} {c}");
            }
        }
    }
}
