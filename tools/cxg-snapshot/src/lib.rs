//! cxg-snapshot: keep every harvest. `save` stores the raw API responses
//! of a harvest in a new `SNAPSHOTS/<UTC time>/` folder with its
//! `provenance.json` (tool versions, API URL, times, every request, record
//! counts, schema versions, SHA-256 of every output), never overwriting an
//! earlier one; identical files are stored once (content-addressed: a copy
//! in `.objects/<sha256>`, hard-linked into each snapshot; the working files
//! stay independent files, so editing them never reaches the store). A save
//! that fetched nothing (no requests) with the same raw files as the newest
//! snapshot adds none. With `--responses DIR` the per-dataset answers
//! `cxg-h5ad --keep-responses DIR` kept are stored too (under their
//! `collections/<cid>/datasets/<did>.json` paths), so that `cxg-serve`
//! replays the whole harvest. `list` shows the snapshots with their date, counts
//! and size; `verify` re-hashes the store; `choose` records a choice made
//! after the harvest (a later cell filter) in a working provenance.json.

mod args;
mod choose;
mod inputs;
mod list;
mod lock;
mod save;
mod store;
mod verify;

pub use args::Args;
use args::Command;
use cxg_core::{Ctx, Result};
use std::path::Path;

pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    match args.command {
        Command::Save(a) => save::save(a, &ctx.diag),
        Command::List(a) => list::list(a, ctx),
        Command::Verify(a) => verify::verify(a, &ctx.diag),
        Command::Choose(a) => choose::choose(a),
    }
}

/// The last part of a path, as text ("" for none).
fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
