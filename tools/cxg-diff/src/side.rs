//! One harvest as it is compared: datasets by id, reduced to fingerprints,
//! and the collection-level fields by collection id.

use crate::fp::{text, Fp, Interner, COLLECTION_FIELDS};
use cxg_catalog::ids::is_uuid;
use cxg_core::{Error, Result};
use cxg_json::value::type_name;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The collection-level fields of one collection, as JSON text.
pub(crate) type Collection = BTreeMap<&'static str, Box<str>>;

/// One harvest: datasets by id, and collection fields by collection id
/// (only the fields its input format carries).
#[derive(Default)]
pub(crate) struct Side {
    pub(crate) name: String,
    pub(crate) datasets: BTreeMap<Box<str>, Fp>,
    pub(crate) collections: HashMap<Box<str>, Collection>,
    /// dataset ids seen more than once
    pub(crate) dup_datasets: BTreeSet<Box<str>>,
    /// collection ids seen more than once in collections.json
    pub(crate) dup_collections: BTreeSet<Box<str>>,
}

/// The record's `dataset_id`, lowercased: the same UUID in upper or lower
/// case is one dataset.
fn dataset_id(o: &Map<String, Value>) -> Result<String> {
    match o.get("dataset_id") {
        Some(Value::String(s)) if is_uuid(s) => Ok(s.to_ascii_lowercase()),
        Some(Value::String(s)) => Err(Error::input(format!("dataset_id '{s}' is not a UUID"))),
        _ => Err(Error::input("no string dataset_id")),
    }
}

impl Side {
    /// Read one dataset record (an index item, or a cxg-datasets line).
    pub(crate) fn add(&mut self, v: &Value, int: &mut Interner) -> Result<()> {
        let Some(o) = v.as_object() else {
            return Err(Error::input(format!(
                "expected a dataset object, found {}",
                type_name(v)
            )));
        };
        let id = dataset_id(o)?;
        let coll = o.get("collection").and_then(Value::as_object);
        let cid = o
            .get("collection_id")
            .or_else(|| coll.and_then(|c| c.get("collection_id")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        self.record_collection(o, coll, &cid);
        let fp = Fp::of(o, &cid, int);
        self.insert(id, fp, int);
        Ok(())
    }

    /// The collection fields a dataset record carries: its `collection`
    /// object (cxg-datasets), or the index's `collection_*` fields.
    fn record_collection(
        &mut self,
        o: &Map<String, Value>,
        coll: Option<&Map<String, Value>>,
        cid: &str,
    ) {
        if let Some(c) = coll {
            let f = COLLECTION_FIELDS
                .iter()
                .map(|k| (*k, text(c.get(*k))))
                .collect();
            self.collection_fields(cid, f);
        } else if o.contains_key("collection_name") || o.contains_key("collection_version_id") {
            let f = vec![
                (
                    "collection_version_id",
                    text(o.get("collection_version_id")),
                ),
                ("name", text(o.get("collection_name"))),
                ("doi", text(o.get("collection_doi"))),
            ];
            self.collection_fields(cid, f);
        }
    }

    /// Keep the fingerprint of dataset `id`; of two different records of
    /// one dataset, the same one whatever the input order.
    fn insert(&mut self, id: String, fp: Fp, int: &Interner) {
        match self.datasets.get(id.as_str()) {
            Some(prev) => {
                let keep_new = *prev != fp && fp.rank(int) > prev.rank(int);
                self.dup_datasets.insert(id.as_str().into());
                if keep_new {
                    self.datasets.insert(id.into(), fp);
                }
            }
            None => {
                self.datasets.insert(id.into(), fp);
            }
        }
    }

    /// Record the collection-level fields of collection `cid`; on
    /// conflicting values the greater text wins, so the result does not
    /// depend on the order of the input.
    pub(crate) fn collection_fields(&mut self, cid: &str, fields: Vec<(&'static str, Box<str>)>) {
        let entry = self.collections.entry(cid.into()).or_default();
        for (k, v) in fields {
            match entry.get(k) {
                Some(old) if **old >= *v => {}
                _ => {
                    entry.insert(k, v);
                }
            }
        }
    }

    /// One entry of a snapshot's collections.json: its fields replace what
    /// the datasets carried; of duplicate entries, the greater one (as
    /// text, field by field in a fixed order) whatever the input order.
    pub(crate) fn add_collection(&mut self, cid: String, first: bool, v: &Value) {
        let f: Vec<(&'static str, Box<str>)> = COLLECTION_FIELDS
            .iter()
            .map(|k| (*k, text(v.get(*k))))
            .collect();
        if first {
            self.collections.remove(cid.as_str());
            self.collection_fields(&cid, f);
            return;
        }
        self.dup_collections.insert(cid.as_str().into());
        let entry = self.collections.entry(cid.into()).or_default();
        let old: Vec<&str> = COLLECTION_FIELDS
            .iter()
            .map(|k| entry.get(k).map_or("", |v| &**v))
            .collect();
        let new: Vec<&str> = f.iter().map(|(_, v)| &**v).collect();
        if new > old {
            *entry = f.into_iter().collect();
        }
    }

    /// Every collection id the side names.
    pub(crate) fn collection_ids(&self) -> BTreeSet<&str> {
        self.datasets
            .values()
            .map(|f| &*f.collection_id)
            .chain(self.collections.keys().map(|k| &**k))
            .collect()
    }
}
