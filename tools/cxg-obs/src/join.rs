//! `--join CSV`: the scalar columns of this tool's records appended to the
//! rows of a harvester CSV, joined on dataset_version_id (on dataset_id
//! for rows without one).

use cxg_core::ctx::Diag;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, Input};
use cxg_core::{At, Ctx, Error, Result};
use cxg_json::stream::JsonStream;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// The columns `--join` appends (replacing same-named ones, so a rerun on
/// its own output gives the same file); the last [`FILTERED`] only when
/// the records were written with a cell filter.
const JOINED: [&str; 6] = [
    "normal_cell_count",
    "primary_cell_count",
    "donor_count",
    "filtered_cell_count",
    "filtered_donor_count",
    "age_unknown_cell_count",
];
/// How many of [`JOINED`] a cell filter adds.
const FILTERED: usize = 3;

/// Rows whose record is of another version named at most (then counted).
const MAX_MISMATCHED_LINES: usize = 10;

/// A row of the CSV, as messages name it: `'file.csv': row 3`.
#[derive(Clone, Copy)]
struct Row<'a>(&'a str, usize);

impl std::fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}: row {}", self.0, self.1)
    }
}

/// What the join keeps of one record.
struct Obs {
    version: String,
    /// The file's error; none when it was summarised.
    failed: Option<String>,
    /// [`JOINED`] as JSON text.
    values: [String; 6],
}

/// The records, by dataset_version_id and by dataset_id (the last of
/// each).
#[derive(Default)]
struct Index {
    records: Vec<Obs>,
    by_version: HashMap<String, usize>,
    by_dataset: HashMap<String, usize>,
    /// Some record was written with a cell filter.
    filtered: bool,
}

/// How the rows fared.
#[derive(Default)]
struct Tally {
    rows: usize,
    matched: usize,
    unmatched: usize,
    failed: usize,
    mismatched: usize,
}

/// The harvester CSV's columns: the header written, the id columns, and
/// where each of [`JOINED`] goes.
struct Shape {
    header: Vec<String>,
    version: Option<usize>,
    dataset: Option<usize>,
    slots: Vec<usize>,
}

/// Join the records read from `file` (stdin when none) into the CSV at
/// `csv_path`, written to `ctx.out`. A row whose file failed is a failed
/// record; rows without a record are named and left empty.
pub(crate) fn run(file: Option<&Path>, csv_path: &Path, quiet: bool, ctx: &mut Ctx) -> Result<()> {
    let index = read_index(ctx.input(file)?, &ctx.diag)?;
    let cin = Input::open(Some(csv_path))?;
    let cname = cin.name;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(cin.reader);
    let header: Vec<String> = rdr
        .byte_headers()
        .at(format_args!("{cname}: cannot read the CSV header"))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let joined = if index.filtered {
        &JOINED[..]
    } else {
        &JOINED[..JOINED.len() - FILTERED]
    };
    let shape = shape(header, &cname, joined)?;
    let oname = ctx.out.name();
    let mut w = csv_writer(&mut ctx.out);
    let werr = |e| csv_write_error(&oname, e);
    w.write_record(&shape.header).map_err(werr)?;
    let mut tally = Tally::default();
    for (k, rec) in rdr.byte_records().enumerate() {
        let rec = rec.at(format_args!("{cname}: CSV record {}", k + 1))?;
        tally.rows += 1;
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (dv, did) = (cell(shape.version), cell(shape.dataset));
        let place = Row(&cname, k + 1);
        let values = index.values(&dv, &did, &mut tally, &ctx.diag, place);
        let mut cells: Vec<Vec<u8>> = rec.iter().map(<[u8]>::to_vec).collect();
        cells.resize(shape.header.len(), Vec::new());
        for (slot, v) in shape.slots.iter().zip(values) {
            cells[*slot] = v.into_bytes();
        }
        w.write_record(&cells).map_err(werr)?;
    }
    csv_finish(w, &oname)?;
    report(&tally, &cname, quiet, &ctx.diag);
    Ok(())
}

