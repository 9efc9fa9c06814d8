//! One dataset record, as the per-dataset GET serves it (without
//! `processing_status`): every facet of the catalogue, assets, counts and
//! the awkward cases (a missing cell count, an empty tissue list, several
//! tissues, an organoid, quotes and unicode in titles, unknown fields).
//! Every value is drawn in a fixed order: the same seed gives the same
//! bytes.

use crate::collection::timestamp;
use crate::rng::Rng;
use crate::vocab::{oe, oes, vocabulary, ASSAYS, CELL_TYPES, DISEASES, ETHNICITIES, ORGANISMS};
use crate::vocab::{SEXES, STAGES, TISSUES, TOPICS};
use cxg_catalog::facets::Kind;
use serde_json::{json, Map, Value};

/// Where the file host serves a dataset's assets.
const FILES: &str = "https://datasets.cellxgene.cziscience.com";

/// Dataset number `j` (over the whole snapshot) of collection `cid`
/// (version `cvid`), published after `col_published`.
pub(crate) fn dataset(
    rng: &mut Rng,
    j: usize,
    cid: &str,
    cvid: &str,
    col_published: i64,
) -> Map<String, Value> {
    let did = rng.uuid();
    let dvid = rng.uuid();
    let published = col_published + rng.below(10 * 86_400) as i64;
    let mut d = Map::new();
    d.insert("assay".into(), oes(rng, ASSAYS, 2));
    d.insert("assets".into(), assets(rng, j, &dvid));
    d.insert(
        "batch_condition".into(),
        if j % 4 == 0 {
            json!(["donor_id"])
        } else {
            Value::Null
        },
    );
    let cells = 100 + rng.below(400_000);
    if j % 23 != 11 {
        d.insert("cell_count".into(), json!(cells));
        d.insert("primary_cell_count".into(), json!(cells - cells / 3));
    }
    d.insert("cell_type".into(), oes(rng, CELL_TYPES, 3));
    d.insert(
        "citation".into(),
        json!(format!("Dataset Version: {FILES}/{dvid}.h5ad curated and distributed by CZ CELLxGENE Discover in Collection: https://cellxgene.cziscience.com/collections/{cid}")),
    );
    d.insert("dataset_id".into(), json!(did));
    d.insert("dataset_version_id".into(), json!(dvid));
    d.insert("default_embedding".into(), json!("X_umap"));
    if j % 23 != 11 {
        d.insert("development_stage".into(), oes(rng, STAGES, 2));
    }
    d.insert("disease".into(), oes(rng, DISEASES, 2));
    d.insert(
        "donor_id".into(),
        json!((0..1 + rng.below(3))
            .map(|k| format!("D{j}-{k}"))
            .collect::<Vec<_>>()),
    );
    features(rng, j, &did, &mut d);
    d.insert("organism".into(), json!([oe(rng.pick(ORGANISMS))]));
    d.insert("perturbation_types".into(), Value::Null);
    d.insert(
        "published_at".into(),
        json!(timestamp(published, rng.below(1_000_000))),
    );
    d.insert("raw_data_location".into(), json!("raw.X"));
    d.insert(
        "revised_at".into(),
        if j % 3 == 1 {
            json!(timestamp(published + 86_400, rng.below(1_000_000)))
        } else {
            Value::Null
        },
    );
    d.insert(
        "schema_version".into(),
        json!(if j % 2 == 0 { "5.2.0" } else { "7.1.0" }),
    );
    d.insert("self_reported_ethnicity".into(), oes(rng, ETHNICITIES, 2));
    d.insert("sex".into(), oes(rng, SEXES, 2));
    d.insert("spatial".into(), Value::Null);
    let suspension = rng.pick(vocabulary("suspension_type", Kind::Strings));
    d.insert("suspension_type".into(), json!([suspension]));
    d.insert("tissue".into(), tissue(rng, j));
    finish(rng, j, (cid, cvid), &mut d);
    d
}

