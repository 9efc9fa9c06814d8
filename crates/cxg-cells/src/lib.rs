//! cxg-cells: the cells of an H5AD file, for the tools that count them
//! (cxg-obs) and write them (cxg-subset): the `obs` table read in pure
//! Rust (no Python, no system HDF5, never `X`), of any AnnData layout
//! (0.8 and later, 0.7's `__categories`, < 0.7's compound table), and
//! which cells a filter keeps — the facet options of cxg-select resolved
//! by the same code (cxg-terms), `--primary`, `--normal`, and an age range
//! from the HsapDv and MmusDv stages.
//!
//! By concern: `input` (the list of files or the download manifest),
//! `file` (opening a file), `obs` (its columns by name),
//! `read` and `compound` (datasets, piece by piece), `distinct` (counting
//! distinct values), `lzf` (the LZF filter), `inflate` (gzip chunks, with
//! libdeflate), `args` (the filter's options), `filter` (the cell mask), `panics` (a
//! panic in an HDF5 crate as the file's error).

pub mod args;
pub mod codes;
pub mod compound;
pub mod distinct;
pub mod file;
pub mod filter;
pub mod inflate;
pub mod input;
pub mod lzf;
pub mod obs;
pub mod panics;
pub mod read;

pub use args::CellArgs;
pub use file::H5ad;
pub use filter::{CellFilter, Mask, Outcome};
