//! The command line: the facet options, generated from the catalogue's
//! facet table (`--<option>` and `--exclude-<option>` for each facet), and
//! the options that do not depend on a facet.

use clap::Parser;
pub(crate) use cxg_terms::args::{FacetArgs, Request};
use std::path::{Path, PathBuf};
#[cfg(test)]
use {cxg_catalog::facets::FACETS, cxg_terms::args::option_name};

const EXAMPLES: &str = "\
  # human lung (and every part and kind of lung), normal, no spatial assays, no preprints
  cxg-select --ontology data/ontology --organism 'Homo sapiens' --tissue lung \\
    --disease normal --exclude-assay 'spatial transcriptomics' --no-preprints datasets.jsonl

  # ids work as well as labels and synonyms; values of one option are OR'ed
  cxg-select --ontology data/ontology --disease MONDO:0100096 --disease 'lung cancer' datasets.jsonl

  # the term itself only, no descendants
  cxg-select --ontology data/ontology --exact --tissue lung datasets.jsonl

  # without ontology files, on purpose: ids and labels as they appear in the
  # data, no descendants (without --no-ontology such a selection is an error)
  cxg-select --no-ontology --organism 'Mus musculus' --suspension-type nucleus datasets.jsonl

  # from the GET /datasets index (an array), with cell counts and jq for anything else
  cxg-select --min-cells 10000 --where '.assets | length > 0' datasets_index.json

  # the versions and SHA-256s of the ontology files used, on stderr
  CXG_ONTOLOGY=data/ontology cxg-select --verbose --tissue brain datasets.jsonl > brain.jsonl

  # index every ontology file now (make ontologies does), not on first use
  cxg-select --ontology data/ontology --prepare

  # a shared ontology folder you cannot write: keep the indexes elsewhere
  cxg-select --ontology /shared/ontology --index-dir ~/.cache/cxg-index --tissue lung datasets.jsonl";

/// Choose dataset records by ontology term, with descendants.
///
/// Reads dataset records (JSON Lines as cxg-datasets writes them, or a JSON
/// array such as the GET /datasets index) and writes the selected ones,
/// unchanged, as JSON Lines: a JSON Lines input line is written byte for
/// byte, as read (surrounding spaces and tabs and the \r of CRLF included;
/// "\n" is added only where the last line lacks one); an element of an
/// array, or a record spread over several lines, is written as one compact
/// line. Fields no option reads pass through whatever they hold; a field an
/// option reads that has an unexpected type is that record's problem: it is
/// named on stderr and left out, and the exit status is 1.
/// Values of one option are OR'ed, different options are AND'ed, and an
/// --exclude-* option removes a record if any of its terms matches. A
/// value is an ontology id, a label or a synonym, without regard to case;
/// with --ontology it matches the term and every descendant (is_a and
/// part_of). `unknown` and `na` match only themselves. --tissue and
/// --tissue-type given together must hold for the same tissue entry (a
/// tissue type belongs to a tissue entry): `--tissue lung --tissue-type
/// organoid` selects lung organoids, not a lung tissue beside a brain
/// organoid; excludes remove a record if any entry matches. Every value's
/// resolution, its number of matched records, and records in and out are
/// reported on stderr; a value that is neither a known term nor present in
/// the data is an error (exit 2) with the closest known labels, and so is a
/// value of a facet whose ontology file is absent, unless --no-ontology
/// says that matching without descendants is intended.
#[derive(Parser, Debug, Default)]
#[command(name = "cxg-select", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Dataset records: JSON Lines or a JSON array (`-` or none: stdin)
    pub(crate) file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) facets: FacetArgs,

    /// Folder of cellxgene-ontology-guide files (<NAME>-ontology-<VERSION>.json
    /// or .json.zst), as `make ontologies` downloads them; without it no
    /// descendants are included. Each file is indexed on first use into
    /// DIR/.index/ (rebuilt when the file changes). Default: $CXG_ONTOLOGY
    /// (unset when empty)
    #[arg(long, value_name = "DIR")]
    pub(crate) ontology: Option<PathBuf>,
    /// Select without ontology files, on purpose: no folder is read (not
    /// even $CXG_ONTOLOGY), and a value matches only the records that name
    /// that very term, none of its descendants. Without this option, a
    /// value of a facet whose ontology file is absent is an error (exit 2)
    #[arg(long, conflicts_with_all = ["ontology", "prepare", "index_dir"])]
    pub(crate) no_ontology: bool,
    /// Match each term alone, without its descendants
    #[arg(long)]
    pub(crate) exact: bool,
    /// Remove records whose collection is a preprint (unknown status is kept
    /// and counted)
    #[arg(long)]
    pub(crate) no_preprints: bool,
    /// Remove records with fewer than N cells (`cell_count`; records without
    /// one are kept and counted)
    #[arg(long, value_name = "N")]
    pub(crate) min_cells: Option<u64>,
    /// Keep only records for which this jq expression is truthy; a record on
    /// which it fails is named on stderr, left out, and the exit status is 1
    #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true)]
    pub(crate) where_: Option<String>,
    /// Also print the ontology files used: version, path, SHA-256 (computed
    /// now; an index made from other bytes is then rebuilt), terms, load time
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Index every ontology file of the --ontology folder that has no
    /// current index, then exit without reading records (`make ontologies`
    /// runs this, so that the first selection is fast); indexes of files no
    /// longer there are removed. Exit 1 when an index cannot be kept
    #[arg(long)]
    pub(crate) prepare: bool,
    /// Keep the ontology indexes in DIR (created if needed) instead of
    /// <ontology folder>/.index, for a folder you cannot write. Default:
    /// $CXG_ONTOLOGY_INDEX
    #[arg(long, value_name = "DIR")]
    pub(crate) index_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&Path> {
        self.out.output.as_deref()
    }
}

impl Args {
    /// The facet options given, includes (in table order) then excludes.
    pub(crate) fn requests(&self) -> &[Request] {
        &self.facets.0
    }

    /// The ontology folder's options.
    pub(crate) fn folder(&self) -> cxg_terms::folder::Options {
        cxg_terms::folder::Options {
            ontology: self.ontology.clone(),
            index_dir: self.index_dir.clone(),
            hash: self.verbose,
            must_keep: self.prepare,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_facet_has_an_option_and_an_exclude_option() {
        let a = Args::try_parse_from([
            "cxg-select",
            "--exclude-tissue-type",
            "organoid",
            "--suspension-type",
            "cell",
            "--tissue",
            "lung",
            "--tissue",
            "brain",
        ])
        .unwrap();
        let got: Vec<(&str, bool, &[String])> = a
            .requests()
            .iter()
            .map(|r| (FACETS[r.facet].option, r.exclude, &r.values[..]))
            .collect();
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                ("tissue", false, &v(&["lung", "brain"])[..]),
                ("suspension-type", false, &v(&["cell"])[..]),
                ("tissue-type", true, &v(&["organoid"])[..]),
            ]
        );
        let cmd = <Args as clap::CommandFactory>::command();
        for f in &FACETS {
            for exclude in [false, true] {
                let name = option_name(f, exclude);
                assert!(
                    cmd.get_arguments()
                        .any(|a| a.get_long() == Some(name.as_str())),
                    "{name}"
                );
            }
        }
        assert!(Args::try_parse_from(["cxg-select", "--tissue"]).is_err());
    }
}
