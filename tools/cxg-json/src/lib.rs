//! The one JSON layer of the cxg tools: [`stream`] reads a JSON array or
//! JSON Lines one value at a time, [`raw`] validates and re-emits values
//! from their bytes (number text kept), [`jq`] compiles and runs jq
//! expressions, and [`names`] builds file names from record fields.

pub mod jq;
pub mod names;
pub mod raw;
pub mod stream;
