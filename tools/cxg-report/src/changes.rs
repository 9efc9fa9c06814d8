//! What changed since the previous snapshot (changes.jsonl, cxg-diff).

use crate::load::s;
use serde_json::Value;

pub const KINDS: [&str; 4] = ["added", "removed", "revised", "metadata"];
/// Each list shows at most this many changes (the counts are complete).
pub const SHOWN: usize = 500;

#[derive(Debug, Clone)]
pub struct Change {
    pub dataset_id: String,
    pub collection_id: String,
    pub kind: String,
    pub delta: String,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub count: usize,
    pub shown: Vec<Change>,
}

fn delta(v: &Value) -> String {
    match v
        .pointer("/fields/cell_count/delta")
        .and_then(Value::as_i64)
    {
        Some(d) if d > 0 => format!("+{d}"),
        Some(d) => d.to_string(),
        None => String::new(),
    }
}

pub fn groups(rows: &[Value]) -> Vec<Group> {
    KINDS
        .iter()
        .map(|k| {
            let all: Vec<&Value> = rows.iter().filter(|v| s(v, "change") == *k).collect();
            Group {
                name: k.to_string(),
                count: all.len(),
                shown: all
                    .iter()
                    .take(SHOWN)
                    .map(|v| Change {
                        dataset_id: s(v, "dataset_id"),
                        collection_id: s(v, "collection_id"),
                        kind: s(v, "kind"),
                        delta: delta(v),
                    })
                    .collect(),
            }
        })
        .collect()
}
