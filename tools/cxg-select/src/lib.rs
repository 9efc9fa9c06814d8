//! cxg-select: choose dataset records by organism, tissue, disease, assay
//! and the other facets, by ontology id, label or synonym, with every
//! descendant term included when the cellxgene-ontology-guide files are at
//! hand. Selected records are written unchanged, one per line.

mod index;
pub mod ontology;
mod records;
mod suggest;

use clap::Parser;
use cxg_core::{cli::warn, Error, Outcome, Result};
use cxg_json::jq::{parse_val, Program};
use ontology::{Indexed, Ontology, Term};
use records::Records;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # human lung (and every part and kind of lung), normal, no spatial assays, no preprints
  cxg-select --ontology data/ontology --organism 'Homo sapiens' --tissue lung \\
    --disease normal --exclude-assay 'spatial transcriptomics' --no-preprints datasets.jsonl

  # ids work as well as labels and synonyms; values of one option are OR'ed
  cxg-select --ontology data/ontology --disease MONDO:0100096 --disease 'lung cancer' datasets.jsonl

  # the term itself only, no descendants
  cxg-select --ontology data/ontology --exact --tissue lung datasets.jsonl

  # without an ontology: ids and labels as they appear in the data
  cxg-select --organism 'Mus musculus' --suspension-type nucleus datasets.jsonl

  # from the GET /datasets index (an array), with cell counts and jq for anything else
  cxg-select --min-cells 10000 --where '.assets | length > 0' datasets_index.json

  # the versions and SHA-256s of the ontology files used, on stderr
  CXG_ONTOLOGY=data/ontology cxg-select --verbose --tissue brain datasets.jsonl > brain.jsonl

  # index every ontology file now (make ontologies does), not on first use
  cxg-select --ontology data/ontology --prepare

  # a shared ontology folder you cannot write: keep the indexes elsewhere
  cxg-select --ontology /shared/ontology --index-dir ~/.cache/cxg-index --tissue lung datasets.jsonl";

/// How a facet's values are found in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A list of `{label, ontology_term_id}` objects.
    Terms,
    /// The `tissue_type` of each `tissue` entry: a fixed vocabulary.
    TissueType,
    /// A list of strings from a fixed vocabulary.
    Strings,
}

struct Facet {
    /// The option name (`cell-type`).
    option: &'static str,
    /// The record field (`cell_type`).
    field: &'static str,
    kind: Kind,
    /// The guide files whose terms this facet uses.
    ontologies: &'static [&'static str],
    /// Guide files consulted only for a value none of `ontologies` knows
    /// (Cellosaurus: 167,000 cell lines, loaded only when needed).
    fallback: &'static [&'static str],
    /// The values of a fixed vocabulary.
    vocabulary: &'static [&'static str],
    /// The branches the facet's terms come from (the CELLxGENE schema's
    /// rule), when its ontology holds other things too; empty: any term.
    roots: &'static [&'static str],
}

const FACETS: [Facet; 10] = [
    Facet {
        option: "organism",
        field: "organism",
        kind: Kind::Terms,
        ontologies: &["NCBITaxon"],
        fallback: &[],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "tissue",
        field: "tissue",
        kind: Kind::Terms,
        ontologies: &["UBERON", "CL", "ZFA", "FBbt", "WBbt"],
        fallback: &["CVCL"],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "tissue-type",
        field: "tissue",
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
    },
    Facet {
        option: "disease",
        field: "disease",
        kind: Kind::Terms,
        ontologies: &["MONDO", "PATO"],
        fallback: &[],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "assay",
        field: "assay",
        kind: Kind::Terms,
        ontologies: &["EFO"],
        fallback: &[],
        vocabulary: &[],
        // assay by molecule, single cell library construction
        roots: &["EFO:0002772", "EFO:0010183"],
    },
    Facet {
        option: "cell-type",
        field: "cell_type",
        kind: Kind::Terms,
        ontologies: &["CL", "ZFA", "FBbt", "WBbt"],
        fallback: &[],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "development-stage",
        field: "development_stage",
        kind: Kind::Terms,
        ontologies: &["HsapDv", "MmusDv", "UBERON", "FBdv", "WBls", "ZFA"],
        fallback: &[],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "sex",
        field: "sex",
        kind: Kind::Terms,
        ontologies: &["PATO"],
        fallback: &[],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "self-reported-ethnicity",
        field: "self_reported_ethnicity",
        kind: Kind::Terms,
        ontologies: &["HANCESTRO"],
        fallback: &[],
        vocabulary: &[],
        roots: &[],
    },
    Facet {
        option: "suspension-type",
        field: "suspension_type",
        kind: Kind::Strings,
        ontologies: &[],
        fallback: &[],
        vocabulary: &["cell", "nucleus", "na"],
        roots: &[],
    },
];

