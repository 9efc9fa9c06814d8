//! cxg-obs: cell-level summaries straight from H5AD files — cells that are
//! normal, primary, how many donors, and cells per cell type, tissue,
//! disease, assay, sex, development stage, ethnicity, suspension type and
//! tissue type — read from the `obs` table in pure Rust (no Python, no
//! system HDF5), never touching `X`; and what authors added (`obsm` keys,
//! obs columns beyond the schema, the author cell-type column). Any AnnData
//! (0.7 and later, and < 0.7's compound obs) of any CELLxGENE schema from
//! 2.0: a quantity whose column the file lacks is null and the column is
//! named in `missing_columns`. One JSON Lines record (or CSV row) per
//! file, in input order; a file that cannot be read is named on stderr and
//! gets a `failed` record, and the others go on.
//!
//! With a cell filter (cxg-select's facet options, `--primary`,
//! `--normal`, `--min-age`/`--max-age`: crates/cxg-cells, the code
//! cxg-subset chooses its cells with), each record also counts the cells
//! it keeps and names the filter.
//!
//! `--join CSV` adds the scalar columns to a harvester CSV instead.

mod extras;
mod facet;
mod h5ad;
mod join;
mod summary;

use clap::Parser;
use cxg_cells::{CellArgs, CellFilter};
use cxg_core::{Ctx, Result};
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # one JSON line per file, from the manifest cxg-download writes
  cxg-obs data/h5ad/manifest.csv > obs.jsonl

  # relative paths are taken from the current folder (where cxg-download
  # ran), or from --base: a harvest made in /srv/harvest, read from here
  cxg-obs --base /srv/harvest /srv/harvest/data/h5ad/manifest.csv > obs.jsonl

  # or from a list of paths, 4 files at a time, as a flat CSV
  ls data/h5ad/*.h5ad | cxg-obs -j 4 --csv > obs.csv

  # the cell types of one file, most cells first
  echo my.h5ad | cxg-obs | jq '.counts.cell_type'

  # what authors added: embeddings, their cell-type column, what is missing
  echo my.h5ad | cxg-obs | jq '{obsm, author_cell_type_column, missing_columns}'

  # add normal_cell_count, primary_cell_count and donor_count to the harvester CSV
  cxg-obs --join all_datasets_h5ad.csv obs.jsonl > all_datasets_obs.csv

  # and count the cells a study keeps: normal, primary, adult donors, lung (and its parts)
  cxg-obs --ontology ~/.cache/cxg/ontology --normal --primary --min-age 18 --tissue lung \
    data/h5ad/manifest.csv | jq -c '{dataset_version_id, filtered_cell_count, filtered_donor_count}'

  # cells of no known age kept (they are counted apart either way)
  cxg-obs --ontology ~/.cache/cxg/ontology --max-age 65 --keep-unknown-age data/h5ad/manifest.csv";

/// Summarise the cells of H5AD files from their obs table (never X).
#[derive(Parser, Debug)]
#[command(name = "cxg-obs", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// H5AD paths, one per line, or the manifest CSV of cxg-download (its
    /// `path` column; rows with status `failed` are skipped and counted).
    /// With --join: the JSON Lines this tool wrote. `-` or none: stdin
    file: Option<PathBuf>,
    /// Write a flat CSV: the scalar columns, and each facet as
    /// `id:count | id:count`, most cells first (ties by id)
    #[arg(long, conflicts_with = "join")]
    csv: bool,
    /// Files read at a time (default: the number of cores)
    #[arg(short = 'j', long, value_name = "N", value_parser = cxg_core::cli::jobs())]
    jobs: Option<u16>,
    /// Append normal_cell_count, primary_cell_count and donor_count (and,
    /// for records written with a cell filter, filtered_cell_count,
    /// filtered_donor_count and age_unknown_cell_count) to the rows of this
    /// CSV (joined on dataset_version_id; on dataset_id only for rows
    /// without a dataset_version_id), reading FILE as this tool's JSON Lines
    #[arg(long, value_name = "CSV")]
    join: Option<PathBuf>,
    /// Take relative paths (of the manifest or the list) from DIR. Default:
    /// the current folder, as cxg-download writes them relative to where it
    /// ran; never looked up anywhere else
    #[arg(long, value_name = "DIR")]
    base: Option<PathBuf>,
    /// No summary line on stderr
    #[arg(short, long)]
    quiet: bool,
    /// The cell filter: with any of its options, each record also counts
    /// the cells it keeps (filtered_cell_count, filtered_donor_count,
    /// age_unknown_cell_count, filtered_counts) and names it (filter)
    #[command(flatten)]
    cells: CellArgs,
    #[command(flatten)]
    out: cxg_core::cli::OutputArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

/// Summarise the files the input names into `ctx.out` (or, with
/// `--join`, join this tool's records into a CSV); files that cannot be
/// read are failed records on `ctx.diag`.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    if let Some(csv) = &args.join {
        if args.cells.filters() {
            return Err(cxg_core::Error::input(
                "--join joins the records this tool wrote: give the cell filter when summarising (its counts are then joined too)",
            ));
        }
        return join::run(args.file.as_deref(), csv, args.quiet, ctx);
    }
    // the filter is resolved (and a wrong value named) before any file is
    // read, and before the input: a typo fails at once, not when the
    // producer of the list ends
    let filter = if args.cells.filters() {
        Some(CellFilter::announced(&args.cells, &ctx.diag, args.quiet)?)
    } else {
        None
    };
    let jobs = cxg_cells::input::jobs(ctx, args.file.as_deref(), args.base.as_deref())?;
    let threads = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        usize::from,
    );
    summary::run(&jobs, threads, args.csv, args.quiet, filter.as_ref(), ctx)?;
    if let Some(f) = &filter {
        f.report(&ctx.diag, args.quiet);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/h5ad")
    }

    fn obs(flags: &[&str], stdin: &str) -> (i32, String, Vec<String>) {
        let mut argv = vec!["cxg-obs"];
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).unwrap();
        cxg_core::ctx::run_memory(stdin.as_bytes(), |ctx| run(args, ctx))
    }

    /// The committed fixtures, one a case: the scalar columns of the CSV
    /// row (fields joined by commas), its sex column, and the warning.
    #[test]
    fn summaries_of_the_committed_fixtures() {
        let base = fixtures();
        let base = base.to_str().unwrap();
        #[rustfmt::skip]
        let cases: [(&str, i32, &str, &str, &str); 9] = [
            ("plain", 0, "plain,,plain.h5ad,ok,,5.2.0,500,197,301,20", "unknown:213 | PATO:0000384:161 | PATO:0000383:126", ""),
            ("anndata07_layout", 0, "anndata07_layout,,anndata07_layout.h5ad,ok,,5.2.0,1500,757,1030,20", "unknown:811 | PATO:0000383:451 | PATO:0000384:238", ""),
            ("ids_only", 0, "ids_only,,ids_only.h5ad,ok,,5.2.0,400,134,278,20", "PATO:0000383:148 | unknown:130 | PATO:0000384:122", ""),
            ("wide_codes", 0, "7c1e2a44-9d0b-4f3e-b6a1-5e8d2c9f0b77,,wide_codes.h5ad,ok,,5.2.0,3000,1078,2104,25", "", ""),
            ("not_hdf5", 1, "not_hdf5,,not_hdf5.h5ad,failed,not an HDF5 file (no HDF5 signature),,,,,", "", "'not_hdf5.h5ad': not an HDF5 file"),
            ("truncated", 1, "truncated,,truncated.h5ad,failed,truncated: the file has 107037 bytes, its HDF5 header says 267593,,,,,", "", "'truncated.h5ad': truncated"),
            ("missing_column", 0, "missing_column,,missing_column.h5ad,ok,,5.2.0,300,139,211,", "unknown:153 | PATO:0000384:116 | PATO:0000383:31", ""),
            ("not_anndata", 1, "not_anndata,,not_anndata.h5ad,failed,no 'obs' group: not an AnnData file,,,,,", "", "not an AnnData file"),
            ("zstd", 1, "zstd,,zstd.h5ad,failed,column 'obs/cell_type_ontology_term_id/codes': unsupported compression filter 32015 (Zstandard); only gzip, LZF, shuffle, fletcher32, nbit, scaleoffset and szip can be read,,,,,", "", "(Zstandard)"),
        ];
        for (name, code, scalars, sex, warned) in cases {
            let (got, out, warnings) =
                obs(&["--csv", "-q", "--base", base], &format!("{name}.h5ad\n"));
            assert_eq!(got, code, "{name}: {warnings:?}");
            let mut rdr = csv::Reader::from_reader(out.as_bytes());
            let header = rdr.headers().unwrap().clone();
            let row = rdr.records().next().unwrap().unwrap();
            let fields: Vec<&str> = row.iter().collect();
            assert_eq!(fields[..10].join(","), scalars, "{name}");
            let sex_col = header.iter().position(|h| h == "sex").unwrap();
            if name != "wide_codes" {
                assert_eq!(fields[sex_col], sex, "{name}");
            }
            match warned {
                "" => assert!(warnings.is_empty(), "{name}: {warnings:?}"),
                w => assert!(
                    warnings.iter().any(|g| g.contains(w)),
                    "{name}: {warnings:?}"
                ),
            }
        }
    }

    /// cxg-download's manifest: ids from its columns, a failed download
    /// named and skipped, and the counts line.
    #[test]
    fn the_manifest_gives_ids_and_skips_failed_downloads() {
        let base = fixtures();
        let manifest = std::fs::read_to_string(base.join("manifest.csv")).unwrap();
        let (code, out, warnings) = obs(&["--csv", "--base", base.to_str().unwrap()], &manifest);
        assert_eq!(code, 0, "{warnings:?}");
        let ids: Vec<String> = out
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
            .collect();
        assert_eq!(
            ids,
            [
                "0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b,5e1c7f0a-2b3d-4c5e-8f6a-7b8c9d0e1f2a,0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b.h5ad,ok",
                "7c1e2a44-9d0b-4f3e-b6a1-5e8d2c9f0b77,3b9d2e71-6c4a-4f8b-9e0d-1a2b3c4d5e6f,wide_codes.h5ad,ok",
                "8e7f6a5b-4c3d-4e2f-9a1b-0c9d8e7f6a5b,1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a,anndata08.h5ad,ok",
                "6b5a4c3d-2e1f-4a0b-8c9d-7e6f5a4b3c2d,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,plain.h5ad,ok",
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].ends_with(
            "row 3: dataset c4d3e2f1-a0b9-4c8d-9e7f-6a5b4c3d2e1f: the download failed; skipped"
        ));
        assert!(warnings[1].starts_with(
            "4 files: 4 summarised, 0 failed, 1 manifest row skipped (download failed); 7000 cells in "
        ));
    }

    /// `--join`: this tool's records in (stdin), a harvester CSV (a file)
    /// joined, one line per case.
    #[test]
    fn join_appends_the_scalars() {
        let dir = std::env::temp_dir().join(format!("cxg-obs-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = |v: &str, d: &str, n: u8| {
            format!(
                r#"{{"dataset_version_id":"{v}","dataset_id":"{d}","status":"ok","error":null,"normal_cell_count":{n},"primary_cell_count":2,"donor_count":3}}"#
            )
        };
        let failed = r#"{"dataset_version_id":"v9","dataset_id":"d9","status":"failed","error":"not an HDF5 file","normal_cell_count":null}"#;
        let j = "normal_cell_count,primary_cell_count,donor_count";
        #[rustfmt::skip]
        let cases: Vec<(String, &str, i32, String, &str)> = vec![
            (ok("v1", "d1", 1), "dataset_id,dataset_version_id,x\nd1,v1,\"a,b\"\n", 0, format!("dataset_id,dataset_version_id,x,{j}\nd1,v1,\"a,b\",1,2,3\n"), "1 row: 1 joined"),
            (ok("v1", "d1", 1), "dataset_id,x\nd1,y\nd2,z\n", 0, format!("dataset_id,x,{j}\nd1,y,1,2,3\nd2,z,,,\n"), "row 2 (dataset d2): no cxg-obs record; cells left empty"),
            (ok("v1", "d1", 1), "dataset_id,dataset_version_id\nd1,v2\n", 0, format!("dataset_id,dataset_version_id,{j}\nd1,v2,,,\n"), "row 1 (dataset d1): no cxg-obs record of version v2, only of version v1; cells left empty"),
            (ok("v1", "d1", 1), "donor_count,dataset_version_id,normal_cell_count\n9,v1,8\n", 0, "donor_count,dataset_version_id,normal_cell_count,primary_cell_count\n3,v1,1,2\n".into(), "1 row: 1 joined"),
            (ok("v1", "d1", 1) + "\n" + &ok("v1", "d1", 7), "dataset_version_id\nv1\n", 0, format!("dataset_version_id,{j}\nv1,7,2,3\n"), "line 2: dataset_version_id v1 repeats; the last record is used"),
            (r#"{"dataset_version_id":"v1","status":"ok","error":null,"normal_cell_count":4,"primary_cell_count":null,"donor_count":null}"#.into(), "dataset_version_id\nv1\n", 0, format!("dataset_version_id,{j}\nv1,4,,\n"), "1 row: 1 joined"),
            (failed.into(), "dataset_version_id\nv9\n", 1, format!("dataset_version_id,{j}\nv9,,,\n"), "row 1 (dataset v9): its file failed (not an HDF5 file); cells left empty"),
            (ok("v1", "d1", 1), "a,b\n1,2\n", 2, String::new(), "expected a dataset_version_id or dataset_id column; found: a, b"),
            (r#"{"n_cells":1}"#.into(), "dataset_id\nd1\n", 2, String::new(), "has no string dataset_version_id (not cxg-obs output?)"),
        ];
        for (k, (records, csv, code, want, warned)) in cases.into_iter().enumerate() {
            let path = dir.join(format!("{k}.csv"));
            std::fs::write(&path, csv).unwrap();
            let (got, out, warnings) = obs(&["--join", path.to_str().unwrap()], &records);
            assert_eq!(
                (got, out.as_str()),
                (code, want.as_str()),
                "{csv}: {warnings:?}"
            );
            assert!(
                warnings.iter().any(|w| w.contains(warned)),
                "{csv}: {warnings:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The cell filter on the committed fixtures, one line per case: the
    /// counts pandas gives (tests/fixtures/h5ad/filters.expected.json) and
    /// what a file without the columns gets.
    #[test]
    fn cell_filters_count_the_kept_cells() {
        let base = fixtures();
        let base = base.to_str().unwrap();
        #[rustfmt::skip]
        let cases: [(&str, &[&str], &str); 4] = [
            ("plain", &["--normal", "--primary"], "114,20,0"),
            ("anndata07_layout", &["--normal", "--primary"], "513,20,0"),
            ("any/schema2_ethnicity", &["--self-reported-ethnicity", "HANCESTRO:0005"], "109,,0"),
            ("any/study_own", &["--normal"], ",,"),
        ];
        for (name, flags, want) in cases {
            let mut argv = vec!["--csv", "-q", "--base", base];
            argv.extend_from_slice(flags);
            let (code, out, warnings) = obs(&argv, &format!("{name}.h5ad\n"));
            assert_eq!(code, 0, "{name}: {warnings:?}");
            let row = out.lines().nth(1).unwrap();
            let fields: Vec<&str> = row.rsplitn(4, ',').collect();
            let got = format!("{},{},{}", fields[2], fields[1], fields[0]);
            assert_eq!(got, want, "{name} {flags:?}");
        }
    }

    /// The filter's messages come first, the skipped rows after them, and
    /// nothing is written when it fails — not even the CSV header.
    #[test]
    fn the_filter_is_said_first_and_a_failing_one_writes_nothing() {
        let base = fixtures();
        let manifest = std::fs::read_to_string(base.join("manifest.csv")).unwrap();
        let base = base.to_str().unwrap();
        let (code, out, warnings) = obs(&["--csv", "--base", base, "--sex", "male"], &manifest);
        assert_eq!(code, 0, "{warnings:?}");
        assert_eq!(out.lines().count(), 5);
        let at = |w: &str| warnings.iter().position(|g| g.contains(w)).unwrap();
        assert!(at("--sex male: as it appears in the data") < at("row 3: dataset"));
        assert!(at("row 3: dataset") < at("4 files: 4 summarised"));
        assert!(at("4 files: 4 summarised") < at("--sex male: 3404 cells matched"));
        for flags in [&["--csv"][..], &[]] {
            let mut argv = vec!["--base", base, "--min-age", "30", "--max-age", "20"];
            argv.extend_from_slice(flags);
            let (code, out, warnings) = obs(&argv, &manifest);
            assert_eq!((code, out.as_str()), (2, ""), "{flags:?}");
            assert!(warnings.iter().any(|w| w.contains("no age is at least 30")));
            assert!(
                !warnings.iter().any(|w| w.contains("row 3")),
                "{warnings:?}"
            );
        }
        // the filter's error comes before the input's
        let (code, _, warnings) = obs(&["--min-age", "30", "--max-age", "20"], "a,b\n1,2\n");
        assert_eq!(code, 2);
        assert!(
            warnings.iter().any(|w| w.contains("no age is at least 30")),
            "{warnings:?}"
        );
    }

    #[test]
    fn jobs_are_1_to_256() {
        let parse = |j: &str| Args::try_parse_from(["cxg-obs", "-j", j]);
        for j in ["0", "257", "99999999999", "x"] {
            assert!(parse(j).is_err(), "-j {j}");
        }
        assert_eq!(parse("256").unwrap().jobs, Some(256));
    }
}
