//! The files section: what `make download` fetched (h5ad/manifest.csv) and
//! what `make obs` counted (obs.jsonl; what a cell filter kept is in
//! `cells`).

use crate::chart::group;
use crate::load::{s, Fetched};
use serde_json::Value;

/// The statuses in the order the page lists them; `no asset` is a row
/// without a URL (the dataset has no H5AD to fetch).
pub const STATUSES: [&str; 5] = ["downloaded", "resumed", "present", "failed", "no asset"];

#[derive(Debug, Clone)]
pub struct Files {
    pub counts: Vec<(String, usize)>,
    pub bytes: u64,
    pub bytes_text: String,
    pub failures: Vec<(String, String)>,
}

pub fn status(f: &Fetched) -> &str {
    if f.url.is_empty() {
        "no asset"
    } else {
        &f.status
    }
}

pub fn files(rows: &[Fetched]) -> Files {
    let counts = STATUSES
        .iter()
        .map(|st| {
            (
                st.to_string(),
                rows.iter().filter(|f| status(f) == *st).count(),
            )
        })
        .collect();
    let bytes: u64 = rows
        .iter()
        .filter(|f| matches!(f.status.as_str(), "downloaded" | "resumed" | "present"))
        .map(|f| f.bytes)
        .sum();
    let failures = rows
        .iter()
        .filter(|f| matches!(status(f), "failed" | "no asset"))
        .map(|f| (f.dataset_id.clone(), f.reason.clone()))
        .collect();
    Files {
        counts,
        bytes,
        bytes_text: format!("{} bytes ({})", group(bytes), human(bytes)),
        failures,
    }
}

/// Bytes as KB, MB, GB (powers of 1000).
pub fn human(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// One line of obs.jsonl: per file, the counts cxg-obs made.
#[derive(Debug, Clone)]
pub struct ObsRow {
    pub dataset_id: String,
    pub status: String,
    pub cells: String,
    pub normal: String,
    pub primary: String,
    pub donors: String,
    /// With a cell filter: the cells and donors it kept.
    pub kept: String,
    pub kept_donors: String,
}

pub fn obs(rows: &[Value]) -> Vec<ObsRow> {
    let n = |v: &Value, k: &str| match v.get(k).and_then(Value::as_u64) {
        Some(x) => x.to_string(),
        None => "—".to_string(),
    };
    rows.iter()
        .map(|v| ObsRow {
            dataset_id: s(v, "dataset_id"),
            status: s(v, "status"),
            cells: n(v, "n_cells"),
            normal: n(v, "normal_cell_count"),
            primary: n(v, "primary_cell_count"),
            donors: n(v, "donor_count"),
            kept: n(v, "filtered_cell_count"),
            kept_donors: n(v, "filtered_donor_count"),
        })
        .collect()
}
