//! Comparing two harvests: one change record per dataset that is new, gone
//! or different, ordered by dataset_id, with what changed in it.

use crate::fp::{Fp, Interner, COLLECTION_FIELDS, FACETS, SCALARS, SCHEMA_VERSION};
use crate::side::{Collection, Side};
use crate::Change;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// One output record.
pub(crate) struct Record<'a> {
    pub(crate) change: Change,
    /// revised only: schema_migration or content
    pub(crate) kind: Option<&'static str>,
    pub(crate) id: &'a str,
    pub(crate) collection_id: &'a str,
    /// added or removed, when the whole collection came or went
    pub(crate) collection_change: Option<&'static str>,
    /// What the API said about a removed dataset (--confirm-removed).
    pub(crate) removed_check: Option<&'static str>,
    pub(crate) old: Option<&'a Fp>,
    pub(crate) new: Option<&'a Fp>,
    pub(crate) fields: Map<String, Value>,
}

impl<'a> Record<'a> {
    fn one_side(change: Change, id: &'a str, f: &'a Fp, whole: Option<&'static str>) -> Self {
        let (old, new) = match change {
            Change::Removed => (Some(f), None),
            _ => (None, Some(f)),
        };
        Record {
            change,
            kind: None,
            id,
            collection_id: &f.collection_id,
            collection_change: whole,
            removed_check: None,
            old,
            new,
            fields: Map::new(),
        }
    }
}

/// Compare two sides into records ordered by dataset_id, and the number
/// of unchanged datasets (listed too with `all`).
pub(crate) fn compare<'a>(
    old: &'a Side,
    new: &'a Side,
    int: &Interner,
    all: bool,
) -> (Vec<Record<'a>>, usize) {
    let (oc, nc) = (old.collection_ids(), new.collection_ids());
    let mut out = Vec::new();
    let mut unchanged = 0;
    let mut a = old.datasets.iter().peekable();
    let mut b = new.datasets.iter().peekable();
    loop {
        let (ka, kb) = (a.peek().map(|x| x.0), b.peek().map(|x| x.0));
        let rec = match (ka, kb) {
            (None, None) => break,
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                let Some((id, f)) = a.next() else { break };
                let gone = !nc.contains(&*f.collection_id);
                Record::one_side(Change::Removed, id, f, gone.then_some("removed"))
            }
            (x, Some(y)) if x.is_none_or(|x| y < x) => {
                let Some((id, f)) = b.next() else { break };
                let came = !oc.contains(&*f.collection_id);
                Record::one_side(Change::Added, id, f, came.then_some("added"))
            }
            _ => {
                let (Some((id, fa)), Some((_, fb))) = (a.next(), b.next()) else {
                    break;
                };
                let r = both(id, fa, fb, old, new, int);
                if r.change == Change::Unchanged {
                    unchanged += 1;
                    if !all {
                        continue;
                    }
                }
                r
            }
        };
        out.push(rec);
    }
    (out, unchanged)
}

/// The record of a dataset on both sides: revised (a new version),
/// metadata (same version, something changed) or unchanged.
fn both<'a>(
    id: &'a str,
    fa: &'a Fp,
    fb: &'a Fp,
    old: &Side,
    new: &Side,
    int: &Interner,
) -> Record<'a> {
    let ca = old.collections.get(&fa.collection_id);
    let cb = new.collections.get(&fb.collection_id);
    let (fields, substance) = fields(fa, fb, ca, cb, int);
    let (change, kind) = if fa.version != fb.version {
        let migrated = fa.scalar(SCHEMA_VERSION) != fb.scalar(SCHEMA_VERSION) && !substance;
        let kind = if migrated {
            "schema_migration"
        } else {
            "content"
        };
        (Change::Revised, Some(kind))
    } else if !fields.is_empty() {
        (Change::Metadata, None)
    } else {
        (Change::Unchanged, None)
    };
    Record {
        change,
        kind,
        id,
        collection_id: &fb.collection_id,
        collection_change: None,
        removed_check: None,
        old: Some(fa),
        new: Some(fb),
        fields,
    }
}

