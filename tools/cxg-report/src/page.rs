//! The page: the sections made from the harvest, rendered by the askama
//! template `templates/report.html` (checked when the crate compiles).

use crate::cells::Kept;
use crate::changes::Group;
use crate::chart::Chart;
use crate::facets::{overview, Overview};
use crate::files::{Files, ObsRow};
use crate::load::{Ds, Harvest};
use askama::Template;
use serde_json::Value;

pub const DISCOVER: &str = "https://cellxgene.cziscience.com";

#[derive(Debug)]
pub struct Selection {
    pub args: String,
    pub log: Vec<String>,
    pub overview: Overview,
    /// the catalogue's chart beside the selection's
    pub pairs: Vec<(Chart, Chart)>,
}

#[derive(Debug, Default)]
pub struct Prov {
    pub api_url: String,
    pub snapshot: String,
    pub started: String,
    pub finished: String,
    pub commit: String,
    pub tools: Vec<(String, String)>,
    pub requests: usize,
    pub by_tool: Vec<(String, usize)>,
    pub by_status: Vec<(String, usize)>,
    pub ontologies: Vec<(String, String)>,
    pub schema_versions: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct Page {
    pub title: String,
    pub discover: &'static str,
    pub catalogue: Option<Overview>,
    pub selection: Option<Selection>,
    pub files: Option<Files>,
    pub obs: Option<Vec<ObsRow>>,
    /// What the last cell-level filter kept (None: obs.jsonl has no filter).
    pub kept: Option<Kept>,
    pub make_cells: &'static str,
    pub changes: Option<Vec<Group>>,
    pub rows: Option<String>,
    pub prov: Option<Prov>,
}

pub fn build(h: &Harvest, title: String) -> Page {
    let grouped = h
        .datasets
        .iter()
        .flatten()
        .any(|d| !d.tissue_general.is_empty());
    let all: Option<Vec<&Ds>> = h.datasets.as_ref().map(|v| v.iter().collect());
    let catalogue = all.as_ref().map(|a| overview("catalogue-", a, grouped));
    let selection = match (&catalogue, &h.selected, &all) {
        (Some(cat), Some(sel), Some(a)) => {
            let chosen: Vec<&Ds> = a.iter().copied().filter(|d| sel.contains(&d.id)).collect();
            let o = overview("selection-", &chosen, grouped);
            let pairs = cat
                .charts
                .iter()
                .cloned()
                .zip(o.charts.iter().cloned())
                .collect();
            Some(Selection {
                args: h.select_args.clone().unwrap_or_default(),
                log: h.selection_log.clone().unwrap_or_default(),
                overview: o,
                pairs,
            })
        }
        _ => None,
    };
    Page {
        title,
        discover: DISCOVER,
        catalogue,
        selection,
        files: h.manifest.as_deref().map(crate::files::files),
        obs: h.obs.as_deref().map(crate::files::obs),
        kept: h.obs.as_deref().and_then(crate::cells::kept),
        make_cells: crate::cells::MAKE_CELLS,
        changes: h.changes.as_deref().map(crate::changes::groups),
        rows: h.datasets.as_ref().map(|_| crate::table::rows_json(h)),
        prov: h.provenance.as_ref().map(prov),
    }
}

fn text(v: &Value, p: &str) -> String {
    match v.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(x) => x.to_string(),
    }
}

fn counts<'a>(it: impl Iterator<Item = String> + 'a) -> Vec<(String, usize)> {
    let mut m = std::collections::BTreeMap::new();
    for k in it {
        *m.entry(k).or_insert(0) += 1;
    }
    m.into_iter().collect()
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v, ""))).collect())
        .unwrap_or_default()
}

fn prov(v: &Value) -> Prov {
    let reqs: Vec<&Value> = v
        .get("requests")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let onto = v
        .get("ontology_files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| (text(o, "/ontology"), text(o, "/release")));
    let releases = v
        .get("ontology_releases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| ("release".to_string(), text(o, "")));
    Prov {
        api_url: text(v, "/api_url"),
        snapshot: text(v, "/snapshot"),
        started: text(v, "/started_at"),
        finished: text(v, "/finished_at"),
        commit: text(v, "/built_from_git_commit"),
        tools: pairs(v.get("tools")),
        requests: reqs.len(),
        by_tool: counts(reqs.iter().map(|r| text(r, "/tool"))),
        by_status: counts(reqs.iter().map(|r| text(r, "/status"))),
        ontologies: onto.chain(releases).collect(),
        schema_versions: pairs(v.get("schema_versions")),
    }
}
