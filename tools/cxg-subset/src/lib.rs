//! cxg-subset: the cells a study keeps, written as an H5AD that anndata
//! reads as `read_h5ad(src)[mask].copy()`. Pure Rust, streaming.

mod copy;
mod dense;
pub mod engine;
mod frame;
mod h5;
mod rows;
mod sparse;