/// The assets of dataset `j`: its H5AD (none for some, of unknown size
/// for others), an RDS for every third, an ATAC fragment file for some.
fn assets(rng: &mut Rng, j: usize, dvid: &str) -> Value {
    let mut assets = vec![];
    if j % 29 != 13 {
        let size = if j % 31 == 17 {
            -1
        } else {
            1_000_000 + rng.below(4_000_000_000) as i64
        };
        assets.push(
            json!({"filesize": size, "filetype": "H5AD", "url": format!("{FILES}/{dvid}.h5ad")}),
        );
    }
    if j % 3 == 0 || j % 29 == 13 {
        assets.push(json!({"filesize": 500_000 + rng.below(900_000_000), "filetype": "RDS", "url": format!("{FILES}/{dvid}.rds")}));
    }
    if j % 37 == 0 {
        assets.push(json!({"filesize": 7_000_000, "filetype": "ATAC_FRAGMENT", "url": format!("{FILES}/{}-fragment.tsv.bgz", rng.uuid())}));
    }
    Value::Array(assets)
}

/// From `embeddings` to `mean_genes_per_cell`: what the index leaves out,
/// the perturbation fields and the primary-data flags.
fn features(rng: &mut Rng, j: usize, did: &str, d: &mut Map<String, Value>) {
    d.insert("embeddings".into(), json!(["X_pca", "X_umap"]));
    d.insert(
        "explorer_url".into(),
        json!(format!("https://cellxgene.cziscience.com/e/{did}.cxg/")),
    );
    d.insert("feature_biotype".into(), json!(["gene"]));
    d.insert("feature_count".into(), json!(20_000 + rng.below(40_000)));
    d.insert("feature_reference".into(), json!(["NCBITaxon:9606"]));
    d.insert("genetic_perturbation_strategy".into(), Value::Null);
    d.insert("is_pre_analysis".into(), json!(false));
    d.insert(
        "is_primary_data".into(),
        if j % 5 == 0 {
            json!([true, false])
        } else {
            json!([true])
        },
    );
    d.insert(
        "mean_genes_per_cell".into(),
        json!((rng.below(500_000) as f64) / 100.0 + 200.25),
    );
}

/// The tissues of dataset `j`: none for some, three for others, else one
/// (an organoid for every eleventh).
fn tissue(rng: &mut Rng, j: usize) -> Value {
    let typed = |t: &(&str, &str), kind: &str| {
        let mut o = oe(t);
        o["tissue_type"] = json!(kind);
        o
    };
    match (j % 13, j % 17) {
        (_, 3) => json!([]),
        (5, _) => Value::Array(TISSUES[..3].iter().map(|t| typed(t, "tissue")).collect()),
        _ => {
            let t = rng.pick(TISSUES);
            json!([typed(t, if j % 11 == 0 { "organoid" } else { "tissue" })])
        }
    }
}

/// The title (quotes, a newline and unicode in some), the last fields,
/// and the collection, remembered for the index (removed before the
/// dataset is written).
fn finish(rng: &mut Rng, j: usize, (cid, cvid): (&str, &str), d: &mut Map<String, Value>) {
    let title = if j % 19 == 7 {
        format!("Cells of the \"inner\" ear, cochlea\nand vestibule — ünïcode {j}")
    } else {
        format!("Dataset {j}: {} cells", rng.pick(TOPICS))
    };
    d.insert("title".into(), json!(title));
    d.insert("tombstone".into(), json!(false));
    d.insert(
        "x_approximate_distribution".into(),
        json!(if j % 2 == 0 { "NORMAL" } else { "COUNT" }),
    );
    if j % 10 == 9 {
        d.insert("x_unknown_dataset_field".into(), json!({"added": "later"}));
    }
    d.insert("__cid".into(), json!(cid));
    d.insert("__cvid".into(), json!(cvid));
}
