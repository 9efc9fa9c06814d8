//! The manifest (one row per input row, in input order) and `--failures`
//! (the failed rows, the same columns); each failed row is named through
//! the run's diagnostics and counted.

use crate::input::Row;
use crate::job::{Done, Status};
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, Output};
use cxg_core::{Ctx, Result};
use std::path::Path;

/// Manifest (and failures file) columns.
const COLUMNS: [&str; 10] = [
    "dataset_id",
    "dataset_version_id",
    "url",
    "path",
    "bytes",
    "sha256",
    "status",
    "verified_by",
    "etag",
    "reason",
];

/// The status of a row without an H5AD url (counted apart, not failed).
pub const NO_ASSET: &str = "no_asset";

/// What the manifest is written from.
pub struct Report<'a> {
    pub dir: &'a Path,
    pub rows: &'a [Row],
    pub slot: &'a [std::result::Result<usize, String>],
    pub results: &'a [Done],
    /// A dry run: rows to fetch say `would-fetch`, not `failed`.
    pub dry: bool,
}

impl Report<'_> {
    /// The manifest's cells for row `k`.
    fn cells(&self, k: usize) -> Vec<String> {
        let (r, s) = (&self.rows[k], &self.slot[k]);
        let (path, d) = match s {
            Ok(i) => {
                let j = r.job.as_ref().map(|j| j.name.as_str()).unwrap_or_default();
                let path = self.dir.join(j).to_string_lossy().into_owned();
                (path, self.results[*i].clone())
            }
            Err(e) => (String::new(), Done::failed(e.clone(), None, false)),
        };
        let status = if self.dry && d.status == Status::Failed && s.is_ok() {
            "would-fetch"
        } else if s.is_err() && r.url.is_empty() {
            // a dataset without an H5AD is news, not a failure
            NO_ASSET
        } else {
            d.status.as_str()
        };
        vec![
            r.dataset_id.clone(),
            r.dataset_version_id.clone(),
            r.url.clone(),
            path,
            d.bytes.map(|b| b.to_string()).unwrap_or_default(),
            d.sha256,
            status.to_string(),
            d.verified_by,
            d.etag.trim_matches('"').to_string(),
            d.reason,
        ]
    }

    /// Who row `k` is, in a message.
    fn who(&self, k: usize) -> String {
        match self.rows[k].dataset_version_id.as_str() {
            "" => format!("row {}", k + 1),
            v => format!("dataset version {v} (row {})", k + 1),
        }
    }

    /// Write the manifest to the context's output and the failed rows to
    /// `failures`; each failed row is named and counted (`ctx.diag.fail`).
    pub fn write(&self, ctx: &mut Ctx, failures: Option<Output>) -> Result<()> {
        let oname = ctx.out.name();
        let mut w = csv_writer(&mut ctx.out);
        record(&mut w, &oname, COLUMNS)?;
        let mut failed: Vec<Vec<String>> = Vec::new();
        for k in 0..self.rows.len() {
            let cells = self.cells(k);
            record(&mut w, &oname, &cells)?;
            if cells[6] == NO_ASSET {
                ctx.diag
                    .warn(format_args!("{}: {} (no_asset)", self.who(k), cells[9]));
            } else if cells[6] == "failed" {
                ctx.diag.fail(format_args!("{}: {}", self.who(k), cells[9]));
                failed.push(cells);
            }
        }
        csv_finish(w, &oname)?;
        match failures {
            Some(out) => write_failures(out, &failed),
            None => Ok(()),
        }
    }
}

/// `--failures`: the failed rows, with the manifest's columns.
fn write_failures(mut out: Output, rows: &[Vec<String>]) -> Result<()> {
    let name = out.name();
    let mut w = csv_writer(&mut out);
    record(&mut w, &name, COLUMNS)?;
    for c in rows {
        record(&mut w, &name, c)?;
    }
    csv_finish(w, &name)?;
    out.finish()
}

/// Write one CSV record to the output `name`.
fn record<W, I>(w: &mut csv::Writer<W>, name: &str, cells: I) -> Result<()>
where
    W: std::io::Write,
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    w.write_record(cells).map_err(|e| csv_write_error(name, e))
}