/// The two spellings of one tissue type (schema 7.0.0 renamed it).
fn tissue_type_aliases(v: &str) -> Vec<String> {
    match v {
        "cell culture" | "primary cell culture" => {
            vec!["cell culture".into(), "primary cell culture".into()]
        }
        _ => vec![v.to_string()],
    }
}

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
/// the data is an error (exit 2) with the closest known labels.
#[derive(Parser, Debug, Default)]
#[command(name = "cxg-select", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// Dataset records: JSON Lines or a JSON array (`-` or none: stdin)
    pub file: Option<PathBuf>,

    /// Organism (NCBITaxon id or label, e.g. 'Homo sapiens')
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub organism: Vec<String>,
    /// Tissue (UBERON; CL for cell cultures, Cellosaurus for cell lines; descendants included)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub tissue: Vec<String>,
    /// Tissue type: tissue, organoid, cell culture (= primary cell culture), cell line;
    /// with --tissue, both must hold for the same tissue entry
    #[arg(
        long,
        value_name = "TYPE",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub tissue_type: Vec<String>,
    /// Disease (MONDO, or 'normal' PATO:0000461)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub disease: Vec<String>,
    /// Assay (EFO, e.g. '10x technology')
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub assay: Vec<String>,
    /// Cell type (CL)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub cell_type: Vec<String>,
    /// Development stage (HsapDv, MmusDv, UBERON)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub development_stage: Vec<String>,
    /// Sex (PATO: female, male)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub sex: Vec<String>,
    /// Self-reported ethnicity (HANCESTRO)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub self_reported_ethnicity: Vec<String>,
    /// Suspension type: cell, nucleus, na
    #[arg(
        long,
        value_name = "TYPE",
        help_heading = "Select (repeat an option to OR its values)"
    )]
    pub suspension_type: Vec<String>,

    /// Remove records with this organism
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_organism: Vec<String>,
    /// Remove records with this tissue (or a descendant)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_tissue: Vec<String>,
    /// Remove records with this tissue type
    #[arg(
        long,
        value_name = "TYPE",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_tissue_type: Vec<String>,
    /// Remove records with this disease (or a descendant)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_disease: Vec<String>,
    /// Remove records with this assay (e.g. 'spatial transcriptomics')
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_assay: Vec<String>,
    /// Remove records with this cell type (or a descendant)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_cell_type: Vec<String>,
    /// Remove records with this development stage (or a descendant)
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_development_stage: Vec<String>,
    /// Remove records with this sex
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_sex: Vec<String>,
    /// Remove records with this self-reported ethnicity
    #[arg(
        long,
        value_name = "TERM",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_self_reported_ethnicity: Vec<String>,
    /// Remove records with this suspension type
    #[arg(
        long,
        value_name = "TYPE",
        help_heading = "Exclude (a record goes if any of its terms matches)"
    )]
    pub exclude_suspension_type: Vec<String>,

    /// Folder of cellxgene-ontology-guide files (<NAME>-ontology-<VERSION>.json
    /// or .json.zst), as `make ontologies` downloads them; without it no
    /// descendants are included. Each file is indexed on first use into
    /// DIR/.index/ (rebuilt when the file changes). Default: $CXG_ONTOLOGY
    /// (unset when empty)
    #[arg(long, value_name = "DIR")]
    pub ontology: Option<PathBuf>,
    /// Match each term alone, without its descendants
    #[arg(long)]
    pub exact: bool,
    /// Remove records whose collection is a preprint (unknown status is kept
    /// and counted)
    #[arg(long)]
    pub no_preprints: bool,
    /// Remove records with fewer than N cells (`cell_count`; records without
    /// one are kept and counted)
    #[arg(long, value_name = "N")]
    pub min_cells: Option<u64>,
    /// Keep only records for which this jq expression is truthy; a record on
    /// which it fails is named on stderr, left out, and the exit status is 1
    #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true)]
    pub where_: Option<String>,
    /// Also print the ontology files used: version, path, SHA-256 (computed
    /// now; an index made from other bytes is then rebuilt), terms, load time
    #[arg(short, long)]
    pub verbose: bool,
    /// Index every ontology file of the --ontology folder that has no
    /// current index, then exit without reading records (`make ontologies`
    /// runs this, so that the first selection is fast); indexes of files no
    /// longer there are removed. Exit 1 when an index cannot be kept
    #[arg(long)]
    pub prepare: bool,
    /// Keep the ontology indexes in DIR (created if needed) instead of
    /// <ontology folder>/.index, for a folder you cannot write. Default:
    /// $CXG_ONTOLOGY_INDEX
    #[arg(long, value_name = "DIR")]
    pub index_dir: Option<PathBuf>,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

impl Args {
    /// (facet index, exclude?, values) for every facet option given.
    fn requests(&self) -> Vec<(usize, bool, &[String])> {
        let inc: [&[String]; 10] = [
            &self.organism,
            &self.tissue,
            &self.tissue_type,
            &self.disease,
            &self.assay,
            &self.cell_type,
            &self.development_stage,
            &self.sex,
            &self.self_reported_ethnicity,
            &self.suspension_type,
        ];
        let exc: [&[String]; 10] = [
            &self.exclude_organism,
            &self.exclude_tissue,
            &self.exclude_tissue_type,
            &self.exclude_disease,
            &self.exclude_assay,
            &self.exclude_cell_type,
            &self.exclude_development_stage,
            &self.exclude_sex,
            &self.exclude_self_reported_ethnicity,
            &self.exclude_suspension_type,
        ];
        let mut v = Vec::new();
        for (i, vals) in inc.iter().enumerate() {
            if !vals.is_empty() {
                v.push((i, false, *vals));
            }
        }
        for (i, vals) in exc.iter().enumerate() {
            if !vals.is_empty() {
                v.push((i, true, *vals));
            }
        }
        v
    }
}

/// What a resolved value matches.
#[derive(Debug)]
enum How {
    /// Records with one of these ontology_term_ids (the term, its
    /// descendants, and a deprecated id it replaced).
    Ids(HashSet<String>),
    /// Records with an id or label equal to one of these (lowercase).
    Literal(Vec<String>),
}

/// One value of one option, resolved.
#[derive(Debug)]
struct Sel {
    facet: usize,
    exclude: bool,
    given: String,
    how: How,
    /// How it was resolved, for the report.
    desc: String,
    /// Not known up front: the value must appear in the data.
    needs_data: bool,
    matched: usize,
}

