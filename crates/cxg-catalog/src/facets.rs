//! The facets of a CELLxGENE dataset, once: how each is named in a dataset
//! record, as a cxg-select option and in an H5AD's `obs` table, which
//! ontology files its terms come from, and its fixed vocabulary. Selection
//! (its options are generated from this table), diffing, cell summaries,
//! the generator and the CSV presets read it; adding a facet is one entry.

/// How a facet's values are written in a dataset record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A list of `{label, ontology_term_id}` objects.
    Terms,
    /// The `tissue_type` of each `tissue` entry: a fixed vocabulary.
    TissueType,
    /// A list of strings from a fixed vocabulary.
    Strings,
}

/// One facet. See the module documentation.
#[derive(Debug)]
pub struct Facet {
    /// The cxg-select option (`cell-type`, `--exclude-cell-type`).
    pub option: &'static str,
    /// The dataset record's field (`cell_type`).
    pub field: &'static str,
    /// The `obs` column of the term ids (`cell_type_ontology_term_id`).
    pub obs_column: &'static str,
    /// The `obs` column of the labels, when the schema has one.
    pub obs_label: Option<&'static str>,
    pub kind: Kind,
    /// The ontology-guide files whose terms this facet uses.
    pub ontologies: &'static [&'static str],
    /// Guide files consulted only for a value none of `ontologies` knows
    /// (Cellosaurus: 167,000 cell lines, loaded only when needed).
    pub fallback: &'static [&'static str],
    /// The values of a fixed vocabulary.
    pub vocabulary: &'static [&'static str],
    /// The branches the facet's terms come from (the CELLxGENE schema's
    /// rule), when its ontology holds other things too; empty: any term.
    pub roots: &'static [&'static str],
    /// The help of the cxg-select option (`--cell-type`).
    pub help: &'static str,
    /// The help of its exclude option (`--exclude-cell-type`).
    pub exclude_help: &'static str,
}

/// A facet of ontology terms.
const fn terms(
    option: &'static str,
    field: &'static str,
    obs_column: &'static str,
    ontologies: &'static [&'static str],
    help: &'static str,
    exclude_help: &'static str,
) -> Facet {
    Facet {
        option,
        field,
        obs_column,
        obs_label: Some(field),
        kind: Kind::Terms,
        ontologies,
        fallback: &[],
        vocabulary: &[],
        roots: &[],
        help,
        exclude_help,
    }
}

/// Every facet, in the order cxg-select lists its options.
pub const FACETS: [Facet; 10] = [
    terms(
        "organism",
        "organism",
        "organism_ontology_term_id",
        &["NCBITaxon"],
        "Organism (NCBITaxon id or label, e.g. 'Homo sapiens')",
        "Remove records with this organism",
    ),
    Facet {
        fallback: &["CVCL"],
        ..terms(
            "tissue",
            "tissue",
            "tissue_ontology_term_id",
            &["UBERON", "CL", "ZFA", "FBbt", "WBbt"],
            "Tissue (UBERON; CL for cell cultures, Cellosaurus for cell lines; descendants included)",
            "Remove records with this tissue (or a descendant)",
        )
    },
    Facet {
        option: "tissue-type",
        field: "tissue",
        obs_column: "tissue_type",
        obs_label: None,
        kind: Kind::TissueType,
        ontologies: &[],
        fallback: &[],
        vocabulary: &[
            "tissue",
            "organoid",
            "primary cell culture",
            "cell culture",
            "cell line",
        ],
        roots: &[],
        help: "Tissue type: tissue, organoid, cell culture (= primary cell culture), cell line; \
               with --tissue, both must hold for the same tissue entry",
        exclude_help: "Remove records with this tissue type",
    },
    terms(
        "disease",
        "disease",
        "disease_ontology_term_id",
        &["MONDO", "PATO"],
        "Disease (MONDO, or 'normal' PATO:0000461)",
        "Remove records with this disease (or a descendant)",
    ),
    Facet {
        // assay by molecule, single cell library construction
        roots: &["EFO:0002772", "EFO:0010183"],
        ..terms(
            "assay",
            "assay",
            "assay_ontology_term_id",
            &["EFO"],
            "Assay (EFO, e.g. '10x technology')",
            "Remove records with this assay (e.g. 'spatial transcriptomics')",
        )
    },
    terms(
        "cell-type",
        "cell_type",
        "cell_type_ontology_term_id",
        &["CL", "ZFA", "FBbt", "WBbt"],
        "Cell type (CL)",
        "Remove records with this cell type (or a descendant)",
    ),
    terms(
        "development-stage",
        "development_stage",
        "development_stage_ontology_term_id",
        &["HsapDv", "MmusDv", "UBERON", "FBdv", "WBls", "ZFA"],
        "Development stage (HsapDv, MmusDv, UBERON)",
        "Remove records with this development stage (or a descendant)",
    ),
    terms(
        "sex",
        "sex",
        "sex_ontology_term_id",
        &["PATO"],
        "Sex (PATO: female, male)",
        "Remove records with this sex",
    ),
    terms(
        "self-reported-ethnicity",
        "self_reported_ethnicity",
        "self_reported_ethnicity_ontology_term_id",
        &["HANCESTRO"],
        "Self-reported ethnicity (HANCESTRO)",
        "Remove records with this self-reported ethnicity",
    ),
    Facet {
        option: "suspension-type",
        field: "suspension_type",
        obs_column: "suspension_type",
        obs_label: None,
        kind: Kind::Strings,
        ontologies: &[],
        fallback: &[],
        vocabulary: &["cell", "nucleus", "na"],
        roots: &[],
        help: "Suspension type: cell, nucleus, na",
        exclude_help: "Remove records with this suspension type",
    },
];

/// The facets whose record field is a list of terms (`{label,
/// ontology_term_id}` objects), in table order: what dataset diffs compare
/// as sets of term ids.
pub fn term_fields() -> impl Iterator<Item = &'static str> {
    FACETS
        .iter()
        .filter(|f| f.kind != Kind::TissueType)
        .map(|f| f.field)
}

/// The disease term of cells from healthy donors.
pub const NORMAL: &str = "PATO:0000461";

/// The two spellings of one tissue type (schema 7.0.0 renamed it).
pub fn tissue_type_aliases(v: &str) -> Vec<String> {
    match v {
        "cell culture" | "primary cell culture" => {
            vec!["cell culture".into(), "primary cell culture".into()]
        }
        _ => vec![v.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_fields_are_unique_and_consistent() {
        let mut options: Vec<&str> = FACETS.iter().map(|f| f.option).collect();
        options.sort_unstable();
        options.dedup();
        assert_eq!(options.len(), FACETS.len());
        for f in &FACETS {
            let named = match f.kind {
                Kind::TissueType => "tissue_type",
                _ => f.field,
            };
            assert_eq!(f.option, named.replace('_', "-"));
            match f.kind {
                Kind::Terms => {
                    assert!(!f.ontologies.is_empty(), "{}", f.option);
                    assert_eq!(f.obs_column, format!("{}_ontology_term_id", f.field));
                }
                Kind::TissueType | Kind::Strings => {
                    assert!(!f.vocabulary.is_empty(), "{}", f.option)
                }
            }
            assert!(!f.help.is_empty() && !f.exclude_help.is_empty());
        }
        assert_eq!(term_fields().count(), 9);
    }
}
