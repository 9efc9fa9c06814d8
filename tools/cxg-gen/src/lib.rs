//! cxg-gen: a deterministic generator of snapshot folders that
//! `cxg-serve` serves as the curation API. From a seed it builds the
//! collections list, the full collections, the per-dataset objects and the
//! datasets index, all agreeing with each other, with the awkward cases of
//! the real API (null or empty publisher_metadata, consortium authors,
//! collections without datasets, several tissues, quotes/commas/newlines
//! and unicode in names, unknown extra fields, missing optional keys).

pub mod assets;

use clap::Parser;
use cxg_core::io::write_file_atomic;
use cxg_core::time::civil_date;
use cxg_core::{cli::warn, Error, Outcome, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # the committed sample (about 20 collections, 100 datasets)
  cxg-gen --seed 1 --collections 20 --datasets 100 --unindexed 2 tests/fixtures/snapshot

  # the size of CELLxGENE Discover today, then serve it
  cxg-gen --seed 7 --collections 400 --datasets 2500 /tmp/today
  cxg-serve --port 0 /tmp/today

  # a snapshot where 3 datasets were removed after the list was published
  cxg-gen --seed 2 --collections 30 --datasets 200 --gone 3 /tmp/gone

  # with H5AD file contents (1-64 kB each) for cxg-serve --local-assets
  cxg-gen --seed 3 --datasets 20 --assets /tmp/files

  # one 1 GiB file, and one sparse file over 4 GiB
  cxg-gen --collections 1 --datasets 1 --assets --asset-bytes 1073741824 /tmp/big
  cxg-gen --collections 1 --datasets 1 --assets --sparse-assets --asset-bytes 5000000000 /tmp/huge";

/// The largest snapshot made: 80 times the size of CELLxGENE Discover
/// today, a few GB of JSON, held in memory while it is written.
pub const MAX_COLLECTIONS: usize = 200_000;
pub const MAX_DATASETS: usize = 2_000_000;

/// Generate a consistent snapshot folder of the curation API from a seed.
#[derive(Parser, Debug, Clone)]
#[command(name = "cxg-gen", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Folder to create (must not exist, unless --force)
    pub out_dir: PathBuf,
    /// Seed: the same seed and sizes give byte-identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of collections (1 to 200,000)
    #[arg(long, default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_COLLECTIONS as u64))]
    pub collections: usize,
    /// Number of datasets, spread over the collections (0 to 2,000,000)
    #[arg(long, default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_DATASETS as u64))]
    pub datasets: usize,
    /// Datasets left out of datasets.json (a stale index; per-dataset GET works)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub unindexed: usize,
    /// Datasets still listed in collections but removed: per-dataset GET answers 410
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub gone: usize,
    /// Replace OUT_DIR if it already holds a snapshot
    #[arg(long)]
    pub force: bool,
    /// Write only collections.json (fast; for benchmarks of the CPU stages)
    #[arg(long)]
    pub list_only: bool,
    /// Also write the H5AD files under OUT_DIR/assets/ (with their ETags), of
    /// the sizes the snapshot's filesize says; the sizes come from --asset-bytes
    #[arg(long, conflicts_with = "list_only")]
    pub assets: bool,
    /// Size of each H5AD file with --assets: N or MIN-MAX bytes (at most
    /// 4 GiB, or 64 GiB with --sparse-assets; the files must fit in the
    /// free space of OUT_DIR's filesystem)
    #[arg(long, default_value = "1000-64000", value_name = "N|MIN-MAX", value_parser = assets::parse_bytes_range, requires = "assets")]
    pub asset_bytes: (u64, u64),
    /// With --assets: all-zero sparse files (instant at any size), ETags of an uncheckable form
    #[arg(long, requires = "assets")]
    pub sparse_assets: bool,
    /// Free bytes to assume on OUT_DIR's filesystem (tests)
    #[arg(long, hide = true, env = "CXG_GEN_FREE_BYTES")]
    pub assume_free_bytes: Option<u64>,
}

