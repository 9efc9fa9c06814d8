//! cxg-h5write: writing AnnData's on-disk elements (H5AD) over the
//! pure-Rust `rust-hdf5` writer — groups with their `encoding-type`
//! attributes, string arrays, categoricals, and arrays streamed in row
//! blocks — so that `anndata.read_h5ad` reads what cxg tools write.

pub use rust_hdf5;
