//! cxg-terms: ontology terms for the tools that select by them (cxg-select
//! chooses dataset records, cxg-obs counts cells): the facet options,
//! generated from the catalogue's facet table, the cellxgene-ontology-guide
//! files and their kept indexes, and what a value of an option resolves to
//! (a term found by id, label or synonym, with its descendants).
//!
//! By concern: `age` (the ages of development stages), `args` (the facet options), `folder` (the ontology folder
//! of a run and `--prepare`), `ontology` and `index` (one guide file and
//! its kept index), `resolve` (what each value matches), `suggest` ("did
//! you mean"), `report` (words of the reports on stderr).

pub mod age;
pub mod args;
pub mod folder;
pub mod index;
pub mod ontology;
pub mod report;
pub mod resolve;
pub mod suggest;
