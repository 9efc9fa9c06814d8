//! cxg-gen: a deterministic generator of snapshot folders that
//! `cxg-serve` serves as the curation API. From a seed it builds the
//! collections list, the full collections, the per-dataset objects and the
//! datasets index, all agreeing with each other, with the awkward cases of
//! the real API (null or empty publisher_metadata, consortium authors,
//! collections without datasets, several tissues, quotes/commas/newlines
//! and unicode in names, unknown extra fields, missing optional keys).

mod args;
mod assets;
mod collection;
mod dataset;
mod rng;
mod snapshot;
mod vocab;
mod write;

pub use args::Args;
use cxg_core::{Ctx, Result};

pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    args.check()?;
    let snap = snapshot::generate(&args);
    if args.assets {
        assets::check_space(&args, &snap)?;
    }
    let plan = write::Plan {
        force: args.force,
        list_only: args.list_only,
        seed: args.seed,
        sparse: args.sparse_assets,
    };
    write::write(&snap, &args.out_dir, &plan)?;
    ctx.diag.warn(format_args!(
        "wrote '{}': {} collections, {} datasets ({} in the index, {} gone)",
        args.out_dir.display(),
        snap.collections_list.len(),
        snap.dataset_objects.len() + snap.gone.len(),
        snap.index.len(),
        snap.gone.len()
    ));
    if args.assets {
        ctx.diag.warn(format_args!(
            "wrote {} H5AD files ({} bytes) under '{}'",
            snap.assets.len(),
            snap.assets.values().sum::<u64>(),
            args.out_dir.join("assets").display()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
