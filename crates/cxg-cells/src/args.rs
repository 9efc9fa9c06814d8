//! The options of a cell filter, for a tool to flatten into its own
//! (`#[command(flatten)] cells: CellArgs`): cxg-select's facet options
//! (built from the same facet table), `--primary`, `--normal`, an age
//! range, and the ontology folder that resolves terms and ages.

use clap::Args;
use cxg_terms::args::{option_name, FacetArgs};
use cxg_terms::folder;
use std::path::PathBuf;

const CELLS: &str = "Cells";

/// The cell filter's options. See [`crate::filter::CellFilter`].
#[derive(Args, Debug, Default, Clone)]
pub struct CellArgs {
    #[command(flatten)]
    pub facets: FacetArgs,
    /// Keep only primary cells (is_primary_data true; a cell may be in
    /// several datasets, and is primary in one)
    #[arg(long, help_heading = CELLS)]
    pub primary: bool,
    /// Keep only cells of normal tissue (disease PATO:0000461 'normal')
    #[arg(long, help_heading = CELLS)]
    pub normal: bool,
    /// Keep only cells of donors at least this old (years; from the
    /// development stage, by the HsapDv and MmusDv files: a stage that is
    /// partly younger, or of no known age, is counted apart and kept only
    /// with --keep-unknown-age)
    #[arg(long, value_name = "YEARS", value_parser = years, help_heading = CELLS)]
    pub min_age: Option<f64>,
    /// Keep only cells of donors younger than this (years: --max-age 65
    /// keeps a 64-year-old, not a 65-year-old); prenatal stages are
    /// younger than 0
    #[arg(long, value_name = "YEARS", value_parser = years, help_heading = CELLS)]
    pub max_age: Option<f64>,
    /// Keep the cells whose age cannot be told within --min-age/--max-age
    /// (they are counted in age_unknown_cell_count either way)
    #[arg(long, help_heading = CELLS)]
    pub keep_unknown_age: bool,
    /// Match each term alone, without its descendants
    #[arg(long, help_heading = CELLS)]
    pub exact: bool,
    /// Folder of cellxgene-ontology-guide files, as `make ontologies`
    /// downloads them (terms by label and synonym, descendants, ages).
    /// Default: $CXG_ONTOLOGY (unset when empty)
    #[arg(long, value_name = "DIR", help_heading = CELLS)]
    pub ontology: Option<PathBuf>,
    /// Keep the ontology indexes in DIR instead of <ontology folder>/.index.
    /// Default: $CXG_ONTOLOGY_INDEX
    #[arg(long, value_name = "DIR", help_heading = CELLS)]
    pub index_dir: Option<PathBuf>,
}

/// An age in years: a finite number, at least 0.
fn years(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not an age in years (a number, at least 0)"
        )),
    }
}

impl CellArgs {
    /// Whether any option filters cells (else every cell is kept).
    pub fn filters(&self) -> bool {
        !self.facets.0.is_empty()
            || self.primary
            || self.normal
            || self.min_age.is_some()
            || self.max_age.is_some()
    }

    /// The ontology folder's options.
    pub fn folder(&self) -> folder::Options {
        folder::Options {
            ontology: self.ontology.clone(),
            index_dir: self.index_dir.clone(),
            hash: false,
            must_keep: false,
        }
    }

    /// The filter's options as given, in a fixed order (facets in table
    /// order, includes then excludes, then the others), without the
    /// folder: what a record says was kept, the same wherever it ran.
    pub fn given(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.facets.0 {
            for v in &r.values {
                out.push(format!(
                    "--{}",
                    option_name(&cxg_catalog::facets::FACETS[r.facet], r.exclude)
                ));
                out.push(v.clone());
            }
        }
        let flags = [
            (self.primary, "--primary"),
            (self.normal, "--normal"),
            (self.exact, "--exact"),
        ];
        out.extend(flags.iter().filter(|f| f.0).map(|f| f.1.to_string()));
        for (v, name) in [(self.min_age, "--min-age"), (self.max_age, "--max-age")] {
            if let Some(v) = v {
                out.push(name.to_string());
                out.push(v.to_string());
            }
        }
        if self.keep_unknown_age {
            out.push("--keep-unknown-age".into());
        }
        out
    }
}
