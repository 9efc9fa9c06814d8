//! Writing the change records (JSON Lines or CSV) and the summary.

use crate::compare::{delta, Record};
use crate::fp::{Fp, CELL_COUNT};
use crate::side::Side;
use crate::{Change, Format};
use cxg_core::ctx::Diag;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, Output};
use cxg_core::Result;
use cxg_json::value::write_compact;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// Write `recs` to `out` in `format`.
pub(crate) fn records(recs: &[&Record], format: Format, out: &mut Output) -> Result<()> {
    let name = out.name();
    match format {
        Format::Jsonl => {
            for r in recs {
                write_compact(&mut *out, &r.json())
                    .and_then(|_| out.write_all(b"\n"))
                    .map_err(|e| out.error(e))?;
            }
        }
        Format::Csv => {
            let mut w = csv_writer(&mut *out);
            w.write_record(CSV_HEADER)
                .map_err(|e| csv_write_error(&name, e))?;
            for r in recs {
                w.write_record(r.csv())
                    .map_err(|e| csv_write_error(&name, e))?;
            }
            csv_finish(w, &name)?;
        }
    }
    Ok(())
}

const CSV_HEADER: [&str; 14] = [
    "change",
    "kind",
    "dataset_id",
    "collection_id",
    "collection_change",
    "old_dataset_version_id",
    "new_dataset_version_id",
    "old_revised_at",
    "new_revised_at",
    "old_cell_count",
    "new_cell_count",
    "cell_count_delta",
    "fields",
    "removed_check",
];

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Revised => "revised",
            Change::Metadata => "metadata",
            Change::Unchanged => "unchanged",
        }
    }
}

/// The version and revision time of one side (null when absent).
fn version_of(f: Option<&Fp>) -> Option<&str> {
    f.and_then(|f| f.version.as_deref())
}

fn revised_of(f: Option<&Fp>) -> Option<&str> {
    f.and_then(|f| f.revised_at.as_deref())
}

/// The cell count of one side as CSV shows it (empty when absent).
fn cell_count(f: Option<&Fp>) -> String {
    match f.map(|f| f.scalar(CELL_COUNT)) {
        None | Some("null") => String::new(),
        Some(c) => c.to_string(),
    }
}

impl Record<'_> {
    fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("change".into(), self.change.name().into());
        if let Some(k) = self.kind {
            m.insert("kind".into(), k.into());
        }
        m.insert("dataset_id".into(), self.id.into());
        m.insert("collection_id".into(), self.collection_id.into());
        if let Some(c) = self.collection_change {
            m.insert("collection_change".into(), c.into());
        }
        if let Some(c) = self.removed_check {
            m.insert("removed_check".into(), c.into());
        }
        let opt = |v: Option<&str>| v.map_or(Value::Null, Value::from);
        m.insert("old_dataset_version_id".into(), opt(version_of(self.old)));
        m.insert("new_dataset_version_id".into(), opt(version_of(self.new)));
        m.insert("old_revised_at".into(), opt(revised_of(self.old)));
        m.insert("new_revised_at".into(), opt(revised_of(self.new)));
        if matches!(
            self.change,
            Change::Revised | Change::Metadata | Change::Unchanged
        ) {
            m.insert("fields".into(), Value::Object(self.fields.clone()));
        }
        Value::Object(m)
    }

    fn csv(&self) -> [String; 14] {
        let s = |v: Option<&str>| v.unwrap_or("").to_string();
        let (oc, nc) = (cell_count(self.old), cell_count(self.new));
        let d = delta(&oc, &nc).map_or(String::new(), |d| d.to_string());
        [
            self.change.name().into(),
            s(self.kind),
            self.id.to_string(),
            self.collection_id.to_string(),
            s(self.collection_change),
            s(version_of(self.old)),
            s(version_of(self.new)),
            s(revised_of(self.old)),
            s(revised_of(self.new)),
            oc,
            nc,
            d,
            self.fields.keys().cloned().collect::<Vec<_>>().join(";"),
            s(self.removed_check),
        ]
    }
}

/// Collections named on stderr at most; the output records name them all.
const MAX_COLLECTION_LINES: usize = 20;

/// The counts line and the collections that came or went.
pub(crate) fn summary(old: &Side, new: &Side, recs: &[Record], unchanged: usize, diag: &Diag) {
    let n = |c: Change| recs.iter().filter(|r| r.change == c).count();
    let k = |k: &str| recs.iter().filter(|r| r.kind == Some(k)).count();
    diag.warn(format_args!(
        "{} -> {}: {} added, {} removed, {} revised ({} schema_migration, {} content), \
         {} metadata, {} unchanged",
        old.name,
        new.name,
        n(Change::Added),
        n(Change::Removed),
        n(Change::Revised),
        k("schema_migration"),
        k("content"),
        n(Change::Metadata),
        unchanged,
    ));
    let mut colls: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in recs {
        if let Some(c) = r.collection_change {
            *colls.entry((c, r.collection_id)).or_default() += 1;
        }
    }
    let total = colls.len();
    for ((c, cid), count) in colls.into_iter().take(MAX_COLLECTION_LINES) {
        diag.warn(format_args!(
            "collection {cid} {c} with its {count} dataset{}",
            if count == 1 { "" } else { "s" }
        ));
    }
    if total > MAX_COLLECTION_LINES {
        diag.warn(format_args!(
            "and {} more collections added or removed (collection_change in the output names each)",
            total - MAX_COLLECTION_LINES
        ));
    }
}
