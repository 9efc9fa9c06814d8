//! The one HTTP policy of the cxg tools: [`args`] declares the HTTP
//! options once, [`agent`] builds the one kind of agent, [`policy`] is the
//! retry policy (backoff, `Retry-After`) and the classification of
//! failures, [`client`] is the API tools' client on top of them, and
//! [`log`] is the request log behind `--log-requests`. cxg-download uses
//! the first three for its file transfers.

pub mod agent;
pub mod args;
pub mod client;
pub mod log;
pub mod policy;

pub use agent::{agent, is_loopback, BodyTimeout};
pub use args::{HttpArgs, NetArgs};
pub use client::*;
pub use policy::{redirect_refused, status_verdict, transport_verdict, Retry, Verdict};
