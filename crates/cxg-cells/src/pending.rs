//! A cell filter resolved while the first file is already being read.
//!
//! Resolving a filter loads its ontologies (tens of ms for UBERON, MONDO
//! and EFO), and a file's columns that do not depend on the filter can be
//! read meanwhile. [`Pending`] is resolved once, by whichever thread asks
//! first (cxg-obs starts one at once); every other asker waits for it.
//! Nothing that depends on the filter — a mask, a record — is made before
//! it is resolved, so a wrong value is still the run's error and no record
//! is written.

use crate::args::CellArgs;
use crate::filter::CellFilter;
use cxg_core::ctx::Diag;
use cxg_core::{Error, Result};
use std::sync::OnceLock;

/// A filter given on the command line, resolved on first use.
pub struct Pending<'a> {
    args: &'a CellArgs,
    diag: Diag,
    quiet: bool,
    once: OnceLock<Result<CellFilter>>,
}

impl<'a> Pending<'a> {
    /// The filter of `args`, not resolved yet; how each value resolves
    /// will be said on `diag` (unless `quiet`), as
    /// [`CellFilter::announced`] says it.
    pub fn new(args: &'a CellArgs, diag: &Diag, quiet: bool) -> Self {
        Pending {
            args,
            diag: diag.clone(),
            quiet,
            once: OnceLock::new(),
        }
    }

    /// The filter, resolved by this call if no other thread has; or why
    /// it cannot be.
    pub fn get(&self) -> std::result::Result<&CellFilter, &Error> {
        self.once
            .get_or_init(|| CellFilter::announced(self.args, &self.diag, self.quiet))
            .as_ref()
    }

    /// [`Pending::get`], its error as the run's own (same exit status and
    /// message).
    pub fn resolved(&self) -> Result<&CellFilter> {
        self.get().map_err(|e| Error::new(e.exit, e.msg.clone()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Options with an ontology folder that has no file (none is needed).
    fn args(min_age: Option<f64>, max_age: Option<f64>) -> CellArgs {
        let empty = std::env::temp_dir().join(format!("cxg-pending-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        CellArgs {
            primary: true,
            min_age,
            max_age,
            ontology: Some(empty),
            ..CellArgs::default()
        }
    }

    #[test]
    fn resolved_once_for_every_thread() {
        let a = args(None, None);
        let ctx = cxg_core::Ctx::memory(b"");
        let p = Pending::new(&a, &ctx.diag, false);
        let got: Vec<usize> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| p.get().unwrap() as *const CellFilter as usize))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(got.windows(2).all(|w| w[0] == w[1]), "one filter, shared");
        assert!(!p.resolved().unwrap().is_empty());
    }

    #[test]
    fn a_wrong_value_is_every_askers_error() {
        let a = args(Some(30.0), Some(20.0));
        let ctx = cxg_core::Ctx::memory(b"");
        let p = Pending::new(&a, &ctx.diag, true);
        let first = p.resolved().unwrap_err();
        let again = p.resolved().unwrap_err();
        assert_eq!(first.msg, again.msg);
        assert_eq!(first.exit, cxg_core::Exit::Input);
        assert!(
            first.msg.contains("--min-age 30 --max-age 20"),
            "{}",
            first.msg
        );
    }
}