/// Differences between two fingerprints of one dataset; the flag says
/// whether any field of substance changed.
fn fields(
    a: &Fp,
    b: &Fp,
    ca: Option<&Collection>,
    cb: Option<&Collection>,
    int: &Interner,
) -> (Map<String, Value>, bool) {
    let mut out = Map::new();
    if a.collection_id != b.collection_id {
        out.insert(
            "collection_id".into(),
            json!({"old": &*a.collection_id, "new": &*b.collection_id}),
        );
    }
    let mut substance = scalar_changes(a, b, &mut out);
    substance |= facet_changes(a, b, int, &mut out);
    if a.assets != b.assets {
        asset_changes(a, b, &mut out);
    }
    if let (Some(ca), Some(cb)) = (ca, cb) {
        for k in COLLECTION_FIELDS {
            if let (Some(x), Some(y)) = (ca.get(k), cb.get(k)) {
                if x != y {
                    out.insert(format!("collection.{k}"), old_new(x, y, false));
                }
            }
        }
    }
    (out, substance)
}

/// The scalars that changed, with a delta for the counts; true when one of
/// substance did.
fn scalar_changes(a: &Fp, b: &Fp, out: &mut Map<String, Value>) -> bool {
    let mut substance = false;
    for (i, (name, subst)) in SCALARS.iter().enumerate() {
        let (x, y) = (a.scalar(i), b.scalar(i));
        if x != y {
            substance |= subst;
            let d = matches!(*name, "cell_count" | "primary_cell_count" | "donor_count");
            out.insert((*name).into(), old_new(x, y, d));
        }
    }
    substance
}

/// The terms added to and removed from each facet; true when any changed.
fn facet_changes(a: &Fp, b: &Fp, int: &Interner, out: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    for (i, facet) in FACETS.iter().enumerate() {
        let (x, y) = (a.facet(i), b.facet(i));
        if x == y {
            continue;
        }
        changed = true;
        let names = |v: Vec<&u32>| -> Vec<Value> {
            let mut v: Vec<&str> = v.into_iter().map(|t| int.name(*t)).collect();
            v.sort_unstable();
            v.into_iter().map(Value::from).collect()
        };
        let added = names(y.iter().filter(|t| !x.contains(t)).collect());
        let removed = names(x.iter().filter(|t| !y.contains(t)).collect());
        out.insert((*facet).into(), json!({"added": added, "removed": removed}));
    }
    changed
}

/// The URL and size of each asset type that changed.
fn asset_changes(a: &Fp, b: &Fp, out: &mut Map<String, Value>) {
    let types: BTreeSet<&str> = a.assets().chain(b.assets()).map(|x| x.0).collect();
    for t in types {
        let find = |fp: &'_ Fp| {
            fp.assets()
                .find(|x| x.0 == t)
                .map_or(("null".to_string(), "null".to_string()), |x| {
                    (x.1.to_string(), x.2.to_string())
                })
        };
        let ((xu, xs), (yu, ys)) = (find(a), find(b));
        if xu != yu {
            out.insert(format!("assets.{t}.url"), old_new(&xu, &yu, false));
        }
        if xs != ys {
            out.insert(format!("assets.{t}.filesize"), old_new(&xs, &ys, true));
        }
    }
}

fn parse(t: &str) -> Value {
    serde_json::from_str(t).unwrap_or(Value::Null)
}

/// `new - old` of two JSON numbers, when both are numbers.
pub(crate) fn delta(old: &str, new: &str) -> Option<Value> {
    // i128 holds the difference of any two i64s; a difference beyond i64
    // (JSON numbers as serde_json keeps them) is left out, never wrapped
    if let (Ok(a), Ok(b)) = (old.parse::<i64>(), new.parse::<i64>()) {
        let d = i128::from(b) - i128::from(a);
        return i64::try_from(d)
            .map(Value::from)
            .ok()
            .or_else(|| u64::try_from(d).map(Value::from).ok());
    }
    match (old.parse::<f64>(), new.parse::<f64>()) {
        (Ok(a), Ok(b)) => serde_json::Number::from_f64(b - a).map(Value::Number),
        _ => None,
    }
}

fn old_new(old: &str, new: &str, with_delta: bool) -> Value {
    let mut m = Map::new();
    m.insert("old".into(), parse(old));
    m.insert("new".into(), parse(new));
    if with_delta {
        if let Some(d) = delta(old, new) {
            m.insert("delta".into(), d);
        }
    }
    Value::Object(m)
}
