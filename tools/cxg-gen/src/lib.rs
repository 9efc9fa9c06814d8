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
mod emit;
mod h5ad;
mod rng;
mod snapshot;
mod sort;
mod vocab;
mod write;

pub use args::Args;
use cxg_core::{Ctx, Result};

pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    args.check()?;
    // refused before the first walk, which takes a while at large sizes
    write::check_target(&args.out_dir, args.force)?;
    let fates = snapshot::fates(&args)?;
    if args.assets {
        let (count, bytes) = snapshot::asset_needs(&args, &fates)?;
        assets::check_space(&args, count, bytes)?;
    }
    let t = write::write(&args, &fates)?;
    ctx.diag.warn(format_args!(
        "wrote '{}': {} collections, {} datasets ({} in the index, {} gone)",
        args.out_dir.display(),
        t.collections,
        t.datasets,
        t.indexed,
        t.gone
    ));
    if args.assets {
        ctx.diag.warn(format_args!(
            "wrote {} H5AD files ({} bytes) under '{}'",
            t.assets,
            t.asset_bytes,
            args.out_dir.join("assets").display()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
