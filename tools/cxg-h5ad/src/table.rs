//! The CSV: read whole (rows keep their order and every cell), written
//! back with the appended columns, and the failures file.

use crate::lookup::{Failure, Lookup};
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, Input, Output};
use cxg_core::{At, Ctx, Error, Result};

const APPENDED: [&str; 2] = ["cell_count", "h5ad_url"];
const EXTRA: [&str; 4] = ["dataset_title", "explorer_url", "h5ad_filesize", "rds_url"];

/// The input CSV: its header, the rows, and where the id columns are.
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<csv::ByteRecord>,
    /// The collection_id column, when the CSV has one.
    pub(crate) ci: Option<usize>,
    pub(crate) di: usize,
}

impl Table {
    pub(crate) fn cell(&self, r: &csv::ByteRecord, i: usize) -> String {
        String::from_utf8_lossy(r.get(i).unwrap_or_default()).into_owned()
    }
}

/// Step 1: read the whole CSV (rows keep their order and every cell).
pub(crate) fn read_table(input: Input, delimiter: u8) -> Result<Table> {
    let name = input.name;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(input.reader);
    let headers = rdr
        .byte_headers()
        .at(format_args!("{name}: cannot read the CSV header"))?
        .clone();
    let header: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let Some(di) = col("dataset_id") else {
        let mut msg = format!(
            "{name}: expected a dataset_id column (and collection_id for rows the index lacks); found: {}",
            if header.is_empty() {
                "(none)".to_string()
            } else {
                header.join(", ")
            }
        );
        if delimiter != b'\t' && header.len() == 1 && header[0].contains('\t') {
            msg.push_str("\n  the header holds tabs: for a tab-separated file use --delimiter tab");
        }
        return Err(Error::input(msg));
    };
    let mut rows = Vec::new();
    for (k, rec) in rdr.byte_records().enumerate() {
        rows.push(rec.at(format_args!("{name}: CSV record {}", k + 1))?);
    }
    Ok(Table {
        ci: col("collection_id"),
        di,
        header,
        rows,
    })
}

/// A row that could not be completed: dataset_id, collection_id, why.
pub(crate) type Failed = (String, String, Failure);

/// Step 4: write every row in input order, the appended columns filled
/// (or empty for a failed row, which is named on stderr). Returns the
/// failures as (dataset_id, collection_id, failure).
pub(crate) fn write_rows(
    t: &Table,
    results: &[Lookup],
    extra: bool,
    ctx: &mut Ctx,
) -> Result<Vec<Failed>> {
    // Appended columns replace same-named input columns, so a rerun on
    // this tool's own output gives the same file.
    let mut names: Vec<&str> = APPENDED.to_vec();
    if extra {
        names.extend(EXTRA);
    }
    let mut out_header = t.header.clone();
    let slots: Vec<usize> = names
        .iter()
        .map(|n| match t.header.iter().position(|h| h == n) {
            Some(i) => i,
            None => {
                out_header.push((*n).to_string());
                out_header.len() - 1
            }
        })
        .collect();
    let oname = ctx.out.name();
    let mut w = csv_writer(&mut ctx.out);
    let werr = |e| csv_write_error(&oname, e);
    w.write_record(&out_header).map_err(werr)?;
    let mut failures = Vec::new();
    for (r, l) in t.rows.iter().zip(results) {
        let mut cells: Vec<Vec<u8>> = r.iter().map(<[u8]>::to_vec).collect();
        cells.resize(out_header.len(), Vec::new());
        let values: Vec<String> = match l {
            Lookup::Found(i) => {
                let all = [
                    &i.cell_count,
                    &i.h5ad_url,
                    &i.title,
                    &i.explorer_url,
                    &i.h5ad_filesize,
                    &i.rds_url,
                ];
                all[..names.len()].iter().map(|s| s.to_string()).collect()
            }
            Lookup::Failed(f) => {
                let did = t.cell(r, t.di);
                let cid = t.ci.map(|ci| t.cell(r, ci)).unwrap_or_default();
                let line = format!(
                    "dataset {did} (collection {}): {} ({})",
                    if cid.is_empty() { "?" } else { &cid },
                    f.reason,
                    f.status
                );
                if f.status == crate::lookup::REMOVED {
                    ctx.diag.warn(line);
                } else {
                    ctx.diag.fail(line);
                }
                failures.push((did, cid, f.clone()));
                vec![String::new(); names.len()]
            }
        };
        for (slot, v) in slots.iter().zip(values) {
            cells[*slot] = v.into_bytes();
        }
        w.write_record(&cells).map_err(werr)?;
    }
    csv_finish(w, &oname)?;
    Ok(failures)
}

/// Step 5: the failures file (just the header when every row was done).
pub(crate) fn write_failures(out: Output, failures: &[Failed]) -> Result<()> {
    let fname = out.name();
    let mut fw = csv_writer(out);
    let ferr = |e| csv_write_error(&fname, e);
    fw.write_record(["dataset_id", "collection_id", "status", "reason"])
        .map_err(ferr)?;
    for (did, cid, f) in failures {
        fw.write_record([did, cid, &f.status, &f.reason])
            .map_err(ferr)?;
    }
    csv_finish(fw, &fname)?.finish()
}