/// The largest asset file written with real contents (--asset-bytes).
pub const MAX_ASSET_BYTES: u64 = 4 << 30;
/// The largest sparse asset file (--sparse-assets): no disk blocks, but
/// every reader of it would still see that many bytes.
pub const MAX_SPARSE_ASSET_BYTES: u64 = 64 << 30;

/// Refuse asset sizes beyond the bounds.
fn check_asset_bytes(args: &Args) -> Result<()> {
    let (limit, what) = if args.sparse_assets {
        (MAX_SPARSE_ASSET_BYTES, "64 GiB with --sparse-assets")
    } else {
        (
            MAX_ASSET_BYTES,
            "4 GiB (larger files only as --sparse-assets, up to 64 GiB)",
        )
    };
    if args.asset_bytes.1 > limit {
        return Err(Error::input(format!(
            "--asset-bytes {} is more than the limit of {what}",
            args.asset_bytes.1
        )));
    }
    Ok(())
}

/// Refuse asset files that do not fit on OUT_DIR's filesystem.
fn check_asset_space(args: &Args, snap: &Snapshot) -> Result<()> {
    if args.sparse_assets || snap.assets.is_empty() {
        return Ok(());
    }
    let need: u64 = snap.assets.values().sum();
    let free = match args.assume_free_bytes {
        Some(n) => n,
        None => cxg_core::io::free_space(&args.out_dir).map_err(|e| {
            Error::input(format!(
                "cannot read the free space of '{}': {e}",
                args.out_dir.display()
            ))
        })?,
    };
    if need > free {
        return Err(Error::input(format!(
            "not enough space for '{}': {} asset files need {need} bytes, {free} bytes are available",
            args.out_dir.display(),
            snap.assets.len()
        )));
    }
    Ok(())
}

/// splitmix64: small, fast and reproducible across platforms.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        let h = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-{}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            ["8", "9", "a", "b"][(b >> 62) as usize],
            &h[17..20],
            &h[20..32]
        )
    }
}

const TISSUES: &[(&str, &str)] = &[
    ("lung", "UBERON:0002048"),
    ("brain", "UBERON:0000955"),
    ("blood", "UBERON:0000178"),
    ("liver", "UBERON:0002107"),
    ("kidney", "UBERON:0002113"),
    ("heart left ventricle", "UBERON:0002084"),
    ("fovea centralis", "UBERON:0001786"),
    ("skin of body", "UBERON:0002097"),
    ("bone marrow", "UBERON:0002371"),
    ("colon", "UBERON:0001155"),
];
const DISEASES: &[(&str, &str)] = &[
    ("normal", "PATO:0000461"),
    ("COVID-19", "MONDO:0100096"),
    ("lung adenocarcinoma", "MONDO:0005061"),
    ("Alzheimer disease", "MONDO:0004975"),
    ("type 2 diabetes mellitus", "MONDO:0005148"),
];
const ORGANISMS: &[(&str, &str)] = &[
    ("Homo sapiens", "NCBITaxon:9606"),
    ("Mus musculus", "NCBITaxon:10090"),
];
const ASSAYS: &[(&str, &str)] = &[
    ("10x 3' v3", "EFO:0009922"),
    ("10x 3' v2", "EFO:0009899"),
    ("Smart-seq2", "EFO:0008931"),
    ("10x multiome", "EFO:0030059"),
];
const CELL_TYPES: &[(&str, &str)] = &[
    ("T cell", "CL:0000084"),
    ("B cell", "CL:0000236"),
    ("macrophage", "CL:0000235"),
    ("neuron", "CL:0000540"),
    ("hepatocyte", "CL:0000182"),
];
const SEXES: &[(&str, &str)] = &[
    ("female", "PATO:0000383"),
    ("male", "PATO:0000384"),
    ("unknown", "unknown"),
];
const STAGES: &[(&str, &str)] = &[
    ("adult", "HsapDv:0000087"),
    ("50-year-old stage", "HsapDv:0000144"),
    ("unknown", "unknown"),
];
const ETHNICITIES: &[(&str, &str)] = &[
    ("European", "HANCESTRO:0005"),
    ("na", "na"),
    ("unknown", "unknown"),
];
const SUSPENSIONS: &[&str] = &["cell", "nucleus", "na"];
const JOURNALS: &[&str] = &[
    "Nature",
    "Cell",
    "Science",
    "Cell Genomics",
    "bioRxiv",
    "Sci. Adv.",
];
const FAMILIES: &[&str] = &[
    "Smith",
    "Müller",
    "Østergaard",
    "O'Brien",
    "García-López",
    "Nguyễn",
    "李",
    "Kowalski",
    "Tanaka",
    "Okafor",
];
const GIVENS: &[&str] = &["Ana", "Jörg", "Mei", "Samir", "Kaiyi", "Zoë", "Pat", "Olu"];
const CONSORTIA: &[&str] = &[
    "Human Cell Atlas Consortium",
    "Tabula Sapiens Consortium",
    "HuBMAP, Inc.",
];
const TOPICS: &[&str] = &[
    "lung", "retina", "immune", "kidney", "brain", "liver", "gut", "skin",
];

