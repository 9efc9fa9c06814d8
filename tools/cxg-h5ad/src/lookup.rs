//! Each row's lookup: from the index, else one
//! `GET /collections/{cid}/datasets/{did}`, with a progress line.

use crate::index::{info, Info};
use crate::table::Table;
use cxg_catalog::ids::is_uuid;
use cxg_core::io::{create_subdir, write_file_atomic};
use cxg_core::{Error, Result};
use cxg_http::Client;
use serde_json::Value;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Why a row could not be completed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub status: String,
    pub reason: String,
}

pub(crate) enum Lookup {
    Found(Info),
    Failed(Failure),
}

/// A progress line on stderr, only when stderr is a terminal.
struct Progress {
    on: bool,
    total: usize,
    done: AtomicUsize,
    start: Instant,
    last: std::sync::Mutex<Instant>,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            on: std::io::stderr().is_terminal() && total > 0,
            total,
            done: AtomicUsize::new(0),
            start: Instant::now(),
            last: std::sync::Mutex::new(Instant::now()),
        }
    }
    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.on {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed().as_millis() < 100 && done < self.total {
            return;
        }
        *last = Instant::now();
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta = (self.total - done) as f64 / rate.max(1e-9);
        eprint!(
            "\r{}: {done}/{} rows, {rate:.0}/s, ETA {eta:.0} s   ",
            cxg_core::cli::tool(),
            self.total
        );
        if done >= self.total {
            eprintln!();
        }
    }
}

/// The status of a row whose dataset the service no longer has (404/410):
/// kept in the failures file and warned about, but not a failure.
pub(crate) const REMOVED: &str = "removed";

fn fail(status: impl Into<String>, reason: impl Into<String>) -> Lookup {
    Lookup::Failed(Failure {
        status: status.into(),
        reason: reason.into(),
    })
}

/// Keep one accepted answer as `dir/collections/<cid>/datasets/<did>.json`.
/// Both ids are UUIDs (checked before the request), so no name can leave
/// `dir`; a symlink planted at any folder below `dir` is refused.
fn keep_response(dir: &Path, cid: &str, did: &str, body: &[u8]) -> Result<()> {
    if !is_uuid(cid) || !is_uuid(did) {
        return Err(Error::input(format!(
            "collection {cid}, dataset {did}: not UUIDs; no file kept"
        )));
    }
    let mut d = create_subdir(dir, "collections")?;
    for name in [cid, "datasets"] {
        d = create_subdir(&d, name)?;
    }
    write_file_atomic(&d.join(format!("{did}.json")), body)
}

fn per_dataset(client: &Client, cid: &str, did: &str, keep: Option<&Path>) -> Result<Lookup> {
    if !is_uuid(cid) || !is_uuid(did) {
        let bad = if is_uuid(cid) {
            format!("dataset_id '{did}'")
        } else {
            format!("collection_id '{cid}'")
        };
        return Ok(fail(
            "bad-id",
            format!("{bad} is not a UUID; no request made"),
        ));
    }
    let path = format!("/collections/{cid}/datasets/{did}");
    match client.get(&path) {
        Ok(body) => {
            let bad = match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.get("dataset_id").and_then(Value::as_str) == Some(did) => {
                    client.good_answer();
                    if let Some(dir) = keep {
                        keep_response(dir, cid, did, &body)?;
                    }
                    return Ok(Lookup::Found(info(&v)));
                }
                Ok(v) if v.is_object() => match v.get("dataset_id") {
                    Some(other) => format!("the answer is dataset {other}, not the one asked for"),
                    None => "the answer has no dataset_id: it is not a dataset".to_string(),
                },
                Ok(_) => "the response is not a JSON object".to_string(),
                Err(e) => format!("invalid JSON in the response: {e}"),
            };
            let url = format!("{}{path}", client.base());
            match client.bad_answer(&url, &bad) {
                Some(down) => Err(down.into_error()),
                None => Ok(fail("bad-response", bad)),
            }
        }
        Err(e) if e.service => Err(e.into_error()),
        Err(e) => {
            // 404/410: the dataset is gone from the service; news, not a failure
            let (status, reason) = match e.status {
                Some(410) => (
                    REMOVED.into(),
                    format!("the dataset was removed (410 Gone): {}", e.msg),
                ),
                Some(404) => (
                    REMOVED.into(),
                    format!("not found (404), removed: {}", e.msg),
                ),
                Some(s) => (s.to_string(), e.to_string()),
                None => ("network".to_string(), e.to_string()),
            };
            Ok(fail(status, reason))
        }
    }
}

/// Step 3: every row's lookup, in row order: index hits at once, misses
/// through the per-dataset endpoint, all of them concurrently (a miss does
/// not hold back the rows after it).
pub(crate) fn look_up(
    t: &Table,
    index: &HashMap<String, Info>,
    client: &Client,
    jobs: usize,
    keep: Option<&Path>,
) -> Result<(Vec<Lookup>, usize)> {
    let progress = Progress::new(t.rows.len());
    let mut results: Vec<Option<Lookup>> = t
        .rows
        .iter()
        .map(|r| {
            index
                .get(&t.cell(r, t.di))
                .map(|i| Lookup::Found(i.clone()))
        })
        .collect();
    let from_index = results.iter().filter(|l| l.is_some()).count();
    for _ in 0..from_index {
        progress.tick();
    }
    let misses: Vec<usize> = (0..t.rows.len())
        .filter(|&k| results[k].is_none())
        .collect();
    cxg_core::par::ordered_map(
        &misses,
        jobs,
        |_, &k| {
            let r = &t.rows[k];
            let did = t.cell(r, t.di);
            let res = match t.ci {
                Some(ci) => per_dataset(client, &t.cell(r, ci), &did, keep),
                None => Ok(fail(
                    "not-in-index",
                    "the index lacks this dataset and the CSV has no collection_id column to ask the API with",
                )),
            };
            progress.tick();
            res
        },
        |n, r| {
            results[misses[n]] = Some(r?);
            Ok(())
        },
    )?;
    let results = results
        .into_iter()
        .map(|l| l.unwrap_or_else(|| fail("internal", "no result")))
        .collect();
    Ok((results, from_index))
}