impl Sel {
    fn option(&self) -> String {
        let f = &FACETS[self.facet];
        if self.exclude {
            format!("--exclude-{}", f.option)
        } else {
            format!("--{}", f.option)
        }
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_-.".contains(c))
    {
        s.to_string()
    } else {
        format!("'{s}'")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a` equals `b_lc` (already lowercase) without regard to case.
fn eq_ci(a: &str, b_lc: &str) -> bool {
    if a.is_ascii() && b_lc.is_ascii() {
        a.eq_ignore_ascii_case(b_lc)
    } else {
        a.to_lowercase() == b_lc
    }
}

/// The loaded ontologies and what the run knows of them.
struct Ontologies {
    dir: Option<PathBuf>,
    found: std::collections::HashMap<String, ontology::Found>,
    loaded: Vec<Ontology>,
    /// Compute each file's SHA-256 (--verbose).
    hash: bool,
    /// Where indexes are kept (--index-dir), if not beside the files.
    index_dir: Option<PathBuf>,
}

impl Ontologies {
    fn for_names(&self, names: &[&str]) -> Vec<&Ontology> {
        names
            .iter()
            .filter_map(|n| self.loaded.iter().find(|o| o.name == *n))
            .collect()
    }
    fn for_facet(&self, f: &Facet) -> Vec<&Ontology> {
        self.for_names(f.ontologies)
    }
    /// Load these files (those present and not yet loaded), one thread each.
    fn load(&mut self, names: &[&str]) -> Result<()> {
        let hash = self.hash;
        let index_dir = self.index_dir.as_deref();
        let files: Vec<&ontology::Found> = names
            .iter()
            .filter(|n| !self.loaded.iter().any(|o| o.name == **n))
            .filter_map(|n| self.found.get(*n))
            .collect();
        let results: Vec<Result<Ontology>> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .map(|f| (f, s.spawn(move || Ontology::load(f, hash, index_dir))))
                .collect();
            handles
                .into_iter()
                .map(|(f, h)| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::input(format!(
                            "the ontology file '{}' could not be read (its reader failed)",
                            f.path.display()
                        )))
                    })
                })
                .collect()
        });
        for r in results {
            let o = r?;
            let stale = o
                .stale
                .as_deref()
                .map(|why| format!(" (the index there was {why})"))
                .unwrap_or_default();
            match &o.indexed {
                Indexed::Read => {}
                Indexed::Built => warn(format_args!(
                    "indexed {} in {:.0} ms into '{}'{stale}; later runs read the index",
                    o.describe(),
                    o.load_ms,
                    o.index_path.display()
                )),
                Indexed::NotKept(why) => warn(format_args!(
                    "warning: indexed {} in {:.0} ms, but cannot keep the index: {why}; it is built again each run",
                    o.describe(),
                    o.load_ms
                )),
            }
            self.loaded.push(o);
        }
        Ok(())
    }
}

fn load_ontologies(args: &Args, reqs: &[(usize, bool, &[String])]) -> Result<Ontologies> {
    // CXG_ONTOLOGY set to nothing (`CXG_ONTOLOGY= cxg-select`) is unset
    let env = || std::env::var_os("CXG_ONTOLOGY").filter(|v| !v.is_empty());
    let Some(dir) = args.ontology.clone().or_else(|| env().map(PathBuf::from)) else {
        return Ok(Ontologies {
            dir: None,
            found: Default::default(),
            loaded: Vec::new(),
            hash: args.verbose,
            index_dir: None,
        });
    };
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "the ontology folder '{}' does not exist (make ontologies downloads it; --ontology DIR or CXG_ONTOLOGY names it)",
            dir.display()
        )));
    }
    let found = ontology::scan(&dir)?;
    if found.is_empty() && !reqs.is_empty() {
        warn(format_args!(
            "warning: the ontology folder '{}' holds no <NAME>-ontology-<VERSION>.json[.zst] file",
            dir.display()
        ));
    }
    let mut wanted: Vec<&str> = Vec::new();
    for (fi, _, _) in reqs {
        for n in FACETS[*fi].ontologies {
            if !wanted.contains(n) {
                wanted.push(n);
            }
        }
    }
    let index_dir = args.index_dir.clone().or_else(|| {
        std::env::var_os("CXG_ONTOLOGY_INDEX")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(d) = &index_dir {
        std::fs::create_dir_all(d).map_err(|e| {
            Error::input(format!(
                "cannot create the index folder '{}' (--index-dir or CXG_ONTOLOGY_INDEX names it): {e}",
                d.display()
            ))
        })?;
    }
    let mut o = Ontologies {
        dir: Some(dir),
        found,
        loaded: Vec::new(),
        hash: args.verbose,
        index_dir,
    };
    o.load(&wanted)?;
    Ok(o)
}

/// A term found in a loaded ontology.
struct Hit<'a> {
    o: &'a Ontology,
    t: Term,
}

/// An id looks like a CURIE: `PREFIX:LOCAL`, or `PREFIX_LOCAL` as
/// Cellosaurus writes its ids (`CVCL_0030`); either spelling finds either.
fn find_id<'a>(onts: &[&'a Ontology], v: &str) -> Option<Hit<'a>> {
    let sep = v.find([':', '_'])?;
    let (prefix, local) = (&v[..sep], &v[sep + 1..]);
    if prefix.is_empty()
        || local.is_empty()
        || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
        || local.contains(char::is_whitespace)
    {
        return None;
    }
    let other = format!(
        "{prefix}{}{local}",
        if v.as_bytes()[sep] == b':' { '_' } else { ':' }
    );
    onts.iter()
        .find_map(|o| o.get(v).or_else(|| o.get(&other)).map(|t| Hit { o, t }))
}

fn ambiguous(opt: &str, given: &str, what: &str, hits: &[Hit]) -> Error {
    let list: Vec<String> = hits
        .iter()
        .map(|h| format!("{} '{}' ({})", h.t.id, h.t.label, h.o.describe()))
        .collect();
    Error::input(format!(
        "{opt} {}: ambiguous: the {what} of {}; give the id instead",
        quote(given),
        list.join(" and ")
    ))
}

/// Find `lc` among labels, then synonyms, of non-deprecated terms.
fn find_label<'a>(
    onts: &[&'a Ontology],
    opt: &str,
    given: &str,
    lc: &str,
) -> Result<Option<Hit<'a>>> {
    for (what, synonyms) in [("label", false), ("synonym", true)] {
        let mut hits: Vec<Hit> = Vec::new();
        for o in onts {
            let terms = if synonyms {
                o.by_synonym(lc)
            } else {
                o.by_label(lc)
            };
            for t in terms {
                if !hits.iter().any(|h| h.t.id == t.id) {
                    hits.push(Hit { o, t });
                }
            }
        }
        match hits.len() {
            0 => continue,
            1 => return Ok(hits.pop()),
            _ => return Err(ambiguous(opt, given, what, &hits)),
        }
    }
    Ok(None)
}

/// Whether `t` (of `o`) lies in one of the facet's branches: itself a root
/// or a descendant of one. True when the facet has no roots, or when `o`
/// holds none of them (nothing to tell by).
fn in_branch(o: &Ontology, t: &Term, roots: &[&str]) -> Result<bool> {
    let mut known = false;
    for root in roots {
        let Some(r) = o.get(root) else { continue };
        known = true;
        if r.id == t.id || o.descendants(&r)?.contains(&t.id) {
            return Ok(true);
        }
    }
    Ok(!known)
}

fn names_of(onts: &[&Ontology]) -> String {
    onts.iter()
        .map(|o| o.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve(
    fi: usize,
    exclude: bool,
    given: &str,
    exact: bool,
    onts: &mut Ontologies,
) -> Result<Sel> {
    let f = &FACETS[fi];
    let mut sel = Sel {
        facet: fi,
        exclude,
        given: given.to_string(),
        how: How::Literal(Vec::new()),
        desc: String::new(),
        needs_data: false,
        matched: 0,
    };
    let opt = sel.option();
    let v = given.trim();
    if v.is_empty() {
        return Err(Error::input(format!("{opt}: empty value")));
    }
    let lc = v.to_lowercase();
    if lc == "unknown" || lc == "na" {
        sel.how = How::Literal(vec![lc.clone()]);
        sel.desc = format!("the value '{lc}' itself (never expanded)");
        return Ok(sel);
    }
    if f.kind != Kind::Terms {
        if f.vocabulary.contains(&lc.as_str()) {
            let all = if f.kind == Kind::TissueType {
                tissue_type_aliases(&lc)
            } else {
                vec![lc.clone()]
            };
            sel.desc = format!("'{}'", all.join("' or '"));
            sel.how = How::Literal(all);
        } else {
            sel.how = How::Literal(vec![lc.clone()]);
            sel.needs_data = true;
            sel.desc = format!(
                "'{lc}' as it appears in the data (not one of: {})",
                f.vocabulary.join(", ")
            );
        }
        return Ok(sel);
    }
    let mut names: Vec<&str> = f.ontologies.to_vec();
    let known = {
        let fonts = onts.for_facet(f);
        find_id(&fonts, v).is_some() || find_label(&fonts, &opt, given, &lc)?.is_some()
    };
    if !known && !f.fallback.is_empty() {
        onts.load(f.fallback)?;
        names.extend_from_slice(f.fallback);
    }
    let onts = &*onts;
    let fonts = onts.for_names(&names);
    let hit = match find_id(&fonts, v) {
        Some(h) => Some(h),
        None => find_label(&fonts, &opt, given, &lc)?,
    };
    let Some(mut hit) = hit else {
        sel.how = How::Literal(vec![lc.clone()]);
        sel.needs_data = true;
        sel.desc = if fonts.is_empty() {
            let why = if onts.dir.is_none() {
                "no ontology loaded".to_string()
            } else {
                format!("no {} file in the ontology folder", f.ontologies.join("/"))
            };
            format!("as it appears in the data ({why}: no descendants)")
        } else {
            format!(
                "not a term of {}: as it appears in the data, no descendants",
                names_of(&fonts)
            )
        };
        return Ok(sel);
    };
    let mut ids: HashSet<String> = HashSet::new();
    // The ids followed, to name a loop of replacements.
    let mut chain: Vec<String> = Vec::new();
    while hit.t.deprecated {
        ids.insert(hit.t.id.clone());
        chain.push(hit.t.id.clone());
        let next = hit
            .t
            .replaced_by
            .as_deref()
            .and_then(|r| find_id(&fonts, r));
        if let Some(n) = &next {
            if chain.contains(&n.t.id) {
                // No current term to use: the ontology file is broken here,
                // and matching the deprecated ids alone would hide it.
                chain.push(n.t.id.clone());
                return Err(Error::input(format!(
                    "{opt} {}: {} is deprecated and its replaced_by ids form a replacement loop in {}: {}; give a current term instead",
                    quote(given),
                    chain[0],
                    hit.o.describe(),
                    chain.join(" -> ")
                )));
            }
        }
        match next {
            Some(n) => {
                warn(format_args!(
                    "warning: {opt} {}: {} is deprecated in {}; using its replacement {} '{}'",
                    quote(given),
                    hit.t.id,
                    hit.o.describe(),
                    n.t.id,
                    n.t.label
                ));
                hit = n;
            }
            _ => {
                let mut extra = String::new();
                if let Some(r) = &hit.t.replaced_by {
                    extra = format!(" (its replacement {r} is not in the loaded files)");
                } else if !hit.t.consider.is_empty() {
                    extra = format!(" (consider: {})", hit.t.consider.join(", "));
                }
                warn(format_args!(
                    "warning: {opt} {}: {} is deprecated in {} with no replacement{extra}; matching the id alone",
                    quote(given),
                    hit.t.id,
                    hit.o.describe()
                ));
                sel.desc = format!(
                    "{} (deprecated, {}): the id alone",
                    hit.t.id,
                    hit.o.describe()
                );
                sel.how = How::Ids(ids);
                return Ok(sel);
            }
        }
    }
    if !in_branch(hit.o, &hit.t, f.roots)? {
        warn(format_args!(
            "warning: {opt} {}: {} '{}' is not a term CELLxGENE uses for --{} (those descend from {}): no dataset should have it",
            quote(given),
            hit.t.id,
            hit.t.label,
            f.option,
            f.roots.join(" or ")
        ));
    }
    ids.insert(hit.t.id.clone());
    let mut n_desc = 0;
    if !exact {
        for d in hit.o.descendants(&hit.t)? {
            if ids.insert(d) {
                n_desc += 1;
            }
        }
    }
    let label = if hit.t.label.is_empty() {
        String::new()
    } else {
        format!(" '{}'", hit.t.label)
    };
    sel.desc = if exact {
        format!(
            "{}{label} ({}), --exact: the term alone",
            hit.t.id,
            hit.o.describe()
        )
    } else {
        format!(
            "{}{label} ({}) and {}: {}",
            hit.t.id,
            hit.o.describe(),
            plural(n_desc, "descendant", "descendants"),
            plural(n_desc + 1, "term", "terms")
        )
    };
    sel.how = How::Ids(ids);
    Ok(sel)
}

/// One entry of a facet list: `{label, ontology_term_id, tissue_type}` or
/// a plain string (suspension_type).
#[derive(Default, Debug)]
struct Entry<'a> {
    id: Option<Cow<'a, str>>,
    label: Option<Cow<'a, str>>,
    tissue_type: Option<Cow<'a, str>>,
}

struct OptStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for OptStr<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ontology term object or a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Entry<'de>, E> {
                Ok(Entry {
                    id: Some(Cow::Borrowed(v)),
                    ..Entry::default()
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Entry<'de>, E> {
                Ok(Entry {
                    id: Some(Cow::Owned(v.to_string())),
                    ..Entry::default()
                })
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Entry<'de>, E> {
                Ok(Entry::default())
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Entry<'de>, A::Error> {
                let mut e = Entry::default();
                while let Some(k) = m.next_key::<OptStr>()? {
                    match k.0.as_deref() {
                        Some("ontology_term_id") => e.id = m.next_value::<OptStr>()?.0,
                        Some("label") => e.label = m.next_value::<OptStr>()?.0,
                        Some("tissue_type") => e.tissue_type = m.next_value::<OptStr>()?.0,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(e)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
struct PublisherMetadata {
    #[serde(default)]
    is_preprint: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Collection {
    #[serde(default)]
    publisher_metadata: Option<PublisherMetadata>,
}

/// The top-level fields selection may read; `FIELDS[..9]` are the facet
/// lists, in the order of [`Rec::raw`].
const FIELDS: [&str; 13] = [
    "organism",
    "tissue",
    "disease",
    "assay",
    "cell_type",
    "development_stage",
    "sex",
    "self_reported_ethnicity",
    "suspension_type",
    "dataset_id",
    "cell_count",
    "collection",
    "datasets",
];
const F_DATASET_ID: usize = 9;
const F_CELL_COUNT: usize = 10;
const F_COLLECTION: usize = 11;
const F_DATASETS: usize = 12;

/// A record with the fields selection may read left as JSON text: a field
/// is parsed (and its type checked) only when an option needs it, so that
/// fields no option uses pass through whatever they hold.
#[derive(Default)]
struct Rec<'a> {
    raw: [Option<&'a RawValue>; 13],
}

impl<'de: 'a, 'a> Deserialize<'de> for Rec<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rec<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a dataset record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Rec<'de>, A::Error> {
                let mut r = Rec::default();
                while let Some(k) = m.next_key::<OptStr>()? {
                    match FIELDS.iter().position(|f| Some(*f) == k.0.as_deref()) {
                        // the last of repeated keys counts, as in jq
                        Some(i) => r.raw[i] = Some(m.next_value::<&'de RawValue>()?),
                        None => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn bare(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    msg.rsplit_once(" at line ")
        .map_or(msg.as_str(), |x| x.0)
        .to_string()
}

impl<'a> Rec<'a> {
    /// Field `i` (`null` = absent) parsed as `T`, or why it is not one.
    fn parse<T: Deserialize<'a>>(
        &self,
        i: usize,
        what: &str,
    ) -> std::result::Result<Option<T>, String> {
        match self.raw[i] {
            None => Ok(None),
            Some(r) => serde_json::from_str::<Option<T>>(r.get())
                .map_err(|e| format!("'{}' is not {what}: {}", FIELDS[i], bare(&e))),
        }
    }
    /// The facet list `i` (< 9).
    fn entries(&self, i: usize) -> std::result::Result<Option<Vec<Entry<'a>>>, String> {
        self.parse(
            i,
            if i == 8 {
                "a list of strings"
            } else {
                "a list of ontology terms"
            },
        )
    }
    fn cell_count(&self) -> std::result::Result<Option<f64>, String> {
        self.parse(F_CELL_COUNT, "a number")
    }
    fn is_preprint(&self) -> std::result::Result<Option<bool>, String> {
        let c: Option<Collection> = self.parse(
            F_COLLECTION,
            "a collection with publisher_metadata.is_preprint true or false",
        )?;
        Ok(c.and_then(|c| c.publisher_metadata?.is_preprint))
    }
    /// The dataset_id, to name the record.
    fn id(&self) -> String {
        match self.raw[F_DATASET_ID] {
            None => "?".into(),
            Some(r) => match serde_json::from_str::<String>(r.get()) {
                Ok(s) => s,
                Err(_) => r.get().chars().take(60).collect(),
            },
        }
    }
    /// A collection (datasets and no dataset_id): input of the wrong stage.
    fn is_collection(&self) -> bool {
        self.raw[F_DATASETS].is_some() && self.raw[F_DATASET_ID].is_none()
    }
}

/// A value that is a term of an ontology other facets use: `; it is
/// UBERON:0002048 'lung' of UBERON v…, a value for --tissue or
/// --development-stage`.
fn elsewhere(onts: &Ontologies, facet: usize, given: &str) -> String {
    let own = FACETS[facet].ontologies;
    let v = given.trim();
    let lc = v.to_lowercase();
    let mut found: Vec<String> = Vec::new();
    for o in onts
        .loaded
        .iter()
        .filter(|o| !own.contains(&o.name.as_str()))
    {
        let hit = find_id(&[o], v)
            .map(|h| h.t)
            .or_else(|| o.by_label(&lc).into_iter().chain(o.by_synonym(&lc)).next());
        let Some(t) = hit else { continue };
        let opts: Vec<String> = FACETS
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                *i != facet
                    && f.ontologies.contains(&o.name.as_str())
                    && in_branch(o, &t, f.roots).unwrap_or(true)
            })
            .map(|(_, f)| format!("--{}", f.option))
            .collect();
        if opts.is_empty() {
            continue;
        }
        found.push(format!(
            "{} '{}' of {}, a value for {}",
            t.id,
            t.label,
            o.describe(),
            opts.join(" or ")
        ));
        if found.len() == 3 {
            break;
        }
    }
    if found.is_empty() {
        String::new()
    } else {
        format!("; it is {}", found.join("; and "))
    }
}

/// Where in [`FIELDS`] a facet's list is.
fn field_index(name: &str) -> usize {
    FIELDS.iter().position(|f| *f == name).unwrap_or(0)
}

const TISSUE: usize = 1;
const TISSUE_TYPE: usize = 2;

/// A file for the records held back: unnamed (created and unlinked at once,
/// or O_TMPFILE), so no signal or crash leaves it behind; in the output's
/// folder, or the temporary folder when writing to stdout.
fn hold_file(args: &Args) -> Result<std::fs::File> {
    let dir = match &args.out.output {
        Some(p) if p.as_os_str() != "-" => match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        },
        _ => std::env::temp_dir(),
    };
    tempfile::tempfile_in(&dir)
        .map_err(|e| Error::write(&format!("a temporary file in '{}'", dir.display()), e))
}

