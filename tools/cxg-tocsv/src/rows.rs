//! The rows kept: one per dataset_id (the most recent version), what was
//! dropped and which columns came out empty, and the CSV written.

use crate::row::{Compiled, Row};
use cxg_core::ctx::Diag;
use cxg_core::io::{csv_record, Output};
use cxg_core::Result;
use std::collections::HashMap;
use std::io::Write;

/// Seed columns that are empty by design (the old harvester's placeholders).
const SEED_EMPTY: [&str; 2] = ["author_cell_type", "embedding"];

/// Up to this many dropped versions are named.
const NAMED: usize = 10;

#[derive(Default)]
pub(crate) struct Rows {
    rows: Vec<Row>,
    by_id: HashMap<String, usize>,
    dropped: usize,
    dropped_named: Vec<String>,
}

impl Rows {
    /// Keep `row`, or the more recent of it and the row of its dataset_id.
    pub(crate) fn add(&mut self, row: Row) {
        let Some(&i) = self.by_id.get(&row.dataset_id) else {
            self.by_id.insert(row.dataset_id.clone(), self.rows.len());
            self.rows.push(row);
            return;
        };
        self.dropped += 1;
        let gone = if row.recency > self.rows[i].recency {
            std::mem::replace(&mut self.rows[i], row)
        } else {
            row
        };
        if self.dropped_named.len() < NAMED {
            let version = match gone.recency.2.as_str() {
                "" => "?",
                v => v,
            };
            self.dropped_named
                .push(format!("{} version {version}", gone.dataset_id));
        }
    }

    /// Warn of the versions dropped and of columns empty in every row.
    pub(crate) fn report(&self, programs: &[Compiled], diag: &Diag) {
        if self.dropped > 0 {
            diag.warn(format_args!(
                "{} duplicate dataset row{} dropped (kept the most recent version of each dataset_id): {}{}",
                self.dropped,
                if self.dropped == 1 { "" } else { "s" },
                self.dropped_named.join(", "),
                if self.dropped > self.dropped_named.len() {
                    format!(" and {} more", self.dropped - self.dropped_named.len())
                } else {
                    String::new()
                }
            ));
        }
        let empty = self.empty_columns(programs);
        if empty.is_empty() {
            return;
        }
        let previews = empty
            .iter()
            .any(|n| matches!(*n, "cell_count" | "dataset_title" | "explorer_url"));
        diag.warn(format_args!(
            "{} column{} empty in every row (the input has no value for {}): {}{}",
            empty.len(),
            if empty.len() == 1 { " is" } else { "s are" },
            if empty.len() == 1 { "it" } else { "them" },
            empty.join(", "),
            if previews {
                "; dataset previews from the collections list lack them: `cxg-datasets --index datasets_index.json` adds the full records"
            } else {
                ""
            }
        ));
    }

    /// The columns empty in every row (none when there are no rows), but
    /// for the seed's placeholders.
    fn empty_columns<'a>(&self, programs: &'a [Compiled]) -> Vec<&'a str> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        programs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.rows.iter().all(|r| !r.filled[*i]))
            .map(|(_, c)| c.col.name.as_str())
            .filter(|n| !SEED_EMPTY.contains(n))
            .collect()
    }

    /// The CSV: the header, then the rows in the order their dataset_id
    /// was first seen.
    pub(crate) fn write(&self, programs: &[Compiled], out: &mut Output) -> Result<()> {
        self.write_csv(programs, &mut *out)
            .map_err(|e| out.error(e))
    }

    fn write_csv(&self, programs: &[Compiled], out: impl Write) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(out);
        let header: Vec<String> = programs.iter().map(|c| c.col.name.clone()).collect();
        w.write_all(&csv_record(&header))?;
        for row in &self.rows {
            w.write_all(&row.line)?;
        }
        w.flush()
    }
}