fn oe(x: &(&str, &str)) -> Value {
    json!({"label": x.0, "ontology_term_id": x.1})
}

fn oes(rng: &mut Rng, xs: &[(&str, &str)], max: u64) -> Value {
    let n = 1 + rng.below(max);
    let mut seen = Vec::new();
    for _ in 0..n {
        let x = rng.pick(xs);
        if !seen.contains(&x) {
            seen.push(x);
        }
    }
    Value::Array(seen.into_iter().map(oe).collect())
}

/// An ISO-8601 timestamp with microseconds, as the 2024 API wrote them.
fn timestamp(secs: i64, micros: u64) -> String {
    let (y, m, d) = civil_date(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
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

const T0: i64 = 1_546_300_800; // 2019-01-01

struct Collection {
    full: Map<String, Value>,
    datasets: Vec<Map<String, Value>>,
    has_datasets_key: bool,
}

/// The generated snapshot, in memory.
pub struct Snapshot {
    pub collections_list: Vec<Value>,
    pub full_collections: Vec<(String, Value)>,
    pub dataset_objects: Vec<(String, String, Value)>,
    pub index: Vec<Value>,
    pub gone: Vec<String>,
    /// With --assets: each H5AD file name and its size.
    pub assets: std::collections::BTreeMap<String, u64>,
}

/// Build a snapshot (pure: no I/O), deterministic in `args`.
pub fn generate(args: &Args) -> Snapshot {
    let mut rng = Rng::new(args.seed);
    let n = args.collections;
    // Collections 4 and 5 (when present) carry no datasets: one without the
    // key, one with an empty list.
    let empty = |i: usize| n > 6 && (i == 4 || i == 5);
    let holders: Vec<usize> = (0..n).filter(|&i| !empty(i)).collect();
    let mut counts = vec![0usize; n];
    if !holders.is_empty() {
        for k in 0..args.datasets {
            // every holder gets one first, the rest spread at random
            let i = if k < holders.len() {
                holders[k]
            } else {
                *rng.pick(&holders)
            };
            counts[i] += 1;
        }
    }
    let mut cols = Vec::with_capacity(n);
    let mut j = 0usize; // global dataset number
    for (i, &count) in counts.iter().enumerate() {
        let cid = rng.uuid();
        let cvid = rng.uuid();
        let topic = *rng.pick(TOPICS);
        let created = T0 + rng.below(5 * 365 * 86_400) as i64;
        let published = created + rng.below(30 * 86_400) as i64;
        let year = civil_date(published.div_euclid(86_400)).0;
        let mut c = Map::new();
        c.insert("collection_id".into(), json!(cid));
        c.insert(
            "collection_url".into(),
            json!(format!(
                "https://cellxgene.cziscience.com/collections/{cid}"
            )),
        );
        c.insert("collection_version_id".into(), json!(cvid));
        c.insert(
            "consortia".into(),
            if i % 3 == 0 {
                json!([])
            } else {
                json!([rng.pick(CONSORTIA)])
            },
        );
        c.insert("contact_email".into(), json!(format!("lab{i}@example.org")));
        c.insert(
            "contact_name".into(),
            json!(format!("{} {}", rng.pick(GIVENS), rng.pick(FAMILIES))),
        );
        c.insert(
            "created_at".into(),
            json!(timestamp(created, rng.below(1_000_000))),
        );
        if i % 9 != 4 {
            c.insert("curator_name".into(), json!(rng.pick(GIVENS)));
        }
        let name = match i % 6 {
            0 => format!("Atlas of \"human\" {topic}, airway & nose\nsecond line ({i})"),
            3 => format!("Étude unicellulaire du {topic} — 细胞图谱 {i}"),
            _ => format!("A single-cell atlas of the {topic} {i}"),
        };
        c.insert(
            "description".into(),
            json!(format!(
                "Profiles of the {topic}, with commas, \"quotes\"\nand newlines."
            )),
        );
        let doi = format!("10.{}/gen.{year}.{i:05}", 1000 + rng.below(9000));
        let pm = match (i % 7, i % 11) {
            (1, _) => Value::Null,
            (_, 2) => json!({}),
            _ => {
                let mut authors = Vec::new();
                if i % 5 == 3 {
                    authors.push(json!({"name": rng.pick(CONSORTIA)}));
                }
                for _ in 0..1 + rng.below(4) {
                    authors.push(json!({"family": rng.pick(FAMILIES), "given": rng.pick(GIVENS)}));
                }
                let journal = *rng.pick(JOURNALS);
                let (y, m, d) = civil_date(published.div_euclid(86_400));
                json!({
                    "authors": authors,
                    "is_preprint": journal == "bioRxiv",
                    "journal": journal,
                    "published_at": (published - published.rem_euclid(86_400)) as f64,
                    "published_day": d,
                    "published_month": m,
                    "published_year": y
                })
            }
        };
        c.insert(
            "doi".into(),
            if pm.is_null() {
                Value::Null
            } else {
                json!(doi)
            },
        );
        c.insert(
            "links".into(),
            json!([{"link_name": "", "link_type": "RAW_DATA", "link_url": format!("https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE{}", 100_000 + i)}]),
        );
        c.insert("name".into(), json!(name));
        c.insert(
            "published_at".into(),
            json!(timestamp(published, rng.below(1_000_000))),
        );
        c.insert("publisher_metadata".into(), pm);
        if i % 9 != 4 {
            let revised = if i % 2 == 0 {
                json!(timestamp(
                    published + rng.below(200 * 86_400) as i64,
                    rng.below(1_000_000)
                ))
            } else {
                Value::Null
            };
            c.insert("revised_at".into(), revised);
        }
        c.insert("revising_in".into(), Value::Null);
        c.insert("revision_of".into(), Value::Null);
        c.insert("visibility".into(), json!("PUBLIC"));
        if i % 4 == 0 {
            c.insert(
                "x_unknown_future_field".into(),
                json!({"nested": [1, "two", null]}),
            );
        }
        let mut datasets = Vec::with_capacity(count);
        for _ in 0..count {
            datasets.push(dataset(&mut rng, j, &cid, &cvid, published));
            j += 1;
        }
        // as the API serves them: datasets by dataset_id, descending
        datasets.sort_by(|a, b| b["dataset_id"].as_str().cmp(&a["dataset_id"].as_str()));
        cols.push(Collection {
            full: c,
            datasets,
            has_datasets_key: !(n > 6 && i == 4),
        });
    }
    assemble(args, &mut rng, cols)
}

fn dataset(
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
    let mut assets = vec![];
    if j % 29 != 13 {
        let size = if j % 31 == 17 {
            -1
        } else {
            1_000_000 + rng.below(4_000_000_000) as i64
        };
        assets.push(json!({"filesize": size, "filetype": "H5AD", "url": format!("https://datasets.cellxgene.cziscience.com/{dvid}.h5ad")}));
    }
    if j % 3 == 0 || j % 29 == 13 {
        assets.push(json!({"filesize": 500_000 + rng.below(900_000_000), "filetype": "RDS", "url": format!("https://datasets.cellxgene.cziscience.com/{dvid}.rds")}));
    }
    if j % 37 == 0 {
        assets.push(json!({"filesize": 7_000_000, "filetype": "ATAC_FRAGMENT", "url": format!("https://datasets.cellxgene.cziscience.com/{}-fragment.tsv.bgz", rng.uuid())}));
    }
    d.insert("assets".into(), Value::Array(assets));
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
        json!(format!("Dataset Version: https://datasets.cellxgene.cziscience.com/{dvid}.h5ad curated and distributed by CZ CELLxGENE Discover in Collection: https://cellxgene.cziscience.com/collections/{cid}")),
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
    d.insert("suspension_type".into(), json!([rng.pick(SUSPENSIONS)]));
    let tissue = match (j % 13, j % 17) {
        (_, 3) => json!([]),
        (5, _) => Value::Array(
            TISSUES[..3]
                .iter()
                .map(|t| {
                    let mut o = oe(t);
                    o["tissue_type"] = json!("tissue");
                    o
                })
                .collect(),
        ),
        _ => {
            let mut o = oe(rng.pick(TISSUES));
            o["tissue_type"] = json!(if j % 11 == 0 { "organoid" } else { "tissue" });
            json!([o])
        }
    };
    d.insert("tissue".into(), tissue);
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
    // remembered for the index; removed before the dataset is written
    d.insert("__cid".into(), json!(cid));
    d.insert("__cvid".into(), json!(cvid));
    d
}

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
const NOT_IN_INDEX: &[&str] = &[
    "default_embedding",
    "embeddings",
    "feature_biotype",
    "feature_count",
    "feature_reference",
    "raw_data_location",
];

fn assemble(args: &Args, rng: &mut Rng, cols: Vec<Collection>) -> Snapshot {
    let total: usize = cols.iter().map(|c| c.datasets.len()).sum();
    // Choose the gone and unindexed datasets deterministically.
    let mut all: Vec<usize> = (0..total).collect();
    for k in (1..all.len()).rev() {
        let r = rng.below(k as u64 + 1) as usize;
        all.swap(k, r);
    }
    let gone_n = args.gone.min(total);
    let gone_set: std::collections::HashSet<usize> = all[..gone_n].iter().copied().collect();
    let unindexed_set: std::collections::HashSet<usize> = all
        [gone_n..(gone_n + args.unindexed).min(total)]
        .iter()
        .copied()
        .collect();

    let mut snap = Snapshot {
        collections_list: Vec::new(),
        full_collections: Vec::new(),
        dataset_objects: Vec::new(),
        index: Vec::new(),
        gone: Vec::new(),
        assets: Default::default(),
    };
    let mut k = 0usize;
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
            let mut preview = Map::new();
            for key in PREVIEW_KEYS {
                if let Some(v) = d.get(*key) {
                    preview.insert((*key).into(), v.clone());
                }
            }
            previews.push(Value::Object(preview));
            full_ds.push(Value::Object(d.clone()));
            if gone_set.contains(&k) {
                snap.gone.push(did);
                k += 1;
                continue;
            }
            let mut single = d.clone();
            single.insert("processing_status".into(), json!("SUCCESS"));
            let cid = col.full["collection_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            snap.dataset_objects
                .push((cid, did.clone(), sorted(Value::Object(single.clone()))));
            if !unindexed_set.contains(&k) {
                let mut ix = single;
                for key in NOT_IN_INDEX {
                    ix.shift_remove(*key);
                }
                ix.insert("collection_doi".into(), col.full["doi"].clone());
                let label = col.full["publisher_metadata"]
                    .get("authors")
                    .and_then(|a| a.get(0))
                    .and_then(|a| a.get("family").or_else(|| a.get("name")))
                    .and_then(Value::as_str)
                    .map(|f| {
                        let pm = &col.full["publisher_metadata"];
                        format!(
                            "{f} et al. ({}) {}",
                            pm["published_year"],
                            pm["journal"].as_str().unwrap_or("")
                        )
                    });
                ix.insert("collection_doi_label".into(), json!(label));
                ix.insert("collection_id".into(), col.full["collection_id"].clone());
                ix.insert("collection_name".into(), col.full["name"].clone());
                ix.insert(
                    "collection_version_id".into(),
                    col.full["collection_version_id"].clone(),
                );
                ix.insert("revision_of_collection".into(), Value::Null);
                ix.insert("revision_of_dataset".into(), Value::Null);
                ix.insert("visibility".into(), json!("PUBLIC"));
                let key = ix["published_at"].as_str().unwrap_or_default().to_string();
                indexed.push((key, did, sorted(Value::Object(ix))));
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
        let (seed, range) = (args.seed, args.asset_bytes);
        let mut names = std::collections::BTreeMap::new();
        for (_, _, d) in &mut snap.dataset_objects {
            assets::patch_sizes(d, seed, range, &mut names);
        }
        snap.assets = names;
        let mut all = std::collections::BTreeMap::new();
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
    snap
}

fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = cxg_json::stream::write_compact(&mut out, v);
    out
}

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p)
        .map_err(|e| Error::input(format!("cannot create '{}': {e}", p.display())))
}

/// Write the snapshot into a fresh folder next to `out`, then rename it
/// into place, so a failed run leaves no half-written snapshot.
pub fn write(snap: &Snapshot, out: &Path, force: bool, list_only: bool) -> Result<()> {
    write_with_assets(snap, out, force, list_only, 0, false)
}

/// [`write`], plus the asset files of `snap.assets` (contents from `seed`).
pub fn write_with_assets(
    snap: &Snapshot,
    out: &Path,
    force: bool,
    list_only: bool,
    seed: u64,
    sparse: bool,
) -> Result<()> {
    if out.exists() {
        if !force {
            return Err(Error::input(format!(
                "'{}' already exists (use --force to replace a snapshot)",
                out.display()
            )));
        }
        if !out.join("collections.json").exists() {
            return Err(Error::input(format!(
                "'{}' exists and does not look like a snapshot (no collections.json); not replacing it",
                out.display()
            )));
        }
    }
    let name = out
        .file_name()
        .ok_or_else(|| Error::input(format!("'{}' is not a folder name", out.display())))?;
    let tmp = out.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(p) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(p);
    }
    // a signal removes the half-written folder
    cxg_core::io::create_temp_dir(&tmp)
        .map_err(|e| Error::input(format!("cannot create '{}': {e}", tmp.display())))?;
    let result = (|| {
        mkdir(&tmp.join("collections"))?;
        write_file_atomic(
            &tmp.join("collections.json"),
            &to_bytes(&Value::Array(snap.collections_list.clone())),
        )?;
        let (full, objects): (&[_], &[_]) = if list_only {
            (&[], &[])
        } else {
            write_file_atomic(
                &tmp.join("datasets.json"),
                &to_bytes(&Value::Array(snap.index.clone())),
            )?;
            (&snap.full_collections, &snap.dataset_objects)
        };
        for (cid, c) in full {
            write_file_atomic(
                &tmp.join("collections").join(format!("{cid}.json")),
                &to_bytes(c),
            )?;
        }
        for (cid, did, d) in objects {
            let dir = tmp.join("collections").join(cid).join("datasets");
            mkdir(&dir)?;
            write_file_atomic(&dir.join(format!("{did}.json")), &to_bytes(d))?;
        }
        if !snap.gone.is_empty() {
            write_file_atomic(&tmp.join("gone.json"), &to_bytes(&json!(snap.gone)))?;
        }
        if !snap.assets.is_empty() {
            mkdir(&tmp.join("assets"))?;
            for (name, size) in &snap.assets {
                assets::write_asset(&tmp.join("assets"), seed, name, *size, sparse)?;
            }
        }
        if out.exists() {
            std::fs::remove_dir_all(out)
                .map_err(|e| Error::input(format!("cannot replace '{}': {e}", out.display())))?;
        }
        std::fs::rename(&tmp, out)
            .map_err(|e| Error::input(format!("cannot create '{}': {e}", out.display())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    cxg_core::io::forget_temp_dir(&tmp);
    result
}

pub fn run(args: Args) -> Result<Outcome> {
    if args.unindexed.saturating_add(args.gone) > args.datasets {
        return Err(cxg_core::Error::input(format!(
            "--unindexed {} and --gone {} together exceed --datasets {}",
            args.unindexed, args.gone, args.datasets
        )));
    }
    if args.assets {
        check_asset_bytes(&args)?;
    }
    let snap = generate(&args);
    if args.assets {
        check_asset_space(&args, &snap)?;
    }
    write_with_assets(
        &snap,
        &args.out_dir,
        args.force,
        args.list_only,
        args.seed,
        args.sparse_assets,
    )?;
    warn(format_args!(
        "wrote '{}': {} collections, {} datasets ({} in the index, {} gone)",
        args.out_dir.display(),
        snap.collections_list.len(),
        snap.dataset_objects.len() + snap.gone.len(),
        snap.index.len(),
        snap.gone.len()
    ));
    if args.assets {
        warn(format_args!(
            "wrote {} H5AD files ({} bytes) under '{}'",
            snap.assets.len(),
            snap.assets.values().sum::<u64>(),
            args.out_dir.join("assets").display()
        ));
    }
    Ok(Outcome::Complete)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(c: usize, d: usize) -> Args {
        Args {
            out_dir: PathBuf::from("unused"),
            seed: 3,
            collections: c,
            datasets: d,
            unindexed: 2,
            gone: 1,
            force: false,
            list_only: false,
            assets: false,
            asset_bytes: (1000, 64000),
            sparse_assets: false,
            assume_free_bytes: None,
        }
    }

    #[test]
    fn deterministic_and_consistent() {
        let a = generate(&args(20, 100));
        let b = generate(&args(20, 100));
        assert_eq!(
            to_bytes(&Value::Array(a.index.clone())),
            to_bytes(&Value::Array(b.index.clone()))
        );
        let listed: usize = a
            .collections_list
            .iter()
            .map(|c| {
                c.get("datasets")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum();
        assert_eq!(listed, 100);
        assert_eq!(a.gone.len(), 1);
        assert_eq!(a.dataset_objects.len(), 99);
        assert_eq!(a.index.len(), 97);
        assert!(a.collections_list[4].get("datasets").is_none());
        assert_eq!(a.collections_list[5]["datasets"], json!([]));
        assert!(a.collections_list[1]["publisher_metadata"].is_null());
        for ix in &a.index {
            assert!(ix.get("collection_id").is_some() && ix.get("embeddings").is_none());
            assert!(ix.get("__cid").is_none());
        }
    }

    #[test]
    fn uuids_and_timestamps() {
        let mut r = Rng::new(1);
        for _ in 0..100 {
            assert!(cxg_catalog::ids::is_uuid(&r.uuid()));
        }
        assert_eq!(timestamp(T0 + 3661, 5), "2019-01-01T01:01:01.000005+00:00");
    }
}