/// Write the held records to the output.
fn release(buf: std::io::BufWriter<std::fs::File>, out: &mut dyn Write) -> std::io::Result<()> {
    use std::io::Seek;
    let mut f = buf.into_inner().map_err(|e| e.into_error())?;
    f.seek(std::io::SeekFrom::Start(0))?;
    std::io::copy(&mut f, out)?;
    Ok(())
}

/// The parts of a (possibly joined, `"MONDO:a || MONDO:b"`) id.
fn parts(id: &str) -> impl Iterator<Item = &str> {
    id.split(" || ").map(str::trim)
}

fn matches(sel: &Sel, kind: Kind, e: &Entry) -> bool {
    match (&sel.how, kind) {
        (How::Literal(vals), Kind::TissueType) => e
            .tissue_type
            .as_deref()
            .is_some_and(|t| vals.iter().any(|v| eq_ci(t, v))),
        (How::Ids(_), Kind::TissueType) => false,
        (How::Ids(set), _) => e.id.as_deref().is_some_and(|id| {
            set.contains(id) || (id.contains(" || ") && parts(id).any(|p| set.contains(p)))
        }),
        (How::Literal(vals), _) => vals.iter().any(|v| {
            e.id.as_deref().is_some_and(|id| {
                eq_ci(id, v) || (id.contains(" || ") && parts(id).any(|p| eq_ci(p, v)))
            }) || e.label.as_deref().is_some_and(|l| eq_ci(l, v))
        }),
    }
}

