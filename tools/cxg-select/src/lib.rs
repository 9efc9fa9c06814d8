//! cxg-select: choose dataset records by organism, tissue, disease, assay
//! and the other facets, by ontology id, label or synonym, with every
//! descendant term included when the cellxgene-ontology-guide files are at
//! hand. Selected records are written unchanged, one per line.
//!
//! By concern: `args` (the command line, its facet options generated
//! from the catalogue's facet table), `folder` (the ontology folder and
//! `--prepare`), `ontology` and `index` (one guide file and its kept
//! index), `resolve` (what each value matches), `fields` (the fields
//! of a record, read with cxg-json's record stream), `select` (the
//! selection), `report` (stderr), `suggest` ("did you mean").

mod args;
mod fields;
mod report;
mod select;

pub use args::Args;
use cxg_core::{Ctx, Result};
use cxg_json::jq::Where;
use cxg_json::stream::JsonStream;
use cxg_terms::folder::{self, Ontologies};
use cxg_terms::resolve::{self, Sel};
use select::{Selection, Sink};

/// Select the records of the input (see [`Args`]); records that could not
/// be read are named and counted through `ctx.diag`.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    if args.prepare {
        return prepare(&args, &ctx.diag);
    }
    // Everything that can fail on its own is checked before reading input.
    let filter = args.where_.as_deref().map(Where::compile).transpose()?;
    let mut onts = if args.no_ontology {
        Ontologies::none(&ctx.diag)
    } else {
        Ontologies::open(&args.folder(), args.requests(), &ctx.diag)?
    };
    if !args.requests().is_empty() && onts.dir.is_none() {
        ctx.diag.warn("warning: NO ONTOLOGY FILES (--ontology DIR or CXG_ONTOLOGY; make ontologies fetches them): descendants are NOT included: a value matches only the records that name that very term (--tissue lung keeps no 'lung parenchyma' dataset)");
    }
    let mut sels: Vec<Sel> = Vec::new();
    for r in args.requests() {
        for v in &r.values {
            sels.push(resolve::resolve(
                r.facet, r.exclude, v, args.exact, &mut onts,
            )?);
        }
    }
    if !args.no_ontology {
        report::cannot_expand(&sels, &onts)?;
    }
    if args.verbose {
        onts.tell_loaded();
    }
    let mut selection = Selection::new(sels, &args, filter);
    let input = ctx.input(args.file.as_deref())?;
    let mut src = JsonStream::new(input.name, input.reader);
    let mut sink = Sink::new(&mut ctx.out, selection.unconfirmed > 0, &args)?;
    let tally = selection.run(&mut src, &mut sink, &ctx.diag)?;
    if selection.unconfirmed > 0 {
        // The run fails: load the other facets' ontologies too, to say
        // where a value given to the wrong option belongs.
        onts.load_all_facets();
        return Err(report::unconfirmed(&selection, &tally, &onts));
    }
    report::summary(&selection, &tally, &onts, &ctx.diag);
    Ok(())
}

