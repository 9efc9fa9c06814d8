//! What the tools know about the CELLxGENE catalogue, in one place: its
//! facets ([`facets`]), the shapes of its ids and URLs ([`ids`]) and how
//! harvest snapshots are named and found ([`snapshots`]).

pub mod facets;
pub mod ids;
pub mod snapshots;
