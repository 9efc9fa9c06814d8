//! What the generated records are made of: the terms of each facet a
//! dataset carries, and the words of names, authors and journals.
//!
//! The facets themselves are the catalogue's (`cxg_catalog::facets`): a
//! facet with a fixed vocabulary is drawn from the table's, and the tests
//! check that the datasets carry every facet of the table, with terms
//! from its ontologies. The terms below stay here: the table names
//! ontologies, not terms.

use crate::rng::Rng;
use cxg_catalog::facets::{Kind, FACETS};
use serde_json::{json, Value};

/// The values of the catalogue's facet of record field `field` and `kind`
/// (empty when the table has none).
pub(crate) fn vocabulary(field: &str, kind: Kind) -> &'static [&'static str] {
    FACETS
        .iter()
        .find(|f| f.field == field && f.kind == kind)
        .map_or(&[], |f| f.vocabulary)
}

/// A `{label, ontology_term_id}` object.
pub(crate) fn oe(x: &(&str, &str)) -> Value {
    json!({"label": x.0, "ontology_term_id": x.1})
}

/// 1 to `max` distinct terms of `xs`.
pub(crate) fn oes(rng: &mut Rng, xs: &[(&str, &str)], max: u64) -> Value {
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

pub(crate) const TISSUES: &[(&str, &str)] = &[
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
pub(crate) const DISEASES: &[(&str, &str)] = &[
    ("normal", "PATO:0000461"),
    ("COVID-19", "MONDO:0100096"),
    ("lung adenocarcinoma", "MONDO:0005061"),
    ("Alzheimer disease", "MONDO:0004975"),
    ("type 2 diabetes mellitus", "MONDO:0005148"),
];
pub(crate) const ORGANISMS: &[(&str, &str)] = &[
    ("Homo sapiens", "NCBITaxon:9606"),
    ("Mus musculus", "NCBITaxon:10090"),
];
pub(crate) const ASSAYS: &[(&str, &str)] = &[
    ("10x 3' v3", "EFO:0009922"),
    ("10x 3' v2", "EFO:0009899"),
    ("Smart-seq2", "EFO:0008931"),
    ("10x multiome", "EFO:0030059"),
];
pub(crate) const CELL_TYPES: &[(&str, &str)] = &[
    ("T cell", "CL:0000084"),
    ("B cell", "CL:0000236"),
    ("macrophage", "CL:0000235"),
    ("neuron", "CL:0000540"),
    ("hepatocyte", "CL:0000182"),
];
pub(crate) const SEXES: &[(&str, &str)] = &[
    ("female", "PATO:0000383"),
    ("male", "PATO:0000384"),
    ("unknown", "unknown"),
];
pub(crate) const STAGES: &[(&str, &str)] = &[
    ("adult", "HsapDv:0000087"),
    ("50-year-old stage", "HsapDv:0000144"),
    ("unknown", "unknown"),
];
pub(crate) const ETHNICITIES: &[(&str, &str)] = &[
    ("European", "HANCESTRO:0005"),
    ("na", "na"),
    ("unknown", "unknown"),
];
pub(crate) const JOURNALS: &[&str] = &[
    "Nature",
    "Cell",
    "Science",
    "Cell Genomics",
    "bioRxiv",
    "Sci. Adv.",
];
pub(crate) const FAMILIES: &[&str] = &[
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
pub(crate) const GIVENS: &[&str] = &["Ana", "Jörg", "Mei", "Samir", "Kaiyi", "Zoë", "Pat", "Olu"];
pub(crate) const CONSORTIA: &[&str] = &[
    "Human Cell Atlas Consortium",
    "Tabula Sapiens Consortium",
    "HuBMAP, Inc.",
];
pub(crate) const TOPICS: &[&str] = &[
    "lung", "retina", "immune", "kidney", "brain", "liver", "gut", "skin",
];
