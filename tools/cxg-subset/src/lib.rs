//! cxg-subset: the cells a study keeps, written as an H5AD that anndata
//! reads as `read_h5ad(src)[mask].copy()` — X (CSR, CSC, dense), raw,
//! layers, obs, obsm, obsp subset; var, varm, varp, uns kept — in pure
//! Rust (no Python, no system HDF5), streaming, each output atomic. One
//! manifest row per file, in input order; a file that cannot be read is
//! named on stderr and gets a `failed` row, and the others go on.

mod copy;
mod dense;
pub mod engine;
mod frame;
mod h5;
mod heap;
mod job;
mod manifest;
mod rows;
mod sparse;
mod stored;
mod stream;

use clap::Parser;
use cxg_cells::{CellArgs, CellFilter, Outcome};
use cxg_core::{At, Ctx, Result};
use std::path::PathBuf;

const EXAMPLES: &str = "\
  # normal adult lung cells of primary data, of every downloaded file
  cxg-subset --tissue lung --normal --primary --min-age 18 \\
    --out-dir subset -j 2 data/h5ad/manifest.csv > subset.csv

  # the T cells (and every kind of T cell) of one file
  echo my.h5ad | cxg-subset --cell-type 'T cell' --out-dir out

  # no filter option: every cell (a copy in anndata's own layout)
  echo my.h5ad | cxg-subset --out-dir out";

/// Write the cells of H5AD files that pass a filter as new H5AD files.
#[derive(Parser, Debug)]
#[command(name = "cxg-subset", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    /// H5AD paths, one per line, or the manifest CSV of cxg-download (its
    /// `path` column; rows with status `failed` or `no_asset` are skipped
    /// and named). `-` or none: stdin
    file: Option<PathBuf>,
    /// Write each subset as DIR/<dataset_version_id>.h5ad (the input
    /// file's name without .h5ad when the input has no id). Created if
    /// missing
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Files subset at a time (default: 1; each holds a window of rows and
    /// the obs table in memory)
    #[arg(short = 'j', long, value_name = "N", value_parser = cxg_core::cli::jobs())]
    jobs: Option<u16>,
    /// Take relative paths (of the manifest or the list) from DIR. Default:
    /// the current folder
    #[arg(long, value_name = "DIR")]
    base: Option<PathBuf>,
    /// No summary line on stderr
    #[arg(short, long)]
    quiet: bool,
    /// The cells to keep (as cxg-obs counts them); none: every cell
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

/// Subset the files the input names into `--out-dir`, one manifest row
/// each on `ctx.out`; files that cannot be subset are failed rows.
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    // the filter is resolved (and a wrong value named) before any file is read
    let filter = CellFilter::announced(&args.cells, &ctx.diag, args.quiet)?;
    std::fs::create_dir_all(&args.out_dir)
        .at(format_args!("cannot create '{}'", args.out_dir.display()))?;
    let jobs = cxg_cells::input::jobs(ctx, args.file.as_deref(), args.base.as_deref())?;
    let threads = args.jobs.map_or(1, usize::from);
    // a panic in an HDF5 crate is its file's error, not printed
    cxg_cells::panics::install_hook();
    let given = filter.given.join(" ");
    let choose = |j: &cxg_cells::input::Job| mask(&filter, &j.resolved);
    manifest::run(
        &jobs,
        threads,
        &args.out_dir,
        &choose,
        &given,
        args.quiet,
        ctx,
    )?;
    // as cxg-obs does: cells matched per value, and a value that matched none
    filter.report(&ctx.diag, args.quiet);
    Ok(())
}

/// The cells of one file the filter keeps; a file without a column the
/// filter needs cannot be judged, and fails.
fn mask(filter: &CellFilter, path: &std::path::Path) -> std::result::Result<Vec<bool>, String> {
    if filter.is_empty() {
        return engine::n_cells(path).map(|n| vec![true; n as usize]);
    }
    let h5 = cxg_cells::H5ad::open(path)?;
    let obs = h5.obs()?;
    match filter.mask(&h5, &obs)? {
        Outcome::Mask(m) => Ok(m.keep),
        Outcome::Missing(cols) => Err(format!(
            "lacks the obs columns the filter needs: {}",
            cols.join(", ")
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
    }

    fn subset(out: &Path, stdin: &str) -> (i32, String, Vec<String>) {
        let base = fixtures();
        let argv = [
            "cxg-subset",
            "-q",
            "--base",
            base.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ];
        let args = Args::try_parse_from(argv).unwrap();
        cxg_core::ctx::run_memory(stdin.as_bytes(), |ctx| run(args, ctx))
    }

    /// One input a case: its manifest row (without the output's hash and
    /// size, checked apart), the exit code, and what stderr names; and
    /// nothing but finished files left in the output folder.
    #[test]
    fn files_good_and_damaged() {
        let out = std::env::temp_dir().join(format!("cxg-subset-unit-{}", std::process::id()));
        #[rustfmt::skip]
        let cases = [
            ("subset/csr.h5ad", 0, "csr,OUT/csr.h5ad,60,60,ok,", ""),
            ("subset/dense.h5ad", 0, "dense,OUT/dense.h5ad,30,30,ok,", ""),
            ("subset/no_x.h5ad", 1, "no_x,,40,40,failed,no 'X': not a complete AnnData file", "'subset/no_x.h5ad': no 'X'"),
            ("h5ad/not_hdf5.h5ad", 1, "not_hdf5,,,,failed,not an HDF5 file (no HDF5 signature)", "not an HDF5 file"),
            ("h5ad/truncated.h5ad", 1, "truncated,,,,failed,truncated: the file has 107037 bytes, its HDF5 header says 267593", "truncated"),
            ("h5ad/missing.h5ad", 1, "missing,,,,failed,cannot open: No such file or directory (os error 2)", "cannot open"),
        ];
        for (input, code, want, warned) in cases {
            let (got, csv, warnings) = subset(&out, &format!("{input}\n"));
            assert_eq!(got, code, "{input}: {warnings:?}");
            let csv = csv.replace(out.to_str().unwrap(), "OUT");
            let rec = csv::Reader::from_reader(csv.as_bytes())
                .records()
                .next()
                .unwrap()
                .unwrap();
            let f: Vec<&str> = rec.iter().collect();
            let short = [&f[..4], &f[6..]].concat().join(",");
            assert_eq!(short, want, "{input}");
            if f[6] == "ok" {
                assert_eq!(
                    f[4],
                    std::fs::metadata(f[1].replace("OUT", out.to_str().unwrap()))
                        .unwrap()
                        .len()
                        .to_string()
                );
                assert_eq!(f[5].len(), 64);
            }
            match warned {
                "" => assert!(warnings.is_empty(), "{input}: {warnings:?}"),
                w => assert!(
                    warnings.iter().any(|g| g.contains(w)),
                    "{input}: {warnings:?}"
                ),
            }
        }
        let mut left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["csr.h5ad", "dense.h5ad"]);
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn the_manifest_header_and_a_name_used_twice() {
        let out = std::env::temp_dir().join(format!("cxg-subset-twice-{}", std::process::id()));
        let (code, csv, warnings) = subset(&out, "subset/csc.h5ad\nsubset/csc.h5ad\n");
        assert_eq!(code, 1, "{warnings:?}");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "dataset_version_id,path,n_cells,kept_cells,bytes,sha256,status,reason"
        );
        assert!(lines[1].ends_with(",ok,"), "{}", lines[1]);
        assert_eq!(
            lines[2],
            "csc,,,,,,failed,another input file has the output name csc.h5ad"
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
}
