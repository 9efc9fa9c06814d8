//! Plumbing shared by every cxg tool: exit codes and errors, the command
//! line's common parts, the run context, input and atomic output, ordered
//! parallel work, digests and timestamps, and the safe-name rule.
//!
//! The core holds no tool's domain logic, no JSON and no network: those
//! are `cxg-json`, `cxg-http` and `cxg-catalog`.

pub mod cli;
pub mod ctx;
pub mod digest;
pub mod error;
pub mod io;
pub mod par;
pub mod paths;
pub mod time;

pub use ctx::Ctx;
pub use error::{At, Error, Exit, Result};