/// Run in the context `ctx`: its output (`-o`) was checked before this is
/// called, and records that could not be processed set the exit status.
pub fn run(args: Args, ctx: &mut cxg_core::Ctx) -> Result<()> {
    let outcome = run_in(args, ctx)?;
    ctx.diag.add_outcome(outcome);
    Ok(())
}

/// --prepare: index the whole folder.
fn prepare(args: &Args) -> Result<Outcome> {
    if !args.requests().is_empty()
        || args.file.is_some()
        || args.where_.is_some()
        || args.min_cells.is_some()
        || args.no_preprints
        || args.exact
        || args.out.output.is_some()
    {
        return Err(Error::input(
            "--prepare indexes the ontology folder and writes no records: give it no FILE, no -o and no selection option",
        ));
    }
    let mut onts = load_ontologies(args, &[])?;
    let Some(dir) = onts.dir.clone() else {
        return Err(Error::input(
            "--prepare needs the ontology folder (--ontology DIR or CXG_ONTOLOGY)",
        ));
    };
    let mut names: Vec<String> = onts.found.keys().cloned().collect();
    names.sort();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    onts.load(&names)?;
    let built = onts
        .loaded
        .iter()
        .filter(|o| !matches!(o.indexed, Indexed::Read))
        .count();
    let lost = onts
        .loaded
        .iter()
        .filter(|o| matches!(o.indexed, Indexed::NotKept(_)))
        .count();
    let own = onts.index_dir.is_none();
    let index_dir = onts
        .index_dir
        .clone()
        .unwrap_or_else(|| dir.join(ontology::INDEX_DIR));
    let pruned = ontology::prune(&index_dir, &onts.loaded, own);
    warn(format_args!(
        "'{}': {}: {built} indexed now{}, {} already indexed{}",
        dir.display(),
        plural(onts.loaded.len(), "ontology file", "ontology files"),
        if lost > 0 {
            format!(" ({lost} could not be kept: see above)")
        } else {
            String::new()
        },
        onts.loaded.len() - built,
        if pruned > 0 {
            format!(
                "; removed {}",
                plural(pruned, "stale index file", "stale index files")
            )
        } else {
            String::new()
        }
    ));
    Ok(Outcome::of_failures(lost))
}

