//! Bar charts: counting datasets and cells per term, and the geometry of a
//! horizontal bar chart that the page template draws as SVG (own module:
//! plotters' SVG backend writes fixed colours and no <title>/<desc>, so it
//! could follow neither the dark theme nor give a text alternative).

use crate::load::Ds;
use std::collections::HashMap;

/// Row height and the longest bar, in SVG user units (the template draws
/// labels right-aligned at x 224, bars from x 230, in a width of 640).
const ROW: usize = 22;
const BAR_W: f64 = 300.0;

#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub short: String,
    pub value: u64,
    pub text: String,
    pub y: usize,
    pub w: String,
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// `data-chart` name, stable for tests
    pub id: String,
    pub title: String,
    pub bars: Vec<Bar>,
    /// terms left out beyond the top N
    pub more: usize,
    pub height: usize,
    /// the text alternative: every bar with its exact number
    pub desc: String,
}

impl Chart {
    /// A chart of `(label, value)` pairs kept in the order given.
    pub fn new(id: &str, title: &str, pairs: Vec<(String, u64)>, top: usize) -> Chart {
        let more = pairs.len().saturating_sub(top);
        let pairs: Vec<_> = pairs.into_iter().take(top).collect();
        let max = pairs.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
        let bars: Vec<Bar> = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (label, value))| Bar {
                short: short(&label),
                text: group(value),
                y: i * ROW,
                w: format!("{:.1}", BAR_W * value as f64 / max),
                value,
                label,
            })
            .collect();
        let desc = bars
            .iter()
            .map(|b| format!("{}: {}", b.label, b.value))
            .collect::<Vec<_>>()
            .join("; ");
        Chart {
            id: id.to_string(),
            title: title.to_string(),
            height: bars.len().max(1) * ROW,
            bars,
            more,
            desc,
        }
    }
}

/// A label cut to fit the label column, with an ellipsis.
fn short(label: &str) -> String {
    const MAX: usize = 34;
    if label.chars().count() <= MAX {
        label.to_string()
    } else {
        let cut: String = label.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// 1234567 as "1,234,567".
pub fn group(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Datasets and cells per term: each dataset counts once per distinct term
/// of `facet`. Sorted by datasets, then cells, then label.
pub fn tally<'a>(
    sets: impl Iterator<Item = &'a Ds>,
    facet: impl Fn(&'a Ds) -> &'a [String],
) -> Vec<(String, u64, u64)> {
    let mut m: HashMap<&'a str, (u64, u64)> = HashMap::new();
    for d in sets {
        for t in facet(d) {
            let e = m.entry(t.as_str()).or_default();
            e.0 += 1;
            e.1 += d.cells;
        }
    }
    let mut v: Vec<(String, u64, u64)> = m
        .into_iter()
        .map(|(k, (n, c))| (k.to_string(), n, c))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    v
}

/// Datasets and cells per month of publication (`YYYY-MM`), oldest first.
pub fn by_month<'a>(sets: impl Iterator<Item = &'a Ds>) -> Vec<(String, u64, u64)> {
    let mut m: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for d in sets {
        let k = if d.month.is_empty() {
            "unknown".to_string()
        } else {
            d.month.clone()
        };
        let e = m.entry(k).or_default();
        e.0 += 1;
        e.1 += d.cells;
    }
    m.into_iter().map(|(k, (n, c))| (k, n, c)).collect()
}
