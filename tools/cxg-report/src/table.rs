//! Every dataset in one table: the rows as compact JSON for the page's
//! script (terms and collections are numbered once, so 25,000 rows stay a
//! few MB), which filters, sorts and shows one page of rows at a time.

use crate::files::status;
use crate::load::Harvest;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

#[derive(Default)]
struct Intern {
    index: HashMap<String, usize>,
    list: Vec<Value>,
}

impl Intern {
    fn id(&mut self, key: &str, v: impl FnOnce() -> Value) -> usize {
        if let Some(i) = self.index.get(key) {
            return *i;
        }
        self.list.push(v());
        self.index.insert(key.to_string(), self.list.len() - 1);
        self.list.len() - 1
    }
    fn ids(&mut self, terms: &[String]) -> Vec<usize> {
        terms.iter().map(|t| self.id(t, || json!(t))).collect()
    }
}

/// A manifest path as the page links it: relative to the harvest folder
/// (where make writes report.html) when inside it.
fn local(path: &str, dir: &Path) -> String {
    match Path::new(path).strip_prefix(dir) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.to_string(),
    }
}

/// The table's JSON, with `<` escaped so it cannot end its script element.
pub fn rows_json(h: &Harvest) -> String {
    let mut colls = Intern::default();
    let mut terms = Intern::default();
    let fetched: HashMap<&str, _> = h
        .manifest
        .iter()
        .flatten()
        .map(|f| (f.dataset_id.as_str(), f))
        .collect();
    let mut rows = Vec::new();
    for d in h.datasets.iter().flatten() {
        let c = colls.id(&d.collection_id, || json!([d.collection, d.collection_id]));
        let f = fetched.get(d.id.as_str());
        let st = match (f, &h.selected) {
            (Some(f), _) => status(f).to_string(),
            (None, Some(sel)) if sel.contains(&d.id) => "selected".into(),
            (None, Some(_)) => "not selected".into(),
            (None, None) => String::new(),
        };
        let path = f
            .filter(|f| !f.path.is_empty() && status(f) != "failed")
            .map(|f| local(&f.path, &h.dir));
        rows.push(json!([
            d.title,
            c,
            terms.ids(&d.organism),
            terms.ids(&d.tissue),
            terms.ids(&d.disease),
            terms.ids(&d.assay),
            d.cells,
            d.filesize,
            st,
            d.id,
            path
        ]));
    }
    let all = json!({"c": colls.list, "t": terms.list, "r": rows});
    all.to_string().replace('<', "\\u003c")
}
