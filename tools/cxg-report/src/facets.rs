//! The charts of a set of datasets: the catalogue's and the selection's.

use crate::chart::{by_month, tally, Chart};
use crate::load::Ds;

/// How many terms a facet chart shows.
pub const TOP: usize = 20;

/// Totals and the charts of one set of datasets.
#[derive(Debug, Clone)]
pub struct Overview {
    pub collections: usize,
    pub datasets: usize,
    pub cells: u64,
    pub charts: Vec<Chart>,
}

fn pairs(v: &[(String, u64, u64)], cells: bool) -> Vec<(String, u64)> {
    v.iter()
        .map(|(l, n, c)| (l.clone(), if cells { *c } else { *n }))
        .collect()
}

/// The charts of `sets`; `prefix` keeps chart ids apart (`catalogue-`,
/// `selection-`). Tissue is grouped by `tissue_general` when any dataset
/// of the catalogue has it (`grouped`).
pub fn overview(prefix: &str, sets: &[&Ds], grouped: bool) -> Overview {
    let it = || sets.iter().copied();
    let org = tally(it(), |d| &d.organism);
    // a dataset without tissue_general keeps its own tissue labels
    let tissue = tally(it(), |d| {
        if grouped && !d.tissue_general.is_empty() {
            &d.tissue_general
        } else {
            &d.tissue
        }
    });
    let tissue_title = if grouped {
        "Datasets per tissue (grouped by tissue_general), top 20"
    } else {
        "Datasets per tissue, top 20"
    };
    let month = by_month(it());
    let c = |id: &str, title: &str, p: Vec<(String, u64)>, top: usize| {
        Chart::new(&format!("{prefix}{id}"), title, p, top)
    };
    let charts = vec![
        c("organism", "Datasets per organism", pairs(&org, false), TOP),
        c(
            "organism-cells",
            "Cells per organism",
            pairs(&org, true),
            TOP,
        ),
        c("tissue", tissue_title, pairs(&tissue, false), TOP),
        c(
            "disease",
            "Datasets per disease, top 20",
            pairs(&tally(it(), |d| &d.disease), false),
            TOP,
        ),
        c(
            "assay",
            "Datasets per assay, top 20",
            pairs(&tally(it(), |d| &d.assay), false),
            TOP,
        ),
        c(
            "stage",
            "Datasets per development stage, top 20",
            pairs(&tally(it(), |d| &d.stage), false),
            TOP,
        ),
        c(
            "sex",
            "Datasets per sex",
            pairs(&tally(it(), |d| &d.sex), false),
            TOP,
        ),
        c(
            "month",
            "Datasets by month of publication",
            pairs(&month, false),
            usize::MAX,
        ),
        c(
            "month-cells",
            "Cells by month of publication",
            pairs(&month, true),
            usize::MAX,
        ),
    ];
    let mut colls: Vec<&str> = sets.iter().map(|d| d.collection_id.as_str()).collect();
    colls.sort_unstable();
    colls.dedup();
    Overview {
        collections: colls.len(),
        datasets: sets.len(),
        cells: sets.iter().map(|d| d.cells).sum(),
        charts,
    }
}

impl Overview {
    pub fn cells_text(&self) -> String {
        crate::chart::group(self.cells)
    }
}
