//! The whole snapshot, built in memory from the seed: collections with
//! their datasets, then the views the API serves of them (the list with
//! previews, the full collections, the per-dataset objects, the index),
//! agreeing with each other, with some datasets removed (`--gone`) or
//! missing from the index (`--unindexed`).

use crate::args::Args;
use crate::assets;
use crate::collection::collection;
use crate::dataset::dataset;
use crate::rng::Rng;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

/// The generated snapshot, in memory.
pub(crate) struct Snapshot {
    pub collections_list: Vec<Value>,
    pub full_collections: Vec<(String, Value)>,
    /// (collection id, dataset id, record)
    pub dataset_objects: Vec<(String, String, Value)>,
    pub index: Vec<Value>,
    pub gone: Vec<String>,
    /// With --assets: each H5AD file name and its size.
    pub assets: BTreeMap<String, u64>,
}

/// A collection's record and its datasets' records.
struct Collection {
    full: Map<String, Value>,
    datasets: Vec<Map<String, Value>>,
    /// False for the collection served without a `datasets` key.
    has_datasets_key: bool,
}

/// The keys of a dataset's preview in the collections list.
const PREVIEW_KEYS: &[&str] = &[
    "assay",
    "dataset_id",
    "dataset_version_id",
    "disease",
    "genetic_perturbation_strategy",
    "is_pre_analysis",
    "organism",
    "perturbation_types",
    "suspension_type",
    "tissue",
];
/// The keys of a dataset the index leaves out.
const NOT_IN_INDEX: &[&str] = &[
    "default_embedding",
    "embeddings",
    "feature_biotype",
    "feature_count",
    "feature_reference",
    "raw_data_location",
];

/// Build a snapshot (pure: no I/O), deterministic in `args`.
pub(crate) fn generate(args: &Args) -> Snapshot {
    let mut rng = Rng::new(args.seed);
    let n = args.collections;
    let counts = spread(&mut rng, n, args.datasets);
    let mut cols = Vec::with_capacity(n);
    let mut j = 0usize; // global dataset number
    for (i, &count) in counts.iter().enumerate() {
        let (full, published) = collection(&mut rng, i);
        let id = |k: &str| full[k].as_str().unwrap_or_default().to_string();
        let (cid, cvid) = (id("collection_id"), id("collection_version_id"));
        let mut datasets = Vec::with_capacity(count);
        for _ in 0..count {
            datasets.push(dataset(&mut rng, j, &cid, &cvid, published));
            j += 1;
        }
        // as the API serves them: datasets by dataset_id, descending
        datasets.sort_by(|a, b| b["dataset_id"].as_str().cmp(&a["dataset_id"].as_str()));
        cols.push(Collection {
            full,
            datasets,
            has_datasets_key: !(n > 6 && i == 4),
        });
    }
    assemble(args, &mut rng, cols)
}

/// How many of `datasets` each of `n` collections holds. Collections 4
/// and 5 (when there are more than 6) hold none: one is served without
/// the key, one with an empty list. Every other gets one first, the rest
/// are spread at random.
fn spread(rng: &mut Rng, n: usize, datasets: usize) -> Vec<usize> {
    let empty = |i: usize| n > 6 && (i == 4 || i == 5);
    let holders: Vec<usize> = (0..n).filter(|&i| !empty(i)).collect();
    let mut counts = vec![0usize; n];
    if !holders.is_empty() {
        for k in 0..datasets {
            let i = if k < holders.len() {
                holders[k]
            } else {
                *rng.pick(&holders)
            };
            counts[i] += 1;
        }
    }
    counts
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.sort_keys();
            Value::Object(m)
        }
        v => v,
    }
}

/// The datasets (numbered in collection order) that are removed and those
/// left out of the index, chosen at random.
fn choose(rng: &mut Rng, args: &Args, total: usize) -> (HashSet<usize>, HashSet<usize>) {
    let mut all: Vec<usize> = (0..total).collect();
    for k in (1..all.len()).rev() {
        let r = rng.below(k as u64 + 1) as usize;
        all.swap(k, r);
    }
    let gone_n = args.gone.min(total);
    let unindexed_end = (gone_n + args.unindexed).min(total);
    let gone = all[..gone_n].iter().copied().collect();
    let unindexed = all[gone_n..unindexed_end].iter().copied().collect();
    (gone, unindexed)
}

