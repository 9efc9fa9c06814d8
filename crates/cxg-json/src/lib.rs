//! The one JSON layer of the cxg tools: [`raw`] is the one scanner (it
//! checks a value from its bytes, writes it out and records where its parts
//! lie, numbers as written), [`stream`] reads a JSON array or JSON Lines one
//! element at a time through it, [`jq`] compiles and runs jq expressions
//! (the `--where` filter and the JSON→jq conversion that keeps number
//! text), [`value`] writes serde_json values as jq prints them, and
//! [`names`] builds file names from record fields.

pub mod jq;
mod jq_depth;
pub mod names;
pub mod raw;
pub mod stream;
pub mod value;
