//! The one HTTP policy of the cxg tools: [`client`] holds the agent, the
//! options every networked tool shares, retries with backoff and
//! `Retry-After`, and the classification of failures; [`log`] is the
//! request log behind `--log-requests`.

pub mod client;
pub mod log;

pub use client::*;
