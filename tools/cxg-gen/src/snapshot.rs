//! The snapshot as a walk over its collections, one at a time, each with
//! its datasets in the order the API serves them: nothing but the
//! collection at hand is held, so memory stays flat however large the
//! snapshot. A dataset is regenerated from the generator's state where it
//! was first drawn (one number), not kept. A first walk finds which
//! datasets are removed (`--gone`) or missing from the index
//! (`--unindexed`); the second writes them (see `emit`).

use crate::args::Args;
use crate::assets;
use crate::collection::collection;
use crate::dataset::dataset;
use crate::rng::Rng;
use cxg_core::Result;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One collection of the walk: its record (without datasets) and its
/// datasets, by dataset_id descending as the API serves them.
pub(crate) struct Collection {
    pub full: Map<String, Value>,
    /// False for the collection served without a `datasets` key.
    pub has_datasets_key: bool,
    pub cid: String,
    cvid: String,
    published: i64,
    slots: Vec<Slot>,
}

/// Where a dataset was drawn: enough to draw it again.
struct Slot {
    did: String,
    state: u64,
    j: usize,
}

impl Collection {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Dataset `m` (in the API's order), drawn again from its state.
    pub fn dataset(&self, m: usize) -> Map<String, Value> {
        let s = &self.slots[m];
        let mut rng = Rng::resume(s.state);
        let mut d = dataset(&mut rng, s.j, &self.cid, &self.cvid, self.published);
        d.shift_remove("__cid");
        d.shift_remove("__cvid");
        d
    }
}

/// The keys of a dataset's preview in the collections list.
pub(crate) const PREVIEW_KEYS: &[&str] = &[
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

/// Call `f` with each collection in order (deterministic in `args`);
/// returns the generator after the last, where the choice of removed and
/// unindexed datasets draws from.
pub(crate) fn walk(args: &Args, mut f: impl FnMut(&Collection) -> Result<()>) -> Result<Rng> {
    let mut rng = Rng::new(args.seed);
    let n = args.collections;
    let counts = spread(&mut rng, n, args.datasets);
    let mut j = 0usize; // global dataset number
    for (i, &count) in counts.iter().enumerate() {
        let (full, published) = collection(&mut rng, i);
        let id = |k: &str| full[k].as_str().unwrap_or_default().to_string();
        let (cid, cvid) = (id("collection_id"), id("collection_version_id"));
        let mut slots = Vec::with_capacity(count);
        for _ in 0..count {
            let state = rng.state();
            let d = dataset(&mut rng, j, &cid, &cvid, published);
            let did = d["dataset_id"].as_str().unwrap_or_default().to_string();
            slots.push(Slot { did, state, j });
            j += 1;
        }
        // as the API serves them: datasets by dataset_id, descending
        slots.sort_by(|a, b| b.did.cmp(&a.did));
        f(&Collection {
            full,
            has_datasets_key: !(n > 6 && i == 4),
            cid,
            cvid,
            published,
            slots,
        })?;
    }
    Ok(rng)
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

pub(crate) fn sorted(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.sort_keys();
            Value::Object(m)
        }
        v => v,
    }
}

/// What becomes of each dataset (numbered over the walk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Served, and listed in the index.
    Indexed,
    /// Served, but left out of the index (`--unindexed`).
    Unindexed,
    /// Listed in its collection, but removed (`--gone`).
    Gone,
}

/// The fate of every dataset, one byte each.
pub(crate) struct Fates {
    fates: Vec<Fate>,
    pub gone: usize,
}

impl Fates {
    pub fn of(&self, k: usize) -> Fate {
        self.fates.get(k).copied().unwrap_or(Fate::Indexed)
    }
}

/// The first walk: which datasets are removed and which are left out of
/// the index, chosen at random after every collection is drawn.
pub(crate) fn fates(args: &Args) -> Result<Fates> {
    let mut total = 0usize;
    let mut rng = walk(args, |c| {
        total += c.len();
        Ok(())
    })?;
    Ok(choose(&mut rng, args, total))
}

/// With --assets, a walk before any is written: how many H5AD files the
/// served datasets name, and their bytes in all.
pub(crate) fn asset_needs(args: &Args, fates: &Fates) -> Result<(usize, u64)> {
    let (mut k, mut count, mut bytes) = (0usize, 0usize, 0u64);
    walk(args, |c| {
        for m in 0..c.len() {
            k += 1;
            if fates.of(k - 1) == Fate::Gone {
                continue;
            }
            let mut names = BTreeMap::new();
            // the files are not written yet: a bound on each one's size
            let mut bound = |_: &str, d: &Value| {
                Ok(if args.sparse_assets {
                    0
                } else {
                    crate::h5ad::size_bound(d)
                })
            };
            let d = &mut Value::Object(c.dataset(m));
            assets::patch_sizes(d, args.seed, args.asset_bytes, &mut names, &mut bound)?;
            count += names.len();
            bytes = names.values().fold(bytes, |a, &b| a.saturating_add(b));
        }
        Ok(())
    })?;
    Ok((count, bytes))
}

/// A shuffle of the dataset numbers: the first `--gone` are removed, the
/// next `--unindexed` left out of the index.
fn choose(rng: &mut Rng, args: &Args, total: usize) -> Fates {
    // at most 2,000,000 datasets (args::MAX_DATASETS): u32 numbers
    let mut all: Vec<u32> = (0..total).map(|k| k as u32).collect();
    for k in (1..all.len()).rev() {
        let r = rng.below(k as u64 + 1) as usize;
        all.swap(k, r);
    }
    let gone = args.gone.min(total);
    let unindexed_end = (gone + args.unindexed).min(total);
    let mut fates = vec![Fate::Indexed; total];
    for &k in &all[..gone] {
        fates[k as usize] = Fate::Gone;
    }
    for &k in &all[gone..unindexed_end] {
        fates[k as usize] = Fate::Unindexed;
    }
    Fates { fates, gone }
}

/// A dataset as the index holds it: without what the index leaves out,
/// with its collection's id, version, name, DOI and citation label.
pub(crate) fn index_entry(mut ix: Map<String, Value>, col: &Map<String, Value>) -> Value {
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
