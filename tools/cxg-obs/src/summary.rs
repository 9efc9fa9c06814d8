//! Summarising the files: each read on a worker, its record (JSON Lines
//! or a CSV row) written in input order; a file that cannot be read gets a
//! `failed` record and is named, and the others go on.

use crate::facet::OBS_FACETS;
use crate::h5ad::{self, Filtered, Summary};
use cxg_catalog::ids::is_uuid;
use cxg_cells::input::{check_bytes, Job, Jobs};
use cxg_cells::panics;
use cxg_cells::CellFilter;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer};
use cxg_core::{At, Ctx, Result};
use cxg_terms::report::quote;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// A file's summary, or why it has none.
type FileResult = std::result::Result<Summary, String>;

/// Summarise every job into `ctx.out` with `threads` workers, as CSV rows
/// or JSON Lines; then, unless `quiet`, one line of counts.
pub(crate) fn run(
    jobs: &Jobs,
    threads: usize,
    csv: bool,
    quiet: bool,
    filter: Option<&CellFilter>,
    ctx: &mut Ctx,
) -> Result<()> {
    panics::install_hook();
    let started = Instant::now();
    let (mut failed, mut cells) = (0usize, 0u64);
    let mut note = |job: &Job, r: &FileResult| match r {
        Ok(s) => {
            cells += s.n_cells;
            for w in &s.warnings {
                ctx.diag.warn(format_args!("'{}': {w}", job.path));
            }
        }
        Err(e) => {
            failed += 1;
            ctx.diag.fail(format_args!("'{}': {e}", job.path));
        }
    };
    let out = &mut ctx.out;
    let name = out.name();
    let work = |_: usize, j: &Job| summarize_job(j, filter);
    let record = |job: &Job, r: &FileResult| record(job, r, filter);
    if csv {
        let mut w = csv_writer(&mut *out);
        let mut header: Vec<&str> = CSV_SCALARS.to_vec();
        header.extend(OBS_FACETS.iter().map(|f| f.name));
        if filter.is_some() {
            header.extend(CSV_FILTERED);
        }
        w.write_record(&header)
            .map_err(|e| csv_write_error(&name, e))?;
        cxg_core::par::ordered_map(&jobs.jobs, threads, work, |i, r| {
            note(&jobs.jobs[i], &r);
            w.write_record(csv_row(&record(&jobs.jobs[i], &r), filter.is_some()))
                .map_err(|e| csv_write_error(&name, e))
        })?;
        csv_finish(w, &name)?;
    } else {
        cxg_core::par::ordered_map(&jobs.jobs, threads, work, |i, r| {
            note(&jobs.jobs[i], &r);
            let mut line =
                serde_json::to_vec(&record(&jobs.jobs[i], &r)).at("cannot encode a record")?;
            line.push(b'\n');
            out.write_all(&line).map_err(|e| out.error(e))
        })?;
    }
    if !quiet {
        let n = jobs.jobs.len();
        ctx.diag.warn(format_args!(
            "{n} file{}: {} summarised, {failed} failed, {} manifest row{} skipped (download failed); {cells} cells in {:.2} s",
            if n == 1 { "" } else { "s" },
            n - failed,
            jobs.skipped,
            if jobs.skipped == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// Summarise one file; a panic inside the HDF5 reader (a bug on a hostile
/// file) becomes this file's error instead of ending the run.
fn summarize_job(job: &Job, filter: Option<&CellFilter>) -> FileResult {
    if job.path.is_empty() {
        return Err("the manifest row has no path".into());
    }
    check_bytes(job)?;
    panics::catch(|| h5ad::summarize(&job.resolved, filter))
}

/// The file's dataset_version_id: the manifest's, else a file name that is
/// a UUID (CELLxGENE names files so), else `uns/dataset_version_id`, else
/// the file name.
fn version_id(job: &Job, s: Option<&Summary>) -> String {
    if let Some(v) = &job.dataset_version_id {
        return v.clone();
    }
    let stem = Path::new(&job.path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".h5ad").unwrap_or(&stem).to_string();
    if is_uuid(&stem) {
        return stem;
    }
    s.and_then(|s| s.uns.dataset_version_id.clone())
        .unwrap_or(stem)
}

/// The keys of a record after its ids, path and status, null in a failed
/// one.
const SUMMARY_KEYS: [&str; 15] = [
    "schema_version",
    "title",
    "uns_error",
    "n_cells",
    "normal_cell_count",
    "primary_cell_count",
    "donor_count",
    "missing_columns",
    "counts",
    "labels",
    "missing",
    "obsm",
    "extra_columns",
    "author_cell_type_column",
    "warnings",
];

/// The keys a cell filter adds (null in a failed record).
const FILTERED_KEYS: [&str; 4] = [
    "filtered_cell_count",
    "filtered_donor_count",
    "age_unknown_cell_count",
    "filtered_counts",
];

/// The JSON record of one file (every record has the same keys).
fn record(job: &Job, r: &FileResult, filter: Option<&CellFilter>) -> Value {
    let mut m = Map::new();
    m.insert(
        "dataset_version_id".into(),
        json!(version_id(job, r.as_ref().ok())),
    );
    m.insert("dataset_id".into(), json!(job.dataset_id));
    m.insert("path".into(), json!(job.path));
    match r {
        Ok(s) => {
            m.insert("status".into(), json!("ok"));
            m.insert("error".into(), Value::Null);
            summary_fields(s, &mut m);
        }
        Err(e) => {
            m.insert("status".into(), json!("failed"));
            m.insert("error".into(), json!(e));
            for k in SUMMARY_KEYS {
                m.insert(k.into(), Value::Null);
            }
            if filter.is_some() {
                for k in FILTERED_KEYS {
                    m.insert(k.into(), Value::Null);
                }
            }
        }
    }
    if let Some(f) = filter {
        m.insert(
            "filter".into(),
            json!({"options": f.given, "resolved": f.resolved}),
        );
    }
    Value::Object(m)
}

/// [`FILTERED_KEYS`] of a file that was read.
fn filtered_fields(f: &Filtered, m: &mut Map<String, Value>) {
    m.insert("filtered_cell_count".into(), json!(f.cells));
    m.insert("filtered_donor_count".into(), json!(f.donors));
    m.insert("age_unknown_cell_count".into(), json!(f.age_unknown));
    let counts: Map<String, Value> = f
        .facets
        .iter()
        .map(|(name, facet)| {
            let c = facet.as_ref().map(|f| {
                f.items
                    .iter()
                    .map(|(id, n, _)| (id.clone(), json!(n)))
                    .collect::<Map<String, Value>>()
            });
            ((*name).to_string(), json!(c))
        })
        .collect();
    m.insert("filtered_counts".into(), Value::Object(counts));
}

/// [`SUMMARY_KEYS`] of a file that was read.
fn summary_fields(s: &Summary, m: &mut Map<String, Value>) {
    m.insert("schema_version".into(), json!(s.uns.schema_version));
    m.insert("title".into(), json!(s.uns.title));
    m.insert("uns_error".into(), json!(s.uns.error));
    m.insert("n_cells".into(), json!(s.n_cells));
    m.insert("normal_cell_count".into(), json!(s.normal_cell_count));
    m.insert("primary_cell_count".into(), json!(s.primary_cell_count));
    m.insert("donor_count".into(), json!(s.donor_count));
    m.insert("missing_columns".into(), json!(s.missing_columns));
    let (mut counts, mut labels, mut missing) = (Map::new(), Map::new(), Map::new());
    for (name, f) in &s.facets {
        let Some(f) = f else {
            for part in [&mut counts, &mut labels, &mut missing] {
                part.insert((*name).into(), Value::Null);
            }
            continue;
        };
        let c: Map<String, Value> = f
            .items
            .iter()
            .map(|(id, n, _)| (id.clone(), json!(n)))
            .collect();
        let l: Map<String, Value> = f
            .items
            .iter()
            .map(|(id, _, l)| (id.clone(), json!(l)))
            .collect();
        counts.insert((*name).into(), Value::Object(c));
        labels.insert((*name).into(), Value::Object(l));
        missing.insert((*name).into(), json!(f.missing));
    }
    m.insert("counts".into(), Value::Object(counts));
    m.insert("labels".into(), Value::Object(labels));
    m.insert("missing".into(), Value::Object(missing));
    let a = &s.authors;
    m.insert("obsm".into(), json!(a.obsm));
    let extra: Map<String, Value> = a
        .extra_columns
        .iter()
        .map(|(c, n)| (c.clone(), json!(n)))
        .collect();
    m.insert("extra_columns".into(), Value::Object(extra));
    m.insert(
        "author_cell_type_column".into(),
        json!(a.author_cell_type_column),
    );
    m.insert("warnings".into(), json!(s.warnings));
    if let Some(f) = &s.filtered {
        filtered_fields(f, m);
    }
}

const CSV_SCALARS: [&str; 15] = [
    "dataset_version_id",
    "dataset_id",
    "path",
    "status",
    "error",
    "schema_version",
    "n_cells",
    "normal_cell_count",
    "primary_cell_count",
    "donor_count",
    "title",
    "uns_error",
    "missing_columns",
    "obsm",
    "author_cell_type_column",
];

/// The columns a cell filter adds to the CSV: the options given (one
/// string), and its counts.
const CSV_FILTERED: [&str; 4] = [
    "filter",
    "filtered_cell_count",
    "filtered_donor_count",
    "age_unknown_cell_count",
];

/// The CSV row of one record: scalars, then each facet as `id:count |
/// ...`, then (with a filter) its columns.
fn csv_row(rec: &Value, filtered: bool) -> Vec<String> {
    let mut row: Vec<String> = CSV_SCALARS.iter().map(|k| scalar(&rec[*k])).collect();
    for f in OBS_FACETS.iter() {
        row.push(match rec["counts"][f.name].as_object() {
            Some(m) => m
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" | "),
            None => String::new(),
        });
    }
    if filtered {
        // as the shell takes them again: `--organism 'Homo sapiens'`
        let options = rec["filter"]["options"].as_array().map(|a| {
            let words: Vec<String> = a.iter().filter_map(Value::as_str).map(quote).collect();
            words.join(" ")
        });
        row.push(options.unwrap_or_default());
        row.extend(CSV_FILTERED[1..].iter().map(|k| scalar(&rec[*k])));
    }
    row
}

/// A scalar of a record as a CSV cell (a list joined by ` | `).
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" | "),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(p: &str) -> Job {
        Job {
            path: p.into(),
            resolved: p.into(),
            dataset_id: None,
            dataset_version_id: None,
            bytes: None,
            sha256: None,
        }
    }

    #[test]
    fn version_id_sources() {
        let uuid = "0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b";
        assert_eq!(version_id(&job(&format!("d/{uuid}.h5ad")), None), uuid);
        assert_eq!(version_id(&job("d/other.h5ad"), None), "other");
        assert_eq!(
            summarize_job(&job(""), None),
            Err("the manifest row has no path".into())
        );
    }
}
