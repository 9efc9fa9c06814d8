//! Plumbing shared by every cxg tool: exit codes and errors, input and
//! atomic output, the streaming JSON reader and jq-compatible writer, the
//! HTTP client with its retry policy, the jq expression engine, and the
//! small checks (UUIDs, safe file names) that guard paths and URLs.
//!
//! The core holds no tool's domain logic.

pub mod cli;
pub mod ctx;
pub mod error;
pub mod http;
pub mod ids;
pub mod io;
pub mod jq;
pub mod json;
pub mod names;
pub mod par;
pub mod raw;
pub mod reqlog;
pub mod snapshots;

pub use ctx::Ctx;
pub use error::{Error, Exit, Outcome, Result};