/// Read this tool's JSON Lines.
fn read_index(input: Input, diag: &Diag) -> Result<Index> {
    let jname = input.name;
    let mut stream = JsonStream::new(&jname, input.reader);
    let mut index = Index::default();
    while let Some((at, v)) = stream.next_value()? {
        let Some(dv) = v.get("dataset_version_id").and_then(Value::as_str) else {
            return Err(Error::input(format!(
                "{}: has no string dataset_version_id (not cxg-obs output?)",
                stream.place(at)
            )));
        };
        let i = index.records.len();
        if index.by_version.insert(dv.to_string(), i).is_some() {
            diag.warn(format_args!(
                "{jname}: line {}: dataset_version_id {dv} repeats; the last record is used",
                at.line
            ));
        }
        index.filtered |= v.get("filter").is_some_and(|f| !f.is_null());
        if let Some(d) = v.get("dataset_id").and_then(Value::as_str) {
            index.by_dataset.insert(d.to_string(), i);
        }
        let failed = (v.get("status").and_then(Value::as_str) != Some("ok")).then(|| {
            let error = v.get("error").and_then(Value::as_str);
            error.unwrap_or("no reason given").to_string()
        });
        index.records.push(Obs {
            version: dv.to_string(),
            failed,
            // a quantity whose column the file lacks is null: an empty cell
            values: JOINED.map(|k| match v.get(k) {
                None | Some(Value::Null) => String::new(),
                Some(x) => x.to_string(),
            }),
        });
    }
    Ok(index)
}

/// The header written and where the joined columns go: at the end, or in
/// place of same-named columns.
fn shape(header: Vec<String>, cname: &str, joined: &[&str]) -> Result<Shape> {
    let col = |n: &str| header.iter().position(|h| h == n);
    let (version, dataset) = (col("dataset_version_id"), col("dataset_id"));
    if version.is_none() && dataset.is_none() {
        return Err(Error::input(format!(
            "{cname}: expected a dataset_version_id or dataset_id column; found: {}",
            header.join(", ")
        )));
    }
    let mut out = header.clone();
    let slots = joined
        .iter()
        .map(|n| {
            col(n).unwrap_or_else(|| {
                out.push((*n).to_string());
                out.len() - 1
            })
        })
        .collect();
    Ok(Shape {
        header: out,
        version,
        dataset,
        slots,
    })
}

impl Index {
    /// The joined values of the row with version `dv` and dataset `did`
    /// (empty when it has no usable record, named at `place`).
    fn values(
        &self,
        dv: &str,
        did: &str,
        tally: &mut Tally,
        diag: &Diag,
        place: Row,
    ) -> [String; 6] {
        // by version; by dataset only for a row that names no version (a
        // record of another version of the dataset must not be attached)
        let hit = if dv.is_empty() {
            self.by_dataset.get(did)
        } else {
            self.by_version.get(dv)
        };
        let id = if dv.is_empty() { did } else { dv };
        let other = match hit {
            Some(&i) => return self.record_values(&self.records[i], id, tally, diag, place),
            None if dv.is_empty() => None,
            None => self.by_dataset.get(did),
        };
        if let Some(&i) = other {
            tally.mismatched += 1;
            if tally.mismatched <= MAX_MISMATCHED_LINES {
                diag.warn(format_args!(
                    "{place} (dataset {did}): no cxg-obs record of version {dv}, only of version {}; cells left empty",
                    self.records[i].version
                ));
            }
        } else {
            tally.unmatched += 1;
            diag.warn(format_args!(
                "{place} (dataset {id}): no cxg-obs record; cells left empty"
            ));
        }
        Default::default()
    }

    /// The values of a record found for a row; a failed file's are empty.
    fn record_values(
        &self,
        r: &Obs,
        id: &str,
        tally: &mut Tally,
        diag: &Diag,
        place: Row,
    ) -> [String; 6] {
        match &r.failed {
            None => {
                tally.matched += 1;
                r.values.clone()
            }
            Some(error) => {
                tally.failed += 1;
                diag.fail(format_args!(
                    "{place} (dataset {id}): its file failed ({error}); cells left empty"
                ));
                Default::default()
            }
        }
    }
}

/// How many rows had a record of another version only (beyond those
/// named), and unless `quiet` the counts.
fn report(t: &Tally, cname: &str, quiet: bool, diag: &Diag) {
    if t.mismatched > MAX_MISMATCHED_LINES {
        diag.warn(format_args!(
            "{cname}: {} rows in all have a record of another version only (the first {MAX_MISMATCHED_LINES} named above)",
            t.mismatched
        ));
    }
    if !quiet {
        diag.warn(format_args!(
            "{} row{}: {} joined, {} without a record, {} whose file failed, {} with a record of another version only",
            t.rows,
            if t.rows == 1 { "" } else { "s" },
            t.matched,
            t.unmatched,
            t.failed,
            t.mismatched
        ));
    }
}