/// The views of `cols` the API serves.
fn assemble(args: &Args, rng: &mut Rng, cols: Vec<Collection>) -> Snapshot {
    let total: usize = cols.iter().map(|c| c.datasets.len()).sum();
    let (gone, unindexed) = choose(rng, args, total);
    let mut snap = Snapshot {
        collections_list: Vec::new(),
        full_collections: Vec::new(),
        dataset_objects: Vec::new(),
        index: Vec::new(),
        gone: Vec::new(),
        assets: Default::default(),
    };
    let mut k = 0usize;
    // (published_at, dataset id, index entry)
    let mut indexed: Vec<(String, String, Value)> = Vec::new();
    for col in cols {
        let mut full = col.full.clone();
        let mut list = col.full.clone();
        let mut full_ds = Vec::new();
        let mut previews = Vec::new();
        for mut d in col.datasets {
            d.shift_remove("__cid");
            d.shift_remove("__cvid");
            let did = d["dataset_id"].as_str().unwrap_or_default().to_string();
            let preview = PREVIEW_KEYS
                .iter()
                .filter_map(|key| Some(((*key).to_string(), d.get(*key)?.clone())));
            previews.push(Value::Object(preview.collect()));
            full_ds.push(Value::Object(d.clone()));
            if gone.contains(&k) {
                snap.gone.push(did);
                k += 1;
                continue;
            }
            let mut single = d;
            single.insert("processing_status".into(), json!("SUCCESS"));
            let cid = col.full["collection_id"].as_str().unwrap_or_default();
            let object = sorted(Value::Object(single.clone()));
            snap.dataset_objects
                .push((cid.to_string(), did.clone(), object));
            if !unindexed.contains(&k) {
                let ix = index_entry(single, &col.full);
                let key = ix["published_at"].as_str().unwrap_or_default().to_string();
                indexed.push((key, did, ix));
            }
            k += 1;
        }
        if col.has_datasets_key {
            full.insert("datasets".into(), Value::Array(full_ds));
            list.insert("datasets".into(), Value::Array(previews));
        }
        let cid = full["collection_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        snap.full_collections
            .push((cid, sorted(Value::Object(full))));
        snap.collections_list.push(sorted(Value::Object(list)));
    }
    // the index is sorted by (published_at, dataset_id), descending
    indexed.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
    snap.index = indexed.into_iter().map(|(_, _, v)| v).collect();
    if args.assets {
        size_assets(&mut snap, args);
    }
    snap
}

/// A dataset as the index holds it: without what the index leaves out,
/// with its collection's id, version, name, DOI and citation label.
fn index_entry(mut ix: Map<String, Value>, col: &Map<String, Value>) -> Value {
    for key in NOT_IN_INDEX {
        ix.shift_remove(*key);
    }
    ix.insert("collection_doi".into(), col["doi"].clone());
    let pm = &col["publisher_metadata"];
    let label = pm
        .get("authors")
        .and_then(|a| a.get(0))
        .and_then(|a| a.get("family").or_else(|| a.get("name")))
        .and_then(Value::as_str)
        .map(|f| {
            format!(
                "{f} et al. ({}) {}",
                pm["published_year"],
                pm["journal"].as_str().unwrap_or("")
            )
        });
    ix.insert("collection_doi_label".into(), json!(label));
    ix.insert("collection_id".into(), col["collection_id"].clone());
    ix.insert("collection_name".into(), col["name"].clone());
    ix.insert(
        "collection_version_id".into(),
        col["collection_version_id"].clone(),
    );
    ix.insert("revision_of_collection".into(), Value::Null);
    ix.insert("revision_of_dataset".into(), Value::Null);
    ix.insert("visibility".into(), json!("PUBLIC"));
    sorted(Value::Object(ix))
}

/// With --assets: the H5AD files the per-dataset objects name, and every
/// view's `filesize` of them set to the size each file gets.
fn size_assets(snap: &mut Snapshot, args: &Args) {
    let (seed, range) = (args.seed, args.asset_bytes);
    let mut names = BTreeMap::new();
    for (_, _, d) in &mut snap.dataset_objects {
        assets::patch_sizes(d, seed, range, &mut names);
    }
    snap.assets = names;
    let mut all = BTreeMap::new();
    for d in &mut snap.index {
        assets::patch_sizes(d, seed, range, &mut all);
    }
    for (_, c) in &mut snap.full_collections {
        if let Some(ds) = c.get_mut("datasets").and_then(Value::as_array_mut) {
            for d in ds {
                assets::patch_sizes(d, seed, range, &mut all);
            }
        }
    }
}