fn run_in(args: Args, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    if args.prepare {
        return prepare(&args);
    }
    // Everything that can fail on its own is checked before reading input.
    let filter = match &args.where_ {
        Some(code) => Some(Program::compile(code, "--where")?),
        None => None,
    };
    let reqs = args.requests();
    let mut onts = load_ontologies(&args, &reqs)?;
    if !reqs.is_empty() && onts.dir.is_none() {
        warn("no ontology loaded (--ontology DIR or CXG_ONTOLOGY): values match ids and labels as they appear in the data; no descendants are included");
    }
    let mut sels: Vec<Sel> = Vec::new();
    for (fi, exclude, vals) in &reqs {
        for v in *vals {
            sels.push(resolve(*fi, *exclude, v, args.exact, &mut onts)?);
        }
    }
    if args.verbose {
        for o in &onts.loaded {
            let how = match &o.indexed {
                Indexed::Read => "index read".to_string(),
                Indexed::Built => format!("indexed into '{}'", o.index_path.display()),
                Indexed::NotKept(_) => "indexed, not kept".to_string(),
            };
            warn(format_args!(
                "ontology {}: '{}' sha256 {} ({} terms, {how} in {:.0} ms)",
                o.describe(),
                o.path.display(),
                o.sha256.as_deref().unwrap_or("-"),
                o.term_count,
                o.load_ms,
            ));
        }
    }
    let used: Vec<usize> = {
        let mut u: Vec<usize> = sels.iter().map(|s| s.facet).collect();
        u.sort();
        u.dedup();
        u
    };
    // Fields of the facets used that records lack, counted per field.
    let mut missing: Vec<(usize, usize)> = used.iter().map(|&f| (f, 0)).collect();
    // Labels and ids seen in the data, for suggestions, per facet whose
    // values are not all known up front.
    let mut seen: Vec<BTreeSet<String>> = FACETS.iter().map(|_| BTreeSet::new()).collect();
    let collect_seen: Vec<bool> = (0..FACETS.len())
        .map(|f| sels.iter().any(|s| s.facet == f && s.needs_data))
        .collect();
    let mut unconfirmed = sels.iter().filter(|s| s.needs_data).count();

    let input = ctx.input(args.file.as_deref())?;
    let mut src = Records::open(input.name.clone(), input.reader)?;
    let mut out = &mut ctx.out;
    let oname = out.name();
    // Held back while a value must still be confirmed in the data, so that
    // a misspelt value ends the run before anything is written: in an
    // unnamed temporary file (gone with the process, whatever ends it), so
    // that memory does not grow with the output.
    let mut held: Option<std::io::BufWriter<std::fs::File>> = if unconfirmed > 0 {
        Some(std::io::BufWriter::with_capacity(
            1 << 16,
            hold_file(&args)?,
        ))
    } else {
        None
    };
    // A record that is not a dataset at all (a collection) is input of the
    // wrong stage; it matters only when an option reads a record's fields.
    let reads_fields = !reqs.is_empty() || args.no_preprints || args.min_cells.is_some();
    // The facet lists any option reads.
    let wanted: Vec<usize> = (0..9)
        .filter(|&i| {
            FACETS
                .iter()
                .enumerate()
                .any(|(f, fc)| field_index(fc.field) == i && (used.contains(&f) || collect_seen[f]))
        })
        .collect();
    let fidx: Vec<usize> = FACETS.iter().map(|f| field_index(f.field)).collect();
    // --tissue and --tissue-type together hold for one tissue entry.
    let joint = sels.iter().any(|s| s.facet == TISSUE && !s.exclude)
        && sels.iter().any(|s| s.facet == TISSUE_TYPE && !s.exclude);
    let (mut n_in, mut n_out, mut failed) = (0usize, 0usize, 0usize);
    let (mut preprints, mut preprint_unknown) = (0usize, 0usize);
    let (mut few_cells, mut no_count) = (0usize, 0usize);
    let mut hit = vec![false; sels.len()];
    while src.next()? {
        let bytes = src.json();
        n_in += 1;
        let rec: Rec = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(e) => {
                return Err(Error::input(format!(
                    "{}: not a dataset record: {} (line {} of the record)",
                    src.place(),
                    bare(&e),
                    e.line()
                )));
            }
        };
        if reads_fields && rec.is_collection() {
            return Err(Error::input(format!(
                "{}: this is a collection (it has datasets and no dataset_id), not a dataset: \
                 run cxg-datasets first (cxg-datasets collections.json | cxg-select ...)",
                src.place()
            )));
        }
        // Only the fields an option reads are parsed; one of an unexpected
        // type is this record's problem: named, left out, exit status 1.
        let mut ents: [Option<Vec<Entry>>; 9] = Default::default();
        let mut problem = None;
        for &i in &wanted {
            match rec.entries(i) {
                Ok(v) => ents[i] = v,
                Err(e) => {
                    problem = Some(e);
                    break;
                }
            }
        }
        let mut cell_count = None;
        if problem.is_none() && args.min_cells.is_some() {
            match rec.cell_count() {
                Ok(c) => cell_count = c,
                Err(e) => problem = Some(e),
            }
        }
        let mut preprint = None;
        if problem.is_none() && args.no_preprints {
            match rec.is_preprint() {
                Ok(p) => preprint = p,
                Err(e) => problem = Some(e),
            }
        }
        if let Some(p) = problem {
            warn(format_args!(
                "{}: dataset {}: {p}; left out",
                src.place(),
                rec.id()
            ));
            failed += 1;
            continue;
        }
        let field = |f: usize| ents[fidx[f]].as_deref();
        for m in missing.iter_mut() {
            if field(m.0).is_none() {
                m.1 += 1;
            }
        }
        for (f, set) in seen.iter_mut().enumerate() {
            if !collect_seen[f] || set.len() > 100_000 {
                continue;
            }
            for e in field(f).unwrap_or(&[]) {
                let v = if FACETS[f].kind == Kind::TissueType {
                    &e.tissue_type
                } else {
                    &e.label
                };
                if let Some(l) = v.as_deref().or(e.id.as_deref()) {
                    // each part of a joined label ("a || b") on its own
                    for l in parts(l) {
                        if !set.contains(l) {
                            set.insert(l.to_string());
                        }
                    }
                }
            }
        }
        for (i, s) in sels.iter_mut().enumerate() {
            let kind = FACETS[s.facet].kind;
            let es = field(s.facet).unwrap_or(&[]);
            hit[i] = es.iter().any(|e| matches(s, kind, e));
            if hit[i] {
                if s.matched == 0 && s.needs_data {
                    unconfirmed -= 1;
                }
                s.matched += 1;
            }
        }
        if unconfirmed == 0 {
            if let Some(buf) = held.take() {
                release(buf, &mut out).map_err(|e| Error::write(&oname, e))?;
            }
        }
        let mut keep = true;
        for &f in &used {
            let mut any_inc = false;
            let mut inc_hit = false;
            for (i, s) in sels.iter().enumerate() {
                if s.facet != f {
                    continue;
                }
                if s.exclude {
                    keep &= !hit[i];
                } else {
                    any_inc = true;
                    inc_hit |= hit[i];
                }
            }
            if any_inc && !inc_hit {
                keep = false;
            }
        }
        if keep && joint {
            keep = field(TISSUE).unwrap_or(&[]).iter().any(|e| {
                let inc = |f: usize, kind: Kind| {
                    sels.iter()
                        .any(|s| s.facet == f && !s.exclude && matches(s, kind, e))
                };
                inc(TISSUE, Kind::Terms) && inc(TISSUE_TYPE, Kind::TissueType)
            });
        }
        if keep && args.no_preprints {
            match preprint {
                Some(true) => {
                    preprints += 1;
                    keep = false;
                }
                Some(false) => {}
                None => preprint_unknown += 1,
            }
        }
        if keep {
            if let Some(min) = args.min_cells {
                match cell_count {
                    Some(n) if n < min as f64 => {
                        few_cells += 1;
                        keep = false;
                    }
                    Some(_) => {}
                    None => no_count += 1,
                }
            }
        }
        if keep {
            if let Some(p) = &filter {
                let v = parse_val(bytes)
                    .map_err(|e| Error::input(format!("{}: invalid JSON: {e}", src.place())))?;
                match p.is_truthy(v) {
                    Ok(k) => keep = k,
                    Err(e) => {
                        warn(format_args!(
                            "--where failed on dataset {} ({}): {e}",
                            rec.id(),
                            src.place()
                        ));
                        failed += 1;
                        keep = false;
                    }
                }
            }
        }
        if !keep {
            continue;
        }
        n_out += 1;
        match &mut held {
            Some(buf) => src
                .write_to(buf)
                .map_err(|e| Error::write("a temporary file", e))?,
            None => src
                .write_to(&mut out)
                .map_err(|e| Error::write(&oname, e))?,
        }
    }
    if unconfirmed > 0 {
        // The run fails: load the other facets' ontologies too, to say
        // where a value given to the wrong option belongs (best effort).
        let mut every: Vec<&str> = Vec::new();
        for f in &FACETS {
            for n in f.ontologies {
                if !every.contains(n) {
                    every.push(n);
                }
            }
        }
        let _ = onts.load(&every);
        let mut msgs = Vec::new();
        for s in sels.iter().filter(|s| s.needs_data && s.matched == 0) {
            let f = &FACETS[s.facet];
            let fonts = onts.for_facet(f);
            // (text compared, label suggested): labels, then synonyms
            let mut cands: Vec<(&str, &str)> = f.vocabulary.iter().map(|v| (*v, *v)).collect();
            for o in &fonts {
                cands.extend(o.current().map(|(l, _)| (l, l)));
            }
            cands.extend(seen[s.facet].iter().map(|v| (v.as_str(), v.as_str())));
            for o in &fonts {
                for (l, syns) in o.current() {
                    cands.extend(syns.into_iter().map(|y| (y, l)));
                }
            }
            let sugg = suggest::closest(&s.given, &cands, 3);
            let other = elsewhere(&onts, s.facet, &s.given);
            let known = if fonts.is_empty() {
                "in the data".to_string()
            } else {
                format!("in {} nor in the data", names_of(&fonts))
            };
            let dym = if sugg.is_empty() {
                String::new()
            } else {
                format!(
                    " (did you mean {}?)",
                    sugg.iter()
                        .map(|x| format!("'{x}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            msgs.push(format!(
                "{} {}: no such value {known}{dym}{other}",
                s.option(),
                quote(&s.given)
            ));
        }
        // Nothing was written: the held records go with the temporary file.
        return Err(Error::input(msgs.join("; ")));
    }
    for s in &sels {
        warn(format_args!(
            "{} {}: {}: {}",
            s.option(),
            quote(&s.given),
            s.desc,
            plural(s.matched, "record", "records")
        ));
    }
    for s in sels.iter().filter(|s| s.matched == 0) {
        warn(format_args!(
            "warning: {} {} matches no record",
            s.option(),
            quote(&s.given)
        ));
    }
    for (f, n) in &missing {
        if *n > 0 {
            let fname = FACETS[*f].field;
            let hint = if matches!(
                fname,
                "cell_type" | "development_stage" | "sex" | "self_reported_ethnicity"
            ) {
                " (dataset previews from GET /collections lack it; the GET /datasets index has it)"
            } else {
                ""
            };
            warn(format_args!(
                "warning: {} without '{fname}' cannot match --{}{hint}",
                plural(*n, "record", "records"),
                FACETS[*f].option
            ));
        }
    }
    if args.no_preprints {
        warn(format_args!(
            "--no-preprints: {} removed; {} of unknown preprint status kept",
            plural(preprints, "preprint", "preprints"),
            plural(preprint_unknown, "record", "records")
        ));
    }
    if let Some(min) = args.min_cells {
        warn(format_args!(
            "--min-cells {min}: {} with fewer cells removed; {} without cell_count kept{}",
            plural(few_cells, "record", "records"),
            plural(no_count, "record", "records"),
            if no_count > 0 {
                " (dataset previews have none; the GET /datasets index has it)"
            } else {
                ""
            }
        ));
    }
    warn(format_args!("{n_in} records in, {n_out} out"));
    Ok(Outcome::of_failures(failed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry<'a>(id: &'a str, label: &'a str, tt: Option<&'a str>) -> Entry<'a> {
        Entry {
            id: Some(Cow::Borrowed(id)),
            label: Some(Cow::Borrowed(label)),
            tissue_type: tt.map(Cow::Borrowed),
        }
    }

    fn sel(facet: usize, how: How) -> Sel {
        Sel {
            facet,
            exclude: false,
            given: String::new(),
            how,
            desc: String::new(),
            needs_data: false,
            matched: 0,
        }
    }

    #[test]
    fn ids_labels_joined_ids_and_tissue_types_match() {
        let ids = sel(3, How::Ids(["MONDO:1".to_string()].into_iter().collect()));
        assert!(matches(&ids, Kind::Terms, &entry("MONDO:1", "x", None)));
        assert!(matches(
            &ids,
            Kind::Terms,
            &entry("MONDO:0 || MONDO:1", "x || y", None)
        ));
        assert!(!matches(&ids, Kind::Terms, &entry("MONDO:10", "x", None)));
        let lit = sel(3, How::Literal(vec!["café au lait".into()]));
        assert!(matches(
            &lit,
            Kind::Terms,
            &entry("X:1", "Café au Lait", None)
        ));
        assert!(!matches(&lit, Kind::Terms, &entry("X:1", "café", None)));
        let tt = sel(2, How::Literal(tissue_type_aliases("cell culture")));
        assert!(matches(
            &tt,
            Kind::TissueType,
            &entry("CL:1", "T cell", Some("primary cell culture"))
        ));
        assert!(!matches(
            &tt,
            Kind::TissueType,
            &entry("CL:1", "cell culture", Some("tissue"))
        ));
    }

    #[test]
    fn records_read_strings_objects_and_nulls() {
        let r: Rec = serde_json::from_str(
            r#"{"suspension_type":["cell",null],"tissue":[{"label":"lung","ontology_term_id":"UBERON:0002048","tissue_type":"tissue","x":[1]}],
                "cell_count":5.0e3,"collection":{"publisher_metadata":null},"other":{"deep":[1,2]}}"#,
        )
        .unwrap();
        let st = r.entries(8).unwrap().unwrap();
        assert_eq!(st[0].id.as_deref(), Some("cell"));
        let t = r.entries(1).unwrap().unwrap();
        assert_eq!(t[0].tissue_type.as_deref(), Some("tissue"));
        assert_eq!(r.cell_count(), Ok(Some(5000.0)));
        assert_eq!(r.is_preprint(), Ok(None));
        assert!(r.entries(2).unwrap().is_none());
        // a field is type-checked only when read; the last of repeated keys counts
        let r: Rec =
            serde_json::from_str(r#"{"tissue":"lung","sex":3,"sex":[],"cell_count":1e400}"#)
                .unwrap();
        assert!(r.entries(1).unwrap_err().contains("'tissue' is not a list"));
        assert!(r.entries(6).unwrap().unwrap().is_empty());
        assert!(r
            .cell_count()
            .unwrap_err()
            .contains("'cell_count' is not a number"));
        assert!(serde_json::from_str::<Rec>("[1]").is_err());
    }

    #[test]
    fn option_names_and_quoting() {
        let mut s = sel(5, How::Literal(vec![]));
        assert_eq!(s.option(), "--cell-type");
        s.exclude = true;
        assert_eq!(s.option(), "--exclude-cell-type");
        assert_eq!(quote("UBERON:0002048"), "UBERON:0002048");
        assert_eq!(quote("lung parenchyma"), "'lung parenchyma'");
        assert_eq!(plural(1, "record", "records"), "1 record");
    }
}