/// --prepare: index every file of the ontology folder (and nothing else).
fn prepare(args: &Args, diag: &cxg_core::ctx::Diag) -> Result<()> {
    if !args.requests().is_empty()
        || args.file.is_some()
        || args.where_.is_some()
        || args.min_cells.is_some()
        || args.no_preprints
        || args.exact
        || args.out.output.is_some()
    {
        return Err(cxg_core::Error::input(
            "--prepare indexes the ontology folder and writes no records: give it no FILE, no -o and no selection option",
        ));
    }
    folder::prepare(&args.folder(), diag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod in_process {
    use super::*;
    use clap::Parser;

    /// Run on `stdin` with `flags`; `onto`: with the fixture ontology (its
    /// indexes kept in a temporary folder).
    fn select(flags: &[&str], stdin: &str, onto: bool) -> (i32, String, Vec<String>) {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ontology");
        let index = tempfile::tempdir().unwrap();
        let mut argv = vec!["cxg-select"];
        if onto {
            argv.extend(["--ontology", fixture, "--index-dir"]);
            argv.push(index.path().to_str().unwrap());
        } else if !flags.is_empty() {
            // without an ontology on purpose (else an error: see below)
            argv.push("--no-ontology");
        }
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).unwrap();
        cxg_core::ctx::run_memory(stdin.as_bytes(), |ctx| run(args, ctx))
    }

    const LUNG: &str = r#"{"dataset_id":"lung","tissue":[{"label":"lung","ontology_term_id":"UBERON:0002048","tissue_type":"tissue"}],"suspension_type":["cell"],"cell_count":10}"#;
    const PARENCHYMA: &str = r#" {"dataset_id":"parenchyma","tissue":[{"label":"lung parenchyma","ontology_term_id":"UBERON:0008946","tissue_type":"organoid"}],"suspension_type":["nucleus"]}"#;
    const BRAIN: &str = r#"{"dataset_id":"brain","tissue":[{"label":"lung","ontology_term_id":"UBERON:0002048","tissue_type":"tissue"},{"label":"brain","ontology_term_id":"UBERON:0000955","tissue_type":"organoid"}],"cell_count":3,"collection":{"publisher_metadata":{"is_preprint":true}}}"#;

    const SKIN: &str = r#"{"dataset_id":"skin","tissue":[{"label":"skin of body","ontology_term_id":"UBERON:0002097","tissue_type":"tissue"}]}"#;

    /// (flags, with the fixture ontology, input, exit status, output, a
    /// warning).
    type Case<'a> = (&'a [&'a str], bool, String, i32, String, &'a str);

    /// Without ontology files, a value of an ontology facet is an error
    /// unless --no-ontology says so on purpose; values no ontology expands
    /// (a fixed vocabulary, unknown) need neither.
    #[test]
    fn without_ontology_files_a_term_value_is_an_error_unless_intended() {
        std::env::remove_var("CXG_ONTOLOGY");
        let run_argv = |argv: &[&str]| {
            let args = Args::try_parse_from(argv).unwrap();
            cxg_core::ctx::run_memory(LUNG.as_bytes(), |ctx| run(args, ctx))
        };
        let (code, out, msgs) = run_argv(&[
            "cxg-select",
            "--tissue",
            "lung",
            "--organism",
            "Homo sapiens",
        ]);
        assert_eq!((code, out.as_str()), (2, ""), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("--organism 'Homo sapiens' (no ontology folder), --tissue lung (no ontology folder): without the ontology file, such a value matches only the records that name that very term, none of its descendants")), "{msgs:?}");
        assert!(msgs
            .iter()
            .any(|m| m.contains("or give --no-ontology to select so on purpose")));
        let (code, out, _) = run_argv(&["cxg-select", "--no-ontology", "--tissue", "lung"]);
        assert_eq!((code, out), (0, format!("{LUNG}\n")));
        for ok in [["--suspension-type", "cell"], ["--sex", "unknown"]] {
            let (code, _, msgs) = run_argv(&["cxg-select", ok[0], ok[1]]);
            assert_eq!(code, 0, "{ok:?}: {msgs:?}");
            assert!(
                msgs.iter().any(|m| m.contains("NO ONTOLOGY FILES")),
                "{msgs:?}"
            );
        }
        // a folder without the facet's file: named
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ontology");
        let index = tempfile::tempdir().unwrap();
        let idx = index.path().to_str().unwrap();
        let (code, _, msgs) = run_argv(&[
            "cxg-select",
            "--ontology",
            fixture,
            "--index-dir",
            idx,
            "--self-reported-ethnicity",
            "European",
        ]);
        assert_eq!(code, 2, "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("--self-reported-ethnicity European (no HANCESTRO file in ")),
            "{msgs:?}"
        );
        assert!(Args::try_parse_from(["cxg-select", "--no-ontology", "--ontology", "x"]).is_err());
    }

    /// Literal records → literal records, one line per case.
    #[test]
    fn selects() {
        // the rows without --ontology must not find a folder in the
        // environment (no other test of this crate reads it)
        std::env::remove_var("CXG_ONTOLOGY");
        let input = format!("{LUNG}\n{PARENCHYMA}\r\n{BRAIN}");
        let all = format!("{LUNG}\n{PARENCHYMA}\r\n{BRAIN}\n");
        let bad = r#"{"dataset_id":"x","tissue":"lung"}"#;
        let n = |v: &str| format!("{{\"dataset_id\":\"n\",\"n\":{v}}}\n");
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            (&[], false, input.clone(), 0, all.clone(), "3 records in, 3 out"),
            (&["--tissue", "lung"], false, input.clone(), 0, format!("{LUNG}\n{BRAIN}\n"), "warning: NO ONTOLOGY FILES (--ontology DIR or CXG_ONTOLOGY; make ontologies fetches them): descendants are NOT included"),
            (&["--tissue", "lung"], true, input.clone(), 0, all.clone(), "and 5 descendants: 6 terms: 3 records"),
            (&["--tissue", "lung", "--exact"], true, input.clone(), 0, format!("{LUNG}\n{BRAIN}\n"), "--exact: the term alone"),
            (&["--exclude-tissue", "lung parenchyma"], true, input.clone(), 0, format!("{LUNG}\n{BRAIN}\n"), "1 record"),
            (&["--tissue", "lung", "--tissue-type", "organoid"], true, input.clone(), 0, format!("{PARENCHYMA}\r\n"), "3 records in, 1 out"),
            (&["--tissue-type", "organoid"], false, input.clone(), 0, format!("{PARENCHYMA}\r\n{BRAIN}\n"), "'organoid': 2 records"),
            (&["--suspension-type", "NUCLEUS"], false, input.clone(), 0, format!("{PARENCHYMA}\r\n"), "1 record without 'suspension_type'"),
            (&["--min-cells", "5"], false, input.clone(), 0, format!("{LUNG}\n{PARENCHYMA}\r\n"), "1 record without cell_count kept"),
            (&["--no-preprints"], false, input.clone(), 0, format!("{LUNG}\n{PARENCHYMA}\r\n"), "1 preprint removed"),
            (&["--where", ".cell_count > 5"], false, input.clone(), 0, format!("{LUNG}\n"), "3 records in, 1 out"),
            (&["--where", "(.n|tostring) == \"1.50\""], false, n("1.50") + &n("1.5"), 0, n("1.50"), "2 records in, 1 out"),
            (&["--where", "def f: 1 + f; f"], false, input.clone(), 2, String::new(), "recursion too deep"),
            (&["--where", ".cell_count + \"x\""], false, LUNG.into(), 1, String::new(), "--where failed on dataset lung"),
            (&["--tissue", "lung"], false, format!("{bad}\n{LUNG}"), 1, format!("{LUNG}\n"), "'tissue' is not a list of ontology terms"),
            (&[], false, format!("{bad}\n{LUNG}"), 0, format!("{bad}\n{LUNG}\n"), "2 records in, 2 out"),
            (&["--tissue", "lugn"], false, input.clone(), 2, String::new(), "did you mean 'lung'"),
            (&["--tissue", "lung"], false, r#"{"datasets":[]}"#.into(), 2, String::new(), "this is a collection"),
            (&["--organism", "x"], false, format!("[{LUNG},\n{LUNG}]"), 2, String::new(), "no such value in the data"),
            (&[], false, "{\"dataset_id\":\n \"m\", \"n\": 1.50}\n".into(), 0, "{\"dataset_id\":\"m\",\"n\":1.50}\n".into(), "1 records in, 1 out"),
            (&[], false, format!("{LUNG}\n\n{{\"b\":"), 2, format!("{LUNG}\n"), "stdin: line 3, column 5: invalid JSON in record 2: EOF while parsing a value (truncated JSON?)"),
            (&[], false, "{\"a\": x}\n".into(), 2, String::new(), "stdin: line 1, column 7: invalid JSON in record 1: expected value"),
            (&[], false, "{\"a\":1} {\"b\":2}\n".into(), 2, String::new(), "stdin: line 1: record 1: '{' after the end of the object"),
            (&[], false, "{\"a\":1}\n[2]\n".into(), 2, "{\"a\":1}\n".into(), "stdin: line 2: record 2: expected a JSON object, found '['"),
            (&["--tissue", "skin"], true, format!("{SKIN}\n{SKIN}\n{LUNG}"), 0, String::new(), "warning: --tissue skin: 'zone of skin' (UBERON:0000014): 0 datasets; 'skin of body' (UBERON:0002097) has 2 (not its descendant: name it to select it)"),
            (&["--tissue", "brain"], true, LUNG.into(), 0, String::new(), "warning: --tissue brain matches no record"),
            (&["--sex", "unknown"], false, format!("[{LUNG}, {{\"sex\":[{{\"ontology_term_id\":\"unknown\"}}]}}]"), 0, "{\"sex\":[{\"ontology_term_id\":\"unknown\"}]}\n".into(), "never expanded"),
        ];
        for (flags, onto, input, code, want, warned) in cases {
            let (got, out, warnings) = select(flags, &input, onto);
            assert_eq!(got, code, "{flags:?}: {warnings:?}");
            assert_eq!(out, want, "{flags:?}");
            assert!(
                warnings.iter().any(|w| w.contains(warned)),
                "{flags:?}: {warned:?} not in {warnings:?}"
            );
        }
    }
}
